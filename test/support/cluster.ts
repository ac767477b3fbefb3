/**
 * Starts the real services (auth, orders, profile) as child processes for end-to-end tests
 * and the demo: `node services/<name>/src/server.ts`, each on a free port, with a fresh
 * PostgreSQL database and a revocation topic no other cluster uses. Their logs are kept in
 * memory and shown when something fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from '@revocable/infra';
import { createDatabase } from './database.ts';

/** The services a cluster runs. */
export type ServiceName = 'auth' | 'orders' | 'profile';

export const SERVICE_NAMES: readonly ServiceName[] = ['auth', 'orders', 'profile'];

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** Kafka bootstrap servers (`host:port`, comma-separated or a list). */
  kafkaBrokers: string | readonly string[];
  /**
   * URL of an existing PostgreSQL database to connect to as admin; the cluster creates its
   * own fresh database next to it and drops it in `stop()`.
   */
  databaseUrl: string;
  /** Revocation topic. Default: `revocable.test.<uuid>`, unique per cluster. */
  topic?: string;
  /**
   * Extra environment per service (`all` applies to every service, then the service's own
   * entry), e.g. `{ auth: { ACCESS_TTL_SECONDS: '60' } }`.
   */
  env?: Partial<Record<ServiceName | 'all', Record<string, string>>>;
  /** Which services to start. Default all three. */
  services?: readonly ServiceName[];
  /** Deadline for each service to answer 200 on `/readyz`, in milliseconds. Default 60000. */
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
  /** Stops every service (SIGTERM, then SIGKILL after a deadline) and drops the database. */
  stop(): Promise<void>;
  /** Stops one service gracefully and starts it again on the same port; resolves when ready. */
  restart(name: ServiceName): Promise<void>;
  /** Stops one service; `SIGKILL` simulates a crash. */
  stopService(name: ServiceName, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped service again on its port; resolves when ready. */
  startService(name: ServiceName): Promise<void>;
  /** The captured log lines of one service (last few thousand), or of all when omitted. */
  logs(name?: ServiceName): string;
}

/** Thrown when a service does not start; the message carries the tail of its log. */
export class ClusterError extends Error {
  readonly code = 'ERR_CLUSTER_START';
  constructor(message: string) {
    super(message);
    this.name = 'ClusterError';
  }
}

const MAX_LOG_LINES = 4000;
const STOP_DEADLINE_MS = 10_000;

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

