/**
 * Contract between `test/bench/run.ts` and the benchmark modules (`test/bench/*.bench.ts`).
 *
 * To add a benchmark: create `test/bench/<name>.bench.ts` whose default export (or named
 * export `bench`) is a {@link BenchModule}. The runner discovers it, runs it, and merges its
 * rows into `test/bench/results/latest.json` and the Markdown table.
 */

/** One row of the results table: one metric, ours against one baseline. */
export interface BenchResult {
  /** What was measured, e.g. "heap bytes per live entry (1M UUID session ids)". */
  metric: string;
  /** Revocable's figure, in `unit`. */
  ours: number;
  /** The baseline's figure, in `unit`. */
  baseline: number;
  /** What the baseline is, e.g. "Map<string, number>". */
  baselineName: string;
  /** Unit of `ours`/`baseline`, e.g. "bytes/entry", "ns/op", "ops/s". */
  unit: string;
  /**
   * How many times better ours is than the baseline: > 1 means ours is better. For
   * lower-is-better units (bytes, ns) it is baseline ÷ ours, for higher-is-better units
   * (ops/s) ours ÷ baseline. Use {@link betterRatio}.
   */
  ratio: number;
  /** How it was measured (sizes, configuration, caveats). */
  note: string;
  /** The target this row is held against (from the issue that set it), and whether this run met it. */
  target?: { text: string; met: boolean };
}

/** A benchmark module. Benchmarks are not tests: they report, they never assert timings. */
export interface BenchModule {
  /** Short stable name, used on the command line and as the key in latest.json. */
  name: string;
  /** Runs the benchmark; should finish well within a minute or two on 2 cores. */
  run(): Promise<BenchResult[]>;
}

/** `ratio` for {@link BenchResult}: > 1 when ours is better. */
export function betterRatio(ours: number, baseline: number, better: 'lower' | 'higher'): number {
  if (ours <= 0 || baseline <= 0) return Number.NaN;
  return better === 'lower' ? baseline / ours : ours / baseline;
}

/** Median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The `p`th percentile (nearest rank) of a list of numbers; `NaN` when the list is empty. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
