/**
 * `./infra/revocable up`: checks everything first (ports and who holds them, Java, Maven,
 * PostgreSQL), then starts Kafka, auth, orders and profile detached, recording each pid the
 * moment it is spawned, and accepts readiness only from the processes it spawned. Ctrl-C or
 * any failure stops what this run started. A component already running with the same
 * settings is kept; one whose settings changed is restarted (and says so).
 */
import { spawn } from 'node:child_process';
import { join, relative } from 'node:path';
import { ensureDatabase } from './database.ts';
import { devPlan, type DevPlan } from './dev-plan.ts';
import { InfraError } from './errors.ts';
import { kafkaJarsCached, killHelpers, launchBroker, REPO_ROOT } from './kafka-broker.ts';
import { grantBusAcls } from './kafka-security.ts';
import { SERVICE_NAMES } from './plan.ts';
import { describeHolder, listensOn, portHolder } from './ports.ts';
import { requireJava, requireMaven } from './prerequisites.ts';
import { ServiceProcess, serviceScript, type DetailedInfraError } from './service-process.ts';
import { changedSettings, digestSettings, liveRecord, stopPid, removeRecord, stopRecorded, writeRecord, type Component } from './state.ts';

/** Streams `up` writes to. */
export interface UpIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Spinner frames (only on a terminal). */
  tick?: (text: string) => void;
}

interface Wanted {
  name: Component;
  port: number;
  ports: Array<{ port: number; role: string; variable: string }>;
  settings: Record<string, string>;
  marker: string;
}

// Variables of the caller's shell that never reach a service's behaviour.
const IGNORED = /^(PATH|HOME|PWD|OLDPWD|SHLVL|_|TERM.*|COLORTERM|SSH_.*|DISPLAY|LANG|LANGUAGE|LC_.*|COLUMNS|LINES|TMUX.*|STY|WINDOW|HOSTNAME|USER|LOGNAME|MAIL|SHELL|XDG_.*|npm_.*|PNPM_.*|EDITOR|VISUAL|PAGER|LESS.*|LS_COLORS|HIST.*|PS[1-4]|PROMPT_COMMAND|REVOCABLE_RUN_DIR|KAFKA_LIBS_DIR|KAFKA_PORT|KAFKA_CONTROLLER_PORT|AUTH_PORT|ORDERS_PORT|PROFILE_PORT|NO_COLOR|FORCE_COLOR|INVOCATION_ID|JOURNAL_STREAM|MOTD_SHOWN|SUDO_.*)$/;

/** The settings a service actually runs with: the plan's environment over the caller's. */
function effectiveSettings(planEnv: Record<string, string>, env: NodeJS.ProcessEnv): Record<string, string> {
  const inherited = Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && /^[A-Z][A-Z0-9_]*$/.test(k) && !IGNORED.test(k))) as Record<string, string>;
  return { ...inherited, ...planEnv };
}

function wantedComponents(plan: DevPlan, env: NodeJS.ProcessEnv): Wanted[] {
  const wanted: Wanted[] = [];
  if (plan.kafka) {
    const { port, controllerPort, dataDir } = plan.kafka;
    wanted.push({
      name: 'kafka',
      port,
      ports: [
        { port, role: 'Kafka', variable: 'KAFKA_PORT' },
        { port: controllerPort, role: 'Kafka controller', variable: 'KAFKA_CONTROLLER_PORT' },
      ],
      settings: digestSettings({ port, controllerPort, dataDir, heap: plan.kafka.heap ?? '512m', security: 'SASL_PLAINTEXT/SCRAM-SHA-512+ACLs' }),
      marker: 'kafka.Kafka',
    });
  }
  for (const name of SERVICE_NAMES) {
    const service = plan.services[name];
    wanted.push({
      name,
      port: service.port,
      ports: [{ port: service.port, role: name, variable: `${name.toUpperCase()}_PORT` }],
      settings: digestSettings(effectiveSettings(service.env, env)),
      marker: serviceScript(name),
    });
  }
  return wanted;
}

