import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { resourceCors, revocable, type BuildInfo, type RevocableOptions } from '@revocable/fastify';
import { ConfigError, verifierOptionsFromConfig, type Env, type ServerConfig, type VerifierConfig } from './config.ts';
import { serviceLogOptions, useRequestLog } from './logging.ts';
import { takesInput, withErrorResponses } from './openapi.ts';

/** A domain error a service maps to an HTTP answer, or `undefined` to fall through. */
export type ErrorMapper = (error: FastifyError) => { status: number; error: string; description: string } | undefined;

export interface ResourceAppOptions {
  /** LOG_LEVEL. */
  logLevel: string;
  /** Largest accepted request body, in bytes. Default 16384. */
  bodyLimitBytes?: number;
  /** Maps the service's own error classes; validation and other 4xx are handled here. */
  mapError?: ErrorMapper;
  /** CORS_ORIGINS: browser origins allowed to call with a Bearer header. Default none. */
  corsOrigins?: readonly string[];
  /**
   * Serve an OpenAPI 3.1 document of the routes at `GET /docs/json`, with the errors every
   * route can answer (400 on input, 401/403/503 on protected routes, 500) added. Default none.
   */
  openapi?: { title: string; version: string; description?: string };
}

/**
 * A Fastify instance set up the way every Revocable resource service answers: pino JSON
 * logs that never contain the `authorization` header, cookies or query-string values
 * (probes at debug), `X-Request-Id` honoured when valid and always echoed, unknown body fields
 * refused (400), OAuth-style `{error, error_description}` bodies, and no stack traces —
 * the one place such a service maps errors to HTTP (auth failures are the plugin's).
 */
export function createResourceApp(options: ResourceAppOptions): FastifyInstance {
  const app = Fastify({
    ...serviceLogOptions({ level: options.logLevel }),
    bodyLimit: options.bodyLimitBytes ?? 16 * 1024,
    ajv: { customOptions: { removeAdditional: false } },
  });
  useRequestLog(app);
  if (options.openapi !== undefined) documentRoutes(app, options.openapi);
  // Queued first, so a preflight is answered before any route or auth hook.
  if (options.corsOrigins !== undefined && options.corsOrigins.length > 0) void app.register(resourceCors, { origins: options.corsOrigins });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation !== undefined) {
      return reply.code(400).send({ error: 'invalid_request', error_description: error.message });
    }
    const mapped = options.mapError?.(error);
    if (mapped !== undefined) return reply.code(mapped.status).send({ error: mapped.error, error_description: mapped.description });
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ error: 'invalid_request', error_description: error.message });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'server_error', error_description: 'internal error' });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not_found', error_description: 'no such route' }));
  return app;
}

/**
 * A resource service's app: {@link createResourceApp} on the service's LOG_LEVEL and
 * CORS_ORIGINS, with the revocable plugin registered on its verifier settings (`overrides`
 * are the test seams: clock, transport, any plugin option). Routes are added by the caller.
 */
export async function createProtectedApp(
  config: ServerConfig & { verifier: VerifierConfig },
  options: Pick<ResourceAppOptions, 'openapi' | 'mapError'> & { buildInfo: BuildInfo; overrides?: Partial<RevocableOptions> },
): Promise<FastifyInstance> {
  const app = createResourceApp({
    logLevel: config.logLevel,
    corsOrigins: config.corsOrigins,
    ...(options.openapi !== undefined ? { openapi: options.openapi } : {}),
    ...(options.mapError !== undefined ? { mapError: options.mapError } : {}),
  });
  await app.register(revocable, verifierOptionsFromConfig(config.verifier, { buildInfo: options.buildInfo, ...options.overrides }));
  return app;
}

/**
 * The caller's `sub` in a handler of a protected route: the plugin has set `request.auth`
 * before any such handler runs, so a null there is a wiring bug and throws (a 500).
 */
export function callerSubject(request: { auth: { claims: { sub: string } } | null }): string {
  if (request.auth === null) throw new Error('route reached without authentication');
  return request.auth.claims.sub;
}

