import { check, LATE_BOUND_MS, type CheckResult } from './checker.ts';
import { FAULT_KINDS, History, type Violation } from './history.ts';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FreshnessMonitor } from './monitor.ts';
import { Nemesis, RECOVERY_DEADLINE_MS } from './nemesis.ts';
import { Rng } from './rng.ts';
import { FaultSystem, FRESHNESS_MAX_SECONDS } from './system.ts';
import { countOutbox, readDatabase, readTopic, RevocationTruth } from './truth.ts';
import { http, Mutator, Workload } from './workload.ts';

export interface FaultRunOptions {
  seed: number;
  /** Soak mode: keep injecting rounds of faults until this many seconds have passed. Default: one round. */
  durationSeconds?: number;
  users?: number;
  /** Probes per second, all users together. Default 120. */
  probeRate?: number;
  /** Background revocations per second. Default 2. */
  mutationRate?: number;
  /** Admin URL of the PostgreSQL server (a fresh database is created next to it). */
  adminDatabaseUrl: string;
  log?: (line: string) => void;
}

export interface FaultReport {
  seed: number;
  schedule: string[];
  elapsedSeconds: number;
  result: CheckResult;
  /** Tails of the logs of the instances named by violations. */
  logTails: Map<string, string>;
  /** Full logs of every process, kept when the run found violations (else removed). */
  logDir: string | null;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One seeded fault run: starts the system, runs the workload and the mutator, injects every
 * kind of fault once per round (in a seeded order, at seeded targets), heals, then reads the
 * truth back from PostgreSQL and the topic and checks the history against it.
 */
export async function runFaults(options: FaultRunOptions): Promise<FaultReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[faults] ${line}\n`));
  const began = Date.now();
  const root = new Rng(options.seed);
  const scheduleRng = root.fork();
  const workloadRng = root.fork();
  const mutatorRng = root.fork();
  log(`seed ${options.seed} (replay with FAULT_SEED=${options.seed})`);

  const system = await FaultSystem.start({ adminDatabaseUrl: options.adminDatabaseUrl, log });
  const history = new History();
  const schedule: string[] = [];
  const monitor = new FreshnessMonitor(system, history);
  let keepLogs = true;
  try {
    const workload = new Workload(system, history, workloadRng, { users: options.users ?? 30, rate: options.probeRate ?? 100 });
    await workload.register();
    const mutator = new Mutator(system, history, workload, mutatorRng, { rate: options.mutationRate ?? 2 });
    const nemesis = new Nemesis({ system, history, workload, mutator, rng: scheduleRng, log });
    log(`${workload.users.length} users logged in; workload ${workload.rate} probes/s over ${system.verifiers.length} verifiers, ${mutator.rate} revocations/s`);
    monitor.start();
    workload.start();
    mutator.start();
    await delay(3000);

    const deadline = options.durationSeconds === undefined ? undefined : began + options.durationSeconds * 1000;
    for (let round = 1; ; round++) {
      const order = scheduleRng.shuffle(FAULT_KINDS);
      let previousKid: string | null = null;
      for (const [i, kind] of order.entries()) {
        if (deadline !== undefined && round > 1 && Date.now() > deadline) break;
        const window = await nemesis.inject(kind);
        schedule.push(`${kind}(${window.target})`);
        await delay(2000);
        // Key rotation (nobody logged out) and an emergency key revocation, once per round.
        if (i === 1) previousKid = (await mutator.rotateKey())?.previousKid ?? null;
        if (i === 3 && previousKid !== null) await mutator.revokeKey(previousKid);
      }
      if (deadline === undefined || Date.now() > deadline) break;
    }
    log(`schedule: ${schedule.join(', ')}`);

    await mutator.stop();
    await workload.stop();

    // Heal completely, then read back: nothing in the outbox, every verifier fresh.
    const drainDeadline = Date.now() + 30_000;
    for (let rows = await countOutbox(system.database.url).catch(() => -1); rows !== 0; rows = await countOutbox(system.database.url).catch(() => -1)) {
      if (Date.now() > drainDeadline) {
        history.violations.push({ kind: 'NOT_RECOVERED', message: `the outbox still holds ${rows} rows 30 s after the workload stopped` });
        break;
      }
      await delay(200);
    }
    const freshDeadline = Date.now() + 30_000;
    for (;;) {
      const stale = [];
      for (const v of system.verifiers) {
        const r = await http(v.proc.url, 'GET', '/readyz', { timeoutMs: 1500 });
        const f = (r.body as { freshness_seconds?: number | null } | null)?.freshness_seconds;
        if (r.status !== 200 || typeof f !== 'number' || f > FRESHNESS_MAX_SECONDS) stale.push(v.proc.name);
      }
      if (stale.length === 0) break;
      if (Date.now() > freshDeadline) {
        history.violations.push({ kind: 'NOT_RECOVERED', message: `not ready and fresh 30 s after the end: ${stale.join(', ')}` });
        break;
      }
      await delay(200);
    }
    // Past the LATE bound for the last revocations, every instance must refuse every revoked
    // token and serve every live one.
    await delay(LATE_BOUND_MS);
    const tokens = [...history.tokens.values()].filter((t) => t.exp * 1000 > Date.now() + 5000);
    const jobs = tokens.flatMap((t) => system.verifiers.map((v) => () => workload.probe(t, v, 0, 'final')));
    const workers = Array.from({ length: 8 }, async () => {
      for (let job = jobs.shift(); job !== undefined; job = jobs.shift()) await job();
    });
    await Promise.all(workers);

    await monitor.stop();
    const events = await readTopic(system.broker.bootstrap, system.broker.adminSasl, system.topic, 60_000);
    const db = await readDatabase(system.database.url);
    const truth = new RevocationTruth(events);
    const result = check(history, truth, db, (instance, generation) => system.byName(instance)?.startedAt[generation] ?? 0);
    const logTails = new Map<string, string>();
    for (const v of result.violations) {
      if (v.instance !== undefined && !logTails.has(v.instance)) {
        const proc = system.byName(v.instance);
        if (proc !== undefined) logTails.set(v.instance, proc.logTail(20));
      }
    }
    if (result.violations.some((v) => v.kind !== 'CRASHED' && v.kind !== 'NOT_RECOVERED')) logTails.set('broker', system.broker.logTail(10));
    keepLogs = result.violations.length > 0;
    return { seed: options.seed, schedule, elapsedSeconds: (Date.now() - began) / 1000, result, logTails, logDir: keepLogs ? system.logDir : null };
  } finally {
    await monitor.stop();
    const brokerLog = join(system.broker.dataDir, 'broker.log');
    if (keepLogs && existsSync(brokerLog)) copyFileSync(brokerLog, join(system.logDir, 'broker.log'));
    await system.stop().catch((error: unknown) => log(`stopping the fault system: ${String(error)}`));
    if (!keepLogs) rmSync(system.logDir, { recursive: true, force: true });
    else log(`logs of every process kept in ${system.logDir}`);
  }
}

const pct = (num: number, den: number) => (den === 0 ? 'n/a' : `${((100 * num) / den).toFixed(1)}%`);
const top = (refusals: Record<string, number>) =>
  Object.entries(refusals)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([k, n]) => `${k} x${n}`)
    .join(', ');

/** A human-readable report: seed, figures, availability per fault window, violations (jti, never tokens). */
export function formatReport(report: FaultReport, maxPerKind = 5): string {
  const { figures, violations } = report.result;
  const lines: string[] = [];
  lines.push(`fault run seed ${report.seed} (FAULT_SEED=${report.seed} replays the schedule) in ${report.elapsedSeconds.toFixed(0)} s`);
  lines.push(`schedule: ${report.schedule.join(', ')}`);
  const survived = figures.windows.filter((w) => w.violations === 0 && w.window.recoveredAt !== null && !w.window.notes.some((n) => n.includes('only') || n.includes('still not'))).length;
  lines.push(
    `faults survived ${survived}/${figures.windows.length}; revocations ${figures.acknowledged} acknowledged of ${figures.mutations} attempted, ${figures.events} events on the topic, ` +
      `${figures.revokedTokensChecked} revoked tokens probed; probes ${figures.probes} (${figures.workloadProbes} workload, ${figures.restartChecks} after restarts, ${figures.finalProbes} final); violations ${violations.length}`,
  );
  lines.push(`bounds: freshness ${FRESHNESS_MAX_SECONDS} s, LATE after ${LATE_BOUND_MS / 1000} s, recovery within ${RECOVERY_DEADLINE_MS / 1000} s of healing`);
  lines.push(`outside fault windows: live tokens served ${pct(figures.baseline.liveServed, figures.baseline.liveProbes)} of ${figures.baseline.liveProbes}${figures.baseline.liveServed < figures.baseline.liveProbes ? ` (not served: ${top(figures.baseline.refusals)})` : ''}`);
  lines.push('window | fault | target | duration s | recovered s after heal | live served | fail-closed served | violations');
  for (const w of figures.windows) {
    const win = w.window;
    const duration = (((win.healedAt ?? win.startedAt) - win.startedAt) / 1000).toFixed(1);
    const recovered = win.recoveredAt !== null && win.healedAt !== null ? ((win.recoveredAt - win.healedAt) / 1000).toFixed(1) : '-';
    lines.push(`${win.index} | ${win.kind} | ${win.target} | ${duration} | ${recovered} | ${pct(w.liveServed, w.liveProbes)} of ${w.liveProbes} | ${pct(w.failClosedServed, w.failClosedLive)} of ${w.failClosedLive} | ${w.violations}`);
    for (const n of win.notes) lines.push(`    ${n}`);
    if (w.liveServed < w.liveProbes) lines.push(`    live tokens not served: ${top(w.refusals)}`);
  }
  const byKind = new Map<string, Violation[]>();
  for (const v of violations) byKind.set(v.kind, [...(byKind.get(v.kind) ?? []), v]);
  for (const [kind, list] of byKind) {
    lines.push(`VIOLATION ${kind} x${list.length}`);
    for (const v of list.slice(0, maxPerKind)) lines.push(`  ${kind}: ${v.message}`);
    if (list.length > maxPerKind) lines.push(`  ... ${list.length - maxPerKind} more ${kind}`);
  }
  if (report.logDir !== null) lines.push(`full logs of every process: ${report.logDir}`);
  if (report.logTails.size > 0) {
    for (const [name, tail] of report.logTails) lines.push(`--- tail of ${name}'s log ---\n${tail}`);
  }
  return lines.join('\n');
}
