/**
 * `Prefer: wait=N` against the real cluster (auth, orders ×2, profile as processes; real
 * Kafka and PostgreSQL): a logout with `Prefer: wait=5` is answered only after all three
 * resource instances confirmed it, and its report lists them; with one instance frozen
 * (SIGSTOP) the answer comes at the deadline naming that instance as pending; the admin
 * report agrees, and the propagation histogram has the samples. The SDK's
 * `logout({ waitForPropagation })` returns the same report.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryStore, RevocableClient } from '@revocable/client';
import { adminHeaders, adminJson, newSessionToken } from './support/auth-http.ts';
import { startCluster, type Cluster, type Replica } from './support/cluster.ts';
import { databaseUrl, kafkaBrokers, waitFor } from './support/env.ts';

// Liveness is 3 intervals: a frozen instance stays live (and so waited for) for 3 s after its last announce.
const ANNOUNCE_MS = 1000;
let cluster: Cluster;
let replica: Replica;
/** Instance ids by role: the cluster's orders, the replica, profile. */
let ids: { orders: string; replica: string; profile: string };

interface Propagation {
  events: Array<{ id: string; type: string }>;
  complete: boolean;
  confirmed: Array<{ instance: string; service: string; audiences: string[]; ms: number }>;
  pending: Array<{ instance: string; service: string; audiences: string[] }>;
  slowest_ms: number | null;
  waited_ms: number;
}
interface Report {
  id: string;
  complete: boolean;
  pending: string[];
  instances: Array<{ instance: string; status: string; confirmed_at: string | null }>;
}
interface InstanceBody {
  instance: string;
  service: string;
  live: boolean;
  ready: boolean;
}

const admin = () => adminHeaders(cluster);
const getJson = <T>(path: string) => adminJson<T>(cluster, path);
const sessionToken = () => newSessionToken(cluster, 'wait');

async function logoutWaiting(token: string, seconds: number): Promise<{ status: number; applied: string | null; propagation: Propagation; elapsedMs: number; answeredAt: number }> {
  const started = Date.now();
  const res = await fetch(`${cluster.authUrl}/v1/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}`, prefer: `wait=${seconds}` } });
  const answeredAt = Date.now();
  const body = (await res.json()) as { propagation: Propagation };
  return { status: res.status, applied: res.headers.get('preference-applied'), propagation: body.propagation, elapsedMs: answeredAt - started, answeredAt };
}

const allLive = async () => {
  const live = (await getJson<{ instances: InstanceBody[] }>('/v1/admin/instances')).instances.filter((i) => i.live && i.ready).map((i) => i.instance);
  return [ids.orders, ids.replica, ids.profile].every((id) => live.includes(id)) ? live : undefined;
};

beforeAll(async () => {
  const receipts = { RECEIPTS_ANNOUNCE_INTERVAL_MS: String(ANNOUNCE_MS) };
  cluster = await startCluster({ kafkaBrokers: kafkaBrokers(), databaseUrl: databaseUrl(), env: { orders: receipts, profile: receipts } });
  replica = await cluster.startReplica('orders');
  // Default instance ids end with the process id.
  const byPid = async (pid: number | undefined) => {
    const list = (await getJson<{ instances: InstanceBody[] }>('/v1/admin/instances')).instances;
    return list.find((i) => i.instance.endsWith(`-${pid}`))?.instance;
  };
  ids = {
    orders: await waitFor(() => byPid(cluster.processes.orders?.pid), { what: 'orders announced', timeoutMs: 30_000 }),
    replica: await waitFor(() => byPid(replica.child.pid), { what: 'the orders replica announced', timeoutMs: 30_000 }),
    profile: await waitFor(() => byPid(cluster.processes.profile?.pid), { what: 'profile announced', timeoutMs: 30_000 }),
  };
}, 300_000);

afterAll(async () => {
  replica?.child.kill('SIGCONT');
  await cluster?.stop();
});

