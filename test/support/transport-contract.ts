import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isTransportError,
  javaPartition,
  revocationTopicSpec,
  type BroadcastSubscription,
  type EventTransport,
  type IncomingRecord,
  type TopicAdmin,
  type TransportError,
} from '@revocable/events';
import { uniqueTopic, waitFor } from './env.ts';
import { javaPartitions } from './java-partitioner.ts';

/** What the contract suite needs to exercise one adapter. */
export interface ContractTarget {
  /** Label, e.g. `@platformatic/kafka`. */
  name: string;
  /** A transport on the shared broker. */
  transport(clientId: string): EventTransport;
  /** A transport whose broker cannot be reached (nothing listens, or the in-memory one is down). */
  unreachable(clientId: string): EventTransport;
  /** A broker of its own that the suite may restart, and a transport on it. */
  restartable(): Promise<{ transport(clientId: string): EventTransport; restart(): Promise<void>; destroy(): Promise<void> }>;
  /** True when the adapter reads without any consumer group (none may ever appear); false when its private group must be gone after stop. */
  groupless: boolean;
  /**
   * True when a running reader picks up partitions added to the topic by itself. kafkajs
   * rejoins its group but never fetches the new partition (2.2.4); there the
   * RevocationConsumer's watchdog recreates the reader (packages/events consumer.test.ts).
   */
  tracksAddedPartitions: boolean;
}

/** Keys whose partitions the Java client computes for the reference table. */
const KEYS = Array.from({ length: 64 }, (_, i) => (i % 3 === 0 ? `user-${i}` : i % 3 === 1 ? randomLikeKey(i) : `sübjéct-${i}-✓`));

function randomLikeKey(i: number): string {
  // Deterministic, UUID-shaped (what `sub` usually is).
  const hex = (n: number) => ((n * 2654435761) >>> 0).toString(16).padStart(8, '0');
  return `${hex(i)}-${hex(i + 1).slice(0, 4)}-4${hex(i + 2).slice(0, 3)}-a${hex(i + 3).slice(0, 3)}-${hex(i + 4)}${hex(i + 5).slice(0, 4)}`;
}

async function collect(transport: EventTransport, topic: string): Promise<{ records: IncomingRecord[]; subscription: BroadcastSubscription; errors: TransportError[] }> {
  const records: IncomingRecord[] = [];
  const errors: TransportError[] = [];
  const subscription = await transport.subscribeAll({
    topic,
    onRecords: (batch) => void records.push(...batch),
    onError: (error) => void errors.push(error),
  });
  return { records, subscription, errors };
}

/** The {@link TransportError} `promise` rejects with; throws if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (error) {
    if (isTransportError(error)) return error;
    throw new Error(`expected a TransportError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a rejection, but the call succeeded');
}

/**
 * The adapter contract: every implementation of the EventTransport seam passes the same
 * cases, against the real broker (and the in-memory transport where it applies).
 */
