/** PostgreSQL set-up of the dev cluster: create its database if missing, drop it on `reset`. */
import pg from 'pg';
import { InfraError } from './errors.ts';

function adminUrl(url: string): string {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  return admin.toString();
}

async function connect(url: string): Promise<pg.Client> {
  const target = new URL(url);
  const client = new pg.Client({ connectionString: adminUrl(url), connectionTimeoutMillis: 5000 });
  // A dropped connection must not become an unhandled 'error' event.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (error) {
    const e = error as { code?: string; message?: string };
    const why = e.message || e.code || 'no answer';
    throw new InfraError(
      'ERR_POSTGRES_UNAVAILABLE',
      `PostgreSQL at ${target.host} does not answer (${why}): start it (e.g. pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start, or apt-get install -y postgresql) or set DATABASE_URL`,
    );
  }
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Creates the database of `url` if it does not exist (connecting to the server's `postgres` database). */
export async function ensureDatabase(url: string): Promise<'created' | 'existing'> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const client = await connect(url);
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount !== 0) return 'existing';
    await client.query(`CREATE DATABASE ${quote(name)}`);
    return 'created';
  } finally {
    await client.end();
  }
}

/** Drops the database of `url` (closing its connections); false when it did not exist. */
export async function dropDatabase(url: string): Promise<boolean> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const client = await connect(url);
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) return false;
    await client.query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`);
    return true;
  } finally {
    await client.end();
  }
}
