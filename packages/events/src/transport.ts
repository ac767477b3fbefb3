/**
 * The seam between Revocable and a Kafka client library. Everything else in the project
 * talks to these interfaces and to {@link TransportError}; `platformatic.ts`
 * (@platformatic/kafka, the default), `kafkajs.ts` and `memory.ts` (unit tests) implement
 * them, and every implementation passes the same contract suite (test/transport-contract.test.ts).
 */

import type { Logger } from '@revocable/protocol';

/**
 * Stable failure codes of the seam. Callers branch on these (and on `retriable`), never on
 * a client library's error names.
 * - `ERR_KAFKA_UNAVAILABLE`: the broker cannot be reached or dropped the connection (retriable).
 * - `ERR_KAFKA_TIMEOUT`: a request got no answer in time (retriable).
 * - `ERR_KAFKA_TOPIC_MISSING`: the topic does not exist (retriable: it may be created).
 * - `ERR_KAFKA_AUTH`: SASL/TLS authentication or authorization failed (not retriable).
 * - `ERR_KAFKA_REJECTED`: the broker refused the request as invalid (not retriable).
 * - `ERR_KAFKA_CLOSED`: the client was closed (not retriable).
 */
export type TransportErrorCode =
  | 'ERR_KAFKA_UNAVAILABLE'
  | 'ERR_KAFKA_TIMEOUT'
  | 'ERR_KAFKA_TOPIC_MISSING'
  | 'ERR_KAFKA_AUTH'
  | 'ERR_KAFKA_REJECTED'
  | 'ERR_KAFKA_CLOSED';

const RETRIABLE: Record<TransportErrorCode, boolean> = {
  ERR_KAFKA_UNAVAILABLE: true,
  ERR_KAFKA_TIMEOUT: true,
  ERR_KAFKA_TOPIC_MISSING: true,
  ERR_KAFKA_AUTH: false,
  ERR_KAFKA_REJECTED: false,
  ERR_KAFKA_CLOSED: false,
};

const BRAND = Symbol.for('revocable.TransportError');

/**
 * Every failure of every adapter, wrapped: `code` is stable, `retriable` says whether trying
 * again later can succeed, `cause` keeps the client library's own error for logs.
 *
 * @example
 * try { await producer.send(topic, records) }
 * catch (error) { if (isTransportError(error) && error.retriable) scheduleRetry() }
 */
export class TransportError extends Error {
  readonly code: TransportErrorCode;
  readonly retriable: boolean;
  readonly [BRAND] = true;
  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
    this.code = code;
    this.retriable = RETRIABLE[code];
  }
}

/** True for a {@link TransportError} (also across duplicated copies of this package). */
export function isTransportError(error: unknown): error is TransportError {
  return error instanceof TransportError || (typeof error === 'object' && error !== null && (error as { [BRAND]?: unknown })[BRAND] === true);
}

/** The logger a transport writes to: the protocol's pino-compatible {@link Logger}. */
export type TransportLogger = Logger;

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
   * (idempotent producer, acks=all, records of one key in order on one partition chosen by
   * Java's murmur2 partitioner). Rejects with a {@link TransportError}; the caller keeps the records.
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
  /** Grows the topic to `partitions` partitions (never shrinks; a no-op when it has as many). */
  createPartitions(topic: string, partitions: number): Promise<void>;
  /** Names of the (non-internal) topics. */
  listTopics(): Promise<string[]>;
  /** Ids of the consumer groups the broker knows (a broadcast reader must leave none). */
  listGroups(): Promise<string[]>;
  close(): Promise<void>;
}

export interface BroadcastSubscriptionOptions {
  topic: string;
  /** Next offset to read per partition (a recreated reader resumes); other partitions start at the earliest offset. */
  from?: ReadonlyMap<number, bigint>;
  /** Called for each batch, in offset order per partition; awaited before the next batch. */
  onRecords: (records: readonly IncomingRecord[]) => void | Promise<void>;
  /** Called with a {@link TransportError} when the reader loses the broker; it reconnects by itself. */
  onError?: (error: TransportError) => void;
  /** Called when (re)connected and fetching. */
  onConnected?: () => void;
  /**
   * Called when the reader gave up for good (a non-retriable failure, e.g. authentication);
   * the caller decides whether to start a new subscription.
   */
  onFailed?: (error: TransportError) => void;
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
   * retention window), independent of any other instance: no shared consumer group, no
   * committed offsets. Partitions added while it runs are read too (from their start).
   */
  subscribeAll(options: BroadcastSubscriptionOptions): Promise<BroadcastSubscription>;
}
