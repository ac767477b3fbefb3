// Connection loss against the real PostgreSQL: pg_terminate_backend on this pool's own
// connections (filtered by this test's database) while a client is checked out must not
// crash the process (pg-pool removes its error listener during checkout), must surface as
// ERR_AUTH_DB_UNAVAILABLE (503) with nothing half-written, and the pool must recover.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, withTransaction, type Pool } from './db.ts';
import { createScratchDatabase } from './test-database.ts';

let dbUrl = '';
let dbName = '';
let dropDatabase: () => Promise<void> = async () => {};
let pool: Pool;
let admin: Pool;
const idleErrors: Error[] = [];

beforeAll(async () => {
  ({ url: dbUrl, drop: dropDatabase } = await createScratchDatabase('revocable_auth_db_unit'));
  dbName = new URL(dbUrl).pathname.slice(1);
  pool = createPool({ connectionString: dbUrl, max: 4, connectTimeoutMs: 2000, statementTimeoutMs: 5000, onIdleError: (e) => idleErrors.push(e) });
  // A separate pool (other application_name) that does the terminating.
  admin = createPool({ connectionString: dbUrl, max: 1, connectTimeoutMs: 2000, statementTimeoutMs: 5000, onIdleError: () => {} });
  await pool.query('CREATE TABLE t (id int PRIMARY KEY)');
});

afterAll(async () => {
  await pool?.end();
  await admin?.end();
  await dropDatabase();
});

/** Terminates this pool's backends in this test's database only (never another database). */
async function terminateOwn(): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(
    `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
      WHERE datname = $1 AND application_name = 'revocable-auth' AND pid <> pg_backend_pid()`,
    [dbName],
  );
  return Number(rows[0]?.n);
}

/** Resolves once the client saw its connection end (after its 'error' event; no error listener added here). */
function untilEnded(client: { once(event: 'end', fn: () => void): void }): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the client never saw its connection end')), 10_000);
    client.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('withTransaction under connection loss', () => {
  it('a backend terminated while the transaction waits between statements: 503, rolled back, no crash, pool recovers', async () => {
    const attempt = withTransaction(pool, async (client) => {
      await client.query('INSERT INTO t (id) VALUES (1)');
      // Between two statements (e.g. while hashing a password): no query is active, so the
      // termination arrives as an 'error' event on the client itself.
      const ended = untilEnded(client);
      expect(await terminateOwn()).toBeGreaterThanOrEqual(1);
      await ended;
      await client.query('INSERT INTO t (id) VALUES (2)');
    });
    await expect(attempt).rejects.toMatchObject({ code: 'ERR_AUTH_DB_UNAVAILABLE', status: 503 });
    // Nothing half-written, and the pool hands out working connections again.
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM t');
    expect(Number(rows[0]?.n)).toBe(0);
    await withTransaction(pool, (client) => client.query('INSERT INTO t (id) VALUES (3)'));
    expect((await pool.query('SELECT id FROM t')).rows).toEqual([{ id: 3 }]);
  });

  it('a backend terminated during a statement: 503 and the broken client is not returned to the pool', async () => {
    await pool.query('DELETE FROM t');
    const attempt = withTransaction(pool, async (client) => {
      // Settled into a value at once so its rejection is never "unhandled" while we wait.
      const running = client.query('SELECT pg_sleep(5)').then(() => undefined, (error: unknown) => error);
      // Wait until the statement is really running on the server before terminating it.
      for (let i = 0; ; i++) {
        const { rows } = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'`, [dbName]);
        if (rows.length > 0) break;
        if (i > 500) throw new Error('the statement never started');
        await new Promise((r) => setTimeout(r, 10));
      }
      await terminateOwn();
      const failure = await running;
      if (failure !== undefined) throw failure;
    });
    await expect(attempt).rejects.toMatchObject({ code: 'ERR_AUTH_DB_UNAVAILABLE' });
    // Every pooled client works (a broken one returned to the pool would fail here).
    await Promise.all(Array.from({ length: 4 }, () => pool.query('SELECT 1')));
  });

  it('idle clients terminated in the pool are reported, not thrown', async () => {
    await Promise.all(Array.from({ length: 3 }, () => pool.query('SELECT 1')));
    const before = idleErrors.length;
    const killed = await terminateOwn();
    expect(killed).toBeGreaterThanOrEqual(1);
    for (let i = 0; idleErrors.length < before + killed; i++) {
      if (i > 500) throw new Error('idle error never reported');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
  });
});
