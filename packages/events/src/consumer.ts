import type { TransportLogger } from './kafka.ts';
import type { SkipCode } from '@revocable/protocol';
import { parseEvent, type RevocationEvent } from './schema.ts';
import type { BroadcastSubscription, EventTransport, IncomingRecord, TopicAdmin } from './transport.ts';

export interface RevocationConsumerOptions {
  transport: EventTransport;
  topic: string;
  /** Applies one revocation event (e.g. `denylist.apply`). Must not throw; errors are counted and skipped. */
  onEvent: (event: RevocationEvent, meta: { partition: number; offset: string }) => void;
  /** Called for each skipped record with its reject code. */
  onSkip?: (code: SkipCode, detail: string, meta: { partition: number; offset: string }) => void;
  /** Called after an event was applied, with event time → applied latency in milliseconds. */
  onApplied?: (event: RevocationEvent, latencyMs: number) => void;
  /** Injected clock, epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  logger?: TransportLogger;
  /** Delay between attempts to read the topic's watermarks at start, in milliseconds. Default 1000. */
  startRetryMs?: number;
}

export interface RevocationConsumerStats {
  applied: number;
  skipped: Record<SkipCode, number>;
  heartbeats: number;
  /** Records between this instance's position and the start high watermark, per partition (0 once caught up). */
  lagByPartition: Map<number, number>;
  lastApplyLatencyMs: number | null;
}

/**
 * Feeds a resource service's revocation state from the topic. Reads every partition
 * (broadcast), replays the retention window, knows when it has caught up with the high
 * watermarks seen at start, and how fresh its state is (age of the stalest partition's
 * newest heartbeat). Bad records are counted and skipped; they never stop consumption.
 */
