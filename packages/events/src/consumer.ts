import type { SkipCode } from '@revocable/protocol';
import type { HeartbeatVerifier } from './heartbeat.ts';
import { parseEvent, type HeartbeatEvent, type RevocationEvent } from './schema.ts';
import type { BroadcastSubscription, EventTransport, IncomingRecord, TopicAdmin, TransportError, TransportLogger } from './transport.ts';

/**
 * Where the broadcast reader is:
 * - `starting`: reading the start watermarks (broker down or topic missing: retrying);
 * - `running`: subscribed and reading (or reconnecting by itself after a transient failure);
 * - `stalled`: the broker answers and holds records this reader has not received for
 *   `stallAfterMs`: the watchdog is recreating it;
 * - `failed`: the reader gave up (a non-retriable failure); the watchdog recreates it;
 * - `stopped`: {@link RevocationConsumer.stop} was called.
 */
export type RevocationReaderState = 'starting' | 'running' | 'stalled' | 'failed' | 'stopped';

/** The reader's health, for `/readyz` and metrics. */
export interface RevocationReaderStatus {
  state: RevocationReaderState;
  /** Why the reader is not `running` (or what it last reported), e.g. `ERR_KAFKA_AUTH: ...`. Null when healthy. */
  reason: string | null;
  /** True while the transport reports the broker lost (the reader reconnects by itself). */
  reconnecting: boolean;
  /** Times the watchdog replaced the subscription. */
  restarts: number;
  /** Epoch ms (wall clock) of the last record (event or heartbeat) received, or null. */
  lastRecordAt: number | null;
}

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
  /**
   * Monotonic clock, milliseconds (any origin): freshness is measured on it, from the receipt
   * of the newest valid heartbeat. Default `now` when `now` is injected (tests), else
   * `performance.now`.
   */
  monotonicNow?: () => number;
  /**
   * Checks heartbeat signatures (e.g. an `EventKeyRing` fed from the issuer's JWKS). Without
   * it no heartbeat counts: freshness stays `Infinity`.
   */
  heartbeatVerifier?: HeartbeatVerifier;
  /**
   * A heartbeat whose `at` is further than this from `now` (either way) is skipped
   * (`ERR_HEARTBEAT_SKEWED`), milliseconds. Default 60000.
   */
  heartbeatMaxSkewMs?: number;
  logger?: TransportLogger;
  /** Delay between attempts to read the topic's watermarks at start, in milliseconds. Default 1000. */
  startRetryMs?: number;
  /** How often the watchdog checks the reader, in milliseconds (real time). Default 1000; 0 disables it. */
  watchdogIntervalMs?: number;
  /**
   * A reader that received nothing for this long while the broker answers and holds records
   * beyond its position is stalled and gets recreated, in milliseconds. Default 5000.
   */
  stallAfterMs?: number;
  /** Wait before recreating a failed reader, in milliseconds. Default 1000. */
  restartDelayMs?: number;
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
 * watermarks seen at start, and how fresh its state is (time since it
 * received the stalest partition's newest valid signed heartbeat). Bad records are counted and skipped; they never stop consumption.
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
  /** `at` of the newest valid heartbeat per partition (replay check), epoch ms on the issuer's clock. */
  #newestHeartbeatAt = new Map<number, number>();
  /** When (monotonic clock) the newest valid heartbeat of each partition was received. */
  #heartbeatReceivedAt = new Map<number, number>();
  readonly #mono: () => number;
  readonly #maxSkewMs: number;
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
      ERR_HEARTBEAT_UNSIGNED: 0,
      ERR_HEARTBEAT_UNKNOWN_KEY: 0,
      ERR_HEARTBEAT_BAD_SIGNATURE: 0,
      ERR_HEARTBEAT_REPLAYED: 0,
      ERR_HEARTBEAT_SKEWED: 0,
    },
    heartbeats: 0,
    lagByPartition: new Map(),
    lastApplyLatencyMs: null,
  };
  #startPromise: Promise<void> | null = null;
  #state: RevocationReaderState = 'starting';
  #reason: string | null = null;
  #reconnecting = false;
  #restarts = 0;
  #lastRecordAt: number | null = null;
  /** Epoch ms when the current subscription started (stall detection counts from there too). */
  #subscribedAt = 0;
  #failedAt = 0;
  #lastRecordTick = 0;
  /** performance.now() when each partition's position last advanced. */
  #progressTick = new Map<number, number>();
  #watchdog: NodeJS.Timeout | undefined;
  #checking = false;
  /** Bumped per subscription, so a replaced one's late callbacks are ignored. */
  #generation = 0;

  constructor(options: RevocationConsumerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#mono = options.monotonicNow ?? options.now ?? (() => performance.now());
    this.#maxSkewMs = options.heartbeatMaxSkewMs ?? 60_000;
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
    await this.#subscribe();
    const every = this.#options.watchdogIntervalMs ?? 1000;
    if (every > 0 && !this.#stopped) {
      this.#watchdog = setInterval(() => void this.#check(), every);
      this.#watchdog.unref();
    }
  }

  /** Starts a subscription from the current positions; on failure the reader shows as failed. */
  async #subscribe(): Promise<void> {
    const generation = ++this.#generation;
    const current = () => generation === this.#generation && !this.#stopped;
    let failed = false;
    this.#subscribedAt = performance.now();
    try {
      const subscription = await this.#options.transport.subscribeAll({
        topic: this.#options.topic,
        from: new Map(this.#positions),
        onRecords: (records) => {
          if (current()) this.#onRecords(records);
        },
        onConnected: () => {
          if (!current()) return;
          this.#reconnecting = false;
          if (this.#state === 'running') this.#reason = null;
        },
        onError: (error) => {
          if (!current() || failed) return;
          this.#reconnecting = true;
          this.#reason = describe(error);
          this.#options.logger?.warn({ err: error, code: error.code }, 'revocation reader lost the broker; reconnecting');
        },
        onFailed: (error) => {
          if (!current()) return;
          failed = true;
          this.#fail(error);
        },
      });
      if (!current()) {
        await subscription.stop().catch(() => undefined);
        return;
      }
      this.#subscription = subscription;
      if (!failed) {
        this.#state = 'running';
        this.#reason = null;
      }
    } catch (error) {
      if (current()) this.#fail(error as TransportError);
    }
  }

  #fail(error: TransportError): void {
    this.#state = 'failed';
    this.#reason = describe(error);
    this.#failedAt = performance.now();
    this.#options.logger?.error({ err: error, code: error.code }, 'revocation reader failed; the watchdog will recreate it');
  }

  /** The watchdog: recreates a failed reader, and a stalled one (broker answers, records wait, nothing arrives). */
  async #check(): Promise<void> {
    if (this.#checking || this.#stopped) return;
    this.#checking = true;
    try {
      // Real time, not the injected clock: this is about the reader being alive.
      const now = performance.now();
      if (this.#state === 'failed') {
        if (now - this.#failedAt >= (this.#options.restartDelayMs ?? 1000)) await this.#restart('failed');
        return;
      }
      if (this.#state !== 'running' && this.#state !== 'stalled') return;
      const stallAfterMs = this.#options.stallAfterMs ?? 5000;
      // A partition is quiet when its position has not moved for stallAfterMs (records on other
      // partitions do not count: a reader can be stuck on one partition, e.g. one added later).
      const quietSince = (partition: number) => Math.max(this.#progressTick.get(partition) ?? 0, this.#subscribedAt);
      if (now - this.#subscribedAt < stallAfterMs) return;
      // Is it the reader? Only if the broker answers and holds records past a quiet partition's position.
      let high: Map<number, bigint>;
      try {
        this.#admin ??= await this.#options.transport.admin();
        high = await this.#admin.highWatermarks(this.#options.topic);
      } catch {
        // The broker does not answer either: the reader's own reconnect handles that.
        await this.#admin?.close().catch(() => undefined);
        this.#admin = null;
        return;
      }
      const stuck = [...high].filter(([partition, watermark]) => watermark > (this.#positions.get(partition) ?? 0n) && now - quietSince(partition) >= stallAfterMs);
      if (stuck.length === 0) return;
      const [partition] = stuck[0]!;
      this.#state = 'stalled';
      this.#reason = `partition ${partition}: no records for ${Math.round((now - quietSince(partition)) / 1000)} s while the broker holds unread ones`;
      this.#options.logger?.warn({ reason: this.#reason }, 'revocation reader stalled; recreating it');
      await this.#restart('stalled');
    } finally {
      this.#checking = false;
    }
  }

  async #restart(why: 'failed' | 'stalled'): Promise<void> {
    this.#restarts += 1;
    const old = this.#subscription;
    this.#subscription = null;
    this.#generation += 1;
    // A wedged reader may not stop cleanly: do not let it hold the watchdog.
    await Promise.race([old?.stop().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    if (this.#stopped) return;
    // Stays failed/stalled (with its reason) until the new subscription is up.
    this.#state = why;
    await this.#subscribe();
  }

  /** The reader's health: state, reason, reconnecting, restarts (see {@link RevocationReaderStatus}). */
  status(): RevocationReaderStatus {
    return {
      state: this.#state,
      reason: this.#reason,
      reconnecting: this.#reconnecting,
      restarts: this.#restarts,
      lastRecordAt: this.#lastRecordAt,
    };
  }

  /** False when the reader is dead (failed or stalled): `/readyz` answers 503 with {@link status}'s reason. */
  isHealthy(): boolean {
    return this.#state !== 'failed' && this.#state !== 'stalled';
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
   * How old this instance's revocation state may be, in seconds: time, on this instance's
   * monotonic clock, since it received the newest valid (signed, not replayed, within the
   * skew) heartbeat of its stalest partition. Revocation events do not count (they are not
   * signed). `Infinity` before every partition delivered a valid heartbeat.
   */
  freshnessSeconds(): number {
    if (this.#targets.size === 0) return Number.POSITIVE_INFINITY;
    let oldest = Number.POSITIVE_INFINITY;
    for (const partition of this.#targets.keys()) {
      const received = this.#heartbeatReceivedAt.get(partition);
      if (received === undefined) return Number.POSITIVE_INFINITY;
      oldest = Math.min(oldest, received);
    }
    return Math.max(0, (this.#mono() - oldest) / 1000);
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
    this.#state = 'stopped';
    clearInterval(this.#watchdog);
    await this.#startPromise?.catch(() => undefined);
    await this.#subscription?.stop();
    await this.#admin?.close();
    this.#subscription = null;
    this.#admin = null;
  }

  #onRecords(records: readonly IncomingRecord[]): void {
    if (records.length > 0) {
      this.#lastRecordAt = Date.now();
      this.#lastRecordTick = performance.now();
    }
    if (this.#state === 'stalled') {
      this.#state = 'running';
      this.#reason = null;
    }
    for (const record of records) {
      const meta = { partition: record.partition, offset: record.offset };
      const next = BigInt(record.offset) + 1n;
      const position = this.#positions.get(record.partition) ?? 0n;
      // A recreated reader may hand back records already applied.
      if (next <= position && this.#targets.has(record.partition)) continue;
      if (next > position) {
        this.#positions.set(record.partition, next);
        this.#progressTick.set(record.partition, this.#lastRecordTick);
      }
      const parsed = parseEvent(record.value);
      if (!parsed.ok) {
        this.#stats.skipped[parsed.code] += 1;
        this.#options.onSkip?.(parsed.code, parsed.detail, meta);
        continue;
      }
      const event = parsed.event;
      if (event.type === 'heartbeat') {
        const code = this.#checkHeartbeat(event, record.partition);
        if (code === null) {
          this.#stats.heartbeats += 1;
        } else {
          this.#stats.skipped[code] += 1;
          this.#options.onSkip?.(code, `heartbeat from ${event.source.slice(0, 64)} at ${event.at}`, meta);
        }
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

  /**
   * Counts a heartbeat for freshness, or says why not. The cheap checks come first, so a
   * replay of the retention's old heartbeats costs no signature work: unsigned, `at` beyond
   * the skew, `at` not newer than the partition's newest valid one, then the signature.
   */
  #checkHeartbeat(event: HeartbeatEvent, partition: number): Exclude<SkipCode, 'ERR_EVENT_APPLY_FAILED'> | null {
    if (event.kid === undefined || event.sig === undefined) return 'ERR_HEARTBEAT_UNSIGNED';
    if (Math.abs(event.at - this.#now()) > this.#maxSkewMs) return 'ERR_HEARTBEAT_SKEWED';
    const newest = this.#newestHeartbeatAt.get(partition);
    if (newest !== undefined && event.at <= newest) return 'ERR_HEARTBEAT_REPLAYED';
    const verifier = this.#options.heartbeatVerifier;
    if (verifier === undefined) return 'ERR_HEARTBEAT_UNKNOWN_KEY';
    const code = verifier.verify(event, { topic: this.#options.topic, partition });
    if (code !== null) return code;
    this.#newestHeartbeatAt.set(partition, event.at);
    this.#heartbeatReceivedAt.set(partition, this.#mono());
    return null;
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

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
}
