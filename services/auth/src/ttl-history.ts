import { revocationUntil, type RevocationWindow } from '@revocable/events';
import { MAX_ACCESS_TTL_SECONDS } from '@revocable/tokens';
import type { Db } from './queries/db.ts';
import { findTtlPeriods, renewTtlPeriod, type TtlPeriodRow } from './queries/ttl-history.ts';

/** A period in which the issuer signed with one access-token lifetime. Times in epoch ms. */
export interface TtlPeriod {
  ttlSeconds: number;
  clockSkewSeconds: number;
  sinceMs: number;
  /** Lease end: no token of this period was issued after it. */
  untilMs: number;
}

/**
 * How long a period's lease runs past its last renewal, ms. An instance renews it at start
 * and every {@link TTL_LEASE_RENEW_INTERVAL_MS}, so while it signs the lease is in the future;
 * after a TTL change (or a crash) the old TTL keeps being covered for at most this long.
 */
export const TTL_LEASE_MS = 30 * 60 * 1000;
/** How often a running instance renews its period's lease, ms. */
export const TTL_LEASE_RENEW_INTERVAL_MS = 10 * 60 * 1000;
/** Periods whose lease ended longer ago than this are never read (no token of theirs can be live). */
const LOOKBACK_MS = (MAX_ACCESS_TTL_SECONDS + 600 + 86_400) * 1000;

function periodOf(row: TtlPeriodRow): TtlPeriod {
  return { ttlSeconds: row.ttl_seconds, clockSkewSeconds: row.clock_skew_seconds, sinceMs: row.since.getTime(), untilMs: row.until.getTime() };
}

/**
 * The `until` (epoch seconds) that covers every access token issued up to `lastIssuedAtMs`:
 * the latest `exp + skew` over the TTL history (a token of a period was issued at the latest
 * at the period's lease end or at `lastIssuedAtMs`, whichever is earlier), and never less
 * than the current settings' `revocationUntil`. The same rule as the SQL function
 * `access_ttl_covered_until`.
 * @example coveredUntil([{ ttlSeconds: 1800, clockSkewSeconds: 30, sinceMs: 0, untilMs: 600_000 }], 700_000, { accessTtlSeconds: 60, clockSkewSeconds: 30 }) // 600 + 1800 + 30
 */
export function coveredUntil(periods: readonly TtlPeriod[], lastIssuedAtMs: number, current: RevocationWindow): number {
  let until = revocationUntil(lastIssuedAtMs, current);
  for (const p of periods) {
    if (p.sinceMs > lastIssuedAtMs) continue;
    until = Math.max(until, Math.ceil(Math.min(p.untilMs, lastIssuedAtMs) / 1000) + p.ttlSeconds + p.clockSkewSeconds);
  }
  return until;
}

/**
 * `until` of a `key.revoked` event (epoch seconds): the last `exp` (+ skew) of a token the key
 * signed up to `lastSignedAtMs`, over the TTL history, plus the verifiers' JWKS cache age: a
 * verifier that fetched the JWKS while the key was published may hold it that much longer,
 * and must keep refusing what it signs (a stolen key signs fresh tokens).
 */
export function keyRevocationUntil(periods: readonly TtlPeriod[], lastSignedAtMs: number, current: RevocationWindow, verifierJwksMaxAgeSeconds: number): number {
  return coveredUntil(periods, lastSignedAtMs, current) + verifierJwksMaxAgeSeconds;
}

/**
 * The longest `ttl + skew` (seconds) of a token that may still be live at `nowMs`: the current
 * settings', or an earlier period's whose tokens have not all expired. Sizes the topic's
 * retention and how long a retired key stays published.
 */
export function longestLiveTtlSeconds(periods: readonly TtlPeriod[], nowMs: number, current: RevocationWindow): number {
  let longest = current.accessTtlSeconds + current.clockSkewSeconds;
  for (const p of periods) {
    const span = p.ttlSeconds + p.clockSkewSeconds;
    if (p.untilMs + span * 1000 > nowMs) longest = Math.max(longest, span);
  }
  return longest;
}

/** Renews (or opens) the period of the current TTL and returns the history that can still matter. */
export async function recordTtlInForce(db: Db, current: RevocationWindow, nowMs: number): Promise<TtlPeriod[]> {
  await renewTtlPeriod(db, { ttlSeconds: current.accessTtlSeconds, clockSkewSeconds: current.clockSkewSeconds, now: new Date(nowMs), leaseUntil: new Date(nowMs + TTL_LEASE_MS) });
  return loadTtlHistory(db, nowMs);
}

/** The TTL periods whose tokens may still be live at `nowMs` (and a day more). */
export async function loadTtlHistory(db: Db, nowMs: number): Promise<TtlPeriod[]> {
  return (await findTtlPeriods(db, new Date(nowMs - LOOKBACK_MS))).map(periodOf);
}

/** Forgets periods no token of which can be live any more (a day of margin kept). */
export function ttlHistoryPurgeBefore(nowMs: number): Date {
  return new Date(nowMs - LOOKBACK_MS);
}
