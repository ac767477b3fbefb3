// CORS of the auth service (exact-origin allow-list, credentials on the browser endpoints,
// nothing on server-to-server routes) and the cross-site cookie mode, against the real
// PostgreSQL. The real-browser run of the same contract is test/browser.test.ts.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, loadConfig } from '@revocable/auth';
import { createTestDatabase, kafkaEnv } from './support/env.ts';

const APP_ORIGIN = 'https://app.example.com';
const OTHER_ORIGIN = 'https://evil.example.net';
const ADMIN = 'admin-token-for-cors-tests-0123456789';

let db: { url: string; drop: () => Promise<void> };
let crossSite: FastifyInstance;
let sameOrigin: FastifyInstance;

function env(extra: Record<string, string>): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    ...kafkaEnv(),
    KEY_ENCRYPTION_KEY: KEK,
    ADMIN_TOKEN: ADMIN,
    INTROSPECTION_CLIENTS: 'orders:orders-secret-0123456789abcdef0123',
    PASSWORD_SCRYPT_COST: '10',
    LOGIN_RATE_LIMIT_PER_IP: '10000',
    RATE_LIMIT_PER_IP: '100000',
    ...extra,
  };
}
const KEK = randomBytes(32).toString('base64');

beforeAll(async () => {
  db = await createTestDatabase('revocable_auth_cors');
  // The HTTP surface only: no relay, so no broker is needed.
  crossSite = await buildApp(loadConfig(env({ CORS_ORIGINS: `${APP_ORIGIN},http://localhost:5173`, COOKIE_SAMESITE: 'none', COOKIE_SECURE: 'true' })), { logger: false, relay: false });
  sameOrigin = await buildApp(loadConfig(env({ MIGRATE_ON_START: 'false' })), { logger: false, relay: false });
  await crossSite.ready();
  await sameOrigin.ready();
}, 120_000);

afterAll(async () => {
  await crossSite?.close();
  await sameOrigin?.close();
  await db?.drop();
});

function preflight(app: FastifyInstance, url: string, method: string, origin = APP_ORIGIN, headers = 'content-type,x-csrf-protection') {
  return app.inject({
    method: 'OPTIONS',
    url,
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
  });
}

async function register(app: FastifyInstance, email: string): Promise<void> {
  const res = await app.inject({ method: 'POST', url: '/v1/users', headers: { origin: APP_ORIGIN }, payload: { email, password: 'correct horse battery' } });
  expect(res.statusCode).toBe(201);
}

