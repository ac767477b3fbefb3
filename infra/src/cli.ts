/**
 * `./infra/revocable <command>` after the bash bootstrap has provided Node 24 and pnpm.
 *   up      start Kafka (unless KAFKA_BROKERS), ensure the database, start auth, orders,
 *           profile, run the demo, leave everything running
 *   down    stop what `up` started (by pid)
 *   status  show what is running
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { InfraError, REPO_ROOT } from './kafka-broker.ts';
import { ensureDatabase, planCluster, runningPid, startKafkaIfNeeded, startService, stopAll, waitReady, RUN_DIR } from './cluster.ts';

const log = (line: string) => process.stdout.write(`${line}\n`);
const write = (s: string) => process.stdout.write(process.stdout.isTTY ? s : s.startsWith('\r  ✓') ? s.slice(1) : '');

async function up(): Promise<number> {
  const plan = planCluster();
  log('Starting the Revocable cluster');
  await startKafkaIfNeeded(plan, (line) => log(`  ${line}`));
  await ensureDatabase(plan.databaseUrl);
  log(`  PostgreSQL ready (${new URL(plan.databaseUrl).host})`);
  for (const service of plan.services) {
    startService(service);
    await waitReady(service.name, `http://127.0.0.1:${service.port}/readyz`, 90_000, write);
  }
  log('');
  const demo = spawnSync(process.execPath, [join(REPO_ROOT, 'test/demo/demo.ts')], {
    stdio: 'inherit',
    env: { ...process.env, AUTH_URL: plan.authUrl, ORDERS_URL: plan.ordersUrl, PROFILE_URL: plan.profileUrl },
  });
  log('');
  log(`The cluster keeps running. Logs: ${RUN_DIR}/*.log   Stop it: ./infra/revocable down`);
  return demo.status ?? 1;
}

async function status(): Promise<number> {
  for (const name of ['kafka', 'auth', 'orders', 'profile']) {
    const pid = runningPid(name);
    log(`${name.padEnd(8)} ${pid ? `running (pid ${pid})` : 'stopped'}`);
  }
  return 0;
}

const commands: Record<string, () => Promise<number>> = {
  up,
  down: async () => {
    await stopAll(log);
    return 0;
  },
  status,
};

const name = process.argv[2] ?? '';
const command = commands[name];
if (!command) {
  process.stderr.write(`usage: ./infra/revocable up|down|status|test|bench\n`);
  process.exit(2);
}
try {
  process.exitCode = await command();
} catch (error) {
  if (error instanceof InfraError) {
    process.stderr.write(`\nrevocable ${name}: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
