import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { InfraError, launchDetachedBroker, REPO_ROOT } from './kafka-broker.ts';

/** Where `up` keeps pids, logs, broker data and generated dev secrets (git-ignored). */
export const RUN_DIR = join(REPO_ROOT, 'infra/.run');

export interface ServiceSpec {
  name: 'auth' | 'orders' | 'profile';
  port: number;
  env: Record<string, string>;
}

/** Ports and URLs of the local cluster; every one can be overridden by the environment. */
export interface ClusterPlan {
  kafkaBrokers: string;
  startKafka: boolean;
  kafkaPort: number;
  kafkaControllerPort: number;
  databaseUrl: string;
  authUrl: string;
  ordersUrl: string;
  profileUrl: string;
  services: ServiceSpec[];
}

function intEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new InfraError('ERR_BROKER_START_FAILED', `${name} must be a TCP port (1-65535), got "${raw}"`);
  }
  return value;
}

/**
 * Dev secrets generated on first `up` and reused after, so restarts keep keys decryptable.
 * The database name is generated with them: signing keys in a database are encrypted with
 * this checkout's KEY_ENCRYPTION_KEY, so another checkout must not reuse that database.
 */
function devSecrets(): Record<string, string> {
  const file = join(RUN_DIR, 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const secrets = {
    DATABASE_NAME: `revocable_${randomBytes(4).toString('hex')}`,
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ADMIN_TOKEN: randomBytes(24).toString('base64url'),
    ORDERS_CLIENT_SECRET: randomBytes(24).toString('base64url'),
    PROFILE_CLIENT_SECRET: randomBytes(24).toString('base64url'),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

export function planCluster(env: NodeJS.ProcessEnv = process.env): ClusterPlan {
  mkdirSync(RUN_DIR, { recursive: true });
  const kafkaPort = intEnv(env, 'KAFKA_PORT', 9092);
  const kafkaControllerPort = intEnv(env, 'KAFKA_CONTROLLER_PORT', 9093);
  const authPort = intEnv(env, 'AUTH_PORT', 3000);
  const ordersPort = intEnv(env, 'ORDERS_PORT', 3001);
  const profilePort = intEnv(env, 'PROFILE_PORT', 3002);
  const kafkaBrokers = env['KAFKA_BROKERS'] || `127.0.0.1:${kafkaPort}`;
  const secrets = devSecrets();
  const databaseUrl = env['DATABASE_URL'] || `postgres://postgres@127.0.0.1:5432/${secrets['DATABASE_NAME'] ?? 'revocable'}`;
  const authUrl = `http://127.0.0.1:${authPort}`;
  const common = { KAFKA_BROKERS: kafkaBrokers, LOG_LEVEL: env['LOG_LEVEL'] || 'info', HOST: '127.0.0.1' };
  return {
    kafkaBrokers,
    startKafka: !env['KAFKA_BROKERS'],
    kafkaPort,
    kafkaControllerPort,
    databaseUrl,
    authUrl,
    ordersUrl: `http://127.0.0.1:${ordersPort}`,
    profileUrl: `http://127.0.0.1:${profilePort}`,
    services: [
      {
        name: 'auth',
        port: authPort,
        env: {
          ...common,
          PORT: String(authPort),
          DATABASE_URL: databaseUrl,
          AUTH_ISSUER: authUrl,
          KEY_ENCRYPTION_KEY: secrets['KEY_ENCRYPTION_KEY'] ?? '',
          ADMIN_TOKEN: secrets['ADMIN_TOKEN'] ?? '',
          INTROSPECTION_CLIENTS: `orders:${secrets['ORDERS_CLIENT_SECRET']},profile:${secrets['PROFILE_CLIENT_SECRET']}`,
          // The demo talks plain HTTP on loopback; a Secure cookie would never be sent back.
          COOKIE_SECURE: 'false',
        },
      },
      {
        name: 'orders',
        port: ordersPort,
        env: {
          ...common,
          PORT: String(ordersPort),
          AUTH_URL: authUrl,
          AUDIENCE: 'orders',
          INTROSPECTION_CLIENT_ID: 'orders',
          INTROSPECTION_CLIENT_SECRET: secrets['ORDERS_CLIENT_SECRET'] ?? '',
        },
      },
      {
        name: 'profile',
        port: profilePort,
        env: {
          ...common,
          PORT: String(profilePort),
          AUTH_URL: authUrl,
          AUDIENCE: 'profile',
          INTROSPECTION_CLIENT_ID: 'profile',
          INTROSPECTION_CLIENT_SECRET: secrets['PROFILE_CLIENT_SECRET'] ?? '',
        },
      },
    ],
  };
}

function pidFile(name: string): string {
  return join(RUN_DIR, `${name}.pid`);
}

/** Pid recorded for `name` if that process is still alive. */
export function runningPid(name: string): number | null {
  const file = pidFile(name);
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8'));
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    rmSync(file, { force: true });
    return null;
  }
}

/** Creates the cluster's database if it does not exist (connecting to the server's `postgres` database). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new InfraError(
      'ERR_BROKER_START_FAILED',
      `PostgreSQL at ${target.host} does not answer (${(error as Error).message}); start it ` +
        '(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set DATABASE_URL',
    );
  }
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

export async function startKafkaIfNeeded(plan: ClusterPlan, log: (line: string) => void): Promise<void> {
  if (!plan.startKafka) {
    log(`using the Kafka broker at ${plan.kafkaBrokers} (KAFKA_BROKERS)`);
    return;
  }
  if (runningPid('kafka')) {
    log(`Kafka already running (pid ${runningPid('kafka')})`);
    return;
  }
  const pid = await launchDetachedBroker({
    port: plan.kafkaPort,
    controllerPort: plan.kafkaControllerPort,
    dataDir: join(RUN_DIR, 'kafka'),
    logFile: join(RUN_DIR, 'kafka.log'),
    log,
  });
  writeFileSync(pidFile('kafka'), String(pid));
  log(`Kafka 3.9 (KRaft) up on ${plan.kafkaBrokers}, pid ${pid}`);
}

export function startService(spec: ServiceSpec): number {
  const existing = runningPid(spec.name);
  if (existing) return existing;
  const out = openSync(join(RUN_DIR, `${spec.name}.log`), 'a');
  const child = spawn(process.execPath, [join(REPO_ROOT, `services/${spec.name}/src/server.ts`)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', out, out],
    detached: true,
  });
  closeSync(out);
  child.unref();
  writeFileSync(pidFile(spec.name), String(child.pid));
  return child.pid ?? -1;
}

/** Polls `url` until it answers 200, showing a spinner; throws with the log's tail after `timeoutMs`. */
export async function waitReady(name: string, url: string, timeoutMs: number, write: (s: string) => void): Promise<void> {
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) {
        write(`\r  ✓ ${name.padEnd(8)} ready  ${url}\n`);
        return;
      }
    } catch {
      // not listening yet
    }
    if (!runningPid(name)) break;
    if (Date.now() > deadline) break;
    write(`\r  ${frames[i % frames.length]} ${name.padEnd(8)} starting…`);
    await new Promise((r) => setTimeout(r, 150));
  }
  const logFile = join(RUN_DIR, `${name}.log`);
  const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n') : '(no log)';
  throw new InfraError('ERR_PORT_TIMEOUT', `${name} did not become ready at ${url}; last log lines:\n${tail}`);
}

/** Stops what `up` started, by pid: services first, the broker last. */
export async function stopAll(log: (line: string) => void): Promise<void> {
  for (const name of ['profile', 'orders', 'auth', 'kafka']) {
    const pid = runningPid(name);
    if (!pid) continue;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (runningPid(name) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (runningPid(name)) process.kill(pid, 'SIGKILL');
    rmSync(pidFile(name), { force: true });
    log(`stopped ${name} (pid ${pid})`);
  }
}