describe('auth CORS with CORS_ORIGINS', () => {
  it.each([
    ['/v1/users', 'POST'],
    ['/v1/login', 'POST'],
    ['/oauth/token', 'POST'],
    ['/oauth/revoke', 'POST'],
    ['/v1/logout', 'POST'],
    ['/v1/logout-all', 'POST'],
    ['/v1/sessions', 'GET'],
    ['/v1/sessions/7d1e0c9a-0000-4000-8000-000000000000', 'DELETE'],
  ])('grants the preflight of %s (%s) to a listed origin, with credentials and the CSRF header', async (url, method) => {
    const res = await preflight(crossSite, url, method, APP_ORIGIN, 'authorization,content-type,x-csrf-protection');
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(String(res.headers['access-control-allow-methods'])).toContain(method);
    expect(String(res.headers['access-control-allow-headers']).split(/,\s*/)).toEqual(expect.arrayContaining(['content-type', 'authorization', 'x-csrf-protection']));
    expect(String(res.headers['vary'])).toMatch(/origin/i);
    expect(res.headers['access-control-max-age']).toBe('600');
  });

  it('refuses the preflight of an origin that is not listed: no CORS header at all', async () => {
    for (const origin of [OTHER_ORIGIN, 'https://app.example.com.evil.net', 'http://app.example.com', 'null']) {
      const res = await preflight(crossSite, '/v1/login', 'POST', origin);
      expect(res.statusCode).toBe(404);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    }
  });

  it('gives server-to-server routes (admin, introspection, metrics) no CORS, even for a listed origin', async () => {
    for (const [url, method] of [
      ['/oauth/introspect', 'POST'],
      ['/v1/admin/keys', 'GET'],
      ['/v1/admin/keys/rotate', 'POST'],
      ['/metrics', 'GET'],
    ] as const) {
      const res = await preflight(crossSite, url, method);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['access-control-allow-origin'], url).toBeUndefined();
    }
    const admin = await crossSite.inject({ method: 'GET', url: '/v1/admin/keys', headers: { origin: APP_ORIGIN, authorization: `Bearer ${ADMIN}` } });
    expect(admin.statusCode).toBe(200);
    expect(admin.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('lets a listed origin read the JWKS without credentials', async () => {
    const res = await crossSite.inject({ method: 'GET', url: '/.well-known/jwks.json', headers: { origin: APP_ORIGIN } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('answers a cross-site login with the exact origin, credentials and a SameSite=None; Secure; Partitioned cookie', async () => {
    await register(crossSite, 'cors-login@example.com');
    const res = await crossSite.inject({
      method: 'POST',
      url: '/v1/login',
      headers: { origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site', 'x-csrf-protection': '1' },
      payload: { email: 'cors-login@example.com', password: 'correct horse battery' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(String(res.headers['access-control-expose-headers'])).toContain('www-authenticate');
    const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    expect(cookies).toHaveLength(2);
    for (const cookie of cookies) {
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/Secure/);
      expect(cookie).toMatch(/SameSite=None/);
      expect(cookie).toMatch(/Partitioned/);
    }
  });

  it('refreshes from the cookie cross-site only for a listed origin and only with the CSRF header', async () => {
    await register(crossSite, 'cors-refresh@example.com');
    const login = await crossSite.inject({ method: 'POST', url: '/v1/login', payload: { email: 'cors-refresh@example.com', password: 'correct horse battery' } });
    let refreshToken = (login.json() as { refresh_token: string }).refresh_token;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const refresh = (headers: Record<string, string>) =>
      crossSite.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...headers }, cookies: { revocable_rt: refreshToken }, payload: 'grant_type=refresh_token' });

    const noCsrf = await refresh({ origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site' });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json()).toMatchObject({ error: 'access_denied' });

    const otherSite = await refresh({ origin: OTHER_ORIGIN, 'sec-fetch-site': 'cross-site', 'x-csrf-protection': '1' });
    expect(otherSite.statusCode).toBe(403);
    expect(otherSite.headers['access-control-allow-origin']).toBeUndefined();

    const ok = await refresh({ origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site', 'x-csrf-protection': '1' });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
    // Refreshed with the cookie: the successor travels in the cookie only, never in the body.
    expect(ok.json()).not.toHaveProperty('refresh_token');
    refreshToken = ok.cookies.find((c) => c.name === 'revocable_rt')?.value ?? '';

    const logout = await crossSite.inject({
      method: 'POST',
      url: '/v1/logout',
      headers: { origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site', 'x-csrf-protection': '1' },
      cookies: { revocable_rt: refreshToken },
    });
    expect(logout.statusCode).toBe(204);
    const cleared = ([] as string[]).concat(logout.headers['set-cookie'] ?? []);
    expect(cleared.every((c) => /SameSite=None/.test(c) && /Secure/.test(c) && /Expires=Thu, 01 Jan 1970/.test(c))).toBe(true);
  });
});

describe('auth CORS without CORS_ORIGINS (the default)', () => {
  it('answers no preflight and sends no CORS header', async () => {
    const pre = await preflight(sameOrigin, '/v1/login', 'POST');
    expect(pre.statusCode).toBe(404);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    await register(sameOrigin, 'no-cors@example.com');
    const login = await sameOrigin.inject({ method: 'POST', url: '/v1/login', headers: { origin: APP_ORIGIN }, payload: { email: 'no-cors@example.com', password: 'correct horse battery' } });
    expect(login.statusCode).toBe(200);
    expect(login.headers['access-control-allow-origin']).toBeUndefined();
    expect(([] as string[]).concat(login.headers['set-cookie'] ?? []).every((c) => /SameSite=Strict/.test(c))).toBe(true);
  });

  it('still refuses a cookie refresh the browser marks cross-site', async () => {
    const login = await sameOrigin.inject({ method: 'POST', url: '/v1/login', payload: { email: 'no-cors@example.com', password: 'correct horse battery' } });
    const refreshToken = (login.json() as { refresh_token: string }).refresh_token;
    const res = await sameOrigin.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site', 'x-csrf-protection': '1' },
      cookies: { revocable_rt: refreshToken },
      payload: 'grant_type=refresh_token',
    });
    expect(res.statusCode).toBe(403);
  });
});