export class RevocationConsumer {
  readonly #options: RevocationConsumerOptions;
  readonly #now: () => number;
  #subscription: BroadcastSubscription | null = null;
  #admin: TopicAdmin | null = null;
  #stopped = false;
  /** Start high watermark per partition; consumption must reach it to be caught up. */
  #targets = new Map<number, bigint>();
  /** Next offset to read per partition. */
  #positions = new Map<number, bigint>();
  /** Newest heartbeat (or event) time seen per partition, epoch ms. */
  #lastSeenAt = new Map<number, number>();
  #caughtUp = false;
  #caughtUpWaiters: Array<() => void> = [];
  #stats: RevocationConsumerStats = {
    applied: 0,
    skipped: {
      ERR_EVENT_TOO_LARGE: 0,
      ERR_EVENT_NOT_JSON: 0,
      ERR_EVENT_UNSUPPORTED_VERSION: 0,
      ERR_EVENT_UNKNOWN_TYPE: 0,
      ERR_EVENT_INVALID: 0,
      ERR_EVENT_APPLY_FAILED: 0,
    },
    heartbeats: 0,
    lagByPartition: new Map(),
    lastApplyLatencyMs: null,
  };
  #startPromise: Promise<void> | null = null;

  constructor(options: RevocationConsumerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Resolves once the start watermarks are known and the subscription runs; replay goes on
   * in the background (see {@link whenCaughtUp}). If the topic does not exist yet or the
   * broker is down, keeps retrying until it can, or until {@link stop}.
   */
  start(): Promise<void> {
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  async #start(): Promise<void> {
    const retryMs = this.#options.startRetryMs ?? 1000;
    for (;;) {
      if (this.#stopped) return;
      try {
        this.#admin ??= await this.#options.transport.admin();
        const [high, low] = await Promise.all([
          this.#admin.highWatermarks(this.#options.topic),
          this.#admin.lowWatermarks(this.#options.topic),
        ]);
        for (const [partition, target] of high) {
          this.#targets.set(partition, target);
          this.#positions.set(partition, low.get(partition) ?? 0n);
        }
        break;
      } catch (error) {
        this.#options.logger?.warn({ err: error, topic: this.#options.topic }, 'revocation topic not readable yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    }
    if (this.#stopped) return;
    this.#updateCaughtUp();
    this.#subscription = await this.#options.transport.subscribeAll({
      topic: this.#options.topic,
      onRecords: (records) => this.#onRecords(records),
      onError: (error) => this.#options.logger?.warn({ err: error }, 'revocation consumer lost the broker; reconnecting'),
    });
    if (this.#stopped) await this.#subscription.stop();
  }

  /** Resolves when every partition reached the high watermark it had at start. */
  whenCaughtUp(): Promise<void> {
    if (this.#caughtUp) return Promise.resolve();
    return new Promise((resolve) => this.#caughtUpWaiters.push(resolve));
  }

  /** True once the replay reached the start high watermarks: only then may the service serve. */
  isCaughtUp(): boolean {
    return this.#caughtUp;
  }

  /**
   * How old this instance's revocation state may be, in seconds: time since the newest
   * heartbeat of the stalest partition. `Infinity` before every partition was heard from.
   */
  freshnessSeconds(): number {
    if (this.#targets.size === 0) return Number.POSITIVE_INFINITY;
    let oldest = Number.POSITIVE_INFINITY;
    for (const partition of this.#targets.keys()) {
      const seen = this.#lastSeenAt.get(partition);
      if (seen === undefined) return Number.POSITIVE_INFINITY;
      oldest = Math.min(oldest, seen);
    }
    return Math.max(0, (this.#now() - oldest) / 1000);
  }

  /** Counters for metrics. The returned object is a snapshot. */
  stats(): RevocationConsumerStats {
    const lag = new Map<number, number>();
    for (const [partition, target] of this.#targets) {
      const position = this.#positions.get(partition) ?? 0n;
      lag.set(partition, target > position ? Number(target - position) : 0);
    }
    return { ...this.#stats, skipped: { ...this.#stats.skipped }, lagByPartition: lag };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#startPromise?.catch(() => undefined);
    await this.#subscription?.stop();
    await this.#admin?.close();
    this.#subscription = null;
    this.#admin = null;
  }

  #onRecords(records: readonly IncomingRecord[]): void {
    for (const record of records) {
      const meta = { partition: record.partition, offset: record.offset };
      const next = BigInt(record.offset) + 1n;
      const position = this.#positions.get(record.partition) ?? 0n;
      if (next > position) this.#positions.set(record.partition, next);
      const parsed = parseEvent(record.value);
      if (!parsed.ok) {
        this.#stats.skipped[parsed.code] += 1;
        this.#options.onSkip?.(parsed.code, parsed.detail, meta);
        continue;
      }
      const event = parsed.event;
      const seen = this.#lastSeenAt.get(record.partition) ?? 0;
      if (event.at > seen) this.#lastSeenAt.set(record.partition, event.at);
      if (event.type === 'heartbeat') {
        this.#stats.heartbeats += 1;
        continue;
      }
      try {
        this.#options.onEvent(event, meta);
      } catch (error) {
        this.#stats.skipped.ERR_EVENT_APPLY_FAILED += 1;
        this.#options.onSkip?.('ERR_EVENT_APPLY_FAILED', error instanceof Error ? error.message : String(error), meta);
        continue;
      }
      this.#stats.applied += 1;
      const latencyMs = Math.max(0, this.#now() - event.at);
      this.#stats.lastApplyLatencyMs = latencyMs;
      this.#options.onApplied?.(event, latencyMs);
    }
    this.#updateCaughtUp();
  }

  #updateCaughtUp(): void {
    if (this.#caughtUp || this.#targets.size === 0) return;
    for (const [partition, target] of this.#targets) {
      if ((this.#positions.get(partition) ?? 0n) < target) return;
    }
    this.#caughtUp = true;
    for (const resolve of this.#caughtUpWaiters.splice(0)) resolve();
  }
}
