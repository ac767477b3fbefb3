import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';

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

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Fastify's request log lines with the Revocable rules: probes (`/healthz`, `/readyz`,
 * `/metrics`) at debug, everything else at info; the not-found line carries the redacted
 * target, never the raw URL.
 */
export class RevocableLogController extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (PROBE_PATHS.has(pathOf(request.url))) request.log.debug({ req: request }, 'incoming request');
    else super.incomingRequest(request, reply);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (!error && PROBE_PATHS.has(pathOf(request.url))) reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
    else super.requestCompleted(error, request, reply);
  }

  override routeNotFound(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.info({ req: request }, 'route not found');
  }
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
 * (echoed by {@link echoRequestId}); probes at debug ({@link RevocableLogController}).
 * @example
 * const app = Fastify({ ...serviceLogOptions({ level: 'info' }), bodyLimit: 16384 });
 * app.addHook('onRequest', echoRequestId);
 */
export function serviceLogOptions(options: ServiceLogOptions): Pick<FastifyServerOptions, 'logger' | 'genReqId' | 'requestIdHeader' | 'logController'> {
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
    logController: new RevocableLogController(),
  };
}

/**
 * `onRequest` hook: answers every request (errors, 404s and refusals included) with its
 * request id in `X-Request-Id`, so a caller can quote it and an operator find the log lines.
 */
export function echoRequestId(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  reply.header(REQUEST_ID_HEADER, request.id);
  done();
}
