import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RevocableEvent } from '@revocable/events';
import { Denylist, DenylistError, createIdHasher, type IdHasher, type TokenRef } from './index.ts';

const T0 = 1_800_000_000; // epoch seconds

/** A clock the test moves by hand. */
function manualClock(startSeconds = T0) {
  let ms = startSeconds * 1000;
  return {
    now: () => ms,
    setSeconds(s: number) {
      ms = s * 1000;
    },
    setMs(v: number) {
      ms = v;
    },
  };
}

function token(overrides: Partial<TokenRef> = {}): TokenRef {
  return { jti: 'jti-1', sid: 'sid-1', sub: 'user-1', ver: 1, kid: 'kid-1', ...overrides };
}

const base = { v: 1 as const, id: 'evt', at: T0 * 1000 };

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DenylistError);
    return (error as DenylistError).code;
  }
  return undefined;
}

describe('Denylist kinds', () => {
  it('denies by session id', () => {
    const clock = manualClock();
    const d = new Denylist({ now: clock.now, graceSeconds: 0 });
    expect(d.check(token())).toBeNull();
    expect(d.revokeSession('sid-1', T0 + 900)).toBe(true);
    expect(d.check(token())).toBe('session');
    expect(d.check(token({ sid: 'sid-2' }))).toBeNull();
  });

  it('denies tokens of a user below minVer only', () => {
    const d = new Denylist({ now: manualClock().now, graceSeconds: 0 });
    expect(d.revokeUserBelow('user-1', 3, T0 + 900)).toBe(true);
    expect(d.check(token({ ver: 2 }))).toBe('user');
    expect(d.check(token({ ver: 0 }))).toBe('user');
    expect(d.check(token({ ver: 3 }))).toBeNull();
    expect(d.check(token({ ver: 4 }))).toBeNull();
    expect(d.check(token({ sub: 'user-2', ver: 0 }))).toBeNull();
  });

  it('treats a non-numeric ver as below minVer', () => {
    const d = new Denylist({ now: manualClock().now });
    d.revokeUserBelow('user-1', 1, T0 + 900);
    expect(d.check(token({ ver: undefined as unknown as number }))).toBe('user');
    expect(d.check(token({ ver: Number.NaN }))).toBe('user');
  });

  it('denies by jti', () => {
    const d = new Denylist({ now: manualClock().now });
    expect(d.revokeToken('jti-1', T0 + 600)).toBe(true);
    expect(d.check(token())).toBe('token');
    expect(d.check(token({ jti: 'jti-2' }))).toBeNull();
  });

  it('denies by kid', () => {
    const d = new Denylist({ now: manualClock().now });
    expect(d.revokeKey('kid-1', T0 + 3600)).toBe(true);
    expect(d.check(token())).toBe('key');
    expect(d.check(token({ kid: 'kid-2' }))).toBeNull();
  });

  it('reports the broadest matching kind first (key, user, session, token)', () => {
    const d = new Denylist({ now: manualClock().now });
    d.revokeToken('jti-1', T0 + 60);
    expect(d.check(token())).toBe('token');
    d.revokeSession('sid-1', T0 + 60);
    expect(d.check(token())).toBe('session');
    d.revokeUserBelow('user-1', 2, T0 + 60);
    expect(d.check(token())).toBe('user');
    d.revokeKey('kid-1', T0 + 60);
    expect(d.check(token())).toBe('key');
  });

  it('keeps the kinds apart: the same string in another field does not match', () => {
    const d = new Denylist({ now: manualClock().now });
    d.revokeSession('x', T0 + 60);
    expect(d.check(token({ jti: 'x', sub: 'x', kid: 'x' }))).toBeNull();
    d.revokeToken('y', T0 + 60);
    expect(d.check(token({ sid: 'y', sub: 'y', kid: 'y' }))).toBeNull();
  });

  it('handles long, non-ASCII and odd-length ids', () => {
    const d = new Denylist({ now: manualClock().now });
    const long = 'j'.repeat(256);
    d.revokeToken(long, T0 + 60);
    d.revokeToken('ü😀x', T0 + 60);
    expect(d.check(token({ jti: long }))).toBe('token');
    expect(d.check(token({ jti: 'j'.repeat(255) }))).toBeNull();
    expect(d.check(token({ jti: 'ü😀x' }))).toBe('token');
    expect(d.check(token({ jti: 'ü😀' }))).toBeNull();
    expect(d.check(token({ jti: 'abc' }))).toBeNull();
  });
});

