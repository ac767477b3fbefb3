/**
 * The plan of the long-running dev cluster `./infra/revocable up` starts, from the
 * environment (ports, KAFKA_BROKERS, DATABASE_URL, LOG_LEVEL) and the dev secrets kept in
 * the run directory.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError } from './errors.ts';
import type { BrokerSettings } from './kafka-broker.ts';
import { assertBusCredentials, generateBusCredentials, type BusCredentials } from './kafka-security.ts';
import { planServices, type ServiceName, type ServicePlan } from './plan.ts';
import { runDir } from './state.ts';

/** Default ports of `up` (each overridable: KAFKA_PORT, KAFKA_CONTROLLER_PORT, AUTH_PORT, ORDERS_PORT, PROFILE_PORT). */
export const DEFAULT_PORTS = { kafka: 9092, kafkaController: 9093, auth: 3000, orders: 3001, profile: 3002 } as const;

/** Generated once per run directory, reused by every later `up`, dropped by `reset`. */
export interface DevSecrets {
  DATABASE_NAME: string;
  KEY_ENCRYPTION_KEY: string;
  ADMIN_TOKEN: string;
  ORDERS_CLIENT_SECRET: string;
  PROFILE_CLIENT_SECRET: string;
  /** The SCRAM users of `up`'s broker (one per principal: admin, auth, orders, profile, gate). */
  KAFKA_CREDENTIALS: BusCredentials;
}

/** The dev cluster. */
export interface DevPlan {
  runDir: string;
  /** The broker to start (SASL/SCRAM-SHA-512 with ACLs), or null when `KAFKA_BROKERS` names one. */
  kafka: (BrokerSettings & { logFile: string; sasl: BusCredentials }) | null;
  /** The revocation topic (`REVOCATION_TOPIC`, default `revocable.revocations`): its ACLs are granted on `up`'s broker. */
  topic: string;
  kafkaBrokers: string;
  databaseUrl: string;
  /** Whether `up` chose (and `reset` may drop) the database, i.e. `DATABASE_URL` was not given. */
  ownsDatabase: boolean;
  services: Record<ServiceName, ServicePlan>;
  secrets: DevSecrets;
}

function portEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new InfraError('ERR_INFRA_CONFIG', `${name} must be a TCP port (1-65535), got "${raw}"`);
  }
  return value;
}

/** The secrets file of a run directory. */
export function secretsFile(dir: string): string {
  return join(dir, 'secrets.json');
}

/**
 * Dev secrets generated on first `up` and reused after, so restarts keep keys decryptable.
 * The database name is generated with them: signing keys in a database are encrypted with
 * this checkout's KEY_ENCRYPTION_KEY, so another checkout must not reuse that database.
 */
export function devSecrets(dir: string): DevSecrets {
  const file = secretsFile(dir);
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>;
    // Secrets of a checkout from before the secured bus: add the Kafka users once (the broker
    // data formatted without them is refused at start, with `reset` as the fix).
    if (stored.KAFKA_CREDENTIALS === undefined) {
      stored.KAFKA_CREDENTIALS = generateBusCredentials();
      writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
    }
    assertBusCredentials(stored.KAFKA_CREDENTIALS, file);
    return stored as DevSecrets;
  }
  mkdirSync(dir, { recursive: true });
  const secrets: DevSecrets = {
    DATABASE_NAME: `revocable_${randomBytes(4).toString('hex')}`,
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ADMIN_TOKEN: randomBytes(24).toString('base64url'),
    ORDERS_CLIENT_SECRET: randomBytes(24).toString('base64url'),
    PROFILE_CLIENT_SECRET: randomBytes(24).toString('base64url'),
    KAFKA_CREDENTIALS: generateBusCredentials(),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/**
 * The PostgreSQL server on which `up` creates (and `reset` drops) the dev database when
 * DATABASE_URL is not given: `POSTGRES_URL` (its path is ignored), default
 * `postgres://postgres@127.0.0.1:5432`.
 */
export function postgresServer(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env['POSTGRES_URL'] || 'postgres://postgres@127.0.0.1:5432';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InfraError('ERR_INFRA_CONFIG', 'POSTGRES_URL must be a URL like postgres://postgres@127.0.0.1:5432');
  }
  url.pathname = '';
  url.search = '';
  return url.toString().replace(/\/$/, '');
}

