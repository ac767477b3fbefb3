/**
 * The operations pack in infra/observability: promtool (Debian's `prometheus` package,
 * installed here when missing) accepts the alert rules, their unit tests pass (each alert
 * fires on the series that should raise it), a broken rule is refused, and the Grafana
 * dashboard is well-formed. That every metric they name exists is test/ops.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDebianPackage } from './support/apt.ts';
import { dashboardExpressions, OBSERVABILITY_DIR, readDashboard } from './support/observability.ts';

const run = promisify(execFile);
let promtool: string;

beforeAll(async () => {
  promtool = await ensureDebianPackage('prometheus', 'promtool');
}, 600_000);

async function promtoolRun(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(promtool, args, { cwd, timeout: 120_000 });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('alert rules', () => {
  const dir = join(OBSERVABILITY_DIR, 'prometheus');

  it('promtool check rules accepts every rule', async () => {
    const result = await promtoolRun(['check', 'rules', 'alerts.yml'], dir);
    expect(result.out).toContain('SUCCESS: 12 rules found');
    expect(result.code).toBe(0);
  });

  it('promtool test rules: each alert fires when it should and only then', async () => {
    const result = await promtoolRun(['test', 'rules', 'alerts.test.yml'], dir);
    expect(result.out).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });

  it('promtool refuses a rule with a broken expression (the check can fail)', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'revocable-rules-'));
    const broken = readFileSync(join(dir, 'alerts.yml'), 'utf8').replace('revocable_freshness_seconds > 10', 'revocable_freshness_seconds >');
    writeFileSync(join(scratch, 'alerts.yml'), broken);
    const result = await promtoolRun(['check', 'rules', 'alerts.yml'], scratch);
    expect(result.code).not.toBe(0);
    expect(result.out).toMatch(/parse error|unexpected/i);
  });
});

describe('Grafana dashboard', () => {
  it('is a dashboard with unique panel ids, a Prometheus datasource variable and a query in every panel', () => {
    const dashboard = readDashboard();
    expect(dashboard.uid).toBe('revocable-overview');
    expect(dashboard.templating.list.some((v) => v.type === 'datasource' && v.query === 'prometheus')).toBe(true);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const graphs = dashboard.panels.filter((p) => p.type !== 'row');
    expect(graphs.length).toBeGreaterThanOrEqual(15);
    for (const panel of graphs) {
      expect(panel.targets?.length ?? 0, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource.uid, panel.title).toBe('${datasource}');
        expect(target.expr.trim(), panel.title).not.toBe('');
      }
    }
  });

  it('every panel query is valid PromQL (promtool parses them as recording rules)', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'revocable-dashboard-'));
    const exprs = dashboardExpressions(readDashboard());
    const rules = exprs.map((expr, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(expr)}`).join('\n');
    writeFileSync(join(scratch, 'dashboard.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
    const result = await promtoolRun(['check', 'rules', 'dashboard.yml'], scratch);
    expect(result.out).toContain(`SUCCESS: ${exprs.length} rules found`);
    expect(result.code).toBe(0);
  });
});