function documentRoutes(app: FastifyInstance, info: { title: string; version: string; description?: string }): void {
  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: info.title, version: info.version, ...(info.description !== undefined ? { description: info.description } : {}) },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    transform: ({ schema, url, route }) => {
      const isPublic = (route.config as { auth?: { public?: boolean } } | undefined)?.auth?.public === true;
      const statuses = [...(takesInput(schema as Record<string, unknown> | undefined) ? [400] : []), ...(isPublic ? [] : [401, 403, 503]), 500];
      const documented = withErrorResponses(schema as Record<string, unknown> | undefined, statuses);
      return { url, schema: isPublic ? documented : { security: [{ bearer: [] }], ...documented } };
    },
  });
  app.get('/docs/json', { schema: { hide: true }, config: { auth: { public: true } } }, async () => app.swagger());
}

/** Retrying the start while a dependency is not up yet (compose, rolling restarts). */
export interface StartRetry {
  /** True for errors worth another attempt (e.g. the database refuses connections). */
  retriable: (error: unknown) => boolean;
  /** Gives up after this long since the first attempt, milliseconds. */
  timeoutMs: number;
  /** Pause between attempts, milliseconds. Default 1000. */
  delayMs?: number;
  /** What the process waits for, printed on each retry, e.g. `database not reachable yet`. */
  waitingFor: string;
}

export interface RunServiceOptions<C extends ServerConfig> {
  /** Prefix of every line the lifecycle prints on stderr, e.g. `orders`. */
  name: string;
  loadConfig: (env: Env) => C;
  buildApp: (config: C) => Promise<FastifyInstance>;
  /** Retry `buildApp` on some errors; default: the first failure ends the process. */
  startRetry?: (config: C) => StartRetry;
  /** How long a graceful shutdown may take before the process exits anyway, in ms. Default 10000. */
  shutdownTimeoutMs?: number;
  /** Lines printed once on stderr after the configuration parsed (e.g. `kafkaSecurity.warning`); undefined entries are skipped. */
  warnings?: (config: C) => ReadonlyArray<string | undefined>;
}

/** One line for stderr: the stable `code` when the error has one, then the message. */
function oneLine(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return `${typeof code === 'string' ? `${code} ` : ''}${message}`.replace(/\s*\n\s*/g, ' ');
}

/**
 * The `server.ts` of every Revocable service: parses the environment once (a bad value
 * prints `<name>: configuration error: <VARIABLE>: <what is wrong and the fix>` and exits 1), builds the app
 * (retrying while `startRetry` says the error is transient, then `<name>: failed to start:
 * <code> <message>` and exit 1), listens, and on SIGTERM/SIGINT closes the app (its
 * `onClose` hooks stop consumers, relays and pools) before exiting 0, or 1 when closing
 * fails or outlasts `shutdownTimeoutMs`.
 * @example
 * await runService({ name: 'orders', loadConfig, buildApp: (config) => buildApp(config) });
 */
export async function runService<C extends ServerConfig>(options: RunServiceOptions<C>): Promise<FastifyInstance> {
  const fail = (line: string): never => {
    process.stderr.write(`${options.name}: ${line}\n`);
    process.exit(1);
  };
  let config: C;
  try {
    config = options.loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) return fail(`configuration error: ${error.message}`);
    throw error;
  }
  for (const line of options.warnings?.(config) ?? []) if (line !== undefined) process.stderr.write(`${options.name}: ${line}\n`);

  const retry = options.startRetry?.(config);
  const deadline = Date.now() + (retry?.timeoutMs ?? 0);
  let app: FastifyInstance;
  for (;;) {
    try {
      app = await options.buildApp(config);
      break;
    } catch (error) {
      if (retry !== undefined && retry.retriable(error) && Date.now() < deadline) {
        process.stderr.write(`${options.name}: ${retry.waitingFor} (${oneLine(error)}); retrying\n`);
        await new Promise((resolve) => setTimeout(resolve, retry.delayMs ?? 1000));
        continue;
      }
      return fail(`failed to start: ${oneLine(error)}`);
    }
  }

  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    setTimeout(() => {
      app.log.error('graceful shutdown timed out');
      process.exit(1);
    }, options.shutdownTimeoutMs ?? 10_000).unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => shutdown(signal));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    app.log.error({ err: error }, 'failed to listen');
    await app.close().catch(() => undefined);
    return fail(`failed to listen on ${config.host}:${config.port}: ${oneLine(error)}`);
  }
  return app;
}