describe('Denylist expiry', () => {
  it('denies through the second `until` and forgets the entry after it (graceSeconds 0)', () => {
    const clock = manualClock();
    const d = new Denylist({ now: clock.now, graceSeconds: 0 });
    const until = T0 + 900;
    d.revokeSession('sid-1', until);
    d.revokeToken('jti-x', until);
    d.revokeUserBelow('user-1', 5, until);
    d.revokeKey('kid-x', until);
    clock.setMs(until * 1000 - 1);
    expect(d.check(token())).toBe('user');
    clock.setSeconds(until);
    expect(d.check(token({ sub: 'other' }))).toBe('session');
    expect(d.check(token({ sid: 'other', sub: 'other', jti: 'jti-x' }))).toBe('token');
    expect(d.check(token({ kid: 'kid-x' }))).toBe('key');
    clock.setMs(until * 1000 + 999);
    expect(d.check(token())).toBe('user');
    clock.setSeconds(until + 1);
    expect(d.check(token())).toBeNull();
    expect(d.check(token({ jti: 'jti-x', kid: 'kid-x' }))).toBeNull();
    expect(d.size()).toEqual({ session: 0, user: 0, token: 0, key: 0, total: 0 });
  });

  it('keeps denying for graceSeconds after until (default 60, covering verifier clock tolerance)', () => {
    const clock = manualClock();
    const d = new Denylist({ now: clock.now });
    d.revokeToken('jti-1', T0 + 10);
    clock.setSeconds(T0 + 10 + 60);
    expect(d.check(token())).toBe('token');
    clock.setSeconds(T0 + 10 + 61);
    expect(d.check(token())).toBeNull();

    const custom = new Denylist({ now: clock.now, graceSeconds: 5 });
    custom.revokeSession('sid-1', T0 + 100);
    expect(custom.check(token())).toBe('session');
    clock.setSeconds(T0 + 105);
    expect(custom.check(token())).toBe('session');
    clock.setSeconds(T0 + 106);
    expect(custom.check(token())).toBeNull();
  });

  it('ignores revocations that are already expired', () => {
    const clock = manualClock();
    const d = new Denylist({ now: clock.now, graceSeconds: 0 });
    expect(d.revokeSession('sid-1', T0 - 1)).toBe(false);
    expect(d.revokeToken('jti-1', T0 - 100)).toBe(false);
    expect(d.revokeUserBelow('user-1', 9, 0)).toBe(false);
    expect(d.revokeKey('kid-1', T0 - 1)).toBe(false);
    expect(d.check(token({ ver: 0 }))).toBeNull();
    expect(d.size().total).toBe(0);
    // `until` equal to now is still live for this second.
    expect(d.revokeSession('sid-1', T0)).toBe(true);
    expect(d.check(token())).toBe('session');
  });

  it('re-revokes an id after its previous entry expired', () => {
    const clock = manualClock();
    const d = new Denylist({ now: clock.now, graceSeconds: 0 });
    d.revokeUserBelow('user-1', 10, T0 + 10);
    clock.setSeconds(T0 + 20);
    expect(d.check(token({ ver: 5 }))).toBeNull();
    // The expired entry's higher minVer must not leak into the new one.
    expect(d.revokeUserBelow('user-1', 3, T0 + 30)).toBe(true);
    expect(d.check(token({ ver: 5 }))).toBeNull();
    expect(d.check(token({ ver: 2 }))).toBe('user');
    d.revokeSession('sid-1', T0 + 10); // already expired at T0+20
    expect(d.check(token({ ver: 5 }))).toBeNull();
    expect(d.revokeSession('sid-1', T0 + 25)).toBe(true);
    expect(d.check(token({ ver: 5 }))).toBe('session');
  });
});

