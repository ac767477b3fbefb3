/**
 * Receipts against the real cluster (auth, orders, profile as processes; real Kafka and
 * PostgreSQL): every resource instance announces itself and reports what it applied on the
 * receipts topic; the auth service knows the live instances, measures commit → receipt on
 * its own clock (`revocable_auth_propagation_seconds{audience}`), and answers
 * `GET /v1/admin/revocations/:id` with every instance's status. A gracefully stopped
 * instance leaves the live set at once; a frozen one (SIGSTOP) after three announce intervals.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminHeaders, adminJson, newSessionToken } from './support/auth-http.ts';
import { startCluster, type Cluster } from './support/cluster.ts';
import { databaseUrl, kafkaBrokers, waitFor } from './support/env.ts';

const ANNOUNCE_MS = 300;
let cluster: Cluster;

interface InstanceBody {
  instance: string;
  service: string;
  audiences: string[];
  live: boolean;
  state: string;
  ready: boolean;
  freshness_seconds: number | null;
}
interface Report {
  id: string;
  type: string;
  confirmed: number;
  pending: string[];
  slowest_ms: number | null;
  complete: boolean;
  instances: Array<{ instance: string; service: string; status: string; propagation_ms: number | null; confirmed_at: string | null; applied_at: string | null }>;
}

const admin = () => adminHeaders(cluster);
const getJson = <T>(path: string) => adminJson<T>(cluster, path);
const instances = async () => (await getJson<{ instances: InstanceBody[] }>('/v1/admin/instances')).instances;
const liveServices = async () => (await instances()).filter((i) => i.live).map((i) => i.service).sort();

const sessionToken = () => newSessionToken(cluster, 'receipts');

/** Logs a fresh session out and returns the id of its `session.revoked`, once the auth service tracks it. */
async function revokeOne(): Promise<string> {
  const token = await sessionToken();
  const before = new Set((await getJson<{ revocations: Report[] }>('/v1/admin/revocations?limit=200')).revocations.map((r) => r.id));
  expect((await fetch(`${cluster.authUrl}/v1/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(204);
  return waitFor(
    async () => (await getJson<{ revocations: Report[] }>('/v1/admin/revocations?limit=200')).revocations.find((r) => r.type === 'session.revoked' && !before.has(r.id))?.id,
    { what: 'the logout tracked by the auth service', timeoutMs: 30_000 },
  );
}

beforeAll(async () => {
  cluster = await startCluster({
    kafkaBrokers: kafkaBrokers(),
    databaseUrl: databaseUrl(),
    env: {
      orders: { RECEIPTS_ANNOUNCE_INTERVAL_MS: String(ANNOUNCE_MS), INSTANCE_ID: 'orders-1' },
      profile: { RECEIPTS_ANNOUNCE_INTERVAL_MS: String(ANNOUNCE_MS), INSTANCE_ID: 'profile-1' },
    },
  });
}, 300_000);

afterAll(async () => {
  if (cluster?.processes.profile !== null) cluster?.processes.profile?.kill('SIGCONT');
  await cluster?.stop();
});

describe('receipts', () => {
  it('the auth service lists both resource instances as live, with their audience and state', async () => {
    // The first announce goes out at start, before the replay: ready follows.
    const list = await waitFor(
      async () => {
        const all = await instances();
        return all.filter((i) => i.live && i.ready).length === 2 ? all : undefined;
      },
      { what: 'orders and profile live and ready', timeoutMs: 30_000 },
    );
    expect(list.find((i) => i.service === 'orders')).toMatchObject({ instance: 'orders-1', audiences: ['orders'], live: true, state: 'up', ready: true });
    expect(list.find((i) => i.service === 'profile')).toMatchObject({ instance: 'profile-1', audiences: ['profile'], live: true, state: 'up' });
  });

  it('a logout is confirmed by every live instance; the report and the histogram agree', async () => {
    await waitFor(async () => (await liveServices()).join() === 'orders,profile', { what: 'orders and profile live', timeoutMs: 30_000 });
    const id = await revokeOne();
    const report = await waitFor(
      async () => {
        const r = await getJson<Report>(`/v1/admin/revocations/${id}`);
        return r.complete ? r : undefined;
      },
      { what: 'both receipts', timeoutMs: 30_000 },
    );
    expect(report).toMatchObject({ id, type: 'session.revoked', confirmed: 2, pending: [], complete: true });
    expect(report.instances.map((i) => [i.instance, i.service, i.status])).toEqual([
      ['orders-1', 'orders', 'confirmed'],
      ['profile-1', 'profile', 'confirmed'],
    ]);
    for (const i of report.instances) {
      expect(i.propagation_ms).toBeGreaterThanOrEqual(0);
      expect(Date.parse(i.confirmed_at as string)).toBeGreaterThan(0);
      expect(Date.parse(i.applied_at as string)).toBeGreaterThan(0);
    }
    expect(report.slowest_ms).toBe(Math.max(...report.instances.map((i) => i.propagation_ms as number)));

    const metrics = await (await fetch(`${cluster.authUrl}/metrics`)).text();
    for (const audience of ['orders', 'profile']) {
      const count = new RegExp(`^revocable_auth_propagation_seconds_count\\{audience="${audience}"\\} (\\d+)$`, 'm').exec(metrics);
      expect(Number(count?.[1]), `${audience} propagation samples`).toBeGreaterThanOrEqual(1);
    }
    expect(metrics).toMatch(/^revocable_auth_live_instances\{audience="orders"\} 1$/m);
    // The resource side counts what it sent.
    const orders = await (await fetch(`${cluster.ordersUrl}/metrics`)).text();
    expect(Number(/^revocable_receipts_sent_total\{kind="applied"\} (\d+)$/m.exec(orders)?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('an unknown revocation id is 404, and the admin routes need the admin credential', async () => {
    const missing = await fetch(`${cluster.authUrl}/v1/admin/revocations/${randomUUID()}`, { headers: admin() });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe('not_found');
    expect((await fetch(`${cluster.authUrl}/v1/admin/instances`)).status).toBe(401);
    expect((await fetch(`${cluster.authUrl}/v1/admin/revocations?limit=0`, { headers: admin() })).status).toBe(400);
  });

  it('a frozen instance (SIGSTOP) stops counting as live after three intervals and stays pending; a stopped one leaves at once', async () => {
    await waitFor(async () => (await liveServices()).join() === 'orders,profile', { what: 'orders and profile live', timeoutMs: 30_000 });
    const profile = cluster.processes.profile;
    expect(profile).not.toBeNull();
    profile!.kill('SIGSTOP');
    try {
      const id = await revokeOne();
      const report = await waitFor(
        async () => {
          const r = await getJson<Report>(`/v1/admin/revocations/${id}`);
          return r.confirmed === 1 ? r : undefined;
        },
        { what: 'the orders receipt', timeoutMs: 30_000 },
      );
      expect(report.pending).toEqual(['profile-1']);
      expect(report.complete).toBe(false);
      await waitFor(async () => (await liveServices()).join() === 'orders', { what: 'profile no longer live', timeoutMs: 10 * ANNOUNCE_MS + 5_000 });
      expect((await getJson<Report>(`/v1/admin/revocations/${id}`)).pending).toEqual(['profile-1']);
    } finally {
      profile!.kill('SIGCONT');
    }
    await waitFor(async () => (await liveServices()).join() === 'orders,profile', { what: 'profile live again', timeoutMs: 30_000 });

    await cluster.stopService('orders');
    // `leaving` (its last announce), not a timeout: the state says which.
    const gone = await waitFor(async () => (await instances()).find((i) => i.instance === 'orders-1' && i.state === 'leaving'), { what: 'orders leaving', timeoutMs: 10_000 });
    expect(gone.live).toBe(false);
  });
});
