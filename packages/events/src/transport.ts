/**
 * The seam between Revocable and a Kafka client library. Everything else in the project
 * talks to these interfaces; `kafka.ts` implements them with kafkajs. Swapping the client
 * (kafkajs is no longer actively maintained) means writing one more implementation.
 */

/** One record to publish. */
export interface OutgoingRecord {
  /** Partitioning key (`sub`); null lets the client choose, unless `partition` is set. */
  key: string | null;
  value: Buffer;
  /** Explicit partition (heartbeats go to every partition). */
  partition?: number;
}

/** One consumed record, as the client library delivered it. */
export interface IncomingRecord {
  topic: string;
  partition: number;
  /** Offset as a decimal string (Kafka offsets are 64-bit). */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Broker/producer timestamp, epoch milliseconds. */
  timestamp: number;
}

/** Topic settings the project creates topics with. */
export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  /** Topic-level configs, e.g. `retention.ms`. */
  configs: Record<string, string>;
}

export interface EventProducer {
  /**
   * Publishes records and resolves only once the broker acknowledged every one of them
   * (idempotent producer, acks=all). Rejects on failure; the caller keeps the records.
   */
  send(topic: string, records: readonly OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface TopicAdmin {
  /** Creates the topic if missing; if it exists, raises its retention to at least the spec's. */
  ensureTopic(spec: TopicSpec): Promise<void>;
  /** Number of partitions of an existing topic. */
  partitionCount(topic: string): Promise<number>;
  /** High watermark (next offset to be written) per partition. */
  highWatermarks(topic: string): Promise<Map<number, bigint>>;
  /** Low watermark (earliest retained offset) per partition. */
  lowWatermarks(topic: string): Promise<Map<number, bigint>>;
  /** The topic's effective configs as the broker reports them. */
  describeTopicConfigs(topic: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export interface BroadcastSubscriptionOptions {
  topic: string;
  /** Called for each batch, in offset order per partition; awaited before the next batch. */
  onRecords: (records: readonly IncomingRecord[]) => void | Promise<void>;
  /** Called when the client loses the broker or crashes; the implementation reconnects by itself. */
  onError?: (error: Error) => void;
  /** Called when (re)connected and fetching. */
  onConnected?: () => void;
}

/** A running broadcast subscription: this instance reads every partition itself. */
export interface BroadcastSubscription {
  stop(): Promise<void>;
}

export interface EventTransport {
  /** A connected idempotent producer. */
  producer(): Promise<EventProducer>;
  /** A connected admin client. */
  admin(): Promise<TopicAdmin>;
  /**
   * Reads every partition of `topic` from the earliest retained offset (replaying the
   * retention window), independent of any other instance: no shared consumer group,
   * no committed offsets.
   */
  subscribeAll(options: BroadcastSubscriptionOptions): Promise<BroadcastSubscription>;
}
