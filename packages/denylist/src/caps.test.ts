import { describe, expect, it } from 'vitest';
import { Denylist } from './denylist.ts';

describe('Denylist per-kind caps', () => {
  it('a flood beyond a cap stores nothing more, is counted, and fails closed until every refused entry would have expired', () => {
    let nowMs = 1_800_000_000_000;
    const d = new Denylist({ now: () => nowMs, graceSeconds: 0, maxEntries: { key: 3, session: 100 } });
    const until = nowMs / 1000 + 60;
    for (let i = 0; i < 50; i++) d.revokeKey(`kid-${i}`, until + i);
    for (let i = 0; i < 1000; i++) d.revokeSession(`sid-${i}`, until);
    expect(d.size()).toMatchObject({ key: 3, session: 100 });
    expect(d.overflows()).toEqual({ session: 900, user: 0, token: 0, key: 47 });
    expect(d.failClosedUntil()).toBe(until + 49 + 1);
    // An existing entry can still be extended at the cap.
    expect(d.revokeKey('kid-0', until + 500)).toBe(true);
    nowMs += 61_000;
    expect(d.failClosedUntil()).toBeGreaterThan(0);
    nowMs += 60_000;
    expect(d.failClosedUntil()).toBe(0);
  });

  it('expired entries do not count against the cap', () => {
    let nowMs = 1_800_000_000_000;
    const d = new Denylist({ now: () => nowMs, graceSeconds: 0, maxEntries: { token: 10 } });
    for (let i = 0; i < 10; i++) d.revokeToken(`a-${i}`, nowMs / 1000 + 5);
    nowMs += 10_000;
    for (let i = 0; i < 10; i++) expect(d.revokeToken(`b-${i}`, nowMs / 1000 + 5)).toBe(true);
    expect(d.overflows().token).toBe(0);
    expect(d.failClosedUntil()).toBe(0);
  });

  it('failingClosed() follows failClosedUntil(): false before any refusal, true while it is in force, false after', () => {
    let nowMs = 1_800_000_000_000;
    const d = new Denylist({ now: () => nowMs, graceSeconds: 0, maxEntries: { user: 1 } });
    d.revokeUserBelow('alice', 2, nowMs / 1000 + 30);
    expect(d.failingClosed()).toBe(false);
    d.revokeUserBelow('bob', 2, nowMs / 1000 + 30);
    expect(d.failingClosed()).toBe(true);
    nowMs += 30_000;
    expect(d.failingClosed()).toBe(true);
    nowMs += 1_000;
    expect(d.failingClosed()).toBe(false);
    expect(d.failClosedUntil()).toBe(0);
    // alice's entry expired, so carol fits; a later refusal closes it again.
    expect(d.revokeUserBelow('carol', 2, nowMs / 1000 + 30)).toBe(true);
    expect(d.failingClosed()).toBe(false);
    d.revokeUserBelow('dave', 2, nowMs / 1000 + 30);
    expect(d.failingClosed()).toBe(true);
  });

  it('failClosedMaxSeconds bounds how long one refused entry with an absurd until keeps it closed', () => {
    let nowMs = 1_800_000_000_000;
    const d = new Denylist({ now: () => nowMs, graceSeconds: 0, maxEntries: { key: 1 }, failClosedMaxSeconds: 3600 });
    d.revokeKey('k1', nowMs / 1000 + 60);
    d.revokeKey('k2', 4_000_000_000);
    expect(d.failClosedUntil()).toBe(nowMs / 1000 + 3600);
    nowMs += 3600_000;
    expect(d.failingClosed()).toBe(false);
    // Without the bound the same record closes it until its own until.
    const unbounded = new Denylist({ now: () => nowMs, graceSeconds: 0, maxEntries: { key: 1 } });
    unbounded.revokeKey('k1', nowMs / 1000 + 60);
    unbounded.revokeKey('k2', 4_000_000_000);
    expect(unbounded.failClosedUntil()).toBe(4_000_000_001);
  });

  it('refuses a cap that is not a positive integer', () => {
    expect(() => new Denylist({ maxEntries: { user: 0 } })).toThrow(expect.objectContaining({ code: 'ERR_DENYLIST_INVALID_ARGUMENT' }));
    expect(() => new Denylist({ failClosedMaxSeconds: 0 })).toThrow(expect.objectContaining({ code: 'ERR_DENYLIST_INVALID_ARGUMENT' }));
  });
});
