/**
 * Runs the README's demo (infra/src/demo.ts, what `./infra/revocable up` runs) end to end against a real cluster and checks
 * the facts of its machine-readable summary, not its wording.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoSummary, Rejection } from '@revocable/infra';
import { startCluster, type Cluster } from './support/cluster.ts';
import { databaseUrl, kafkaBrokers } from './support/env.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

let cluster: Cluster;
/** The demo's bound for a service to reject a revoked token; a measured time must lie within it. */
const PROPAGATION_TIMEOUT_MS = 10_000;

beforeAll(async () => {
  cluster = await startCluster({ kafkaBrokers: kafkaBrokers(), databaseUrl: databaseUrl() });
});

afterAll(async () => {
  await cluster?.stop();
});

function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['infra/src/demo.ts', '--json'], {
      cwd: ROOT,
      env: {
        ...process.env,
        AUTH_URL: cluster.authUrl,
        ORDERS_URL: cluster.ordersUrl,
        PROFILE_URL: cluster.profileUrl,
        NO_COLOR: '1',
        DEMO_PROPAGATION_TIMEOUT_MS: String(PROPAGATION_TIMEOUT_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function expectRejected(r: Rejection | undefined): void {
  expect(r?.rejected).toBe(true);
  expect(r?.status).toBe(401);
  // A rejection is measured from the revoking response to the first 401: at least one
  // request took place (so more than 0 ms) and it came before the demo's deadline.
  expect(r?.ms).toEqual(expect.any(Number));
  expect(r?.ms).toBeGreaterThan(0);
  expect(r?.ms).toBeLessThan(PROPAGATION_TIMEOUT_MS);
  expect(r?.polls).toBeGreaterThanOrEqual(1);
}

describe('demo', () => {
  it('shows logout, logout-all and reuse detection reaching both services', async () => {
    const run = await runDemo();
    const lines = run.stdout.trim().split('\n');
    let summary: DemoSummary;
    try {
      summary = JSON.parse(lines.at(-1) ?? '') as DemoSummary;
    } catch {
      throw new Error(`demo printed no JSON summary (exit ${run.code})\n${run.stdout}\n${run.stderr}\n${cluster.logs()}`);
    }
    if (run.code !== 0) {
      console.error(`demo exited ${run.code}\n${run.stdout}\n${run.stderr}\n--- cluster logs (tail) ---\n${cluster.logs().split('\n').slice(-80).join('\n')}`);
    }
    expect(run.code).toBe(0);
    expect(summary.ok).toBe(true);
    expect(summary.failures).toEqual([]);

    // Before anything was revoked, both devices used both services.
    expect(summary.before).toEqual({ laptop: { orders: 200, profile: 200 }, phone: { orders: 200, profile: 200 } });

    // Logout of one device: both services rejected its token, with a measured time ...
    expectRejected(summary.logout.rejectedBy.orders);
    expectRejected(summary.logout.rejectedBy.profile);
    expect(summary.logout.rejectedBy.orders.reason).toBe('revoked');
    // ... and the other device kept working.
    expect(summary.logout.otherDevice).toEqual({ orders: 200, profile: 200 });
    expect(summary.logout.otherDeviceKeptWorking).toBe(true);

    // Logout-all rejected both devices on both services.
    for (const who of ['laptop', 'phone'] as const) {
      expectRejected(summary.logoutAll.rejected[who].orders);
      expectRejected(summary.logoutAll.rejected[who].profile);
    }
    expect(summary.logoutAll.allRejected).toBe(true);

    // Refresh-token replay tripped reuse detection and revoked the session everywhere.
    expect(summary.reuse.replayStatus).toBe(400);
    expect(summary.reuse.replayError).toBe('invalid_grant');
    // The thief's refusal says why: reuse of an already rotated token.
    expect(summary.reuse.replayReason).toBe('reuse_detected');
    expect(summary.reuse.reuseDetectionsCounted).toBe(true);
    // The owner's next refresh: the session was revoked (by the reuse detection).
    expect(summary.reuse.errorCode).toBe('ERR_SESSION_REVOKED');
    expect(summary.reuse.errorReason).toBe('session_revoked');
    expect(summary.reuse.sessionEndedReason).toBe('revoked');
    expectRejected(summary.reuse.rejectedBy.orders);
    expectRejected(summary.reuse.rejectedBy.profile);
    expect(summary.reuse.detected).toBe(true);

    // The transcript tells the user where things are and how to stop.
    expect(summary.urls.docs).toBe(`${cluster.authUrl}/docs`);
    expect(run.stdout).toContain(cluster.ordersUrl);
    expect(run.stdout).toContain(cluster.profileUrl);
    expect(run.stdout).toContain(`${cluster.authUrl}/docs`);
    expect(run.stdout).toContain('/metrics');
    expect(run.stdout).toContain('./infra/revocable down');
  });
});
