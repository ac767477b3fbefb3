import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, KafkaConfig, LogEntry, Producer } from 'kafkajs';
import type { KafkaConnectionOptions } from './options.ts';
import { adapterProducer, awaitRetention, errorWrapper, retentionToRaise } from './adapter.ts';
import { TransportError, type BroadcastSubscription, type BroadcastSubscriptionOptions, type EventTransport, type IncomingRecord, type TopicAdmin, type TopicSpec, type TransportErrorCode } from './transport.ts';

// kafkajs is CommonJS: Node's ESM loader does not see its named exports (vitest's transform
// does), so everything comes from the default export. Loaded on first use: a service on the
// default client never loads it.
type Library = typeof import('kafkajs');
let library: Promise<Library> | undefined;
function loadLibrary(): Promise<Library> {
  library ??= import('kafkajs').then((m) => (m as Library & { default?: Library }).default ?? m);
  return library;
}
// TOPIC_RESOURCE and logLevel values, fixed by kafkajs' API.
const TOPIC_RESOURCE = 2;
const LOG_ERROR = 1;
const LOG_WARN = 2;

// Retries are bounded on purpose: a send that gives up leaves its rows in the outbox and the
// relay sends them again (at-least-once; consumers apply events idempotently), so kafkajs'
// exactly-once warning about bounded retries does not apply here.
const EXPECTED_WARNINGS = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees']);

/**
 * The kafkajs implementation of the {@link EventTransport} seam (`KAFKA_CLIENT=kafkajs`, for
 * teams already on it). Producers are idempotent with acks=all and one request in flight
 * (per-key order survives retries). kafkajs cannot read partitions without a consumer group,
 * so each broadcast subscription joins a group of its own and never commits an offset: the
 * broker forgets an empty group with no offsets, so none is left behind.
 */
export function createKafkajsTransport(options: KafkaConnectionOptions): EventTransport {
  if (options.brokers.length === 0) throw new RangeError('at least one Kafka broker is required');
  const logger = options.logger;
  const sasl: KafkaConfig['sasl'] = options.sasl
    ? options.sasl.mechanism === 'PLAIN'
      ? { mechanism: 'plain', username: options.sasl.username, password: options.sasl.password }
      : options.sasl.mechanism === 'SCRAM-SHA-512'
        ? { mechanism: 'scram-sha-512', username: options.sasl.username, password: options.sasl.password }
        : { mechanism: 'scram-sha-256', username: options.sasl.username, password: options.sasl.password }
    : undefined;
  let created: Promise<Kafka> | undefined;
  const client = (): Promise<Kafka> => (created ??= loadLibrary().then((lib) => new lib.Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...(sasl ? { sasl } : {}),
    ...(options.ssl ? { ssl: options.ssl === true ? true : { ...options.ssl } } : {}),
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 8 },
    logLevel: LOG_WARN,
    logCreator: () => (entry: LogEntry) => {
      if (!logger) return;
      const { message, ...rest } = entry.log;
      if (EXPECTED_WARNINGS.has(message)) return;
      const fields = { kafka: { namespace: entry.namespace, ...rest } };
      if (entry.level <= LOG_ERROR) logger.error(fields, message);
      else logger.warn(fields, message);
    },
  })));

  return {
    async producer() {
      const lib = await loadLibrary();
      const producer = (await client()).producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // murmur2 over the key, as the Java client does: `sub` lands on the same partition whatever client produced it.
        createPartitioner: lib.Partitioners.DefaultPartitioner,
      });
      await attempt('connecting the producer', () => producer.connect());
      return adapterProducer(
        {
          publish: (topic, records) =>
            producer.send({
              topic,
              acks: -1,
              messages: records.map((r) => ({ key: r.key, value: r.value, ...(r.partition !== undefined ? { partition: r.partition } : {}) })),
            }),
          close: () => producer.disconnect(),
        },
        wrap,
      );
    },
    async admin() {
      const admin = (await client()).admin();
      await attempt('connecting the admin client', () => admin.connect());
      return new KafkaTopicAdmin(admin);
    },
    async subscribeAll(subscription) {
      const groupId = `revocable-broadcast-${options.clientId}-${randomUUID()}`;
      const consumer = (await client()).consumer({
        groupId,
        allowAutoTopicCreation: false,
        // Revocations are small; a short wait keeps propagation in milliseconds.
        maxWaitTimeInMs: 100,
        // Re-read metadata often: partitions added to the topic are noticed (and assigned) within it.
        metadataMaxAge: options.metadataRefreshMs ?? 2000,
        // A short session lets a restarted broker drop this member quickly; rejoining waits for it.
        sessionTimeout: 10_000,
        heartbeatInterval: 1000,
        retry: { initialRetryTime: 200, maxRetryTime: 2000, retries: 10, restartOnFailure: async (error) => wrap(error, 'reading').retriable },
      });
      return startBroadcast(consumer, subscription, async () => {
        // An empty group without offsets would linger (Empty) until the coordinator's next
        // cleanup, up to offsets.retention.check.interval.ms (10 min): delete it now.
        const admin = (await client()).admin();
        try {
          await admin.connect();
          await admin.deleteGroups([groupId]);
        } catch {
          // Best effort: the broker drops the empty group at its next cleanup anyway.
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      });
    },
  };
}

