// Entry point: `node services/auth/src/server.ts`. Reads the environment, applies
// migrations (MIGRATE_ON_START, default true), listens, and shuts down gracefully.
import { buildApp } from './app.ts';
import { ConfigError, loadConfig, type AuthConfig } from './config.ts';
import { isDbUnavailable } from './db.ts';

let config: AuthConfig;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`auth: configuration error: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

// PostgreSQL may come up after us (compose, rolling restarts): wait for it, within a bound.
const startDeadline = Date.now() + config.startupTimeoutSeconds * 1000;
let app: Awaited<ReturnType<typeof buildApp>>;
for (;;) {
  try {
    app = await buildApp(config);
    break;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const line = `${typeof code === 'string' ? `${code} ` : ''}${error instanceof Error ? error.message : String(error)}`;
    if (isDbUnavailable(error) && Date.now() < startDeadline) {
      process.stderr.write(`auth: database not reachable yet (${line}); retrying\n`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    process.stderr.write(`auth: failed to start: ${line}\n`);
    process.exit(1);
  }
}

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    app.log.error('graceful shutdown timed out');
    process.exit(1);
  }, 15_000);
  force.unref();
  try {
    await app.close();
    process.exit(0);
  } catch (error) {
    app.log.error({ err: error }, 'error during shutdown');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

try {
  await app.listen({ port: config.port, host: config.host });
} catch (error) {
  app.log.error({ err: error }, 'failed to listen');
  process.exit(1);
}
