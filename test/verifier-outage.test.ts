/**
 * Broker loss, seen from a resource service: with its own Kafka broker stopped, the orders
 * service's revocation freshness grows; its fail-closed routes answer 503 while fail-open
 * routes keep serving. When the broker comes back the consumer reconnects by itself (same
 * process), freshness recovers and new revocations apply.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { waitFor } from './support/env.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport, encodeEvent, revocationTopicSpec, type EventProducer, type EventTransport } from '@revocable/events';
import { buildApp, loadConfig } from '@revocable/orders';
import { generateSigningKey, importPrivateKey, signAccessToken, type SignerKey } from '@revocable/tokens';
import { heartbeatRecords, testHeartbeatKeys } from './support/heartbeats.ts';
import { startKafkaBroker, type KafkaBroker } from './support/kafka-broker.ts';

const ISSUER = 'https://auth.outage.test';
const TOPIC = 'revocable.revocations.outage';
const PARTITIONS = 3;

describe('orders service during a Kafka outage', () => {
  let broker: KafkaBroker;
  let transport: EventTransport;
  let producer: EventProducer | null = null;
  let heartbeatsOn = true;
  let heartbeatLoop: Promise<void> = Promise.resolve();
  let jwks: FastifyInstance;
  let orders: FastifyInstance;
  let signer: SignerKey;

  const token = async (sid: string = randomUUID()) =>
    (await signAccessToken({ sub: 'outage-user', aud: 'orders', jti: randomUUID(), sid, ver: 1, client_id: 'revocable-app', scope: 'orders:read orders:write' }, signer, { issuer: ISSUER, accessTtlSeconds: 600 })).token;
  const call = (method: 'GET' | 'POST', url: string, bearer: string) =>
    orders.inject({ method, url, headers: { authorization: `Bearer ${bearer}` }, ...(method === 'POST' ? { payload: { item: 'tea', quantity: 1 } } : {}) });

  // Stands in for the auth service's relay: one heartbeat per partition every 200 ms while the
  // broker is up; failures during the outage are expected and ignored.
  async function runHeartbeats(): Promise<void> {
    while (heartbeatsOn) {
      try {
        producer ??= await transport.producer();
        await producer.send(TOPIC, heartbeatRecords(TOPIC, PARTITIONS, { source: 'outage-test' }));
      } catch {
        await producer?.close().catch(() => undefined);
        producer = null;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  beforeAll(async () => {
    broker = await startKafkaBroker();
    const key = await generateSigningKey('EdDSA');
    signer = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
    jwks = Fastify();
    jwks.get('/.well-known/jwks.json', async () => ({ keys: [key.publicJwk, ...testHeartbeatKeys] }));
    await jwks.listen({ port: 0, host: '127.0.0.1' });

    transport = createTransport({ brokers: broker.brokers, clientId: 'outage-test' });
    const admin = await transport.admin();
    await admin.ensureTopic({ ...revocationTopicSpec({ topic: TOPIC, maxAccessTtlSeconds: 900 }), partitions: PARTITIONS });
    await admin.close();
    heartbeatLoop = runHeartbeats();

    orders = await buildApp(
      loadConfig({
        KAFKA_BROKERS: broker.brokers.join(','),
        REVOCATION_TOPIC: TOPIC,
        AUTH_URL: `http://127.0.0.1:${(jwks.server.address() as AddressInfo).port}`,
        AUTH_ISSUER: ISSUER,
        FRESHNESS_MAX_SECONDS: '3',
        LOG_LEVEL: 'silent',
      }),
    );
    await orders.ready();
    await orders.revocable.whenReady();
    await waitFor(() => orders.revocable.freshnessSeconds() < 3, { timeoutMs: 30_000 });
  }, 120_000);

  afterAll(async () => {
    heartbeatsOn = false;
    await heartbeatLoop;
    await producer?.close().catch(() => undefined);
    await orders?.close();
    await jwks?.close();
    await broker?.destroy();
  }, 60_000);

  it('serves both kinds of routes while fresh', async () => {
    const t = await token();
    // Polled: on a loaded machine one heartbeat may be late.
    await waitFor(async () => (await call('POST', '/v1/orders', t)).statusCode === 201, { timeoutMs: 30_000 });
    expect((await call('GET', '/v1/orders', t)).statusCode).toBe(200);
  });

  it('with the broker stopped, freshness grows: fail-closed answers 503, fail-open serves', async () => {
    const t = await token();
    await broker.stop();
    await waitFor(async () => (await call('POST', '/v1/orders', t)).statusCode === 503, { timeoutMs: 30_000 });
    expect(orders.revocable.freshnessSeconds()).toBeGreaterThan(3);
    const closed = await call('POST', '/v1/orders', t);
    expect(closed.statusCode).toBe(503);
    expect(closed.json()).toMatchObject({ error: 'temporarily_unavailable', reason: 'stale_revocation_state' });
    expect(closed.headers['retry-after']).toBe('1');
    const open = await call('GET', '/v1/orders', t);
    expect(open.statusCode).toBe(200);
    const metrics = (await orders.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/revocable_requests_total\{outcome="allowed_stale",reason="ok"\} [1-9]/);
    expect(metrics).toMatch(/revocable_requests_total\{outcome="unavailable",reason="stale_revocation_state"\} [1-9]/);
    const freshness = Number(/\nrevocable_freshness_seconds ([\d.]+)/.exec(metrics)?.[1]);
    expect(freshness).toBeGreaterThan(3);
    // Readiness is about having replayed, not about freshness: the instance stays in rotation.
    expect((await orders.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  }, 60_000);

  it('reconnects by itself when the broker returns: freshness recovers and revocations apply', async () => {
    await broker.start();
    const sid = randomUUID();
    const t = await token(sid);
    await waitFor(async () => (await call('POST', '/v1/orders', t)).statusCode === 201, { timeoutMs: 60_000 });
    expect(orders.revocable.freshnessSeconds()).toBeLessThan(3);
    const revoker = await transport.producer();
    await revoker.send(TOPIC, [
      {
        key: 'outage-user',
        value: encodeEvent({ v: 1, id: randomUUID(), at: Date.now(), type: 'session.revoked', sub: 'outage-user', sid, reason: 'logout', until: Math.floor(Date.now() / 1000) + 900 }),
      },
    ]);
    await revoker.close();
    await waitFor(async () => (await call('GET', '/v1/orders', t)).statusCode === 401, { timeoutMs: 30_000 });
    expect((await call('GET', '/v1/orders', t)).json()).toMatchObject({ reason: 'revoked' });
  }, 90_000);
});
