import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKafkaJars, waitForPort } from '@revocable/infra';
import { rangePort } from './ports.ts';

/** One extra listener of the broker, advertised at a proxy's port (see {@link FaultBroker}). */
export interface ProxiedListener {
  name: string;
  /** Port the broker listens on for this listener. */
  port: number;
  /** Port clients are told to use (the proxy in front of `port`). */
  advertisedPort: number;
}

/**
 * A private single-node Kafka broker (KRaft, from the Maven jars the test command fetches)
 * that the nemesis may kill -9, pause (SIGSTOP) and restart. Besides the PLAINTEXT listener
 * (auth instances, the checker) it has one listener per verifier, advertised at that
 * verifier's proxy: Kafka answers metadata with the addresses of the listener a request
 * came in on, so every connection of that verifier, not only the bootstrap one, goes
 * through the proxy and cutting the proxy really partitions it.
 */
export class FaultBroker {
  readonly port: number;
  readonly controllerPort: number;
  readonly dataDir: string;
  readonly listeners: readonly ProxiedListener[];
  #libs: string;
  #properties: string;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #paused = false;

  private constructor(libs: string, port: number, controllerPort: number, listeners: readonly ProxiedListener[]) {
    this.#libs = libs;
    this.port = port;
    this.controllerPort = controllerPort;
    this.listeners = listeners;
    this.dataDir = mkdtempSync(join(tmpdir(), 'revocable-faults-kafka-'));
    this.#properties = this.#writeConfig();
    this.#format();
  }

  /** `advertised` maps a listener name (e.g. `V0`) to the port of the proxy in front of it. */
  static async create(advertised: ReadonlyArray<{ name: string; advertisedPort: number }>): Promise<FaultBroker> {
    const libs = ensureKafkaJars();
    const port = await rangePort();
    const controllerPort = await rangePort();
    const listeners: ProxiedListener[] = [];
    for (const a of advertised) listeners.push({ name: a.name, advertisedPort: a.advertisedPort, port: await rangePort() });
    return new FaultBroker(libs, port, controllerPort, listeners);
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  pid(): number | null {
    return this.#child?.pid ?? null;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  async start(timeoutMs = 90_000): Promise<void> {
    if (this.#child !== null) return;
    const out = openSync(join(this.dataDir, 'broker.log'), 'a');
    const proc = spawn('java', this.#javaArgs('512m', ['kafka.Kafka', this.#properties]), { stdio: ['ignore', out, out] });
    closeSync(out);
    this.#child = proc;
    this.#exited = new Promise((done) => proc.once('exit', () => done()));
    proc.once('exit', () => {
      if (this.#child === proc) this.#child = null;
    });
    const died = this.#exited.then(() => {
      throw new Error(`Kafka exited during start; log tail:\n${this.logTail()}`);
    });
    died.catch(() => undefined);
    try {
      await Promise.race([waitForPort(this.port, timeoutMs), died]);
      for (const l of this.listeners) await Promise.race([waitForPort(l.port, timeoutMs), died]);
    } catch (error) {
      proc.kill('SIGKILL');
      throw error;
    }
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

  #javaArgs(heap: string, main: string[]): string[] {
    return [
      `-Xmx${heap}`,
      '-Xms128m',
      '-XX:+UseG1GC',
      '-XX:TieredStopAtLevel=1',
      '-XX:ActiveProcessorCount=1',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${join(this.dataDir, 'log4j.properties')}`,
      '-cp',
      `${this.#libs}/*`,
      ...main,
    ];
  }

  #writeConfig(): string {
    mkdirSync(join(this.dataDir, 'log'), { recursive: true });
    const names = ['PLAINTEXT', ...this.listeners.map((l) => l.name)];
    const listen = [`PLAINTEXT://127.0.0.1:${this.port}`, ...this.listeners.map((l) => `${l.name}://127.0.0.1:${l.port}`)];
    const advertise = [`PLAINTEXT://127.0.0.1:${this.port}`, ...this.listeners.map((l) => `${l.name}://127.0.0.1:${l.advertisedPort}`)];
    const properties = join(this.dataDir, 'server.properties');
    writeFileSync(
      properties,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${this.controllerPort}`,
        `listeners=${[...listen, `CONTROLLER://127.0.0.1:${this.controllerPort}`].join(',')}`,
        `advertised.listeners=${advertise.join(',')}`,
        'controller.listener.names=CONTROLLER',
        `listener.security.protocol.map=${[...names, 'CONTROLLER'].map((n) => `${n}:PLAINTEXT`).join(',')}`,
        'inter.broker.listener.name=PLAINTEXT',
        `log.dirs=${join(this.dataDir, 'log')}`,
        'num.partitions=3',
        'auto.create.topics.enable=false',
        'offsets.topic.replication.factor=1',
        'offsets.topic.num.partitions=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'group.initial.rebalance.delay.ms=0',
        'log.retention.check.interval.ms=60000',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(this.dataDir, 'log4j.properties'),
      ['log4j.rootLogger=WARN, stdout', 'log4j.appender.stdout=org.apache.log4j.ConsoleAppender', 'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout', 'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n', 'log4j.logger.kafka.server.BrokerServer=INFO', ''].join('\n'),
    );
    return properties;
  }

  #format(): void {
    const id = spawnSync('java', this.#javaArgs('256m', ['kafka.tools.StorageTool', 'random-uuid']), { encoding: 'utf8' });
    const clusterId = id.stdout.trim().split('\n').pop() ?? '';
    const format = spawnSync('java', this.#javaArgs('256m', ['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', this.#properties, '--ignore-formatted']), { encoding: 'utf8' });
    if (format.status !== 0 || clusterId.length === 0) throw new Error(`kafka-storage format failed: ${(format.stderr || format.stdout).trim().slice(-400)}`);
  }
}
