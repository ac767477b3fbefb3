import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { HTTP_DURATION_BUCKETS, HttpDurationHistogram } from './http-duration.ts';

/** A sample line with its labels sorted, so two renderings compare whatever their label order. */
function normalized(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const m = /^([^{ ]+)(?:\{(.*)\})? (.+)$/.exec(line);
      if (line.startsWith('#') || m === null) return line;
      const labels = (m[2] ?? '').split(/,(?=[a-z_]+=")/).filter(Boolean).sort().join(',');
      return `${m[1]}{${labels}} ${m[3]}`;
    })
    .sort();
}

describe('HttpDurationHistogram', () => {
  const observations: Array<[string, string, number, number]> = [
    ['GET', '/v1/orders', 200, 0.0004],
    ['GET', '/v1/orders', 200, 0.001],
    ['GET', '/v1/orders', 200, 0.003],
    ['GET', '/v1/orders', 401, 0.0007],
    ['POST', '/v1/orders', 201, 0.2],
    ['GET', 'unmatched', 404, 7],
    ['GET', '/a "quoted"\\route', 200, 0.05],
  ];

  it('renders what prom-client renders for the same observations (buckets, +Inf, sum, count)', async () => {
    const ours = new Registry();
    const http = new HttpDurationHistogram(ours);
    const theirs = new Registry();
    const reference = new Histogram({
      name: 'revocable_http_request_duration_seconds',
      help: 'HTTP request duration by method, route (the pattern, "unmatched" for no route) and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [...HTTP_DURATION_BUCKETS],
      registers: [theirs],
    });
    for (const [method, route, status, seconds] of observations) {
      http.observe(method, route, status, seconds);
      reference.observe({ method, route, status: String(status) }, seconds);
    }
    expect(normalized(await ours.metrics())).toEqual(normalized(await theirs.metrics()));
    expect(http.count('GET', '/v1/orders', 200)).toBe(3);
    expect(http.count('GET', '/v1/orders', 500)).toBe(0);
  });

  it('counts a duration on a bucket bound in that bucket, ignores non-finite and negative ones', async () => {
    const registry = new Registry();
    const http = new HttpDurationHistogram(registry, [0.01, 0.1]);
    http.observe('GET', '/x', 200, 0.01);
    http.observe('GET', '/x', 200, Number.NaN);
    http.observe('GET', '/x', 200, -1);
    http.observe('GET', '/x', 200, Number.POSITIVE_INFINITY);
    const text = await registry.metrics();
    expect(text).toContain('revocable_http_request_duration_seconds_bucket{method="GET",route="/x",status="200",le="0.01"} 1');
    expect(text).toContain('revocable_http_request_duration_seconds_count{method="GET",route="/x",status="200"} 1');
  });

  it('is emptied by the registry reset and refuses buckets that are not ascending', async () => {
    const registry = new Registry();
    const http = new HttpDurationHistogram(registry);
    http.observe('GET', '/x', 200, 0.002);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('_count{');
    expect(() => new HttpDurationHistogram(new Registry(), [0.1, 0.01])).toThrow(TypeError);
    expect(() => new HttpDurationHistogram(new Registry(), [])).toThrow(TypeError);
    expect(() => new HttpDurationHistogram(registry)).toThrow(/already been registered/);
  });
});
