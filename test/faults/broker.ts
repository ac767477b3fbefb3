import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateBusCredentials, launchBroker, type BrokerSettings, type BusCredentials, type ExtraListener } from '@revocable/infra';
import type { SASLOptions } from 'kafkajs';
import { rangePort } from './ports.ts';

/**
 * A private single-node Kafka broker (the one launcher of infra/, KRaft, Maven jars) that the
 * nemesis may kill -9, pause (SIGSTOP) and restart. Besides the client listener (auth
 * instances, the checker) it has one listener per verifier, advertised at that verifier's
 * proxy: Kafka answers metadata with the addresses of the listener a request came in on, so
 * every connection of that verifier, not only the bootstrap one, goes through the proxy and
 * cutting the proxy really partitions it. Secured as `up`'s broker is (SASL/SCRAM-SHA-512 on
 * every listener, ACLs): each restart re-authenticates every client.
 */
export class FaultBroker {
  readonly #settings: BrokerSettings & { sasl: BusCredentials };
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #paused = false;

  private constructor(settings: BrokerSettings & { sasl: BusCredentials }) {
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
    return new FaultBroker({ port, controllerPort, dataDir, extraListeners, cpus: 1, sasl: generateBusCredentials() });
  }

  /** The SCRAM users (`admin` is the super user the harness's own clients use). */
  get credentials(): BusCredentials {
    return this.#settings.sasl;
  }

  /** kafkajs `sasl` option of the `admin` super user. */
  get adminSasl(): SASLOptions {
    const admin = this.#settings.sasl.users.admin;
    return { mechanism: 'scram-sha-512', username: admin.username, password: admin.password };
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
