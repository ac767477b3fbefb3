// Bad input and faults: hostile bodies get clean 4xx answers; PostgreSQL down means 503
// and nothing half-written; a process killed right after a logout committed still gets
// the event out after restart; bad configuration stops the process with one line.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, loadConfig } from '@revocable/auth';
import { parseEvent, type RevocableEvent } from '@revocable/events';
import { freePort } from '@revocable/infra';
import { createTestDatabase, kafkaBrokers, kafkaEnv, kafkaSasl, uniqueTopic, waitFor } from './support/env.ts';
import { readTopic, type TopicReader } from './support/topic-reader.ts';

const KEK = randomBytes(32).toString('base64');
const SERVER = fileURLToPath(new URL('../services/auth/src/server.ts', import.meta.url));

let db: { url: string; drop: () => Promise<void> };
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  db = await createTestDatabase('revocable_auth_faults');
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await db?.drop();
});

function baseEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    ...kafkaEnv(),
    REVOCATION_TOPIC: uniqueTopic('auth-faults'),
    KEY_ENCRYPTION_KEY: KEK,
    PASSWORD_SCRYPT_COST: '10',
    ADMIN_TOKEN: 'admin-token-for-tests-0123456789',
    INTROSPECTION_CLIENTS: 'orders:orders-secret-0123456789abcdef0123',
    LOGIN_RATE_LIMIT_PER_IP: '100000',
    RATE_LIMIT_PER_IP: '1000000',
    ...overrides,
  };
}

function expectCleanError(res: { statusCode: number; body: string; headers: Record<string, unknown> }, status?: number): void {
  expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
  expect(res.statusCode, res.body).toBeLessThan(500);
  if (status !== undefined) expect(res.statusCode, res.body).toBe(status);
  expect(String(res.headers['content-type'])).toContain('application/json');
  const body = JSON.parse(res.body) as Record<string, unknown>;
  expect(typeof body['error']).toBe('string');
  expect(typeof body['error_description']).toBe('string');
  expect(res.body).not.toMatch(/\bat .*\.(ts|js):\d+|stack|node_modules|SELECT|INSERT/);
}