/** The ports `up` uses, from the environment (no side effects; for `status`). */
export function devPorts(env: NodeJS.ProcessEnv = process.env): Record<keyof typeof DEFAULT_PORTS, number> {
  return {
    kafka: portEnv(env, 'KAFKA_PORT', DEFAULT_PORTS.kafka),
    kafkaController: portEnv(env, 'KAFKA_CONTROLLER_PORT', DEFAULT_PORTS.kafkaController),
    auth: portEnv(env, 'AUTH_PORT', DEFAULT_PORTS.auth),
    orders: portEnv(env, 'ORDERS_PORT', DEFAULT_PORTS.orders),
    profile: portEnv(env, 'PROFILE_PORT', DEFAULT_PORTS.profile),
  };
}

/** Reads the environment (creating the dev secrets on first use); throws `ERR_INFRA_CONFIG` (one line) on a bad value. */
export function devPlan(env: NodeJS.ProcessEnv = process.env): DevPlan {
  const dir = runDir(env);
  const ports = devPorts(env);
  const external = env['KAFKA_BROKERS'] || null;
  const named: Array<[string, number]> = [
    ...(external ? [] : ([['KAFKA_PORT', ports.kafka], ['KAFKA_CONTROLLER_PORT', ports.kafkaController]] as Array<[string, number]>)),
    ['AUTH_PORT', ports.auth],
    ['ORDERS_PORT', ports.orders],
    ['PROFILE_PORT', ports.profile],
  ];
  for (const [i, [name, port]] of named.entries()) {
    const twin = named.slice(0, i).find(([, p]) => p === port);
    if (twin) throw new InfraError('ERR_INFRA_CONFIG', `${twin[0]} and ${name} are both ${port}: give each its own port`);
  }
  if (env['DATABASE_URL']) {
    try {
      new URL(env['DATABASE_URL']);
    } catch {
      throw new InfraError('ERR_INFRA_CONFIG', 'DATABASE_URL must be a URL like postgres://user@127.0.0.1:5432/revocable');
    }
  }
  const secrets = devSecrets(dir);
  const kafkaBrokers = external ?? `127.0.0.1:${ports.kafka}`;
  const databaseUrl = env['DATABASE_URL'] || `${postgresServer(env)}/${secrets.DATABASE_NAME}`;
  const topic = env['REVOCATION_TOPIC'] || 'revocable.revocations';
  const services = planServices({
    ports: { auth: ports.auth, orders: ports.orders, profile: ports.profile },
    kafkaBrokers,
    // An external broker (KAFKA_BROKERS) is the operator's: its credentials come from their KAFKA_SASL_* variables.
    ...(external ? {} : { kafkaCredentials: secrets.KAFKA_CREDENTIALS }),
    databaseUrl,
    logLevel: env['LOG_LEVEL'] || 'info',
    secrets: {
      keyEncryptionKey: secrets.KEY_ENCRYPTION_KEY,
      adminToken: secrets.ADMIN_TOKEN,
      introspectionSecrets: { orders: secrets.ORDERS_CLIENT_SECRET, profile: secrets.PROFILE_CLIENT_SECRET },
    },
  });
  return {
    runDir: dir,
    kafka: external ? null : { port: ports.kafka, controllerPort: ports.kafkaController, dataDir: join(dir, 'kafka'), logFile: join(dir, 'kafka.log'), sasl: secrets.KAFKA_CREDENTIALS },
    topic,
    kafkaBrokers,
    databaseUrl,
    ownsDatabase: !env['DATABASE_URL'],
    services,
    secrets,
  };
}
