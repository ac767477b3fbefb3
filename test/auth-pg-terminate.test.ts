// Issue 10, defect 1: the auth service as its own process, with pg_terminate_backend on its
// OWN PostgreSQL connections (its database only; nothing else on the server is touched)
// during a burst of logins and logouts and during relay drains. The process stays up,
// requests answer 503 (never 500, never a dropped connection) while broken and succeed
// again afterwards, the LISTEN connection comes back, and every revocation that committed
// reaches the topic: none lost, none half-written.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEvent, type BroadcastSubscription, type RevocableEvent } from '@revocable/events';
import { freePort } from '@revocable/infra';
import { authEnv, createTestDatabase, testTransport, uniqueTopic, waitFor } from './support/env.ts';

const SERVER = fileURLToPath(new URL('../services/auth/src/server.ts', import.meta.url));

let db: { url: string; drop: () => Promise<void> };
let dbName = '';
let child: ChildProcess | undefined;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
let stderr = '';
let subscription: BroadcastSubscription | undefined;
let admin: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('revocable_auth_pgkill');
  dbName = new URL(db.url).pathname.slice(1);
  admin = new pg.Client({ connectionString: db.url, application_name: 'pgkill-test' });
  await admin.connect();
});

afterAll(async () => {
  await subscription?.stop();
  if (child !== undefined && child.exitCode === null) {
    child.kill('SIGTERM');
    await exited;
  }
  await admin?.end();
  await db?.drop();
});

/** Terminates the auth service's connections (pool and LISTEN) in this test's database only. */
async function terminateAuthConnections(): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(
    `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
      WHERE datname = $1 AND application_name LIKE 'revocable-auth%' AND pid <> pg_backend_pid()`,
    [dbName],
  );
  return Number(rows[0]?.n);
}

function sidOf(accessToken: string): string {
  return (JSON.parse(Buffer.from(accessToken.split('.')[1] as string, 'base64url').toString()) as { sid: string }).sid;
}

describe('auth service under pg_terminate_backend', () => {
  it('stays up, answers 503 while broken, recovers, and loses or half-writes no revocation', async () => {
    const port = await freePort();
    const topic = uniqueTopic('auth-pgkill');
    const base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [SERVER], {
      env: authEnv(db.url, {
        PATH: process.env['PATH'] ?? '',
        REVOCATION_TOPIC: topic,
        LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000000',
        OUTBOX_POLL_INTERVAL_MS: '100',
        HEARTBEAT_INTERVAL_MS: '300',
        PORT: String(port),
        LOG_LEVEL: 'warn',
      }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    exited = new Promise((resolve) => child?.on('exit', (code, signal) => resolve({ code, signal })));
    const alive = () => child?.exitCode === null && child.signalCode === null;
    const readyz = async () => (await (await fetch(`${base}/readyz`)).json()) as { status: string; relay: { state: string; listening: boolean; pending: number | null } };
    await waitFor(async () => (await readyz()).relay.state === 'running', { timeoutMs: 60_000, what: 'auth ready with the relay running' });

    const received = new Map<string, RevocableEvent>();
    subscription = await testTransport('pgkill-test').subscribeAll({
      topic,
      onRecords: (records) => {
        for (const r of records) {
          const parsed = parseEvent(r.value);
          if (parsed.ok && parsed.event.type === 'session.revoked') received.set(parsed.event.sid, parsed.event);
        }
      },
    });

    const post = (path: string, body?: unknown, token?: string) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const email = `pgkill-${randomUUID()}@example.com`;
    expect((await post('/v1/users', { email, password: 'terminate me' })).status).toBe(201);

    // The burst: 8 workers log in and out while the auth service's connections are terminated every ~15 ms.
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const loggedOut: string[] = [];
    const attempted: string[] = [];
    let terminated = 0;
    let stop = false;
    const nemesis = (async () => {
      while (!stop) {
        terminated += await terminateAuthConnections();
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    const worker = async () => {
      for (let i = 0; i < 15; i++) {
        const login = await post('/v1/login', { email, password: 'terminate me' });
        count(login.status);
        if (login.status !== 200) {
          await login.body?.cancel();
          continue;
        }
        const { access_token } = (await login.json()) as { access_token: string };
        const sid = sidOf(access_token);
        attempted.push(sid);
        const logout = await post('/v1/logout', undefined, access_token);
        count(logout.status);
        await logout.body?.cancel();
        if (logout.status === 204) loggedOut.push(sid);
      }
    };
    try {
      await Promise.all(Array.from({ length: 8 }, worker));
    } finally {
      stop = true;
      await nemesis.catch(() => {});
    }

    expect(alive(), stderr).toBe(true);
    expect(terminated).toBeGreaterThan(0);
    // Only success or a clean 503 (never a 500, never a reset connection: fetch would have thrown).
    expect([...statuses.keys()].filter((s) => ![200, 204, 503].includes(s)), JSON.stringify([...statuses])).toEqual([]);
    expect(statuses.get(503) ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(0);
    expect(stderr).not.toMatch(/Unhandled 'error' event|uncaught/i);

    // Healed: requests succeed again and the LISTEN connection is back.
    const relogin = await waitFor(
      async () => {
        const res = await post('/v1/login', { email, password: 'terminate me' });
        return res.status === 200 ? ((await res.json()) as { access_token: string }) : undefined;
      },
      { timeoutMs: 20_000, what: 'a successful login after the faults' },
    );
    expect((await post('/v1/logout', undefined, relogin.access_token)).status).toBe(204);
    loggedOut.push(sidOf(relogin.access_token));
    attempted.push(sidOf(relogin.access_token));
    await waitFor(async () => (await readyz()).relay.listening, { timeoutMs: 30_000, what: 'LISTEN connection re-established' });

    // No revocation lost: every acknowledged logout reaches the topic. None half-written:
    // a session is revoked in PostgreSQL exactly when its event was published.
    await waitFor(async () => (await readyz()).relay.pending === 0, { timeoutMs: 30_000, what: 'outbox drained' });
    await waitFor(() => loggedOut.every((sid) => received.has(sid)), {
      timeoutMs: 30_000,
      what: `events for all ${loggedOut.length} acknowledged logouts (missing ${loggedOut.filter((s) => !received.has(s)).length})`,
    });
    const { rows } = await admin.query<{ id: string; revoked_at: Date | null }>('SELECT id, revoked_at FROM sessions WHERE id = ANY($1::uuid[])', [attempted]);
    for (const row of rows) expect(row.revoked_at !== null, `session ${row.id}: revoked in PostgreSQL iff its event was published`).toBe(received.has(row.id));
    expect(alive(), stderr).toBe(true);
  }, 180_000);
});