describe('Prefer: wait against three resource instances', () => {
  it('answers only after all three confirmed, and the report lists them', async () => {
    await waitFor(allLive, { what: 'all three instances live and ready', timeoutMs: 30_000 });
    const token = await sessionToken();
    const answer = await logoutWaiting(token, 5);
    expect(answer.status).toBe(200);
    expect(answer.applied).toBe('wait=5');
    const { propagation } = answer;
    expect(propagation.complete).toBe(true);
    expect(propagation.pending).toEqual([]);
    expect(propagation.confirmed.map((c) => c.instance).sort()).toEqual([ids.orders, ids.replica, ids.profile].sort());
    expect(propagation.confirmed.find((c) => c.instance === ids.profile)).toMatchObject({ service: 'profile', audiences: ['profile'] });
    expect(propagation.slowest_ms).toBe(Math.max(...propagation.confirmed.map((c) => c.ms)));
    expect(answer.elapsedMs).toBeLessThan(5000);
    expect(propagation.events).toHaveLength(1);
    const [event] = propagation.events;
    expect(event?.type).toBe('session.revoked');

    // The admin report agrees, and every receipt arrived before the answer was sent.
    const report = await getJson<Report>(`/v1/admin/revocations/${event?.id}`);
    expect(report).toMatchObject({ id: event?.id, complete: true, pending: [] });
    expect(report.instances.filter((i) => i.status === 'confirmed').map((i) => i.instance).sort()).toEqual([ids.orders, ids.replica, ids.profile].sort());
    for (const i of report.instances) expect(Date.parse(i.confirmed_at as string), i.instance).toBeLessThanOrEqual(answer.answeredAt);
  });

  it('the SDK: logout({ waitForPropagation }) resolves with the same report', async () => {
    await waitFor(allLive, { what: 'all three instances live and ready', timeoutMs: 30_000 });
    const email = `wait-sdk-${randomUUID()}@example.test`;
    const password = `pw-${randomUUID()}`;
    const client = new RevocableClient({ authUrl: cluster.authUrl, storage: memoryStore(), audience: ['orders', 'profile'] });
    await client.register({ email, password });
    await client.login({ email, password });
    const report = await client.logout({ waitForPropagation: 5 });
    expect(report).toMatchObject({ complete: true, pending: [], events: [{ type: 'session.revoked' }] });
    expect(report?.confirmed.map((c) => c.instance).sort()).toEqual([ids.orders, ids.replica, ids.profile].sort());
    expect(report?.slowestMs).toBe(Math.max(...(report?.confirmed ?? []).map((c) => c.ms)));
    expect(client.session).toBeNull();
  });

  it('with one instance frozen (SIGSTOP) it answers at the deadline, naming it pending; the admin report agrees', async () => {
    await waitFor(allLive, { what: 'all three instances live and ready', timeoutMs: 30_000 });
    const token = await sessionToken();
    let answer: Awaited<ReturnType<typeof logoutWaiting>>;
    let report: Report;
    replica.child.kill('SIGSTOP');
    try {
      answer = await logoutWaiting(token, 5);
      // Asked while the replica is still frozen.
      report = await getJson<Report>(`/v1/admin/revocations/${answer.propagation.events[0]?.id}`);
    } finally {
      replica.child.kill('SIGCONT');
    }
    expect(answer.status).toBe(200);
    expect(answer.applied).toBe('wait=5');
    // At the deadline: not before, and not long after (a loaded 2-core machine gets slack).
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(5000);
    expect(answer.elapsedMs).toBeLessThan(8000);
    const { propagation } = answer;
    expect(propagation.complete).toBe(false);
    expect(propagation.pending).toEqual([{ instance: ids.replica, service: 'orders', audiences: ['orders'] }]);
    expect(propagation.confirmed.map((c) => c.instance).sort()).toEqual([ids.orders, ids.profile].sort());
    expect(propagation.waited_ms).toBeGreaterThanOrEqual(5000);

    expect(report).toMatchObject({ id: propagation.events[0]?.id, complete: false, pending: [ids.replica] });
    expect(Object.fromEntries(report.instances.map((i) => [i.instance, i.status]))).toEqual({ [ids.orders]: 'confirmed', [ids.profile]: 'confirmed', [ids.replica]: 'pending' });
    // Thawed, the replica applies it and confirms late.
    await waitFor(async () => (await getJson<Report>(`/v1/admin/revocations/${report.id}`)).complete, { what: 'the thawed replica confirming', timeoutMs: 30_000 });
  });

  it('the propagation histogram has the samples, per audience', async () => {
    const metrics = await (await fetch(`${cluster.authUrl}/metrics`)).text();
    const count = (audience: string) => Number(new RegExp(`^revocable_auth_propagation_seconds_count\\{audience="${audience}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    // Three logouts: orders confirmed by both instances twice, by one the third time (at least).
    expect(count('orders')).toBeGreaterThanOrEqual(5);
    expect(count('profile')).toBeGreaterThanOrEqual(3);
    expect(metrics).toMatch(/^revocable_auth_live_instances\{audience="orders"\} 2$/m);
  });
});
