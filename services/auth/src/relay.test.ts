// Relay logic against the real PostgreSQL, with an in-memory implementation of the
// EventTransport seam standing in for Kafka (the real broker is covered in test/auth-*.test.ts).
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKeyRing, parseEvent, TransportError, type BroadcastSubscription, type EventProducer, type EventTransport, type OutgoingRecord, type RevocationEvent, type TopicAdmin, type TopicSpec } from '@revocable/events';
import { withTransaction, type Pool } from './db.ts';
import { EventKeyStore } from './event-keys.ts';
import { startTestPool } from './test-app.ts';
import { enqueueEvent } from './outbox.ts';
import { OutboxRelay, type OutboxRelayOptions } from './relay.ts';

class MemoryTransport implements EventTransport {
  sent: Array<{ topic: string; record: OutgoingRecord }> = [];
  failing = false;
  topics = new Map<string, TopicSpec>();
  async producer(): Promise<EventProducer> {
    if (this.failing) throw new TransportError('ERR_KAFKA_UNAVAILABLE', 'broker unreachable', { cause: Object.assign(new Error('connect ECONNREFUSED'), { name: 'NetworkError' }) });
    return {
      send: async (topic, records) => {
        if (this.failing) throw new TransportError('ERR_KAFKA_UNAVAILABLE', 'broker unreachable', { cause: Object.assign(new Error('connect ECONNREFUSED'), { name: 'NetworkError' }) });
        for (const record of records) this.sent.push({ topic, record });
      },
      close: async () => {},
    };
  }
  async admin(): Promise<TopicAdmin> {
    return {
      ensureTopic: async (spec) => void this.topics.set(spec.topic, spec),
      partitionCount: async (topic) => this.topics.get(topic)?.partitions ?? 0,
      highWatermarks: async () => new Map(),
      lowWatermarks: async () => new Map(),
      describeTopicConfigs: async () => ({}),
      createPartitions: async () => {},
      listTopics: async () => [...this.topics.keys()],
      listGroups: async () => [],
      close: async () => {},
    };
  }
  async subscribeAll(): Promise<BroadcastSubscription> {
    throw new Error('not used by the relay');
  }
  events(): RevocationEvent[] {
    return this.sent
      .map((s) => parseEvent(s.record.value))
      .flatMap((p) => (p.ok && p.event.type !== 'heartbeat' ? [p.event] : []));
  }
}

let dbUrl = '';
let close = async () => {};
let pool: Pool;
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const spec: TopicSpec = { topic: 'unit.revocations', partitions: 3, replicationFactor: 1, configs: {} };

beforeAll(async () => {
  ({ url: dbUrl, pool, close } = await startTestPool('auth_relay_unit', 4));
});

afterAll(() => close());

/** A relay on this file's pool and topic; `timing` overrides the poll/heartbeat cadence and instance id. */
function relayWith(
  transport: EventTransport,
  timing: Partial<Pick<OutboxRelayOptions, 'pollIntervalMs' | 'heartbeatIntervalMs' | 'instanceId' | 'heartbeatSigner'>> = {},
): OutboxRelay {
  return new OutboxRelay({
    pool,
    databaseUrl: dbUrl,
    transport,
    topicSpec: spec,
    batchSize: 100,
    pollIntervalMs: 50,
    heartbeatIntervalMs: 1000,
    instanceId: 'unit',
    now: Date.now,
    log: silent,
    ...timing,
  });
}

