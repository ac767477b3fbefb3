import { javaPartition } from './murmur2.ts';
import { TransportError, type BroadcastSubscription, type BroadcastSubscriptionOptions, type EventProducer, type EventTransport, type IncomingRecord, type OutgoingRecord, type TopicAdmin, type TopicSpec } from './transport.ts';

interface StoredRecord {
  key: Buffer | null;
  value: Buffer;
  timestamp: number;
}

interface MemoryTopic {
  configs: Record<string, string>;
  partitions: StoredRecord[][];
  /** Offset of partitions[p][0] (records before it were "deleted by retention"). */
  lowWatermarks: number[];
}

/**
 * An in-process broker for unit tests, with the seam's semantics: acknowledged sends in
 * per-key order on Java's partition, broadcast reads of every partition from the earliest
 * offset (and of partitions added later), watermarks, raise-never-lower retention, and
 * {@link TransportError}s with the adapters' codes. {@link setAvailable}(false) makes every
 * call fail with `ERR_KAFKA_UNAVAILABLE` (readers report it and resume when it is back).
 *
 * @example
 * const transport = new MemoryTransport({ now: clock.now });
 * const consumer = new RevocationConsumer({ transport, topic: 't', onEvent });
 */
export class MemoryTransport implements EventTransport {
  readonly #topics = new Map<string, MemoryTopic>();
  readonly #now: () => number;
  readonly #readers = new Set<MemoryReader>();
  #available = true;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Simulates the broker going away (`false`) and coming back (`true`). */
  setAvailable(available: boolean): void {
    this.#available = available;
    for (const reader of this.#readers) reader.poke();
  }

  /**
   * Makes every running reader give up with `error` (their `onFailed` fires and they stop), as
   * a non-retriable client failure would. Default error: `ERR_KAFKA_AUTH`.
   */
  failReaders(error = new TransportError('ERR_KAFKA_AUTH', 'in-memory broker refused the reader')): void {
    for (const reader of [...this.#readers]) reader.fail(error);
  }

  /** Freezes (`true`) or thaws running readers: frozen ones deliver nothing while the broker answers (a wedged client). */
  freezeReaders(frozen: boolean): void {
    for (const reader of this.#readers) reader.frozen = frozen;
    if (!frozen) for (const reader of this.#readers) reader.poke();
  }

  /** Drops every record below `offset` in one partition, as retention would. */
  truncate(topic: string, partition: number, offset: number): void {
    const t = this.#topic(topic);
    const low = t.lowWatermarks[partition] ?? 0;
    const drop = Math.max(0, offset - low);
    t.partitions[partition]?.splice(0, drop);
    t.lowWatermarks[partition] = low + drop;
  }

  async producer(): Promise<EventProducer> {
    this.check();
    let closed = false;
    let roundRobin = 0;
    return {
      send: async (topic: string, records: readonly OutgoingRecord[]) => {
        if (closed) throw new TransportError('ERR_KAFKA_CLOSED', 'producer is closed');
        this.check();
        const t = this.#topic(topic);
        const n = t.partitions.length;
        for (const record of records) {
          if (record.partition !== undefined && (record.partition < 0 || record.partition >= n)) {
            throw new TransportError('ERR_KAFKA_TOPIC_MISSING', `partition ${record.partition} of ${topic} does not exist`);
          }
        }
        const now = this.#now();
        for (const r of records) {
          const partition = r.partition ?? (r.key === null ? roundRobin++ % n : javaPartition(r.key, n));
          t.partitions[partition]!.push({ key: r.key === null ? null : Buffer.from(r.key, 'utf8'), value: Buffer.from(r.value), timestamp: now });
        }
        for (const reader of this.#readers) reader.poke();
      },
      close: async () => {
        closed = true;
      },
    };
  }

  async admin(): Promise<TopicAdmin> {
    this.check();
    const admin: TopicAdmin = {
      ensureTopic: async (spec: TopicSpec) => {
        this.check();
        const existing = this.#topics.get(spec.topic);
        if (existing === undefined) {
          if (!(spec.partitions > 0)) throw new TransportError('ERR_KAFKA_REJECTED', 'partitions must be positive');
          for (const [name, value] of Object.entries(spec.configs)) {
            if (/\.(ms|bytes)$|replicas$/.test(name) && !/^-?\d+$/.test(value)) {
              throw new TransportError('ERR_KAFKA_REJECTED', `invalid value ${value} for configuration ${name}`);
            }
          }
          this.#topics.set(spec.topic, {
            configs: { ...spec.configs },
            partitions: Array.from({ length: spec.partitions }, () => []),
            lowWatermarks: Array.from({ length: spec.partitions }, () => 0),
          });
          return;
        }
        const wanted = Number(spec.configs['retention.ms'] ?? 0);
        const have = Number(existing.configs['retention.ms'] ?? 0);
        if (have !== -1 && wanted > have) existing.configs['retention.ms'] = String(wanted);
      },
      partitionCount: async (topic) => {
        this.check();
        return this.#topic(topic).partitions.length;
      },
      highWatermarks: async (topic) => {
        this.check();
        const t = this.#topic(topic);
        return new Map(t.partitions.map((records, p) => [p, BigInt((t.lowWatermarks[p] ?? 0) + records.length)]));
      },
      lowWatermarks: async (topic) => {
        this.check();
        const t = this.#topic(topic);
        return new Map(t.partitions.map((_, p) => [p, BigInt(t.lowWatermarks[p] ?? 0)]));
      },
      describeTopicConfigs: async (topic) => {
        this.check();
        return { ...this.#topic(topic).configs };
      },
      createPartitions: async (topic, partitions) => {
        this.check();
        const t = this.#topic(topic);
        while (t.partitions.length < partitions) {
          t.partitions.push([]);
          t.lowWatermarks.push(0);
        }
        for (const reader of this.#readers) reader.poke();
      },
      listTopics: async () => {
        this.check();
        return [...this.#topics.keys()];
      },
      // No consumer groups exist here: readers are group-less.
      listGroups: async () => {
        this.check();
        return [];
      },
      close: async () => undefined,
    };
    return admin;
  }

  async subscribeAll(options: BroadcastSubscriptionOptions): Promise<BroadcastSubscription> {
    this.check();
    const reader = new MemoryReader(this, options, () => this.#readers.delete(reader));
    this.#readers.add(reader);
    reader.poke();
    return reader;
  }

  /** @internal */
  check(): void {
    if (!this.#available) throw new TransportError('ERR_KAFKA_UNAVAILABLE', 'in-memory broker is unavailable');
  }

  /** @internal */
  read(topic: string, partition: number, from: number): { low: number; records: StoredRecord[] } | undefined {
    const t = this.#topics.get(topic);
    if (t === undefined || partition >= t.partitions.length) return undefined;
    const low = t.lowWatermarks[partition] ?? 0;
    const records = t.partitions[partition]!;
    return { low, records: records.slice(Math.max(0, from - low)) };
  }

  /** @internal */
  partitionsOf(topic: string): number {
    return this.#topics.get(topic)?.partitions.length ?? 0;
  }

  #topic(topic: string): MemoryTopic {
    const t = this.#topics.get(topic);
    if (t === undefined) throw new TransportError('ERR_KAFKA_TOPIC_MISSING', `topic ${topic} does not exist`);
    return t;
  }
}

class MemoryReader implements BroadcastSubscription {
  readonly #broker: MemoryTransport;
  readonly #options: BroadcastSubscriptionOptions;
  readonly #onStop: () => void;
  readonly #positions = new Map<number, number>();
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #connected = false;
  frozen = false;

  constructor(broker: MemoryTransport, options: BroadcastSubscriptionOptions, onStop: () => void) {
    this.#broker = broker;
    this.#options = options;
    this.#onStop = onStop;
    for (const [partition, offset] of options.from ?? []) this.#positions.set(partition, Number(offset));
  }

  /** Delivers whatever is new (asynchronously, one batch per partition, awaited). */
  poke(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await Promise.resolve();
        await this.#drain();
      } while (this.#again && !this.#stopped);
      this.#running = undefined;
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#onStop();
    await this.#running;
  }

  fail(error: TransportError): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#onStop();
    this.#options.onFailed?.(error);
  }

  async #drain(): Promise<void> {
    if (this.frozen || this.#stopped) return;
    try {
      this.#broker.check();
    } catch (error) {
      if (this.#connected) this.#options.onError?.(error as TransportError);
      this.#connected = false;
      return;
    }
    if (!this.#connected) {
      this.#connected = true;
      this.#options.onConnected?.();
    }
    const topic = this.#options.topic;
    const partitions = this.#broker.partitionsOf(topic);
    for (let partition = 0; partition < partitions && !this.#stopped; partition++) {
      const from = this.#positions.get(partition) ?? 0;
      const read = this.#broker.read(topic, partition, from);
      if (read === undefined) continue;
      const start = Math.max(from, read.low);
      if (read.records.length === 0) {
        this.#positions.set(partition, start);
        continue;
      }
      const batch: IncomingRecord[] = read.records.map((r, i) => ({
        topic,
        partition,
        offset: String(start + i),
        key: r.key,
        value: r.value,
        timestamp: r.timestamp,
      }));
      this.#positions.set(partition, start + batch.length);
      await this.#options.onRecords(batch);
    }
  }
}
