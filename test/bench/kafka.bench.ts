/**
 * The Kafka client behind the seam, side by side on one private broker (real Apache Kafka
 * from the Maven jars) in one run:
 *  - catch-up: BENCH_CATCHUP_EVENTS revocation events (default 1,000,000) on 3 partitions;
 *    a RevocationConsumer (parse + Denylist.apply, what a resource service does at start)
 *    from start() to caught up, with @platformatic/kafka and with kafkajs, each next to the
 *    bare client reading the same topic (count records, nothing else);
 *  - reconnect: the broker is killed (-9) and started again; time from the broker accepting
 *    connections to the reader receiving a record produced after the restart, per client.
 * The broker is secured as in production (test/bench/broker.ts; always a private one, since
 * the bench kills it): every reader, ours and the bare clients on both libraries, authenticates
 * the same way, SCRAM-SHA-512 as the `orders` principal with the topic's ACLs (what a resource
 * service does); the filler and the marker writer are the admin.
 */
import { randomUUID } from 'node:crypto';
import { Consumer as PlatformaticConsumer } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { Denylist } from '@revocable/denylist';
import { encodeEvent, revocationTopicSpec, RevocationConsumer, type EventProducer, type KafkaClientName } from '@revocable/events';
import { BROADCAST_GROUP_PREFIX } from '@revocable/infra';
import { benchBroker, type BenchBus } from './broker.ts';
import { betterRatio, median, type BenchModule, type BenchResult } from './types.ts';

const EVENTS = Number(process.env['BENCH_CATCHUP_EVENTS'] ?? 1_000_000);
const RESTARTS = Number(process.env['BENCH_RESTARTS'] ?? 2);
const ROUNDS = Number(process.env['BENCH_KAFKA_ROUNDS'] ?? 3);
const PARTITIONS = 3;
/** The principal of every reader: a resource service's. */
const READER = 'orders';
/** The bare consumers' throwaway groups, under the prefix the readers' ACLs allow (like the kafkajs adapter's). */
const bareGroup = () => `${BROADCAST_GROUP_PREFIX}bench-bare-${randomUUID()}`;
const CLIENTS: Array<{ client: KafkaClientName; label: string }> = [
  { client: 'platformatic', label: '@platformatic/kafka' },
  { client: 'kafkajs', label: 'kafkajs' },
];

async function fill(producer: EventProducer, topic: string): Promise<void> {
  const until = Math.floor(Date.now() / 1000) + 3600;
  const batch = 5000;
  for (let sent = 0; sent < EVENTS; sent += batch) {
    const records = [];
    for (let i = 0; i < Math.min(batch, EVENTS - sent); i++) {
      const sub = `user-${(sent + i) % 50_000}`;
      records.push({ key: sub, value: encodeEvent({ v: 1, id: randomUUID(), at: Date.now(), type: 'session.revoked', sub, sid: randomUUID(), reason: 'logout', until }) });
    }
    await producer.send(topic, records);
  }
}

/** Milliseconds from start() to caught up, for our RevocationConsumer on `client`. */
async function catchUp(client: KafkaClientName, bus: BenchBus, topic: string): Promise<number> {
  const denylist = new Denylist();
  const consumer = new RevocationConsumer({ transport: bus.transport(`bench-${client}`, READER, { client }), topic, onEvent: (e) => denylist.apply(e) });
  const started = performance.now();
  await consumer.start();
  await consumer.whenCaughtUp();
  const ms = performance.now() - started;
  if (consumer.stats().applied !== EVENTS) throw new Error(`applied ${consumer.stats().applied} of ${EVENTS}`);
  await consumer.stop();
  return ms;
}

/** The bare kafkajs consumer: subscribe from the beginning, count records until all are read. */
async function bareKafkajs(bus: BenchBus, topic: string): Promise<number> {
  const sasl = bus.sasl(READER);
  const kafka = new kafkajs.Kafka({
    clientId: 'bench-bare-kafkajs',
    brokers: bus.brokers,
    logLevel: kafkajs.logLevel.NOTHING,
    ...(sasl ? { sasl: { mechanism: 'scram-sha-512' as const, username: sasl.username, password: sasl.password } } : {}),
  });
  const consumer = kafka.consumer({ groupId: bareGroup(), maxWaitTimeInMs: 100 });
  const started = performance.now();
  let count = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      count += batch.messages.length;
      if (count >= EVENTS) done();
    },
  });
  await finished;
  const ms = performance.now() - started;
  await consumer.disconnect();
  return ms;
}

/** The bare @platformatic/kafka consumer: a messages stream from the earliest offset, counting records. */
async function barePlatformatic(bus: BenchBus, topic: string): Promise<number> {
  const sasl = bus.sasl(READER);
  const consumer = new PlatformaticConsumer({ clientId: 'bench-bare-platformatic', groupId: bareGroup(), bootstrapBrokers: bus.brokers, maxWaitTime: 100, ...(sasl ? { sasl } : {}) });
  const started = performance.now();
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
  let count = 0;
  for await (const _message of stream) {
    if (++count >= EVENTS) break;
  }
  const ms = performance.now() - started;
  await stream.close();
  await consumer.close(true);
  return ms;
}

