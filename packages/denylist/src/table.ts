/**
 * Open-addressing hash table keyed by a 64-bit hash, with a per-entry expiry second and an
 * optional 32-bit value, stored interleaved in one Uint32Array (one cache line per probe):
 *
 *   stride 3: [hi, lo, expiresAt]            (12 bytes per slot)
 *   stride 4: [hi, lo, expiresAt, value]     (16 bytes per slot)
 *
 * `expiresAt` is the first epoch second at which the entry no longer applies (so it is
 * live while `expiresAt > nowSec`); 0 marks an empty slot, which is why callers never store
 * 0 (they store `until + 1` or more).
 *
 * Linear probing with backward-shift deletion: no tombstones, so probe chains never rot.
 * Expired entries stay in place until they are overwritten by an insert passing over them,
 * dropped by {@link ExpiringHashTable.prune}, or left behind by a rehash. Inserting a new
 * key when the table is 75% occupied first prunes in place, then doubles the capacity if
 * more than half of the slots are still live; so the table holds at most ~4× its live
 * entries in slots and every operation is amortised O(1).
 */
export class ExpiringHashTable {
  readonly #stride: 3 | 4;
  readonly #minCapacity: number;
  #slots: Uint32Array;
  #mask: number;
  #occupied = 0;
  /** Lower bound of every stored `expiresAt`; lets prune() skip the scan when nothing can have expired. */
  #earliest = Number.POSITIVE_INFINITY;

  /**
   * @param stride 3 (key + expiry) or 4 (key + expiry + value).
   * @param minCapacity slots allocated up front and never shrunk below; rounded up to a power of two.
   */
  constructor(stride: 3 | 4, minCapacity = 256) {
    this.#stride = stride;
    this.#minCapacity = nextPowerOfTwo(Math.max(8, minCapacity));
    this.#slots = new Uint32Array(this.#minCapacity * stride);
    this.#mask = this.#minCapacity - 1;
  }

  /** Number of slots. */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** Slots holding an entry, live or expired-but-not-yet-dropped. */
  get occupied(): number {
    return this.#occupied;
  }

  /** Bytes held by the slot array. */
  get byteLength(): number {
    return this.#slots.byteLength;
  }

  /**
   * Returns the slot index holding (hi, lo), live or expired, or -1. Callers compare
   * {@link ExpiringHashTable.expiresAtSlot} with the clock only on a match, so the common
   * miss costs no clock read.
   */
  find(hi: number, lo: number): number {
    const slots = this.#slots;
    const stride = this.#stride;
    const mask = this.#mask;
    let i = hi & mask;
    for (;;) {
      const base = i * stride;
      if (slots[base + 2] === 0) return -1;
      if (slots[base] === hi && slots[base + 1] === lo) return i;
      i = (i + 1) & mask;
    }
  }

  /** Returns the slot index of the live entry for (hi, lo), or -1. Expired entries never match. */
  findLive(hi: number, lo: number, nowSec: number): number {
    const slot = this.find(hi, lo);
    return slot >= 0 && this.#slots[slot * this.#stride + 2]! > nowSec ? slot : -1;
  }

  /** The value stored in `slot` (stride 4 only). */
  valueAt(slot: number): number {
    return this.#slots[slot * this.#stride + 3]!;
  }

  /** The `expiresAt` stored in `slot`. */
  expiresAtSlot(slot: number): number {
    return this.#slots[slot * this.#stride + 2]!;
  }