describe('bad input never yields a 500', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp(loadConfig(baseEnv({ RELAY_ENABLED: 'false' })), { logger: false });
    cleanups.push(() => app.close());
  });

  const json = { 'content-type': 'application/json' };
  const cases: Array<{ name: string; method?: 'POST' | 'GET' | 'DELETE'; url: string; headers?: Record<string, string>; payload?: string; status?: number }> = [
    { name: 'malformed JSON', url: '/v1/login', headers: json, payload: '{"email": "a@b.co", ', status: 400 },
    { name: 'empty JSON body', url: '/v1/login', headers: json, payload: '', status: 400 },
    { name: 'JSON array body', url: '/v1/users', headers: json, payload: '[]', status: 400 },
    { name: 'JSON null body', url: '/v1/users', headers: json, payload: 'null', status: 400 },
    { name: 'missing fields', url: '/v1/users', headers: json, payload: '{}', status: 400 },
    { name: 'missing password', url: '/v1/login', headers: json, payload: '{"email":"a@b.co"}', status: 400 },
    { name: 'wrong types', url: '/v1/login', headers: json, payload: '{"email":42,"password":{"$ne":null}}', status: 400 },
    { name: 'prototype pollution', url: '/v1/users', headers: json, payload: '{"__proto__":{"admin":true},"email":"p@x.co","password":"long enough"}', status: 400 },
    { name: 'oversized body', url: '/v1/users', headers: json, payload: JSON.stringify({ email: 'a@b.co', password: 'x'.repeat(40_000) }), status: 413 },
    { name: 'text/plain', url: '/v1/login', headers: { 'content-type': 'text/plain' }, payload: 'email=a', status: 415 },
    { name: 'login as a form (login CSRF)', url: '/v1/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'email=a%40b.co&password=whatever', status: 415 },
    { name: 'register as a form', url: '/v1/users', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'email=a%40b.co&password=whatever', status: 415 },
    { name: 'xml', url: '/oauth/token', headers: { 'content-type': 'application/xml' }, payload: '<x/>', status: 415 },
    { name: 'multipart', url: '/v1/users', headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x--', status: 415 },
    { name: 'SQL metacharacters in the email (not an address)', url: '/v1/users', headers: json, payload: JSON.stringify({ email: "x'; DROP TABLE users; --", password: 'long enough' }), status: 400 },
    { name: 'NUL in the email', url: '/v1/users', headers: json, payload: JSON.stringify({ email: 'nul\u0000@example.com', password: 'long enough' }), status: 400 },
    { name: 'lone surrogate in the email', url: '/v1/users', headers: json, payload: '{"email":"\\ud800@example.com","password":"long enough"}', status: 400 },
    { name: 'RTL override in the email', url: '/v1/users', headers: json, payload: JSON.stringify({ email: 'evil\u202Emoc.elgoog@example.com', password: 'long enough' }), status: 400 },
    { name: 'zero-width joiner in the email', url: '/v1/users', headers: json, payload: JSON.stringify({ email: 'a\u200Db@example.com', password: 'long enough' }), status: 400 },
    { name: 'two @ in the email', url: '/v1/users', headers: json, payload: JSON.stringify({ email: 'a@b@example.com', password: 'long enough' }), status: 400 },
    { name: 'overlong email', url: '/v1/users', headers: json, payload: JSON.stringify({ email: `${'a'.repeat(60)}@${'b'.repeat(250)}.com`, password: 'long enough' }), status: 400 },
    { name: 'short password', url: '/v1/users', headers: json, payload: JSON.stringify({ email: 'short@example.com', password: 'short' }), status: 400 },
    { name: 'SQL injection as login', url: '/v1/login', headers: json, payload: JSON.stringify({ email: "' OR 1=1 --@x.co", password: "' OR '1'='1" }), status: 401 },
    { name: 'NUL in the password', url: '/v1/login', headers: json, payload: JSON.stringify({ email: 'nobody@example.com', password: 'a\u0000b' }), status: 401 },
    { name: 'token: no grant_type', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'refresh_token=abc', status: 400 },
    { name: 'token: unsupported grant', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=password&username=a&password=b', status: 400 },
    { name: 'token: garbage refresh token', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: "grant_type=refresh_token&refresh_token=';--", status: 400 },
    { name: 'token: well-formed unknown refresh token', url: '/oauth/token', headers: json, payload: JSON.stringify({ grant_type: 'refresh_token', refresh_token: randomBytes(32).toString('base64url') }), status: 400 },
    { name: 'token: no refresh token at all', url: '/oauth/token', headers: json, payload: '{"grant_type":"refresh_token"}', status: 400 },
    { name: 'token: unknown resource', url: '/oauth/token', headers: json, payload: JSON.stringify({ grant_type: 'refresh_token', refresh_token: randomBytes(32).toString('base64url'), resource: 'https://evil' }), status: 400 },
    { name: 'revoke: missing token', url: '/oauth/revoke', headers: json, payload: '{}', status: 400 },
    { name: 'introspect: no client auth', url: '/oauth/introspect', headers: json, payload: '{"token":"x"}', status: 401 },
    { name: 'introspect: garbage basic', url: '/oauth/introspect', headers: { ...json, authorization: 'Basic %%%' }, payload: '{"token":"x"}', status: 401 },
    { name: 'introspect: bad percent-encoding', url: '/oauth/introspect', headers: { ...json, authorization: `Basic ${Buffer.from('%E0%A4%A:x').toString('base64')}` }, payload: '{"token":"x"}', status: 401 },
    { name: 'sessions: no token', method: 'GET', url: '/v1/sessions', status: 401 },
    { name: 'sessions: garbage bearer', method: 'GET', url: '/v1/sessions', headers: { authorization: 'Bearer a.b.c' }, status: 401 },
    { name: 'sessions: alg none token', method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{"sub":"x","aud":"orders"}').toString('base64url')}.` }, status: 401 },
    { name: 'delete session: no token', method: 'DELETE', url: "/v1/sessions/1' OR '1'='1", status: 401 },
    { name: 'admin: no token', url: '/v1/admin/keys/rotate', status: 401 },
    { name: 'admin: non-uuid user', url: "/v1/admin/users/1'%20OR%201=1/revoke", headers: { authorization: 'Bearer admin-token-for-tests-0123456789' }, status: 404 },
    { name: 'logout: nothing', url: '/v1/logout', status: 401 },
    { name: 'unknown route', method: 'GET', url: '/v1/nope', status: 404 },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const res = await app.inject({ method: c.method ?? 'POST', url: c.url, headers: c.headers ?? {}, ...(c.payload !== undefined ? { payload: c.payload } : {}) });
      expectCleanError(res, c.status);
    });
  }

  it('accepts internationalised emails, normalises case and Unicode forms, and keeps quotes literal', async () => {
    const local = `josé.${randomUUID().slice(0, 8)}`;
    const decomposed = `${local.normalize('NFD')}@EXAMPLE.com`;
    const res = await app.inject({ method: 'POST', url: '/v1/users', payload: { email: decomposed, password: 'long enough' } });
    expect(res.statusCode, res.body).toBe(201);
    expect((res.json() as { email: string }).email).toBe(`${local.normalize('NFC')}@example.com`);
    const dup = await app.inject({ method: 'POST', url: '/v1/users', payload: { email: `${local.normalize('NFC').toUpperCase()}@example.COM`, password: 'long enough' } });
    expectCleanError(dup, 409);
    const login = await app.inject({ method: 'POST', url: '/v1/login', payload: { email: `${local.normalize('NFC')}@example.com`, password: 'long enough' } });
    expect(login.statusCode).toBe(200);
    const quoted = await app.inject({ method: 'POST', url: '/v1/users', payload: { email: `o'hara;--${randomUUID().slice(0, 6)}@example.com`, password: 'long enough' } });
    expect(quoted.statusCode).toBe(201);
    const emoji = await app.inject({ method: 'POST', url: '/v1/users', payload: { email: `😀${randomUUID().slice(0, 6)}@例え.jp`, password: 'long enough' } });
    expect(emoji.statusCode).toBe(201);
  });

  it('throttles failed logins per account with 429', async () => {
    const email = `throttle-${randomUUID()}@example.com`;
    await app.inject({ method: 'POST', url: '/v1/users', payload: { email, password: 'the right one' } });
    for (let i = 0; i < 10; i++) {
      const res = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: `wrong ${i}` } });
      expect(res.statusCode).toBe(401);
    }
    const blocked = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: 'the right one' } });
    expectCleanError(blocked, 429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // Unknown accounts are throttled the same way (no enumeration through 429s).
    const ghost = `ghost-${randomUUID()}@example.com`;
    for (let i = 0; i < 10; i++) await app.inject({ method: 'POST', url: '/v1/login', payload: { email: ghost, password: 'whatever' } });
    expectCleanError(await app.inject({ method: 'POST', url: '/v1/login', payload: { email: ghost, password: 'whatever' } }), 429);
  });

  it('answers 403 on admin routes when ADMIN_TOKEN is not configured', async () => {
    const noAdmin = await buildApp(loadConfig(baseEnv({ RELAY_ENABLED: 'false', MIGRATE_ON_START: 'false', ADMIN_TOKEN: '' })), { logger: false });
    cleanups.push(() => noAdmin.close());
    const res = await noAdmin.inject({ method: 'POST', url: '/v1/admin/keys/rotate', headers: { authorization: 'Bearer anything-at-all-1234' } });
    expectCleanError(res, 403);
  });

  it('rate-limits logins per IP', async () => {
    const limited = await buildApp(loadConfig(baseEnv({ RELAY_ENABLED: 'false', MIGRATE_ON_START: 'false', LOGIN_RATE_LIMIT_PER_IP: '3' })), { logger: false });
    cleanups.push(() => limited.close());
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await limited.inject({ method: 'POST', url: '/v1/login', payload: { email: `ip-${i}@example.com`, password: 'whatever' } })).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const res = await limited.inject({ method: 'POST', url: '/v1/login', payload: { email: 'ip@example.com', password: 'whatever' } });
    expectCleanError(res, 429);
  });
});

