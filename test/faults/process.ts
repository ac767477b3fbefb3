import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAX_LOG_LINES = 3000;

// Children must not outlive a crashed run.
const everyChild = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of everyChild) child.kill('SIGKILL');
});

/** How one incarnation of a process ended, when it was not the nemesis that ended it. */
export interface UnexpectedExit {
  instance: string;
  generation: number;
  at: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One service instance (`node services/<service>/src/server.ts`) that the nemesis can kill
 * and start again on the same port. Every start is a new generation, so the checker knows
 * which incarnation answered a probe. Logs are kept (last few thousand lines) for failure
 * reports; an exit nobody asked for is recorded.
 */
export class ServiceProcess {
  readonly name: string;
  readonly service: 'auth' | 'orders' | 'profile';
  readonly port: number;
  readonly env: Record<string, string>;
  generation = 0;
  /** Epoch ms at which each generation was spawned (index = generation). */
  readonly startedAt: number[] = [0];
  readonly unexpectedExits: UnexpectedExit[] = [];
  #child: ChildProcess | null = null;
  #expectExit = false;
  #lines: string[] = [];
  readonly #logFile: string | null;

  /** `logDir`: where the whole log of every generation is appended (`<name>.log`). */
  constructor(name: string, service: 'auth' | 'orders' | 'profile', port: number, env: Record<string, string>, logDir: string | null = null) {
    this.#logFile = logDir === null ? null : join(logDir, `${name}.log`);
    this.name = name;
    this.service = service;
    this.port = port;
    this.env = env;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive(): boolean {
    return this.#child !== null;
  }

  pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Spawns a new generation; resolves once `/readyz` answers 200 (or throws after the deadline). */
  async start(readyTimeoutMs = 120_000): Promise<void> {
    if (this.#child !== null) throw new Error(`${this.name} is already running`);
    this.generation += 1;
    this.startedAt[this.generation] = Date.now();
    this.#log(`--- ${this.name} generation ${this.generation} starting ---`);
    const child = spawn(process.execPath, [`services/${this.service}/src/server.ts`], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    everyChild.add(child);
    this.#child = child;
    this.#expectExit = false;
    const generation = this.generation;
    child.once('exit', (code, signal) => {
      everyChild.delete(child);
      if (this.#child === child) this.#child = null;
      this.#log(`--- ${this.name} generation ${generation} exited (${code ?? signal}) ---`);
      if (!this.#expectExit) this.unexpectedExits.push({ instance: this.name, generation, at: Date.now(), code, signal });
    });
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) this.#log(line);
      });
    }
    await this.waitReady(readyTimeoutMs);
  }

  /** Polls `/readyz` until 200; fails at once if the process died. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#child === null) throw new Error(`${this.name} exited before it was ready; its log:\n${this.logTail()}`);
      try {
        const response = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) });
        await response.body?.cancel();
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${this.name} was not ready within ${timeoutMs} ms; its log:\n${this.logTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Sends `signal` (SIGKILL = a crash) and waits for the exit; this exit is expected. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', deadlineMs = 15_000): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#expectExit = true;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  logTail(count = 25): string {
    return this.#lines.length === 0 ? '(no output)' : this.#lines.slice(-count).map((l) => `  [${this.name}] ${l}`).join('\n');
  }

  /** Log lines containing `needle`. */
  grep(needle: string): string[] {
    return this.#lines.filter((l) => l.includes(needle));
  }

  #log(line: string): void {
    // Per-request access lines would bury everything else (~100 per second).
    if (line.includes('"msg":"incoming request"') || line.includes('"msg":"request completed"')) return;
    if (this.#logFile !== null) appendFileSync(this.#logFile, `${line}\n`);
    this.#lines.push(line);
    if (this.#lines.length > MAX_LOG_LINES) this.#lines.splice(0, this.#lines.length - MAX_LOG_LINES);
  }
}
