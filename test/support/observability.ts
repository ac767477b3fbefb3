/**
 * The operations pack (infra/observability) as the tests read it: the Grafana dashboard,
 * the alert rules, and the metric names their PromQL expressions use.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** infra/observability of this checkout. */
export const OBSERVABILITY_DIR = fileURLToPath(new URL('../../infra/observability/', import.meta.url));

/** The parts of a Grafana dashboard the tests look at. */
export interface Dashboard {
  uid: string;
  title: string;
  templating: { list: Array<{ name: string; type: string; query?: string }> };
  panels: Array<{ id: number; type: string; title: string; targets?: Array<{ expr: string; datasource: { uid: string } }> }>;
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(`${OBSERVABILITY_DIR}grafana/revocable.json`, 'utf8')) as Dashboard;
}

/** Every PromQL expression of the dashboard's panels. */
export function dashboardExpressions(dashboard: Dashboard): string[] {
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

/** Every alert's PromQL expression, by alert name. */
export function alertExpressions(): Map<string, string> {
  const doc = parse(readFileSync(`${OBSERVABILITY_DIR}prometheus/alerts.yml`, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  return new Map(doc.groups.flatMap((g) => g.rules.map((r) => [r.alert, r.expr] as const)));
}

// PromQL words that look like metric names: functions, aggregations, keywords.
const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'by', 'without', 'rate', 'irate', 'increase', 'histogram_quantile', 'on', 'ignoring',
  'group_left', 'group_right', 'and', 'or', 'unless', 'absent', 'offset', 'bool', 'topk', 'bottomk', 'le', 'delta', 'deriv', 'time',
]);

/**
 * The metric names an expression selects, histogram suffixes removed (`x_bucket` → `x`):
 * identifiers outside label matchers, quotes and ranges that are not PromQL words.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    // label lists of by/without/on/ignoring
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1()');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    if (PROMQL_WORDS.has(word)) continue;
    const next = stripped.slice((match.index ?? 0) + word.length).trimStart();
    if (next.startsWith('(')) continue; // a function call
    names.add(word.replace(/_(bucket|sum|count)$/, ''));
  }
  return [...names].sort();
}
