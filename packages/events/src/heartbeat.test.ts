import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RevocationConsumer } from './consumer.ts';
import { EventKeyRing, generateEventSigningKey, importEventSigner, isEventSigningJwk, signHeartbeat, type EventSigner } from './heartbeat.ts';
import { MemoryTransport } from './memory.ts';
import { encodeEvent, type HeartbeatEvent } from './schema.ts';
import { revocationTopicSpec } from './topic.ts';
import type { EventProducer } from './transport.ts';

const TOPIC = 'unit.heartbeats';
const PARTITIONS = 2;
const T0 = Date.UTC(2026, 11, 2, 10, 0, 0);

const issuerKey = generateEventSigningKey();
const issuer = importEventSigner(issuerKey.privateJwk, issuerKey.kid);
const forgerKey = generateEventSigningKey();
const forger = importEventSigner(forgerKey.privateJwk, forgerKey.kid);

async function until(probe: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let consumers: RevocationConsumer[] = [];
afterEach(async () => {
  await Promise.all(consumers.map((c) => c.stop()));
  consumers = [];
});

/** A consumer on a memory topic whose wall and monotonic clocks are `clock` (no sleeps). */
async function setUp(ring: EventKeyRing = new EventKeyRing({ keys: [issuerKey.publicJwk] })) {
  const clock = { wall: T0, mono: 1_000 };
  const transport = new MemoryTransport();
  const admin = await transport.admin();
  await admin.ensureTopic(revocationTopicSpec({ topic: TOPIC, partitions: PARTITIONS, maxAccessTtlSeconds: 900 }));
  const producer = await transport.producer();
  const consumer = new RevocationConsumer({
    transport,
    topic: TOPIC,
    onEvent: () => undefined,
    now: () => clock.wall,
    monotonicNow: () => clock.mono,
    heartbeatVerifier: ring,
    heartbeatMaxSkewMs: 60_000,
    watchdogIntervalMs: 0,
  });
  consumers.push(consumer);
  await consumer.start();
  await consumer.whenCaughtUp();
  const seen = () => {
    const s = consumer.stats();
    return s.heartbeats + Object.values(s.skipped).reduce((a, b) => a + b, 0);
  };
  /** Sends records and waits until the consumer has looked at all of them. */
  const send = async (records: Array<{ partition: number; value: Buffer }>) => {
    const before = seen();
    await producer.send(TOPIC, records.map((r) => ({ key: null, ...r })));
    await until(() => seen() >= before + records.length, 'the consumer to read the records');
  };
  return { clock, consumer, producer, send };
}

function beat(partition: number, at: number, signer: EventSigner | null = issuer, source = 'relay-1'): { partition: number; value: Buffer } {
  const input = { id: randomUUID(), at, source };
  const event: HeartbeatEvent = signer === null ? { v: 1, type: 'heartbeat', ...input } : signHeartbeat(input, { topic: TOPIC, partition }, signer);
  return { partition, value: encodeEvent(event) };
}

const everyPartition = (at: number, signer: EventSigner | null = issuer) => Array.from({ length: PARTITIONS }, (_, p) => beat(p, at, signer));

describe('signed heartbeats and freshness on the verifier clock', () => {
  it('counts signed heartbeats and measures freshness from their receipt on the monotonic clock', async () => {
    const { clock, consumer, send } = await setUp();
    expect(consumer.freshnessSeconds()).toBe(Number.POSITIVE_INFINITY);
    await send([beat(0, clock.wall)]);
    // One partition heard from is not enough.
    expect(consumer.freshnessSeconds()).toBe(Number.POSITIVE_INFINITY);
    await send([beat(1, clock.wall)]);
    expect(consumer.freshnessSeconds()).toBe(0);
    clock.mono += 7_000;
    // The wall clock does not matter for the age: only the monotonic one.
    clock.wall -= 3_600_000;
    expect(consumer.freshnessSeconds()).toBe(7);
    expect(consumer.stats().heartbeats).toBe(2);
  });

  it('forged, unsigned, replayed, copied, future- and past-dated heartbeats leave freshness unchanged, each counted', async () => {
    const { clock, consumer, send } = await setUp();
    await send(everyPartition(clock.wall));
    clock.wall += 5_000;
    clock.mono += 5_000;
    expect(consumer.freshnessSeconds()).toBe(5);

    // Wrong key (its own kid, not in the JWKS), and the issuer's kid with the forger's signature.
    await send(everyPartition(clock.wall, forger));
    const stolenKid: EventSigner = { kid: issuer.kid, privateKey: forger.privateKey };
    await send(everyPartition(clock.wall, stolenKid));
    // Unsigned.
    await send(everyPartition(clock.wall, null));
    // Future- and past-dated by an hour, validly signed (a relay with a broken clock, or a replay of old ones).
    await send(everyPartition(clock.wall + 3_600_000));
    await send(everyPartition(clock.wall - 3_600_000));
    // Replayed: a genuine heartbeat written again (not newer than the newest seen).
    const genuine = beat(0, clock.wall - 5_000);
    await send([genuine, genuine]);
    // Copied to another partition: the signature binds the partition.
    const copied = signHeartbeat({ id: randomUUID(), at: clock.wall, source: 'relay-1' }, { topic: TOPIC, partition: 0 }, issuer);
    await send([{ partition: 1, value: encodeEvent(copied) }]);
    // Another topic's heartbeat.
    const elsewhere = signHeartbeat({ id: randomUUID(), at: clock.wall, source: 'relay-1' }, { topic: 'other.topic', partition: 0 }, issuer);
    await send([{ partition: 0, value: encodeEvent(elsewhere) }]);
    // A mangled signature.
    const mangled = { ...signHeartbeat({ id: randomUUID(), at: clock.wall, source: 'relay-1' }, { topic: TOPIC, partition: 0 }, issuer), sig: 'A'.repeat(86) };
    await send([{ partition: 0, value: encodeEvent(mangled) }]);

    expect(consumer.freshnessSeconds()).toBe(5);
    expect(consumer.stats().heartbeats).toBe(PARTITIONS);
    expect(consumer.stats().skipped).toMatchObject({
      ERR_HEARTBEAT_UNKNOWN_KEY: PARTITIONS,
      ERR_HEARTBEAT_BAD_SIGNATURE: PARTITIONS + 3,
      ERR_HEARTBEAT_UNSIGNED: PARTITIONS,
      ERR_HEARTBEAT_SKEWED: 2 * PARTITIONS,
      ERR_HEARTBEAT_REPLAYED: 2,
    });
    // A real one still counts.
    await send(everyPartition(clock.wall));
    expect(consumer.freshnessSeconds()).toBe(0);
  });

  it('a token key (not marked for event signing) never verifies a heartbeat', async () => {
    const tokenLike = { ...forgerKey.publicJwk, revocable_use: undefined };
    expect(isEventSigningJwk(tokenLike)).toBe(false);
    expect(isEventSigningJwk({ ...issuerKey.publicJwk, kid: 'thumbprint-without-prefix' })).toBe(false);
    const { clock, consumer, send } = await setUp(new EventKeyRing({ keys: [tokenLike] }));
    await send(everyPartition(clock.wall, forger));
    expect(consumer.freshnessSeconds()).toBe(Number.POSITIVE_INFINITY);
    expect(consumer.stats().skipped.ERR_HEARTBEAT_UNKNOWN_KEY).toBe(PARTITIONS);
  });

  it('a relay clock skewed by +30 s or -30 s neither masks staleness nor trips the bound', async () => {
    for (const skewMs of [30_000, -30_000]) {
      const { clock, consumer, send } = await setUp();
      for (let i = 0; i < 5; i++) {
        await send(everyPartition(clock.wall + skewMs));
        expect(consumer.freshnessSeconds()).toBe(0);
        clock.wall += 1_000;
        clock.mono += 1_000;
        expect(consumer.freshnessSeconds()).toBe(1);
      }
      // The relay stops: the age grows on the local clock, whatever the relay's clock said.
      clock.wall += 10_000;
      clock.mono += 10_000;
      expect(consumer.freshnessSeconds()).toBe(11);
      expect(consumer.stats().skipped.ERR_HEARTBEAT_SKEWED).toBe(0);
      await Promise.all(consumers.map((c) => c.stop()));
      consumers = [];
    }
  });

  it('a starting instance skips old heartbeats without signature work, and counts the recent ones', async () => {
    let verifications = 0;
    const ring = new EventKeyRing({ keys: [issuerKey.publicJwk] });
    const counting = { verify: (...args: Parameters<EventKeyRing['verify']>) => (verifications++, ring.verify(...args)) };
    const transport = new MemoryTransport();
    const admin = await transport.admin();
    await admin.ensureTopic(revocationTopicSpec({ topic: TOPIC, partitions: PARTITIONS, maxAccessTtlSeconds: 900 }));
    const producer: EventProducer = await transport.producer();
    // An hour of history (one heartbeat per partition per second), then the newest one.
    const history = Array.from({ length: 3600 }, (_, i) => everyPartition(T0 - 3_600_000 + i * 1000)).flat();
    await producer.send(TOPIC, [...history, ...everyPartition(T0)].map((r) => ({ key: null, ...r })));
    const consumer = new RevocationConsumer({ transport, topic: TOPIC, onEvent: () => undefined, now: () => T0 + 500, monotonicNow: () => 42, heartbeatVerifier: counting, watchdogIntervalMs: 0 });
    consumers.push(consumer);
    await consumer.start();
    await consumer.whenCaughtUp();
    expect(consumer.freshnessSeconds()).toBe(0);
    // Old ones are past the skew (60 s): only those within it were verified.
    expect(verifications).toBeLessThanOrEqual(61 * PARTITIONS);
    expect(consumer.stats().skipped.ERR_HEARTBEAT_SKEWED).toBeGreaterThanOrEqual((3600 - 61) * PARTITIONS);
  });

  it('without a verifier no heartbeat counts', async () => {
    const transport = new MemoryTransport();
    const admin = await transport.admin();
    await admin.ensureTopic(revocationTopicSpec({ topic: TOPIC, partitions: PARTITIONS, maxAccessTtlSeconds: 900 }));
    const producer = await transport.producer();
    await producer.send(TOPIC, everyPartition(Date.now()).map((r) => ({ key: null, ...r })));
    const consumer = new RevocationConsumer({ transport, topic: TOPIC, onEvent: () => undefined, watchdogIntervalMs: 0 });
    consumers.push(consumer);
    await consumer.start();
    await consumer.whenCaughtUp();
    expect(consumer.freshnessSeconds()).toBe(Number.POSITIVE_INFINITY);
    expect(consumer.stats().skipped.ERR_HEARTBEAT_UNKNOWN_KEY).toBe(PARTITIONS);
  });
});
