import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet } from 'jose';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTransport, encodeEvent, generateEventSigningKey, importEventSigner, revocationTopicSpec, signHeartbeat, type EventProducer, type EventTransport, type RevocableEvent } from '@revocable/events';
import { generateSigningKey, importPrivateKey, signAccessToken, type SignerKey } from '@revocable/tokens';
import { revocable } from './plugin.ts';

const ISSUER = 'https://auth.test';
const PARTITIONS = 2;
const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:29092').split(',');
// The suite's broker is secured (SASL/SCRAM-SHA-512): the test writes as its admin user.
const suiteAdmin = (JSON.parse(process.env['REVOCABLE_TEST_KAFKA_CREDENTIALS'] || 'null') as { users: { admin: { username: string; password: string } } } | null)?.users.admin;
const sasl = suiteAdmin ? { sasl: { mechanism: 'SCRAM-SHA-512' as const, username: suiteAdmin.username, password: suiteAdmin.password } } : {};

async function waitFor<T>(fn: () => T | Promise<T>, { timeoutMs = 15_000, intervalMs = 25 } = {}): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== false && value !== undefined && value !== null) return value as Exclude<T, false | null | undefined>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`waitFor timed out${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const newSigner = async () => {
  const key = await generateSigningKey('EdDSA');
  return { key, signer: { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) } satisfies SignerKey };
};
const sign = (signer: SignerKey, now: () => number, input: { sub?: string; sid?: string; aud?: string; scope?: string } = {}) =>
  signAccessToken(
    {
      sub: input.sub ?? 'user-1',
      aud: input.aud ?? 'orders',
      jti: randomUUID(),
      sid: input.sid ?? randomUUID(),
      ver: 1,
      ...(input.scope !== undefined ? { scope: input.scope } : {}),
    },
    signer,
    { issuer: ISSUER, accessTtlSeconds: 900, now },
  ).then((issued) => issued.token);

describe('revocable plugin before it caught up (real Kafka)', () => {
  // Its own topic, created inside the test: the instance starts before the topic exists.
  const topic = `test.plugin.early.${randomUUID()}`;
  let transport: EventTransport;
  let app: FastifyInstance;
  let signer: SignerKey;
  const now = () => Date.now();
  const token = (input?: { sub?: string }) => sign(signer, now, input);
  const get = (url: string, bearer?: string) =>
    app.inject({ method: 'GET', url, headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` } });

  beforeAll(async () => {
    const { key, signer: s } = await newSigner();
    signer = s;
    transport = createTransport({ brokers, clientId: 'plugin-test-early', ...sasl });
    app = Fastify();
    await app.register(revocable, { issuer: ISSUER, audience: 'orders', getKey: createLocalJWKSet({ keys: [key.publicJwk] }), transport, topic, now });
    app.get('/public', { config: { auth: { public: true } } }, async () => ({ ok: true }));
    app.get('/me', async (request) => ({ sub: request.auth?.claims.sub }));
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('answers 503 on /readyz and protected routes until it caught up, then serves', async () => {
    // The topic does not exist yet: the consumer keeps retrying and the instance is not ready.
    const notReady = await get('/readyz');
    expect(notReady.statusCode).toBe(503);
    const early = await get('/me', await token());
    expect(early.statusCode).toBe(503);
    expect(early.json()).toMatchObject({ error: 'temporarily_unavailable', reason: 'not_ready' });
    expect((await get('/public')).statusCode).toBe(200);
    expect((await get('/healthz')).statusCode).toBe(200);

    const admin = await transport.admin();
    await admin.ensureTopic({ ...revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }), partitions: 1 });
    await admin.close();
    await waitFor(async () => (await get('/readyz')).statusCode === 200);
    const me = await get('/me', await token({ sub: 'alice' }));
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({ sub: 'alice' });
  });

});

// Stands in for the auth service's event-signing key: heartbeats count only when it signed them.
const eventKey = generateEventSigningKey();
const eventSigner = importEventSigner(eventKey.privateJwk, eventKey.kid);

