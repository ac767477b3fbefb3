import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Pool } from './db.ts';

/** Directory of the SQL migrations (node-pg-migrate format). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
/** Table node-pg-migrate records applied migrations in. */
export const MIGRATIONS_TABLE = 'pgmigrations';

export interface MigrationLogger {
  info: (msg: string) => void;
  warn: (msg: string) => void;
  error: (msg: string) => void;
}

/**
 * Applies every pending migration. node-pg-migrate holds an advisory lock while it runs,
 * so several instances starting at once apply each migration exactly once.
 */
export async function runMigrations(databaseUrl: string, logger?: MigrationLogger): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    count: Infinity,
    checkOrder: true,
    singleTransaction: true,
    // Several instances may start at once: the others wait for the first, then find nothing to do.
    advisoryLockMode: 'wait',
    verbose: false,
    logger: logger ?? { info: () => {}, warn: () => {}, error: () => {} },
  });
  return applied.map((m) => m.name);
}

/** Names of the migrations shipped with this build, in order. */
export async function expectedMigrations(): Promise<string[]> {
  const files = await readdir(MIGRATIONS_DIR);
  return files
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.slice(0, -'.sql'.length))
    .sort();
}

/** True when every shipped migration is recorded as applied in the database. */
export async function migrationsApplied(pool: Pool, expected: readonly string[]): Promise<boolean> {
  const exists = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [MIGRATIONS_TABLE]);
  if (exists.rows[0]?.t == null) return false;
  const { rows } = await pool.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`);
  const done = new Set(rows.map((r) => r.name));
  return expected.every((name) => done.has(name));
}