  /**
   * Inserts or merges an entry. A live entry keeps the later expiry and the larger value;
   * an expired one is replaced. Returns true if anything changed.
   *
   * @param expiresAt first second at which the entry no longer applies; must be > nowSec and ≤ 2^32-1.
   * @param value stored only with stride 4; 0..2^32-1.
   */
  upsert(hi: number, lo: number, expiresAt: number, nowSec: number, value = 0): boolean {
    if (expiresAt <= nowSec) return false;
    let slot = this.#probe(hi, lo, nowSec);
    const slots = this.#slots;
    const stride = this.#stride;
    if (slot >= 0) {
      const base = slot * stride;
      const current = slots[base + 2]!;
      if (current > nowSec) {
        let changed = false;
        if (expiresAt > current) {
          slots[base + 2] = expiresAt;
          changed = true;
        }
        if (stride === 4 && value > slots[base + 3]!) {
          slots[base + 3] = value;
          changed = true;
        }
        return changed;
      }
      this.#write(slot, hi, lo, expiresAt, value);
      return true;
    }
    // A new key. `slot` is -(index + 1) of where it goes (an expired slot on the path, or the empty one).
    slot = -slot - 1;
    if (this.#slots[slot * stride + 2] === 0) {
      if ((this.#occupied + 1) * 4 > this.capacity * 3) {
        this.#makeRoom(nowSec);
        slot = -this.#probe(hi, lo, nowSec) - 1;
      }
      this.#occupied++;
    }
    this.#write(slot, hi, lo, expiresAt, value);
    return true;
  }

  /**
   * Drops every expired entry in place; shrinks the table when it became mostly empty.
   * O(capacity), or O(1) when no stored entry can have expired yet. Returns how many were dropped.
   */
  prune(nowSec: number): number {
    if (this.#occupied === 0 || nowSec < this.#earliest) return 0;
    const slots = this.#slots;
    const stride = this.#stride;
    const mask = this.#mask;
    const capacity = mask + 1;
    // Start right after an empty slot so that no probe chain wraps around the scan's start:
    // backward shifts then only move entries into slots the scan has not passed yet.
    let start = 0;
    while (slots[start * stride + 2] !== 0) start++;
    let removed = 0;
    let earliest = Number.POSITIVE_INFINITY;
    for (let n = 1; n < capacity; n++) {
      const i = (start + n) & mask;
      for (;;) {
        const expiresAt = slots[i * stride + 2]!;
        if (expiresAt === 0) break;
        if (expiresAt > nowSec) {
          if (expiresAt < earliest) earliest = expiresAt;
          break;
        }
        this.#deleteAt(i);
        removed++;
      }
    }
    this.#occupied -= removed;
    this.#earliest = earliest;
    if (this.capacity > this.#minCapacity && this.#occupied * 8 < this.capacity) {
      this.#rehash(Math.max(this.#minCapacity, nextPowerOfTwo(this.#occupied * 2)), nowSec);
    }
    return removed;
  }

  /**
   * Finds (hi, lo): its slot index (≥ 0) if stored, live or not; otherwise -(index + 1) of
   * the slot a new entry should take: the first expired slot on the probe path, or the
   * empty slot that ended it. Reusing an expired slot keeps chains short without deletes.
   */
  #probe(hi: number, lo: number, nowSec: number): number {
    const slots = this.#slots;
    const stride = this.#stride;
    const mask = this.#mask;
    let reusable = -1;
    let i = hi & mask;
    for (;;) {
      const base = i * stride;
      const expiresAt = slots[base + 2]!;
      if (expiresAt === 0) return -((reusable >= 0 ? reusable : i) + 1);
      if (slots[base] === hi && slots[base + 1] === lo) return i;
      if (reusable < 0 && expiresAt <= nowSec) reusable = i;
      i = (i + 1) & mask;
    }
  }

  #write(slot: number, hi: number, lo: number, expiresAt: number, value: number): void {
    const base = slot * this.#stride;
    const slots = this.#slots;
    slots[base] = hi;
    slots[base + 1] = lo;
    slots[base + 2] = expiresAt;
    if (this.#stride === 4) slots[base + 3] = value;
    if (expiresAt < this.#earliest) this.#earliest = expiresAt;
  }

  /** Empties slot `hole` and shifts later members of its cluster back so lookups still find them. */
  #deleteAt(hole: number): void {
    const slots = this.#slots;
    const stride = this.#stride;
    const mask = this.#mask;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const jb = j * stride;
      if (slots[jb + 2] === 0) break;
      const home = slots[jb]! & mask;
      // The entry at j may move to the hole only if its home is not cyclically within (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      const hb = hole * stride;
      for (let w = 0; w < stride; w++) slots[hb + w] = slots[jb + w]!;
      hole = j;
    }
    const hb = hole * stride;
    for (let w = 0; w < stride; w++) slots[hb + w] = 0;
  }

  #makeRoom(nowSec: number): void {
    this.prune(nowSec);
    if (this.#occupied * 2 >= this.capacity) {
      this.#rehash(this.capacity * 2, nowSec);
    }
  }

  /** Moves every live entry into a fresh array of `capacity` slots (a power of two). */
  #rehash(capacity: number, nowSec: number): void {
    const old = this.#slots;
    const stride = this.#stride;
    const slots = new Uint32Array(capacity * stride);
    const mask = capacity - 1;
    let occupied = 0;
    let earliest = Number.POSITIVE_INFINITY;
    for (let base = 0; base < old.length; base += stride) {
      const expiresAt = old[base + 2]!;
      if (expiresAt <= nowSec) continue; // empty (0) or expired
      let i = old[base]! & mask;
      while (slots[i * stride + 2] !== 0) i = (i + 1) & mask;
      const nb = i * stride;
      for (let w = 0; w < stride; w++) slots[nb + w] = old[base + w]!;
      occupied++;
      if (expiresAt < earliest) earliest = expiresAt;
    }
    this.#slots = slots;
    this.#mask = mask;
    this.#occupied = occupied;
    this.#earliest = earliest;
  }
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
