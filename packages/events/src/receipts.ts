/**
 * Receipts: what each resource-service instance applied, and that it is alive, on a topic
 * of its own that resource services write and only the auth service reads.
 *
 * Wire format (JSON, one object per record, keyed by the instance id):
 * - `{v: 1, kind: "applied", instance, service, audiences, events: [{id, type, at, applied_at, phase}]}`:
 *   a batch of revocation events this instance applied (`at` is the event's own time on the
 *   auth service's clock, `applied_at` the instance's clock, `phase` `live` or `replay`);
 * - `{v: 1, kind: "announce", instance, service, audiences, at, interval_ms, state, ready, freshness_seconds, lag}`:
 *   sent every `interval_ms`, and once with `state: "leaving"` on a graceful stop.
 *
 * Liveness (applied by the reader, on its own clock): an instance is live while its last
 * announce or receipt arrived less than {@link LIVENESS_INTERVALS} × its `interval_ms` ago
 * and it has not announced `leaving`.
 */
import { hostname } from 'node:os';
import type { Logger } from '@revocable/protocol';
import type { RevocationEvent } from './schema.ts';
import { isTransportError, type EventProducer, type EventTransport, type TopicSpec } from './transport.ts';

/** How many missed announce intervals make an instance stop counting as live. */
export const LIVENESS_INTERVALS = 3;

/** Largest receipt record accepted by a reader, bytes. */
export const MAX_RECEIPT_BYTES = 256 * 1024;

/** The receipts topic of a revocation topic: `<revocation topic>.receipts` unless configured. */
export function defaultReceiptsTopic(revocationTopic: string): string {
  return `${revocationTopic}.receipts`;
}

/** Settings of the receipts topic: short retention (receipts matter for minutes), 3 partitions. */
export function receiptsTopicSpec(options: { topic: string; partitions?: number; replicationFactor?: number }): TopicSpec {
  const replicationFactor = options.replicationFactor ?? 1;
  return {
    topic: options.topic,
    partitions: options.partitions ?? 3,
    replicationFactor,
    configs: {
      'cleanup.policy': 'delete',
      'retention.ms': String(60 * 60 * 1000),
      'segment.ms': String(10 * 60 * 1000),
      'min.insync.replicas': String(Math.min(2, replicationFactor)),
      'message.timestamp.type': 'CreateTime',
    },
  };
}

/** One applied event in an `applied` receipt. */
export interface AppliedEvent {
  id: string;
  type: RevocationEvent['type'];
  /** The event's `at` (auth service's clock), epoch ms. */
  at: number;
  /** When this instance applied it (its own clock), epoch ms. */
  appliedAt: number;
  phase: 'live' | 'replay';
}

/** Who sends a receipt. */
export interface ReceiptSender {
  instance: string;
  service: string;
  audiences: readonly string[];
}

export type ReceiptMessage =
  | ({ kind: 'applied'; events: AppliedEvent[] } & ReceiptSender)
  | ({
      kind: 'announce';
      /** Sender's clock, epoch ms. */
      at: number;
      intervalMs: number;
      state: 'up' | 'leaving';
      ready: boolean;
      /** Age of the sender's revocation state, seconds; null before its first heartbeat. */
      freshnessSeconds: number | null;
      /** Records behind the revocation topic. */
      lag: number;
    } & ReceiptSender);

/** Thrown by {@link parseReceipt} for a record that is not a receipt; `code` says why. */
export class ReceiptFormatError extends Error {
  readonly code: 'ERR_RECEIPT_TOO_LARGE' | 'ERR_RECEIPT_NOT_JSON' | 'ERR_RECEIPT_INVALID';
  constructor(code: ReceiptFormatError['code'], message: string) {
    super(message);
    this.name = 'ReceiptFormatError';
    this.code = code;
  }
}

const NAME = /^[\w.:@/+=-]{1,128}$/;
const EVENT_TYPES = new Set(['session.revoked', 'user.revoked', 'token.revoked', 'key.revoked']);

/** The record value of a receipt message. */
export function encodeReceipt(message: ReceiptMessage): Buffer {
  const sender = { v: 1, kind: message.kind, instance: message.instance, service: message.service, audiences: message.audiences };
  if (message.kind === 'applied') {
    return Buffer.from(JSON.stringify({ ...sender, events: message.events.map((e) => ({ id: e.id, type: e.type, at: e.at, applied_at: e.appliedAt, phase: e.phase })) }));
  }
  return Buffer.from(
    JSON.stringify({
      ...sender,
      at: message.at,
      interval_ms: message.intervalMs,
      state: message.state,
      ready: message.ready,
      freshness_seconds: message.freshnessSeconds,
      lag: message.lag,
    }),
  );
}

/**
 * Parses and validates a receipt record. Throws {@link ReceiptFormatError} for anything
 * else (the reader counts and skips it).
 */
