/**
 * Child process of `denylist.bench.ts`: builds ONE denylist implementation, measures its
 * memory after a full GC and its lookup speed, and prints one JSON line. Run as:
 *   node --expose-gc denylist-child.ts <revocable|map|lru-cache> <entries> <lookups> [sessions|jtis|all-kinds]
 *
 * sessions:  N live session ids (UUIDs); lookups by session id (hit and miss).
 * jtis:      N live jtis of 128 characters (arbitrary strings up to 256 are allowed); lookups by jti.
 * all-kinds: N live session ids, N jtis and N subjects; a lookup is a full check of one
 *            token (sid, jti, sub/ver) that matches nothing: the common request path.
 *
 * A child per implementation keeps the heap numbers clean (no other structure, no leftovers).
 */
import { LRUCache } from 'lru-cache';
import { Denylist, type TokenRef } from '@revocable/denylist';

export type Impl = 'revocable' | 'map' | 'lru-cache';
export type Scenario = 'sessions' | 'jtis' | 'all-kinds';

export interface ChildResult {
  impl: Impl;
  scenario: Scenario;
  /** Live entries per kind. */
  entries: number;
  /** heapUsed + arrayBuffers growth after inserting `entries`, after a full GC, per entry. */
  bytesPerEntry: number;
  insertNs: number;
  /** ns per lookup of a revoked id (sessions scenario only; NaN otherwise). */
  hitNs: number;
  /** ns per lookup that matches nothing. */
  missNs: number;
  /** Denylist only: bytes of its typed arrays as it reports them. */
  tableBytes?: number;
}

interface Structure {
  insert(id: string): void;
  /** True if `id` is denied right now. */
  lookup(id: string): boolean;
  tableBytes?: () => number;
}

/** All three hashed kinds: a token is denied by its sid, its jti, or its sub/ver. */
interface FullStructure {
  insert(sid: string, jti: string, sub: string): void;
  /** True if the token is denied right now. */
  check(sid: string, jti: string, sub: string, ver: number): boolean;
}

const TTL_SECONDS = 900;
const HEX = '0123456789abcdef';
const scratch = Buffer.alloc(36);

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The i-th pseudo-random v4-shaped UUID, as a flat one-byte string (like the ones
 * JSON.parse produces from a Kafka record), so every process sees the same ids.
 */
function uuidAt(i: number): string {
  let pos = 0;
  for (let w = 0; w < 4; w++) {
    let word = fmix32(Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(w + 1, 0x7f4a7c15));
    for (let nibble = 0; nibble < 8; nibble++) {
      if (pos === 8 || pos === 13 || pos === 18 || pos === 23) scratch[pos++] = 0x2d; // '-'
      let digit = word & 15;
      if (pos === 14) digit = 4; // version
      if (pos === 19) digit = 8 | (digit & 3); // variant
      scratch[pos++] = HEX.charCodeAt(digit);
      word >>>= 4;
    }
  }
  return scratch.toString('latin1');
}

const JTI_LENGTH = 128;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const jtiScratch = Buffer.alloc(JTI_LENGTH);

/** The i-th pseudo-random 128-character base64url jti, as a flat one-byte string. */
function jtiAt(i: number): string {
  let word = 0;
  for (let pos = 0; pos < JTI_LENGTH; pos++) {
    if (pos % 5 === 0) word = fmix32(Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(pos + 1, 0x7f4a7c15));
    jtiScratch[pos] = B64URL.charCodeAt(word & 63);
    word >>>= 6;
  }
  return jtiScratch.toString('latin1');
}

function build(impl: Impl, entries: number, kind: 'sid' | 'jti'): Structure {
  const untilSeconds = Math.floor(Date.now() / 1000) + TTL_SECONDS;
  switch (impl) {
    case 'revocable': {
      const denylist = new Denylist();
      const ref: TokenRef = { jti: 'j', sid: 's', sub: 's', ver: 1, kid: 'k' };
      return {
        insert: (id) => (kind === 'jti' ? denylist.revokeToken(id, untilSeconds) : denylist.revokeSession(id, untilSeconds)),
        lookup: (id) => {
          ref[kind] = id;
          return denylist.check(ref) !== null;
        },
        tableBytes: () => denylist.memoryBytes(),
      };
    }
    case 'map': {
      // The naive denylist: id → until (epoch seconds), expiry checked on read.
      const map = new Map<string, number>();
      return {
        insert: (id) => map.set(id, untilSeconds),
        lookup: (id) => {
          const until = map.get(id);
          return until !== undefined && until >= Date.now() / 1000;
        },
      };
    }
    case 'lru-cache': {
      // How one would bound a denylist with lru-cache: capacity = expected live entries, per-entry TTL.
      const cache = new LRUCache<string, number>({ max: entries, ttl: TTL_SECONDS * 1000, ttlAutopurge: false });
      return {
        insert: (id) => cache.set(id, untilSeconds),
        lookup: (id) => cache.get(id) !== undefined,
      };
    }
  }
}

