/**
 * Benchmark runner: `pnpm bench [name ...]` (= `node test/bench/run.ts`).
 *
 * Runs every `test/bench/*.bench.ts` (or only the named ones, by module name or file name),
 * merges their rows into `test/bench/results/latest.json` (benches not run keep their last
 * results), prints the Markdown table and writes it to `test/bench/results/README-table.md`.
 * `--render-only` rewrites the table from latest.json without running anything.
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchModule, BenchResult } from './types.ts';

const benchDir = import.meta.dirname;
const resultsDir = join(benchDir, 'results');
const latestPath = join(resultsDir, 'latest.json');
const tablePath = join(resultsDir, 'README-table.md');

interface Environment {
  node: string;
  platform: string;
  arch: string;
  cpu: string;
  cpus: number;
  memoryGiB: number;
  /** 1-minute load average when the bench started: timings are only comparable on a quiet machine. */
  loadAverage1m: number;
}

interface BenchRecord {
  ranAt: string;
  durationMs: number;
  environment: Environment;
  results: BenchResult[];
}

interface LatestFile {
  updatedAt: string;
  benches: Record<string, BenchRecord>;
}

function environment(): Environment {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    arch: process.arch,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}

function isBenchModule(value: unknown): value is BenchModule {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['name'] === 'string' && typeof v['run'] === 'function';
}

async function loadBenches(): Promise<Array<{ file: string; bench: BenchModule }>> {
  const files = (await readdir(benchDir)).filter((f) => f.endsWith('.bench.ts')).sort();
  const benches: Array<{ file: string; bench: BenchModule }> = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(benchDir, file)).href)) as Record<string, unknown>;
    const bench = [mod['default'], mod['bench']].find(isBenchModule);
    if (bench === undefined) throw new Error(`${file} must export a { name, run() } bench module (default or "bench")`);
    benches.push({ file, bench });
  }
  return benches;
}

async function readLatest(): Promise<LatestFile> {
  try {
    return JSON.parse(await readFile(latestPath, 'utf8')) as LatestFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { updatedAt: '', benches: {} };
    throw error;
  }
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function markdown(latest: LatestFile): string {
  const lines = [
    '| bench | metric | Revocable | baseline | unit | ratio | target | note |',
    '|---|---|---:|---:|---|---:|---|---|',
  ];
  const envs = new Set<string>();
  let busy = false;
  for (const [name, record] of Object.entries(latest.benches).sort(([a], [b]) => a.localeCompare(b))) {
    const e = record.environment;
    if (e.loadAverage1m > e.cpus / 2) busy = true;
    envs.add(`${name}: Node ${e.node}, ${e.cpus}× ${e.cpu}, ${e.memoryGiB} GiB, ${e.platform}, load ${e.loadAverage1m} at start, ${record.ranAt.slice(0, 16).replace('T', ' ')} UTC`);
    for (const r of record.results) {
      lines.push(
        `| ${escapeCell(name)} | ${escapeCell(r.metric)} | ${formatNumber(r.ours)} | ${formatNumber(r.baseline)} (${escapeCell(r.baselineName)}) | ${escapeCell(r.unit)} | ${Number.isFinite(r.ratio) ? `${r.ratio.toFixed(1)}×` : 'n/a'} | ${r.target ? `${escapeCell(r.target.text)} ${r.target.met ? 'met' : '**missed**'}` : ''} | ${escapeCell(r.note)} |`,
      );
    }
  }
  lines.push(
    '',
    'ratio: how many times better Revocable is than the baseline (baseline ÷ ours for bytes and ns, ours ÷ baseline for rates); > 1 means better.',
    `Measured with \`pnpm bench\` on: ${[...envs].join('; ')}.`,
  );
  if (busy) {
    lines.push('', 'The machine was busy with other processes during (some of) these runs: memory figures are exact, timings are noisy (expect ±30% between runs).');
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const renderOnly = args.includes('--render-only');
  const wanted = args.filter((a) => a !== '--render-only');
  const all = renderOnly ? [] : await loadBenches();
  const selected =
    renderOnly ? [] : wanted.length === 0
      ? all
      : all.filter(({ file, bench }) => wanted.includes(bench.name) || wanted.includes(file) || wanted.includes(file.replace(/\.bench\.ts$/, '')));
  const unknown = renderOnly ? [] : wanted.filter((w) => !all.some(({ file, bench }) => w === bench.name || w === file || w === file.replace(/\.bench\.ts$/, '')));
  if (unknown.length > 0) {
    console.error(`unknown bench: ${unknown.join(', ')} (available: ${all.map((b) => b.bench.name).join(', ')})`);
    process.exitCode = 2;
    return;
  }

  const latest = await readLatest();
  for (const { file, bench } of selected) {
    const env = environment();
    console.error(`bench ${bench.name} (${file}) …`);
    const started = performance.now();
    const results = await bench.run();
    const durationMs = Math.round(performance.now() - started);
    console.error(`bench ${bench.name}: ${results.length} rows in ${(durationMs / 1000).toFixed(1)} s`);
    latest.benches[bench.name] = { ranAt: new Date().toISOString(), durationMs, environment: env, results };
  }
  const table = markdown(latest);
  await mkdir(resultsDir, { recursive: true });
  if (!renderOnly) {
    latest.updatedAt = new Date().toISOString();
    await writeFile(latestPath, `${JSON.stringify(latest, null, 2)}\n`);
  }
  await writeFile(tablePath, table);
  process.stdout.write(table);
}

await main();