describe('Denylist idempotency and merging', () => {
  it('re-applying the same revocation changes nothing', () => {
    const d = new Denylist({ now: manualClock().now });
    expect(d.revokeSession('sid-1', T0 + 900)).toBe(true);
    expect(d.revokeSession('sid-1', T0 + 900)).toBe(false);
    expect(d.revokeToken('jti-1', T0 + 900)).toBe(true);
    expect(d.revokeToken('jti-1', T0 + 900)).toBe(false);
    expect(d.revokeUserBelow('user-1', 2, T0 + 900)).toBe(true);
    expect(d.revokeUserBelow('user-1', 2, T0 + 900)).toBe(false);
    expect(d.revokeKey('kid-1', T0 + 900)).toBe(true);
    expect(d.revokeKey('kid-1', T0 + 900)).toBe(false);
    expect(d.size()).toEqual({ session: 1, user: 1, token: 1, key: 1, total: 4 });
  });

  it('a later until extends an entry, an earlier one does not shorten it', () => {
    const clock = manualClock();
    const d = new Denylist({ now: clock.now, graceSeconds: 0 });
    d.revokeSession('sid-1', T0 + 100);
    expect(d.revokeSession('sid-1', T0 + 200)).toBe(true);
    expect(d.revokeSession('sid-1', T0 + 150)).toBe(false);
    d.revokeKey('kid-9', T0 + 100);
    expect(d.revokeKey('kid-9', T0 + 300)).toBe(true);
    expect(d.revokeKey('kid-9', T0 + 50)).toBe(false);
    clock.setSeconds(T0 + 200);
    expect(d.check(token())).toBe('session');
    expect(d.check(token({ sid: 'x', kid: 'kid-9' }))).toBe('key');
    clock.setSeconds(T0 + 201);
    expect(d.check(token())).toBeNull();
    expect(d.check(token({ sid: 'x', kid: 'kid-9' }))).toBe('key');
    clock.setSeconds(T0 + 301);
    expect(d.check(token({ sid: 'x', kid: 'kid-9' }))).toBeNull();
  });

  it('keeps the highest minVer and the latest until for a user', () => {
    const clock = manualClock();
    const d = new Denylist({ now: clock.now, graceSeconds: 0 });
    d.revokeUserBelow('user-1', 3, T0 + 100);
    expect(d.revokeUserBelow('user-1', 5, T0 + 50)).toBe(true); // raises minVer, keeps until
    expect(d.revokeUserBelow('user-1', 4, T0 + 100)).toBe(false); // lower minVer, same until
    expect(d.check(token({ ver: 4 }))).toBe('user');
    expect(d.check(token({ ver: 5 }))).toBeNull();
    expect(d.revokeUserBelow('user-1', 2, T0 + 200)).toBe(true); // extends until only
    expect(d.check(token({ ver: 4 }))).toBe('user');
    clock.setSeconds(T0 + 200);
    expect(d.check(token({ ver: 4 }))).toBe('user');
    clock.setSeconds(T0 + 201);
    expect(d.check(token({ ver: 0 }))).toBeNull();
  });
});

describe('Denylist.apply', () => {
  const events: RevocableEvent[] = [
    { ...base, type: 'session.revoked', sub: 'u', sid: 'sid-a', reason: 'logout', until: T0 + 900 },
    { ...base, type: 'user.revoked', sub: 'user-b', minVer: 7, reason: 'logout_all', until: T0 + 900 },
    { ...base, type: 'token.revoked', sub: 'u', jti: 'jti-c', until: T0 + 300 },
    { ...base, type: 'key.revoked', kid: 'kid-d', until: T0 + 3600 },
  ];

  it('applies each event type, idempotently', () => {
    const d = new Denylist({ now: manualClock().now });
    for (const event of events) expect(d.apply(event)).toBe(true);
    for (const event of events) expect(d.apply(event)).toBe(false);
    expect(d.check(token({ sid: 'sid-a' }))).toBe('session');
    expect(d.check(token({ sub: 'user-b', ver: 6 }))).toBe('user');
    expect(d.check(token({ sub: 'user-b', ver: 7 }))).toBeNull();
    expect(d.check(token({ jti: 'jti-c' }))).toBe('token');
    expect(d.check(token({ kid: 'kid-d' }))).toBe('key');
    expect(d.check(token())).toBeNull();
    expect(d.size()).toEqual({ session: 1, user: 1, token: 1, key: 1, total: 4 });
  });

  it('ignores heartbeats', () => {
    const d = new Denylist({ now: manualClock().now });
    expect(d.apply({ ...base, type: 'heartbeat', source: 'relay-1' })).toBe(false);
    expect(d.size().total).toBe(0);
  });

  it('ignores event types it does not know', () => {
    const d = new Denylist({ now: manualClock().now });
    const future = { ...base, type: 'tenant.revoked', until: T0 + 60 } as unknown as RevocableEvent;
    expect(d.apply(future)).toBe(false);
    expect(d.size().total).toBe(0);
  });
});

