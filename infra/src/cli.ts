/**
 * `./infra/revocable <command>` after the bash bootstrap has provided Node.js 24:
 *   up [--no-demo]  check ports and prerequisites, start Kafka (unless KAFKA_BROKERS),
 *                   ensure the database, start auth, orders, profile, run the demo
 *   down            stop what `up` started (by recorded pid)
 *   status          what runs, on which port (and who else holds a port)
 *   reset           stop everything, drop the dev database, broker data, dev secrets, logs
 *   demo            run the demo against the running cluster
 *   compose-env     write infra/.env with generated compose secrets (once; never overwritten)
 * `status`, `down` and `compose-env` load no dependencies (they run before `pnpm install`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { devPorts, secretsFile, type DevSecrets } from './dev-plan.ts';
import { InfraError } from './errors.ts';
import { describeHolder, portHolder } from './ports.ts';
import { COMPONENTS, liveRecord, runDir, stopRecorded } from './state.ts';

// `status | head -1` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) stream.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' ? process.exit(0) : undefined));
const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);
const USAGE = 'usage: ./infra/revocable up [--no-demo]|down|status|reset|demo|compose-env|test|bench';

async function status(): Promise<number> {
  const dir = runDir();
  const ports = devPorts();
  const external = process.env['KAFKA_BROKERS'];
  const planned: Record<string, number> = { kafka: ports.kafka, auth: ports.auth, orders: ports.orders, profile: ports.profile };
  for (const name of COMPONENTS) {
    const record = liveRecord(dir, name);
    if (record) {
      out(`${name.padEnd(8)} running  pid ${record.pid}  ${name === 'kafka' ? `127.0.0.1:${record.port}` : `http://127.0.0.1:${record.port}`}`);
      continue;
    }
    if (name === 'kafka' && external) {
      out(`${name.padEnd(8)} not managed (KAFKA_BROKERS=${external})`);
      continue;
    }
    const holder = await portHolder(planned[name] ?? 0);
    out(`${name.padEnd(8)} stopped${holder ? `  (${describeHolder(holder, name)}, not this checkout's)` : ''}`);
  }
  return 0;
}

async function down(): Promise<number> {
  const stopped = await stopRecorded(runDir(), out);
  if (stopped.length === 0) out('nothing was running');
  return 0;
}

/**
 * Drops the dev data, without asking: stops the cluster, drops the database `up` created
 * (never one named by DATABASE_URL), deletes the run directory (broker data, dev secrets,
 * logs). The next `up` starts from nothing. PostgreSQL unreachable: nothing is deleted.
 */
async function reset(): Promise<number> {
  const dir = runDir();
  await stopRecorded(dir, out);
  const file = secretsFile(dir);
  if (existsSync(file)) {
    const { postgresServer } = await import('./dev-plan.ts');
    const { readFileSync } = await import('node:fs');
    const secrets = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>;
    if (secrets.DATABASE_NAME) {
      const { dropDatabase } = await import('./database.ts');
      const url = `${postgresServer()}/${secrets.DATABASE_NAME}`;
      out((await dropDatabase(url)) ? `dropped database ${secrets.DATABASE_NAME}` : `database ${secrets.DATABASE_NAME} did not exist`);
    }
  }
  if (process.env['DATABASE_URL']) out('DATABASE_URL is set: its database was not created by up and is left as it is');
  if (existsSync(dir)) {
    rmSync(dir, { recursive: true, force: true });
    out(`removed ${dir} (broker data, dev secrets, logs)`);
  }
  out('reset done: the next ./infra/revocable up starts from an empty database and topic');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [name = '', ...rest] = argv;
  switch (name) {
    case 'status':
      return status();
    case 'down':
      return down();
    case 'reset':
      return reset();
    case 'compose-env': {
      const { writeComposeEnv, COMPOSE_ENV_FILE } = await import('./compose-env.ts');
      const result = writeComposeEnv(COMPOSE_ENV_FILE);
      out(result.written ? `wrote ${result.path} (mode 600): the compose cluster's secrets; keep it, the signing keys in the postgres volume are encrypted with its KEY_ENCRYPTION_KEY` : result.added.length > 0 ? `${result.path} exists: kept its values and appended ${result.added.join(', ')}` : `${result.path} exists: kept as it is (delete it only together with the compose volumes)`);
      return 0;
    }
    case 'demo': {
      const ports = devPorts();
      const demo = spawnSync(process.execPath, [join(import.meta.dirname, 'demo.ts'), ...rest], {
        stdio: 'inherit',
        env: {
          ...process.env,
          AUTH_URL: `http://127.0.0.1:${ports.auth}`,
          ORDERS_URL: `http://127.0.0.1:${ports.orders}`,
          PROFILE_URL: `http://127.0.0.1:${ports.profile}`,
        },
      });
      return demo.status ?? 1;
    }
    case 'up': {
      const unknown = rest.filter((a) => a !== '--no-demo');
      if (unknown.length > 0) {
        err(`revocable up: unknown option ${unknown[0]}; ${USAGE}`);
        return 2;
      }
      const { up } = await import('./up.ts');
      return up({ out, err, ...(process.stdout.isTTY ? { tick: (s: string) => process.stdout.write(s) } : {}) }, { demo: !rest.includes('--no-demo') });
    }
    default:
      err(USAGE);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof InfraError)) throw error;
  err(`revocable ${process.argv[2]}: ${error.message}`);
  process.exitCode = 1;
}
