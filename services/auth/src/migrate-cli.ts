// `pnpm --filter @revocable/auth migrate`: applies pending migrations and exits.
import { runMigrations } from './migrate.ts';

const databaseUrl = process.env['DATABASE_URL'];
if (databaseUrl === undefined || databaseUrl.trim() === '') {
  process.stderr.write('DATABASE_URL: is required, e.g. postgres://postgres@127.0.0.1:5432/revocable_auth\n');
  process.exit(1);
}
try {
  const applied = await runMigrations(databaseUrl, {
    info: (m) => process.stdout.write(`${m}\n`),
    warn: (m) => process.stderr.write(`${m}\n`),
    error: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(applied.length === 0 ? 'no pending migrations\n' : `applied: ${applied.join(', ')}\n`);
} catch (error) {
  process.stderr.write(`migration failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
