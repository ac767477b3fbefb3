// The publishable packages as an adopter gets them: build every package to dist/, `pnpm pack`
// each, install the tarballs with plain npm into a scratch project OUTSIDE the workspace,
// type-check it with a standard `module: nodenext` tsconfig, and run a Fastify service with
// the plugin on plain Node.js (compiled .js, type stripping off) against the real auth
// service and broker: a valid token is served, a logged-out one refused. Then the same with
// the oldest fastify 5 release the peer range allows.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { databaseUrl, kafkaBrokers, kafkaEnv, waitFor } from './support/env.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Shared across runs, so a second run installs from the cache (`--prefer-offline`). */
const NPM_CACHE = join(ROOT, 'infra/.cache/npm');
/** The oldest release `^5.0.0` (the peer range of @revocable/fastify) allows. */
const OLDEST_FASTIFY = '5.0.0';
/** An npm install plus a full type-check (skipLibCheck off) on a busy 2-core machine. */
const TEST_TIMEOUT_MS = 300_000;

interface Packed {
  name: string;
  dir: string;
  tarball: string;
  manifest: Record<string, unknown>;
  files: string[];
}

let scratch: string;
let cluster: Cluster;
const packed: Packed[] = [];
const services: ChildProcess[] = [];

/** The environment for npm: none of pnpm's npm_config_* settings, the shared cache. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_|^pnpm_/i.test(key)) env[key] = value;
  }
  return { ...env, npm_config_cache: NPM_CACHE, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

async function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
}

async function publishable(): Promise<string[]> {
  const dirs: string[] = [];
  for (const name of (await readdir(join(ROOT, 'packages'))).sort()) {
    const file = join(ROOT, 'packages', name, 'package.json');
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(await readFile(file, 'utf8')) as { private?: boolean };
    if (manifest.private !== true) dirs.push(join(ROOT, 'packages', name));
  }
  return dirs;
}

const SERVICE_TS = `import Fastify from 'fastify';
import { createKafkaTransport } from '@revocable/events';
import { revocable, type RevocableOptions } from '@revocable/fastify';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(name + ' is required');
  return value;
};
const authUrl = env('AUTH_URL');
const options: RevocableOptions = {
  issuer: authUrl,
  audience: 'orders',
  jwksUrl: authUrl + '/.well-known/jwks.json',
  transport: createKafkaTransport({
    brokers: env('KAFKA_BROKERS').split(','),
    clientId: 'adopter-service',
    // The broker is secured (SASL/SCRAM-SHA-512): authenticate as this service's principal.
    ...(process.env['KAFKA_USERNAME'] ? { sasl: { mechanism: 'SCRAM-SHA-512' as const, username: env('KAFKA_USERNAME'), password: env('KAFKA_PASSWORD') } } : {}),
  }),
  topic: env('REVOCATION_TOPIC'),
};
const app = Fastify();
await app.register(revocable, options);
app.get('/whoami', async (request) => {
  // request.auth is the plugin's typed decorator: this line only compiles if the
  // installed @revocable/fastify augments the installed fastify.
  const auth = request.auth;
  if (auth === null) throw new Error('unreachable: the route is protected');
  return { sub: auth.claims.sub, sid: auth.claims.sid };
});
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(JSON.stringify({ address }) + '\\n');
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void app.close().then(() => process.exit(0)));
`;

/**
 * Every packed package's public surface, type-checked as the adopter sees it: a namespace
 * import of each (with skipLibCheck off, every declaration file they reach is checked).
 */
function surfaceTs(names: readonly string[]): string {
  const imports = names.map((name, i) => `import * as pkg${i} from '${name}';`).join('\n');
  return `${imports}\nexport const surfaces = [${names.map((_, i) => `pkg${i}`).join(', ')}];\n`;
}

const TSCONFIG = {
  compilerOptions: {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    strict: true,
    outDir: 'out',
    rootDir: 'src',
    types: ['node'],
    lib: ['es2022', 'dom'],
    skipLibCheck: false,
  },
  include: ['src'],
};

