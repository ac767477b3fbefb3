import { randomUUID } from 'node:crypto';
import pg from 'pg';

/**
 * For tests (the unit tests beside the code and, through `@revocable/auth/testing`, the
 * cross-process ones): an empty database on the server behind `adminUrl` (default
 * DATABASE_URL, else the local PostgreSQL), and a function that drops it, so suites never see
 * each other's rows. Migrations are the caller's, so upgrade tests can start from an older schema.
 *
 * @example const db = await createScratchDatabase('auth_test'); try { … } finally { await db.drop(); }
 */
export async function createScratchDatabase(
  prefix: string,
  adminUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
