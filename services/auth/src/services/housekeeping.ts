import type { Db } from '../queries/db.ts';
import { purgeFailures } from '../queries/login-failures.ts';
import { purgeRevokedAccessTokens } from '../queries/revocations.ts';
import { purgeSessions } from '../queries/sessions.ts';
import { purgeTtlPeriods } from '../queries/ttl-history.ts';
import { ttlHistoryPurgeBefore } from '../ttl-history.ts';

/** What {@link purgeExpired} needs. */
export interface HousekeepingOptions {
  db: Db;
  accessTtlSeconds: number;
  clockSkewSeconds: number;
  loginAccountWindowSeconds: number;
  now: () => number;
}

/** Deletes rows nobody needs any more (expired revoked tokens, long-dead sessions, old login failures, TTL periods no live token can be of). */
export async function purgeExpired(o: HousekeepingOptions): Promise<void> {
  const nowMs = o.now();
  await purgeRevokedAccessTokens(o.db, new Date(nowMs - o.clockSkewSeconds * 1000));
  // Dead sessions are kept one access-TTL (plus a day for support look-ups) so reuse detection still sees them.
  await purgeSessions(o.db, new Date(nowMs - (o.accessTtlSeconds + 86_400) * 1000));
  await purgeFailures(o.db, new Date(nowMs - o.loginAccountWindowSeconds * 1000));
  await purgeTtlPeriods(o.db, ttlHistoryPurgeBefore(nowMs));
}