beforeAll(async () => {
  // 1. Build and pack every publishable package.
  await sh(process.execPath, ['scripts/build-packages.ts'], ROOT);
  scratch = await mkdtemp(join(tmpdir(), 'revocable-adopter-'));
  const tarballs = join(scratch, 'tarballs');
  await mkdir(tarballs);
  for (const dir of await publishable()) {
    const before = new Set(await readdir(tarballs));
    await sh('pnpm', ['pack', '--pack-destination', tarballs], dir);
    const tarball = (await readdir(tarballs)).find((f) => !before.has(f));
    if (tarball === undefined) throw new Error(`pnpm pack wrote no tarball for ${dir}`);
    const path = join(tarballs, tarball);
    const files = (await sh('tar', ['-tzf', path], scratch)).trim().split('\n');
    const manifest = JSON.parse(await sh('tar', ['-xOzf', path, 'package/package.json'], scratch)) as Record<string, unknown>;
    packed.push({ name: String(manifest['name']), dir, tarball: path, manifest, files });
  }

  // 2. A scratch project outside the workspace, plain npm.
  const project = join(scratch, 'service');
  await mkdir(join(project, 'src'), { recursive: true });
  const rootManifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify(
      {
        name: 'adopter-service',
        private: true,
        type: 'module',
        dependencies: Object.fromEntries([...packed.map((p) => [p.name, `file:${p.tarball}`]), ['fastify', '5.12.8']]),
        devDependencies: { typescript: rootManifest.devDependencies['typescript'], '@types/node': rootManifest.devDependencies['@types/node'] },
      },
      null,
      2,
    ),
  );
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  await writeFile(join(project, 'src/service.ts'), SERVICE_TS);
  await writeFile(join(project, 'src/surface.ts'), surfaceTs(packed.map((p) => p.name)));
  await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], project, npmEnv());

  // 3. The real auth service and broker.
  cluster = await startCluster({ kafkaBrokers: kafkaBrokers(), databaseUrl: databaseUrl(), services: ['auth'] });
}, 600_000);