/** A TCP proxy in front of PostgreSQL that can be cut, to take the database away from one app. */
async function pgProxy(target: URL): Promise<{ url: string; cut: () => Promise<void>; restore: () => Promise<void> }> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect({ host: target.hostname, port: Number(target.port || 5432) });
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const close = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', close).on('close', close);
        upstream.on('error', close).on('close', close);
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  await listen();
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    cut: async () => {
      await new Promise<void>((resolve) => {
        server?.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    restore: listen,
  };
}

describe('PostgreSQL down', () => {
  it('answers 503 (not ready, nothing half-written) and recovers by itself', async () => {
    const proxy = await pgProxy(new URL(db.url));
    cleanups.push(() => proxy.cut());
    const app = await buildApp(loadConfig(baseEnv({ DATABASE_URL: proxy.url, RELAY_ENABLED: 'false', DATABASE_CONNECT_TIMEOUT_MS: '1000' })), { logger: false });
    cleanups.push(() => app.close());
    const email = `pgdown-${randomUUID()}@example.com`;
    expect((await app.inject({ method: 'POST', url: '/v1/users', payload: { email, password: 'pg down test' } })).statusCode).toBe(201);
    const loginRes = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: 'pg down test' } });
    expect(loginRes.statusCode, loginRes.body).toBe(200);
    const tokens = loginRes.json() as {
      access_token: string;
      refresh_token: string;
    };

    await proxy.cut();
    const requests = [
      app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: 'pg down test' } }),
      app.inject({ method: 'POST', url: '/v1/users', payload: { email: `other-${email}`, password: 'pg down test' } }),
      app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token } }),
      app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${tokens.access_token}` } }),
      app.inject({ method: 'GET', url: '/.well-known/jwks.json' }),
    ];
    for (const res of await Promise.all(requests)) {
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json()).toMatchObject({ error: 'temporarily_unavailable' });
      expect(res.headers['retry-after']).toBeDefined();
    }
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    await proxy.restore();
    // The failed logout left nothing behind: the session still works, no event was queued.
    const direct = new pg.Client({ connectionString: db.url });
    await direct.connect();
    cleanups.push(() => direct.end());
    const sid = (JSON.parse(Buffer.from(tokens.access_token.split('.')[1] as string, 'base64url').toString()) as { sid: string }).sid;
    const outboxFor = async () => Number((await direct.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE payload->>'sid' = $1`, [sid])).rows[0]?.n);
    expect(await outboxFor()).toBe(0);
    expect((await direct.query(`SELECT 1 FROM users WHERE email = $1`, [`other-${email}`])).rowCount).toBe(0);
    await waitFor(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, { what: 'ready again' });
    const refreshed = await app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'refresh_token', refresh_token: tokens.refresh_token } });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const logout = await app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(logout.statusCode).toBe(204);
    expect(await outboxFor()).toBe(1);
  });
});