/** Polls `probe` every 20 ms; throws naming `what` after 10 s. */
async function until(probe: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function sessionEvent(sub: string, n: number): RevocationEvent {
  return { v: 1, id: randomUUID(), at: Date.now(), type: 'session.revoked', sub, sid: `sid-${n}`, reason: 'logout', until: 2_000_000_000 };
}

async function write(events: RevocationEvent[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const e of events) await enqueueEvent(client, e);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

async function pending(): Promise<number> {
  return Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox')).rows[0]?.n);
}

describe('OutboxRelay', () => {
  it('keeps rows while the broker fails and publishes them in order, keyed by sub, once it works', async () => {
    await pool.query('DELETE FROM outbox');
    const transport = new MemoryTransport();
    const relay = relayWith(transport);
    const events = [sessionEvent('u1', 1), sessionEvent('u2', 2), sessionEvent('u1', 3)];
    await write(events);
    transport.failing = true;
    await expect(relay.drainOnce()).rejects.toMatchObject({ code: 'ERR_KAFKA_UNAVAILABLE' });
    expect(await pending()).toBe(3);
    transport.failing = false;
    expect(await relay.drainOnce()).toBe(3);
    expect(await pending()).toBe(0);
    expect(transport.events().map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(transport.sent.map((s) => s.record.key)).toEqual(['u1', 'u2', 'u1']);
    expect(relay.status().published).toBe(3);
    await relay.stop();
  });

  it('never overtakes a row of the same key that another relay holds', async () => {
    await pool.query('DELETE FROM outbox');
    await write([sessionEvent('held', 1)]);
    await write([sessionEvent('held', 2), sessionEvent('free', 3)]);
    // Another relay's transaction holds the first row.
    const other = await pool.connect();
    await other.query('BEGIN');
    await other.query('SELECT id FROM outbox ORDER BY id LIMIT 1 FOR UPDATE');
    const transport = new MemoryTransport();
    const relay = relayWith(transport);
    try {
      expect(await relay.drainOnce()).toBe(1);
      expect(transport.events().map((e) => (e as { sub: string }).sub)).toEqual(['free']);
    } finally {
      await other.query('ROLLBACK');
      other.release();
    }
    expect(await relay.drainOnce()).toBe(2);
    expect(transport.events().map((e) => (e as { sid: string }).sid)).toEqual(['sid-3', 'sid-1', 'sid-2']);
    await relay.stop();
  });

  it('drops a row that fails validation instead of blocking its key', async () => {
    await pool.query('DELETE FROM outbox');
    await pool.query(`INSERT INTO outbox (event_key, payload) VALUES ('bad', '{"v":1,"type":"session.revoked"}'::jsonb)`);
    await write([sessionEvent('bad', 9)]);
    const transport = new MemoryTransport();
    const relay = relayWith(transport);
    expect(await relay.drainOnce()).toBe(2);
    expect(transport.events()).toHaveLength(1);
    expect(await pending()).toBe(0);
    await relay.stop();
  });

  it('runs in the background: creates the topic, is woken by NOTIFY, and heartbeats every partition', async () => {
    await pool.query('DELETE FROM outbox');
    const transport = new MemoryTransport();
    // Polling effectively off: only NOTIFY can wake it.
    const relay = relayWith(transport, { pollIntervalMs: 60_000, heartbeatIntervalMs: 60_000, instanceId: 'unit-bg', heartbeatSigner: () => eventKeys.activeSigner() });
    const eventKeys = new EventKeyStore({ pool, keyEncryptionKey: randomBytes(32), retentionMs: () => 3_600_000, now: Date.now });
    await withTransaction(pool, (client) => eventKeys.ensure(client));
    relay.start();
    await until(() => relay.status().listening && transport.sent.length >= 3, 'LISTEN and a heartbeat per partition');
    expect(transport.topics.get(spec.topic)).toBeDefined();
    const heartbeats = transport.sent.filter((s) => s.record.key === null).map((s) => s.record.partition);
    expect(heartbeats.sort()).toEqual([0, 1, 2]);
    // Signed with the event-signing key, for their own partition: a verifier trusting the published keys counts them.
    const ring = new EventKeyRing({ keys: await eventKeys.publicKeys() });
    for (const { record } of transport.sent.filter((s) => s.record.key === null)) {
      const parsed = parseEvent(record.value);
      expect(parsed.ok && parsed.event.type === 'heartbeat' && ring.verify(parsed.event, { topic: spec.topic, partition: record.partition ?? -1 })).toBeNull();
    }
    await write([sessionEvent('notify', 1)]);
    await until(() => transport.events().length > 0, 'the notified event');
    expect(transport.events().map((e) => (e as { sub: string }).sub)).toEqual(['notify']);
    await relay.stop();
    expect(relay.status().state).toBe('stopped');
  });

  it('stays silent (no heartbeats) while an overdue row is held elsewhere, and resumes once it is out', async () => {
    await pool.query('DELETE FROM outbox');
    const overdue = sessionEvent('stuck', 1);
    await pool.query(`INSERT INTO outbox (event_key, payload, created_at) VALUES ('stuck', $1::jsonb, now() - interval '1 minute')`, [JSON.stringify(overdue)]);
    const other = await pool.connect();
    await other.query('BEGIN');
    await other.query('SELECT id FROM outbox FOR UPDATE');
    const transport = new MemoryTransport();
    const relay = relayWith(transport, { pollIntervalMs: 20, heartbeatIntervalMs: 20, instanceId: 'unit-silent' });
    relay.start();
    try {
      // Several cycles run (the pending count is sampled each time) without any heartbeat.
      await until(() => relay.status().pending === 1 && relay.status().state === 'running', 'relay cycles');
      const cycles = relay.status().lastAckAt;
      expect(cycles).toBeNull();
      expect(transport.sent).toHaveLength(0);
    } finally {
      await other.query('ROLLBACK');
      other.release();
    }
    await until(() => transport.events().length === 1, 'the overdue row');
    await until(() => transport.sent.some((s) => s.record.key === null), 'heartbeats again');
    await relay.stop();
  });

  it('survives its connection being terminated mid-drain: the cycle fails cleanly, the rows stay, the next cycle delivers them', async () => {
    await pool.query('DELETE FROM outbox');
    const event = sessionEvent('drain-kill', 1);
    await write([event]);
    const transport = new MemoryTransport();
    const inner = await transport.producer();
    let sending: () => void = () => {};
    const inSend = new Promise<void>((resolve) => (sending = resolve));
    let letGo: () => void = () => {};
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    let first = true;
    const gated: EventTransport = {
      admin: () => transport.admin(),
      subscribeAll: () => transport.subscribeAll(),
      producer: async () => ({
        send: async (topic, records) => {
          if (first) {
            first = false;
            sending();
            await gate;
          }
          await inner.send(topic, records);
        },
        close: async () => {},
      }),
    };
    const relay = relayWith(gated);
    const cycle = relay.drainOnce().then(() => undefined, (error: unknown) => error);
    await inSend;
    // The relay's transaction holds the row locks while the broker acknowledges: kill that
    // connection (this test's database and the pool's application_name only).
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'revocable-auth' AND state = 'idle in transaction'`,
    );
    expect(Number(rows[0]?.n)).toBe(1);
    // Give the socket time to see the termination while the client is still checked out.
    await until(
      async () => (await pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`)).rows.length === 0,
      'the backend to be terminated',
    );
    await new Promise((r) => setTimeout(r, 50));
    letGo();
    expect(await cycle).toBeInstanceOf(Error);
    // Produced but not deleted: the row is still there (never half-written), and goes out again.
    expect(await pending()).toBe(1);
    expect(await relay.drainOnce()).toBe(1);
    expect(await pending()).toBe(0);
    expect(transport.events().map((e) => e.id)).toContain(event.id);
    await relay.stop();
  });

  it('re-establishes LISTEN after its connection is killed, and NOTIFY wakes it again', async () => {
    await pool.query('DELETE FROM outbox');
    const transport = new MemoryTransport();
    const relay = relayWith(transport, { pollIntervalMs: 60_000, heartbeatIntervalMs: 60_000, instanceId: 'unit-listen' });
    relay.start();
    await until(() => relay.status().listening, 'LISTEN');
    await pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'revocable-auth-relay' AND datname = current_database()`);
    await until(() => !relay.status().listening, 'the loss to be noticed');
    await until(() => relay.status().listening, 'LISTEN again');
    await write([sessionEvent('after-reconnect', 1)]);
    await until(() => transport.events().some((e) => (e as { sub: string }).sub === 'after-reconnect'), 'event after reconnect');
    await relay.stop();
  });
});
