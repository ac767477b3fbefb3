import type { Admin, BaseOptions, ClusterMetadata, Consumer, MessageToProduce, Producer } from '@platformatic/kafka';
import { adapterProducer, awaitRetention, delay, errorWrapper, retentionToRaise } from './adapter.ts';
import { murmur2 } from './murmur2.ts';
import { TransportError, isTransportError, type BroadcastSubscription, type BroadcastSubscriptionOptions, type EventTransport, type IncomingRecord, type TopicAdmin, type TopicSpec, type TransportErrorCode } from './transport.ts';
import type { KafkaConnectionOptions } from './options.ts';

const IS_CONTROL_BATCH = 0b10_0000;
// Kafka protocol constants (the library's ConfigResourceTypes, ListOffsetTimestamps, ProduceAcks).
const SET = 0; // IncrementalAlterConfigs operation
const TOPIC_RESOURCE = 2;
const LATEST = -1n;
const EARLIEST = -2n;
/** How long a subscription waits at start for a topic whose partitions the broker is still settling, in ms. */
const START_SETTLE_MS = 10_000;
const ACKS_ALL = -1;

type Library = typeof import('@platformatic/kafka');
let library: Promise<Library> | undefined;

/**
 * The library is large (329 modules, option schemas compiled at import): it is loaded on
 * first use (the first producer/admin/subscription, after the service is up), and never
 * when another client is configured.
 */
function loadLibrary(): Promise<Library> {
  library ??= import('@platformatic/kafka');
  return library;
}

/**
 * The @platformatic/kafka implementation of the {@link EventTransport} seam (the default).
 * Producers are idempotent (acks=all, one request in flight) with Java's partitioner. The
 * broadcast reader assigns itself every partition and fetches with the Fetch API directly:
 * no consumer group is joined, created or left behind, so a broker restart costs one
 * reconnect (no JoinGroup waiting for a stale member).
 */
export function createPlatformaticTransport(options: KafkaConnectionOptions): EventTransport {
  if (options.brokers.length === 0) throw new RangeError('at least one Kafka broker is required');
  const base = (role: string): BaseOptions => ({
    clientId: `${options.clientId}${role}`,
    bootstrapBrokers: [...options.brokers],
    connectTimeout: options.connectionTimeoutMs ?? 3000,
    timeout: options.requestTimeoutMs ?? 10_000,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    retries: 2,
    retryDelay: 200,
    autocreateTopics: false,
    ...(options.sasl ? { sasl: { mechanism: options.sasl.mechanism, username: options.sasl.username, password: options.sasl.password } } : {}),
    ...(options.ssl ? { tls: options.ssl === true ? {} : { ...options.ssl } } : {}),
  });
  return {
    async producer() {
      const lib = await loadLibrary();
      const producer = new lib.Producer({
        ...base(''),
        idempotent: true,
        acks: ACKS_ALL,
        // Bounded: a send that gives up leaves its rows in the outbox; the relay sends them again.
        retries: 5,
        partitioner: javaPartitioner(),
      });
      try {
        await producer.initIdempotentProducer({});
      } catch (error) {
        await producer.close(true).catch(() => undefined);
        throw wrap(error, 'connecting the producer');
      }
      return adapterProducer(
        {
          publish: (topic, records) =>
            producer.send({
              messages: records.map((r) => {
                const message: MessageToProduce = { topic, value: r.value };
                if (r.key !== null) message.key = Buffer.from(r.key, 'utf8');
                if (r.partition !== undefined) message.partition = r.partition;
                return message;
              }),
            }),
          close: () => producer.close(true).catch(() => undefined),
        },
        wrap,
      );
    },
    async admin() {
      const admin = new (await loadLibrary()).Admin(base(''));
      try {
        await admin.metadata({ topics: [] });
      } catch (error) {
        await admin.close().catch(() => undefined);
        throw wrap(error, 'connecting the admin client');
      }
      return new PlatformaticAdmin(admin);
    },
    async subscribeAll(subscription) {
      const lib = await loadLibrary();
      const reader = new BroadcastReader(
        // groupId is required by the constructor and never used: the reader joins no group.
        new lib.Consumer({ ...base(''), groupId: `revocable-unused-${options.clientId}`, retries: 0, maxWaitTime: 100, minBytes: 1 }),
        subscription,
        options.metadataRefreshMs ?? 2000,
      );
      await reader.start();
      return reader;
    },
  };
}

