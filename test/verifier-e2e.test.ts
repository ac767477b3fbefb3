/**
 * The verifier against the real auth service (in-process, on a real port, its own
 * PostgreSQL database) and real Kafka: logout reaches both resource services, a restarted
 * instance replays before serving, key rotation keeps tokens working, a revoked key does not,
 * and the introspect freshness policy asks the real auth service.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@revocable/infra';
import { MAX_EVENT_BYTES } from '@revocable/events';
import { buildApp as buildAuth, loadConfig as loadAuthConfig } from '@revocable/auth';
import { buildApp as buildOrders, loadConfig as loadOrdersConfig } from '@revocable/orders';
import { buildApp as buildProfile, loadConfig as loadProfileConfig } from '@revocable/profile';
import { authEnv, createTestDatabase, kafkaEnv, testTransport, uniqueTopic } from './support/env.ts';

async function waitFor<T>(fn: () => Promise<T | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== false) return value;
    if (Date.now() > deadline) throw new Error('waitFor timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('verifier end to end with the auth service and Kafka', () => {
  const topic = uniqueTopic('test.verifier-e2e');
  const adminToken = randomBytes(24).toString('base64url');
  const secrets = { orders: randomBytes(32).toString('base64url'), profile: randomBytes(32).toString('base64url') };
  let db: { url: string; drop: () => Promise<void> };
  let auth: FastifyInstance;
  let authUrl: string;
  let orders: FastifyInstance;
  let profile: FastifyInstance;
  const extraApps: FastifyInstance[] = [];

  const serviceEnv = (audience: 'orders' | 'profile', extra: Record<string, string> = {}) => ({
    ...kafkaEnv(),
    REVOCATION_TOPIC: topic,
    AUTH_URL: authUrl,
    JWKS_COOLDOWN_MS: '500',
    INTROSPECTION_CLIENT_ID: audience,
    INTROSPECTION_CLIENT_SECRET: secrets[audience],
    FRESHNESS_MAX_SECONDS: '10',
    LOG_LEVEL: 'silent',
    ...extra,
  });
  const newOrders = async () => {
    const app = await buildOrders(loadOrdersConfig(serviceEnv('orders')));
    await app.ready();
    return app;
  };

  const authCall = async (method: string, path: string, body?: unknown, bearer?: string) => {
    const res = await fetch(`${authUrl}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(bearer !== undefined ? { authorization: `Bearer ${bearer}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  };
  const login = async (email: string) => {
    const res = await authCall('POST', '/v1/login', { email, password: 'correct horse battery', audience: ['orders', 'profile'] });
    expect(res.status).toBe(200);
    return res.body['access_token'] as string;
  };
  const newUser = async () => {
    const email = `user-${randomUUID()}@example.test`;
    expect((await authCall('POST', '/v1/users', { email, password: 'correct horse battery' })).status).toBe(201);
    return email;
  };
  const get = (app: FastifyInstance, url: string, token: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString()) as { kid: string }).kid;

  beforeAll(async () => {
    db = await createTestDatabase('revocable_verifier_e2e');
    const port = await freePort();
    authUrl = `http://127.0.0.1:${port}`;
    const config = loadAuthConfig(
      authEnv(db.url, {
        PORT: String(port),
        REVOCATION_TOPIC: topic,
        AUTH_ISSUER: authUrl,
        ADMIN_TOKEN: adminToken,
        INTROSPECTION_CLIENTS: `orders:${secrets.orders},profile:${secrets.profile}`,
        HEARTBEAT_INTERVAL_MS: '200',
        COOKIE_SECURE: 'false',
        LOG_LEVEL: 'silent',
      }),
    );
    auth = await buildAuth(config, { logger: false });
    await auth.listen({ port, host: '127.0.0.1' });
    orders = await newOrders();
    profile = await buildProfile(loadProfileConfig(serviceEnv('profile')));
    await profile.ready();
    await Promise.all([orders.revocable.whenReady(), profile.revocable.whenReady()]);
    await waitFor(async () => orders.revocable.freshnessSeconds() < 10 && profile.revocable.freshnessSeconds() < 10);
  }, 120_000);

  afterAll(async () => {
    for (const app of extraApps) await app.close();
    await orders?.close();
    await profile?.close();
    await auth?.close();
    await db?.drop();
  }, 60_000);

  it('a token revoked by logout is rejected by both orders and profile; other sessions live on', async () => {
    const email = await newUser();
    const token = await login(email);
    const other = await login(email);
    const created = await orders.inject({ method: 'POST', url: '/v1/orders', headers: { authorization: `Bearer ${token}` }, payload: { item: 'book', quantity: 2 } });
    expect(created.statusCode).toBe(201);
    expect((await get(orders, '/v1/orders', token)).json()).toMatchObject({ orders: [{ item: 'book', quantity: 2 }] });
    expect((await get(profile, '/v1/profile', token)).statusCode).toBe(200);

    expect((await authCall('POST', '/v1/logout', undefined, token)).status).toBe(204);
    for (const app of [orders, profile]) {
      const url = app === orders ? '/v1/orders' : '/v1/profile';
      const denied = await waitFor(async () => {
        const res = await get(app, url, token);
        return res.statusCode === 401 ? res : false;
      });
      expect(denied.json()).toMatchObject({ error: 'invalid_token', reason: 'revoked' });
      expect(denied.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="revoked"');
    }
    expect((await get(orders, '/v1/orders', other)).statusCode).toBe(200);
    expect((await get(profile, '/v1/profile', other)).statusCode).toBe(200);
  });

  it('a restarted orders instance answers 503 until it replayed, then rejects the revoked token from its first ready request', async () => {
    const email = await newUser();
    const token = await login(email);
    expect((await get(orders, '/v1/orders', token)).statusCode).toBe(200);
    expect((await authCall('POST', '/v1/logout', undefined, token)).status).toBe(204);
    await waitFor(async () => (await get(orders, '/v1/orders', token)).statusCode === 401);

    await orders.close();
    orders = await newOrders();
    const statuses: number[] = [];
    let readyz = (await orders.inject({ method: 'GET', url: '/readyz' })).statusCode;
    const first = await get(orders, '/v1/orders', token);
    statuses.push(first.statusCode);
    expect(readyz).toBe(503);
    expect(first.statusCode).toBe(503);
    expect(first.json()).toMatchObject({ error: 'temporarily_unavailable', reason: 'not_ready' });
    while (statuses.at(-1) === 503) {
      statuses.push((await get(orders, '/v1/orders', token)).statusCode);
      if (statuses.length > 2000) throw new Error('never became ready');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Every answer was 503 until the replay finished, and the first one after it is a 401.
    expect(statuses.slice(0, -1).every((s) => s === 503)).toBe(true);
    expect(statuses.at(-1)).toBe(401);
    expect((await get(orders, '/v1/orders', token)).json()).toMatchObject({ reason: 'revoked' });
    readyz = (await orders.inject({ method: 'GET', url: '/readyz' })).statusCode;
    expect(readyz).toBe(200);
    expect((await get(orders, '/v1/orders', await login(email))).statusCode).toBe(200);
  });

  it('a rotated key keeps working; a revoked key does not', async () => {
    const email = await newUser();
    const before = await login(email);
    expect((await get(orders, '/v1/orders', before)).statusCode).toBe(200);

    const rotated = await authCall('POST', '/v1/admin/keys/rotate', undefined, adminToken);
    expect(rotated.status).toBe(200);
    const after = await login(email);
    expect(kidOf(after)).toBe(rotated.body['kid']);
    expect(kidOf(after)).not.toBe(kidOf(before));
    // Tokens of the previous key stay valid; the new key is picked up by a refetch on its unknown kid.
    expect((await get(orders, '/v1/orders', before)).statusCode).toBe(200);
    expect((await get(profile, '/v1/profile', before)).statusCode).toBe(200);
    await waitFor(async () => (await get(orders, '/v1/orders', after)).statusCode === 200);
    await waitFor(async () => (await get(profile, '/v1/profile', after)).statusCode === 200);

    const revoked = await authCall('POST', `/v1/admin/keys/${rotated.body['kid'] as string}/revoke`, undefined, adminToken);
    expect(revoked.status).toBe(200);
    for (const [app, url] of [[orders, '/v1/orders'], [profile, '/v1/profile']] as const) {
      const denied = await waitFor(async () => {
        const res = await get(app, url, after);
        return res.statusCode === 401 ? res : false;
      });
      expect(denied.json()).toMatchObject({ reason: 'revoked' });
      expect(app.revocable.denylist.size().key).toBeGreaterThanOrEqual(1);
    }
    // The replacement key works, and the earlier rotated-out key is untouched.
    const replacement = await login(email);
    expect(kidOf(replacement)).toBe(revoked.body['replaced_by']);
    await waitFor(async () => (await get(orders, '/v1/orders', replacement)).statusCode === 200);
    expect((await get(orders, '/v1/orders', before)).statusCode).toBe(200);
  });

  it('poison records written straight to the topic are skipped; the next logout still applies at both services', async () => {
    const email = await newUser();
    const token = await login(email);
    const producer = await testTransport('poison-writer').producer();
    const poison = [
      Buffer.from([0x00, 0xff, 0xfe, 0x80]),
      Buffer.from('{"v":1,"type":"session.revoked"'),
      Buffer.from(JSON.stringify({ v: 1, id: randomUUID(), at: Date.now(), type: 'session.revoked', sub: 'x', sid: 42, reason: 'logout', until: 1 })),
      Buffer.from(JSON.stringify({ v: 2, id: randomUUID(), at: Date.now(), type: 'session.revoked' })),
      Buffer.from(JSON.stringify({ v: 1, id: randomUUID(), at: Date.now(), type: 'everything.revoked' })),
      Buffer.from(JSON.stringify([1, 2, 3])),
      Buffer.alloc(MAX_EVENT_BYTES * 8, 0x7b),
    ];
    // Keyed by the user, so the poison sits in front of the user's logout event on the same partition.
    const sub = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).sub as string;
    await producer.send(topic, poison.map((value) => ({ key: sub, value })));
    await producer.close();
    const skippedBefore = (app: FastifyInstance) => Object.values(app.revocable.consumer.stats().skipped).reduce((a, b) => a + b, 0);
    await waitFor(async () => skippedBefore(orders) >= poison.length && skippedBefore(profile) >= poison.length);

    expect((await authCall('POST', '/v1/logout', undefined, token)).status).toBe(204);
    await waitFor(async () => (await get(orders, '/v1/orders', token)).statusCode === 401);
    await waitFor(async () => (await get(profile, '/v1/profile', token)).statusCode === 401);
    const skipped = orders.revocable.consumer.stats().skipped;
    expect(skipped.ERR_EVENT_NOT_JSON).toBeGreaterThanOrEqual(2);
    expect(skipped.ERR_EVENT_INVALID).toBeGreaterThanOrEqual(2);
    expect(skipped.ERR_EVENT_UNSUPPORTED_VERSION).toBeGreaterThanOrEqual(1);
    expect(skipped.ERR_EVENT_UNKNOWN_TYPE).toBeGreaterThanOrEqual(1);
    expect(skipped.ERR_EVENT_TOO_LARGE).toBeGreaterThanOrEqual(1);
    expect((await orders.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('with stale revocation state, the introspect policy asks the auth service (RFC 7662)', async () => {
    // A profile instance whose clock runs a minute ahead sees its state as stale on every request.
    const skewed = await buildProfile(loadProfileConfig(serviceEnv('profile')), { now: () => Date.now() + 60_000 });
    extraApps.push(skewed);
    await skewed.ready();
    await skewed.revocable.whenReady();
    expect(skewed.revocable.freshnessSeconds()).toBeGreaterThan(10);

    const email = await newUser();
    const token = await login(email);
    const put = () => skewed.inject({ method: 'PUT', url: '/v1/profile', headers: { authorization: `Bearer ${token}` }, payload: { displayName: 'Ada' } });
    const ok = await put();
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ displayName: 'Ada' });
    // Reads are fail-open: served while stale.
    expect((await get(skewed, '/v1/profile', token)).statusCode).toBe(200);
    const metrics = (await skewed.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/revocable_introspections_total\{result="active"\} 1/);

    expect((await authCall('POST', '/v1/logout', undefined, token)).status).toBe(204);
    const denied = await waitFor(async () => {
      const res = await put();
      return res.statusCode === 401 ? res : false;
    });
    expect(denied.json()).toMatchObject({ reason: 'revoked' });
  });
});
