import { describe, expect, it } from 'vitest';
import { ExpiringHashTable } from './table.ts';

const NOW = 1000;

describe('ExpiringHashTable', () => {
  it('finds entries whose probe chain wraps around the end of the array, across deletes', () => {
    const t = new ExpiringHashTable(3, 8);
    // Home slot 7 for all three: they occupy 7, 0, 1.
    t.upsert(7, 1, NOW + 1, NOW);
    t.upsert(15, 2, NOW + 5, NOW);
    t.upsert(23, 3, NOW + 5, NOW);
    // One homed at 0 lands behind them, at 2.
    t.upsert(8, 4, NOW + 5, NOW);
    expect(t.capacity).toBe(8);
    for (const [hi, lo] of [[7, 1], [15, 2], [23, 3], [8, 4]] as const) expect(t.findLive(hi, lo, NOW)).toBeGreaterThanOrEqual(0);
    // The first member of the chain expires; pruning shifts the others back.
    expect(t.prune(NOW + 1)).toBe(1);
    expect(t.occupied).toBe(3);
    expect(t.findLive(7, 1, NOW + 1)).toBe(-1);
    expect(t.findLive(15, 2, NOW + 1)).toBe(7);
    expect(t.findLive(23, 3, NOW + 1)).toBe(0);
    expect(t.findLive(8, 4, NOW + 1)).toBe(1);
  });

  it('reuses an expired slot on the probe path instead of taking a new one', () => {
    const t = new ExpiringHashTable(3, 8);
    t.upsert(3, 1, NOW + 1, NOW);
    t.upsert(3, 2, NOW + 10, NOW);
    expect(t.occupied).toBe(2);
    expect(t.upsert(3, 3, NOW + 10, NOW + 2)).toBe(true);
    expect(t.occupied).toBe(2);
    expect(t.findLive(3, 3, NOW + 2)).toBe(3);
    expect(t.findLive(3, 2, NOW + 2)).toBe(4);
    // Updating a key that sits behind an expired slot updates it in place (no duplicate).
    const t2 = new ExpiringHashTable(3, 8);
    t2.upsert(3, 1, NOW + 1, NOW);
    t2.upsert(3, 2, NOW + 10, NOW);
    expect(t2.upsert(3, 2, NOW + 20, NOW + 2)).toBe(true);
    expect(t2.occupied).toBe(2);
    expect(t2.prune(NOW + 2)).toBe(1);
    expect(t2.expiresAtSlot(t2.findLive(3, 2, NOW + 2))).toBe(NOW + 20);
  });

  it('merges values with max for a live entry and replaces an expired one', () => {
    const t = new ExpiringHashTable(4, 8);
    expect(t.upsert(1, 1, NOW + 10, NOW, 5)).toBe(true);
    expect(t.upsert(1, 1, NOW + 10, NOW, 3)).toBe(false);
    expect(t.valueAt(t.findLive(1, 1, NOW))).toBe(5);
    expect(t.upsert(1, 1, NOW + 20, NOW + 10, 2)).toBe(true);
    expect(t.valueAt(t.findLive(1, 1, NOW + 10))).toBe(2);
  });

  it('grows when more than half the slots stay live, and only prunes when they expired', () => {
    const k = (i: number) => Math.imul(i, 0x9e3779b1) >>> 0;
    const t = new ExpiringHashTable(3, 16);
    for (let i = 0; i < 12; i++) t.upsert(k(i), i, NOW + 1, NOW);
    expect(t.capacity).toBe(16);
    t.upsert(k(99), 99, NOW + 1, NOW); // 13 > 3/4 of 16, all live → doubles
    expect(t.capacity).toBe(32);
    // By NOW + 1 those 13 expired: inserting 20 more reuses their slots or prunes them
    // in place, and with at most 20 of 32 live the table keeps its size.
    for (let i = 0; i < 20; i++) t.upsert(k(i + 100), i, NOW + 5, NOW + 1);
    expect(t.capacity).toBe(32);
    expect(t.occupied).toBeLessThanOrEqual(24);
    const occupied = t.occupied;
    expect(t.prune(NOW + 1)).toBe(occupied - 20);
    expect(t.occupied).toBe(20);
    for (let i = 0; i < 20; i++) expect(t.findLive(k(i + 100), i, NOW + 1)).toBeGreaterThanOrEqual(0);
  });

  it('agrees with a Map model under heavy clustering, wrap-around and random expiry', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return (seed >>> 8) % n;
    };
    for (const stride of [3, 4] as const) {
      const t = new ExpiringHashTable(stride, 8);
      const model = new Map<string, { expiresAt: number; value: number }>();
      let now = NOW;
      for (let step = 0; step < 30_000; step++) {
        const op = rand(20);
        // Few distinct high words (home slots) and lows: long clusters, many equal keys.
        const hi = (rand(16) * 0x1000_0001 + rand(4) * 0x8000_0000) >>> 0;
        const lo = rand(40);
        const key = `${hi}:${lo}`;
        if (op === 0) {
          now += rand(4);
        } else if (op === 1) {
          // Inserts may already have dropped some expired entries, so the model only bounds the count.
          const removed = t.prune(now);
          let expired = 0;
          for (const [k, e] of model) {
            if (e.expiresAt <= now) {
              model.delete(k);
              expired++;
            }
          }
          expect(removed).toBeLessThanOrEqual(expired);
          expect(t.occupied).toBe(model.size);
        } else if (op < 12) {
          const expiresAt = now + rand(12) - 2;
          const value = rand(8);
          const prev = model.get(key);
          const live = prev !== undefined && prev.expiresAt > now;
          let changed = false;
          if (expiresAt > now) {
            if (!live) {
              model.set(key, { expiresAt, value: stride === 4 ? value : 0 });
              changed = true;
            } else {
              const next = { expiresAt: Math.max(prev.expiresAt, expiresAt), value: stride === 4 ? Math.max(prev.value, value) : 0 };
              changed = next.expiresAt !== prev.expiresAt || next.value !== prev.value;
              model.set(key, next);
            }
          }
          expect(t.upsert(hi, lo, expiresAt, now, value)).toBe(changed);
        } else {
          const slot = t.findLive(hi, lo, now);
          const m = model.get(key);
          if (m !== undefined && m.expiresAt > now) {
            expect(slot).toBeGreaterThanOrEqual(0);
            expect(t.expiresAtSlot(slot)).toBe(m.expiresAt);
            if (stride === 4) expect(t.valueAt(slot)).toBe(m.value);
          } else {
            expect(slot).toBe(-1);
          }
        }
        expect(t.occupied * 4).toBeLessThanOrEqual(t.capacity * 3);
      }
    }
  });
});