export function parseReceipt(value: Buffer | null): ReceiptMessage {
  if (value === null || value.length === 0) throw new ReceiptFormatError('ERR_RECEIPT_INVALID', 'empty record');
  if (value.length > MAX_RECEIPT_BYTES) throw new ReceiptFormatError('ERR_RECEIPT_TOO_LARGE', `record of ${value.length} bytes`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(value.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ReceiptFormatError('ERR_RECEIPT_NOT_JSON', 'record is not JSON');
  }
  const invalid = (what: string) => new ReceiptFormatError('ERR_RECEIPT_INVALID', what);
  if (typeof o !== 'object' || o === null || o['v'] !== 1) throw invalid('not a v1 receipt');
  const { instance, service, audiences } = o;
  if (typeof instance !== 'string' || !NAME.test(instance)) throw invalid('bad instance');
  if (typeof service !== 'string' || !NAME.test(service)) throw invalid('bad service');
  if (!Array.isArray(audiences) || audiences.length === 0 || audiences.length > 64 || !audiences.every((a) => typeof a === 'string' && NAME.test(a))) {
    throw invalid('bad audiences');
  }
  const sender = { instance, service, audiences: audiences as string[] };
  const time = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (o['kind'] === 'applied') {
    const events = o['events'];
    if (!Array.isArray(events) || events.length === 0 || events.length > 1000) throw invalid('bad events');
    const parsed: AppliedEvent[] = events.map((raw: unknown) => {
      const e = raw as Record<string, unknown>;
      if (typeof e !== 'object' || e === null) throw invalid('bad event');
      if (typeof e['id'] !== 'string' || e['id'].length === 0 || e['id'].length > 128) throw invalid('bad event id');
      if (typeof e['type'] !== 'string' || !EVENT_TYPES.has(e['type'])) throw invalid('bad event type');
      if (!time(e['at']) || !time(e['applied_at'])) throw invalid('bad event times');
      if (e['phase'] !== 'live' && e['phase'] !== 'replay') throw invalid('bad phase');
      return { id: e['id'], type: e['type'] as AppliedEvent['type'], at: e['at'] as number, appliedAt: e['applied_at'] as number, phase: e['phase'] };
    });
    return { kind: 'applied', ...sender, events: parsed };
  }
  if (o['kind'] === 'announce') {
    const interval = o['interval_ms'];
    if (!time(o['at']) || typeof interval !== 'number' || !Number.isSafeInteger(interval) || interval < 10 || interval > 3_600_000) throw invalid('bad announce times');
    if (o['state'] !== 'up' && o['state'] !== 'leaving') throw invalid('bad state');
    const freshness = o['freshness_seconds'];
    if (freshness !== null && (typeof freshness !== 'number' || !Number.isFinite(freshness) || freshness < 0)) throw invalid('bad freshness');
    const lag = o['lag'];
    if (typeof lag !== 'number' || !Number.isSafeInteger(lag) || lag < 0) throw invalid('bad lag');
    return {
      kind: 'announce',
      ...sender,
      at: o['at'] as number,
      intervalMs: interval,
      state: o['state'],
      ready: o['ready'] === true,
      freshnessSeconds: freshness,
      lag,
    };
  }
  throw invalid('unknown kind');
}

/** A default instance id: `<service>-<host>-<pid>`. */
export function defaultInstanceId(service: string): string {
  return `${service}-${hostname().replace(/[^\w.-]/g, '').slice(0, 64) || 'host'}-${process.pid}`;
}

/** What {@link ReceiptPublisher} reports about itself each announce. */
export interface InstanceState {
  ready: boolean;
  freshnessSeconds: number | null;
  lag: number;
}

/** Options of {@link ReceiptPublisher}. */
export interface ReceiptPublisherOptions extends ReceiptSender {
  transport: EventTransport;
  topic: string;
  /** Announce interval, milliseconds. Default 2000. */
  announceIntervalMs?: number;
  /** Longest a receipt waits to be batched, milliseconds. Default 20. */
  flushDelayMs?: number;
  /** Receipts kept while Kafka is unreachable; the oldest are dropped (and counted) past it. Default 10000. */
  maxBuffered?: number;
  /** The instance's state for announces. */
  state: () => InstanceState;
  /** Called with the number of receipts dropped (buffer full) and of records sent. */
  onDropped?: (count: number) => void;
  onSent?: (kind: 'applied' | 'announce') => void;
  /** Injected clock, epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  logger?: Pick<Logger, 'warn' | 'debug'>;
}

/**
 * The resource-service side: batches a receipt per applied revocation event (never for
 * heartbeats) and announces the instance every `announceIntervalMs`, on the receipts topic.
 * Sends are retried while Kafka is unreachable or the topic does not exist yet (the auth
 * service creates it); the buffer is bounded. `stop()` announces `leaving` (best effort).
 * @example
 * const receipts = new ReceiptPublisher({ transport, topic: 'revocable.revocations.receipts', instance: 'orders-1', service: 'orders', audiences: ['orders'], state });
 * receipts.start();
 * receipts.applied(event, Date.now(), 'live');
 */
export class ReceiptPublisher {
  readonly #o: ReceiptPublisherOptions;
  readonly #now: () => number;
  readonly #intervalMs: number;
  #producer: Promise<EventProducer> | null = null;
  #pending: AppliedEvent[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  #announceTimer: NodeJS.Timeout | undefined;
  #sending: Promise<void> = Promise.resolve();
  #stopped = false;
  #warnedAt = 0;
  #retryMs = 250;
  #createTriedAt = Number.NEGATIVE_INFINITY;

  constructor(options: ReceiptPublisherOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#intervalMs = options.announceIntervalMs ?? 2000;
  }

  /** Starts announcing (immediately, then every interval). */
  start(): void {
    if (this.#announceTimer !== undefined || this.#stopped) return;
    this.#announce('up');
    this.#announceTimer = setInterval(() => this.#announce('up'), this.#intervalMs);
    this.#announceTimer.unref();
  }

  /** Queues a receipt for `event`, applied at `appliedAt` (this instance's clock). */
  applied(event: RevocationEvent, appliedAt: number, phase: 'live' | 'replay'): void {
    if (this.#stopped) return;
    this.#pending.push({ id: event.id, type: event.type, at: event.at, appliedAt, phase });
    const max = this.#o.maxBuffered ?? 10_000;
    if (this.#pending.length > max) {
      const dropped = this.#pending.length - max;
      this.#pending.splice(0, dropped);
      this.#o.onDropped?.(dropped);
    }
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flush();
    }, this.#o.flushDelayMs ?? 20);
  }

  /** Sends what is queued, announces `leaving`, and closes the producer. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    clearInterval(this.#announceTimer);
    clearTimeout(this.#flushTimer);
    this.#flush();
    this.#announce('leaving');
    this.#stopped = true;
    // Best effort, bounded: a stop must not hang on an unreachable broker.
    await Promise.race([this.#sending, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    const producer = this.#producer;
    this.#producer = null;
    if (producer !== null) await producer.then((p) => p.close()).catch(() => undefined);
  }

  #sender(): ReceiptSender {
    return { instance: this.#o.instance, service: this.#o.service, audiences: this.#o.audiences };
  }

  #announce(state: 'up' | 'leaving'): void {
    if (this.#stopped) return;
    const s = this.#o.state();
    const message: ReceiptMessage = { kind: 'announce', ...this.#sender(), at: this.#now(), intervalMs: this.#intervalMs, state, ...s };
    // An announce that cannot be sent is not retried: the next one says the same, newer.
    this.#enqueue([message], false);
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    const batches: ReceiptMessage[] = [];
    while (this.#pending.length > 0) batches.push({ kind: 'applied', ...this.#sender(), events: this.#pending.splice(0, 500) });
    this.#enqueue(batches, true);
  }

  // One send at a time, in order; receipts that failed go back to the front of the queue.
  #enqueue(messages: ReceiptMessage[], retry: boolean): void {
    this.#sending = this.#sending.then(async () => {
      try {
        this.#producer ??= this.#o.transport.producer();
        const producer = await this.#producer;
        await producer.send(
          this.#o.topic,
          messages.map((m) => ({ key: this.#o.instance, value: encodeReceipt(m) })),
        );
        for (const m of messages) this.#o.onSent?.(m.kind);
      } catch (error) {
        const missing = isTransportError(error) && error.code === 'ERR_KAFKA_TOPIC_MISSING';
        if (missing) await this.#createTopic();
        else if (this.#producer !== null) {
          const failed = this.#producer;
          this.#producer = null;
          void failed.then((p) => p.close()).catch(() => undefined);
        }
        this.#retryMs = Math.min(10_000, this.#retryMs * 2);
        const nowMs = this.#now();
        if (nowMs - this.#warnedAt > 10_000) {
          this.#warnedAt = nowMs;
          this.#o.logger?.warn({ err: (error as Error).message, code: (error as { code?: unknown }).code }, 'receipts not sent; retrying');
        }
        if (retry && !this.#stopped) {
          const events = messages.flatMap((m) => (m.kind === 'applied' ? m.events : []));
          this.#pending.unshift(...events);
          this.#flushTimer ??= setTimeout(() => {
            this.#flushTimer = undefined;
            this.#flush();
          }, this.#retryMs);
        }
        return;
      }
      this.#retryMs = 250;
    });
  }

  // The auth service creates the topic; an instance allowed to create it (no ACLs) does not wait for that.
  async #createTopic(): Promise<void> {
    const nowMs = this.#now();
    if (nowMs - this.#createTriedAt < 30_000) return;
    this.#createTriedAt = nowMs;
    try {
      const admin = await this.#o.transport.admin();
      try {
        await admin.ensureTopic(receiptsTopicSpec({ topic: this.#o.topic }));
      } finally {
        await admin.close();
      }
    } catch (error) {
      this.#o.logger?.debug({ err: (error as Error).message }, 'could not create the receipts topic (the auth service creates it)');
    }
  }
}
