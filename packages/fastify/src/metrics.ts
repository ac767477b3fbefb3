import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DENIAL_KINDS, type DenialKind, type SkipCode } from '@revocable/protocol';

import type { RequestOutcome } from './decide.ts';
import { HttpDurationHistogram } from './http-duration.ts';

export type { RequestOutcome };

/** One number per denylist kind. */
export type PerKind = Record<DenialKind, number>;

/** Live values the metrics read at scrape time. */
export interface MetricSources {
  denylistSize(): PerKind;
  /** The denylist's per-kind caps, entries. */
  denylistCaps(): PerKind;
  /** Entries refused at their kind's cap since start, per kind. */
  denylistOverflows(): PerKind;
  /** Epoch second until which the denylist must fail closed after an overflow, or 0. */
  denylistFailClosedUntil(): number;
  lagByPartition(): ReadonlyMap<number, number>;
  freshnessSeconds(): number;
  ready(): boolean;
  /** The revocation reader's state (see RevocationConsumer.status). */
  reader(): { state: string; restarts: number };
  cacheStats(): { hits: number; misses: number; size: number };
}

/** The verifier's Prometheus metrics, all on one per-app {@link Registry}. */
export interface VerifierMetrics {
  registry: Registry;
  /** `revocable_requests_total{outcome, reason}`: {@link RequestTally}, plain integers rendered at scrape time. */
  requests: RequestTally;
  /** `revocable_events_applied_total{type}`. */
  eventsApplied: Counter<'type'>;
  /** `revocable_events_skipped_total{code}`: malformed or unknown records. */
  eventsSkipped: Counter<'code'>;
  /**
   * `revocable_event_apply_latency_seconds{phase, type}`: event time (`at`) to applied here,
   * by event type; `phase="replay"` for events read while catching up at start, `"live"`
   * afterwards. Buckets of 1 ms up to 6 ms, so live p50/p99 in milliseconds are readable.
   */
  eventApplyLatency: Histogram<'phase' | 'type'>;
  /** `revocable_introspections_total{result}`. */
  introspections: Counter<'result'>;
  /** `revocable_http_request_duration_seconds{method, route, status}`: every answered request (the same name and buckets in every service). */
  httpRequests: HttpDurationHistogram;
}

/** One label set of `revocable_requests_total`: increment `n` per request. */
export interface RequestCell {
  readonly outcome: string;
  readonly reason: string;
  n: number;
}

/**
 * The counts behind `revocable_requests_total{outcome, reason}`. The request path keeps the
 * cell of its sample and adds 1 to a plain number (no label object, no hashing, no
 * prom-client call); the counter reads every cell at scrape time.
 */
export interface RequestTally {
  /** The cell of one label set, created at 0 on first use. */
  cell(outcome: string, reason: string): RequestCell;
}

/** What `revocable_build_info` says about a running service. */
export interface BuildInfo {
  /** Service name, e.g. `orders`. */
  service: string;
  /** The service's package version. */
  version: string;
}

/**
 * Registers `revocable_build_info{service, version, node}` (always 1) on `registry`: the
 * join key dashboards use to tell which build and runtime answer.
 * @example
 * registerBuildInfo(registry, { service: 'orders', version: '0.1.0' });
 */
export function registerBuildInfo(registry: Registry, info: BuildInfo): void {
  new Gauge({
    name: 'revocable_build_info',
    help: 'Always 1; the labels name the service, its version and the Node.js runtime.',
    labelNames: ['service', 'version', 'node'] as const,
    registers: [registry],
  }).set({ service: info.service, version: info.version, node: process.version }, 1);
}

/**
 * Creates the verifier metrics on a fresh registry (never prom-client's global one, so two
 * apps in one process do not clash). `defaultMetrics` adds process/runtime metrics (`process_*`,
 * `nodejs_*`, unprefixed as in every service); `buildInfo` adds `revocable_build_info`.
 */
