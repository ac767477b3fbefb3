import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBroker, type BrokerSettings, type ExtraListener } from '@revocable/infra';
import { rangePort } from './ports.ts';

/**
 * A private single-node Kafka broker (the one launcher of infra/, KRaft, Maven jars) that the
 * nemesis may kill -9, pause (SIGSTOP) and restart. Besides the client listener (auth
 * instances, the checker) it has one listener per verifier, advertised at that verifier's
 * proxy: Kafka answers metadata with the addresses of the listener a request came in on, so
 * every connection of that verifier, not only the bootstrap one, goes through the proxy and
 * cutting the proxy really partitions it.
 */
export class FaultBroker {
  readonly #settings: BrokerSettings;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #paused = false;

  private constructor(settings: BrokerSettings) {
    this.#settings = settings;
  }

  /** `advertised` maps a listener name (e.g. `V0`) to the port of the proxy in front of it. */
  static async create(advertised: ReadonlyArray<{ name: string; advertisedPort: number }>): Promise<FaultBroker> {
    const port = await rangePort();
    const controllerPort = await rangePort();
    const extraListeners: ExtraListener[] = [];
    for (const a of advertised) extraListeners.push({ name: a.name, advertisedPort: a.advertisedPort, port: await rangePort() });
    const dataDir = mkdtempSync(join(tmpdir(), 'revocable-faults-kafka-'));
    // One processor: the broker must not starve the services under test on a 2-core machine.
    return new FaultBroker({ port, controllerPort, dataDir, extraListeners, cpus: 1 });
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.#settings.port}`;
  }

  get dataDir(): string {
    return this.#settings.dataDir;
  }

  get listeners(): readonly ExtraListener[] {
    return this.#settings.extraListeners ?? [];
  }

  pid(): number | null {
    return this.#child?.pid ?? null;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  async start(timeoutMs = 90_000): Promise<void> {
    if (this.#child !== null) return;
    const proc = await launchBroker(this.#settings, { startTimeoutMs: timeoutMs });
    this.#child = proc;
    this.#exited = new Promise((done) => proc.once('exit', () => done()));
    proc.once('exit', () => {
      if (this.#child === proc) this.#child = null;
    });
  }

  /** kill -9, waits for the exit. */
  async kill(): Promise<void> {
    const proc = this.#child;
    if (proc === null) return;
    if (this.#paused) this.resume();
    proc.kill('SIGKILL');
    await this.#exited;
  }

  pause(): void {
    this.#child?.kill('SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
    this.#paused = false;
  }

  async destroy(): Promise<void> {
    const proc = this.#child;
    if (proc !== null) {
      if (this.#paused) this.resume();
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await this.#exited;
      clearTimeout(timer);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  logTail(lines = 30): string {
    const file = join(this.dataDir, 'broker.log');
    if (!existsSync(file)) return '(no broker log)';
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }
}
