import { randomUUID } from 'node:crypto';
import type { Logger } from '@revocable/protocol';
import kafkajs, { type Admin, type Consumer, type LogEntry, type Producer } from 'kafkajs';
import type {
  BroadcastSubscription,
  BroadcastSubscriptionOptions,
  EventProducer,
  EventTransport,
  IncomingRecord,
  OutgoingRecord,
  TopicAdmin,
  TopicSpec,
} from './transport.ts';

// kafkajs is CommonJS: Node's ESM loader does not see `ConfigResourceTypes` as a named
// export (vitest's transform does), so take everything from the default export.
const { ConfigResourceTypes, Kafka, Partitioners, logLevel: KafkaLogLevel } = kafkajs;

// Retries are bounded on purpose: a send that gives up leaves its rows in the outbox and the
// relay sends them again (at-least-once; consumers apply events idempotently), so kafkajs'
// exactly-once warning about bounded retries does not apply here.
const EXPECTED_WARNINGS = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees']);

/** The logger a transport writes to: the protocol's pino-compatible {@link Logger}. */
export type TransportLogger = Logger;

export interface KafkaTransportOptions {
  /** `host:port` list. */
  brokers: readonly string[];
  /** Client id reported to the broker (service name). */
  clientId: string;
  /** Where kafkajs' own log lines go; warnings and errors only. Default: dropped. */
  logger?: TransportLogger;
  /** TCP connect timeout per broker, in milliseconds. Default 3000. */
  connectionTimeoutMs?: number;
  /** Per-request timeout, in milliseconds. Default 10000. */
  requestTimeoutMs?: number;
}

/** Thrown when the broker cannot be reached or refuses a request; `code` is stable. */
export class KafkaTransportError extends Error {
  readonly code: 'ERR_KAFKA_UNAVAILABLE' | 'ERR_KAFKA_TOPIC_MISSING';
  constructor(code: KafkaTransportError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KafkaTransportError';
    this.code = code;
  }
}

/**
 * The kafkajs implementation of the {@link EventTransport} seam. Producers are idempotent
 * with acks=all and one request in flight (per-key order survives retries). Broadcast
 * subscriptions use a consumer group unique to the subscription, so every instance reads
 * every partition; kafkajs offers no group-less assignment, and a private group is the
 * equivalent (its offsets only matter for reconnects inside this process).
 */
export function createKafkaTransport(options: KafkaTransportOptions): EventTransport {
  if (options.brokers.length === 0) throw new RangeError('at least one Kafka broker is required');
  const logger = options.logger;
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 8 },
    logLevel: KafkaLogLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      if (!logger) return;
      const { message, ...rest } = entry.log;
      if (EXPECTED_WARNINGS.has(message)) return;
      const fields = { kafka: { namespace: entry.namespace, ...rest } };
      if (entry.level <= KafkaLogLevel.ERROR) logger.error(fields, message);
      else logger.warn(fields, message);
    },
  });

  return {
    async producer() {
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // murmur2 over the key, as the Java client does: `sub` lands on the same partition whatever client produced it.
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await connectOrThrow(() => producer.connect());
      return new KafkaEventProducer(producer);
    },
    async admin() {
      const admin = kafka.admin();
      await connectOrThrow(() => admin.connect());
      return new KafkaTopicAdmin(admin);
    },
    async subscribeAll(subscription) {
      const consumer = kafka.consumer({
        groupId: `revocable-broadcast-${options.clientId}-${randomUUID()}`,
        allowAutoTopicCreation: false,
        // Revocations are small; a short wait keeps propagation in milliseconds.
        maxWaitTimeInMs: 100,
        retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 10, restartOnFailure: async () => true },
      });
      return startBroadcast(consumer, subscription);
    },
  };
}

async function connectOrThrow(connect: () => Promise<void>): Promise<void> {
  try {
    await connect();
  } catch (error) {
    throw new KafkaTransportError('ERR_KAFKA_UNAVAILABLE', 'Kafka broker unreachable', { cause: error });
  }
}

class KafkaEventProducer implements EventProducer {
  readonly #producer: Producer;
  constructor(producer: Producer) {
    this.#producer = producer;
  }

  async send(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await this.#producer.send({
        topic,
        acks: -1,
        messages: records.map((r) => ({
          key: r.key,
          value: r.value,
          ...(r.partition !== undefined ? { partition: r.partition } : {}),
        })),
      });
    } catch (error) {
      throw new KafkaTransportError('ERR_KAFKA_UNAVAILABLE', `publishing to ${topic} failed`, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.#producer.disconnect();
  }
}

class KafkaTopicAdmin implements TopicAdmin {
  readonly #admin: Admin;
  constructor(admin: Admin) {
    this.#admin = admin;
  }

  async ensureTopic(spec: TopicSpec): Promise<void> {
    const created = await this.#admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: spec.topic,
          numPartitions: spec.partitions,
          replicationFactor: spec.replicationFactor,
          configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    if (created) return;
    // The topic existed: never lower its retention, but raise it if this issuer needs more.
    const current = await this.describeTopicConfigs(spec.topic);
    const wanted = Number(spec.configs['retention.ms'] ?? 0);
    const have = Number(current['retention.ms'] ?? 0);
    if (have !== -1 && wanted > have) {
      await this.#admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: spec.topic,
            configEntries: [{ name: 'retention.ms', value: String(wanted) }],
          },
        ],
      });
    }
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
    const result = await this.#admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    });
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
      const type = (error as { type?: string }).type;
      if (type === 'UNKNOWN_TOPIC_OR_PARTITION') {
        throw new KafkaTransportError('ERR_KAFKA_TOPIC_MISSING', `topic ${topic} does not exist`, { cause: error });
      }
      throw new KafkaTransportError('ERR_KAFKA_UNAVAILABLE', `reading offsets of ${topic} failed`, { cause: error });
    }
  }
}

async function startBroadcast(consumer: Consumer, options: BroadcastSubscriptionOptions): Promise<BroadcastSubscription> {
  let stopped = false;
  consumer.on(consumer.events.CRASH, (event) => {
    const error = event.payload.error;
    options.onError?.(error instanceof Error ? error : new Error(String(error)));
  });
  consumer.on(consumer.events.DISCONNECT, () => {
    if (!stopped) options.onError?.(new KafkaTransportError('ERR_KAFKA_UNAVAILABLE', 'consumer disconnected'));
  });
  consumer.on(consumer.events.GROUP_JOIN, () => options.onConnected?.());

  await connectOrThrow(() => consumer.connect());
  await consumer.subscribe({ topic: options.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 1000,
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
  return {
    async stop() {
      stopped = true;
      await consumer.disconnect();
    },
  };
}