/** Milliseconds from the restarted broker accepting connections to the reader receiving a record produced after it. */
async function reconnect(client: KafkaClientName, bus: BenchBus, topic: string): Promise<number[]> {
  const broker = bus.broker!;
  const transport = bus.transport(`bench-reconnect-${client}`, READER, { client });
  let lastMarker = 0;
  const subscription = await transport.subscribeAll({
    topic,
    onRecords: (records) => {
      for (const r of records) lastMarker = Math.max(lastMarker, Number(r.value?.toString() ?? 0));
    },
  });
  const writer = bus.transport('bench-writer', 'admin', { client: 'platformatic' });
  const times: number[] = [];
  try {
    for (let i = 0; i < RESTARTS; i++) {
      await broker.kill();
      await broker.start();
      const back = performance.now();
      const marker = Date.now();
      // Keep writing fresh markers (a producer of its own, reconnecting too) until the reader has one.
      let producer: EventProducer | undefined;
      for (;;) {
        try {
          producer ??= await writer.producer();
          await producer.send(topic, [0, 1, 2].map((partition) => ({ key: null, partition, value: Buffer.from(String(Date.now())) })));
        } catch {
          await producer?.close();
          producer = undefined;
        }
        if (lastMarker >= marker) break;
        if (performance.now() - back > 60_000) throw new Error(`${client}: no record within 60 s of the broker's return`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      times.push(performance.now() - back);
      await producer?.close();
    }
  } finally {
    await subscription.stop();
  }
  return times;
}

const bench: BenchModule = {
  name: 'kafka',
  async run(): Promise<BenchResult[]> {
    // A loaded machine can take over a minute to start the JVM broker.
    const bus = await benchBroker({ allowGiven: false, heap: '1g', startTimeoutMs: 180_000 });
    const results: BenchResult[] = [];
    try {
      const topic = `bench.catchup.${randomUUID()}`;
      const smallTopic = `bench.reconnect.${randomUUID()}`;
      await bus.grant(topic);
      await bus.grant(smallTopic);
      const seam = bus.transport('bench-fill');
      const admin = await seam.admin();
      await admin.ensureTopic(revocationTopicSpec({ topic, partitions: PARTITIONS, maxAccessTtlSeconds: 3600 }));
      await admin.ensureTopic(revocationTopicSpec({ topic: smallTopic, partitions: PARTITIONS, maxAccessTtlSeconds: 3600 }));
      await admin.close();
      const producer = await seam.producer();
      await fill(producer, topic);
      await producer.close();

      const bare: Record<KafkaClientName, (bus: BenchBus, topic: string) => Promise<number>> = { platformatic: barePlatformatic, kafkajs: bareKafkajs };
      const catchUps: Partial<Record<KafkaClientName, number>> = {};
      // Interleaved rounds, median: load from other processes hits every contender alike.
      const samples: Record<string, number[]> = {};
      for (let round = 0; round < ROUNDS; round++) {
        for (const { client } of CLIENTS) {
          (samples[`ours-${client}`] ??= []).push(await catchUp(client, bus, topic));
          (samples[`bare-${client}`] ??= []).push(await bare[client](bus, topic));
        }
      }
      for (const { client, label } of CLIENTS) {
        const ours = median(samples[`ours-${client}`]!);
        const baseline = median(samples[`bare-${client}`]!);
        catchUps[client] = ours;
        results.push({
          metric: `catch-up of ${EVENTS.toLocaleString('en-US')} events to ready, ${label}`,
          ours,
          baseline,
          baselineName: `bare ${label} consumer, same topic`,
          unit: 'ms',
          ratio: betterRatio(ours, baseline, 'lower'),
          note: `RevocationConsumer start() → caught up (parse + denylist apply per event) vs the bare client counting records; ${PARTITIONS} partitions, median of ${ROUNDS} round(s); every reader SASL/SCRAM-SHA-512 as a resource principal with ACLs`,
        });
      }
      results.push({
        metric: `catch-up of ${EVENTS.toLocaleString('en-US')} events to ready, @platformatic/kafka vs kafkajs`,
        ours: catchUps.platformatic!,
        baseline: catchUps.kafkajs!,
        baselineName: 'the same RevocationConsumer on kafkajs',
        unit: 'ms',
        ratio: betterRatio(catchUps.platformatic!, catchUps.kafkajs!, 'lower'),
        note: 'KAFKA_CLIENT=platformatic (default) vs KAFKA_CLIENT=kafkajs',
      });

      const reconnects: Partial<Record<KafkaClientName, number[]>> = {};
      for (const { client } of CLIENTS) reconnects[client] = await reconnect(client, bus, smallTopic);
      const p = median(reconnects.platformatic!);
      const k = median(reconnects.kafkajs!);
      results.push({
        metric: 'reader resumes after a broker restart (kill -9), @platformatic/kafka vs kafkajs',
        ours: p,
        baseline: k,
        baselineName: 'kafkajs broadcast reader (own group)',
        unit: 'ms',
        ratio: betterRatio(p, k, 'lower'),
        note: `broker accepting connections → first record produced after the restart received; median of ${RESTARTS} restarts each (platformatic ${reconnects.platformatic!.map((t) => Math.round(t)).join('/')} ms, kafkajs ${reconnects.kafkajs!.map((t) => Math.round(t)).join('/')} ms)`,
      });
    } finally {
      await bus.stop();
    }
    return results;
  },
};

export default bench;
