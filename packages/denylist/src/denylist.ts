import type { RevocableEvent } from '@revocable/events';
import { CodedError, type DenialKind } from '@revocable/protocol';
import { createIdHasher, type IdHash64, type IdHasher } from './hash.ts';
import { ExpiringHashTable } from './table.ts';

// Which entry denied a token: part of the wire contract (@revocable/protocol).
export type { DenialKind };

/** Options for {@link Denylist}. */
export interface DenylistOptions {
  /** Clock, epoch milliseconds. Default `Date.now`. Tests inject one and move it. */
  now?: () => number;
  /**
   * Extra seconds an entry keeps denying after its `until`, so a token the verifier still
   * accepts thanks to its clock tolerance (`exp` leeway) stays denied. Set it to at least the
   * verifier's `clockToleranceSeconds`. Integer ≥ 0, default 60.
   */
  graceSeconds?: number;
  /**
   * Hashes ids to 64 bits. Default: {@link createIdHasher} with a fresh random seed. Inject a
   * seeded or degenerate hasher only in tests and benchmarks.
   */
  hasher?: IdHasher;
  /**
   * Most live entries per kind (see {@link DEFAULT_DENYLIST_CAPS}). An entry beyond its cap is
   * not stored, is counted ({@link Denylist.overflows}) and makes the denylist fail closed
   * ({@link Denylist.failClosedUntil}) until every refused entry would have expired by itself:
   * memory stays bounded and no refused revocation can be missed.
   */
  maxEntries?: Partial<DenylistCaps>;
  /**
   * Longest an entry refused at a cap keeps the denylist failing closed, seconds: the longest
   * a token it covers can still be accepted (the verifier's maximum token lifetime plus its
   * clock tolerance). Covered tokens were issued before the refusal, so past that bound none is
   * acceptable whatever the entry's `until` says: one record with an absurd `until` cannot
   * take the service down for years. Integer ≥ 1, default: no bound (the entry's own `until`).
   */
  failClosedMaxSeconds?: number;
}

/** Most live entries per kind, entries. */
export interface DenylistCaps {
  session: number;
  user: number;
  token: number;
  key: number;
}

/**
 * Default caps, entries: 2,000,000 sessions (~48 MiB of tables at the cap), 1,000,000 users,
 * 1,000,000 tokens, 100 keys (a real issuer revokes a handful of keys per retention; more is an
 * attack or a bug, never something to grow memory for).
 */
export const DEFAULT_DENYLIST_CAPS: Readonly<DenylistCaps> = Object.freeze({ session: 2_000_000, user: 1_000_000, token: 1_000_000, key: 100 });

/** The claims of a verified access token that the denylist decides on. */
export interface TokenRef {
  jti: string;
  sid: string;
  sub: string;
  /** The user's token version at issue time. */
  ver: number;
  /** Key id from the JWS header. */
  kid: string;
}

/**
 * A token's ids hashed once by {@link Denylist.prepare}, for repeated {@link Denylist.checkPrepared}
 * calls (a verifier keeps it next to its cached token). Valid for the denylist that made it only
 * (the hash seed is per instance); opaque otherwise.
 */
export interface PreparedTokenRef {
  readonly token: Readonly<TokenRef>;
  /** @internal sub, sid, jti hashes: [hi, lo] × 3. */
  readonly hashes: Uint32Array;
  /** @internal the denylist whose seed hashed them. */
  readonly owner: object;
}

/** Live entry counts by kind. */
export interface DenylistSize {
  session: number;
  user: number;
  token: number;
  key: number;
  total: number;
}

export type DenylistErrorCode = 'ERR_DENYLIST_INVALID_ARGUMENT' | 'ERR_DENYLIST_INVALID_CLOCK';

/** Thrown for a programming error: an argument of the wrong type/range, or a clock returning a non-number. */
export class DenylistError extends CodedError<DenylistErrorCode> {}

const MAX_EXPIRES_AT = 0xffff_ffff;
const MAX_VERSION = 0xffff_ffff;
const DEFAULT_GRACE_SECONDS = 60;

/**
 * In-memory revocation state of one resource-service instance.
 *
 * Session ids, jtis and subjects are not stored: each is reduced to a keyed 64-bit hash
 * (see {@link createIdHasher}) in an open-addressing table of typed arrays, 12 bytes per
 * slot (16 for subjects, which also carry `minVer`), so a million live session entries
 * take about 25 MB instead of hundreds of MB of strings and map nodes. Key revocations are
 * rare and kept in a plain Map.
 *
 * Trade-off: two different ids with the same 64-bit hash are indistinguishable. That can
 * only make the denylist deny a token it should have allowed (a false "revoked", with
 * probability about n / 2^64 per lookup with n live entries: ~5e-14 at a million entries),
 * never allow one it should deny. The seed is random per instance, so a collision is not
 * reproducible across instances or restarts.
 *
 * Expiry: an entry denies up to and including the second `until + graceSeconds` and is
 * forgotten after it. Nothing runs on a timer: expired entries never match, are reused by
 * inserts, and are dropped when a table fills up (amortised O(1) per insert), on
 * {@link Denylist.prune} and on {@link Denylist.size}. Memory is therefore bounded by the
 * live entries (revocation rate × token lifetime), not by history.
 *
 * Not safe for concurrent mutation from several threads; one instance per event loop.
 */
