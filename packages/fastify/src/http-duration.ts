import type { Registry } from 'prom-client';

/** Buckets of `revocable_http_request_duration_seconds`, seconds (the same in every service). */
export const HTTP_DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const NAME = 'revocable_http_request_duration_seconds';
const HELP = 'HTTP request duration by method, route (the pattern, "unmatched" for no route) and status.';

/** One label set's counts: per bucket (not cumulative), the sum and the count. */
interface Series {
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** A prom-client metric value (`registry.metrics()` renders `metricName{labels} value`). */
interface MetricValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * `revocable_http_request_duration_seconds{method, route, status}`, the histogram every
 * service records each answered request in, built for the request path: an observation is
 * three Map lookups (route, method, status) and one bucket increment, with no label object,
 * no label hashing and no allocation once a label set exists. Counts are rendered at scrape
 * time, in the exposition prom-client gives its own histograms (`_bucket` with `le`, `_sum`,
 * `_count`), from the {@link Registry} it was created on.
 *
 * prom-client's `Histogram.observe` builds and hashes a label object on every call (about
 * 1 µs a request, measured on the cache-hit path of the verifier), which is why this is not
 * one.
 * @example
 * const http = new HttpDurationHistogram(registry);
 * app.addHook('onResponse', (request, reply, done) => {
 *   http.observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
 *   done();
 * });
 */
export class HttpDurationHistogram {
  readonly name = NAME;
  readonly help = HELP;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  /** route → method → status → series. */
  #routes = new Map<string, Map<string, Map<number, Series>>>();

  /** Registers on `registry`, with `buckets` (seconds, ascending; default {@link HTTP_DURATION_BUCKETS}). */
  constructor(registry: Registry, buckets: readonly number[] = HTTP_DURATION_BUCKETS) {
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] ?? 0)))) {
      throw new TypeError('HttpDurationHistogram: buckets must be finite and strictly ascending');
    }
    this.#bounds = [...buckets];
    // The registry only calls name/help/type, get() and reset(): the interface of its metrics.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /**
   * Records one answered request of `route` (the pattern, `unmatched` when no route matched)
   * that took `seconds`. A negative or non-finite duration is not recorded.
   */
  observe(method: string, route: string, status: number, seconds: number): void {
    if (!(seconds >= 0) || seconds === Number.POSITIVE_INFINITY) return;
    let methods = this.#routes.get(route);
    if (methods === undefined) {
      methods = new Map();
      this.#routes.set(route, methods);
    }
    let statuses = methods.get(method);
    if (statuses === undefined) {
      statuses = new Map();
      methods.set(method, statuses);
    }
    let series = statuses.get(status);
    if (series === undefined) {
      series = { method, route, status, buckets: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 };
      statuses.set(status, series);
    }
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    series.buckets[i]! += 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** The count of requests recorded for one label set (0 if none). */
  count(method: string, route: string, status: number): number {
    return this.#routes.get(route)?.get(method)?.get(status)?.count ?? 0;
  }

  /** What the registry renders: every label set's cumulative buckets, `+Inf`, sum and count. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const methods of this.#routes.values()) {
      for (const statuses of methods.values()) {
        for (const s of statuses.values()) {
          const labels = { method: s.method, route: s.route, status: String(s.status) };
          let cumulative = 0;
          for (const [i, bound] of this.#bounds.entries()) {
            cumulative += s.buckets[i] ?? 0;
            values.push({ metricName: `${NAME}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
          }
          values.push({ metricName: `${NAME}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.count });
          values.push({ metricName: `${NAME}_sum`, labels, value: s.sum });
          values.push({ metricName: `${NAME}_count`, labels, value: s.count });
        }
      }
    }
    return { name: NAME, help: HELP, type: this.type, aggregator: this.aggregator, values };
  }

  /** Forgets every recorded request (`registry.resetMetrics()`). */
  reset(): void {
    this.#routes = new Map();
  }
}
