/**
 * Set-up shared by the unit tests beside the code that need PostgreSQL: the app in-process
 * on a fresh database ({@link startTestApp}), or a migrated database with a pool on it
 * ({@link startTestPool}). Each call gets its own database; `close()` drops it.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AuthDeps } from './app.ts';
import { loadConfig } from './config.ts';
import { createPool, type Pool } from './db.ts';
import { runMigrations } from './migrate.ts';
import { createScratchDatabase } from './test-database.ts';

/**
 * Builds the app on a fresh database `revocable_<name>_…` and waits until it is ready. `env`
 * goes over the defaults (a random key-encryption key, cheap scrypt, generous rate limits);
 * `deps` over `{ logger: false, relay: false }`.
 */
export async function startTestApp(name: string, env: Record<string, string> = {}, deps: AuthDeps = {}): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const db = await createScratchDatabase(`revocable_${name}`);
  try {
    const config = loadConfig({
      DATABASE_URL: db.url,
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      PASSWORD_SCRYPT_COST: '10',
      LOGIN_RATE_LIMIT_PER_IP: '100000',
      RATE_LIMIT_PER_IP: '100000',
      ...env,
    });
    const app = await buildApp(config, { logger: false, relay: false, ...deps });
    try {
      await app.ready();
    } catch (error) {
      await app.close().catch(() => {});
      throw error;
    }
    return {
      app,
      async close() {
        await app.close();
        await db.drop();
      },
    };
  } catch (error) {
    await db.drop().catch(() => {});
    throw error;
  }
}

/** A fresh database `revocable_<name>_…` with every migration applied, and a pool of `max` connections on it. */
export async function startTestPool(name: string, max: number): Promise<{ url: string; pool: Pool; close(): Promise<void> }> {
  const db = await createScratchDatabase(`revocable_${name}`);
  try {
    await runMigrations(db.url);
  } catch (error) {
    await db.drop().catch(() => {});
    throw error;
  }
  const pool = createPool({ connectionString: db.url, max, connectTimeoutMs: 2000, statementTimeoutMs: 5000, onIdleError: () => {} });
  return {
    url: db.url,
    pool,
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}
