/**
 * The one Kafka broker launcher: a real single-node Apache Kafka 3.9 broker (KRaft,
 * broker+controller) run from the Maven Central jars. `up` launches it detached (it
 * outlives the CLI, pid recorded the moment it is spawned); tests and benchmarks get a
 * {@link KafkaBroker} handle that can stop, kill and restart it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfraError } from './errors.ts';
import { freePort, listensOn } from './ports.ts';
import { requireJava, requireMaven } from './prerequisites.ts';
import { BUS_PRINCIPALS, busSasl, generateBusCredentials, type BusCredentials } from './kafka-security.ts';

/** Repository root (infra/src/../..). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const POM = join(REPO_ROOT, 'infra/kafka/pom.xml');
/** Where `mvn dependency:copy-dependencies` puts the broker's jars (git-ignored); `KAFKA_LIBS_DIR` overrides. */
export const KAFKA_LIBS_DIR = process.env['KAFKA_LIBS_DIR'] ?? join(REPO_ROOT, 'infra/.cache/kafka/libs');

// Short-lived helper processes (kafka-storage): stopped too when `up` is interrupted.
const helpers = new Set<ChildProcess>();

/** Kills the helper processes still running (used by `up`'s interrupt handler). */
export function killHelpers(): void {
  for (const child of helpers) child.kill('SIGKILL');
}

function run(command: string, args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    helpers.add(child);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.once('error', (error) => {
      helpers.delete(child);
      fail(new InfraError('ERR_BROKER_START_FAILED', `${command} could not be run: ${error.message}`));
    });
    child.once('close', (status) => {
      helpers.delete(child);
      done({ status, output });
    });
  });
}

/** Whether the jars for infra/kafka/pom.xml are already in {@link KAFKA_LIBS_DIR}. */
export function kafkaJarsCached(): boolean {
  const stamp = join(KAFKA_LIBS_DIR, '.pom-sha256');
  return existsSync(stamp) && readFileSync(stamp, 'utf8') === createHash('sha256').update(readFileSync(POM)).digest('hex');
}

/**
 * Makes sure the Kafka jars are in {@link KAFKA_LIBS_DIR}, fetching them from Maven Central
 * with `mvn dependency:copy-dependencies` when missing or when infra/kafka/pom.xml changed
 * (synchronous: callers outside the launcher use it too). Throws `ERR_MAVEN_MISSING` /
 * `ERR_MAVEN_FAILED` with the fix. Returns the directory.
 */
