import { randomUUID } from 'node:crypto';
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
