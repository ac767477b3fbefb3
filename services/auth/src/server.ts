// Entry point: `node services/auth/src/server.ts`. Reads the environment, applies
// migrations (MIGRATE_ON_START, default true), listens, and shuts down gracefully.
import { buildApp } from './app.ts';
import { ConfigError, loadConfig, type AuthConfig } from './config.ts';

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

let app: Awaited<ReturnType<typeof buildApp>>;
try {
  app = await buildApp(config);
} catch (error) {
  const code = (error as { code?: unknown }).code;
  process.stderr.write(`auth: failed to start: ${typeof code === 'string' ? `${code} ` : ''}${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
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