/**
 * Starts auth (which creates the topic and migrates its database), then orders and profile,
 * and resolves once every service answers 200 on `/readyz`. On failure everything started
 * is stopped and the error shows the failing service's log.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const wanted = options.services ?? SERVICE_NAMES;
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const echo = options.echoLogs ?? process.env['REVOCABLE_CLUSTER_LOGS'] === '1';
  const brokers = typeof options.kafkaBrokers === 'string' ? options.kafkaBrokers : options.kafkaBrokers.join(',');
  const topic = options.topic ?? `revocable.test.${randomUUID()}`;
  const database = await createDatabase(options.databaseUrl, 'revocable_cluster');

  const ports = {} as Record<ServiceName, number>;
  for (const name of SERVICE_NAMES) ports[name] = await freePort();
  const urls = Object.fromEntries(SERVICE_NAMES.map((n) => [n, `http://127.0.0.1:${ports[n]}`])) as Record<ServiceName, string>;

  const adminToken = randomBytes(24).toString('base64url');
  const introspectionClients = {
    orders: { clientId: 'orders', secret: randomBytes(18).toString('base64url') },
    profile: { clientId: 'profile', secret: randomBytes(18).toString('base64url') },
  };
  const common: Record<string, string> = {
    HOST: '127.0.0.1',
    KAFKA_BROKERS: brokers,
    REVOCATION_TOPIC: topic,
    LOG_LEVEL: 'info',
    AUTH_URL: urls.auth,
  };
  const serviceEnv: Record<ServiceName, Record<string, string>> = {
    auth: {
      ...common,
      PORT: String(ports.auth),
      DATABASE_URL: database.url,
      AUTH_ISSUER: urls.auth,
      AUDIENCES: 'orders,profile',
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      ADMIN_TOKEN: adminToken,
      INTROSPECTION_CLIENTS: `orders:${introspectionClients.orders.secret},profile:${introspectionClients.profile.secret}`,
      // Plain HTTP on loopback: a Secure cookie would never come back.
      COOKIE_SECURE: 'false',
      // Tests log in a lot from one IP and do not need production-strength password hashing.
      PASSWORD_SCRYPT_COST: '10',
      LOGIN_RATE_LIMIT_PER_IP: '100000',
      LOGIN_MAX_FAILURES_PER_ACCOUNT: '100000',
      RATE_LIMIT_PER_IP: '1000000',
      HEARTBEAT_INTERVAL_MS: '250',
    },
    orders: {
      ...common,
      PORT: String(ports.orders),
      AUDIENCE: 'orders',
      INTROSPECTION_CLIENT_ID: 'orders',
      INTROSPECTION_CLIENT_SECRET: introspectionClients.orders.secret,
    },
    profile: {
      ...common,
      PORT: String(ports.profile),
      AUDIENCE: 'profile',
      INTROSPECTION_CLIENT_ID: 'profile',
      INTROSPECTION_CLIENT_SECRET: introspectionClients.profile.secret,
    },
  };
  for (const name of SERVICE_NAMES) {
    Object.assign(serviceEnv[name], options.env?.all ?? {}, options.env?.[name] ?? {});
  }

  const processes: Record<ServiceName, ChildProcess | null> = { auth: null, orders: null, profile: null };
  const logLines: Record<ServiceName, string[]> = { auth: [], orders: [], profile: [] };

  const logs = (name?: ServiceName): string => {
    const names = name === undefined ? SERVICE_NAMES : [name];
    return names.map((n) => logLines[n].map((line) => `[${n}] ${line}`).join('\n')).join('\n');
  };

  const capture = (name: ServiceName, child: ChildProcess) => {
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          logLines[name].push(line);
          if (echo) process.stderr.write(`[${name}] ${line}\n`);
        }
        if (logLines[name].length > MAX_LOG_LINES) logLines[name].splice(0, logLines[name].length - MAX_LOG_LINES);
      });
    }
  };

  const startService = async (name: ServiceName): Promise<void> => {
    if (processes[name] !== null) throw new ClusterError(`${name} is already running`);
    const child = spawn(process.execPath, [`services/${name}/src/server.ts`], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...serviceEnv[name] },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    trackChild(child);
    processes[name] = child;
    child.once('exit', () => {
      if (processes[name] === child) processes[name] = null;
    });
    capture(name, child);
    await waitReady(name, child);
  };

  const waitReady = async (name: ServiceName, child: ChildProcess): Promise<void> => {
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new ClusterError(
          `${name} exited (${child.exitCode ?? child.signalCode}) before it was ready; its log:\n${tail(logLines[name])}`,
        );
      }
      try {
        const response = await fetch(`${urls[name]}/readyz`, { signal: AbortSignal.timeout(2000) });
        await response.body?.cancel();
        if (response.status === 200) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        throw new ClusterError(`${name} was not ready at ${urls[name]}/readyz within ${readyTimeoutMs} ms; its log:\n${tail(logLines[name])}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const stopService = async (name: ServiceName, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const child = processes[name];
    if (child === null) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
    }
    processes[name] = null;
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Resource services first: they must not see the auth service vanish mid-shutdown.
    await Promise.all([stopService('orders'), stopService('profile')]);
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
    adminToken,
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
  };
}

function tail(lines: readonly string[], count = 40): string {
  return lines.length === 0 ? '(no output)' : lines.slice(-count).join('\n');
}
