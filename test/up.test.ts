/**
 * `./infra/revocable up` never lies: each case runs the real CLI (`node infra/src/cli.ts`)
 * as a separate process, each with its own run directory (a second checkout is a second
 * REVOCABLE_RUN_DIR) and its own ports in 23000-23999, and asserts the one-line message and
 * that nothing is left running (recorded pids gone, ports free).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { portHolder } from '@revocable/infra';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, waitFor } from './support/env.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'infra/src/cli.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** Five ports in this project's test range (23000-23999) that nothing listens on. */
/** A scratch directory with `bin/node` only (a PATH without java, mvn…), removed after the test. */
function scratchBin(name: string): string {
  const bin = mkdtempSync(join(tmpdir(), `revocable-${name}-`));
  cleanups.push(async () => rmSync(bin, { recursive: true, force: true }));
  mkdirSync(join(bin, 'bin'));
  symlinkSync(process.execPath, join(bin, 'bin', 'node'));
  return bin;
}

async function freePorts(): Promise<{ KAFKA_PORT: string; KAFKA_CONTROLLER_PORT: string; AUTH_PORT: string; ORDERS_PORT: string; PROFILE_PORT: string }> {
  const picked: number[] = [];
  while (picked.length < 5) {
    const port = 23000 + Math.floor(Math.random() * 1000);
    if (picked.includes(port) || (await portHolder(port)) !== null) continue;
    const bindable = await new Promise<boolean>((done) => {
      const server = createTcpServer();
      server.once('error', () => done(false));
      server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
    });
    if (bindable) picked.push(port);
  }
  const [k, c, a, o, p] = picked.map(String) as [string, string, string, string, string];
  return { KAFKA_PORT: k, KAFKA_CONTROLLER_PORT: c, AUTH_PORT: a, ORDERS_PORT: o, PROFILE_PORT: p };
}

/** A checkout's state: its own run directory and database; `down` + drop after the file. */
async function checkout(name: string): Promise<{ runDir: string; env: Record<string, string> }> {
  const runDir = mkdtempSync(join(tmpdir(), `revocable-up-${name}-`));
  const database = await createTestDatabase('revocable_up');
  cleanups.push(async () => {
    await cli(['down'], { REVOCABLE_RUN_DIR: runDir });
    rmSync(runDir, { recursive: true, force: true });
    await database.drop();
  });
  return { runDir, env: { REVOCABLE_RUN_DIR: runDir, DATABASE_URL: database.url } };
}

function start(args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<Run> } {
  const base = { ...process.env };
  // The test runner's broker and database must not leak into a checkout: each names its own.
  delete base['KAFKA_BROKERS'];
  delete base['DATABASE_URL'];
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...base, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done };
}

function cli(args: string[], env: Record<string, string>): Promise<Run> {
  return start(args, env).done;
}