export function ensureKafkaJars(log: (line: string) => void = () => {}): string {
  if (kafkaJarsCached()) return KAFKA_LIBS_DIR;
  requireMaven();
  log('fetching Apache Kafka jars from Maven Central (first run only)');
  rmSync(KAFKA_LIBS_DIR, { recursive: true, force: true });
  const mvn = spawnSync('mvn', ['-q', '-B', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${KAFKA_LIBS_DIR}`, '-DincludeScope=runtime'], { encoding: 'utf8' });
  if (mvn.error || mvn.status !== 0) {
    const detail = mvn.error ? mvn.error.message : `${mvn.stdout}${mvn.stderr}`.trim().split('\n').slice(-3).join(' | ');
    throw new InfraError('ERR_MAVEN_FAILED', `mvn dependency:copy-dependencies failed (needs access to Maven Central): ${detail}`);
  }
  writeFileSync(join(KAFKA_LIBS_DIR, '.pom-sha256'), createHash('sha256').update(readFileSync(POM)).digest('hex'));
  return KAFKA_LIBS_DIR;
}

/** What a broker is started with. */
/**
 * A further PLAINTEXT listener of the broker, advertised at another port: Kafka answers
 * metadata with the addresses of the listener a request came in on, so a client bootstrapped
 * there keeps every connection on it (the fault suite puts a cuttable proxy in front of each).
 */
export interface ExtraListener {
  /** Listener name, upper case, e.g. `V0`. */
  name: string;
  /** Port the broker listens on for this listener. */
  port: number;
  /** Port clients are told to use (a proxy in front of `port`). */
  advertisedPort: number;
}

export interface BrokerSettings {
  /** Client (PLAINTEXT) port on 127.0.0.1. */
  port: number;
  /** Controller (KRaft quorum) port on 127.0.0.1. */
  controllerPort: number;
  /** Holds server.properties, log4j.properties and the `log/` data directory. */
  dataDir: string;
  /** Where stdout/stderr go. Default `<dataDir>/broker.log`. */
  logFile?: string;
  /** JVM max heap, e.g. `512m`. Default `512m`. */
  heap?: string;
  /** Processors the JVM may believe it has (`-XX:ActiveProcessorCount`). Default: the machine's. */
  cpus?: number;
  /** Listeners besides the client one. Default none. */
  extraListeners?: readonly ExtraListener[];
  /**
   * Secures the broker: every client listener speaks SASL_PLAINTEXT with SCRAM-SHA-512 (these
   * users are bootstrapped into the metadata at format time), the controller listener SASL
   * PLAIN (the `admin` user only), ACLs by the KRaft StandardAuthorizer with `admin` the only
   * super user and `allow.everyone.if.no.acl.found=false`. Default: PLAINTEXT, no ACLs.
   */
  sasl?: BusCredentials;
}

/** Writes server.properties (mode 600: it holds the broker's own password when secured) and log4j.properties for a single-node KRaft broker on loopback. */
export function writeBrokerConfig(settings: BrokerSettings): string {
  const { dataDir, port, controllerPort, sasl } = settings;
  const extra = settings.extraListeners ?? [];
  mkdirSync(join(dataDir, 'log'), { recursive: true });
  const properties = join(dataDir, 'server.properties');
  const client = sasl ? 'CLIENT' : 'PLAINTEXT';
  const protocol = sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT';
  const listen = [`${client}://127.0.0.1:${port}`, ...extra.map((l) => `${l.name}://127.0.0.1:${l.port}`)];
  const advertise = [`${client}://127.0.0.1:${port}`, ...extra.map((l) => `${l.name}://127.0.0.1:${l.advertisedPort}`)];
  const protocols = [client, ...extra.map((l) => l.name), 'CONTROLLER'].map((name) => `${name}:${protocol}`);
  const security: string[] = [];
  if (sasl) {
    const admin = sasl.users.admin;
    const scram = `org.apache.kafka.common.security.scram.ScramLoginModule required username="${admin.username}" password="${admin.password}";`;
    security.push(
      `sasl.enabled.mechanisms=${sasl.mechanism}`,
      `sasl.mechanism.inter.broker.protocol=${sasl.mechanism}`,
      // SCRAM users live in the metadata log, which controllers need before they can read it: PLAIN there.
      'sasl.mechanism.controller.protocol=PLAIN',
      'listener.name.controller.sasl.enabled.mechanisms=PLAIN',
      `listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${admin.username}" password="${admin.password}" user_${admin.username}="${admin.password}";`,
      ...[client, ...extra.map((l) => l.name)].map((name) => `listener.name.${name.toLowerCase()}.${sasl.mechanism.toLowerCase()}.sasl.jaas.config=${scram}`),
      'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      `super.users=User:${admin.username}`,
      'allow.everyone.if.no.acl.found=false',
    );
  }
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=${[...listen, `CONTROLLER://127.0.0.1:${controllerPort}`].join(',')}`,
      `advertised.listeners=${advertise.join(',')}`,
      'controller.listener.names=CONTROLLER',
      `listener.security.protocol.map=${protocols.join(',')}`,
      `inter.broker.listener.name=${client}`,
      ...security,
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
    { mode: 0o600 },
  );
  chmodSync(properties, 0o600);
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

function javaArgs(libs: string, dataDir: string, heap: string, main: string[], cpus?: number): string[] {
  return [
    `-Xmx${heap}`,
    '-Xms128m',
    '-XX:+UseG1GC',
    '-XX:TieredStopAtLevel=1',
    ...(cpus !== undefined ? [`-XX:ActiveProcessorCount=${cpus}`] : []),
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${join(dataDir, 'log4j.properties')}`,
    '-cp',
    `${libs}/*`,
    ...main,
  ];
}

/** The fingerprint of a user list, stamped into a data dir formatted with it. */
function scramStamp(sasl: BusCredentials | undefined): string {
  if (!sasl) return 'plaintext';
  return createHash('sha256').update(JSON.stringify(BUS_PRINCIPALS.map((p) => [sasl.users[p].username, sasl.users[p].password]))).digest('hex');
}

/**
 * Formats the KRaft metadata log once (a fresh data dir needs a cluster id); a secured
 * broker's SCRAM users are bootstrapped here (`kafka-storage format --add-scram`), the only
 * way to create the first ones in KRaft. A data dir formatted with other users (or none) is
 * refused with the fix: its metadata would not know these credentials.
 */
async function formatStorage(libs: string, dataDir: string, properties: string, sasl: BusCredentials | undefined): Promise<void> {
  const stampFile = join(dataDir, 'scram.stamp');
  if (existsSync(join(dataDir, 'log', 'meta.properties'))) {
    const stamp = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : 'plaintext';
    if (stamp !== scramStamp(sasl)) {
      throw new InfraError(
        'ERR_BROKER_START_FAILED',
        `the broker data in ${dataDir} was formatted ${stamp === 'plaintext' ? 'without SCRAM users' : 'with other SCRAM credentials'}; delete it (./infra/revocable reset for up's broker) so it is formatted with the current ones`,
      );
    }
    return;
  }
  const id = await run('java', javaArgs(libs, dataDir, '256m', ['kafka.tools.StorageTool', 'random-uuid']));
  const clusterId = id.status === 0 ? (id.output.trim().split('\n').pop() ?? '') : '';
  if (clusterId.length === 0) throw new InfraError('ERR_BROKER_START_FAILED', `kafka-storage random-uuid failed: ${id.output.trim().slice(-300)}`);
  const scram = sasl ? BUS_PRINCIPALS.flatMap((p) => ['--add-scram', `${sasl.mechanism}=[name=${sasl.users[p].username},password=${sasl.users[p].password}]`]) : [];
  const format = await run('java', javaArgs(libs, dataDir, '256m', ['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties, '--ignore-formatted', ...scram]));
  if (format.status !== 0) throw new InfraError('ERR_BROKER_START_FAILED', `kafka-storage format failed: ${redactPasswords(format.output.trim().slice(-300), sasl)}`);
  writeFileSync(stampFile, `${scramStamp(sasl)}\n`, { mode: 0o600 });
}

function redactPasswords(text: string, sasl: BusCredentials | undefined): string {
  if (!sasl) return text;
  let out = text;
  for (const p of BUS_PRINCIPALS) out = out.split(sasl.users[p].password).join('***');
  return out;
}

/**
 * Whether the `admin` principal can authenticate and read metadata (a secured broker listens
 * before its SCRAM users and ACLs are loaded from the metadata log).
 */
async function adminAnswers(port: number, sasl: BusCredentials): Promise<boolean> {
  const { Admin } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: 'revocable-launcher', bootstrapBrokers: [`127.0.0.1:${port}`], sasl: busSasl(sasl, 'admin'), retries: 0, connectTimeout: 2000, timeout: 3000, requestTimeout: 3000 });
  try {
    await admin.metadata({ topics: [] });
    return true;
  } catch {
    return false;
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** How {@link launchBroker} runs the JVM. */
export interface LaunchOptions {
  /** Outlive this process (own process group, unref'd), for `up`. Default false. */
  detached?: boolean;
  /** Called with the JVM's pid right after the spawn, before any waiting (record it there). */
  onSpawn?: (pid: number) => void;
  /** How long the broker may take to listen, in milliseconds. Default 180000 (a JVM on a busy 2-core machine is slow). */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

/** Default deadline for a broker to listen after its spawn. */
const START_TIMEOUT_MS = 180_000;

/**
 * Checks Java (and Maven while the jars are missing), writes the configuration, formats the
 * storage once, spawns the JVM and resolves once *that* pid listens on the client port and on
 * every extra listener (and, when secured, its `admin` user authenticates).
 * On any failure the JVM is killed before the error (one line, `InfraError`) is thrown.
 */
export async function launchBroker(settings: BrokerSettings, options: LaunchOptions = {}): Promise<ChildProcess> {
  requireJava();
  const libs = ensureKafkaJars(options.log);
  const properties = writeBrokerConfig(settings);
  await formatStorage(libs, settings.dataDir, properties, settings.sasl);
  const logFile = settings.logFile ?? join(settings.dataDir, 'broker.log');
  const out = openSync(logFile, 'a');
  const child = spawn('java', javaArgs(libs, settings.dataDir, settings.heap ?? '512m', ['kafka.Kafka', properties], settings.cpus), {
    stdio: ['ignore', out, out],
    detached: options.detached ?? false,
  });
  closeSync(out);
  let failure: InfraError | null = null;
  child.once('error', (error) => (failure = new InfraError('ERR_BROKER_START_FAILED', `java could not be started: ${error.message}`)));
  child.once('exit', (code, signal) => {
    failure ??= new InfraError('ERR_BROKER_START_FAILED', `Kafka exited (${code ?? signal}) during start; see ${logFile}`);
  });
  if (child.pid === undefined) {
    await new Promise((r) => setImmediate(r));
    throw failure ?? new InfraError('ERR_BROKER_START_FAILED', 'java could not be started');
  }
  if (options.detached) child.unref();
  options.onSpawn?.(child.pid);
  const deadline = Date.now() + (options.startTimeoutMs ?? START_TIMEOUT_MS);
  const ports = [settings.port, ...(settings.extraListeners ?? []).map((l) => l.port)];
  for (;;) {
    if (failure) throw failure;
    if ((await listensOnAll(child.pid, ports)) && (!settings.sasl || (await adminAnswers(settings.port, settings.sasl)))) return child;
    if (Date.now() > deadline) {
      await killAndWait(child);
      throw new InfraError('ERR_BROKER_START_FAILED', `Kafka did not listen on 127.0.0.1:${settings.port} within ${options.startTimeoutMs ?? START_TIMEOUT_MS} ms; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function listensOnAll(pid: number, ports: readonly number[]): Promise<boolean> {
  for (const port of ports) if (!(await listensOn(pid, port))) return false;
  return true;
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGKILL');
  await exited;
}

/** Options of {@link startKafkaBroker}. */
export interface KafkaBrokerOptions {
  /** Client port; default: a free port. */
  port?: number;
  /** Controller (KRaft quorum) port; default: a free port. */
  controllerPort?: number;
  /** Data + logs directory; default: a fresh temporary directory, removed by `destroy()`. */
  dataDir?: string;
  /** JVM max heap, e.g. `512m`. Default `512m`. */
  heap?: string;
  /** How long to wait for the broker to listen, in milliseconds. Default 180000. */
  startTimeoutMs?: number;
  /** Secure it (see {@link BrokerSettings.sasl}): `true` generates the credentials, or pass them. Default false. */
  sasl?: boolean | BusCredentials;
  log?: (line: string) => void;
}

/** A running broker started by {@link startKafkaBroker}; it only ever signals the JVM it started. */
export interface KafkaBroker {
  /** `host:port` for clients. */
  readonly brokers: string[];
  readonly port: number;
  /** The SCRAM users of a secured broker (`admin` is the super user), null for a PLAINTEXT one. */
  readonly credentials: BusCredentials | null;
  readonly dataDir: string;
  /** Pid of the running JVM, or null when stopped. */
  pid(): number | null;
  /** Starts it again after `stop()`/`kill()`, same ports and data. */
  start(): Promise<void>;
  /** Graceful stop (SIGTERM, SIGKILL after 30 s), waits for exit. */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL), waits for exit. */
  kill(): Promise<void>;
  /** Stops and deletes the data directory if it was created here. */
  destroy(): Promise<void>;
}

/**
 * Starts a private broker for tests and benchmarks (a child of this process).
 *
 * @example
 * const broker = await startKafkaBroker();
 * try { useKafka(broker.brokers); await broker.kill(); await broker.start(); }
 * finally { await broker.destroy(); }
 */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const port = options.port ?? (await freePort());
  const controllerPort = options.controllerPort ?? (await freePort());
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'revocable-kafka-'));
  const credentials = options.sasl === true ? generateBusCredentials() : options.sasl || null;
  const settings: BrokerSettings = { port, controllerPort, dataDir, ...(options.heap ? { heap: options.heap } : {}), ...(credentials ? { sasl: credentials } : {}) };
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const proc = await launchBroker(settings, {
      ...(options.startTimeoutMs ? { startTimeoutMs: options.startTimeoutMs } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    child = proc;
    exited = new Promise((done) => proc.once('exit', () => done()));
    proc.once('exit', () => {
      if (child === proc) child = null;
    });
    options.log?.(`Kafka broker up on 127.0.0.1:${port} (pid ${proc.pid}${credentials ? ', SASL/SCRAM-SHA-512 + ACLs' : ', PLAINTEXT'})`);
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
    credentials,
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

/** Lists the jar names (for diagnostics and the README). */
export function kafkaJarNames(): string[] {
  return existsSync(KAFKA_LIBS_DIR) ? readdirSync(KAFKA_LIBS_DIR).filter((f) => f.endsWith('.jar')) : [];
}