/** Java's default partitioner for keyed records; round robin for the (rare) unkeyed ones. */
function javaPartitioner(): (message: MessageToProduce, key: Buffer | undefined) => number {
  let next = 0;
  // The producer reduces the returned number modulo the partition count.
  return (_message, key) => (key === undefined ? next++ & 0x7fffffff : murmur2(key) & 0x7fffffff);
}

class PlatformaticAdmin implements TopicAdmin {
  readonly #admin: Admin;
  constructor(admin: Admin) {
    this.#admin = admin;
  }

  async ensureTopic(spec: TopicSpec): Promise<void> {
    let created = true;
    try {
      await this.#admin.createTopics({
        topics: [spec.topic],
        partitions: spec.partitions,
        replicas: spec.replicationFactor,
        configs: Object.entries(spec.configs).map(([name, value]) => ({ name, value })),
      });
    } catch (error) {
      if (!findError(error, 'apiId', 'TOPIC_ALREADY_EXISTS')) throw wrap(error, `creating topic ${spec.topic}`);
      created = false;
    }
    if (created) {
      await this.#waitForLeaders(spec.topic);
      return;
    }
    // The topic existed: never lower its retention, but raise it if this issuer needs more.
    const current = await this.describeTopicConfigs(spec.topic);
    const wanted = retentionToRaise(spec, Number(current['retention.ms'] ?? 0));
    if (wanted !== undefined) {
      try {
        await this.#admin.incrementalAlterConfigs({
          resources: [
            { resourceType: TOPIC_RESOURCE, resourceName: spec.topic, configs: [{ name: 'retention.ms', configOperation: SET, value: String(wanted) }] },
          ],
        });
      } catch (error) {
        throw wrap(error, `raising the retention of ${spec.topic}`);
      }
      await awaitRetention(spec.topic, wanted, () => this.describeTopicConfigs(spec.topic));
    }
  }

  async partitionCount(topic: string): Promise<number> {
    return (await this.#topicMetadata(topic)).partitionsCount;
  }

  async highWatermarks(topic: string): Promise<Map<number, bigint>> {
    return this.#offsets(topic, LATEST);
  }

  async lowWatermarks(topic: string): Promise<Map<number, bigint>> {
    return this.#offsets(topic, EARLIEST);
  }

  async describeTopicConfigs(topic: string): Promise<Record<string, string>> {
    try {
      const result = await this.#admin.describeConfigs({ resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topic }] });
      const out: Record<string, string> = {};
      for (const entry of result[0]?.configs ?? []) if (typeof entry.value === 'string') out[entry.name] = entry.value;
      return out;
    } catch (error) {
      throw wrap(error, `describing the configs of ${topic}`);
    }
  }

  async createPartitions(topic: string, partitions: number): Promise<void> {
    if ((await this.partitionCount(topic)) >= partitions) return;
    try {
      await this.#admin.createPartitions({ topics: [{ name: topic, count: partitions }] });
    } catch (error) {
      throw wrap(error, `adding partitions to ${topic}`);
    }
  }

  async listTopics(): Promise<string[]> {
    try {
      return await this.#admin.listTopics();
    } catch (error) {
      throw wrap(error, 'listing topics');
    }
  }

  async listGroups(): Promise<string[]> {
    try {
      return [...(await this.#admin.listGroups()).keys()];
    } catch (error) {
      throw wrap(error, 'listing consumer groups');
    }
  }

  async close(): Promise<void> {
    await this.#admin.close().catch(() => undefined);
  }

  async #topicMetadata(topic: string, forceUpdate = true): Promise<NonNullable<ReturnType<ClusterMetadata['topics']['get']>>> {
    let metadata: ClusterMetadata;
    try {
      metadata = await this.#admin.metadata({ topics: [topic], forceUpdate });
    } catch (error) {
      throw wrap(error, `reading the metadata of ${topic}`);
    }
    const found = metadata.topics.get(topic);
    if (found === undefined) throw new TransportError('ERR_KAFKA_TOPIC_MISSING', `topic ${topic} does not exist`);
    return found;
  }

  async #offsets(topic: string, timestamp: bigint): Promise<Map<number, bigint>> {
    const { partitionsCount } = await this.#topicMetadata(topic);
    try {
      const partitions = Array.from({ length: partitionsCount }, (_, partitionIndex) => ({ partitionIndex, timestamp }));
      const result = await this.#admin.listOffsets({ topics: [{ name: topic, partitions }] });
      const out = new Map<number, bigint>();
      for (const p of result[0]?.partitions ?? []) out.set(p.partitionIndex, p.offset);
      return out;
    } catch (error) {
      throw wrap(error, `reading offsets of ${topic}`);
    }
  }

  async #waitForLeaders(topic: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const found = await this.#topicMetadata(topic).catch((error: unknown) => {
        if (isTransportError(error) && error.code === 'ERR_KAFKA_TOPIC_MISSING') return undefined;
        throw error;
      });
      if (found && found.partitions.length === found.partitionsCount && found.partitions.every((p) => p.leader >= 0)) return;
      if (Date.now() > deadline) throw new TransportError('ERR_KAFKA_TIMEOUT', `topic ${topic} has no leader for every partition after 15 s`);
      await delay(100);
    }
  }
}

