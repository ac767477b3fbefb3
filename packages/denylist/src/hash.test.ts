import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createIdHasher, type IdHash64 } from './hash.ts';

function hash64(hasher: ReturnType<typeof createIdHasher>, id: string): string {
  const out: IdHash64 = { hi: 0, lo: 0 };
  hasher(id, out);
  return `${out.hi.toString(16)}:${out.lo.toString(16)}`;
}

describe('createIdHasher', () => {
  it('is deterministic for one seed and differs across seeds', () => {
    const a = createIdHasher([1, 2, 3, 4]);
    const b = createIdHasher([1, 2, 3, 4]);
    const c = createIdHasher([1, 2, 3, 5]);
    const id = '3f2b8e1c-5d4a-4f6e-9b7a-0c1d2e3f4a5b';
    expect(hash64(a, id)).toBe(hash64(b, id));
    expect(hash64(a, id)).not.toBe(hash64(c, id));
    expect(hash64(createIdHasher(), id)).not.toBe(hash64(createIdHasher(), id));
  });

  it('writes unsigned 32-bit words', () => {
    const h = createIdHasher([0xffffffff, 0x80000000, 7, 9]);
    const out: IdHash64 = { hi: -1, lo: -1 };
    for (const id of ['a', 'ab', 'abc', '\uffff\uffff', '😀']) {
      h(id, out);
      expect(Number.isInteger(out.hi) && out.hi >= 0 && out.hi <= 0xffffffff).toBe(true);
      expect(Number.isInteger(out.lo) && out.lo >= 0 && out.lo <= 0xffffffff).toBe(true);
    }
  });

  it('separates prefixes, odd/even lengths and NUL padding', () => {
    const h = createIdHasher([5, 6, 7, 8]);
    const ids = ['a', 'a\u0000', '\u0000a', 'ab', 'ba', 'abc', 'abc\u0000', 'x'.repeat(255), 'x'.repeat(256)];
    const hashes = new Set(ids.map((id) => hash64(h, id)));
    expect(hashes.size).toBe(ids.length);
  });

  it('spreads 200k UUIDs without 64-bit collisions and evenly over home slots', () => {
    const h = createIdHasher();
    const out: IdHash64 = { hi: 0, lo: 0 };
    const n = 200_000;
    const full = new Set<string>();
    const highs = new Set<number>();
    const lows = new Set<number>();
    const buckets = new Uint32Array(1 << 16);
    for (let i = 0; i < n; i++) {
      h(randomUUID(), out);
      full.add(`${out.hi}:${out.lo}`);
      highs.add(out.hi);
      lows.add(out.lo);
      buckets[out.hi & 0xffff]!++;
    }
    expect(full.size).toBe(n);
    // Each 32-bit word alone: expected ~n²/2³³ ≈ 4.7 birthday collisions.
    expect(n - highs.size).toBeLessThan(30);
    expect(n - lows.size).toBeLessThan(30);
    // ~3.05 per bucket; Poisson makes more than 20 in one bucket astronomically unlikely.
    expect(Math.max(...buckets)).toBeLessThan(20);
  });
});
