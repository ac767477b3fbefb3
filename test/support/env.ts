import { randomBytes, randomUUID } from 'node:crypto';
import { createTransport, type EventTransport, type TransportOptions } from '@revocable/events';
import { busClientEnv, busSasl, grantBusAcls, type BusCredentials, type BusPrincipal } from '@revocable/infra';
import { inject } from 'vitest';
import { createDatabase } from './database.ts';
import { SUITE_KAFKA_CREDENTIALS_ENV, suiteKafkaCredentials } from './suite-kafka.ts';

/** Kafka bootstrap servers resolved by the global setup. */
export function kafkaBrokers(): string[] {
  return (process.env['KAFKA_BROKERS'] ?? inject('kafkaBrokers')).split(',');
}

let credentials: BusCredentials | null | undefined;

/**
 * The SCRAM users of the suite's broker (the global setup starts it secured: SASL/SCRAM-SHA-512,
 * ACLs), or null when the broker was given (`KAFKA_BROKERS`) or came from testcontainers.
 */
export function kafkaCredentials(): BusCredentials | null {
  credentials ??= suiteKafkaCredentials(process.env[SUITE_KAFKA_CREDENTIALS_ENV] ?? inject('kafkaCredentials'));
  return credentials;
}

/**
 * The service environment that reaches the suite's broker as `principal`: `KAFKA_BROKERS` and,
 * on the secured broker, `KAFKA_SASL_MECHANISM`/`KAFKA_USERNAME`/`KAFKA_PASSWORD`. Tests act as
 * the operator, so the default is the `admin` super user (no ACL needed); a principal with ACLs
 * needs {@link grantTopic} first.
 */
export function kafkaEnv(principal: BusPrincipal = 'admin'): Record<string, string> {
  const secured = kafkaCredentials();
  return { KAFKA_BROKERS: kafkaBrokers().join(','), ...(secured ? busClientEnv(secured, principal) : {}) };
}

/** `sasl` connection option for `principal` on the suite's broker (none when it is not secured). */
export function kafkaSasl(principal: BusPrincipal = 'admin'): Pick<TransportOptions, 'sasl'> {
  const secured = kafkaCredentials();
  return secured ? { sasl: busSasl(secured, principal) } : {};
}

/** A transport to the suite's broker as the `admin` super user (the tests' own reads, writes, topics). */
export function testTransport(clientId: string, options: Partial<TransportOptions> = {}): EventTransport {
  return createTransport({ brokers: kafkaBrokers(), clientId, ...kafkaSasl(), ...options });
}

/** Grants the ACLs of a revocation topic (and its receipts topic) to the principals, as `up` does. No-op on a broker that is not secured. */
export async function grantTopic(topic: string): Promise<void> {
  const secured = kafkaCredentials();
  if (secured) await grantBusAcls(kafkaBrokers(), secured, topic);
}

/** PostgreSQL URL resolved by the global setup (an admin connection to an existing database). */
export function databaseUrl(): string {
  return process.env['DATABASE_URL'] ?? inject('databaseUrl');
}

/**
 * The auth service's environment in a test: its database, the suite's brokers, a fresh
 * key-encryption key, cheap scrypt, and per-IP limits no test reaches. `overrides` go over it
 * (the topic, issuer, tokens and intervals each test chooses).
 */
export function authEnv(databaseUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    ...kafkaEnv(),
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    PASSWORD_SCRYPT_COST: '10',
    LOGIN_RATE_LIMIT_PER_IP: '1000000',
    RATE_LIMIT_PER_IP: '10000000',
    ...overrides,
  };
}

/** A topic name no other test uses. */
export function uniqueTopic(prefix = 'test'): string {
  return `${prefix}.${randomUUID()}`;
}

/** A fresh database for one test file (see {@link createDatabase}). */
export function createTestDatabase(prefix = 'revocable_test'): Promise<{ url: string; drop: () => Promise<void> }> {
  return createDatabase(databaseUrl(), prefix);
}

/** Polls `probe` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 15_000, intervalMs = 25, what = 'condition' }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
