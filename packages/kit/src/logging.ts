import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import * as fastifyExports from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';

/** The request-id header every Revocable service honours and echoes. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Longest caller-supplied request id kept, in characters. */
export const MAX_REQUEST_ID_LENGTH = 128;

// Printable, no spaces, quotes or separators a log parser or a header could trip on.
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]+$/;

/** Paths of the probes: logged at debug, not info (a scrape every few seconds buries the rest). */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

const MAX_LOGGED_PATH = 512;

/**
 * The caller's `X-Request-Id` when it is usable (1–{@link MAX_REQUEST_ID_LENGTH} characters
 * of `[A-Za-z0-9._:@/+=-]`, one header), else `undefined`.
 * @example
 * requestIdFromHeader('abc-123') // 'abc-123'
 * requestIdFromHeader('a b')     // undefined
 */
export function requestIdFromHeader(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.length === 0 || value.length > MAX_REQUEST_ID_LENGTH || !REQUEST_ID.test(value)) return undefined;
  return value;
}

/**
 * A request target fit for a log line: the path (cut at 512 characters) and the query's
 * parameter names, every value replaced by `[REDACTED]` — a query string can carry a token
 * (`?token=…`, `?access_token=…`), a code or an email, and logs are kept far longer than tokens live.
 * @example
 * redactUrl('/v1/orders?token=eyJ…&page=2') // '/v1/orders?token=[REDACTED]&page=[REDACTED]'
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const shownPath = path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}…` : path;
  if (q === -1) return shownPath;
  const names = url
    .slice(q + 1)
    .split('&')
    .filter((pair) => pair !== '')
    .slice(0, 20)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = (eq === -1 ? pair : pair.slice(0, eq)).slice(0, 64);
      return `${/^[\w.-]*$/.test(name) ? name : '[name]'}=[REDACTED]`;
    });
  return `${shownPath}?${names.join('&')}`;
}

// Fastify's request lines off, the way the installed release wants it: releases with a
// LogController deprecate the top-level disableRequestLogging (a warning at every start);
// the oldest 5.x releases the peer range allows know only the option.
type LogControllerClass = new (options: { disableRequestLogging: boolean }) => object;
const LogController = (fastifyExports as unknown as { LogController?: LogControllerClass }).LogController;
function fastifyRequestLinesOff(): object {
  return LogController === undefined ? { disableRequestLogging: true } : { logController: new LogController({ disableRequestLogging: true }) };
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Options of {@link serviceLogOptions}. */
export interface ServiceLogOptions {
  /** LOG_LEVEL. */
  level: string;
  /** Extra pino redaction paths (the `authorization` and `cookie` request headers are always redacted). */
  redact?: readonly string[];
}

/**
 * The Fastify constructor options every Revocable service logs with: pino JSON at `level`;
 * the `authorization` and `cookie` headers redacted; the request target logged by
 * {@link redactUrl}; the request id taken from a valid `X-Request-Id` or a fresh UUID
 * (echoed by {@link useRequestLog}). Fastify's own request lines are off: {@link useRequestLog}
 * writes them (probes at debug), the same way on every Fastify 5 release the peer range allows.
 * @example
 * const app = Fastify({ ...serviceLogOptions({ level: 'info' }), bodyLimit: 16384 });
 * useRequestLog(app);
 */
export function serviceLogOptions(options: ServiceLogOptions): Pick<FastifyServerOptions, 'logger' | 'genReqId' | 'requestIdHeader'> {
  return {
    logger: {
      level: options.level,
      redact: ['req.headers.authorization', 'req.headers.cookie', ...(options.redact ?? [])],
      serializers: {
        req: (request: FastifyRequest) => ({
          method: request.method,
          url: redactUrl(request.url),
          host: request.host,
          remoteAddress: request.ip,
          remotePort: request.socket?.remotePort,
        }),
      },
    },
    requestIdHeader: false,
    genReqId: (raw: IncomingMessage) => requestIdFromHeader(raw.headers[REQUEST_ID_HEADER]) ?? randomUUID(),
    ...fastifyRequestLinesOff(),
  };
}

/**
 * The request log and request id of every Revocable service, as two hooks: every request
 * (errors, 404s and refusals included) is answered with its request id in `X-Request-Id`, so
 * a caller can quote it and an operator find the log lines; `incoming request` and
 * `request completed` (status, `responseTime` in ms) are logged at info, at debug for the
 * probes (`/healthz`, `/readyz`, `/metrics`: a scrape every few seconds buries the rest).
 * Pair it with {@link serviceLogOptions}, which turns Fastify's own request lines off.
 * @example
 * const app = Fastify(serviceLogOptions({ level: 'info' }));
 * useRequestLog(app);
 */
export function useRequestLog(app: FastifyInstance): void {
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (PROBE_PATHS.has(pathOf(request.url))) request.log.debug({ req: request }, 'incoming request');
    else request.log.info({ req: request }, 'incoming request');
    done();
  });
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const line = { res: reply, responseTime: reply.elapsedTime };
    if (PROBE_PATHS.has(pathOf(request.url)) && reply.statusCode < 400) reply.log.debug(line, 'request completed');
    else reply.log.info(line, 'request completed');
    done();
  });
}