export function transportContract(target: ContractTarget): void {
  describe(`transport contract: ${target.name}`, () => {
    let transport: EventTransport;
    let admin: TopicAdmin;
    const clientId = `contract-${target.name.replace(/[^a-z0-9]/gi, '')}-${randomUUID().slice(0, 8)}`;

    beforeAll(async () => {
      transport = target.transport(clientId);
      admin = await transport.admin();
    }, 60_000);
    afterAll(async () => {
      await admin?.close();
    });

    it('produces with acknowledgement, keeps per-key order, and places keys where the Java client does', async () => {
      const spec = revocationTopicSpec({ topic: uniqueTopic('contract-order'), partitions: 3, maxAccessTtlSeconds: 900 });
      await admin.ensureTopic(spec);
      const producer = await transport.producer();
      const sent: Array<{ key: string; seq: number }> = [];
      try {
        for (let round = 0; round < 4; round++) {
          const batch = KEYS.map((key) => ({ key, seq: round }));
          sent.push(...batch);
          // Resolves only once acknowledged: the high watermarks already count the batch.
          await producer.send(spec.topic, batch.map((r) => ({ key: r.key, value: Buffer.from(JSON.stringify(r)) })));
          const high = await admin.highWatermarks(spec.topic);
          expect([...high.values()].reduce((a, b) => a + b, 0n)).toBe(BigInt(sent.length));
        }
      } finally {
        await producer.close();
      }
      const { records, subscription } = await collect(transport, spec.topic);
      try {
        await waitFor(() => records.length >= sent.length, { timeoutMs: 30_000, what: 'every record back' });
      } finally {
        await subscription.stop();
      }
      expect(records).toHaveLength(sent.length);
      const java = javaPartitions(KEYS, 3);
      const byKey = new Map<string, { partitions: Set<number>; seqs: number[] }>();
      for (const record of records) {
        const { key, seq } = JSON.parse(record.value!.toString()) as { key: string; seq: number };
        expect(record.key?.toString()).toBe(key);
        const entry = byKey.get(key) ?? { partitions: new Set(), seqs: [] };
        entry.partitions.add(record.partition);
        entry.seqs.push(seq);
        byKey.set(key, entry);
      }
      // Records of one partition arrive in offset order.
      for (let p = 0; p < 3; p++) {
        const offsets = records.filter((r) => r.partition === p).map((r) => BigInt(r.offset));
        expect(offsets).toEqual([...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      }
      KEYS.forEach((key, i) => {
        const entry = byKey.get(key)!;
        expect(entry.seqs, key).toEqual([0, 1, 2, 3]);
        expect([...entry.partitions], key).toEqual([java[i]]);
        expect(javaPartition(key, 3), key).toBe(java[i]);
      });
    }, 120_000);

    it('broadcast: each subscription reads every partition from the earliest offset, and partitions added later', async () => {
      const spec = revocationTopicSpec({ topic: uniqueTopic('contract-broadcast'), partitions: 3, maxAccessTtlSeconds: 900 });
      await admin.ensureTopic(spec);
      const groupsBefore = new Set(await admin.listGroups());
      const producer = await transport.producer();
      try {
        await producer.send(spec.topic, [0, 1, 2].map((partition) => ({ key: null, partition, value: Buffer.from(`before-${partition}`) })));
        const a = await collect(transport, spec.topic);
        const b = await collect(transport, spec.topic);
        try {
          for (const reader of [a, b]) {
            await waitFor(() => reader.records.length >= 3, { timeoutMs: 30_000, what: 'the records written before subscribing' });
          }
          await producer.send(spec.topic, [{ key: null, partition: 1, value: Buffer.from('live') }]);
          for (const reader of [a, b]) await waitFor(() => reader.records.some((r) => r.value?.toString() === 'live'), { timeoutMs: 30_000, what: 'a live record' });
          if (target.groupless) {
            // Never a consumer group, not even while reading.
            const groups = (await admin.listGroups()).filter((g) => !groupsBefore.has(g));
            expect(groups).toEqual([]);
          }
          await admin.createPartitions(spec.topic, 4);
          expect(await admin.partitionCount(spec.topic)).toBe(4);
          if (target.tracksAddedPartitions) {
            // The new partition may take a metadata refresh to be seen: keep writing until it is read.
            await waitFor(
              async () => {
                await producer.send(spec.topic, [{ key: null, partition: 3, value: Buffer.from('added') }]);
                return [a, b].every((reader) => reader.records.some((r) => r.partition === 3 && r.value?.toString() === 'added'));
              },
              { timeoutMs: 60_000, intervalMs: 500, what: 'records of a partition added while reading' },
            );
            for (const reader of [a, b]) {
              expect(new Set(reader.records.map((r) => r.partition))).toEqual(new Set([0, 1, 2, 3]));
              expect(reader.records.filter((r) => r.value?.toString().startsWith('before-')).map((r) => r.value?.toString()).sort()).toEqual(['before-0', 'before-1', 'before-2']);
            }
          }
        } finally {
          await a.subscription.stop();
          await b.subscription.stop();
        }
      } finally {
        await producer.close();
      }
      // No group left behind once the readers stopped.
      await waitFor(async () => (await admin.listGroups()).filter((g) => !groupsBefore.has(g)).length === 0, {
        timeoutMs: 30_000,
        intervalMs: 250,
        what: 'no consumer group left on the broker',
      });
    }, 180_000);

    it('reports high and low watermarks per partition', async () => {
      const spec = revocationTopicSpec({ topic: uniqueTopic('contract-watermarks'), partitions: 2, maxAccessTtlSeconds: 900 });
      await admin.ensureTopic(spec);
      expect(await admin.highWatermarks(spec.topic)).toEqual(new Map([[0, 0n], [1, 0n]]));
      const producer = await transport.producer();
      try {
        await producer.send(spec.topic, Array.from({ length: 5 }, () => ({ key: null, partition: 1, value: Buffer.from('x') })));
      } finally {
        await producer.close();
      }
      expect(await admin.highWatermarks(spec.topic)).toEqual(new Map([[0, 0n], [1, 5n]]));
      expect(await admin.lowWatermarks(spec.topic)).toEqual(new Map([[0, 0n], [1, 0n]]));
      expect(await admin.partitionCount(spec.topic)).toBe(2);
      expect(await admin.listTopics()).toContain(spec.topic);
    }, 60_000);

    it('ensureTopic raises, never lowers, retention and keeps the other topic settings', async () => {
      const topic = uniqueTopic('contract-retention');
      await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }));
      const first = await admin.describeTopicConfigs(topic);
      expect(first['retention.ms']).toBe('1800000');
      expect(first['cleanup.policy']).toBe('delete');
      await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 60 }));
      expect((await admin.describeTopicConfigs(topic))['retention.ms']).toBe('1800000');
      await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 3600 }));
      const raised = await admin.describeTopicConfigs(topic);
      expect(raised['retention.ms']).toBe('7200000');
      expect(raised['segment.ms']).toBe(first['segment.ms']);
      expect(raised['message.timestamp.type']).toBe('CreateTime');
    }, 60_000);

    it('wraps every failure into a TransportError with a stable code', async () => {
      const missing = uniqueTopic('contract-missing');
      for (const call of [() => admin.partitionCount(missing), () => admin.highWatermarks(missing), () => admin.describeTopicConfigs(missing)]) {
        const error = await rejection(call());
        expect(error.code).toBe('ERR_KAFKA_TOPIC_MISSING');
        expect(error.retriable).toBe(true);
      }
      const invalid = await rejection(admin.ensureTopic({ topic: uniqueTopic('contract-invalid'), partitions: 1, replicationFactor: 1, configs: { 'retention.ms': 'not-a-number' } }));
      expect(invalid.code).toBe('ERR_KAFKA_REJECTED');
      expect(invalid.retriable).toBe(false);

      const dead = target.unreachable(`${clientId}-dead`);
      for (const call of [() => dead.producer(), () => dead.admin()]) {
        const error = await rejection(call());
        expect(['ERR_KAFKA_UNAVAILABLE', 'ERR_KAFKA_TIMEOUT']).toContain(error.code);
        expect(error.retriable).toBe(true);
      }
    }, 120_000);

    it('reconnects by itself after a broker restart: producer and reader carry on', async () => {
      const own = await target.restartable();
      const t = own.transport(`${clientId}-restart`);
      try {
        const ownAdmin = await t.admin();
        const topic = uniqueTopic('contract-restart');
        await ownAdmin.ensureTopic(revocationTopicSpec({ topic, partitions: 2, maxAccessTtlSeconds: 900 }));
        await ownAdmin.close();
        const producer = await t.producer();
        const reader = await collect(t, topic);
        try {
          await producer.send(topic, [{ key: 'k', value: Buffer.from('before') }]);
          await waitFor(() => reader.records.length === 1, { timeoutMs: 30_000, what: 'the record before the restart' });
          await own.restart();
          // The first sends may fail while the client notices; a retriable code says "try again".
          await waitFor(
            async () => {
              try {
                await producer.send(topic, [{ key: 'k', value: Buffer.from('after') }]);
                return true;
              } catch (error) {
                if (!isTransportError(error) || !error.retriable) throw error;
                return false;
              }
            },
            { timeoutMs: 60_000, intervalMs: 200, what: 'a send after the restart' },
          );
          await waitFor(() => reader.records.some((r) => r.value?.toString() === 'after'), { timeoutMs: 60_000, what: 'the reader to resume' });
          expect(reader.records[0]?.value?.toString()).toBe('before');
        } finally {
          await reader.subscription.stop();
          await producer.close();
        }
      } finally {
        await own.destroy();
      }
    }, 180_000);
  });
}
