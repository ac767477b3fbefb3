import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { ConfigError, type ServerConfig } from './config.ts';
import { resourceCors } from './cors.ts';

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
}

/**
 * A Fastify instance set up the way every Revocable resource service answers: pino JSON
 * logs that never contain the `authorization` header or cookies, unknown body fields
 * refused (400), OAuth-style `{error, error_description}` bodies, and no stack traces —
 * the one place such a service maps errors to HTTP (auth failures are the plugin's).
 */
export function createResourceApp(options: ResourceAppOptions): FastifyInstance {
  const app = Fastify({
    logger: { level: options.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie'] },
    bodyLimit: options.bodyLimitBytes ?? 16 * 1024,
    ajv: { customOptions: { removeAdditional: false } },
  });
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

export interface RunServiceOptions<C extends ServerConfig> {
  /** Prefix of the one-line configuration error, e.g. `orders`. */
  name: string;
  loadConfig: (env: Record<string, string | undefined>) => C;
  buildApp: (config: C) => Promise<FastifyInstance>;
  /** How long a graceful shutdown may take before the process exits anyway, in ms. Default 10000. */
  shutdownTimeoutMs?: number;
}

/**
 * The `server.ts` of a resource service: parses the environment once (a bad value prints
 * one line naming the variable and exits 1), builds the app, listens, and on SIGTERM/SIGINT
 * closes it (stopping its Kafka consumer) before exiting.
 */
export async function runService<C extends ServerConfig>(options: RunServiceOptions<C>): Promise<FastifyInstance> {
  let config: C;
  try {
    config = options.loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${options.name}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const app = await options.buildApp(config);
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (closing) return;
      closing = true;
      app.log.info({ signal }, 'shutting down');
      setTimeout(() => process.exit(1), options.shutdownTimeoutMs ?? 10_000).unref();
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          app.log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
  await app.listen({ port: config.port, host: config.host });
  return app;
}
