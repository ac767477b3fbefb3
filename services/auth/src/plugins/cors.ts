import fastifyCors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { CSRF_HEADER } from './context.ts';

/** Options of {@link corsPlugin}. */
export interface AuthCorsOptions {
  /** CORS_ORIGINS: exact, canonical origins (`https://app.example.com`). Empty: no CORS at all. */
  origins: readonly string[];
  /** How long a browser may cache a preflight answer, in seconds. Default 600. */
  maxAgeSeconds?: number;
}

/**
 * The endpoints a browser app calls (what `@revocable/client` uses): register, login, token,
 * revoke, logout, logout-all, sessions. They may carry the refresh cookie, so they answer
 * with `Access-Control-Allow-Credentials: true` — to the listed origins only.
 */
const BROWSER_PATHS = [/^\/v1\/(?:users|login|logout|logout-all|password)$/, /^\/v1\/sessions(?:\/[^/]+)?$/, /^\/oauth\/(?:token|revoke)$/];
/** Public documents a browser may read without credentials. */
const PUBLIC_PATHS = [/^\/\.well-known\//];

/**
 * CORS for a browser app on another origin. Exact-origin allow-list (no wildcard, no
 * reflection); admin routes, introspection, metrics and health get no CORS headers at all
 * (server-to-server only), so a preflight for them is refused like any unknown route.
 * The CSRF header stays required on cookie-authenticated calls: it is allowed here, and a
 * page on an origin not in the list cannot get a preflight granted to send it.
 */
export const corsPlugin = fp(
  async (app: FastifyInstance, options: AuthCorsOptions) => {
    if (options.origins.length === 0) return;
    const allowed = new Set(options.origins);
    const common = {
      // The function form answers `false` (no CORS headers) to any other origin.
      origin: (origin: string | undefined, callback: (error: Error | null, allow: boolean) => void) =>
        callback(null, origin !== undefined && allowed.has(origin)),
      // Prefer: a browser may ask a revoking call to wait for propagation (RFC 7240).
      allowedHeaders: ['content-type', 'authorization', CSRF_HEADER, 'prefer'],
      // WWW-Authenticate carries the refusal reason; Retry-After the rate limiter's wait;
      // Preference-Applied whether a Prefer: wait was honoured.
      exposedHeaders: ['www-authenticate', 'retry-after', 'preference-applied'],
      maxAge: options.maxAgeSeconds ?? 600,
      strictPreflight: true,
    } satisfies FastifyCorsOptions;
    const credentialed: FastifyCorsOptions = { ...common, credentials: true, methods: ['GET', 'POST', 'DELETE'] };
    const open: FastifyCorsOptions = { ...common, credentials: false, methods: ['GET'] };
    const none: FastifyCorsOptions = { origin: false };

    await app.register(fastifyCors, {
      hideOptionsRoute: true,
      delegator: (request: FastifyRequest, callback: (error: Error | null, options: FastifyCorsOptions) => void) => {
        const path = request.url.split('?', 1)[0] ?? '';
        if (BROWSER_PATHS.some((re) => re.test(path))) callback(null, credentialed);
        else if (PUBLIC_PATHS.some((re) => re.test(path))) callback(null, open);
        else callback(null, none);
      },
    });
  },
  { name: 'revocable-auth-cors', fastify: '5.x' },
);