/** Pids recorded in a run directory (`<name>.json`). */
function recorded(runDir: string): Record<string, number> {
  if (!existsSync(runDir)) return {};
  return Object.fromEntries(
    readdirSync(runDir)
      .filter((f) => ['kafka.json', 'auth.json', 'orders.json', 'profile.json'].includes(f))
      .map((f) => [f.slice(0, -5), (JSON.parse(readFileSync(join(runDir, f), 'utf8')) as { pid: number }).pid]),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function expectNothingRunning(runDir: string, ports: Record<string, string>, pids: number[] = []): Promise<void> {
  expect(recorded(runDir)).toEqual({});
  for (const pid of pids) expect(alive(pid), `pid ${pid} still runs`).toBe(false);
  for (const port of Object.values(ports)) expect(await portHolder(Number(port)), `port ${port} still held`).toBeNull();
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim().length > 0);

describe('up', () => {
  it('a second checkout on the same ports names each port and its holder, starts nothing, and the first keeps running', { timeout: 420_000 }, async () => {
    const ports = await freePorts();
    const first = await checkout('first');
    const second = await checkout('second');

    const upFirst = await cli(['up', '--no-demo'], { ...first.env, ...ports });
    expect(upFirst.stderr).toBe('');
    expect(upFirst.code).toBe(0);
    const pids = recorded(first.runDir);
    expect(Object.keys(pids).sort()).toEqual(['auth', 'kafka', 'orders', 'profile']);
    expect((await portHolder(Number(ports.AUTH_PORT)))?.pid).toBe(pids['auth']);
    expect((await portHolder(Number(ports.KAFKA_PORT)))?.pid).toBe(pids['kafka']);
    // The broker is secured (SASL/SCRAM-SHA-512 + ACLs) and every service authenticates: none warns at start.
    expect(upFirst.stdout).toContain('SASL/SCRAM-SHA-512 with the ACLs of revocable.revocations');
    for (const name of ['auth', 'orders', 'profile']) {
      const log = readFileSync(join(first.runDir, `${name}.log`), 'utf8');
      expect(log, `${name}.log`).not.toMatch(/warning/i);
      expect(log, `${name}.log`).not.toMatch(/"level":(40|50)/);
    }

    const upSecond = await cli(['up', '--no-demo'], { ...second.env, ...ports });
    expect(upSecond.code).toBe(1);
    const roles: Array<[keyof typeof ports, string, string]> = [
      ['KAFKA_PORT', 'Kafka', 'kafka'],
      ['KAFKA_CONTROLLER_PORT', 'Kafka controller', 'kafka'],
      ['AUTH_PORT', 'auth', 'auth'],
      ['ORDERS_PORT', 'orders', 'orders'],
      ['PROFILE_PORT', 'profile', 'profile'],
    ];
    expect(lines(upSecond.stderr)).toEqual([
      ...roles.map(([variable, role, owner]) =>
        expect.stringMatching(new RegExp(`^revocable up: port ${ports[variable]} \\(${role}\\) is held by pid ${pids[owner]}: .*; stop it or set ${variable} to a free port$`)),
      ),
      'revocable up: nothing was started',
    ]);
    expect(upSecond.stdout).not.toMatch(/ready|✓/);
    expect(recorded(second.runDir)).toEqual({});
    // The first checkout's processes still hold every port.
    expect((await portHolder(Number(ports.AUTH_PORT)))?.pid).toBe(pids['auth']);

    // The second checkout's status tells the truth: nothing of its own runs, the ports are taken.
    const statusSecond = await cli(['status'], second.env);
    expect(statusSecond.code).toBe(0);
    expect(lines(statusSecond.stdout).every((l) => /^\w+\s+stopped/.test(l))).toBe(true);
    const statusFirst = await cli(['status'], { ...first.env, ...ports });
    expect(statusFirst.stdout).toContain(`auth     running  pid ${pids['auth']}  http://127.0.0.1:${ports.AUTH_PORT}`);

    // Same settings again: kept. A changed setting: reported and applied by restarting what it concerns.
    const again = await cli(['up', '--no-demo'], { ...first.env, ...ports });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`auth     already running (pid ${pids['auth']}), same settings`);
    expect(recorded(first.runDir)).toEqual(pids);
    const changed = await cli(['up', '--no-demo'], { ...first.env, ...ports, LOG_LEVEL: 'warn' });
    expect(changed.code).toBe(0);
    for (const name of ['auth', 'orders', 'profile']) {
      expect(changed.stdout).toContain(`${name} (pid ${pids[name]}) runs with other settings (changed: LOG_LEVEL): restarting it`);
    }
    const after = recorded(first.runDir);
    expect(after['kafka']).toBe(pids['kafka']);
    expect(after['auth']).not.toBe(pids['auth']);
    expect(alive(pids['auth'] ?? -1)).toBe(false);

    const down = await cli(['down'], first.env);
    expect(down.code).toBe(0);
    expect(lines(down.stdout)).toEqual(['profile', 'orders', 'auth', 'kafka'].map((n) => `stopped ${n} (pid ${after[n]})`));
    await expectNothingRunning(first.runDir, ports, Object.values(after));
  });

  it('a port held by another server (HTTP answering /readyz, or a bare TCP listener) is named before anything starts', { timeout: 120_000 }, async () => {
    const ports = await freePorts();
    const { runDir, env } = await checkout('held');
    const http = createHttpServer((_request, response) => response.end('ok'));
    const tcp: Server = createTcpServer((socket) => socket.destroy());
    await new Promise<void>((r) => http.listen(Number(ports.AUTH_PORT), '127.0.0.1', r));
    await new Promise<void>((r) => tcp.listen(Number(ports.KAFKA_PORT), '127.0.0.1', r));
    try {
      const run = await cli(['up', '--no-demo'], { ...env, ...ports });
      expect(run.code).toBe(1);
      expect(lines(run.stderr)).toEqual([
        expect.stringMatching(new RegExp(`^revocable up: port ${ports.KAFKA_PORT} \\(Kafka\\) is held by pid ${process.pid}: .*; stop it or set KAFKA_PORT to a free port$`)),
        expect.stringMatching(new RegExp(`^revocable up: port ${ports.AUTH_PORT} \\(auth\\) is held by pid ${process.pid}: .*; stop it or set AUTH_PORT to a free port$`)),
        'revocable up: nothing was started',
      ]);
      expect(run.stdout).not.toMatch(/ready|Kafka 3\.9/);
    } finally {
      await new Promise((r) => http.close(r));
      await new Promise((r) => tcp.close(r));
    }
    await expectNothingRunning(runDir, ports);
  });

  it('Ctrl-C while Kafka starts stops the broker it already spawned (its pid was recorded at once)', { timeout: 180_000 }, async () => {
    const ports = await freePorts();
    const { runDir, env } = await checkout('interrupt');
    const { child, done } = start(['up', '--no-demo'], { ...env, ...ports });
    const pids = await waitFor(() => (recorded(runDir)['kafka'] ? recorded(runDir) : undefined), { timeoutMs: 120_000, intervalMs: 20, what: 'the broker pid in the run directory' });
    child.kill('SIGINT');
    const run = await done;
    expect(run.code).toBe(130);
    const message = lines(run.stderr).at(-1) ?? '';
    expect(message).toMatch(/^revocable up: interrupted \(SIGINT\); stopped .*kafka \(pid \d+\)$/);
    expect(message).toContain(`kafka (pid ${pids['kafka']})`);
    await expectNothingRunning(runDir, ports, Object.values(recorded(runDir)).concat(Object.values(pids)));
    // And the next status agrees.
    const status = await cli(['status'], { ...env, ...ports });
    expect(lines(status.stdout)).toEqual(['kafka', 'auth', 'orders', 'profile'].map((n) => `${n.padEnd(8)} stopped`));
  });

  it('without Java on PATH it says so in one line with the fix and starts nothing', { timeout: 60_000 }, async () => {
    const ports = await freePorts();
    const { runDir, env } = await checkout('nojava');
    const bin = scratchBin('nojava');
    const run = await cli(['up', '--no-demo'], { ...env, ...ports, PATH: join(bin, 'bin') });
    expect(run.code).toBe(1);
    const errors = lines(run.stderr);
    expect(errors).toContain('revocable up: java not found on PATH (the Kafka broker needs it): install Java 17+ (e.g. apt-get install -y openjdk-17-jre-headless) or set KAFKA_BROKERS to a running broker');
    expect(errors.at(-1)).toBe('revocable up: nothing was started');
    expect(errors.every((l) => l.startsWith('revocable up: '))).toBe(true);
    expect(run.stderr).not.toMatch(/Unhandled|ENOENT|TypeError|at /);
    await expectNothingRunning(runDir, ports);
  });

  it('without Maven (and no cached Kafka jars) or without PostgreSQL: one line each with the fix, nothing started', { timeout: 60_000 }, async () => {
    const ports = await freePorts();
    const { runDir, env } = await checkout('noprereq');
    const bin = scratchBin('nomvn');
    mkdirSync(join(bin, 'libs'));
    const java = ['/usr/bin/java', ...(process.env['JAVA_HOME'] ? [join(process.env['JAVA_HOME'], 'bin/java')] : [])].find((p) => existsSync(p));
    expect(java, 'java is installed on this machine').toBeDefined();
    symlinkSync(java ?? '', join(bin, 'bin', 'java'));
    // A port nothing listens on stands for a PostgreSQL server that is not running.
    const closed = Number((await freePorts()).KAFKA_PORT);
    const deadDatabase = `postgres://postgres@127.0.0.1:${closed}/revocable_nowhere`;
    const run = await cli(['up', '--no-demo'], { ...env, ...ports, PATH: join(bin, 'bin'), KAFKA_LIBS_DIR: join(bin, 'libs'), DATABASE_URL: deadDatabase });
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      'revocable up: mvn not found on PATH (needed once, to fetch the Kafka jars from Maven Central): install Maven (e.g. apt-get install -y maven) or set KAFKA_BROKERS to a running broker',
      expect.stringMatching(new RegExp(`^revocable up: PostgreSQL at 127\\.0\\.0\\.1:${closed} does not answer \\(.*ECONNREFUSED.*\\): start it \\(.*\\) or set DATABASE_URL$`)),
      'revocable up: nothing was started',
    ]);
    expect(run.stderr).not.toMatch(/Unhandled|TypeError|\n\s+at /);
    await expectNothingRunning(runDir, ports);
  });

  it("a service's configuration error is its one line, not old log lines, and what started is stopped", { timeout: 120_000 }, async () => {
    const ports = await freePorts();
    const { runDir, env } = await checkout('config');
    // An existing broker: this case is about the services.
    const brokers = process.env['KAFKA_BROKERS'] ?? '';
    expect(brokers).not.toBe('');
    for (let attempt = 0; attempt < 2; attempt++) {
      const run = await cli(['up', '--no-demo'], { ...env, ...ports, KAFKA_BROKERS: brokers, ACCESS_TTL_SECONDS: 'banana' });
      expect(run.code).toBe(1);
      expect(lines(run.stderr)).toEqual([
        expect.stringMatching(/^revocable up: auth: configuration error: ACCESS_TTL_SECONDS\b.+$/),
        expect.stringMatching(/^revocable up: stopped auth \(pid \d+\)$/),
      ]);
      await expectNothingRunning(runDir, { AUTH_PORT: ports.AUTH_PORT, ORDERS_PORT: ports.ORDERS_PORT, PROFILE_PORT: ports.PROFILE_PORT });
    }
    // The log file does hold both runs: the message came from this run's output only.
    expect(readFileSync(join(runDir, 'auth.log'), 'utf8').match(/configuration error/g)).toHaveLength(2);
  });

  it('a bad port setting is one line naming the variable', async () => {
    const { env } = await checkout('badport');
    const run = await cli(['up', '--no-demo'], { ...env, AUTH_PORT: '70000' });
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual(['revocable up: AUTH_PORT must be a TCP port (1-65535), got "70000"']);
  });
});

