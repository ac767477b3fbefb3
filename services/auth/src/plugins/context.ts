import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { CSRF_HEADER, parseBearer } from '@revocable/protocol';
import type { AccessTokenClaims } from '@revocable/tokens';
import type { ClientRegistry } from '../clients.ts';
import type { AuthConfig } from '../config.ts';
import { safeEqual } from '../crypto.ts';
import type { Pool } from '../db.ts';
import { AuthError } from '../errors.ts';
import type { KeyStore } from '../keys.ts';
import type { AuthMetrics } from '../metrics.ts';
import type { PropagationTracker } from '../propagation.ts';
import type { OutboxRelay } from '../relay.ts';
import type { AccessTokenService } from '../services/access-tokens.ts';
import type { AccountService } from '../services/accounts.ts';
import type { AdminDirectory } from '../services/admin-directory.ts';
import type { KeyAdminService } from '../services/key-admin.ts';
import type { IssuedTokens, SessionService } from '../services/sessions.ts';

/** Everything route plugins need, built once by the composition root (app.ts). */
export interface AuthContext {
  config: AuthConfig;
  pool: Pool;
  clients: ClientRegistry;
  accounts: AccountService;
  sessions: SessionService;
  tokens: AccessTokenService;
  keyAdmin: KeyAdminService;
  directory: AdminDirectory;
  /** Public keys for the JWKS endpoint (read from PostgreSQL: a revoked key leaves it at once). */
  keys: KeyStore;
  metrics: AuthMetrics;
  relay: OutboxRelay | undefined;
  /** Live resource instances and per-revocation receipts (issue 14). */
  propagation: PropagationTracker;
  /** Names of the migrations this build expects, for /readyz. */
  expectedMigrations: readonly string[];
  now: () => number;
}

declare module 'fastify' {
  interface FastifyInstance {
    revocableAuth: AuthContext;
  }
}

/** Header a browser must send with cookie-authenticated requests (CSRF defence; see README). */
export { CSRF_HEADER };
/** Paths the refresh cookie is scoped to: the token endpoint and logout. */
export const REFRESH_COOKIE_PATHS = ['/oauth/token', '/v1/logout'] as const;

export const contextPlugin = fp(
  async (app: FastifyInstance, ctx: AuthContext) => {
    app.decorate('revocableAuth', ctx);
  },
  { name: 'revocable-auth-context', fastify: '5.x' },
);

/** The bearer token of the request (RFC 6750 grammar, @revocable/protocol's parseBearer), or undefined. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const bearer = parseBearer(request.headers.authorization);
  return bearer.ok ? bearer.token : undefined;
}

/**
 * Whether the request carries an RFC 6750 §2.2/§2.3 token (`access_token` in a form body or
 * the query) besides its header: RFC 6750 §3.1 allows one method per request.
 */
export function hasSecondCredential(request: FastifyRequest): boolean {
  const query = request.query as Record<string, unknown> | undefined;
  const body = request.body as Record<string, unknown> | undefined;
  return (
    (query !== null && typeof query === 'object' && query['access_token'] !== undefined) ||
    (body !== null && typeof body === 'object' && !Array.isArray(body) && body['access_token'] !== undefined)
  );
}

/**
 * Authenticates the caller of the account API by access token: for ACCOUNT_AUDIENCE, live
 * session, current `ver`, jti not revoked. No bearer credential (or another scheme) is
 * `ERR_AUTH_MISSING_TOKEN` (bare challenge); a second credential in the query or body is
 * `ERR_AUTH_INVALID_REQUEST` (400).
 */
export async function requireUser(app: FastifyInstance, request: FastifyRequest, options: { allowExpired?: boolean; anyAudience?: boolean } = {}): Promise<AccessTokenClaims> {
  const bearer = parseBearer(request.headers.authorization);
  if (request.headers.authorization !== undefined && hasSecondCredential(request)) throw new AuthError('ERR_AUTH_INVALID_REQUEST', 'send the access token in the Authorization header only, once');
  if (!bearer.ok) {
    if (bearer.reason === 'missing_token') throw new AuthError('ERR_AUTH_MISSING_TOKEN', 'a bearer access token is required');
    throw new AuthError('ERR_AUTH_INVALID_TOKEN', `access token rejected: ${bearer.reason}`);
  }
  return app.revocableAuth.tokens.authenticate(bearer.token, options);
}

