import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RevocationConsumer } from './consumer.ts';
import { MemoryTransport } from './memory.ts';
import { encodeEvent, type RevocationEvent } from './schema.ts';
import { revocationTopicSpec } from './topic.ts';

const TOPIC = 'unit.revocations';

async function until(probe: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function revocation(sub: string): { key: string; value: Buffer } {
  const event = { v: 1 as const, id: randomUUID(), at: Date.now(), type: 'session.revoked' as const, sub, sid: randomUUID(), reason: 'logout' as const, until: Math.floor(Date.now() / 1000) + 900 };
  return { key: sub, value: encodeEvent(event) };
}

let consumers: RevocationConsumer[] = [];
afterEach(async () => {
  await Promise.all(consumers.map((c) => c.stop()));
  consumers = [];
});

async function setUp(options: { stallAfterMs?: number } = {}) {
  const transport = new MemoryTransport();
  const admin = await transport.admin();
  await admin.ensureTopic(revocationTopicSpec({ topic: TOPIC, partitions: 3, maxAccessTtlSeconds: 900 }));
  const producer = await transport.producer();
  await producer.send(TOPIC, [revocation('a'), revocation('b')]);
  const applied: RevocationEvent[] = [];
  const consumer = new RevocationConsumer({
    transport,
    topic: TOPIC,
    onEvent: (event) => void applied.push(event),
    watchdogIntervalMs: 20,
    restartDelayMs: 20,
    stallAfterMs: options.stallAfterMs ?? 200,
  });
  consumers.push(consumer);
  await consumer.start();
  await consumer.whenCaughtUp();
  return { transport, producer, applied, consumer };
}

describe('RevocationConsumer reader health', () => {
  it('replays, catches up and reports a running reader', async () => {
    const { applied, consumer } = await setUp();
    expect(applied.map((e) => (e as { sub: string }).sub).sort()).toEqual(['a', 'b']);
    expect(consumer.status()).toMatchObject({ state: 'running', reason: null, restarts: 0 });
    expect(consumer.isHealthy()).toBe(true);
  });

  it('a failed reader shows as failed with its reason, is recreated by the watchdog, and resumes without re-applying', async () => {
    const { transport, producer, applied, consumer } = await setUp();
    // Keep it failed long enough to observe: the broker refuses new readers meanwhile.
    transport.setAvailable(false);
    transport.failReaders();
    expect(consumer.status()).toMatchObject({ state: 'failed' });
    expect(consumer.status().reason).toMatch(/^ERR_KAFKA_AUTH: /);
    expect(consumer.isHealthy()).toBe(false);
    transport.setAvailable(true);
    await until(() => consumer.status().state === 'running', 'the watchdog to recreate the reader');
    expect(consumer.status().restarts).toBeGreaterThanOrEqual(1);
    expect(consumer.isHealthy()).toBe(true);
    await producer.send(TOPIC, [revocation('c')]);
    await until(() => applied.length === 3, 'the event after recovery');
    expect(applied.map((e) => (e as { sub: string }).sub).sort()).toEqual(['a', 'b', 'c']);
  });

  it('a stalled reader (broker answers, records wait, nothing arrives) is recreated', async () => {
    const { transport, producer, applied, consumer } = await setUp({ stallAfterMs: 150 });
    transport.freezeReaders(true);
    await producer.send(TOPIC, [revocation('d')]);
    await until(() => consumer.status().restarts >= 1, 'the watchdog to notice the stall');
    await until(() => applied.length === 3, 'the waiting record, read by the new reader');
    expect(consumer.status().state).toBe('running');
  });

  it('a quiet topic is not a stall: nothing to read, no restart', async () => {
    const { consumer } = await setUp({ stallAfterMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(consumer.status()).toMatchObject({ state: 'running', restarts: 0 });
  });

  it('a lost broker is reported as reconnecting (healthy), and the reader resumes when it returns', async () => {
    const { transport, producer, applied, consumer } = await setUp();
    transport.setAvailable(false);
    await until(() => consumer.status().reconnecting, 'the reader to report the lost broker');
    expect(consumer.status().reason).toMatch(/^ERR_KAFKA_UNAVAILABLE/);
    expect(consumer.isHealthy()).toBe(true);
    transport.setAvailable(true);
    await producer.send(TOPIC, [revocation('e')]);
    await until(() => applied.length === 3, 'the event after the broker returned');
    await until(() => !consumer.status().reconnecting, 'reconnected');
  });
});