afterAll(async () => {
  for (const child of services) child.kill('SIGKILL');
  await cluster?.stop();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

/** Type-checks and compiles the scratch service, runs it on plain Node.js, checks it serves and refuses, stops it. */
async function compilesAndServes(): Promise<void> {
  await typeCheckAndCompile();
  const address = await startService();
  try {
    await servesAndRefuses(address);
  } finally {
    await stopService();
  }
}

/** Compiles the scratch project with its own tsc (nodenext); throws with tsc's output on errors. */
async function typeCheckAndCompile(): Promise<void> {
  const project = join(scratch, 'service');
  await rm(join(project, 'out'), { recursive: true, force: true });
  await sh(process.execPath, [join(project, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project);
}

/** Starts out/service.js on plain Node.js (type stripping off), resolves with its URL. */
async function startService(): Promise<string> {
  const project = join(scratch, 'service');
  const child = spawn(process.execPath, ['--no-experimental-strip-types', 'out/service.js'], {
    cwd: project,
    env: { ...process.env, AUTH_URL: cluster.authUrl, ...kafkaEnv(), REVOCATION_TOPIC: cluster.topic, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  services.push(child);
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const address = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}:\n${output}`);
      const line = output.split('\n').find((l) => l.startsWith('{"address"'));
      return line === undefined ? undefined : (JSON.parse(line) as { address: string }).address;
    },
    { timeoutMs: 60_000, what: 'the adopter service to listen' },
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${output}`);
  });
  await waitFor(async () => (await fetch(`${address}/readyz`)).status === 200, { timeoutMs: 60_000, what: 'the adopter service /readyz (topic replayed)' });
  return address;
}

async function stopService(): Promise<void> {
  const child = services.pop();
  if (child === undefined || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

let userCount = 0;
async function loginToken(): Promise<string> {
  userCount += 1;
  const email = `adopter-${userCount}-${Date.now()}@example.com`;
  const password = 'correct horse battery staple';
  const json = { 'content-type': 'application/json' };
  const registered = await fetch(`${cluster.authUrl}/v1/users`, { method: 'POST', headers: json, body: JSON.stringify({ email, password }) });
  expect(registered.status).toBe(201);
  const login = await fetch(`${cluster.authUrl}/v1/login`, { method: 'POST', headers: json, body: JSON.stringify({ email, password, audience: 'orders' }) });
  expect(login.status).toBe(200);
  return ((await login.json()) as { access_token: string }).access_token;
}

/** A valid token is served; after logout the same token is refused (revoked). */
async function servesAndRefuses(address: string): Promise<void> {
  const token = await loginToken();
  const ok = await fetch(`${address}/whoami`, { headers: { authorization: `Bearer ${token}` } });
  expect(ok.status).toBe(200);
  expect(await ok.json()).toMatchObject({ sub: expect.any(String), sid: expect.any(String) });
  const none = await fetch(`${address}/whoami`);
  expect(none.status).toBe(401);
  const logout = await fetch(`${cluster.authUrl}/v1/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  expect(logout.status).toBe(204);
  const refused = await waitFor(
    async () => {
      const res = await fetch(`${address}/whoami`, { headers: { authorization: `Bearer ${token}` } });
      return res.status === 401 ? res : undefined;
    },
    { timeoutMs: 20_000, what: 'the logged-out token to be refused' },
  );
  expect(refused.headers.get('www-authenticate')).toContain('invalid_token');
  expect(await refused.json()).toMatchObject({ reason: 'revoked' });
}

async function installedFastify(): Promise<string> {
  const manifest = JSON.parse(await readFile(join(scratch, 'service/node_modules/fastify/package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

describe('publishable packages, installed from tarballs with npm', () => {
  it('packs every package as JavaScript + declarations with an exports map, no sources, tests or workspace specs', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(expect.arrayContaining(['@revocable/client', '@revocable/fastify', '@revocable/kit', '@revocable/protocol', '@revocable/events']));
    for (const p of packed) {
      const where = p.name;
      expect(p.manifest['private'], where).toBeUndefined();
      expect(p.manifest['version'], where).toMatch(/^\d+\.\d+\.\d+/);
      expect(p.manifest['files'], where).toEqual(['dist']);
      expect(p.manifest['exports'], where).toEqual({ '.': { types: './dist/index.d.ts', import: './dist/index.js' } });
      expect(p.files, where).toEqual(expect.arrayContaining(['package/dist/index.js', 'package/dist/index.d.ts', 'package/package.json']));
      const sources = p.files.filter((f) => (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.includes('.test.') || f.includes('/src/'));
      expect(sources, where).toEqual([]);
      expect(JSON.stringify(p.manifest), where).not.toContain('workspace:');
    }
    const fastify = packed.find((p) => p.name === '@revocable/fastify');
    expect(fastify?.manifest['peerDependencies']).toEqual({ fastify: '^5.0.0' });
    expect((fastify?.manifest['dependencies'] as Record<string, string>)['fastify']).toBeUndefined();
  }, TEST_TIMEOUT_MS);

  it('installs one fastify (the peer), type-checks under nodenext, and runs on plain Node.js: valid token served, logged-out token refused', async () => {
    expect(await installedFastify()).toBe('5.12.8');
    expect(existsSync(join(scratch, 'service/node_modules/@revocable/fastify/node_modules/fastify'))).toBe(false);
    await compilesAndServes();
  }, TEST_TIMEOUT_MS);

  it(`does the same with fastify ${OLDEST_FASTIFY}, the oldest release the peer range allows`, async () => {
    const project = join(scratch, 'service');
    await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', '--save-exact', `fastify@${OLDEST_FASTIFY}`], project, npmEnv());
    expect(await installedFastify()).toBe(OLDEST_FASTIFY);
    await compilesAndServes();
  }, TEST_TIMEOUT_MS);
});
