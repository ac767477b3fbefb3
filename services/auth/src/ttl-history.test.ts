// The `until` rule of issue 9 part 4: pure functions, and the same rule in SQL (the function
// the revocation statements apply) against the real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from './db.ts';
import { runMigrations } from './migrate.ts';
import { coveredUntil, keyRevocationUntil, loadTtlHistory, longestLiveTtlSeconds, recordTtlInForce, TTL_LEASE_MS, type TtlPeriod } from './ttl-history.ts';
import { createScratchDatabase } from './test-database.ts';

const T0 = Date.UTC(2026, 0, 1);
const s = (seconds: number) => T0 + seconds * 1000;
const epoch = (ms: number) => Math.ceil(ms / 1000);
const now60 = { accessTtlSeconds: 60, clockSkewSeconds: 30 };

describe('coveredUntil', () => {
  it('without history is the current rule: lastIssuedAt + TTL + skew', () => {
    expect(coveredUntil([], s(100), now60)).toBe(epoch(s(100)) + 90);
  });

  it('a lowered TTL still covers the tokens of the longer one, issued until its lease ended', () => {
    const history: TtlPeriod[] = [
      { ttlSeconds: 1800, clockSkewSeconds: 30, sinceMs: s(0), untilMs: s(600) },
      { ttlSeconds: 60, clockSkewSeconds: 30, sinceMs: s(700), untilMs: s(700) + TTL_LEASE_MS },
    ];
    // The last 1800 s token was issued at 600 s at the latest.
    expect(coveredUntil(history, s(800), now60)).toBe(epoch(s(600)) + 1830);
    // Before the lease ended, a token of the long TTL may have been issued up to the revocation.
    expect(coveredUntil(history, s(500), now60)).toBe(epoch(s(500)) + 1830);
    // Long after every long-TTL token expired, the current rule wins again.
    expect(coveredUntil(history, s(5000), now60)).toBe(epoch(s(5000)) + 90);
  });

  it('ignores periods that started after the last issue, and counts each period with its own skew', () => {
    const history: TtlPeriod[] = [
      { ttlSeconds: 300, clockSkewSeconds: 120, sinceMs: s(0), untilMs: s(1000) },
      { ttlSeconds: 3600, clockSkewSeconds: 30, sinceMs: s(2000), untilMs: s(3000) },
    ];
    expect(coveredUntil(history, s(900), now60)).toBe(epoch(s(900)) + 420);
  });

  it('rounds a millisecond instant up to the next second', () => {
    expect(coveredUntil([{ ttlSeconds: 900, clockSkewSeconds: 0, sinceMs: s(0), untilMs: s(10) + 1 }], s(20), { accessTtlSeconds: 10, clockSkewSeconds: 0 })).toBe(epoch(s(10)) + 1 + 900);
  });
});

describe('keyRevocationUntil', () => {
  it('is the last exp (+ skew) over the history plus the verifiers JWKS cache age', () => {
    const history: TtlPeriod[] = [{ ttlSeconds: 900, clockSkewSeconds: 30, sinceMs: s(0), untilMs: s(100) }];
    expect(keyRevocationUntil(history, s(200), now60, 600)).toBe(epoch(s(100)) + 930 + 600);
    expect(keyRevocationUntil([], s(200), now60, 600)).toBe(epoch(s(200)) + 90 + 600);
    expect(keyRevocationUntil([], s(200), now60, 0)).toBe(epoch(s(200)) + 90);
  });
});

describe('longestLiveTtlSeconds', () => {
  it('is the longest ttl + skew whose tokens may still be live', () => {
    const history: TtlPeriod[] = [{ ttlSeconds: 1800, clockSkewSeconds: 30, sinceMs: s(0), untilMs: s(600) }];
    expect(longestLiveTtlSeconds(history, s(700), now60)).toBe(1830);
    expect(longestLiveTtlSeconds(history, s(600 + 1830), now60)).toBe(90);
    expect(longestLiveTtlSeconds([], s(0), now60)).toBe(90);
  });
});

describe('access_ttl_history in PostgreSQL', () => {
  let pool: Pool;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const db = await createScratchDatabase('revocable_ttl_history');
    drop = db.drop;
    await runMigrations(db.url);
    pool = createPool({ connectionString: db.url, max: 2, connectTimeoutMs: 2000, statementTimeoutMs: 5000, onIdleError: () => {} });
  }, 60_000);

  afterAll(async () => {
    await pool?.end();
    await drop?.();
  });

  const raised = async (payload: Record<string, unknown>) =>
    (await pool.query<{ p: Record<string, unknown> }>('SELECT revocation_covering_ttl_history($1::jsonb) AS p', [JSON.stringify(payload)])).rows[0]?.p;

  it('records each TTL in force with a lease, and the SQL rule raises until as coveredUntil does', async () => {
    expect(await raised({ type: 'user.revoked', at: s(0), until: 42 })).toMatchObject({ until: 42 });
    const long = { accessTtlSeconds: 1800, clockSkewSeconds: 30 };
    await recordTtlInForce(pool, long, s(0));
    // Renewing the same TTL extends its period, it does not open another.
    await recordTtlInForce(pool, long, s(60));
    const short = { accessTtlSeconds: 60, clockSkewSeconds: 30 };
    const history = await recordTtlInForce(pool, short, s(120));
    expect(history.map((p) => [p.ttlSeconds, p.sinceMs, p.untilMs])).toEqual([
      [1800, s(0), s(60) + TTL_LEASE_MS],
      [60, s(120), s(120) + TTL_LEASE_MS],
    ]);
    expect(await loadTtlHistory(pool, s(120))).toEqual(history);

    for (const atMs of [s(130), s(60) + TTL_LEASE_MS + 5_000, s(20_000)]) {
      const own = coveredUntil([], atMs, short);
      const event = { v: 1, id: 'x', type: 'session.revoked', sub: 'u', sid: 's', reason: 'logout', at: atMs, until: own };
      expect((await raised(event))?.['until']).toBe(coveredUntil(history, atMs, short));
      expect((await raised({ ...event, type: 'user.revoked', minVer: 2 }))?.['until']).toBe(coveredUntil(history, atMs, short));
    }
    expect(coveredUntil(history, s(130), short)).toBe(epoch(s(130)) + 1830);
    // Other events are left as they are.
    const token = { type: 'token.revoked', at: s(130), until: 7 };
    expect(await raised(token)).toEqual(token);
    const key = { type: 'key.revoked', at: s(130), until: 9 };
    expect(await raised(key)).toEqual(key);
  });
});