describe('Denylist argument checks', () => {
  it('rejects bad arguments with ERR_DENYLIST_INVALID_ARGUMENT', () => {
    const d = new Denylist({ now: manualClock().now });
    expect(errorCode(() => d.revokeSession('', T0 + 1))).toBe('ERR_DENYLIST_INVALID_ARGUMENT');
    expect(errorCode(() => d.revokeToken(42 as unknown as string, T0 + 1))).toBe('ERR_DENYLIST_INVALID_ARGUMENT');
    expect(errorCode(() => d.revokeSession('s', Number.NaN))).toBe('ERR_DENYLIST_INVALID_ARGUMENT');
    expect(errorCode(() => d.revokeSession('s', -1))).toBe('ERR_DENYLIST_INVALID_ARGUMENT');
    expect(errorCode(() => d.revokeKey('k', Number.POSITIVE_INFINITY))).toBe('ERR_DENYLIST_INVALID_ARGUMENT');
    expect(errorCode(() => d.revokeUserBelow('u', -1, T0 + 1))).toBe('ERR_DENYLIST_INVALID_ARGUMENT');
    expect(errorCode(() => d.revokeUserBelow('u', 1.5, T0 + 1))).toBe('ERR_DENYLIST_INVALID_ARGUMENT');
    expect(errorCode(() => new Denylist({ graceSeconds: -1 }))).toBe('ERR_DENYLIST_INVALID_ARGUMENT');
    expect(d.size().total).toBe(0);
  });

  it('refuses to decide with a broken clock instead of allowing', () => {
    let ms = T0 * 1000;
    const d = new Denylist({ now: () => ms });
    d.revokeSession('sid-1', T0 + 60);
    ms = Number.NaN;
    expect(errorCode(() => d.check(token()))).toBe('ERR_DENYLIST_INVALID_CLOCK');
    expect(errorCode(() => d.revokeSession('sid-2', T0 + 60))).toBe('ERR_DENYLIST_INVALID_CLOCK');
    // The clock is only consulted when an entry matches: a miss stays a miss.
    expect(d.check(token({ sid: 'sid-2' }))).toBeNull();
  });

  it('clamps an until beyond 2106 instead of wrapping around', () => {
    const d = new Denylist({ now: manualClock().now });
    expect(d.revokeSession('sid-1', 253_402_300_799)).toBe(true);
    expect(d.check(token())).toBe('session');
  });
});