function startServer(env: Record<string, string>): { child: ChildProcess; exited: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [SERVER], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  return { child, exited };
}

describe('process lifecycle', () => {
  it('a process killed right after a logout committed still delivers the event after restart', async () => {
    const port = await freePort();
    const deadKafka = await freePort();
    const topic = uniqueTopic('auth-kill');
    const env = baseEnv({ PORT: String(port), REVOCATION_TOPIC: topic, LOG_LEVEL: 'fatal', HEARTBEAT_INTERVAL_MS: '300' });
    const base = `http://127.0.0.1:${port}`;
    const waitReady = () => waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { timeoutMs: 90_000, what: 'auth server ready' });

    // First life: Kafka unreachable, so the event cannot leave before the kill.
    const first = startServer({ ...env, KAFKA_BROKERS: `127.0.0.1:${deadKafka}` });
    cleanups.push(async () => first.child.kill('SIGKILL'));
    await waitReady();
    const email = `kill-${randomUUID()}@example.com`;
    const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    expect((await post('/v1/users', { email, password: 'kill -9 test' })).status).toBe(201);
    const tokens = (await (await post('/v1/login', { email, password: 'kill -9 test' })).json()) as { access_token: string };
    const sid = (JSON.parse(Buffer.from(tokens.access_token.split('.')[1] as string, 'base64url').toString()) as { sid: string }).sid;
    expect((await post('/v1/logout', undefined, { authorization: `Bearer ${tokens.access_token}` })).status).toBe(204);
    first.child.kill('SIGKILL');
    const direct = new pg.Client({ connectionString: db.url });
    await direct.connect();
    try {
      const { rowCount } = await direct.query(`SELECT 1 FROM outbox WHERE payload->>'sid' = $1`, [sid]);
      expect(rowCount).toBe(1);
    } finally {
      await direct.end();
    }
    await first.exited;

    // Second life: Kafka reachable; the relay finds the committed row and publishes it.
    const second = startServer(env);
    cleanups.push(async () => {
      second.child.kill('SIGTERM');
      await second.exited;
    });
    await waitReady();
    const received: RevocableEvent[] = [];
    const consumer = await readTopic(kafkaBrokers(), topic, (event) => void received.push(event), kafkaSasl());
    cleanups.push(() => consumer.stop());
    const event = await waitFor(() => received.find((e) => e.type === 'session.revoked' && e.sid === sid), { timeoutMs: 30_000, what: 'session.revoked after restart' });
    expect(event).toMatchObject({ reason: 'logout' });

    // Graceful stop on SIGTERM.
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 300_000);

  it('a KEY_ENCRYPTION_KEY that does not open the stored keys stops the start with a clear error', async () => {
    await expect(buildApp(loadConfig(baseEnv({ KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), RELAY_ENABLED: 'false' })), { logger: false })).rejects.toMatchObject({
      code: 'ERR_AUTH_KEY_DECRYPT',
    });
  });

  it('bad configuration stops the process with one line naming the variable and the fix', async () => {
    const env = baseEnv();
    delete env['KEY_ENCRYPTION_KEY'];
    const { exited } = startServer(env);
    const { code, stderr } = await exited;
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('KEY_ENCRYPTION_KEY');
    expect(stderr).toContain('openssl rand -base64 32');
  });
});
