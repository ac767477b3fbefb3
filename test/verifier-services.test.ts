/**
 * The orders and profile APIs through their real buildApp (real Kafka topic per suite, keys
 * generated here and given to the plugin as a local key set).
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet } from 'jose';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent, revocationTopicSpec } from '@revocable/events';
import { buildApp as buildOrders, loadConfig as loadOrdersConfig } from '@revocable/orders';
import { buildApp as buildProfile, loadConfig as loadProfileConfig } from '@revocable/profile';
import { generateSigningKey, importPrivateKey, signAccessToken, type SignerKey } from '@revocable/tokens';
import { kafkaBrokers, kafkaEnv, testTransport, waitFor } from './support/env.ts';
import { heartbeatRecords, testHeartbeatKeys } from './support/heartbeats.ts';

const ORDERS_ISSUER = 'https://auth.orders.test';
const PROFILE_ISSUER = 'https://auth.profile.test';

describe('orders API (real Kafka, local keys)', () => {
  let app: FastifyInstance;
  let signer: SignerKey;
  const topic = `test.orders.${randomUUID()}`;

  const token = async (sub: string) =>
    (await signAccessToken({ sub, aud: 'orders', jti: randomUUID(), sid: randomUUID(), ver: 0, client_id: 'revocable-app', scope: 'orders:read orders:write' }, signer, { issuer: ORDERS_ISSUER, accessTtlSeconds: 300 })).token;
  const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, sub: string, payload?: unknown) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${await token(sub)}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });

  beforeAll(async () => {
    const key = await generateSigningKey('ES256');
    signer = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
    const config = loadOrdersConfig({
      ...kafkaEnv(),
      REVOCATION_TOPIC: topic,
      AUTH_ISSUER: ORDERS_ISSUER,
      MAX_ORDERS_PER_USER: '3',
      LOG_LEVEL: 'silent',
    });
    app = await buildOrders(config, { getKey: createLocalJWKSet({ keys: [key.publicJwk] }), heartbeatKeys: testHeartbeatKeys });
    await app.ready();
    const admin = await testTransport('orders-test').admin();
    await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }));
    await admin.close();
    await app.revocable.whenReady();
    // Writes are fail-closed: give the instance fresh revocation state (heartbeats on every partition).
    const producer = await testTransport('orders-test').producer();
    const partitions = revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }).partitions;
    await producer.send(
      topic,
      heartbeatRecords(topic, partitions, { source: 'orders-test' }),
    );
    await producer.close();
    await waitFor(() => app.revocable.freshnessSeconds() <= 5, { what: 'orders revocation state fresh (heartbeats applied)' });
  });

  afterAll(async () => {
    await app?.close();
  });

  it('creates, lists, reads and deletes the caller\'s own orders', async () => {
    const created = await call('POST', '/v1/orders', 'ann', { item: 'coffee', quantity: 3 });
    expect(created.statusCode).toBe(201);
    const order = created.json() as { id: string; item: string; quantity: number; createdAt: number };
    expect(order).toMatchObject({ item: 'coffee', quantity: 3 });
    expect(order).not.toHaveProperty('owner');
    expect((await call('GET', '/v1/orders', 'ann')).json()).toEqual({ orders: [order] });
    expect((await call('GET', `/v1/orders/${order.id}`, 'ann')).json()).toEqual(order);
    expect((await call('DELETE', `/v1/orders/${order.id}`, 'ann')).statusCode).toBe(204);
    expect((await call('GET', `/v1/orders/${order.id}`, 'ann')).statusCode).toBe(404);
    expect((await call('DELETE', `/v1/orders/${order.id}`, 'ann')).statusCode).toBe(404);
  });

  it('never shows or deletes another user\'s order', async () => {
    const order = (await call('POST', '/v1/orders', 'ben', { item: 'tea', quantity: 1 })).json() as { id: string };
    expect((await call('GET', '/v1/orders', 'cat')).json()).toEqual({ orders: [] });
    expect((await call('GET', `/v1/orders/${order.id}`, 'cat')).statusCode).toBe(404);
    expect((await call('DELETE', `/v1/orders/${order.id}`, 'cat')).statusCode).toBe(404);
    expect((await call('GET', `/v1/orders/${order.id}`, 'ben')).statusCode).toBe(200);
  });

  it('answers 400 invalid_request for bad input and 409 past the per-user limit', async () => {
    for (const body of [{}, { item: '', quantity: 1 }, { item: 'x', quantity: 0 }, { item: 'x', quantity: 1.5 }, { item: 'x', quantity: 1, owner: 'eve' }]) {
      const res = await call('POST', '/v1/orders', 'dan', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_request' });
    }
    expect((await call('GET', '/v1/orders/not-a-uuid', 'dan')).statusCode).toBe(400);
    const text = await call('POST', '/v1/orders', 'dan', 'nope');
    expect(text.statusCode).toBe(415);
    expect(text.json()).toMatchObject({ error: 'invalid_request' });
    const broken = await app.inject({ method: 'POST', url: '/v1/orders', headers: { authorization: `Bearer ${await token('dan')}`, 'content-type': 'application/json' }, payload: '{"item":' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ error: 'invalid_request' });
    for (let i = 0; i < 3; i++) expect((await call('POST', '/v1/orders', 'dan', { item: `i${i}`, quantity: 1 })).statusCode).toBe(201);
    const over = await call('POST', '/v1/orders', 'dan', { item: 'one more', quantity: 1 });
    expect(over.statusCode).toBe(409);
    expect(over.json()).toMatchObject({ error: 'limit_reached' });
  });

  it('requires a token on every API route, not on health routes; unknown routes are JSON 404s', async () => {
    for (const [method, url] of [['GET', '/v1/orders'], ['POST', '/v1/orders'], ['GET', `/v1/orders/${randomUUID()}`], ['DELETE', `/v1/orders/${randomUUID()}`]] as const) {
      const res = await app.inject({ method, url });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
    }
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('revocable_requests_total');
    expect(metrics.body).toContain('process_cpu_user_seconds_total');
    const missing = await app.inject({ method: 'GET', url: '/v2/nothing' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'not_found', error_description: 'no such route' });
  });
});

describe('profile API (real Kafka, local keys)', () => {
  let app: FastifyInstance;
  let signer: SignerKey;
  const topic = `test.profile.${randomUUID()}`;
  const nowMs = Date.UTC(2026, 5, 1);

  const token = async (sub: string, aud: string = 'profile', scope = 'profile:read profile:write') =>
    (await signAccessToken({ sub, aud, jti: randomUUID(), sid: randomUUID(), ver: 0, client_id: 'revocable-app', scope }, signer, { issuer: PROFILE_ISSUER, accessTtlSeconds: 300, now: () => nowMs })).token;
  const call = async (method: 'GET' | 'PUT', sub: string, payload?: unknown) =>
    app.inject({ method, url: '/v1/profile', headers: { authorization: `Bearer ${await token(sub)}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });

  beforeAll(async () => {
    const key = await generateSigningKey('EdDSA');
    signer = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
    const config = loadProfileConfig({ ...kafkaEnv(), REVOCATION_TOPIC: topic, AUTH_ISSUER: PROFILE_ISSUER, LOG_LEVEL: 'silent' });
    expect(config.port).toBe(3002);
    expect(config.verifier.audience).toBe('profile');
    const admin = await testTransport('profile-test').admin();
    await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }));
    await admin.close();
    app = await buildProfile(config, { getKey: createLocalJWKSet({ keys: [key.publicJwk] }), heartbeatKeys: testHeartbeatKeys, now: () => nowMs });
    await app.ready();
    await app.revocable.whenReady();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('returns an empty profile first, then what the caller stored', async () => {
    expect((await call('GET', 'ann')).json()).toEqual({ sub: 'ann', displayName: '', bio: '', updatedAt: 0 });
    // No heartbeat ever arrived on this topic: writes are fail-closed (no introspection client configured).
    const stale = await call('PUT', 'ann', { displayName: 'Ann' });
    expect(stale.statusCode).toBe(503);
    expect(stale.json()).toMatchObject({ reason: 'stale_revocation_state' });
  });

  it('stores per user once revocation state is fresh', async () => {
    const producer = await testTransport('profile-test').producer();
    const partitions = revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }).partitions;
    await producer.send(
      topic,
      heartbeatRecords(topic, partitions, { at: nowMs, source: 'profile-test' }),
    );
    await producer.close();
    await waitFor(() => app.revocable.freshnessSeconds() <= 1, { what: 'profile revocation state fresh (heartbeats applied)' });

    const put = await call('PUT', 'bob', { displayName: 'Bob', bio: 'likes tea' });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ sub: 'bob', displayName: 'Bob', bio: 'likes tea', updatedAt: nowMs });
    expect((await call('GET', 'bob')).json()).toMatchObject({ displayName: 'Bob' });
    expect((await call('GET', 'cat')).json()).toMatchObject({ displayName: '' });
    for (const body of [{}, { displayName: '' }, { displayName: 'x'.repeat(101) }, { displayName: 'ok', admin: true }]) {
      const res = await call('PUT', 'bob', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_request' });
    }
  });

  it('refuses tokens for another audience', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/profile', headers: { authorization: `Bearer ${await token('ann', 'orders')}` } });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ reason: 'wrong_audience' });
  });
});