describe('Denylist growth, prune and size', () => {
  it('holds 200k entries of each hashed kind across many rehashes', () => {
    const clock = manualClock();
    const d = new Denylist({ now: clock.now, graceSeconds: 0 });
    const n = 200_000;
    const sids: string[] = [];
    for (let i = 0; i < n; i++) {
      const sid = randomUUID();
      sids.push(sid);
      d.revokeSession(sid, T0 + 100 + (i % 2)); // half expire one second later
      d.revokeToken(`jti-${i}`, T0 + 100);
      d.revokeUserBelow(`user-${i}`, (i % 5) + 1, T0 + 100);
    }
    expect(d.size()).toEqual({ session: n, user: n, token: n, key: 0, total: 3 * n });
    for (let i = 0; i < n; i += 97) {
      expect(d.check(token({ sid: sids[i]!, jti: 'none', sub: 'none' }))).toBe('session');
      expect(d.check(token({ sid: 'none', jti: `jti-${i}`, sub: 'none' }))).toBe('token');
      expect(d.check(token({ sid: 'none', jti: 'none', sub: `user-${i}`, ver: i % 5 }))).toBe('user');
      expect(d.check(token({ sid: 'none', jti: 'none', sub: `user-${i}`, ver: (i % 5) + 1 }))).toBeNull();
      expect(d.check(token({ sid: randomUUID(), jti: `jti-${i + n}`, sub: `user-${i + n}`, ver: 0 }))).toBeNull();
    }
    // 12-16 bytes per slot, load between 1/4 and 3/4: well under 64 bytes per entry.
    expect(d.memoryBytes() / (3 * n)).toBeLessThanOrEqual(64);

    clock.setSeconds(T0 + 101);
    expect(d.prune()).toBe(n / 2 + n + n);
    expect(d.size()).toEqual({ session: n / 2, user: 0, token: 0, key: 0, total: n / 2 });
    for (let i = 0; i < 2000; i++) {
      expect(d.check(token({ sid: sids[i]!, jti: 'none', sub: 'none' }))).toBe(i % 2 === 1 ? 'session' : null);
    }
    const before = d.memoryBytes();
    clock.setSeconds(T0 + 102);
    expect(d.prune()).toBe(n / 2);
    expect(d.prune()).toBe(0);
    expect(d.memoryBytes()).toBeLessThan(before / 100); // shrank back to the minimum tables
  });

  it('stays bounded under steady churn: memory follows live entries, not history', () => {
    const clock = manualClock();
    const d = new Denylist({ now: clock.now, graceSeconds: 0 });
    // 2,000 revocations per second, each live for 30 s: ~60k live at any time, 600k in total.
    let peak = 0;
    for (let second = 0; second < 300; second++) {
      clock.setSeconds(T0 + second);
      for (let i = 0; i < 2000; i++) d.revokeSession(`s-${second}-${i}`, T0 + second + 29);
      peak = Math.max(peak, d.memoryBytes());
    }
    expect(d.size().session).toBe(60_000);
    // 60k live at load ≥ 1/4 is at most 2^18 slots × 12 bytes (+ the small user/token tables).
    expect(peak).toBeLessThanOrEqual(262_144 * 12 + 2 * 256 * 16);
    expect(d.check(token({ sid: 's-299-5' }))).toBe('session');
    expect(d.check(token({ sid: 's-270-5' }))).toBe('session');
    expect(d.check(token({ sid: 's-269-5' }))).toBeNull();
  });
});

describe('Denylist hash collisions', () => {
  it('a full 64-bit collision can only cause a false deny, never a false allow', () => {
    // Degenerate hasher: every id collides with every other.
    const collide: IdHasher = (_id, out) => {
      out.hi = 7;
      out.lo = 7;
    };
    const d = new Denylist({ now: manualClock().now, hasher: collide });
    expect(d.check(token())).toBeNull(); // empty tables are never consulted
    d.revokeSession('sid-revoked', T0 + 60);
    expect(d.check(token({ sid: 'sid-revoked' }))).toBe('session');
    expect(d.check(token({ sid: 'sid-innocent' }))).toBe('session'); // documented false deny
    expect(d.revokeSession('sid-other', T0 + 60)).toBe(false); // merged into the same entry
    expect(d.size().session).toBe(1);
  });

  it('ids that share a home slot (same high word) are still told apart by the low word', () => {
    const real = createIdHasher([1, 2, 3, 4]);
    const sameHome: IdHasher = (id, out) => {
      real(id, out);
      out.hi = 0; // every id probes from slot 0: worst-case clustering
    };
    const clock = manualClock();
    const d = new Denylist({ now: clock.now, graceSeconds: 0, hasher: sameHome });
    for (let i = 0; i < 1000; i++) d.revokeToken(`t-${i}`, T0 + (i % 2 === 0 ? 10 : 20));
    expect(d.size().token).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(d.check(token({ jti: `t-${i}` }))).toBe('token');
    expect(d.check(token({ jti: 't-1000' }))).toBeNull();
    clock.setSeconds(T0 + 11);
    expect(d.prune()).toBe(500);
    for (let i = 0; i < 1000; i++) expect(d.check(token({ jti: `t-${i}` }))).toBe(i % 2 === 0 ? null : 'token');
  });
});

