import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (infra/src/../..). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const POM = join(REPO_ROOT, 'infra/kafka/pom.xml');
/** Where `mvn dependency:copy-dependencies` puts the broker's jars (git-ignored). */
export const KAFKA_LIBS_DIR = process.env['KAFKA_LIBS_DIR'] ?? join(REPO_ROOT, 'infra/.cache/kafka/libs');

/** Thrown when the broker cannot be provisioned or started; the message says what to do. */
export class InfraError extends Error {
  readonly code: 'ERR_JAVA_MISSING' | 'ERR_MAVEN_FAILED' | 'ERR_BROKER_START_FAILED' | 'ERR_PORT_TIMEOUT';
  constructor(code: InfraError['code'], message: string) {
    super(message);
    this.name = 'InfraError';
    this.code = code;
  }
}

/**
 * Makes sure the Kafka jars are in {@link KAFKA_LIBS_DIR}, fetching them from Maven Central
 * with `mvn dependency:copy-dependencies` when missing or when infra/kafka/pom.xml changed.
 */
export function ensureKafkaJars(log: (line: string) => void = () => {}): string {
  const pomHash = createHash('sha256').update(readFileSync(POM)).digest('hex');
  const stamp = join(KAFKA_LIBS_DIR, '.pom-sha256');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === pomHash) return KAFKA_LIBS_DIR;
  if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0) {
    throw new InfraError('ERR_JAVA_MISSING', 'java not found: install Java 17+ (e.g. apt-get install openjdk-17-jre-headless) or set KAFKA_BROKERS to an existing broker');
  }
  log('fetching Apache Kafka jars from Maven Central (first run only)');
  rmSync(KAFKA_LIBS_DIR, { recursive: true, force: true });
  const mvn = spawnSync(
    'mvn',
    ['-q', '-B', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${KAFKA_LIBS_DIR}`, '-DincludeScope=runtime'],
    { encoding: 'utf8' },
  );
  if (mvn.error || mvn.status !== 0) {
    const detail = mvn.error ? mvn.error.message : `${mvn.stdout}${mvn.stderr}`.trim().split('\n').slice(-5).join(' | ');
    throw new InfraError('ERR_MAVEN_FAILED', `mvn dependency:copy-dependencies failed (needs Maven and access to Maven Central): ${detail}`);
  }
  writeFileSync(stamp, pomHash);
  return KAFKA_LIBS_DIR;
}

/** Asks the OS for a free loopback TCP port. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Resolves once something accepts TCP connections on host:port, or throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((done) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new InfraError('ERR_PORT_TIMEOUT', `nothing answered on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface KafkaBrokerOptions {
  /** Client port; default: a free port. */
  port?: number;
  /** Controller (KRaft quorum) port; default: a free port. */
  controllerPort?: number;
  /** Data + logs directory; default: a fresh temporary directory, removed by `destroy()`. */
  dataDir?: string;
  /** JVM max heap, e.g. `512m`. Default `512m`. */
  heap?: string;
  /** How long to wait for the broker to answer, in milliseconds. Default 60000. */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

/** A real single-node Apache Kafka broker (KRaft, broker+controller) run from the Maven jars. */
export interface KafkaBroker {
  /** `host:port` for clients. */
  readonly brokers: string[];
  readonly port: number;
  readonly dataDir: string;
  /** Pid of the running JVM, or null when stopped. */
  pid(): number | null;
  /** Starts it again after `stop()`/`kill()`, same ports and data. */
  start(): Promise<void>;
  /** Graceful stop (SIGTERM), waits for exit. */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL), waits for exit. */
  kill(): Promise<void>;
  /** Stops and deletes the data directory if it was created here. */
  destroy(): Promise<void>;
}

/** Writes server.properties and log4j.properties for a single-node KRaft broker on loopback. */
export function writeBrokerConfig(dataDir: string, port: number, controllerPort: number): string {
  mkdirSync(join(dataDir, 'log'), { recursive: true });
  const properties = join(dataDir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${join(dataDir, 'log')}`,
      'num.partitions=3',
      'auto.create.topics.enable=false',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'log.retention.check.interval.ms=60000',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dataDir, 'log4j.properties'),
    [
      'log4j.rootLogger=WARN, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.kafka.server.BrokerServer=INFO',
      '',
    ].join('\n'),
  );
  return properties;
}

export function javaArgs(libs: string, dataDir: string, heap: string, main: string[]): string[] {
  return [
    `-Xmx${heap}`,
    '-Xms128m',
    '-XX:+UseG1GC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${join(dataDir, 'log4j.properties')}`,
    '-cp',
    `${libs}/*`,
    ...main,
  ];
}

/** Formats the KRaft metadata log once (a fresh data dir needs a cluster id). */
export function formatStorage(libs: string, dataDir: string, properties: string): void {
  if (existsSync(join(dataDir, 'log', 'meta.properties'))) return;
  const id = spawnSync('java', javaArgs(libs, dataDir, '256m', ['kafka.tools.StorageTool', 'random-uuid']), { encoding: 'utf8' });
  const clusterId = id.stdout.trim().split('\n').pop() ?? '';
  const format = spawnSync(
    'java',
    javaArgs(libs, dataDir, '256m', ['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties, '--ignore-formatted']),
    { encoding: 'utf8' },
  );
  if (format.status !== 0 || clusterId.length === 0) {
    throw new InfraError('ERR_BROKER_START_FAILED', `kafka-storage format failed: ${(format.stderr || format.stdout).trim().slice(-400)}`);
  }
}

/**
 * Starts a real Kafka broker from the Maven jars (fetching them on first use), waits until
 * it accepts connections and answers, and returns a handle that only ever signals the
 * process it started.
 */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const log = options.log ?? (() => {});
  const libs = ensureKafkaJars(log);
  const port = options.port ?? (await freePort());
  const controllerPort = options.controllerPort ?? (await freePort());
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'revocable-kafka-'));
  const heap = options.heap ?? '512m';
  const properties = writeBrokerConfig(dataDir, port, controllerPort);
  formatStorage(libs, dataDir, properties);
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const out = openSync(join(dataDir, 'broker.log'), 'a');
    const proc = spawn('java', javaArgs(libs, dataDir, heap, ['kafka.Kafka', properties]), { stdio: ['ignore', out, out] });
    closeSync(out);
    child = proc;
    exited = new Promise((done) => proc.once('exit', () => done()));
    proc.once('exit', () => {
      if (child === proc) child = null;
    });
    try {
      await Promise.race([
        waitForPort(port, options.startTimeoutMs ?? 60_000),
        exited.then(() => {
          throw new InfraError('ERR_BROKER_START_FAILED', `Kafka exited during start; see ${join(dataDir, 'broker.log')}`);
        }),
      ]);
    } catch (error) {
      proc.kill('SIGKILL');
      throw error;
    }
    log(`Kafka broker up on 127.0.0.1:${port} (pid ${proc.pid})`);
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc) return;
    proc.kill(sig);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    brokers: [`127.0.0.1:${port}`],
    port,
    dataDir,
    pid: () => (child as ChildProcess | null)?.pid ?? null,
    start: () => (child ? Promise.resolve() : launch()),
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async destroy() {
      await signal('SIGTERM');
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a broker that outlives this process (for `revocable up`): same configuration as
 * {@link startKafkaBroker}, fixed ports and data directory, output appended to `logFile`.
 * Returns the JVM's pid once the broker accepts connections.
 */
export async function launchDetachedBroker(options: {
  port: number;
  controllerPort: number;
  dataDir: string;
  logFile: string;
  heap?: string;
  log?: (line: string) => void;
}): Promise<number> {
  const libs = ensureKafkaJars(options.log);
  const properties = writeBrokerConfig(options.dataDir, options.port, options.controllerPort);
  formatStorage(libs, options.dataDir, properties);
  const out = openSync(options.logFile, 'a');
  const proc = spawn('java', javaArgs(libs, options.dataDir, options.heap ?? '512m', ['kafka.Kafka', properties]), {
    stdio: ['ignore', out, out],
    detached: true,
  });
  closeSync(out);
  let exitCode: number | null = null;
  proc.once('exit', (code) => (exitCode = code ?? -1));
  proc.unref();
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exitCode !== null) throw new InfraError('ERR_BROKER_START_FAILED', `Kafka exited with ${exitCode} during start; see ${options.logFile}`);
    try {
      await waitForPort(options.port, 1000);
      break;
    } catch {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new InfraError('ERR_PORT_TIMEOUT', `Kafka did not answer on 127.0.0.1:${options.port} within 60 s; see ${options.logFile}`);
      }
    }
  }
  return proc.pid ?? -1;
}

/** Lists the jar names (for diagnostics and the README). */
export function kafkaJarNames(): string[] {
  return existsSync(KAFKA_LIBS_DIR) ? readdirSync(KAFKA_LIBS_DIR).filter((f) => f.endsWith('.jar')) : [];
}
