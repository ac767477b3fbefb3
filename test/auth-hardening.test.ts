// Issue 12, auth hardening, against the real PostgreSQL (and the real broker where events
// are involved): limits that hold under concurrency, bounded password work, trusted
// proxies, the narrowed refresh grace window, cookie mode, client-authentication limits,
// the password and email policy, the internal metrics listener.
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, loadConfig } from '@revocable/auth';
import { createTestDatabase } from './support/env.ts';

let db: { url: string; drop: () => Promise<void> };
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  db = await createTestDatabase('revocable_auth_hardening');
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await db?.drop();
});

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    KEY_ENCRYPTION_KEY: KEK,
    PASSWORD_SCRYPT_COST: '10',
    RATE_LIMIT_PER_IP: '100000',
    LOGIN_RATE_LIMIT_PER_IP: '100000',
    ...overrides,
  };
}
// One key for every app of this file: they share the database and its signing keys.
const KEK = randomBytes(32).toString('base64');

async function appWith(overrides: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await buildApp(loadConfig(env(overrides)), { logger: false, relay: false });
  apps.push(app);
  await app.ready();
  return app;
}

const PASSWORD = 'correct horse battery staple';

async function register(app: FastifyInstance, email = `u-${randomUUID()}@example.com`, password = PASSWORD): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/users', payload: { email, password }, remoteAddress: '192.0.2.1' });
  expect(res.statusCode, res.body).toBe(201);
  return email;
}

/** The value of one metric sample (name plus exact label set), 0 when absent. */
async function metric(app: FastifyInstance, sample: string): Promise<number> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  const line = res.body.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

const VERIFICATIONS = 'revocable_auth_password_work_total{lane="login",op="verify"}';

describe('per-account attempt limit, atomic with the attempt', () => {
  it('40 parallel guesses at one account verify at most LOGIN_MAX_FAILURES_PER_ACCOUNT passwords, the rest get 429', async () => {
    const app = await appWith({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '10' });
    const email = await register(app);
    const before = await metric(app, VERIFICATIONS);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: i === 39 ? PASSWORD : `guess number ${i}` } }),
      ),
    );
    const verified = (await metric(app, VERIFICATIONS)) - before;
    expect(verified).toBeLessThanOrEqual(10);
    const statuses = answers.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40 - verified);
    for (const r of answers.filter((a) => a.statusCode === 429)) {
      expect(r.json().error).toBe('rate_limited');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    // Whatever the correct guess got, the account stays locked: a success does not reset the count.
    const after = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: PASSWORD } });
    expect(after.statusCode).toBe(429);
  });

  it('a success gives back only its own attempt: failures counted concurrently stay counted', async () => {
    const app = await appWith({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '10' });
    const email = await register(app);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: i === 4 ? PASSWORD : `wrong ${i}` } })),
    );
    expect(answers.map((r) => r.statusCode).sort()).toEqual([200, ...Array<number>(9).fill(401)]);
    // 9 failures stay counted: one more attempt is allowed, whatever it is, then 429.
    expect((await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: 'wrong again' } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: PASSWORD } })).statusCode).toBe(429);
  });

  it('password change: 40 parallel wrong current passwords verify at most the limit', async () => {
    const app = await appWith({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '10' });
    const email = await register(app);
    const login = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: PASSWORD } });
    expect(login.statusCode).toBe(200);
    const authorization = `Bearer ${login.json().access_token as string}`;
    const before = await metric(app, VERIFICATIONS);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        app.inject({ method: 'POST', url: '/v1/password', headers: { authorization }, payload: { current_password: `guess ${i}`, new_password: 'a brand new passphrase' } }),
      ),
    );
    const verified = (await metric(app, VERIFICATIONS)) - before;
    expect(verified).toBeLessThanOrEqual(10);
    expect(answers.filter((r) => r.statusCode === 401)).toHaveLength(verified);
    expect(answers.filter((r) => r.statusCode === 429)).toHaveLength(40 - verified);
  });
});

describe('bounded password hashing, registration limiter', () => {
  it('registration has its own per-IP limit (429 with Retry-After past REGISTER_RATE_LIMIT_PER_IP)', async () => {
    const app = await appWith({ REGISTER_RATE_LIMIT_PER_IP: '5', REGISTER_RATE_LIMIT_WINDOW_SECONDS: '600' });
    const statuses: number[] = [];
    let retryAfter: string | string[] | undefined;
    for (let i = 0; i < 8; i++) {
      const res = await app.inject({ method: 'POST', url: '/v1/users', payload: { email: `ip-${randomUUID()}@example.com`, password: PASSWORD }, remoteAddress: '198.51.100.7' });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) retryAfter = res.headers['retry-after'];
    }
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    // Another IP is not affected.
    expect((await app.inject({ method: 'POST', url: '/v1/users', payload: { email: `ip-${randomUUID()}@example.com`, password: PASSWORD }, remoteAddress: '198.51.100.8' })).statusCode).toBe(201);
  });

  it('a registration flood from many IPs gets fast 503s with Retry-After, and a login during it succeeds', async () => {
    // A real scrypt cost (2^15: ~30 ms and 32 MiB each here), two workers, two waiting registrations.
    const app = await appWith({ PASSWORD_SCRYPT_COST: '15', PASSWORD_HASH_CONCURRENCY: '2', PASSWORD_HASH_REGISTER_QUEUE_MAX: '2', REGISTER_RATE_LIMIT_PER_IP: '3' });
    const email = await register(app);
    const done: Array<{ kind: 'register' | 'login'; status: number; retryAfter: string | undefined }> = [];
    const flood = Array.from({ length: 40 }, (_, i) =>
      app
        .inject({ method: 'POST', url: '/v1/users', payload: { email: `flood-${randomUUID()}@example.com`, password: PASSWORD }, remoteAddress: `203.0.113.${i % 20}` })
        .then((r) => done.push({ kind: 'register', status: r.statusCode, retryAfter: r.headers['retry-after'] as string | undefined })),
    );
    const login = app
      .inject({ method: 'POST', url: '/v1/login', payload: { email, password: PASSWORD }, remoteAddress: '192.0.2.99' })
      .then((r) => done.push({ kind: 'login', status: r.statusCode, retryAfter: undefined }));
    await Promise.all([...flood, login]);
    const registrations = done.filter((d) => d.kind === 'register');
    const refused = registrations.filter((d) => d.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    expect(registrations.every((d) => [201, 429, 503].includes(d.status))).toBe(true);
    for (const r of refused) expect(Number(r.retryAfter)).toBeGreaterThan(0);
    // Fast: every 503 was answered before the first registration's hash finished.
    const firstCreated = done.findIndex((d) => d.status === 201);
    const lastRefused = done.map((d) => d.status).lastIndexOf(503);
    expect(firstCreated).toBeGreaterThan(lastRefused);
    expect(done.find((d) => d.kind === 'login')?.status).toBe(200);
    expect(await metric(app, 'revocable_auth_password_queue_rejected_total{lane="register"}')).toBe(refused.length);
  });
});