describe('Denylist against a reference model', () => {
  it('agrees with a Map-based model under random operations and clock moves', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const clock = manualClock();
    let nowSec = T0;
    const d = new Denylist({ now: clock.now, graceSeconds: 0, hasher: createIdHasher([9, 8, 7, 6]) });
    const sessions = new Map<string, number>();
    const users = new Map<string, { minVer: number; until: number }>();
    const preparedRefs = new Map<string, ReturnType<Denylist['prepare']>>();
    for (let step = 0; step < 40_000; step++) {
      const op = rand(10);
      if (op === 0) {
        nowSec += rand(20);
        clock.setSeconds(nowSec);
      } else if (op <= 4) {
        const sid = `s${rand(3000)}`;
        const until = nowSec + rand(60) - 5;
        const prev = sessions.get(sid);
        const live = prev !== undefined && prev >= nowSec;
        const expected = until >= nowSec && (!live || until > prev);
        expect(d.revokeSession(sid, until)).toBe(expected);
        if (expected) sessions.set(sid, until);
      } else if (op <= 6) {
        const sub = `u${rand(500)}`;
        const minVer = rand(10);
        const until = nowSec + rand(60) - 5;
        const prev = users.get(sub);
        if (until >= nowSec) {
          if (prev === undefined || prev.until < nowSec) users.set(sub, { minVer, until });
          else users.set(sub, { minVer: Math.max(prev.minVer, minVer), until: Math.max(prev.until, until) });
        }
        d.revokeUserBelow(sub, minVer, until);
      } else {
        const sid = `s${rand(3000)}`;
        const sub = `u${rand(500)}`;
        const ver = rand(10);
        const s = sessions.get(sid);
        const u = users.get(sub);
        const expected =
          u !== undefined && u.until >= nowSec && ver < u.minVer ? 'user' : s !== undefined && s >= nowSec ? 'session' : null;
        const ref = { jti: 'j', sid, sub, ver, kid: 'k' };
        expect(d.check(ref)).toBe(expected);
        // Ids hashed before the tables grew or changed still answer the same.
        const key = `${sid}|${sub}|${ver}`;
        let prepared = preparedRefs.get(key);
        if (prepared === undefined) preparedRefs.set(key, (prepared = d.prepare(ref)));
        expect(d.checkPrepared(prepared)).toBe(expected);
      }
      if (step % 5000 === 0) {
        const liveSessions = [...sessions.values()].filter((until) => until >= nowSec).length;
        const liveUsers = [...users.values()].filter((u) => u.until >= nowSec).length;
        const size = d.size();
        expect(size.session).toBe(liveSessions);
        expect(size.user).toBe(liveUsers);
      }
    }
  });
});

describe('Denylist.prepare / checkPrepared', () => {
  it('answers like check() for prepared ids, across revocations, expiry and table growth', () => {
    const clock = manualClock();
    const d = new Denylist({ now: clock.now, graceSeconds: 0 });
    const refs = Array.from({ length: 200 }, (_, i) => token({ sid: `sid-${i}`, sub: `user-${i % 20}`, jti: `jti-${i}`, ver: i % 5 }));
    const prepared = refs.map((ref) => d.prepare(ref));
    const agree = () => refs.forEach((ref, i) => expect(d.checkPrepared(prepared[i]!)).toBe(d.check(ref)));
    agree();
    // Enough entries to rehash every table several times: prepared hashes must stay valid.
    for (let i = 0; i < 5000; i++) d.revokeSession(`other-${i}`, T0 + 100);
    for (let i = 0; i < 200; i += 3) d.revokeSession(`sid-${i}`, T0 + 10);
    for (let i = 0; i < 200; i += 7) d.revokeToken(`jti-${i}`, T0 + 20);
    for (let u = 0; u < 20; u += 4) d.revokeUserBelow(`user-${u}`, 3, T0 + 30);
    agree();
    expect(refs.some((_, i) => d.checkPrepared(prepared[i]!) === 'session')).toBe(true);
    expect(refs.some((_, i) => d.checkPrepared(prepared[i]!) === 'token')).toBe(true);
    expect(refs.some((_, i) => d.checkPrepared(prepared[i]!) === 'user')).toBe(true);
    clock.setSeconds(T0 + 15);
    agree();
    clock.setSeconds(T0 + 40);
    agree();
  });

  it('checks a reference prepared by another denylist (another seed) the slow way, correctly', () => {
    const clock = manualClock();
    const a = new Denylist({ now: clock.now });
    const b = new Denylist({ now: clock.now });
    const ref = token({ sid: 'shared-sid' });
    b.revokeSession('shared-sid', T0 + 100);
    expect(b.checkPrepared(a.prepare(ref))).toBe('session');
    expect(a.checkPrepared(a.prepare(ref))).toBeNull();
  });
});
