import { randomBytes, randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createDatabase } from './database.ts';

/** Kafka bootstrap servers resolved by the global setup. */
export function kafkaBrokers(): string[] {
  return (process.env['KAFKA_BROKERS'] ?? inject('kafkaBrokers')).split(',');
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
    KAFKA_BROKERS: kafkaBrokers().join(','),
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
