// Entry point: `node services/auth/src/server.ts`. Reads the environment, applies
// migrations (MIGRATE_ON_START, default true), listens, and shuts down gracefully; the
// lifecycle is the kit's, shared with the resource services.
import { runService } from '@revocable/kit';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';
import { isDbUnavailable } from './db.ts';

await runService({
  name: 'auth',
  loadConfig,
  buildApp: (config) => buildApp(config),
  // PostgreSQL may come up after us (compose, rolling restarts): wait for it, within a bound.
  startRetry: (config) => ({ retriable: isDbUnavailable, timeoutMs: config.startupTimeoutSeconds * 1000, waitingFor: 'database not reachable yet' }),
  shutdownTimeoutMs: 15_000,
  warnings: (config) => [config.kafkaSecurity.warning],
});
