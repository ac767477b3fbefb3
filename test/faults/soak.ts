// The fault suite's soak mode: `./infra/revocable faults --duration 600 [--seed N]`
// (or `node test/faults/soak.ts ...`). Same system, workload, nemesis and checker as
// test/faults/faults.test.ts, but rounds of every fault are injected until --duration
// seconds have passed. Prints the report, writes test/faults/results/soak-latest.{txt,json}
// and exits 1 on any violation.
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { seedFromEnv } from './rng.ts';
import { formatReport, runFaults } from './run.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    seed: { type: 'string' },
    rate: { type: 'string', default: '100' },
  },
  strict: true,
});
const durationSeconds = Number(values.duration);
if (!Number.isInteger(durationSeconds) || durationSeconds < 60 || durationSeconds > 86_400) {
  process.stderr.write(`faults: --duration must be a whole number of seconds between 60 and 86400, got "${values.duration}"\n`);
  process.exit(2);
}
const probeRate = Number(values.rate);
if (!Number.isFinite(probeRate) || probeRate < 1 || probeRate > 2000) {
  process.stderr.write(`faults: --rate must be probes per second between 1 and 2000, got "${values.rate}"\n`);
  process.exit(2);
}
let seed: number;
try {
  seed = seedFromEnv(values.seed !== undefined ? { FAULT_SEED: values.seed } : process.env);
} catch (error) {
  process.stderr.write(`faults: ${(error as Error).message}\n`);
  process.exit(2);
}
const adminDatabaseUrl = process.env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres';

const report = await runFaults({ seed, durationSeconds, probeRate, adminDatabaseUrl });
const text = formatReport(report);
process.stdout.write(`${text}\n`);
const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}soak-latest.txt`, `${new Date().toISOString()} --duration ${durationSeconds} --seed ${seed}\n${text}\n`);
const { figures, violations } = report.result;
writeFileSync(
  `${dir}soak-latest.json`,
  `${JSON.stringify(
    {
      at: new Date().toISOString(),
      seed,
      durationSeconds,
      elapsedSeconds: report.elapsedSeconds,
      schedule: report.schedule,
      faults: figures.windows.length,
      acknowledgedRevocations: figures.acknowledged,
      mutations: figures.mutations,
      topicEvents: figures.events,
      revokedTokensChecked: figures.revokedTokensChecked,
      probes: figures.probes,
      violations: violations.map((v) => ({ kind: v.kind, instance: v.instance ?? null, jti: v.jti ?? null, message: v.message.split('\n')[0] })),
      windows: figures.windows.map((w) => ({
        kind: w.window.kind,
        target: w.window.target,
        durationSeconds: ((w.window.healedAt ?? w.window.startedAt) - w.window.startedAt) / 1000,
        recoveredSecondsAfterHeal: w.window.recoveredAt !== null && w.window.healedAt !== null ? (w.window.recoveredAt - w.window.healedAt) / 1000 : null,
        liveProbes: w.liveProbes,
        liveServed: w.liveServed,
        failClosedLive: w.failClosedLive,
        failClosedServed: w.failClosedServed,
        violations: w.violations,
      })),
    },
    null,
    2,
  )}\n`,
);
process.exit(violations.length === 0 ? 0 : 1);