export class Denylist {
  readonly #now: () => number;
  readonly #graceSeconds: number;
  readonly #hash: IdHasher;
  readonly #h: IdHash64 = { hi: 0, lo: 0 };
  readonly #sessions = new ExpiringHashTable(3);
  readonly #tokens = new ExpiringHashTable(3);
  /** sub → minVer (value) */
  readonly #users = new ExpiringHashTable(4);
  /** kid → expiresAt (first second no longer denied) */
  readonly #keys = new Map<string, number>();
  readonly #caps: DenylistCaps;
  /** Per kind: entries refused at the cap since start. */
  readonly #overflows: Record<DenialKind, number> = { session: 0, user: 0, token: 0, key: 0 };
  /**
   * First epoch second at which every entry refused at a cap would have expired; 0 when none
   * was refused or that second has passed (so the request path reads no clock while it is 0).
   */
  #closedUntil = 0;
  readonly #failClosedMaxSeconds: number;

  constructor(options: DenylistOptions = {}) {
    this.#now = options.now ?? Date.now;
    const grace = options.graceSeconds ?? DEFAULT_GRACE_SECONDS;
    if (!Number.isSafeInteger(grace) || grace < 0) {
      throw new DenylistError('ERR_DENYLIST_INVALID_ARGUMENT', `graceSeconds must be an integer >= 0, got ${String(grace)}`);
    }
    this.#graceSeconds = grace;
    this.#hash = options.hasher ?? createIdHasher();
    const caps = { ...DEFAULT_DENYLIST_CAPS, ...options.maxEntries };
    for (const kind of ['session', 'user', 'token', 'key'] as const) {
      if (!Number.isSafeInteger(caps[kind]) || caps[kind] < 1) {
        throw new DenylistError('ERR_DENYLIST_INVALID_ARGUMENT', `maxEntries.${kind} must be an integer >= 1, got ${String(caps[kind])}`);
      }
    }
    this.#caps = caps;
    const bound = options.failClosedMaxSeconds ?? Number.POSITIVE_INFINITY;
    if (bound !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(bound) || bound < 1)) {
      throw new DenylistError('ERR_DENYLIST_INVALID_ARGUMENT', `failClosedMaxSeconds must be an integer >= 1, got ${String(bound)}`);
    }
    this.#failClosedMaxSeconds = bound;
  }

  /**
   * Denies every token carrying `sid` until `untilEpochSeconds` (+ grace). Returns true if
   * the state changed (new entry, or a later `until` extended it).
   */
  revokeSession(sid: string, untilEpochSeconds: number): boolean {
    checkId('sid', sid);
    return this.#upsert('session', this.#sessions, sid, untilEpochSeconds, 0);
  }

  /**
   * Denies tokens of `sub` whose `ver` is lower than `minVer`, until `untilEpochSeconds`
   * (+ grace). A live entry keeps the highest `minVer` and the latest `until`. Returns true
   * if the state changed.
   */
  revokeUserBelow(sub: string, minVer: number, untilEpochSeconds: number): boolean {
    checkId('sub', sub);
    if (!Number.isSafeInteger(minVer) || minVer < 0 || minVer > MAX_VERSION) {
      throw new DenylistError('ERR_DENYLIST_INVALID_ARGUMENT', `minVer must be an integer in 0..${MAX_VERSION}`);
    }
    return this.#upsert('user', this.#users, sub, untilEpochSeconds, minVer);
  }

  /** Denies the token with this `jti` until `untilEpochSeconds` (+ grace). Returns true if the state changed. */
  revokeToken(jti: string, untilEpochSeconds: number): boolean {
    checkId('jti', jti);
    return this.#upsert('token', this.#tokens, jti, untilEpochSeconds, 0);
  }

  /** Denies everything signed with `kid` until `untilEpochSeconds` (+ grace). Returns true if the state changed. */
  revokeKey(kid: string, untilEpochSeconds: number): boolean {
    checkId('kid', kid);
    const expiresAt = this.#expiresAt(untilEpochSeconds);
    const nowSec = this.#nowSec();
    if (expiresAt <= nowSec) return false;
    const current = this.#keys.get(kid);
    if (current !== undefined && current >= expiresAt) return false;
    if (current === undefined && this.#keys.size >= this.#caps.key) {
      this.#pruneKeys(nowSec);
      if (this.#keys.size >= this.#caps.key) return this.#refuse('key', expiresAt, nowSec);
    }
    this.#keys.set(kid, expiresAt);
    return true;
  }

  /**
   * The epoch second until which this denylist must fail closed (refuse every token), or 0:
   * an entry was refused at its kind's cap and could still deny a live token. Past it, every
   * refused entry would have expired by itself, so serving again misses no revocation.
   */
  failClosedUntil(): number {
    return this.failingClosed() ? this.#closedUntil : 0;
  }

  /**
   * True while {@link failClosedUntil} is in force: the request path refuses every token the
   * denylist does not deny by itself. O(1); reads no clock when nothing was ever refused.
   */
  failingClosed(): boolean {
    if (this.#closedUntil === 0) return false;
    if (this.#closedUntil > this.#nowSec()) return true;
    this.#closedUntil = 0;
    return false;
  }

  /** Entries refused at the cap since start, per kind (`revocable_denylist_overflows_total`). */
  overflows(): Readonly<Record<DenialKind, number>> {
    return { ...this.#overflows };
  }

  /** The per-kind caps in force, entries. */
  caps(): Readonly<DenylistCaps> {
    return { ...this.#caps };
  }

  #refuse(kind: DenialKind, expiresAt: number, nowSec: number): false {
    this.#overflows[kind]++;
    const until = Math.min(expiresAt, nowSec + this.#failClosedMaxSeconds);
    if (until > this.#closedUntil) this.#closedUntil = until;
    return false;
  }

  /**
   * Applies one event from the revocation topic. Idempotent: applying the same event again
   * changes nothing. Heartbeats (and unknown types) are ignored. Returns true if the state changed.
   */
  apply(event: RevocableEvent): boolean {
    switch (event.type) {
      case 'session.revoked':
        return this.revokeSession(event.sid, event.until);
      case 'user.revoked':
        return this.revokeUserBelow(event.sub, event.minVer, event.until);
      case 'token.revoked':
        return this.revokeToken(event.jti, event.until);
      case 'key.revoked':
        return this.revokeKey(event.kid, event.until);
      default:
        return false;
    }
  }

  /**
   * Returns null when no live entry covers the token, else the kind of the first matching
   * entry, checked in the order key, user, session, token. O(1): at most three hash
   * computations and table probes, fewer when a table is empty. A non-numeric `ver` is
   * treated as below any `minVer` (denied if the user has an entry).
   */
  check(token: TokenRef): DenialKind | null {
    return this.#check(token, null);
  }

  /**
   * Hashes the token's `sub`, `sid` and `jti` once, so that {@link checkPrepared} answers
   * without hashing them again. The hashes stay valid for this denylist's lifetime (rehashes
   * of its tables do not change them).
   */
  prepare(token: TokenRef): PreparedTokenRef {
    const hashes = new Uint32Array(6);
    const h = this.#h;
    const ids = [token.sub, token.sid, token.jti];
    for (let i = 0; i < 3; i++) {
      const id = ids[i];
      if (typeof id !== 'string') continue;
      this.#hash(id, h);
      hashes[2 * i] = h.hi;
      hashes[2 * i + 1] = h.lo;
    }
    return Object.freeze({ token: Object.freeze({ jti: token.jti, sid: token.sid, sub: token.sub, ver: token.ver, kid: token.kid }), hashes, owner: this });
  }

  /**
   * {@link check} of a {@link prepare}d token: the same answer, without hashing the ids.
   * A reference prepared by another denylist is checked the slow way (hashed again).
   */
  checkPrepared(prepared: PreparedTokenRef): DenialKind | null {
    return this.#check(prepared.token, prepared.owner === this ? prepared.hashes : null);
  }

  #check(token: TokenRef, hashes: Uint32Array | null): DenialKind | null {
    // The clock is read only when an entry matches: most tokens match nothing.
    let nowSec = Number.NaN;
    if (this.#keys.size > 0) {
      const expiresAt = this.#keys.get(token.kid);
      if (expiresAt !== undefined) {
        nowSec = this.#nowSec();
        if (expiresAt > nowSec) return 'key';
      }
    }
    const h = this.#h;
    const users = this.#users;
    if (users.occupied > 0 && typeof token.sub === 'string') {
      if (hashes === null) {
        this.#hash(token.sub, h);
      } else {
        h.hi = hashes[0]!;
        h.lo = hashes[1]!;
      }
      const slot = users.find(h.hi, h.lo);
      if (slot >= 0) {
        if (Number.isNaN(nowSec)) nowSec = this.#nowSec();
        if (users.expiresAtSlot(slot) > nowSec && !(token.ver >= users.valueAt(slot))) return 'user';
      }
    }
    const sessions = this.#sessions;
    if (sessions.occupied > 0 && typeof token.sid === 'string') {
      if (hashes === null) {
        this.#hash(token.sid, h);
      } else {
        h.hi = hashes[2]!;
        h.lo = hashes[3]!;
      }
      const slot = sessions.find(h.hi, h.lo);
      if (slot >= 0) {
        if (Number.isNaN(nowSec)) nowSec = this.#nowSec();
        if (sessions.expiresAtSlot(slot) > nowSec) return 'session';
      }
    }
    const tokens = this.#tokens;
    if (tokens.occupied > 0 && typeof token.jti === 'string') {
      if (hashes === null) {
        this.#hash(token.jti, h);
      } else {
        h.hi = hashes[4]!;
        h.lo = hashes[5]!;
      }
      const slot = tokens.find(h.hi, h.lo);
      if (slot >= 0) {
        if (Number.isNaN(nowSec)) nowSec = this.#nowSec();
        if (tokens.expiresAtSlot(slot) > nowSec) return 'token';
      }
    }
    return null;
  }

  /**
   * Live entry counts by kind. Drops expired entries first (see {@link Denylist.prune}), so
   * it costs O(capacity) when something may have expired since the last prune: meant for
   * metrics scrapes, not the request path.
   */
  size(): DenylistSize {
    this.prune();
    const session = this.#sessions.occupied;
    const user = this.#users.occupied;
    const token = this.#tokens.occupied;
    const key = this.#keys.size;
    return { session, user, token, key, total: session + user + token + key };
  }

  /**
   * Drops every expired entry and shrinks tables that became mostly empty. Returns how many
   * entries were dropped. O(capacity) when something may have expired, O(1) otherwise. The
   * structure also prunes by itself when a table fills up; calling this periodically only
   * returns memory sooner after a burst.
   */
  prune(): number {
    const nowSec = this.#nowSec();
    return this.#sessions.prune(nowSec) + this.#users.prune(nowSec) + this.#tokens.prune(nowSec) + this.#pruneKeys(nowSec);
  }

  /** Bytes held by the hash tables' typed arrays (the small key map is not counted). */
  memoryBytes(): number {
    return this.#sessions.byteLength + this.#users.byteLength + this.#tokens.byteLength;
  }

  #upsert(kind: DenialKind, table: ExpiringHashTable, id: string, untilEpochSeconds: number, value: number): boolean {
    const expiresAt = this.#expiresAt(untilEpochSeconds);
    const nowSec = this.#nowSec();
    if (expiresAt <= nowSec) return false;
    const h = this.#h;
    this.#hash(id, h);
    const cap = this.#caps[kind];
    if (table.occupied >= cap && table.findLive(h.hi, h.lo, nowSec) < 0) {
      // Expired entries do not count against the cap.
      table.prune(nowSec);
      if (table.occupied >= cap) return this.#refuse(kind, expiresAt, nowSec);
    }
    return table.upsert(h.hi, h.lo, expiresAt, nowSec, value);
  }

  #pruneKeys(nowSec: number): number {
    let removed = 0;
    for (const [kid, expiresAt] of this.#keys) {
      if (expiresAt <= nowSec) {
        this.#keys.delete(kid);
        removed++;
      }
    }
    return removed;
  }

  /** First epoch second at which an entry with this `until` stops denying, clamped to 32 bits. */
  #expiresAt(untilEpochSeconds: number): number {
    if (typeof untilEpochSeconds !== 'number' || !Number.isFinite(untilEpochSeconds) || untilEpochSeconds < 0) {
      throw new DenylistError('ERR_DENYLIST_INVALID_ARGUMENT', `until must be epoch seconds >= 0, got ${String(untilEpochSeconds)}`);
    }
    const expiresAt = Math.floor(untilEpochSeconds) + this.#graceSeconds + 1;
    return expiresAt > MAX_EXPIRES_AT ? MAX_EXPIRES_AT : expiresAt;
  }

  #nowSec(): number {
    const nowMs = this.#now();
    // A broken clock (NaN) would make every entry look expired: refuse instead of allowing.
    if (!Number.isFinite(nowMs)) {
      throw new DenylistError('ERR_DENYLIST_INVALID_CLOCK', `clock returned ${String(nowMs)}, expected epoch milliseconds`);
    }
    return Math.floor(nowMs / 1000);
  }
}

function checkId(name: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new DenylistError('ERR_DENYLIST_INVALID_ARGUMENT', `${name} must be a non-empty string`);
  }
}