/** Admin routes: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. */
export function requireAdmin(app: FastifyInstance, request: FastifyRequest): void {
  const expected = app.revocableAuth.config.adminToken;
  if (expected === undefined) throw new AuthError('ERR_AUTH_ADMIN_DISABLED', 'the admin API is disabled (ADMIN_TOKEN is not set)');
  const token = bearerToken(request);
  if (token === undefined || !safeEqual(token, expected)) throw new AuthError('ERR_AUTH_ADMIN_UNAUTHORIZED', 'admin token required');
}

/**
 * CSRF defence for requests authenticated only by the refresh cookie: the request must carry
 * a custom header (which a cross-site form or simple request cannot set without a CORS
 * preflight, granted only to CORS_ORIGINS) and must not be marked cross-site by the browser
 * unless its `Origin` is one of CORS_ORIGINS (a browser app on another site, cookie
 * SameSite=None). The cookie itself is SameSite=Strict unless COOKIE_SAMESITE says otherwise.
 */
export function assertNotCrossSite(request: FastifyRequest): void {
  const custom = request.headers[CSRF_HEADER];
  if (typeof custom !== 'string' || custom.length === 0) {
    throw new AuthError('ERR_AUTH_CSRF', `cookie-authenticated requests must send the ${CSRF_HEADER} header`);
  }
  if (request.headers['sec-fetch-site'] === 'cross-site' && !isAllowedOrigin(request, request.server.revocableAuth.config.corsOrigins)) {
    throw new AuthError('ERR_AUTH_CSRF', 'cross-site request refused (its Origin is not in CORS_ORIGINS)');
  }
}

/** Whether the request's `Origin` header is one of `origins` (exact match). */
export function isAllowedOrigin(request: FastifyRequest, origins: readonly string[]): boolean {
  const origin = request.headers.origin;
  return typeof origin === 'string' && origins.includes(origin);
}

/** The refresh cookie's value, if any. */
export function refreshCookie(app: FastifyInstance, request: FastifyRequest): string | undefined {
  const value = request.cookies[app.revocableAuth.config.refreshCookieName];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Whether the client asked for cookie delivery of the refresh token: it sends the
 * `x-csrf-protection` header (the SDK's cookie mode does on every call), or it
 * authenticated this request with the refresh cookie.
 */
export function wantsCookieDelivery(request: FastifyRequest, usedCookie = false): boolean {
  const marker = request.headers[CSRF_HEADER];
  return usedCookie || (typeof marker === 'string' && marker.length > 0);
}

/**
 * Sends a token response: no-store, and the refresh token as an HttpOnly cookie. With
 * `cookieOnly` (the client asked for cookie delivery, {@link wantsCookieDelivery}) the
 * refresh token is left out of the JSON body, so page script never sees it.
 */
export function sendTokens(app: FastifyInstance, reply: FastifyReply, issued: IssuedTokens, cookieOnly = false): FastifyReply {
  const c = app.revocableAuth.config;
  const maxAge = Math.max(0, Math.floor((issued.refreshExpiresAt - app.revocableAuth.now()) / 1000));
  for (const path of REFRESH_COOKIE_PATHS) {
    reply.setCookie(c.refreshCookieName, issued.body.refresh_token, { httpOnly: true, secure: c.cookieSecure, sameSite: c.cookieSameSite, partitioned: c.cookieSameSite === 'none', path, maxAge });
  }
  const body: Partial<IssuedTokens['body']> = { ...issued.body };
  if (cookieOnly) delete body.refresh_token;
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(body);
}

export function clearRefreshCookie(app: FastifyInstance, reply: FastifyReply): void {
  const c = app.revocableAuth.config;
  for (const path of REFRESH_COOKIE_PATHS) {
    reply.clearCookie(c.refreshCookieName, { httpOnly: true, secure: c.cookieSecure, sameSite: c.cookieSameSite, partitioned: c.cookieSameSite === 'none', path });
  }
}
