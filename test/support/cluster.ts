/**
 * The test cluster: the real services (auth, orders, profile) as child processes, planned
 * and run by the same orchestrator as `./infra/revocable up` (`planServices` +
 * `ServiceProcess` from @revocable/infra), each on a free port, with a fresh PostgreSQL
 * database and a revocation topic no other cluster uses. Logs are kept in memory and shown
 * when something fails. Use it for every cross-process test that needs running services:
 *
 * @example
 * const cluster = await startCluster({ kafkaBrokers: kafkaBrokers(), databaseUrl: databaseUrl() });
 * try {
 *   await fetch(`${cluster.authUrl}/v1/users`, { method: 'POST', ... });
 *   await cluster.stopService('orders', 'SIGKILL'); // a crash
 *   await cluster.startService('orders');           // resolves when it is ready again
 * } finally {
 *   await cluster.stop();
 * }
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { freePort, generateSecrets, grantBusAcls, InfraError, planServices, SERVICE_NAMES, ServiceProcess, type BusCredentials, type DetailedInfraError, type ServiceName } from '@revocable/infra';
import { createDatabase } from './database.ts';
import { suiteKafkaCredentials } from './suite-kafka.ts';

export { SERVICE_NAMES, type ServiceName };

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** Kafka bootstrap servers (`host:port`, comma-separated or a list). */
  kafkaBrokers: string | readonly string[];
  /**
   * The broker's SCRAM users: each service authenticates as its own principal, and the topic's
   * ACLs are granted before auth starts, as `up` does. Default: the suite's ({@link suiteKafkaCredentials}).
   */
  kafkaCredentials?: BusCredentials | null;
  /**
   * URL of an existing PostgreSQL database to connect to as admin; the cluster creates its
   * own fresh database next to it and drops it in `stop()`.
   */
  databaseUrl: string;
  /** Revocation topic. Default: `revocable.test.<uuid>`, unique per cluster. */
  topic?: string;
  /**
   * Extra environment per service (`all` applies to every service, then the service's own
   * entry), e.g. `{ auth: { ACCESS_TTL_SECONDS: '60' } }`. Applied over the test defaults.
   */
  env?: Partial<Record<ServiceName | 'all', Record<string, string>>>;
  /** Which services to start. Default all three. */
  services?: readonly ServiceName[];
  /** Deadline for each service to answer 200 on `/readyz` (from its own pid), in milliseconds. Default 120000 (a deadline, not a timing check: a loaded 2-core machine starts a service in tens of seconds). */
  readyTimeoutMs?: number;
  /** Also stream the services' logs to this process's stderr (or set REVOCABLE_CLUSTER_LOGS=1). */
  echoLogs?: boolean;
}

/** A running cluster. */
export interface Cluster {
  authUrl: string;
  ordersUrl: string;
  profileUrl: string;
  /** URL of each service, by name. */
  urls: Record<ServiceName, string>;
  /** The revocation topic the services share. */
  topic: string;
  /** The cluster's own database. */
  databaseUrl: string;
  /** Bearer token of the auth service's admin routes. */
  adminToken: string;
  /** RFC 7662 introspection credentials of the resource services (client id = audience). */
  introspectionClients: Record<'orders' | 'profile', { clientId: string; secret: string }>;
  /** The running child processes (null while a service is stopped). */
  processes: Record<ServiceName, ChildProcess | null>;
  /** Stops every service (SIGTERM, then SIGKILL after 10 s) and drops the database. Idempotent. */
  stop(): Promise<void>;
  /** Stops one service gracefully and starts it again on the same port; resolves when ready. */
  restart(name: ServiceName): Promise<void>;
  /** Stops one service (default SIGTERM); `SIGKILL` simulates a crash. Resolves once it exited. */
  stopService(name: ServiceName, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped service again on its port and with its environment; resolves when ready. */
  startService(name: ServiceName): Promise<void>;
  /** The captured log lines of one service (last few thousand, every run of it), or of all when omitted. */
  logs(name?: ServiceName): string;
  /**
   * Starts one more instance of a resource service (same environment, its own free port),
   * resolves when it is ready; `stop()` stops it with the rest.
   */
  startReplica(name: Exclude<ServiceName, 'auth'>): Promise<Replica>;
}

/** An extra instance of a resource service, from {@link Cluster.startReplica}. */
export interface Replica {
  url: string;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Thrown when a service does not start; the message carries the tail of its log. */
export class ClusterError extends Error {
  readonly code = 'ERR_CLUSTER_START';
  /** The orchestrator's code: `ERR_SERVICE_START_FAILED` (exited) or `ERR_PORT_TIMEOUT` (never ready). */
  readonly infraCode: string;
  constructor(message: string, infraCode: string) {
    super(message);
    this.name = 'ClusterError';
    this.infraCode = infraCode;
  }
}

const MAX_LOG_LINES = 4000;

// Children must not outlive a crashed test run.
const everyChild = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  everyChild.add(child);
  child.once('exit', () => everyChild.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of everyChild) c.kill('SIGKILL');
    });
  }
}

/** Test defaults on top of the plan: fast password hashing, no rate limits in the way, frequent heartbeats. */
const TEST_AUTH_ENV: Record<string, string> = {
  PASSWORD_SCRYPT_COST: '10',
  LOGIN_RATE_LIMIT_PER_IP: '100000',
  LOGIN_MAX_FAILURES_PER_ACCOUNT: '100000',
  RATE_LIMIT_PER_IP: '1000000',
  HEARTBEAT_INTERVAL_MS: '250',
};