describe('reset', () => {
  it('stops the cluster, drops the database up created and removes the run directory (broker data, dev secrets, logs)', { timeout: 60_000 }, async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'revocable-up-reset-'));
    cleanups.push(async () => rmSync(runDir, { recursive: true, force: true }));
    // The state a first `up` leaves: dev secrets naming the database it created, broker data, a log.
    const database = await createTestDatabase('revocable_up_reset');
    cleanups.push(() => database.drop());
    const name = new URL(database.url).pathname.slice(1);
    const server = new URL(database.url);
    server.pathname = '';
    writeFileSync(join(runDir, 'secrets.json'), JSON.stringify({ DATABASE_NAME: name }));
    mkdirSync(join(runDir, 'kafka', 'log'), { recursive: true });
    writeFileSync(join(runDir, 'auth.log'), 'old\n');
    const base = { REVOCABLE_RUN_DIR: runDir, POSTGRES_URL: server.toString() };

    const run = await cli(['reset'], base);
    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toEqual([
      `dropped database ${name}`,
      `removed ${runDir} (broker data, dev secrets, logs)`,
      'reset done: the next ./infra/revocable up starts from an empty database and topic',
    ]);
    expect(existsSync(runDir)).toBe(false);
    expect(await databaseExists(database.url)).toBe(false);
  });

  it('never drops a database named by DATABASE_URL', { timeout: 60_000 }, async () => {
    const { runDir, env } = await checkout('reset-url');
    writeFileSync(join(runDir, 'auth.log'), 'old\n');
    const run = await cli(['reset'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('DATABASE_URL is set: its database was not created by up and is left as it is');
    expect(existsSync(runDir)).toBe(false);
    expect(await databaseExists(env['DATABASE_URL'] ?? '')).toBe(true);
  });
});

async function databaseExists(url: string): Promise<boolean> {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}