function buildFull(impl: Impl, entries: number): FullStructure {
  const untilSeconds = Math.floor(Date.now() / 1000) + TTL_SECONDS;
  const minVer = 5;
  switch (impl) {
    case 'revocable': {
      const denylist = new Denylist();
      const ref: TokenRef = { jti: '', sid: '', sub: '', ver: 0, kid: 'k' };
      return {
        insert: (sid, jti, sub) => {
          denylist.revokeSession(sid, untilSeconds);
          denylist.revokeToken(jti, untilSeconds);
          denylist.revokeUserBelow(sub, minVer, untilSeconds);
        },
        check: (sid, jti, sub, ver) => {
          ref.sid = sid;
          ref.jti = jti;
          ref.sub = sub;
          ref.ver = ver;
          return denylist.check(ref) !== null;
        },
      };
    }
    case 'map': {
      const sessions = new Map<string, number>();
      const tokens = new Map<string, number>();
      const users = new Map<string, { minVer: number; until: number }>();
      const live = (until: number | undefined) => until !== undefined && until >= Date.now() / 1000;
      return {
        insert: (sid, jti, sub) => {
          sessions.set(sid, untilSeconds);
          tokens.set(jti, untilSeconds);
          users.set(sub, { minVer, until: untilSeconds });
        },
        check: (sid, jti, sub, ver) => {
          const user = users.get(sub);
          if (user !== undefined && ver < user.minVer && live(user.until)) return true;
          return live(sessions.get(sid)) || live(tokens.get(jti));
        },
      };
    }
    case 'lru-cache': {
      const options = { max: entries, ttl: TTL_SECONDS * 1000, ttlAutopurge: false };
      const sessions = new LRUCache<string, number>(options);
      const tokens = new LRUCache<string, number>(options);
      const users = new LRUCache<string, number>(options);
      return {
        insert: (sid, jti, sub) => {
          sessions.set(sid, untilSeconds);
          tokens.set(jti, untilSeconds);
          users.set(sub, minVer);
        },
        check: (sid, jti, sub, ver) => {
          const userMinVer = users.get(sub);
          if (userMinVer !== undefined && ver < userMinVer) return true;
          return sessions.get(sid) !== undefined || tokens.get(jti) !== undefined;
        },
      };
    }
  }
}

function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) gc();
}

function usedBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** ns per lookup over `items`, median of `rounds` rounds after one warm-up; fresh strings each round. */
function timeLookups<T>(lookup: (item: T) => boolean, makeItems: (round: number) => readonly T[], rounds: number, expectHit: boolean): number {
  const samples: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    // Fresh string objects every round: V8 caches a string's hash in the string, and a
    // request path sees ids freshly decoded from a token, so no implementation gets that for free.
    const items = makeItems(round);
    let matched = 0;
    const start = process.hrtime.bigint();
    for (let i = 0; i < items.length; i++) if (lookup(items[i]!)) matched++;
    const elapsed = Number(process.hrtime.bigint() - start);
    if (matched !== (expectHit ? items.length : 0)) throw new Error(`lookup returned ${matched} hits of ${items.length}, expected ${expectHit ? 'all' : 'none'}`);
    if (round > 0) samples.push(elapsed / items.length);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

function main(): void {
  const impl = process.argv[2] as Impl;
  const entries = Number(process.argv[3]);
  const lookups = Number(process.argv[4]);
  const scenario = (process.argv[5] ?? 'sessions') as Scenario;
  if (!['revocable', 'map', 'lru-cache'].includes(impl) || !(entries > 0) || !(lookups > 0) || !['sessions', 'jtis', 'all-kinds'].includes(scenario)) {
    throw new Error('usage: denylist-child.ts <revocable|map|lru-cache> <entries> <lookups> [sessions|jtis|all-kinds]');
  }
  let state = 0x2545f491;
  const randomBelow = (n: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  // Warm the id generator so its code is not part of the baseline heap.
  uuidAt(0);
  jtiAt(0);
  fullGc();
  const before = usedBytes();
  let result: ChildResult;

  if (scenario !== 'all-kinds') {
    const idAt = scenario === 'jtis' ? jtiAt : uuidAt;
    const structure = build(impl, entries, scenario === 'jtis' ? 'jti' : 'sid');
    const insertStart = process.hrtime.bigint();
    for (let i = 0; i < entries; i++) structure.insert(idAt(i));
    const insertNs = Number(process.hrtime.bigint() - insertStart) / entries;
    fullGc();
    const bytesPerEntry = (usedBytes() - before) / entries;
    const hitIds = () => Array.from({ length: lookups }, () => idAt(randomBelow(entries)));
    const missIds = () => Array.from({ length: lookups }, () => idAt(entries + randomBelow(entries)));
    const hitNs = timeLookups(structure.lookup, hitIds, 7, true);
    const missNs = timeLookups(structure.lookup, missIds, 7, false);
    result = { impl, scenario, entries, bytesPerEntry, insertNs, hitNs, missNs };
    if (structure.tableBytes !== undefined) result.tableBytes = structure.tableBytes();
  } else {
    // Ids of the three kinds come from disjoint index ranges; subjects are UUIDs too.
    const structure = buildFull(impl, entries);
    const insertStart = process.hrtime.bigint();
    for (let i = 0; i < entries; i++) structure.insert(uuidAt(i), uuidAt(entries + i), uuidAt(2 * entries + i));
    const insertNs = Number(process.hrtime.bigint() - insertStart) / (3 * entries);
    fullGc();
    const bytesPerEntry = (usedBytes() - before) / (3 * entries);
    // A valid token: unknown sid and jti, a subject with no entry (ver is irrelevant then).
    const tokens = () => Array.from({ length: lookups }, () => [uuidAt(3 * entries + randomBelow(entries)), uuidAt(4 * entries + randomBelow(entries)), uuidAt(5 * entries + randomBelow(entries))] as const);
    const missNs = timeLookups(([sid, jti, sub]) => structure.check(sid, jti, sub, 7), tokens, 7, false);
    result = { impl, scenario, entries, bytesPerEntry, insertNs, hitNs: Number.NaN, missNs };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main();
