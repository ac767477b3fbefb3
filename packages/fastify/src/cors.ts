import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Options of {@link resourceCors}. */
export interface ResourceCorsOptions {
  /** Exact, canonical origins (`https://app.example.com`), e.g. from CORS_ORIGINS. Empty: no CORS. */
  origins: readonly string[];
  /** Methods a browser app may use. Default GET, HEAD, POST, PUT, PATCH, DELETE. */
  methods?: readonly string[];
  /** Request headers a browser app may send. Default authorization, content-type. */
  allowedHeaders?: readonly string[];
  /** How long a browser may cache a preflight answer, in seconds. Default 600. */
  maxAgeSeconds?: number;
}

/**
 * CORS for a resource service called by a browser app on another origin with a Bearer
 * header: an exact-origin allow-list (no wildcard, no reflection), no credentials (the
 * token travels in `Authorization`, never in a cookie), and `WWW-Authenticate` exposed so
 * the client SDK can read why a token was refused. Register it before the routes.
 *
 * @example
 * ```ts
 * await app.register(resourceCors, { origins: ['https://app.example.com'] });
 * ```
 */
export const resourceCors = fp(
  async (app: FastifyInstance, options: ResourceCorsOptions) => {
    if (options.origins.length === 0) return;
    const allowed = new Set(options.origins);
    await app.register(fastifyCors, {
      origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
      credentials: false,
      methods: [...(options.methods ?? ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'])],
      allowedHeaders: [...(options.allowedHeaders ?? ['authorization', 'content-type'])],
      exposedHeaders: ['www-authenticate', 'retry-after'],
      maxAge: options.maxAgeSeconds ?? 600,
      strictPreflight: true,
      hideOptionsRoute: true,
    });
  },
  { name: 'revocable-resource-cors', fastify: '5.x' },
);
