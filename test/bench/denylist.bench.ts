/**
 * Denylist memory and lookup speed: Revocable's Denylist against a naive
 * `Map<string, number>` and an `lru-cache` LRUCache, each built in its own child process
 * (`--expose-gc`, see denylist-child.ts) with the same ids.
 *
 * Scenarios: 1,000,000 live UUID session ids (memory, lookups, inserts); 1,000,000 jtis of
 * 128 characters (memory only: ours does not depend on the id length); 10,000 session ids
 * (a typical service: revocation rate × token lifetime, fits in CPU caches); 10,000 each of
 * session ids, jtis and subjects with a full check of a non-revoked token (the request path).
 *
 * Timings are the median of 7 rounds per child; every child runs twice (order A B C C B A)
 * and the lower median is kept, which damps noise from other processes on the machine.
 * Sizes can be lowered for a quick run: BENCH_DENYLIST_ENTRIES, BENCH_DENYLIST_LOOKUPS.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ChildResult, Impl, Scenario } from './denylist-child.ts';
import { betterRatio, type BenchModule, type BenchResult } from './types.ts';

const execFileAsync = promisify(execFile);

const ENTRIES = Number(process.env['BENCH_DENYLIST_ENTRIES'] ?? 1_000_000);
const SMALL_ENTRIES = Math.min(10_000, ENTRIES);
const LOOKUPS = Number(process.env['BENCH_DENYLIST_LOOKUPS'] ?? 100_000);
const IMPLS: readonly Impl[] = ['revocable', 'map', 'lru-cache'];
const NAMES: Record<Impl, string> = { revocable: 'Denylist', map: 'Map<string, number>', 'lru-cache': 'lru-cache 11.5.3' };

async function child(impl: Impl, entries: number, scenario: Scenario, lookups = LOOKUPS): Promise<ChildResult> {
  const script = join(import.meta.dirname, 'denylist-child.ts');
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--expose-gc', '--max-old-space-size=4096', script, impl, String(entries), String(lookups), scenario],
    { timeout: 90_000, maxBuffer: 1 << 20 },
  );
  const parsed = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ChildResult;
  // JSON has no NaN: a missing hit time comes back as null.
  return { ...parsed, hitNs: parsed.hitNs ?? Number.NaN };
}

/** Runs every implementation twice (A B C C B A); keeps the lower timings of the two runs. */
async function measure(entries: number, scenario: Scenario): Promise<Record<Impl, ChildResult>> {
  const runs = new Map<Impl, ChildResult[]>();
  for (const impl of [...IMPLS, ...[...IMPLS].reverse()]) {
    const result = await child(impl, entries, scenario);
    runs.set(impl, [...(runs.get(impl) ?? []), result]);
  }
  const best = (impl: Impl): ChildResult => {
    const [first, second] = runs.get(impl)!;
    if (second === undefined) return first!;
    return {
      ...first!,
      insertNs: Math.min(first!.insertNs, second.insertNs),
      hitNs: Math.min(first!.hitNs, second.hitNs),
      missNs: Math.min(first!.missNs, second.missNs),
    };
  };
  return { revocable: best('revocable'), map: best('map'), 'lru-cache': best('lru-cache') };
}

function label(n: number): string {
  return n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;
}

const bench: BenchModule = {
  name: 'denylist',
  async run(): Promise<BenchResult[]> {
    // Sequential on purpose: parallel children would compete for the cores and skew timings.
    const big = await measure(ENTRIES, 'sessions');
    const small = await measure(SMALL_ENTRIES, 'sessions');
    const full = await measure(SMALL_ENTRIES, 'all-kinds');
    const jtis: Partial<Record<Impl, ChildResult>> = {};
    for (const impl of IMPLS) jtis[impl] = await child(impl, ENTRIES, 'jtis', 1000);
    const ours = big.revocable;
    const rows: BenchResult[] = [];
    const lookupsNote = `${LOOKUPS.toLocaleString('en-US')} lookups of fresh id strings, median of 7 rounds`;

    for (const impl of ['map', 'lru-cache'] as const) {
      rows.push({
        metric: `memory per live entry, ${label(ENTRIES)} UUID session ids`,
        ours: ours.bytesPerEntry,
        baseline: big[impl].bytesPerEntry,
        baselineName: NAMES[impl],
        unit: 'bytes/entry',
        ratio: betterRatio(ours.bytesPerEntry, big[impl].bytesPerEntry, 'lower'),
        note:
          impl === 'map'
            ? `heapUsed+arrayBuffers growth after gc(), one child process each; Denylist's tables: ${((ours.tableBytes ?? 0) / 2 ** 20).toFixed(1)} MiB`
            : `LRUCache({ max: ${ENTRIES.toLocaleString('en-US')}, ttl }), preallocated as lru-cache does`,
      });
    }
    for (const impl of ['map', 'lru-cache'] as const) {
      rows.push({
        metric: `memory per live entry, ${label(ENTRIES)} jtis of 128 chars`,
        ours: jtis.revocable!.bytesPerEntry,
        baseline: jtis[impl]!.bytesPerEntry,
        baselineName: NAMES[impl],
        unit: 'bytes/entry',
        ratio: betterRatio(jtis.revocable!.bytesPerEntry, jtis[impl]!.bytesPerEntry, 'lower'),
        note: 'same measurement; a string-keyed structure pays for every character, a hashed entry does not',
      });
    }
    for (const [results, size] of [
      [big, ENTRIES],
      [small, SMALL_ENTRIES],
    ] as const) {
      const baselines = size === ENTRIES ? (['map', 'lru-cache'] as const) : (['map'] as const);
      for (const impl of baselines) {
        rows.push(
          {
            metric: `session lookup, revoked (hit), ${label(size)} entries`,
            ours: results.revocable.hitNs,
            baseline: results[impl].hitNs,
            baselineName: NAMES[impl],
            unit: 'ns/lookup',
            ratio: betterRatio(results.revocable.hitNs, results[impl].hitNs, 'lower'),
            note: `Denylist.check() vs get + expiry check; ${lookupsNote}`,
          },
          {
            metric: `session lookup, not revoked (miss), ${label(size)} entries`,
            ours: results.revocable.missNs,
            baseline: results[impl].missNs,
            baselineName: NAMES[impl],
            unit: 'ns/lookup',
            ratio: betterRatio(results.revocable.missNs, results[impl].missNs, 'lower'),
            note: size === ENTRIES ? `structure far larger than CPU caches; ${lookupsNote}` : `structure fits in CPU caches; ${lookupsNote}`,
          },
        );
      }
    }
    for (const impl of ['map', 'lru-cache'] as const) {
      rows.push({
        metric: `full check of a valid token (sid + jti + sub/ver), ${label(SMALL_ENTRIES)} entries per kind`,
        ours: full.revocable.missNs,
        baseline: full[impl].missNs,
        baselineName: `3 × ${NAMES[impl]}`,
        unit: 'ns/check',
        ratio: betterRatio(full.revocable.missNs, full[impl].missNs, 'lower'),
        note: `the request-path cost when nothing matches: three id hashes and probes; ${lookupsNote}`,
      });
    }
    rows.push({
      metric: `insert, ${label(ENTRIES)} UUID session ids`,
      ours: ours.insertNs,
      baseline: big.map.insertNs,
      baselineName: NAMES.map,
      unit: 'ns/insert',
      ratio: betterRatio(ours.insertNs, big.map.insertNs, 'lower'),
      note: 'id generation included (same for both); Denylist grows by rehash',
    });
    return rows;
  },
};

export default bench;
