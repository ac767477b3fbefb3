import { randomUUID } from 'node:crypto';
import {
  EventKeyRing,
  RevocationConsumer,
  encodeEvent,
  eventKey,
  revocationTopicSpec,
  type EventProducer,
  type EventTransport,
  type RevocableEvent,
  type RevocationEvent,
} from '@revocable/events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testTransport, uniqueTopic, waitFor } from './support/env.ts';
import { signedHeartbeat, testHeartbeatKeys } from './support/heartbeats.ts';

const nowSeconds = () => Math.floor(Date.now() / 1000);

function sessionRevoked(sub: string, sid: string): RevocationEvent {
  return { v: 1, id: randomUUID(), at: Date.now(), type: 'session.revoked', sub, sid, reason: 'logout', until: nowSeconds() + 900 };
}

describe('RevocationConsumer against the real broker', () => {
  let transport: EventTransport;
  let producer: EventProducer;
  const consumers: RevocationConsumer[] = [];

  beforeAll(async () => {
    transport = testTransport('consumer-test');
    producer = await transport.producer();
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.stop()));
  });
  afterAll(async () => {
    await producer.close();
  });

  async function topicWith(events: RevocableEvent[], partitions = 3): Promise<string> {
    const spec = revocationTopicSpec({ topic: uniqueTopic('consumer'), partitions, maxAccessTtlSeconds: 900 });
    const admin = await transport.admin();
    await admin.ensureTopic(spec);
    await admin.close();
    await producer.send(spec.topic, events.map((e) => ({ key: eventKey(e), value: encodeEvent(e) })));
    return spec.topic;
  }

  function consumer(topic: string, applied: RevocationEvent[], clientId = 'consumer-test'): RevocationConsumer {
    const c = new RevocationConsumer({
      transport: testTransport(clientId),
      topic,
      onEvent: (event) => void applied.push(event),
      startRetryMs: 100,
    });
    consumers.push(c);
    return c;
  }

  it('replays the retained window and is caught up only after the start high watermarks', async () => {
    const history = Array.from({ length: 50 }, (_, i) => sessionRevoked(`user-${i % 7}`, `sid-${i}`));
    const topic = await topicWith(history);
    const applied: RevocationEvent[] = [];
    const c = consumer(topic, applied);
    expect(c.isCaughtUp()).toBe(false);
    await c.start();
    await c.whenCaughtUp();
    expect(c.isCaughtUp()).toBe(true);
    expect(new Set(applied.map((e) => e.id))).toEqual(new Set(history.map((e) => e.id)));
    expect([...c.stats().lagByPartition.values()].every((lag) => lag === 0)).toBe(true);
  });

  it('every instance sees every event (broadcast, not a shared group)', async () => {
    const topic = await topicWith([]);
    const a: RevocationEvent[] = [];
    const b: RevocationEvent[] = [];
    await Promise.all([consumer(topic, a, 'same-service').start(), consumer(topic, b, 'same-service').start()]);
    const events = Array.from({ length: 20 }, (_, i) => sessionRevoked(`u${i}`, `s${i}`));
    await producer.send(topic, events.map((e) => ({ key: eventKey(e), value: encodeEvent(e) })));
    await waitFor(() => a.length === 20 && b.length === 20, { what: 'both instances to apply all events' });
    expect(new Set(a.map((e) => e.id))).toEqual(new Set(b.map((e) => e.id)));
  });

  it('counts and skips poison records while later good events still apply', async () => {
    const topic = await topicWith([], 1);
    const applied: RevocationEvent[] = [];
    const c = consumer(topic, applied);
    await c.start();
    await c.whenCaughtUp();
    const good = sessionRevoked('alice', 'after-poison');
    await producer.send(topic, [
      { key: 'x', value: Buffer.from([0xff, 0xfe, 0x00, 0x01]) },
      { key: 'x', value: Buffer.from('{"v":1,"type":"session.revoked"}') },
      { key: 'x', value: Buffer.from(JSON.stringify({ v: 99, type: 'session.revoked' })) },
      { key: 'x', value: Buffer.from(JSON.stringify({ v: 1, id: 'e', at: 1, type: 'galaxy.exploded' })) },
      { key: 'x', value: Buffer.alloc(64 * 1024, 0x7b) },
      { key: 'alice', value: encodeEvent(good) },
    ]);
    await waitFor(() => applied.some((e) => e.id === good.id), { what: 'the good event after the poison' });
    expect(c.stats().skipped).toMatchObject({
      ERR_EVENT_NOT_JSON: 1,
      ERR_EVENT_INVALID: 1,
      ERR_EVENT_UNSUPPORTED_VERSION: 1,
      ERR_EVENT_UNKNOWN_TYPE: 1,
      ERR_EVENT_TOO_LARGE: 1,
    });
  });

  it('derives freshness from the receipt of the stalest partition\'s newest signed heartbeat, on the local clock', async () => {
    const topic = await topicWith([], 2);
    let mono = 1_000_000;
    const c = new RevocationConsumer({
      transport: testTransport('consumer-test'),
      topic,
      onEvent: () => undefined,
      startRetryMs: 100,
      monotonicNow: () => mono,
      heartbeatVerifier: new EventKeyRing({ keys: testHeartbeatKeys }),
    });
    consumers.push(c);
    await c.start();
    await c.whenCaughtUp();
    expect(c.freshnessSeconds()).toBe(Number.POSITIVE_INFINITY);
    await producer.send(topic, [{ key: null, partition: 0, value: signedHeartbeat(topic, 0) }]);
    await waitFor(() => c.stats().heartbeats === 1, { what: 'first heartbeat' });
    expect(c.freshnessSeconds()).toBe(Number.POSITIVE_INFINITY);
    mono += 4_000;
    // Dated 30 s back by its relay's clock: the age counts from its receipt, not from its `at`.
    await producer.send(topic, [{ key: null, partition: 1, value: signedHeartbeat(topic, 1, { at: Date.now() - 30_000 }) }]);
    await waitFor(() => c.stats().heartbeats === 2, { what: 'second heartbeat' });
    expect(c.freshnessSeconds()).toBe(4);
    // An unsigned heartbeat changes nothing.
    await producer.send(topic, [{ key: null, partition: 0, value: encodeEvent({ v: 1, id: randomUUID(), at: Date.now(), type: 'heartbeat', source: 'forger' }) }]);
    await waitFor(() => c.stats().skipped.ERR_HEARTBEAT_UNSIGNED === 1, { what: 'the unsigned heartbeat skipped' });
    expect(c.freshnessSeconds()).toBe(4);
  });

  it('waits for a topic that does not exist yet, then catches up', async () => {
    const topic = uniqueTopic('late');
    const applied: RevocationEvent[] = [];
    const c = consumer(topic, applied);
    const started = c.start();
    expect(c.isCaughtUp()).toBe(false);
    const admin = await transport.admin();
    await admin.ensureTopic(revocationTopicSpec({ topic, partitions: 1, maxAccessTtlSeconds: 60 }));
    await admin.close();
    await started;
    await c.whenCaughtUp();
    const event = sessionRevoked('bob', 'late-sid');
    await producer.send(topic, [{ key: 'bob', value: encodeEvent(event) }]);
    await waitFor(() => applied.some((e) => e.id === event.id), { what: 'event on the late topic' });
  });
});
