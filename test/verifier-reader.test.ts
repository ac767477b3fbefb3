/**
 * The revocation reader's robustness, seen from a resource service (issue 10, defect 2):
 *  - on a broker of its own, killed with -9 and restarted, the orders service (default client,
 *    @platformatic/kafka) applies a new revocation within seconds, and no consumer group ever
 *    appears on the broker;
 *  - a reader that fails for good (a non-retriable cause) takes the instance out of rotation:
 *    /readyz answers 503 with the reason and the metrics show it, until the watchdog has
 *    recreated the reader.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport, encodeEvent, MemoryTransport, revocationTopicSpec, type EventTransport, type TopicAdmin } from '@revocable/events';
import { buildApp, loadConfig } from '@revocable/orders';
import { generateSigningKey, importPrivateKey, signAccessToken, type SignerKey } from '@revocable/tokens';
import { waitFor } from './support/env.ts';
import { startKafkaBroker, type KafkaBroker } from './support/kafka-broker.ts';

const ISSUER = 'https://auth.reader.test';
const SUB = 'reader-user';

let jwks: FastifyInstance;
let signer: SignerKey;

beforeAll(async () => {
  const key = await generateSigningKey('EdDSA');
  signer = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
  jwks = Fastify();
  jwks.get('/.well-known/jwks.json', async () => ({ keys: [key.publicJwk] }));
  await jwks.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await jwks?.close();
});

function env(extra: Record<string, string>): Record<string, string> {
  return {
    AUTH_URL: `http://127.0.0.1:${(jwks.server.address() as AddressInfo).port}`,
    AUTH_ISSUER: ISSUER,
    LOG_LEVEL: 'silent',
    ...extra,
  };
}

async function token(sid: string): Promise<string> {
  return (await signAccessToken({ sub: SUB, aud: 'orders', jti: randomUUID(), sid, ver: 1, client_id: 'revocable-app', scope: 'orders:read orders:write' }, signer, { issuer: ISSUER, accessTtlSeconds: 600 })).token;
}

function revoked(sid: string): { key: string; value: Buffer } {
  return {
    key: SUB,
    value: encodeEvent({ v: 1, id: randomUUID(), at: Date.now(), type: 'session.revoked', sub: SUB, sid, reason: 'logout', until: Math.floor(Date.now() / 1000) + 900 }),
  };
}

const get = (app: FastifyInstance, url: string, bearer?: string) =>
  app.inject({ method: 'GET', url, ...(bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {}) });

describe('orders service across a broker restart (kill -9)', () => {
  const topic = 'revocable.revocations.reader';
  let broker: KafkaBroker;
  let transport: EventTransport;
  let admin: TopicAdmin;
  let orders: FastifyInstance;

  beforeAll(async () => {
    broker = await startKafkaBroker();
    transport = createTransport({ brokers: broker.brokers, clientId: 'reader-test' });
    admin = await transport.admin();
    await admin.ensureTopic(revocationTopicSpec({ topic, partitions: 3, maxAccessTtlSeconds: 900 }));
    orders = await buildApp(loadConfig(env({ KAFKA_BROKERS: broker.brokers.join(','), REVOCATION_TOPIC: topic })));
    await orders.ready();
    await orders.revocable.whenReady();
  }, 120_000);

  afterAll(async () => {
    await orders?.close();
    await admin?.close();
    await broker?.destroy();
  }, 60_000);

  it('applies a revocation published after the broker came back, within seconds, and never creates a consumer group', async () => {
    const sid = randomUUID();
    const t = await token(sid);
    expect((await get(orders, '/v1/orders', t)).statusCode).toBe(200);

    await broker.kill();
    await broker.start();
    const producer = await waitFor(() => transport.producer().catch(() => false as const), { timeoutMs: 30_000, what: 'a producer on the restarted broker' });
    try {
      await producer.send(topic, [revoked(sid)]);
    } finally {
      await producer.close();
    }
    const sent = Date.now();
    // A few seconds at most; the generous deadline only guards against a loaded machine.
    await waitFor(async () => (await get(orders, '/v1/orders', t)).statusCode === 401, { timeoutMs: 15_000, what: 'the revocation to apply after the restart' });
    const appliedAfterMs = Date.now() - sent;
    expect((await get(orders, '/v1/orders', t)).json()).toMatchObject({ reason: 'revoked' });
    expect(appliedAfterMs).toBeLessThan(15_000);
    expect(orders.revocable.consumer.status()).toMatchObject({ state: 'running' });
    // The reader joined no group, before or after the restart.
    expect(await admin.listGroups()).toEqual([]);
  }, 120_000);
});

describe('a reader that failed for good', () => {
  const topic = 'unit.reader.failed';
  const memory = new MemoryTransport();
  let orders: FastifyInstance;

  beforeAll(async () => {
    const admin = await memory.admin();
    await admin.ensureTopic(revocationTopicSpec({ topic, partitions: 3, maxAccessTtlSeconds: 900 }));
    orders = await buildApp(loadConfig(env({ REVOCATION_TOPIC: topic })), { transport: memory });
    await orders.ready();
    await orders.revocable.whenReady();
  });

  afterAll(async () => {
    await orders?.close();
  });

  it('answers /readyz 503 with the reason and shows it in the metrics, then recovers when the watchdog recreated it', async () => {
    expect((await get(orders, '/readyz')).statusCode).toBe(200);
    // The broker refuses new readers for a while, so the failure is observable.
    memory.setAvailable(false);
    memory.failReaders();
    const down = await get(orders, '/readyz');
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ status: 'reader_down', reader: { state: 'failed' } });
    expect(down.json().reader.reason).toMatch(/^ERR_KAFKA_AUTH: /);
    expect((await get(orders, '/metrics')).body).toMatch(/revocable_reader_up\{state="failed"\} 0/);

    memory.setAvailable(true);
    await waitFor(async () => (await get(orders, '/readyz')).statusCode === 200, { timeoutMs: 15_000, what: 'the watchdog to recreate the reader' });
    const up = (await get(orders, '/readyz')).json();
    expect(up).toMatchObject({ status: 'ready', reader: { state: 'running', reason: null } });
    expect(up.reader.restarts).toBeGreaterThanOrEqual(1);
    const metrics = (await get(orders, '/metrics')).body;
    expect(metrics).toMatch(/revocable_reader_up\{state="running"\} 1/);
    expect(metrics).toMatch(/revocable_reader_restarts_total [1-9]/);

    // And it reads again: a revocation published now applies.
    const sid = randomUUID();
    const t = await token(sid);
    const producer = await memory.producer();
    await producer.send(topic, [revoked(sid)]);
    await waitFor(async () => (await get(orders, '/v1/orders', t)).statusCode === 401, { timeoutMs: 10_000, what: 'the revocation after recovery' });
  }, 60_000);
});
