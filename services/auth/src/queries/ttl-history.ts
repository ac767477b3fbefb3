// SQL of `access_ttl_history`: the access-token lifetimes this issuer signed with, and when.
import type { Db } from './db.ts';

/** A period in which tokens were signed with one ACCESS_TTL_SECONDS (see the migration). */
export interface TtlPeriodRow {
  ttl_seconds: number;
  clock_skew_seconds: number;
  since: Date;
  until: Date;
}

/**
 * Records that this instance signs with `ttlSeconds` (and `clockSkewSeconds`) from `now`
 * until at least `leaseUntil`: extends the open period of that TTL, or opens one.
 */
export async function renewTtlPeriod(db: Db, p: { ttlSeconds: number; clockSkewSeconds: number; now: Date; leaseUntil: Date }): Promise<void> {
  await db.query(
    `WITH renewed AS (
       UPDATE access_ttl_history SET until = GREATEST(until, $4)
        WHERE ttl_seconds = $1 AND clock_skew_seconds = $2 AND until >= $3
        RETURNING id
     )
     INSERT INTO access_ttl_history (ttl_seconds, clock_skew_seconds, since, until)
     SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM renewed)`,
    [p.ttlSeconds, p.clockSkewSeconds, p.now, p.leaseUntil],
  );
}

/** The periods whose lease ended after `after` (older ones cannot cover a live token). */
export async function findTtlPeriods(db: Db, after: Date): Promise<TtlPeriodRow[]> {
  const { rows } = await db.query<TtlPeriodRow>(
    'SELECT ttl_seconds, clock_skew_seconds, since, until FROM access_ttl_history WHERE until > $1 ORDER BY since',
    [after],
  );
  return rows;
}

/** Forgets periods whose lease ended before `before`. */
export async function purgeTtlPeriods(db: Db, before: Date): Promise<void> {
  await db.query('DELETE FROM access_ttl_history WHERE until < $1', [before]);
}
