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

  it('refuses a cap that is not a positive integer', () => {
    expect(() => new Denylist({ maxEntries: { user: 0 } })).toThrow(expect.objectContaining({ code: 'ERR_DENYLIST_INVALID_ARGUMENT' }));
  });
});