export function createVerifierMetrics(sources: MetricSources, options: { defaultMetrics?: boolean; buildInfo?: BuildInfo } = {}): VerifierMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry });
  if (options.buildInfo !== undefined) registerBuildInfo(registry, options.buildInfo);
  const httpRequests = new HttpDurationHistogram(registry);

  /** A counter on this registry that the verifier increments. */
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Counter({ name, help, labelNames, registers });
  /** A gauge on this registry, without labels, that reads its value at scrape time. */
  const reading = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  /** A gauge on this registry, labelled by denylist kind, that reads its values at scrape time. */
  const perKind = (name: string, help: string, read: () => PerKind) =>
    new Gauge({
      name,
      help,
      labelNames: ['kind'] as const,
      registers,
      collect() {
        const values = read();
        for (const kind of DENIAL_KINDS) this.set({ kind }, values[kind]);
      },
    });

  const requestCells = new Map<string, RequestCell>();
  const requests: RequestTally = {
    cell(outcome, reason) {
      const key = `${outcome}\u0000${reason}`;
      let cell = requestCells.get(key);
      if (cell === undefined) {
        cell = { outcome, reason, n: 0 };
        requestCells.set(key, cell);
      }
      return cell;
    },
  };
  new Counter({
    name: 'revocable_requests_total',
    help: 'Requests to protected routes, by outcome and reason.',
    labelNames: ['outcome', 'reason'] as const,
    registers,
    collect() {
      this.reset();
      for (const { outcome, reason, n } of requestCells.values()) this.inc({ outcome, reason }, n);
    },
  });
  const eventsApplied = counter('revocable_events_applied_total', 'Revocation events applied to the denylist, by type (heartbeats included).', ['type']);
  const eventsSkipped = counter('revocable_events_skipped_total', 'Records on the revocation topic that were skipped, by reject code.', ['code']);
  const eventApplyLatency = new Histogram({
    name: 'revocable_event_apply_latency_seconds',
    help: 'Time from an event being committed by the auth service to it being applied here (replay: read while catching up at start).',
    labelNames: ['phase', 'type'] as const,
    buckets: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const introspections = counter('revocable_introspections_total', 'RFC 7662 introspection calls made because revocation state was stale, by result.', ['result']);
  perKind('revocable_denylist_entries', 'Entries in the in-memory denylist, by kind.', () => sources.denylistSize());
  perKind('revocable_denylist_cap', 'Most live entries the denylist keeps, by kind; an entry beyond it is refused and counted.', () => sources.denylistCaps());
  new Counter({
    name: 'revocable_denylist_overflows_total',
    help: 'Revocation entries refused because their kind was at its cap (an alarm: the denylist must fail closed until they would have expired).',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const overflows = sources.denylistOverflows();
      this.reset();
      for (const kind of DENIAL_KINDS) this.inc({ kind }, overflows[kind]);
    },
  });
  reading('revocable_denylist_fail_closed_until_seconds', 'Epoch second until which an overflowed denylist could miss a revocation (0: none).', () => sources.denylistFailClosedUntil());
  new Gauge({
    name: 'revocable_consumer_lag',
    help: 'Records between the consumer position and the high watermark, by partition.',
    labelNames: ['partition'] as const,
    registers,
    collect() {
      this.reset();
      for (const [partition, lag] of sources.lagByPartition()) this.set({ partition: String(partition) }, lag);
    },
  });
  reading('revocable_freshness_seconds', 'Age of the stalest partition\'s last heartbeat or event: how old the revocation state may be (+Inf before any).', () => sources.freshnessSeconds());
  new Gauge({
    name: 'revocable_reader_up',
    help: '1 while the revocation reader runs; 0 when it failed or stalled (the watchdog is recreating it), by state.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      this.reset();
      const { state } = sources.reader();
      this.set({ state }, state === 'failed' || state === 'stalled' ? 0 : 1);
    },
  });
  new Counter({
    name: 'revocable_reader_restarts_total',
    help: 'Times the watchdog recreated the revocation reader (failed or stalled).',
    registers,
    collect() {
      this.reset();
      this.inc(sources.reader().restarts);
    },
  });
  reading('revocable_ready', '1 once the consumer caught up to the high watermarks seen at start.', () => (sources.ready() ? 1 : 0));
  reading('revocable_verify_cache_hit_ratio', 'Share of token verifications answered by the verified-token cache since start.', () => {
    const { hits, misses } = sources.cacheStats();
    return hits + misses === 0 ? 0 : hits / (hits + misses);
  });
  reading('revocable_verify_cache_entries', 'Tokens in the verified-token cache.', () => sources.cacheStats().size);
  new Counter({
    name: 'revocable_verify_cache_lookups_total',
    help: 'Verified-token cache lookups, by result.',
    labelNames: ['result'] as const,
    registers,
    collect() {
      const { hits, misses } = sources.cacheStats();
      this.reset();
      this.inc({ result: 'hit' }, hits);
      this.inc({ result: 'miss' }, misses);
    },
  });
  return { registry, requests, eventsApplied, eventsSkipped, eventApplyLatency, introspections, httpRequests };
}

/** Labels every reject code up front so dashboards see zeros rather than gaps. */
export function initSkipCodes(metrics: VerifierMetrics, codes: readonly SkipCode[]): void {
  for (const code of codes) metrics.eventsSkipped.inc({ code }, 0);
}