/** Runs a kafkajs call, wrapping any failure into a {@link TransportError}. */
async function attempt<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw wrap(error, what);
  }
}

/** Wraps a kafkajs failure into a {@link TransportError} with a stable code. */
export const wrap = errorWrapper(classify);

function classify(error: Error): TransportErrorCode {
  // KafkaJSAggregateError (e.g. topic creation) carries one error per item.
  const items = (error as { errors?: unknown }).errors;
  if (Array.isArray(items) && items.length > 0 && items.every((item) => item instanceof Error)) {
    const codes = new Set(items.map((item) => classify(item as Error)));
    if (codes.size === 1) return [...codes][0]!;
  }
  // kafkajs nests the real cause in `originalError` (retries exhausted) and `cause`.
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const type = (e as { type?: unknown }).type;
    if (type === 'UNKNOWN_TOPIC_OR_PARTITION' || type === 'UNKNOWN_TOPIC_ID') return 'ERR_KAFKA_TOPIC_MISSING';
    if (typeof type === 'string' && /AUTHORIZATION_FAILED|SASL_AUTHENTICATION_FAILED|UNSUPPORTED_SASL/.test(type)) return 'ERR_KAFKA_AUTH';
    if (e.name === 'KafkaJSSASLAuthenticationError') return 'ERR_KAFKA_AUTH';
    if (type === 'REQUEST_TIMED_OUT' || e.name === 'KafkaJSRequestTimeoutError') return 'ERR_KAFKA_TIMEOUT';
    if (e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSConnectionClosedError' || e.name === 'KafkaJSBrokerNotFound') return 'ERR_KAFKA_UNAVAILABLE';
    if (e.name === 'KafkaJSNonRetriableError' && typeof type === 'string') return 'ERR_KAFKA_REJECTED';
    if (typeof type === 'string' && (e as { retriable?: unknown }).retriable === false) return 'ERR_KAFKA_REJECTED';
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return 'ERR_KAFKA_UNAVAILABLE';
}

class KafkaTopicAdmin implements TopicAdmin {
  readonly #admin: Admin;
  constructor(admin: Admin) {
    this.#admin = admin;
  }

  async ensureTopic(spec: TopicSpec): Promise<void> {
    const created = await attempt(`creating topic ${spec.topic}`, () => this.#admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: spec.topic,
          numPartitions: spec.partitions,
          replicationFactor: spec.replicationFactor,
          configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })),
        },
      ],
    }));
    if (created) return;
    // The topic existed: never lower its retention, but raise it if this issuer needs more.
    const overrides = await this.#topicOverrides(spec.topic);
    const wanted = retentionToRaise(spec, Number(overrides['retention.ms'] ?? (await this.describeTopicConfigs(spec.topic))['retention.ms'] ?? 0));
    if (wanted !== undefined) {
      // kafkajs only has the legacy AlterConfigs, which replaces the topic's whole override
      // set: send the current overrides along, or segment.ms & co. would fall back to defaults.
      const entries = { ...overrides, 'retention.ms': String(wanted) };
      await attempt(`raising the retention of ${spec.topic}`, () =>
        this.#admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: TOPIC_RESOURCE,
              name: spec.topic,
              configEntries: Object.entries(entries).map(([name, value]) => ({ name, value })),
            },
          ],
        }),
      );
      await awaitRetention(spec.topic, wanted, () => this.describeTopicConfigs(spec.topic));
    }
  }

  async #topicOverrides(topic: string): Promise<Record<string, string>> {
    const result = await attempt(`describing the configs of ${topic}`, () =>
      this.#admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC_RESOURCE, name: topic }] }),
    );
    const out: Record<string, string> = {};
    for (const entry of result.resources[0]?.configEntries ?? []) {
      // configSource 1 = DYNAMIC_TOPIC_CONFIG: set on this topic.
      if ((entry as { configSource?: number }).configSource === 1 && !entry.isDefault) out[entry.configName] = entry.configValue;
    }
    return out;
  }

  async createPartitions(topic: string, partitions: number): Promise<void> {
    if ((await this.partitionCount(topic)) >= partitions) return;
    await attempt(`adding partitions to ${topic}`, () => this.#admin.createPartitions({ topicPartitions: [{ topic, count: partitions }] }));
  }

  async listTopics(): Promise<string[]> {
    return attempt('listing topics', () => this.#admin.listTopics());
  }

  async listGroups(): Promise<string[]> {
    const { groups } = await attempt('listing consumer groups', () => this.#admin.listGroups());
    return groups.map((g) => g.groupId);
  }

  async partitionCount(topic: string): Promise<number> {
    return (await this.#offsets(topic)).length;
  }

  async highWatermarks(topic: string): Promise<Map<number, bigint>> {
    return new Map((await this.#offsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  }

  async lowWatermarks(topic: string): Promise<Map<number, bigint>> {
    return new Map((await this.#offsets(topic)).map((o) => [o.partition, BigInt(o.low)]));
  }

  async describeTopicConfigs(topic: string): Promise<Record<string, string>> {
    const result = await attempt(`describing the configs of ${topic}`, () =>
      this.#admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC_RESOURCE, name: topic }] }),
    );
    const out: Record<string, string> = {};
    for (const entry of result.resources[0]?.configEntries ?? []) out[entry.configName] = entry.configValue;
    return out;
  }

  async close(): Promise<void> {
    await this.#admin.disconnect();
  }

  async #offsets(topic: string): Promise<Array<{ partition: number; high: string; low: string }>> {
    try {
      return await this.#admin.fetchTopicOffsets(topic);
    } catch (error) {
      throw wrap(error, `reading offsets of ${topic}`);
    }
  }
}

async function startBroadcast(
  consumer: Consumer,
  options: BroadcastSubscriptionOptions,
  forgetGroup: () => Promise<void>,
): Promise<BroadcastSubscription> {
  let stopped = false;
  consumer.on(consumer.events.CRASH, (event) => {
    const error = wrap(event.payload.error, `reading ${options.topic}`);
    // restartOnFailure answers true for retriable causes; kafkajs then restarts by itself.
    if (error.retriable) options.onError?.(error);
    else if (!stopped) options.onFailed?.(error);
  });
  consumer.on(consumer.events.DISCONNECT, () => {
    if (!stopped) options.onError?.(new TransportError('ERR_KAFKA_UNAVAILABLE', 'consumer disconnected'));
  });
  consumer.on(consumer.events.GROUP_JOIN, () => options.onConnected?.());

  await attempt(`subscribing to ${options.topic}`, () => consumer.connect());
  await attempt(`subscribing to ${options.topic}`, () => consumer.subscribe({ topic: options.topic, fromBeginning: true }));
  await consumer.run({
    // No offset is ever committed: the group has no state to outlive this process.
    autoCommit: false,
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch, heartbeat }) => {
      const records: IncomingRecord[] = batch.messages.map((m) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: m.key ?? null,
        value: m.value ?? null,
        timestamp: Number(m.timestamp),
      }));
      await options.onRecords(records);
      await heartbeat();
    },
  });
  // A recreated reader resumes where the previous one stopped.
  for (const [partition, offset] of options.from ?? []) consumer.seek({ topic: options.topic, partition, offset: offset.toString() });
  return {
    async stop() {
      stopped = true;
      await consumer.disconnect().catch(() => undefined);
      await forgetGroup();
    },
  };
}