interface PartitionState {
  offset: bigint;
}

/**
 * The group-less broadcast reader: metadata → one Fetch per partition leader → records, in
 * a loop. Offsets live only in this process. On any failure it reports the error, waits a
 * short backoff (100 ms doubling to 1 s) and starts again from fresh metadata, so it is
 * reading again within about a second of the broker's return.
 */
class BroadcastReader implements BroadcastSubscription {
  readonly #consumer: Consumer;
  readonly #options: BroadcastSubscriptionOptions;
  readonly #metadataRefreshMs: number;
  readonly #partitions = new Map<number, PartitionState>();
  #topicId = '';
  #leaders = new Map<number, number>();
  #metadataAt = 0;
  #stopped = false;
  #connected = false;
  #loop: Promise<void> | undefined;
  #wakeBackoff: (() => void) | undefined;

  constructor(consumer: Consumer, options: BroadcastSubscriptionOptions, metadataRefreshMs: number) {
    this.#consumer = consumer;
    this.#options = options;
    this.#metadataRefreshMs = metadataRefreshMs;
  }

  async start(): Promise<void> {
    // The first metadata read surfaces a wrong address or bad credentials to the caller. A
    // broker that answers but has not settled a new topic's partitions yet (stale metadata,
    // e.g. NOT_LEADER_OR_FOLLOWER right after creation) is waited for, within a bound.
    const deadline = Date.now() + START_SETTLE_MS;
    for (;;) {
      try {
        await this.#refreshMetadata();
        break;
      } catch (error) {
        if (findError(error, 'hasStaleMetadata', true) !== null && Date.now() < deadline) {
          await delay(100);
          continue;
        }
        await this.#consumer.close(true).catch(() => undefined);
        throw wrap(error, `subscribing to ${this.#options.topic}`);
      }
    }
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wakeBackoff?.();
    // A fetch stuck on a half-open connection must not hold the stop: close forcibly after 2 s.
    await Promise.race([this.#loop, delay(2000)]);
    await this.#consumer.close(true).catch(() => undefined);
  }

  async #run(): Promise<void> {
    let backoffMs = 0;
    while (!this.#stopped) {
      try {
        if (Date.now() - this.#metadataAt >= this.#metadataRefreshMs) await this.#refreshMetadata();
        await this.#fetchOnce();
        if (!this.#connected) {
          this.#connected = true;
          this.#options.onConnected?.();
        }
        backoffMs = 0;
      } catch (error) {
        if (this.#stopped) break;
        const wrapped = wrap(error, `reading ${this.#options.topic}`);
        if (findError(error, 'apiId', 'OFFSET_OUT_OF_RANGE')) {
          // Retention removed records this reader had not read yet: continue from the earliest kept.
          await this.#resetOutOfRange().catch(() => undefined);
          continue;
        }
        this.#connected = false;
        this.#metadataAt = 0;
        if (!wrapped.retriable && wrapped.code !== 'ERR_KAFKA_TOPIC_MISSING') {
          this.#options.onFailed?.(wrapped);
          return;
        }
        this.#options.onError?.(wrapped);
        backoffMs = Math.min(Math.max(backoffMs * 2, 100), 1000);
        await this.#sleep(backoffMs);
      }
    }
  }

  async #refreshMetadata(): Promise<void> {
    const metadata = await this.#consumer.metadata({ topics: [this.#options.topic], forceUpdate: true });
    const topic = metadata.topics.get(this.#options.topic);
    if (topic === undefined) throw new TransportError('ERR_KAFKA_TOPIC_MISSING', `topic ${this.#options.topic} does not exist`);
    this.#topicId = topic.id;
    this.#leaders = new Map(topic.partitions.map((p, index) => [index, p.leader]));
    const added: number[] = [];
    for (let partition = 0; partition < topic.partitionsCount; partition++) {
      if (!this.#partitions.has(partition)) added.push(partition);
    }
    if (added.length > 0) {
      // New partitions (at start, or added to the topic while running) are read from their start.
      const earliest = await this.#earliest(added);
      for (const partition of added) {
        const low = earliest.get(partition) ?? 0n;
        const from = this.#options.from?.get(partition);
        this.#partitions.set(partition, { offset: from !== undefined && from > low ? from : low });
      }
    }
    this.#metadataAt = Date.now();
  }

  async #earliest(partitions: number[]): Promise<Map<number, bigint>> {
    const offsets = await this.#consumer.listOffsets({
      topics: [this.#options.topic],
      partitions: { [this.#options.topic]: partitions },
      timestamp: EARLIEST,
    });
    const list = offsets.get(this.#options.topic) ?? [];
    return new Map(partitions.map((p) => [p, list[p] ?? 0n]));
  }

  async #resetOutOfRange(): Promise<void> {
    const earliest = await this.#earliest([...this.#partitions.keys()]);
    for (const [partition, state] of this.#partitions) {
      const low = earliest.get(partition) ?? 0n;
      if (state.offset < low) state.offset = low;
    }
  }

  async #fetchOnce(): Promise<void> {
    const byLeader = new Map<number, number[]>();
    for (const partition of this.#partitions.keys()) {
      const leader = this.#leaders.get(partition) ?? -1;
      if (leader < 0) {
        this.#metadataAt = 0;
        continue;
      }
      const list = byLeader.get(leader) ?? [];
      list.push(partition);
      byLeader.set(leader, list);
    }
    if (byLeader.size === 0) throw new TransportError('ERR_KAFKA_UNAVAILABLE', `no partition of ${this.#options.topic} has a leader`);
    const responses = await Promise.all(
      [...byLeader].map(async ([node, partitions]) => {
        const requested = new Map(partitions.map((p) => [p, this.#partitions.get(p)!.offset]));
        const response = await this.#consumer.fetch({
          node,
          maxWaitTime: 100,
          topics: [
            {
              topicId: this.#topicId,
              partitions: partitions.map((partition) => ({
                partition,
                fetchOffset: requested.get(partition)!,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
                partitionMaxBytes: 1_048_576,
              })),
            },
          ],
        });
        return { response, requested };
      }),
    );
    for (const { response, requested } of responses) {
      for (const topic of response.responses) {
        for (const p of topic.partitions) {
          const from = requested.get(p.partitionIndex);
          const state = this.#partitions.get(p.partitionIndex);
          // Partitions lingering in an incremental fetch session are not ours to advance.
          if (from === undefined || state === undefined || state.offset !== from) continue;
          const records: IncomingRecord[] = [];
          let next = from;
          for (const batch of p.records ?? []) {
            const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
            if (last + 1n > next) next = last + 1n;
            if (batch.attributes & IS_CONTROL_BATCH) continue;
            for (const record of batch.records) {
              const offset = batch.firstOffset + BigInt(record.offsetDelta);
              if (offset < from) continue;
              records.push({
                topic: this.#options.topic,
                partition: p.partitionIndex,
                offset: offset.toString(),
                key: record.key,
                value: record.value,
                timestamp: Number(batch.firstTimestamp + record.timestampDelta),
              });
            }
          }
          state.offset = next;
          if (records.length > 0) await this.#options.onRecords(records);
          if (this.#stopped) return;
        }
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wakeBackoff = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakeBackoff = done;
    });
  }
}

/** Wraps any @platformatic/kafka failure into a {@link TransportError} with a stable code. */
export const wrap = errorWrapper(classify);

function classify(error: Error): TransportErrorCode {
  const by = (property: string, value: unknown) => findError(error, property, value) !== null;
  if (by('closed', true)) return 'ERR_KAFKA_CLOSED';
  if (by('apiId', 'UNKNOWN_TOPIC_OR_PARTITION') || by('apiId', 'UNKNOWN_TOPIC_ID')) return 'ERR_KAFKA_TOPIC_MISSING';
  if (
    by('code', 'PLT_KFK_AUTHENTICATION') ||
    by('apiId', 'SASL_AUTHENTICATION_FAILED') ||
    by('apiId', 'UNSUPPORTED_SASL_MECHANISM') ||
    by('apiId', 'TOPIC_AUTHORIZATION_FAILED') ||
    by('apiId', 'CLUSTER_AUTHORIZATION_FAILED') ||
    by('apiId', 'GROUP_AUTHORIZATION_FAILED') ||
    by('apiId', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED')
  ) {
    return 'ERR_KAFKA_AUTH';
  }
  // The client turns UNKNOWN_TOPIC_OR_PARTITION in metadata into a UserError that keeps only this message.
  if (by('code', 'PLT_KFK_USER') && /^Unknown topic /.test(error.message)) return 'ERR_KAFKA_TOPIC_MISSING';
  if (by('code', 'PLT_KFK_TIMEOUT') || by('apiId', 'REQUEST_TIMED_OUT')) return 'ERR_KAFKA_TIMEOUT';
  if (by('code', 'PLT_KFK_NETWORK')) return 'ERR_KAFKA_UNAVAILABLE';
  const protocol = findError(error, 'code', 'PLT_KFK_PROTOCOL');
  if (protocol !== null) return protocol['canRetry'] === true ? 'ERR_KAFKA_UNAVAILABLE' : 'ERR_KAFKA_REJECTED';
  if (by('code', 'PLT_KFK_USER') || by('code', 'PLT_KFK_UNSUPPORTED_API') || by('code', 'PLT_KFK_UNSUPPORTED')) return 'ERR_KAFKA_REJECTED';
  // Socket-level errors that reached us unwrapped.
  const sys = (error as { code?: unknown }).code;
  if (typeof sys === 'string' && /^E[A-Z]+$/.test(sys)) return 'ERR_KAFKA_UNAVAILABLE';
  return 'ERR_KAFKA_UNAVAILABLE';
}

/** The library's error (or one it aggregates or wraps) whose `property` is `value`, like its own findErrorBy. */
function findError(error: unknown, property: string, value: unknown, depth = 0): Record<string, unknown> | null {
  if (typeof error !== 'object' || error === null || depth > 8) return null;
  const e = error as Record<string, unknown>;
  if (e[property] === value) return e;
  for (const inner of Array.isArray(e['errors']) ? (e['errors'] as unknown[]) : []) {
    const found = findError(inner, property, value, depth + 1);
    if (found) return found;
  }
  return findError(e['cause'], property, value, depth + 1);
}
