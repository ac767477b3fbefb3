// Issue 12, auth hardening, against the real PostgreSQL (and the real broker where events
// are involved): limits that hold under concurrency, bounded password work, trusted
// proxies, the narrowed refresh grace window, cookie mode, client-authentication limits,
// the password and email policy, the internal metrics listener.
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, internalListenerAddress, loadConfig } from '@revocable/auth';
import type { RevocableEvent } from '@revocable/events';
import { createTestDatabase, kafkaBrokers, kafkaEnv, kafkaSasl, uniqueTopic, waitFor } from './support/env.ts';
import { readTopic } from './support/topic-reader.ts';

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

async function appWith(overrides: Record<string, string> = {}, deps: { now?: () => number; relay?: boolean } = {}): Promise<FastifyInstance> {
  const app = await buildApp(loadConfig(env(overrides)), { logger: false, relay: false, ...deps });
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

function claimsOf(accessToken: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(accessToken.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('TRUST_PROXY: a hop count or trusted proxy addresses, never "trust the client"', () => {
  it('refuses true at start with the one line naming the fix; parses hops and CIDR lists', () => {
    for (const value of ['true', 'TRUE', '*']) {
      expect(() => loadConfig(env({ TRUST_PROXY: value }))).toThrow(/^TRUST_PROXY: .*number of proxies .*addresses\/CIDRs/);
    }
    expect(() => loadConfig(env({ TRUST_PROXY: '10.0.0.0/33' }))).toThrow(/^TRUST_PROXY: /);
    expect(() => loadConfig(env({ TRUST_PROXY: 'proxy.internal' }))).toThrow(/^TRUST_PROXY: /);
    expect(loadConfig(env({ TRUST_PROXY: '1' })).trustProxy).toBe(1);
    expect(loadConfig(env({ TRUST_PROXY: '10.0.0.0/8, 192.0.2.7,::1' })).trustProxy).toEqual(['10.0.0.0/8', '192.0.2.7', '::1']);
    expect(loadConfig(env({})).trustProxy).toBe(false);
  });

  it('ignores X-Forwarded-For from an untrusted peer: 26 logins with distinct values still hit the per-IP limit', async () => {
    const app = await appWith({ TRUST_PROXY: '10.0.0.0/8', LOGIN_RATE_LIMIT_PER_IP: '20' });
    const statuses: number[] = [];
    for (let i = 0; i < 26; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/login',
        payload: { email: `xff-${i}@example.com`, password: 'whatever it is' },
        remoteAddress: '198.51.100.50',
        headers: { 'x-forwarded-for': `203.0.113.${i}` },
      });
      statuses.push(res.statusCode);
    }
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20)).toEqual(Array<number>(6).fill(429));
  });

  it('believes a trusted proxy, but a malformed forwarded address is ignored and never stored', async () => {
    const app = await appWith({ TRUST_PROXY: '10.0.0.0/8' });
    const email = await register(app);
    const sessionIpAfterLogin = async (forwarded: string): Promise<unknown> => {
      const login = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: PASSWORD }, remoteAddress: '10.1.2.3', headers: { 'x-forwarded-for': forwarded } });
      expect(login.statusCode, login.body).toBe(200);
      const list = await app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${login.json().access_token as string}` } });
      return (list.json().sessions as Array<{ current: boolean; ip: unknown }>).find((x) => x.current)?.ip;
    };
    expect(await sessionIpAfterLogin('198.51.100.23')).toBe('198.51.100.23');
    const ignoredBefore = await metric(app, 'revocable_auth_forwarded_address_ignored_total');
    expect(await sessionIpAfterLogin('<script>alert(1)</script>')).toBe('10.1.2.3');
    expect(await metric(app, 'revocable_auth_forwarded_address_ignored_total')).toBeGreaterThan(ignoredBefore);
  });
});

describe('refresh reuse grace window: short, same client only, logged and counted', () => {
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  let app: FastifyInstance;
  const events: RevocableEvent[] = [];
  let stopReader: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const topic = uniqueTopic('auth-hardening');
    app = await appWith({ ...kafkaEnv(), REVOCATION_TOPIC: topic, HEARTBEAT_INTERVAL_MS: '500' }, { now, relay: true });
    const reader = await readTopic(kafkaBrokers(), topic, (event) => events.push(event), kafkaSasl());
    stopReader = () => reader.stop();
  }, 120_000);
  afterAll(async () => stopReader());

  const client = { 'user-agent': 'Browser/1.0' };
  async function rotated(): Promise<{ first: string; second: string; sid: string }> {
    const email = await register(app);
    const login = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: PASSWORD }, headers: client, remoteAddress: '192.0.2.10' });
    const first = login.json().refresh_token as string;
    const refreshed = await app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'refresh_token', refresh_token: first }, headers: client, remoteAddress: '192.0.2.10' });
    expect(refreshed.statusCode).toBe(200);
    return { first, second: refreshed.json().refresh_token as string, sid: claimsOf(login.json().access_token as string)['sid'] as string };
  }
  const duplicate = (token: string, headers: Record<string, string>, remoteAddress: string) =>
    app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'refresh_token', refresh_token: token }, headers, remoteAddress });
  const reuseEvent = (sid: string) =>
    waitFor(() => events.find((e) => e.type === 'session.revoked' && e.sid === sid && e.reason === 'reuse_detected'), { timeoutMs: 20_000, what: `session.revoked(reuse_detected) for ${sid}` });

  it('defaults to 2 s', () => {
    expect(loadConfig(env()).refreshReuseGraceSeconds).toBe(2);
  });

  it('a duplicate from the same client inside the window gets the same successor (counted)', async () => {
    const { first, second } = await rotated();
    const before = await metric(app, 'revocable_auth_refresh_grace_total{outcome="honoured"}');
    const dup = await duplicate(first, client, '192.0.2.10');
    expect(dup.statusCode, dup.body).toBe(200);
    expect(dup.json().refresh_token).toBe(second);
    expect(await metric(app, 'revocable_auth_refresh_grace_total{outcome="honoured"}')).toBe(before + 1);
  });

  it('a duplicate from another user agent or IP inside the window is reuse: the family is revoked and session.revoked reaches the topic', async () => {
    for (const [headers, ip] of [[{ 'user-agent': 'Thief/2.0' }, '192.0.2.10'], [client, '198.51.100.66']] as const) {
      const { first, second, sid } = await rotated();
      const before = await metric(app, 'revocable_auth_refresh_grace_total{outcome="other_client"}');
      const dup = await duplicate(first, headers, ip);
      expect(dup.statusCode).toBe(400);
      expect(dup.json()).toMatchObject({ error: 'invalid_grant', reason: 'reuse_detected' });
      expect(await metric(app, 'revocable_auth_refresh_grace_total{outcome="other_client"}')).toBe(before + 1);
      // The owner's successor is dead too: the whole family is revoked.
      expect((await duplicate(second, client, '192.0.2.10')).json()).toMatchObject({ reason: 'session_revoked' });
      await reuseEvent(sid);
    }
  });

  it('a duplicate from the same client after the window is reuse', async () => {
    const { first, sid } = await rotated();
    offsetMs += 3000;
    try {
      const dup = await duplicate(first, client, '192.0.2.10');
      expect(dup.json()).toMatchObject({ error: 'invalid_grant', reason: 'reuse_detected' });
    } finally {
      offsetMs -= 3000;
    }
    await reuseEvent(sid);
  });
});

describe('cookie mode: the refresh token stays out of the JSON body', () => {
  it('login and refresh with the cookie-mode header answer without refresh_token; the cookie carries it', async () => {
    const app = await appWith({ COOKIE_SECURE: 'false' });
    const email = await register(app);
    const cookieMode = { 'x-csrf-protection': '1' };
    const login = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: PASSWORD }, headers: cookieMode });
    expect(login.statusCode).toBe(200);
    expect(login.json()).not.toHaveProperty('refresh_token');
    expect(login.json()).toHaveProperty('access_token');
    const cookie = login.cookies.find((c) => c.name === 'revocable_rt');
    expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie?.httpOnly).toBe(true);
    const refreshed = await app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'refresh_token' }, headers: { ...cookieMode, cookie: `revocable_rt=${cookie?.value ?? ''}` } });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect(refreshed.json()).not.toHaveProperty('refresh_token');
    expect(refreshed.cookies.find((c) => c.name === 'revocable_rt')?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // A client that keeps the token itself (no cookie-mode header) still gets it in the body.
    const plain = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: PASSWORD } });
    expect(plain.json().refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('password policy', () => {
  const attempt = (app: FastifyInstance, email: string, password: string) =>
    app.inject({ method: 'POST', url: '/v1/users', payload: { email, password }, remoteAddress: '192.0.2.30' });

  it.each([
    ['only whitespace', () => ' '.repeat(12), /whitespace/],
    ['a common password', () => 'password', /commonly used/],
    ['a common password in other case', () => 'Baseball1', /commonly used/],
    ['the email itself', (email: string) => email.toUpperCase(), /email address or its local part/],
    ['the local part of the email', (email: string) => email.split('@')[0] as string, /email address or its local part/],
    ['shorter than the minimum in code points (4 emoji = 8 UTF-16 units)', () => '\u{1F600}'.repeat(4), /8 to 1024 characters/],
  ])('refuses %s with 400 invalid_request', async (_name, make, description) => {
    const app = await appWith();
    const email = `policy-${randomUUID().slice(0, 8)}@example.com`;
    const res = await attempt(app, email, make(email));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(description) });
  });

  it('accepts a long enough uncommon password, counted in code points', async () => {
    const app = await appWith();
    expect((await attempt(app, `ok-${randomUUID()}@example.com`, '\u{1F600}'.repeat(8))).statusCode).toBe(201);
  });

  it('applies to a password change too', async () => {
    const app = await appWith();
    const email = await register(app);
    const login = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: PASSWORD } });
    const authorization = `Bearer ${login.json().access_token as string}`;
    for (const bad of ['qwertyuiop', email]) {
      const res = await app.inject({ method: 'POST', url: '/v1/password', headers: { authorization }, payload: { current_password: PASSWORD, new_password: bad } });
      expect(res.statusCode).toBe(400);
    }
  });
});

describe('emails: normalised (NFKC, case, trailing dot) and refused when a look-alike exists', () => {
  it('refuses full-width, Cyrillic and trailing-dot look-alikes with 409, and logs in through the normalised forms', async () => {
    const app = await appWith();
    const local = `alice${randomUUID().slice(0, 8).replace(/[0-9]/g, 'x')}`;
    const email = await register(app, `${local}@example.com`);
    const fullWidth = [...email].map((c) => (c >= '!' && c <= '~' ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c)).join('');
    const cyrillic = email.replace('a', '\u0430');
    const variants = [fullWidth, cyrillic, `${email}.`, email.toUpperCase(), email.replace('l', '1')];
    for (const variant of variants) {
      const res = await app.inject({ method: 'POST', url: '/v1/users', payload: { email: variant, password: PASSWORD }, remoteAddress: '192.0.2.31' });
      expect(res.statusCode, variant).toBe(409);
      expect(res.json().error).toBe('email_taken');
    }
    for (const variant of [fullWidth, `${email}.`, email.toUpperCase()]) {
      const res = await app.inject({ method: 'POST', url: '/v1/login', payload: { email: variant, password: PASSWORD } });
      expect(res.statusCode, variant).toBe(200);
    }
    // A look-alike is not the account: logging in with it fails like a wrong password.
    expect((await app.inject({ method: 'POST', url: '/v1/login', payload: { email: cyrillic, password: PASSWORD } })).statusCode).toBe(401);
  });

  it('fills in the skeleton of accounts created before the column existed, at start', async () => {
    const app = await appWith();
    const email = `legacy-${randomUUID()}@example.com`;
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`INSERT INTO users (email, password_hash, created_at, updated_at) VALUES ($1, 'x', now(), now())`, [email]);
      await appWith(); // a restart
      const { rows } = await client.query<{ email_skeleton: string | null }>('SELECT email_skeleton FROM users WHERE email = $1', [email]);
      expect(rows[0]?.email_skeleton).toBeTypeOf('string');
    } finally {
      await client.end();
    }
    const lookAlike = await app.inject({ method: 'POST', url: '/v1/users', payload: { email: email.replace('e', '\u0435'), password: PASSWORD }, remoteAddress: '192.0.2.32' });
    expect(lookAlike.statusCode).toBe(409);
  });
});

describe('METRICS_PORT: /metrics and /docs on an internal listener', () => {
  it('serves them on the internal port only, over a real socket', async () => {
    const app = await appWith({ METRICS_PORT: '0' });
    for (const url of ['/metrics', '/docs', '/docs/json']) expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(404);
    const address = internalListenerAddress(app);
    expect(address?.address).toBe('127.0.0.1');
    const base = `http://127.0.0.1:${address?.port ?? 0}`;
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^# HELP revocable_auth_password_work_total /m);
    const spec = (await (await fetch(`${base}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/login', '/oauth/token', '/oauth/introspect']));
    expect((await fetch(`${base}/docs/`)).status).toBe(200);
    await app.close();
    await expect(fetch(`${base}/metrics`)).rejects.toThrow();
  });

  it('refuses METRICS_PORT equal to PORT', () => {
    expect(() => loadConfig(env({ PORT: '3000', METRICS_PORT: '3000' }))).toThrow(/^METRICS_PORT: must differ from PORT/);
  });
});

describe('failed client authentications are limited per client and per IP', () => {
  const ORDERS_SECRET = 'orders-secret-of-at-least-32-bytes-0001';
  const PROFILE_SECRET = 'profile-secret-of-at-least-32-bytes-001';
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;

  it('introspection: 300 wrong secrets from one IP get 429 with Retry-After after CLIENT_AUTH_MAX_FAILURES_PER_IP, until the window ends', async () => {
    const app = await appWith({ INTROSPECTION_CLIENTS: `orders:${ORDERS_SECRET},profile:${PROFILE_SECRET}` }, { now });
    const statuses: number[] = [];
    let retryAfter = '';
    for (let i = 0; i < 300; i++) {
      const res = await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: basic('orders', `guess-${i}`) }, payload: { token: 'x' }, remoteAddress: '198.51.100.80' });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) retryAfter = String(res.headers['retry-after']);
    }
    expect(statuses.slice(0, 20)).toEqual(Array<number>(20).fill(401));
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    // Even the right secret waits from that IP; another IP and client are not affected.
    expect((await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: basic('orders', ORDERS_SECRET) }, payload: { token: 'x' }, remoteAddress: '198.51.100.80' })).statusCode).toBe(429);
    expect((await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: basic('profile', PROFILE_SECRET) }, payload: { token: 'x' }, remoteAddress: '198.51.100.81' })).statusCode).toBe(200);
    expect(await metric(app, 'revocable_auth_client_auth_throttled_total{scope="ip"}')).toBeGreaterThanOrEqual(280);
    offsetMs += 61_000;
    try {
      expect((await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: basic('orders', ORDERS_SECRET) }, payload: { token: 'x' }, remoteAddress: '198.51.100.80' })).statusCode).toBe(200);
    } finally {
      offsetMs -= 61_000;
    }
  });

  it('per client: wrong secrets for one client id from many IPs get 429 past CLIENT_AUTH_MAX_FAILURES_PER_CLIENT', async () => {
    const app = await appWith({ INTROSPECTION_CLIENTS: `orders:${ORDERS_SECRET},profile:${PROFILE_SECRET}`, CLIENT_AUTH_MAX_FAILURES_PER_CLIENT: '30' }, { now });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: basic('orders', `guess-${i}`) }, payload: { token: 'x' }, remoteAddress: `203.0.113.${i}` });
      statuses.push(res.statusCode);
    }
    expect(statuses.slice(0, 30)).toEqual(Array<number>(30).fill(401));
    expect(statuses.slice(30)).toEqual(Array<number>(10).fill(429));
    expect((await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: basic('profile', PROFILE_SECRET) }, payload: { token: 'x' }, remoteAddress: '203.0.113.200' })).statusCode).toBe(200);
    expect(await metric(app, 'revocable_auth_client_auth_failures_total')).toBe(30);
  });
});
