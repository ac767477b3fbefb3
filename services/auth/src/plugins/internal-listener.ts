import type { AddressInfo } from 'node:net';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';

/** The internal listener of METRICS_PORT, when configured. */
export interface InternalListener {
  /** Where it listens (after the app is ready), e.g. to scrape it in a test; null before. */
  address(): AddressInfo | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Set when METRICS_PORT is: the listener that serves /metrics and /docs. */
    revocableInternal: InternalListener | undefined;
  }
}

/**
 * Where the METRICS_PORT listener of an auth app listens (after `ready()`), or null when
 * METRICS_PORT is unset or it is not listening yet.
 *
 * @example const { port } = internalListenerAddress(app) ?? {};
 */
export function internalListenerAddress(app: FastifyInstance): AddressInfo | null {
  return app.revocableInternal?.address() ?? null;
}

/** Options of {@link internalListenerPlugin}. */
export interface InternalListenerOptions {
  /** METRICS_HOST (default 127.0.0.1). */
  host: string;
  /** METRICS_PORT; 0 picks a free port. */
  port: number;
  registry: Registry;
}

/**
 * Serves `/metrics` (Prometheus) and `/docs` (Swagger UI, `/docs/json`) on a separate
 * internal listener instead of the public one: keep its port reachable only from the
 * monitoring network. It starts once the main app is ready (the OpenAPI document is
 * complete then) and closes with it. Register after @fastify/swagger.
 */
export const internalListenerPlugin = fp(
  async (app: FastifyInstance, options: InternalListenerOptions) => {
    let internal: FastifyInstance | undefined;
    app.decorate<InternalListener>('revocableInternal', {
      address: () => {
        const address = internal?.server.address();
        return address !== undefined && address !== null && typeof address === 'object' ? address : null;
      },
    });
    app.addHook('onReady', async () => {
      const server = Fastify({ logger: false });
      server.get('/metrics', async (_request, reply) => reply.type(options.registry.contentType).send(await options.registry.metrics()));
      await server.register(fastifySwagger, { mode: 'static', specification: { document: app.swagger() as never } });
      await server.register(fastifySwaggerUi, { routePrefix: '/docs' });
      await server.listen({ host: options.host, port: options.port });
      internal = server;
      app.log.info({ address: internal.server.address() }, 'internal listener (/metrics, /docs)');
    });
    app.addHook('onClose', async () => {
      await internal?.close();
    });
  },
  { name: 'revocable-auth-internal-listener', fastify: '5.x' },
);
