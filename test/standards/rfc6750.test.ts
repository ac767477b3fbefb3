/**
 * RFC 6750 (Bearer tokens) conformance: the challenges of the sample services (orders,
 * profile: real buildApp on the @revocable/fastify plugin, in-memory event transport, local
 * keys) and of the auth service's own account API. Scopes per route answer 403
 * insufficient_scope with the `scope` attribute (§3.1); a request without bearer
 * credentials (none, or another scheme such as Basic) gets the bare challenge, no error
 * code (§3.1); two credentials in one request are 400 invalid_request (§2, §3.1).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTransport, encodeEvent, revocationTopicSpec } from '@revocable/events';
import { buildApp as buildOrders, loadConfig as loadOrdersConfig } from '@revocable/orders';
import { buildApp as buildProfile, loadConfig as loadProfileConfig } from '@revocable/profile';
import { generateSigningKey, importPrivateKey, signAccessToken, type SignerKey } from '@revocable/tokens';
import { useAuthApp } from '../support/auth-app.ts';
import { waitFor } from '../support/env.ts';
import { heartbeatRecords, testHeartbeatKeys } from '../support/heartbeats.ts';

const ISSUER = 'https://auth.rfc6750.test';
const TOPIC = 'rfc6750.revocations';

describe('RFC 6750 at the sample services (scopes per route)', () => {
  let signer: SignerKey;
  let orders: FastifyInstance;
  let profile: FastifyInstance;
  const transport = new MemoryTransport();

  const token = async (aud: string, scope?: string) =>
    (
      await signAccessToken(
        { sub: `u-${randomUUID()}`, aud, jti: randomUUID(), sid: randomUUID(), ver: 1, client_id: 'revocable-app', ...(scope !== undefined ? { scope } : {}) },
        signer,
        { issuer: ISSUER, accessTtlSeconds: 300 },
      )
    ).token;
  const call = (app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, headers: Record<string, string>, payload?: object) =>
    app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}) });

  beforeAll(async () => {
    const key = await generateSigningKey('EdDSA');
    signer = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
    const spec = revocationTopicSpec({ topic: TOPIC, maxAccessTtlSeconds: 900 });
    const admin = await transport.admin();
    await admin.ensureTopic(spec);
    await admin.close();
    const env = { KAFKA_BROKERS: '127.0.0.1:9', REVOCATION_TOPIC: TOPIC, AUTH_ISSUER: ISSUER, LOG_LEVEL: 'silent' };
    const getKey = createLocalJWKSet({ keys: [key.publicJwk] });
    orders = await buildOrders(loadOrdersConfig(env), { transport, getKey, heartbeatKeys: testHeartbeatKeys });
    profile = await buildProfile(loadProfileConfig(env), { transport, getKey, heartbeatKeys: testHeartbeatKeys });
    await orders.ready();
    await profile.ready();
    // Fresh revocation state, so fail-closed writes are decided on scopes alone.
    const producer = await transport.producer();
    await producer.send(
      TOPIC,
      heartbeatRecords(TOPIC, spec.partitions, { source: 'rfc6750' }),
    );
    await producer.close();
    await waitFor(() => orders.revocable.isReady() && profile.revocable.isReady() && orders.revocable.freshnessSeconds() < 5 && profile.revocable.freshnessSeconds() < 5, {
      what: 'orders and profile ready with fresh revocation state',
    });
  });

  afterAll(async () => {
    await orders?.close();
    await profile?.close();
  });

  it('orders: GET needs orders:read, POST and DELETE need orders:write; 403 insufficient_scope names the scope', async () => {
    const readOnly = { authorization: `Bearer ${await token('orders', 'orders:read')}` };
    expect((await call(orders, 'GET', '/v1/orders', readOnly)).statusCode).toBe(200);
    for (const [method, url] of [['POST', '/v1/orders'], ['DELETE', `/v1/orders/${randomUUID()}`]] as const) {
      const res = await call(orders, method, url, readOnly, method === 'POST' ? { item: 'tea', quantity: 1 } : undefined);
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="orders:write"');
      expect(res.json()).toMatchObject({ error: 'insufficient_scope' });
    }
    const writeOnly = { authorization: `Bearer ${await token('orders', 'orders:write')}` };
    expect((await call(orders, 'POST', '/v1/orders', writeOnly, { item: 'tea', quantity: 1 })).statusCode).toBe(201);
    const read = await call(orders, 'GET', `/v1/orders/${randomUUID()}`, writeOnly);
    expect(read.statusCode).toBe(403);
    expect(read.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="orders:read"');
    const none = await call(orders, 'GET', '/v1/orders', { authorization: `Bearer ${await token('orders')}` });
    expect(none.statusCode, 'a token without any scope').toBe(403);
  });

  it('profile: GET needs profile:read, PUT needs profile:write', async () => {
    const readOnly = { authorization: `Bearer ${await token('profile', 'profile:read')}` };
    expect((await call(profile, 'GET', '/v1/profile', readOnly)).statusCode).toBe(200);
    const put = await call(profile, 'PUT', '/v1/profile', readOnly, { displayName: 'Ann' });
    expect(put.statusCode).toBe(403);
    expect(put.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="profile:write"');
    const both = { authorization: `Bearer ${await token('profile', 'profile:read profile:write')}` };
    expect((await call(profile, 'PUT', '/v1/profile', both, { displayName: 'Ann' })).statusCode).toBe(200);
    // Scopes of another service do not count.
    const foreign = await call(profile, 'GET', '/v1/profile', { authorization: `Bearer ${await token('profile', 'orders:read orders:write')}` });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="profile:read"');
  });

  it('no credentials, or a Basic header, get the bare challenge without an error code', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Negotiate abc' }] as Array<Record<string, string>>) {
      const res = await call(orders, 'GET', '/v1/orders', headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.headers['www-authenticate'], JSON.stringify(headers)).toBe('Bearer');
    }
    const broken = await call(orders, 'GET', '/v1/orders', { authorization: 'Bearer not a token' });
    expect(broken.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
  });

  it('two credentials in one request are 400 invalid_request, before any verification', async () => {
    const good = await token('orders', 'orders:read');
    const query = await call(orders, 'GET', `/v1/orders?access_token=${good}`, { authorization: `Bearer ${good}` });
    expect(query.statusCode).toBe(400);
    expect(query.headers['www-authenticate']).toBe('Bearer error="invalid_request"');
    expect(query.json()).toMatchObject({ error: 'invalid_request' });
    const twoHeaders = await orders.inject({ method: 'GET', url: '/v1/orders', headers: { authorization: [`Bearer ${good}`, `Bearer ${good}`] } as unknown as Record<string, string> });
    expect(twoHeaders.statusCode).toBe(400);
  });
});

describe('RFC 6750 at the auth service\'s account API', () => {
  const auth = useAuthApp();

  it('no credentials or another scheme: 401 with the bare challenge; a broken bearer: invalid_token', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }]) {
      const res = await auth.app.inject({ method: 'GET', url: '/v1/sessions', headers });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    const broken = await auth.app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: 'Bearer a b' } });
    expect(broken.statusCode).toBe(401);
    expect(broken.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('a header and an access_token query parameter together are 400 invalid_request', async () => {
    const { access_token } = await auth.login();
    const res = await auth.app.inject({ method: 'GET', url: `/v1/sessions?access_token=${access_token}`, headers: { authorization: `Bearer ${access_token}` } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
    expect((await auth.app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${access_token}` } })).statusCode).toBe(200);
  });
});
