/**
 * No Docker engine runs on the CI machine, so the compose file is validated against the code
 * and, where a piece is a program (the healthchecks), by running that program: every service
 * parses its compose environment with its own loadConfig and reads every variable compose
 * sets; the data of Kafka and PostgreSQL lives in their volumes; the secrets come from the
 * `.env` that `./infra/revocable compose-env` writes once and never overwrites; healthchecks
 * probe `/readyz` on the configured port; ports are published on 127.0.0.1 by default.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig as loadAuthConfig } from '@revocable/auth';
import { COMPOSE_SECRETS, readComposeEnv, writeComposeEnv } from '@revocable/infra';
import { loadConfig as loadOrdersConfig } from '@revocable/orders';
import { loadConfig as loadProfileConfig } from '@revocable/profile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface ComposeService {
  image?: string;
  build?: { dockerfile: string; args?: Record<string, string> };
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

const root = new URL('../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const compose = parse(read('infra/docker-compose.yml')) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

/** Compose interpolation: ${VAR:?message} needs a value, ${VAR:-default} falls back. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_]+)(?::([?-])([^}]*))?\}/g, (_m, name: string, kind?: string, rest?: string) => {
    if (given[name] !== undefined) return given[name];
    if (kind === '?') throw new Error(`compose requires ${name}: ${rest}`);
    return rest ?? '';
  });
}

/** Every `${VAR:?…}` the compose file requires. */
const required = [...read('infra/docker-compose.yml').matchAll(/\$\{([A-Z_]+):\?/g)].map((m) => m[1] as string);

// The secrets exactly as `./infra/revocable compose-env` writes them (into a scratch directory).
const scratch = mkdtempSync(join(tmpdir(), 'revocable-compose-'));
const envFile = join(scratch, '.env');
writeComposeEnv(envFile);
const dotEnv = readComposeEnv(envFile);

const envOf = (service: string, given: Record<string, string> = dotEnv): Record<string, string> =>
  Object.fromEntries(Object.entries(spec(service).environment ?? {}).map(([k, v]) => [k, interpolate(String(v), given)]));

const services = {
  auth: loadAuthConfig,
  orders: loadOrdersConfig,
  profile: loadProfileConfig,
} as const;

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs a healthcheck command (exec form) with `env`; resolves with its exit code. */
function runHealthcheck(argv: readonly string[], env: Record<string, string>): Promise<number | null> {
  const [command, ...args] = argv[0] === 'CMD' ? argv.slice(1) : argv;
  expect(command).toBe('node');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** A server answering `status` on `path` and 404 elsewhere; records the paths it was asked for. */
async function probeTarget(path: string, status: number): Promise<{ server: Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((request, response) => {
    seen.push(request.url ?? '');
    response.statusCode = request.url === path ? status : 404;
    response.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

describe('infra/docker-compose.yml', () => {
  it('runs Kafka 3.9 in KRaft mode and PostgreSQL, both with healthchecks', () => {
    expect(spec('kafka').image).toMatch(/^apache\/kafka:3\.9\./);
    expect(spec('kafka').environment?.['KAFKA_PROCESS_ROLES']).toBe('broker,controller');
    expect(spec('kafka').healthcheck?.test.join(' ')).toContain('kafka-broker-api-versions.sh');
    expect(spec('postgres').healthcheck?.test.join(' ')).toContain('pg_isready');
  });

  describe('data', () => {
    const mountOf = (service: string, target: string) =>
      (spec(service).volumes ?? []).map((v) => v.split(':')).find(([, t]) => t === target)?.[0];

    /** The directory `variable` names in `service` is mounted from the named volume `volume`, which the file declares. */
    const expectNamedVolume = (service: string, variable: string, directory: string, volume: string) => {
      const dir = spec(service).environment?.[variable];
      expect(dir).toBe(directory);
      expect(mountOf(service, dir ?? '')).toBe(volume);
      expect(Object.keys(compose.volumes ?? {})).toContain(volume);
    };

    it('the broker writes its log (the revocation topic) into its named volume', () => {
      expectNamedVolume('kafka', 'KAFKA_LOG_DIRS', '/var/lib/kafka/data', 'kafka-data');
      // A fixed cluster id, so a recreated container accepts the already formatted volume.
      expect(spec('kafka').environment?.['CLUSTER_ID']).toMatch(/\S{16,}/);
    });

    it('PostgreSQL keeps its data directory in its named volume', () => {
      expectNamedVolume('postgres', 'PGDATA', '/var/lib/postgresql/data', 'postgres-data');
    });
  });

  describe('secrets', () => {
    it('has no default for any secret: each comes from infra/.env or the environment', () => {
      expect(new Set(required)).toEqual(new Set(['KEY_ENCRYPTION_KEY', 'ADMIN_TOKEN', 'ORDERS_CLIENT_SECRET', 'PROFILE_CLIENT_SECRET', 'POSTGRES_PASSWORD']));
      expect(read('infra/docker-compose.yml')).not.toMatch(/_SECRET:-|PASSWORD:-|TOKEN:-|KEY:-/);
      expect(() => envOf('auth', {})).toThrow(/compose-env/);
    });

    it('compose-env writes every required secret once (mode 600) and never overwrites the file', () => {
      expect(Object.keys(dotEnv).sort()).toEqual([...new Set(required)].sort());
      expect(Object.keys(COMPOSE_SECRETS).sort()).toEqual(Object.keys(dotEnv).sort());
      expect(statSync(envFile).mode & 0o777).toBe(0o600);
      const first = readFileSync(envFile, 'utf8');
      expect(writeComposeEnv(envFile)).toEqual({ path: envFile, written: false });
      expect(readFileSync(envFile, 'utf8')).toBe(first);
      // Another file gets other secrets: nothing is a constant.
      const other = join(scratch, 'other.env');
      expect(writeComposeEnv(other).written).toBe(true);
      expect(readComposeEnv(other)['KEY_ENCRYPTION_KEY']).not.toBe(dotEnv['KEY_ENCRYPTION_KEY']);
    });

    it('the generated secrets are accepted by the services and agree between them', () => {
      const auth = loadAuthConfig(envOf('auth')) as unknown as { introspectionClients?: unknown };
      expect(auth).toBeTruthy();
      expect(envOf('auth')['INTROSPECTION_CLIENTS']).toBe(`orders:${dotEnv['ORDERS_CLIENT_SECRET']},profile:${dotEnv['PROFILE_CLIENT_SECRET']}`);
      expect(envOf('orders')['INTROSPECTION_CLIENT_SECRET']).toBe(dotEnv['ORDERS_CLIENT_SECRET']);
      expect(envOf('profile')['INTROSPECTION_CLIENT_SECRET']).toBe(dotEnv['PROFILE_CLIENT_SECRET']);
      expect(envOf('auth')['DATABASE_URL']).toBe(`postgres://revocable:${dotEnv['POSTGRES_PASSWORD']}@postgres:5432/revocable`);
      expect(envOf('postgres')['POSTGRES_PASSWORD']).toBe(dotEnv['POSTGRES_PASSWORD']);
    });
  });

  it('publishes every port on 127.0.0.1 unless BIND_ADDRESS says otherwise', () => {
    const all = Object.values(compose.services).flatMap((s) => s.ports ?? []);
    expect(all.length).toBeGreaterThanOrEqual(5);
    for (const entry of all) {
      expect(interpolate(entry, {})).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
      expect(interpolate(entry, { BIND_ADDRESS: '0.0.0.0' })).toMatch(/^0\.0\.0\.0:\d+:\d+$/);
    }
  });

  describe('the image healthcheck (infra/docker/Dockerfile)', () => {
    const dockerfile = read('infra/docker/Dockerfile');
    const script = /HEALTHCHECK[^\n]*\\\n\s*CMD node -e "([^\n]*)"\s*$/m.exec(dockerfile)?.[1] ?? '';

    it('probes /readyz on PORT, and on each service its own default port when PORT is unset', async () => {
      expect(script).toContain('/readyz');
      const defaults = /\{ auth: (\d+), orders: (\d+), profile: (\d+) \}/.exec(script);
      const base = { ...envOf('auth') };
      delete base['PORT'];
      expect(Number(defaults?.[1])).toBe(loadAuthConfig(base).port);
      const verifier = { ...envOf('orders') };
      delete verifier['PORT'];
      expect(Number(defaults?.[2])).toBe(loadOrdersConfig(verifier).port);
      expect(Number(defaults?.[3])).toBe(loadProfileConfig({ ...verifier, AUDIENCE: 'profile' }).port);
      const ready = await probeTarget('/readyz', 200);
      try {
        expect(await runHealthcheck(['node', '-e', script], { PORT: String(ready.port), SERVICE: 'orders' })).toBe(0);
        expect(ready.seen).toEqual(['/readyz']);
      } finally {
        ready.server.close();
      }
    });
  });

  for (const [name, load] of Object.entries(services)) {
    describe(name, () => {
      const env = envOf(name);

      it('builds from the shared multi-stage Dockerfile', () => {
        const s = spec(name);
        expect(s.build?.args?.['SERVICE']).toBe(name);
        const dockerfile = read(s.build?.dockerfile ?? '');
        expect(dockerfile.match(/^FROM node:24-slim/gm)).toHaveLength(2);
        expect(dockerfile).toContain('services/${SERVICE}/src/server.ts');
        expect(read(`services/${name}/src/server.ts`).length).toBeGreaterThan(0);
      });

      it("parses its compose environment with the service's own loadConfig and publishes that port", () => {
        const config = load(env) as { port: number; host: string };
        expect(config.host).toBe('0.0.0.0');
        expect(spec(name).ports?.map((p) => interpolate(p, {}))).toEqual([`127.0.0.1:${config.port}:${config.port}`]);
      });

      it('sets only variables the service reads', () => {
        const reads = new Set<string>();
        // A variable no loader knows: it must not count as read, or this check could not fail.
        const recording = new Proxy({ ...env, COMPOSE_TEST_NOT_A_SETTING: 'x' }, {
          get(target, key, receiver) {
            if (typeof key === 'string') reads.add(key);
            return Reflect.get(target, key, receiver);
          },
        });
        load(recording);
        for (const variable of Object.keys(env)) expect(reads.has(variable), `${name} does not read ${variable}`).toBe(true);
        expect(reads.has('COMPOSE_TEST_NOT_A_SETTING')).toBe(false);
      });

      it('is healthy only when /readyz answers 200 on its configured PORT', async () => {
        const test = spec(name).healthcheck?.test ?? [];
        const port = (load(env) as { port: number }).port;
        const ready = await probeTarget('/readyz', 200);
        const notReady = await probeTarget('/readyz', 503);
        const aliveOnly = await probeTarget('/healthz', 200);
        try {
          expect(await runHealthcheck(test, { ...env, PORT: String(ready.port) })).toBe(0);
          expect(ready.seen).toEqual(['/readyz']);
          expect(await runHealthcheck(test, { ...env, PORT: String(notReady.port) })).not.toBe(0);
          expect(await runHealthcheck(test, { ...env, PORT: String(aliveOnly.port) })).not.toBe(0);
        } finally {
          for (const t of [ready, notReady, aliveOnly]) t.server.close();
        }
        // The container's PORT is the port the service listens on.
        expect(Number(env['PORT'])).toBe(port);
      });

      it('waits for healthy dependencies, each of which has a healthcheck', () => {
        const deps = Object.entries(spec(name).depends_on ?? {});
        expect(deps.length).toBeGreaterThan(0);
        for (const [dep, { condition }] of deps) {
          expect(condition).toBe('service_healthy');
          expect(spec(dep).healthcheck?.test.length ?? 0).toBeGreaterThan(0);
        }
      });
    });
  }
});

function spec(name: string): ComposeService {
  const s = compose.services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
}

beforeAll(() => {
  expect(required.length).toBeGreaterThan(0);
});
