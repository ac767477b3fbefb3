/**
 * The auth service in-process for the standards conformance tests (test/standards): the real
 * buildApp on a fresh PostgreSQL database, driven with `app.inject`, without the outbox relay
 * (nothing here reads the topic). One helper for every RFC file, so each states only its cases.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import { buildApp, loadConfig, type AuthConfig } from '@revocable/auth';
import { createTestDatabase } from './env.ts';

/** Issuer of the in-process auth service. */
export const AUTH_TEST_ISSUER = 'http://auth.test';
/** Confidential clients (resource services) of the in-process auth service. */
export const TEST_CLIENTS = { orders: 'orders-secret-0123456789abcdef-0123', profile: 'profile-secret-0123456789abcdef-012' } as const;

export interface TestTokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}

export interface AuthTestApp {
  app: FastifyInstance;
  config: AuthConfig;
  /** Registers a fresh user; returns its credentials and id. */
  register(): Promise<{ id: string; email: string; password: string }>;
  /** Registers a user and logs in with `body` (client_id, audience/resource, scope…); asserts 200. */
  login(body?: Record<string, unknown>): Promise<TestTokens & { user: { id: string; email: string; password: string } }>;
  /** POSTs a form to `url` (RFC 6749 §4.1.3 style), with optional headers. */
  form(url: string, fields: Record<string, string | string[]>, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** `Authorization: Basic` for `id:secret`, form-urlencoded inside as RFC 6749 §2.3.1 says. */
  basic(id: string, secret: string): string;
  /** The decoded (not verified) claims of a JWT. */
  claims(token: string): Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * Starts the auth service in-process. `env` is applied over the test defaults (issuer
 * {@link AUTH_TEST_ISSUER}, audiences orders and profile, {@link TEST_CLIENTS}, cheap scrypt,
 * generous rate limits).
 */
export async function startAuthApp(env: Record<string, string> = {}): Promise<AuthTestApp> {
  const db = await createTestDatabase('revocable_standards');
  let app: FastifyInstance | undefined;
  try {
    const config = loadConfig({
      DATABASE_URL: db.url,
      AUTH_ISSUER: AUTH_TEST_ISSUER,
      AUDIENCES: 'orders,profile',
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      INTROSPECTION_CLIENTS: Object.entries(TEST_CLIENTS).map(([id, secret]) => `${id}:${secret}`).join(','),
      PASSWORD_SCRYPT_COST: '10',
      LOGIN_RATE_LIMIT_PER_IP: '100000',
      RATE_LIMIT_PER_IP: '1000000',
      RELAY_ENABLED: 'false',
      ...env,
    });
    app = await buildApp(config, { logger: false, relay: false });
    await app.ready();
    const ready = app;
    const register = async () => {
      const email = `std-${randomUUID()}@example.test`;
      const password = 'a long enough passphrase 4 tests';
      const res = await ready.inject({ method: 'POST', url: '/v1/users', payload: { email, password } });
      if (res.statusCode !== 201) throw new Error(`register: ${res.statusCode} ${res.body}`);
      return { ...(res.json() as { id: string }), email, password };
    };
    return {
      app: ready,
      config,
      register,
      async login(body = {}) {
        const user = await register();
        const res = await ready.inject({ method: 'POST', url: '/v1/login', payload: { email: user.email, password: user.password, ...body } });
        if (res.statusCode !== 200) throw new Error(`login: ${res.statusCode} ${res.body}`);
        return { ...(res.json() as TestTokens), user };
      },
      form(url, fields, headers = {}) {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
        return ready.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: params.toString() });
      },
      basic: (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      claims: (token) => decodeJwt(token) as Record<string, unknown>,
      async close() {
        await ready.close();
        await db.drop();
      },
    };
  } catch (error) {
    await app?.close().catch(() => {});
    await db.drop().catch(() => {});
    throw error;
  }
}

/**
 * {@link startAuthApp} for the enclosing `describe` (or the file, at top level): started in a
 * `beforeAll`, closed in an `afterAll`. The returned handle reaches the running app, so tests
 * use it as they would the started one; touching it outside a test throws.
 */
export function useAuthApp(env: Record<string, string> = {}): AuthTestApp {
  let started: AuthTestApp | undefined;
  beforeAll(async () => {
    started = await startAuthApp(env);
  }, 120_000);
  afterAll(async () => {
    await started?.close();
  });
  const current = (): AuthTestApp => {
    if (started === undefined) throw new Error('useAuthApp: the auth app is used before its beforeAll started it');
    return started;
  };
  return {
    get app() {
      return current().app;
    },
    get config() {
      return current().config;
    },
    register: () => current().register(),
    login: (body) => current().login(body),
    form: (url, fields, headers) => current().form(url, fields, headers),
    basic: (id, secret) => current().basic(id, secret),
    claims: (token) => current().claims(token),
    close: () => current().close(),
  };
}
