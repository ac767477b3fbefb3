/**
 * One service process (`node services/<name>/src/server.ts`) and its readiness: a service is
 * ready only when `/readyz` answers 200 *and* the listening socket on its port belongs to the
 * pid spawned here, so another server on the same port can never pass for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError } from './errors.ts';
import { REPO_ROOT } from './kafka-broker.ts';
import type { ServicePlan } from './plan.ts';
import { listensOn } from './ports.ts';

/** How to run a {@link ServicePlan}. */
export interface ServiceProcessOptions {
  /** Environment under the plan's (default `process.env`). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Outlive this process, output appended to `logFile` (for `up`). Default false: output piped and kept in memory. */
  detached?: boolean;
  /** Where a detached service writes its output (required with `detached`). */
  logFile?: string;
  /** Called for every output line of a piped service. */
  onLine?: (line: string) => void;
  /** Called with the pid right after the spawn, before any waiting (record it there). */
  onSpawn?: (pid: number) => void;
}

const MAX_LOG_LINES = 4000;

/** The marker of a service's command line (to tell a recorded pid from a reused one). */
export function serviceScript(name: string): string {
  return `services/${name}/src/server.ts`;
}

/** A spawned service; {@link ServiceProcess.waitReady} before use, {@link ServiceProcess.stop} after. */
export class ServiceProcess {
  readonly plan: ServicePlan;
  readonly child: ChildProcess;
  readonly pid: number;
  private readonly lines: string[] = [];
  private readonly logFile: string | undefined;
  private readonly logOffset: number;
  private spawnError: Error | null = null;
  readonly exited: Promise<void>;

  private constructor(plan: ServicePlan, child: ChildProcess, logFile: string | undefined, logOffset: number) {
    this.plan = plan;
    this.child = child;
    this.pid = child.pid ?? -1;
    this.logFile = logFile;
    this.logOffset = logOffset;
    this.exited = new Promise((done) => child.once('exit', () => done()));
    child.once('error', (error) => (this.spawnError = error));
  }

  /** Spawns the service (never throws for a missing binary: that surfaces in {@link waitReady}). */
  static spawn(plan: ServicePlan, options: ServiceProcessOptions = {}): ServiceProcess {
    const env = { ...(options.baseEnv ?? process.env), ...plan.env };
    let child: ChildProcess;
    let logOffset = 0;
    if (options.detached) {
      if (!options.logFile) throw new InfraError('ERR_INFRA_CONFIG', 'a detached service needs a logFile');
      logOffset = existsSync(options.logFile) ? statSync(options.logFile).size : 0;
      const out = openSync(options.logFile, 'a');
      child = spawn(process.execPath, [join(REPO_ROOT, serviceScript(plan.name))], { cwd: REPO_ROOT, env, stdio: ['ignore', out, out], detached: true });
      closeSync(out);
      child.unref();
    } else {
      child = spawn(process.execPath, [serviceScript(plan.name)], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    }
    const service = new ServiceProcess(plan, child, options.logFile, logOffset);
    if (!options.detached) service.capture(options.onLine);
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    return service;
  }

  private capture(onLine?: (line: string) => void): void {
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          this.lines.push(line);
          onLine?.(line);
        }
        if (this.lines.length > MAX_LOG_LINES) this.lines.splice(0, this.lines.length - MAX_LOG_LINES);
      });
    }
  }

  /** Whether the process has exited (or never started). */
  hasExited(): boolean {
    return this.spawnError !== null || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** The output of *this* process only (kept lines when piped; the log file from this spawn on when detached). */
  output(): string[] {
    if (!this.logFile) return [...this.lines];
    try {
      return readFileSync(this.logFile).subarray(this.logOffset).toString('utf8').split('\n').filter((l) => l.length > 0);
    } catch {
      return [];
    }
  }

  /**
   * Resolves once `/readyz` answers 200 and this pid listens on the plan's port. Throws
   * `ERR_SERVICE_START_FAILED` when the process exits first (a configuration error is the
   * message on its own; otherwise the message says where the log is and `detail` holds this
   * process's last lines), or `ERR_PORT_TIMEOUT` after `timeoutMs`.
   */
  async waitReady({ timeoutMs = 60_000, onTick }: { timeoutMs?: number; onTick?: (attempt: number) => void } = {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const url = `${this.plan.url}/readyz`;
    for (let attempt = 0; ; attempt++) {
      if (this.hasExited()) throw this.exitError();
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await response.body?.cancel();
        if (response.status === 200 && (await listensOn(this.pid, this.plan.port))) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        throw withDetail(
          new InfraError('ERR_PORT_TIMEOUT', `${this.plan.name} (pid ${this.pid}) was not ready at ${url} within ${timeoutMs} ms${this.logFile ? `; log: ${this.logFile}` : ''}`),
          this.output(),
        );
      }
      onTick?.(attempt);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  private exitError(): InfraError {
    const lines = this.output();
    const configLine = lines.find((l) => /configuration error|ERR_CONFIG/.test(l));
    if (configLine) return new InfraError('ERR_SERVICE_START_FAILED', configLine.trim());
    const how = this.spawnError ? `could not be started (${this.spawnError.message})` : `exited (${this.child.exitCode ?? this.child.signalCode}) before it was ready`;
    return withDetail(new InfraError('ERR_SERVICE_START_FAILED', `${this.plan.name} ${how}${this.logFile ? `; log: ${this.logFile}` : ''}`), lines);
  }

  /** Stops the process (`signal`, then SIGKILL after `deadlineMs`) and waits for its exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', deadlineMs = 10_000): Promise<void> {
    if (this.hasExited()) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), deadlineMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** An {@link InfraError} with the log lines that explain it (shown after the one-line message). */
export type DetailedInfraError = InfraError & { detail?: string[] };

function withDetail(error: InfraError, lines: string[]): DetailedInfraError {
  return Object.assign(error, { detail: lines.slice(-40) });
}