/** Runs `up`; resolves with the exit code (the demo's when it ran). */
export async function up(io: UpIo, options: { demo: boolean; env?: NodeJS.ProcessEnv }): Promise<number> {
  const env = options.env ?? process.env;
  const fail = (error: unknown): number => {
    if (!(error instanceof InfraError)) throw error;
    io.err(`revocable up: ${error.message}`);
    for (const line of (error as DetailedInfraError).detail ?? []) io.err(`  | ${line}`);
    return 1;
  };

  let plan: DevPlan;
  try {
    plan = devPlan(env);
  } catch (error) {
    return fail(error);
  }
  const dir = plan.runDir;
  const shownDir = relative(REPO_ROOT, dir).startsWith('..') ? dir : relative(REPO_ROOT, dir);
  io.out(`Starting the Revocable cluster (state in ${shownDir})`);
  const wanted = wantedComponents(plan, env);

  // 1. What already runs from this run directory: keep it, or restart it when its settings changed.
  const keep = new Set<Component>();
  const restart = new Map<Component, number>();
  for (const w of wanted) {
    const record = liveRecord(dir, w.name);
    if (!record) continue;
    const changed = changedSettings(record.settings, w.settings);
    if (changed.length === 0 && (await listensOn(record.pid, record.port))) {
      keep.add(w.name);
      continue;
    }
    restart.set(w.name, record.pid);
    io.out(
      changed.length > 0
        ? `  ${w.name} (pid ${record.pid}) runs with other settings (changed: ${changed.join(', ')}): restarting it`
        : `  ${w.name} (pid ${record.pid}) no longer listens on port ${record.port}: restarting it`,
    );
  }
  if (!plan.kafka) {
    const stray = liveRecord(dir, 'kafka');
    if (stray) io.out(`  note: the broker of an earlier up (pid ${stray.pid}) keeps running; KAFKA_BROKERS=${plan.kafkaBrokers} is used instead (./infra/revocable down stops it)`);
  }

  // 2. Every check before anything starts: ports, Java, Maven, PostgreSQL.
  const problems: string[] = [];
  for (const w of wanted) {
    if (keep.has(w.name)) continue;
    for (const { port, role, variable } of w.ports) {
      const holder = await portHolder(port);
      if (!holder) continue;
      if (holder.pid !== null && [...restart.values()].includes(holder.pid)) continue;
      problems.push(`${describeHolder(holder, role)}; stop it or set ${variable} to a free port`);
    }
  }
  if (plan.kafka && !keep.has('kafka')) {
    for (const check of [requireJava, ...(kafkaJarsCached() ? [] : [requireMaven])]) {
      try {
        check(env);
      } catch (error) {
        if (!(error instanceof InfraError)) throw error;
        problems.push(error.message);
      }
    }
  }
  let database: 'created' | 'existing' | null = null;
  try {
    database = await ensureDatabase(plan.databaseUrl);
  } catch (error) {
    if (!(error instanceof InfraError)) throw error;
    problems.push(error.message);
  }
  if (problems.length > 0) {
    for (const line of problems) io.err(`revocable up: ${line}`);
    io.err('revocable up: nothing was started');
    return 1;
  }
  io.out(`  PostgreSQL ready (${new URL(plan.databaseUrl).host}, database ${new URL(plan.databaseUrl).pathname.slice(1)}${database === 'created' ? ', created' : ''})`);

  // 3. Start, recording each pid as soon as it exists; stop all of it on Ctrl-C or failure.
  const started: Array<{ name: Component; pid: number }> = [];
  const record = (w: Wanted) => (pid: number) => {
    started.push({ name: w.name, pid });
    writeRecord(dir, w.name, { pid, port: w.port, ports: w.ports.map((p) => p.port), settings: w.settings, marker: w.marker, startedAt: new Date().toISOString() });
  };
  const stopStarted = async (): Promise<string> => {
    killHelpers();
    const names: string[] = [];
    for (const { name, pid } of [...started].reverse()) {
      await stopPid(pid);
      removeRecord(dir, name);
      names.push(`${name} (pid ${pid})`);
    }
    return names.length > 0 ? `stopped ${names.join(', ')}` : 'nothing had been started';
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    void stopStarted().then((what) => {
      io.err(`revocable up: interrupted (${signal}); ${what}`);
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const spinner = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

  try {
    if (restart.size > 0) await stopRecorded(dir, (line) => io.out(`  ${line}`), [...restart.keys()]);
    for (const w of wanted) {
      if (interrupted) return await new Promise<number>(() => {});
      if (keep.has(w.name)) {
        io.out(`  ✓ ${w.name.padEnd(8)} already running (pid ${liveRecord(dir, w.name)?.pid}), same settings`);
        // Idempotent, and REVOCATION_TOPIC may have changed since the broker started.
        if (w.name === 'kafka' && plan.kafka) await grantBusAcls([plan.kafkaBrokers], plan.kafka.sasl, plan.topic);
        continue;
      }
      if (w.name === 'kafka' && plan.kafka) {
        const broker = await launchBroker(plan.kafka, { detached: true, onSpawn: record(w), log: (line) => io.out(`  ${line}`) });
        await grantBusAcls([plan.kafkaBrokers], plan.kafka.sasl, plan.topic);
        io.out(`  ✓ kafka    Kafka 3.9 (KRaft) on ${plan.kafkaBrokers}, pid ${broker.pid}, SASL/SCRAM-SHA-512 with the ACLs of ${plan.topic}`);
        continue;
      }
      if (w.name === 'kafka') continue;
      const service = ServiceProcess.spawn(plan.services[w.name], { detached: true, logFile: join(dir, `${w.name}.log`), onSpawn: record(w), baseEnv: env });
      await service.waitReady({ timeoutMs: 120_000, onTick: (i) => io.tick?.(`\r  ${spinner[i % spinner.length]} ${w.name.padEnd(8)} starting…`) });
      io.tick?.('\r\x1b[K');
      io.out(`  ✓ ${w.name.padEnd(8)} ready  ${plan.services[w.name].url} (pid ${service.pid})`);
    }
  } catch (error) {
    if (interrupted) return await new Promise<number>(() => {});
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    io.tick?.('\r\x1b[K');
    const code = fail(error);
    io.err(`revocable up: ${await stopStarted()}`);
    return code;
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  if (!options.demo) {
    io.out(`The cluster runs. Logs: ${shownDir}/*.log   Stop it: ./infra/revocable down`);
    return 0;
  }
  io.out('');
  // Ctrl-C during the demo ends the demo only: the cluster is up and stays up.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  const code = await new Promise<number>((done) => {
    const demo = spawn(process.execPath, [join(REPO_ROOT, 'infra/src/demo.ts')], {
      stdio: 'inherit',
      env: { ...env, AUTH_URL: plan.services.auth.url, ORDERS_URL: plan.services.orders.url, PROFILE_URL: plan.services.profile.url },
    });
    demo.once('error', () => done(1));
    demo.once('exit', (status) => done(status ?? 1));
  });
  process.off('SIGINT', ignore);
  io.out('');
  io.out(`The cluster keeps running. Logs: ${shownDir}/*.log   Stop it: ./infra/revocable down`);
  return code;
}