/**
 * Starts auth (which creates the topic and migrates its database), then orders and profile,
 * and resolves once every service answers 200 on `/readyz` from its own pid. On failure
 * everything started is stopped and the error shows the failing service's log.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const wanted = options.services ?? SERVICE_NAMES;
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const echo = options.echoLogs ?? process.env['REVOCABLE_CLUSTER_LOGS'] === '1';
  const brokers = typeof options.kafkaBrokers === 'string' ? options.kafkaBrokers : options.kafkaBrokers.join(',');
  const topic = options.topic ?? `revocable.test.${randomUUID()}`;
  const database = await createDatabase(options.databaseUrl, 'revocable_cluster');

  const credentials = options.kafkaCredentials === undefined ? suiteKafkaCredentials() : options.kafkaCredentials;
  if (credentials) await grantBusAcls(brokers.split(','), credentials, topic);

  const ports = { auth: await freePort(), orders: await freePort(), profile: await freePort() };
  const secrets = generateSecrets();
  const plans = planServices({
    ports,
    kafkaBrokers: brokers,
    ...(credentials ? { kafkaCredentials: credentials } : {}),
    databaseUrl: database.url,
    topic,
    secrets,
    extra: { all: options.env?.all ?? {}, auth: { ...TEST_AUTH_ENV, ...options.env?.auth }, orders: options.env?.orders ?? {}, profile: options.env?.profile ?? {} },
  });
  const urls = Object.fromEntries(SERVICE_NAMES.map((n) => [n, plans[n].url])) as Record<ServiceName, string>;
  const introspectionClients = {
    orders: { clientId: 'orders', secret: secrets.introspectionSecrets.orders },
    profile: { clientId: 'profile', secret: secrets.introspectionSecrets.profile },
  };

  const running: Record<ServiceName, ServiceProcess | null> = { auth: null, orders: null, profile: null };
  const processes: Record<ServiceName, ChildProcess | null> = { auth: null, orders: null, profile: null };
  const logLines: Record<ServiceName, string[]> = { auth: [], orders: [], profile: [] };

  const logs = (name?: ServiceName): string => {
    const names = name === undefined ? SERVICE_NAMES : [name];
    return names.map((n) => logLines[n].map((line) => `[${n}] ${line}`).join('\n')).join('\n');
  };

  const startService = async (name: ServiceName): Promise<void> => {
    if (running[name] !== null) throw new ClusterError(`${name} is already running`, 'ERR_ALREADY_RUNNING');
    const service = ServiceProcess.spawn(plans[name], {
      onLine: (line) => {
        logLines[name].push(line);
        if (logLines[name].length > MAX_LOG_LINES) logLines[name].splice(0, logLines[name].length - MAX_LOG_LINES);
        if (echo) process.stderr.write(`[${name}] ${line}\n`);
      },
    });
    trackChild(service.child);
    running[name] = service;
    processes[name] = service.child;
    service.child.once('exit', () => {
      if (running[name] === service) {
        running[name] = null;
        processes[name] = null;
      }
    });
    try {
      await service.waitReady({ timeoutMs: readyTimeoutMs });
    } catch (error) {
      if (!(error instanceof InfraError)) throw error;
      const detail = (error as DetailedInfraError).detail;
      throw new ClusterError(`${error.message}; its log:\n${tail(detail ?? logLines[name])}`, error.code);
    }
  };

  const stopService = async (name: ServiceName, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const service = running[name];
    if (service === null) return;
    await service.stop(signal);
    running[name] = null;
    processes[name] = null;
  };

  const replicas = new Set<ServiceProcess>();
  const startReplica = async (name: Exclude<ServiceName, 'auth'>): Promise<Replica> => {
    const port = await freePort();
    const plan = { ...plans[name], port, url: `http://127.0.0.1:${port}`, env: { ...plans[name].env, PORT: String(port) } };
    const label = `${name}@${port}` as ServiceName;
    const service = ServiceProcess.spawn(plan, {
      onLine: (line) => {
        logLines[name].push(`(${label}) ${line}`);
        if (logLines[name].length > MAX_LOG_LINES) logLines[name].splice(0, logLines[name].length - MAX_LOG_LINES);
        if (echo) process.stderr.write(`[${label}] ${line}\n`);
      },
    });
    trackChild(service.child);
    replicas.add(service);
    try {
      await service.waitReady({ timeoutMs: readyTimeoutMs });
    } catch (error) {
      await service.stop('SIGKILL').catch(() => undefined);
      replicas.delete(service);
      throw error;
    }
    return {
      url: plan.url,
      child: service.child,
      async stop(signal: NodeJS.Signals = 'SIGTERM') {
        replicas.delete(service);
        await service.stop(signal);
      },
    };
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Resource services first: they must not see the auth service vanish mid-shutdown.
    await Promise.all([stopService('orders'), stopService('profile'), ...[...replicas].map((r) => r.stop())]);
    await stopService('auth');
    await database.drop();
  };

  try {
    if (wanted.includes('auth')) await startService('auth');
    await Promise.all(wanted.filter((n) => n !== 'auth').map((n) => startService(n)));
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }

  return {
    authUrl: urls.auth,
    ordersUrl: urls.orders,
    profileUrl: urls.profile,
    urls,
    topic,
    databaseUrl: database.url,
    adminToken: secrets.adminToken,
    introspectionClients,
    processes,
    stop,
    async restart(name) {
      await stopService(name);
      await startService(name);
    },
    stopService,
    startService,
    logs,
    startReplica,
  };
}

function tail(lines: readonly string[], count = 40): string {
  return lines.length === 0 ? '(no output)' : lines.slice(-count).join('\n');
}
