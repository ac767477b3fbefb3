/**
 * The cluster plan: which processes run, on which ports, with which environment. One
 * function builds the services' environments for `up`, the tests and the benchmarks, so
 * they all run the same wiring; only the values (ports, topic, secrets, extra settings) differ.
 */
import { randomBytes } from 'node:crypto';
import { busClientEnv, type BusCredentials } from './kafka-security.ts';

/** The services a cluster runs, in start order (auth first: it creates the topic). */
export type ServiceName = 'auth' | 'orders' | 'profile';

/** Every service, in start order. */
export const SERVICE_NAMES: readonly ServiceName[] = ['auth', 'orders', 'profile'];

/** Secrets shared between the services of one cluster. */
export interface ClusterSecrets {
  /** 32 random bytes, base64: encrypts the signing keys at rest (auth `KEY_ENCRYPTION_KEY`). */
  keyEncryptionKey: string;
  /** Bearer token of the auth service's admin routes. */
  adminToken: string;
  /** RFC 7662 introspection secret of each resource service (client id = audience). */
  introspectionSecrets: Record<'orders' | 'profile', string>;
}

/** Fresh random {@link ClusterSecrets}. */
export function generateSecrets(): ClusterSecrets {
  return {
    keyEncryptionKey: randomBytes(32).toString('base64'),
    adminToken: randomBytes(32).toString('base64url'),
    introspectionSecrets: { orders: randomBytes(32).toString('base64url'), profile: randomBytes(32).toString('base64url') },
  };
}

/** One service process to run: `node services/<name>/src/server.ts` with `env` on top of the caller's. */
export interface ServicePlan {
  name: ServiceName;
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  env: Record<string, string>;
}

/** Input of {@link planServices}. */
export interface ServicesInput {
  ports: Record<ServiceName, number>;
  /** Kafka bootstrap servers, comma-separated `host:port`. */
  kafkaBrokers: string;
  /**
   * The SCRAM users of a secured broker: each service then authenticates as its own principal
   * (auth as `auth`, orders as `orders`, ...). Default: none (PLAINTEXT; each service warns once).
   */
  kafkaCredentials?: BusCredentials;
  /** The auth service's own database (it migrates it on start). */
  databaseUrl: string;
  secrets: ClusterSecrets;
  /** Revocation topic; default: the services' default (`revocable.revocations`). */
  topic?: string;
  /** `LOG_LEVEL` of every service. Default `info`. */
  logLevel?: string;
  /** Extra environment: `all` for every service, then each service's own entry (applied last). */
  extra?: Partial<Record<ServiceName | 'all', Record<string, string>>>;
}

/**
 * The environment of each service of one cluster on 127.0.0.1.
 *
 * @example
 * const services = planServices({ ports: { auth: 23000, orders: 23001, profile: 23002 },
 *   kafkaBrokers: '127.0.0.1:23092', databaseUrl, secrets: generateSecrets() });
 * services.orders.env.AUTH_URL; // 'http://127.0.0.1:23000'
 */
export function planServices(input: ServicesInput): Record<ServiceName, ServicePlan> {
  const url = (name: ServiceName) => `http://127.0.0.1:${input.ports[name]}`;
  const common: Record<string, string> = {
    HOST: '127.0.0.1',
    KAFKA_BROKERS: input.kafkaBrokers,
    LOG_LEVEL: input.logLevel ?? 'info',
    ...(input.topic ? { REVOCATION_TOPIC: input.topic } : {}),
  };
  const { secrets } = input;
  const kafka = (name: ServiceName): Record<string, string> => (input.kafkaCredentials ? busClientEnv(input.kafkaCredentials, name) : {});
  const env: Record<ServiceName, Record<string, string>> = {
    auth: {
      ...common,
      ...kafka('auth'),
      PORT: String(input.ports.auth),
      DATABASE_URL: input.databaseUrl,
      AUTH_ISSUER: url('auth'),
      AUDIENCES: 'orders,profile',
      KEY_ENCRYPTION_KEY: secrets.keyEncryptionKey,
      ADMIN_TOKEN: secrets.adminToken,
      INTROSPECTION_CLIENTS: `orders:${secrets.introspectionSecrets.orders},profile:${secrets.introspectionSecrets.profile}`,
      // Plain HTTP on loopback: a Secure cookie would never be sent back.
      COOKIE_SECURE: 'false',
    },
    orders: resource('orders'),
    profile: resource('profile'),
  };
  function resource(name: 'orders' | 'profile'): Record<string, string> {
    return {
      ...common,
      ...kafka(name),
      PORT: String(input.ports[name]),
      AUTH_URL: url('auth'),
      AUDIENCE: name,
      INTROSPECTION_CLIENT_ID: name,
      INTROSPECTION_CLIENT_SECRET: secrets.introspectionSecrets[name],
    };
  }
  const plans = {} as Record<ServiceName, ServicePlan>;
  for (const name of SERVICE_NAMES) {
    plans[name] = { name, port: input.ports[name], url: url(name), env: { ...env[name], ...input.extra?.all, ...input.extra?.[name] } };
  }
  return plans;
}
