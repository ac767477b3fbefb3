import { describe, expect, it } from 'vitest';
import { createVerifierMetrics, type MetricSources, type PerKind } from './metrics.ts';

const ZERO: PerKind = { session: 0, user: 0, token: 0, key: 0 };
const SOURCES: MetricSources = {
  denylistSize: () => ZERO,
  denylistCaps: () => ZERO,
  denylistOverflows: () => ZERO,
  denylistFailClosedUntil: () => 0,
  lagByPartition: () => new Map(),
  freshnessSeconds: () => 0,
  ready: () => true,
  reader: () => ({ state: 'running', restarts: 0 }),
  cacheStats: () => ({ hits: 0, misses: 0, size: 0 }),
};

describe('createVerifierMetrics', () => {
  it('renders the request tally at scrape time: one cell per label set, plain increments', async () => {
    const metrics = createVerifierMetrics(SOURCES);
    const allowed = metrics.requests.cell('allowed', 'ok');
    expect(metrics.requests.cell('allowed', 'ok')).toBe(allowed);
    allowed.n += 3;
    metrics.requests.cell('unauthorized', 'revoked_session').n++;
    metrics.requests.cell('unavailable', 'not_ready');
    const text = await metrics.registry.metrics();
    expect(text).toContain('revocable_requests_total{outcome="allowed",reason="ok"} 3');
    expect(text).toContain('revocable_requests_total{outcome="unauthorized",reason="revoked_session"} 1');
    expect(text).toContain('revocable_requests_total{outcome="unavailable",reason="not_ready"} 0');
    allowed.n++;
    // A second scrape reads the cells again rather than adding to the first.
    expect(await metrics.registry.metrics()).toContain('revocable_requests_total{outcome="allowed",reason="ok"} 4');
  });

  it('records HTTP durations in revocable_http_request_duration_seconds', async () => {
    const metrics = createVerifierMetrics(SOURCES);
    metrics.httpRequests.observe('GET', '/v1/orders', 200, 0.002);
    expect(await metrics.registry.metrics()).toContain('revocable_http_request_duration_seconds_count{method="GET",route="/v1/orders",status="200"} 1');
  });
});