describe('revocable plugin (real Kafka)', () => {
  const topic = `test.plugin.${randomUUID()}`;
  let transport: EventTransport;
  let producer: EventProducer;
  let app: FastifyInstance;
  let introspection: FastifyInstance;
  let introspectionActive = true;
  let introspectionBroken = false;
  let introspectionCalls = 0;
  let signer: SignerKey;
  let nowMs = Date.now();
  const now = () => nowMs;

  const publish = (event: RevocableEvent, partition?: number) =>
    producer.send(topic, [{ key: null, value: encodeEvent(event), ...(partition !== undefined ? { partition } : {}) }]);
  const heartbeats = async () => {
    for (let p = 0; p < PARTITIONS; p++) await publish(signHeartbeat({ id: randomUUID(), at: nowMs, source: 'test' }, { topic, partition: p }, eventSigner), p);
  };
  const token = (input: { sub?: string; sid?: string; aud?: string; scope?: string } = {}) => sign(signer, now, input);
  /** Revokes a fresh session of `sub` on the topic and waits until the plugin refuses its token. */
  const revokeSession = async (sub: string) => {
    const sid = randomUUID();
    const t = await token({ sub, sid });
    expect((await get('/me', t)).statusCode).toBe(200);
    expect((await get('/me', t)).statusCode).toBe(200);
    await publish({ v: 1, id: randomUUID(), at: nowMs, type: 'session.revoked', sub, sid, reason: 'logout', until: Math.floor(nowMs / 1000) + 900 });
    return waitFor(async () => {
      const r = await get('/me', t);
      return r.statusCode === 401 ? r : false;
    });
  };
  /** Heartbeats on every partition at the current clock, then waits until the state is fresh. */
  const freshen = async () => {
    await heartbeats();
    await waitFor(() => app.revocable.freshnessSeconds() < 10);
  };
  /** Fresh heartbeats, then the clock moves 30 s on: the state is older than every 10 s bound. */
  const goStale = async () => {
    await freshen();
    nowMs += 30_000;
    expect(app.revocable.freshnessSeconds()).toBeGreaterThan(10);
  };
  const get = (url: string, bearer?: string) =>
    app.inject({ method: 'GET', url, headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` } });

  beforeAll(async () => {
    const { key, signer: s } = await newSigner();
    signer = s;

    introspection = Fastify();
    introspection.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    introspection.post('/oauth/introspect', async (request, reply) => {
      introspectionCalls++;
      if (introspectionBroken) return reply.code(500).send({ error: 'server_error' });
      const form = request.body as Record<string, string>;
      if (typeof form['token'] !== 'string' || form['token_type_hint'] !== 'access_token') return reply.code(400).send({ error: 'invalid_request' });
      if (request.headers.authorization !== `Basic ${Buffer.from('orders:orders-secret-0123456789abcdef0123').toString('base64')}`) {
        return reply.code(401).send({ error: 'invalid_client' });
      }
      return { active: introspectionActive };
    });
    await introspection.listen({ port: 0, host: '127.0.0.1' });
    const address = introspection.server.address() as AddressInfo;

    transport = createTransport({ brokers, clientId: 'plugin-test', ...sasl });
    const admin = await transport.admin();
    await admin.ensureTopic({ ...revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }), partitions: PARTITIONS });
    await admin.close();
    producer = await transport.producer();
    app = Fastify();
    await app.register(revocable, {
      issuer: ISSUER,
      audience: 'orders',
      getKey: createLocalJWKSet({ keys: [key.publicJwk] }),
      heartbeatKeys: [eventKey.publicJwk],
      transport,
      topic,
      now,
      introspection: { url: `http://127.0.0.1:${address.port}/oauth/introspect`, clientId: 'orders', clientSecret: 'orders-secret-0123456789abcdef0123' },
    });
    app.get('/public', { config: { auth: { public: true } } }, async () => ({ ok: true }));
    app.get('/me', async (request) => ({ sub: request.auth?.claims.sub }));
    app.get('/admin', { config: { auth: { scopes: ['orders:admin'] } } }, async () => ({ ok: true }));
    app.get('/closed', { config: { auth: { freshness: { maxSeconds: 10, policy: 'fail-closed' } } } }, async () => ({ ok: true }));
    app.get('/open', { config: { auth: { freshness: { maxSeconds: 10, policy: 'fail-open' } } } }, async () => ({ ok: true }));
    app.get('/introspected', { config: { auth: { freshness: { maxSeconds: 10, policy: 'introspect' } } } }, async () => ({ ok: true }));
    await app.ready();
    // Every test below starts from a caught-up instance, whichever of them runs.
    await waitFor(async () => (await get('/readyz')).statusCode === 200);
  });

  beforeEach(() => {
    introspectionActive = true;
    introspectionBroken = false;
    introspectionCalls = 0;
  });

  afterAll(async () => {
    await app?.close();
    await producer?.close();
    await introspection?.close();
  });

  it('answers 401 with WWW-Authenticate and a stable reason, 404 for unknown routes without a token', async () => {
    const missing = await get('/me');
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect(missing.json()).toMatchObject({ error: 'invalid_token', reason: 'missing_token' });

    // RFC 6750 §3.1: another scheme is no bearer credential: the bare challenge, no error code.
    const basic = await app.inject({ method: 'GET', url: '/me', headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.statusCode).toBe(401);
    expect(basic.headers['www-authenticate']).toBe('Bearer');
    expect(basic.json()).toMatchObject({ reason: 'missing_token' });

    const wrongAud = await get('/me', await token({ aud: 'profile' }));
    expect(wrongAud.statusCode).toBe(401);
    expect(wrongAud.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="wrong_audience"');
    expect(wrongAud.json()).toEqual({
      error: 'invalid_token',
      error_description: 'the token is not meant for this service',
      reason: 'wrong_audience',
    });

    expect((await get('/nowhere')).statusCode).toBe(404);
  });

  it('answers 403 insufficient_scope when a required scope is missing', async () => {
    const without = await get('/admin', await token({ scope: 'orders:read' }));
    expect(without.statusCode).toBe(403);
    expect(without.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="orders:admin"');
    expect(without.json()).toMatchObject({ error: 'insufficient_scope' });
    expect((await get('/admin', await token({ scope: 'orders:read orders:admin' }))).statusCode).toBe(200);
  });

  it('rejects a cached token once its session is revoked on the topic', async () => {
    const denied = await revokeSession('bob');
    expect(denied.json()).toMatchObject({ reason: 'revoked' });
    expect(denied.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="revoked"');
    // A different session of the same user is unaffected.
    expect((await get('/me', await token({ sub: 'bob' }))).statusCode).toBe(200);
  });

  it('applies freshness policies: fail-closed 503, fail-open serves, introspect asks the auth service', async () => {
    await freshen();
    const t = await token();
    expect((await get('/closed', t)).statusCode).toBe(200);
    expect(introspectionCalls).toBe(0);
    expect((await get('/introspected', t)).statusCode).toBe(200);
    expect(introspectionCalls).toBe(0);

    await goStale();
    const closed = await get('/closed', t);
    expect(closed.statusCode).toBe(503);
    expect(closed.json()).toMatchObject({ error: 'temporarily_unavailable', reason: 'stale_revocation_state' });
    expect((await get('/open', t)).statusCode).toBe(200);
    // Routes without a freshness bound are unaffected.
    expect((await get('/me', t)).statusCode).toBe(200);

    introspectionActive = true;
    expect((await get('/introspected', t)).statusCode).toBe(200);
    expect(introspectionCalls).toBe(1);
    introspectionActive = false;
    const inactive = await get('/introspected', t);
    expect(inactive.statusCode).toBe(401);
    expect(inactive.json()).toMatchObject({ reason: 'revoked' });
    expect(introspectionCalls).toBe(2);
    introspectionBroken = true;
    const failed = await get('/introspected', t);
    expect(failed.statusCode).toBe(503);
    expect(failed.json()).toMatchObject({ error: 'temporarily_unavailable', reason: 'introspection_failed' });

    // Fresh heartbeats bring the fail-closed route back.
    await freshen();
    expect((await get('/closed', t)).statusCode).toBe(200);
  });

  it('skips poison records and keeps applying later events', async () => {
    await producer.send(topic, [
      { key: null, value: Buffer.from([0xff, 0xfe, 0x00, 0x01]) },
      { key: null, value: Buffer.from(JSON.stringify({ v: 1, id: 'x', at: 1, type: 'session.revoked' })) },
      { key: null, value: Buffer.from(JSON.stringify({ v: 99, id: 'x' })) },
      { key: null, value: Buffer.from(JSON.stringify({ v: 1, id: 'x', at: 1, type: 'galaxy.revoked' })) },
      { key: null, value: Buffer.alloc(64 * 1024, 0x41) },
    ]);
    const sid = randomUUID();
    const t = await token({ sub: 'carol', sid });
    expect((await get('/me', t)).statusCode).toBe(200);
    await publish({ v: 1, id: randomUUID(), at: nowMs, type: 'session.revoked', sub: 'carol', sid, reason: 'logout', until: Math.floor(nowMs / 1000) + 900 });
    await waitFor(async () => (await get('/me', t)).statusCode === 401);
    // One poison record of each kind above, each skipped and counted under its code.
    const skipped = app.revocable.consumer.stats().skipped;
    for (const code of ['ERR_EVENT_NOT_JSON', 'ERR_EVENT_INVALID', 'ERR_EVENT_UNSUPPORTED_VERSION', 'ERR_EVENT_UNKNOWN_TYPE', 'ERR_EVENT_TOO_LARGE'] as const) {
      expect(skipped[code], code).toBeGreaterThanOrEqual(1);
    }
  });

  it('answers 503 keys_unavailable (not 401) when the JWKS cannot be fetched', async () => {
    const other = Fastify();
    await other.register(revocable, { issuer: ISSUER, audience: 'orders', jwksUrl: 'http://127.0.0.1:9/.well-known/jwks.json', transport, topic, now });
    other.get('/me', async () => ({ ok: true }));
    await other.ready();
    try {
      await other.revocable.whenReady();
      const res = await other.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${await token()}` } });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: 'temporarily_unavailable', reason: 'keys_unavailable' });
    } finally {
      await other.close();
    }
  });

  it('refuses misconfigured routes at startup', async () => {
    const other = Fastify();
    await other.register(revocable, { issuer: ISSUER, audience: 'orders', getKey: createLocalJWKSet({ keys: [] }), transport, topic });
    expect(() => other.get('/x', { config: { auth: { freshness: { maxSeconds: 5, policy: 'introspect' } } } }, async () => ({}))).toThrow(/introspection option/);
    expect(() => other.get('/y', { config: { auth: { freshness: { maxSeconds: 0, policy: 'fail-open' } } } }, async () => ({}))).toThrow(/maxSeconds/);
    expect(() => other.get('/z', { config: { auth: { scopes: ['a b'] } } }, async () => ({}))).toThrow(/scope tokens/);
    await other.close();
  });

  it('exposes metrics on a per-app registry', async () => {
    // This test's own traffic: one of each outcome it then finds counted.
    expect((await get('/me', await token({ aud: 'profile' }))).statusCode).toBe(401);
    await revokeSession('dave');
    await producer.send(topic, [{ key: null, value: Buffer.from([0xff, 0xfe, 0x00, 0x01]) }]);
    await waitFor(() => app.revocable.consumer.stats().skipped.ERR_EVENT_NOT_JSON >= 1);
    await goStale();
    const t = await token();
    expect((await get('/closed', t)).statusCode).toBe(503);
    expect((await get('/open', t)).statusCode).toBe(200);
    introspectionActive = false;
    expect((await get('/introspected', t)).statusCode).toBe(401);
    await freshen();

    const res = await get('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const body = res.body;
    expect(body).toMatch(/revocable_requests_total\{outcome="unauthorized",reason="wrong_audience"\} [1-9]/);
    expect(body).toMatch(/revocable_requests_total\{outcome="unauthorized",reason="revoked_session"\} [1-9]/);
    expect(body).toMatch(/revocable_requests_total\{outcome="unavailable",reason="stale_revocation_state"\} [1-9]/);
    expect(body).toMatch(/revocable_requests_total\{outcome="allowed_stale",reason="ok"\} [1-9]/);
    expect(body).toMatch(/revocable_denylist_entries\{kind="session"\} [1-9]/);
    expect(body).toMatch(/revocable_events_skipped_total\{code="ERR_EVENT_NOT_JSON"\} [1-9]/);
    expect(body).toMatch(/revocable_verify_cache_hit_ratio 0\.\d+/);
    expect(body).toMatch(/revocable_consumer_lag\{partition="0"\} 0/);
    expect(body).toMatch(/revocable_event_apply_latency_seconds_count\{phase="live",type="session.revoked"\} [1-9]/);
    expect(body).toMatch(/revocable_introspections_total\{result="inactive"\} [1-9]/);
    expect(body).toContain('revocable_freshness_seconds');
  });
});
