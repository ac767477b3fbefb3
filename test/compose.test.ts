/**
 * No Docker engine runs on the CI machine, so the compose file is validated against the code
 * and, where a piece is a program (the healthchecks), by running that program: every service
 * parses its compose environment with its own loadConfig and reads every variable compose
 * sets; the data of Kafka and PostgreSQL lives in their volumes; the secrets come from the
 * `.env` that `./infra/revocable compose-env` writes once and never overwrites; healthchecks
 * probe `/readyz` on the configured port; ports are published on 127.0.0.1 by default.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig as loadAuthConfig } from '@revocable/auth';
import { BROADCAST_GROUP_PREFIX, BUS_PRINCIPALS, busAcls, COMPOSE_SECRETS, composeScramPasswordVariable, readComposeEnv, writeComposeEnv, type BusAcl, type BusPrincipal } from '@revocable/infra';
import { loadConfig as loadOrdersConfig } from '@revocable/orders';
import { loadConfig as loadProfileConfig } from '@revocable/profile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface KafkaSecurityShape {
  sasl: unknown;
  warning: unknown;
}

interface ComposeService {
  image?: string;
  restart?: string;
  command?: string[];
  build?: { dockerfile: string; args?: Record<string, string> };
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

const root = new URL('../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const compose = parse(read('infra/docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

/** Compose interpolation: ${VAR:?message} needs a value, ${VAR:-default} falls back, $$ is a literal $. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Z_]+)(?::([?-])([^}]*))?\}/g, (m, name?: string, kind?: string, rest?: string) => {
    if (m === '$$' || name === undefined) return '$';
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
      expect(spec('kafka').environment?.['CLUSTER_ID']).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(spec('kafka').environment?.['CLUSTER_ID'] ?? '', 'base64url')).toHaveLength(16);
    });

    it('PostgreSQL keeps its data directory in its named volume', () => {
      expectNamedVolume('postgres', 'PGDATA', '/var/lib/postgresql/data', 'postgres-data');
    });
  });

  describe('secrets', () => {
    it('has no default for any secret: each comes from infra/.env or the environment', () => {
      const scram = BUS_PRINCIPALS.map((p) => composeScramPasswordVariable(p));
      expect(new Set(required)).toEqual(new Set(['KEY_ENCRYPTION_KEY', 'ADMIN_TOKEN', 'ORDERS_CLIENT_SECRET', 'PROFILE_CLIENT_SECRET', 'POSTGRES_PASSWORD', ...scram]));
      expect(read('infra/docker-compose.yml')).not.toMatch(/_SECRET:-|PASSWORD:-|TOKEN:-|KEY:-/);
      expect(() => envOf('auth', {})).toThrow(/compose-env/);
    });

    it('compose-env writes every required secret once (mode 600) and never overwrites the file', () => {
      expect(Object.keys(dotEnv).sort()).toEqual([...new Set(required)].sort());
      expect(Object.keys(COMPOSE_SECRETS).sort()).toEqual(Object.keys(dotEnv).sort());
      expect(statSync(envFile).mode & 0o777).toBe(0o600);
      const first = readFileSync(envFile, 'utf8');
      expect(writeComposeEnv(envFile)).toEqual({ path: envFile, written: false, added: [] });
      expect(readFileSync(envFile, 'utf8')).toBe(first);
      for (const p of BUS_PRINCIPALS) expect(dotEnv[composeScramPasswordVariable(p)]).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(new Set(BUS_PRINCIPALS.map((p) => dotEnv[composeScramPasswordVariable(p)])).size).toBe(BUS_PRINCIPALS.length);
      // Another file gets other secrets: nothing is a constant.
      const other = join(scratch, 'other.env');
      expect(writeComposeEnv(other).written).toBe(true);
      expect(readComposeEnv(other)['KEY_ENCRYPTION_KEY']).not.toBe(dotEnv['KEY_ENCRYPTION_KEY']);
    });

    it('compose-env appends only the variables an older file lacks, keeping every value it has', () => {
      const old = join(scratch, 'old.env');
      writeFileSync(old, `# from before the broker was secured\nKEY_ENCRYPTION_KEY=kept\nADMIN_TOKEN=${dotEnv['ADMIN_TOKEN']}\nORDERS_CLIENT_SECRET=a\nPROFILE_CLIENT_SECRET=b\nPOSTGRES_PASSWORD=c`, { mode: 0o600 });
      const scram = BUS_PRINCIPALS.map((p) => composeScramPasswordVariable(p));
      expect(writeComposeEnv(old)).toEqual({ path: old, written: false, added: scram });
      const after = readComposeEnv(old);
      expect(after['KEY_ENCRYPTION_KEY']).toBe('kept');
      expect(after['POSTGRES_PASSWORD']).toBe('c');
      expect(Object.keys(after).sort()).toEqual(Object.keys(COMPOSE_SECRETS).sort());
      expect(writeComposeEnv(old).added).toEqual([]);
      expect(readComposeEnv(old)).toEqual(after);
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

  describe('the secured bus', () => {
    const kafka = () => envOf('kafka');
    const listeners = (value: string) => value.split(',').map((entry) => entry.slice(0, entry.indexOf('://')));
    const operationName = (op: BusAcl['operations'][number]) => op.toLowerCase().replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());

    /** Stub Kafka tools: each records its argv (one JSON line) and a copy of the file after --command-config or -c. */
    function stubTools(dir: string): { bin: string; calls: () => Array<{ tool: string; argv: string[]; config: string }> } {
      const bin = join(dir, 'bin');
      mkdirSync(bin, { recursive: true });
      const log = join(dir, 'calls.jsonl');
      for (const tool of ['kafka-storage.sh', 'kafka-acls.sh', 'kafka-broker-api-versions.sh']) {
        const file = join(bin, tool);
        writeFileSync(
          file,
          `#!${process.execPath}\nconst argv = process.argv.slice(2); const at = argv.findIndex((a) => a === '--command-config' || a === '-c');\n` +
            `const config = at >= 0 ? require('node:fs').readFileSync(argv[at + 1], 'utf8') : '';\n` +
            `require('node:fs').appendFileSync(${JSON.stringify(log)}, JSON.stringify({ tool: ${JSON.stringify(tool)}, argv, config }) + '\\n');\n`,
        );
        chmodSync(file, 0o755);
      }
      const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { tool: string; argv: string[]; config: string }) : []);
      return { bin, calls };
    }

    /** Runs a one-shot's `bash -ec` script as compose would (interpolated), with the image's /opt/kafka/bin replaced by `bin`. */
    function runScript(script: string, env: Record<string, string>, bin: string): { status: number | null; stderr: string } {
      const text = interpolate(script, dotEnv).replaceAll('/opt/kafka/bin/', `${bin}/`);
      // HOME: the scratch directory, so no user's shell startup file adds to stderr.
      const run = spawnSync('bash', ['-ec', text], { env: { PATH: process.env['PATH'] ?? '', HOME: scratch, ...env }, encoding: 'utf8', timeout: 20_000 });
      return { status: run.status, stderr: run.stderr };
    }

    const clientProperties = (config: string) => Object.fromEntries(config.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    const expectAdminClient = (config: string) => {
      const props = clientProperties(config);
      expect(props['security.protocol']).toBe('SASL_PLAINTEXT');
      expect(props['sasl.mechanism']).toBe('SCRAM-SHA-512');
      expect(props['sasl.jaas.config']).toBe(`org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${dotEnv[composeScramPasswordVariable('admin')]}";`);
    };

    it('every listener is SASL: SCRAM-SHA-512 for clients (the host listener too), PLAIN for admin on the controller listener', () => {
      const env = kafka();
      const map = Object.fromEntries(env['KAFKA_LISTENER_SECURITY_PROTOCOL_MAP']!.split(',').map((pair) => pair.split(':') as [string, string]));
      const names = listeners(env['KAFKA_LISTENERS']!);
      expect(names).toEqual(expect.arrayContaining(['CONTROLLER', 'HOST']));
      for (const name of [...names, ...listeners(env['KAFKA_ADVERTISED_LISTENERS']!)]) expect(map[name], `listener ${name}`).toMatch(/^SASL_(PLAINTEXT|SSL)$/);
      expect(Object.values(map).filter((protocol) => !protocol.startsWith('SASL_'))).toEqual([]);
      expect(read('infra/docker-compose.yml')).not.toMatch(/PLAINTEXT:PLAINTEXT|:PLAINTEXT[,\s]|PLAINTEXT:\/\//);
      expect(env['KAFKA_ADVERTISED_LISTENERS']).toContain('HOST://localhost:9094');
      expect(env['KAFKA_SASL_ENABLED_MECHANISMS']).toBe('SCRAM-SHA-512');
      expect(env['KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL']).toBe('SCRAM-SHA-512');
      expect(names).toContain(env['KAFKA_INTER_BROKER_LISTENER_NAME']);
      expect(env['KAFKA_CONTROLLER_LISTENER_NAMES']).toBe('CONTROLLER');
      expect(env['KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL']).toBe('PLAIN');
      expect(env['KAFKA_LISTENER_NAME_CONTROLLER_SASL_ENABLED_MECHANISMS']).toBe('PLAIN');
      const admin = dotEnv[composeScramPasswordVariable('admin')];
      expect(env['KAFKA_LISTENER_NAME_CONTROLLER_PLAIN_SASL_JAAS_CONFIG']).toBe(`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${admin}" user_admin="${admin}";`);
      // The image maps KAFKA_LISTENER_NAME_<L>_SCRAM___SHA___512_SASL_JAAS_CONFIG to listener.name.<l>.scram-sha-512.sasl.jaas.config.
      for (const name of names.filter((n) => n !== 'CONTROLLER')) {
        expect(env[`KAFKA_LISTENER_NAME_${name}_SCRAM___SHA___512_SASL_JAAS_CONFIG`], `JAAS of ${name}`).toBe(`org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${admin}";`);
      }
    });

    it('authorizes with the StandardAuthorizer: admin the only super user, nothing allowed without an ACL', () => {
      const env = kafka();
      expect(env['KAFKA_AUTHORIZER_CLASS_NAME']).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
      expect(env['KAFKA_SUPER_USERS']).toBe('User:admin');
      expect(env['KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND']).toBe('false');
      // The broker holds only its own password; the principals' ones go to the one-shot format step.
      const passwords = BUS_PRINCIPALS.filter((p) => p !== 'admin').map((p) => dotEnv[composeScramPasswordVariable(p)]!);
      for (const value of Object.values(env)) for (const password of passwords) expect(value).not.toContain(password);
      // No secret under KAFKA_*: the image would turn it into a server property.
      expect(Object.keys(env).filter((k) => k.startsWith('KAFKA_') && /PASSWORD/.test(k))).toEqual([]);
    });

    it('each service is its own principal, and the services share no password', () => {
      const used = Object.keys(services).map((name) => envOf(name)['KAFKA_PASSWORD']);
      expect(Object.keys(services).map((name) => envOf(name)['KAFKA_USERNAME'])).toEqual(Object.keys(services));
      expect(new Set(used).size).toBe(used.length);
      expect(used).not.toContain(dotEnv[composeScramPasswordVariable('admin')]);
    });

    describe('kafka-format (the one-shot that formats the volume)', () => {
      const format = () => spec('kafka-format');
      const script = () => format().command?.[2] ?? '';
      const setup = () => {
        const dir = mkdtempSync(join(scratch, 'format-'));
        const data = join(dir, 'data');
        mkdirSync(data);
        const tools = stubTools(dir);
        const env = { ...envOf('kafka-format'), KAFKA_LOG_DIRS: data };
        return { data, tools, env };
      };

      it('formats the broker volume once, adding a SCRAM-SHA-512 user for every principal, and the broker waits for it', () => {
        expect(format().image).toBe(spec('kafka').image);
        expect(format().restart).toBe('no');
        expect(format().command?.slice(0, 2)).toEqual(['bash', '-ec']);
        expect(format().volumes).toEqual(spec('kafka').volumes);
        expect(spec('kafka').depends_on?.['kafka-format']?.condition).toBe('service_completed_successfully');
        const { data, tools, env } = setup();
        const first = runScript(script(), env, tools.bin);
        expect(first.stderr).toBe('');
        expect(first.status).toBe(0);
        const calls = tools.calls();
        expect(calls.map((c) => c.tool)).toEqual(['kafka-storage.sh']);
        const { argv, config } = calls[0]!;
        expect(argv.slice(0, 3)).toEqual(['format', '--cluster-id', spec('kafka').environment?.['CLUSTER_ID']]);
        const scram = argv.flatMap((a, i) => (argv[i - 1] === '--add-scram' ? [a] : []));
        expect(scram).toEqual(BUS_PRINCIPALS.map((p) => `SCRAM-SHA-512=[name=${p},password=${dotEnv[composeScramPasswordVariable(p)]}]`));
        // The properties it formats with are the broker's, rendered from the same KAFKA_* variables.
        const props = clientProperties(config);
        expect(props['log.dirs']).toBe(data);
        expect(props['process.roles']).toBe('broker,controller');
        expect(props['listener.security.protocol.map']).toBe(kafka()['KAFKA_LISTENER_SECURITY_PROTOCOL_MAP']);
        expect(props['listener.name.client.scram-sha-512.sasl.jaas.config']).toBe(kafka()['KAFKA_LISTENER_NAME_CLIENT_SCRAM___SHA___512_SASL_JAAS_CONFIG']);
        expect(props['authorizer.class.name']).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
        expect(Object.keys(props).filter((k) => /password/i.test(k))).toEqual([]);
        expect(existsSync(join(data, 'revocable-scram.stamp'))).toBe(true);
        // Once formatted (kafka-storage wrote meta.properties), a rerun with the same users changes nothing.
        writeFileSync(join(data, 'meta.properties'), 'version=1\n');
        expect(runScript(script(), env, tools.bin).status).toBe(0);
        expect(tools.calls()).toHaveLength(1);
      });

      it('refuses a volume formatted without these SCRAM users (older compose, or other passwords) with the fix', () => {
        const { data, tools, env } = setup();
        writeFileSync(join(data, 'meta.properties'), 'version=1\n');
        const unsecured = runScript(script(), env, tools.bin);
        expect(unsecured.status).toBe(1);
        expect(unsecured.stderr).toMatch(/down -v/);
        rmSync(join(data, 'meta.properties'));
        expect(runScript(script(), env, tools.bin).status).toBe(0);
        writeFileSync(join(data, 'meta.properties'), 'version=1\n');
        const other = runScript(script(), { ...env, SCRAM_GATE_PASSWORD: 'another-password-entirely' }, tools.bin);
        expect(other.status).toBe(1);
        expect(tools.calls()).toHaveLength(1);
      });
    });

    it('the broker is healthy once the admin principal authenticates on the client listener', () => {
      const dir = mkdtempSync(join(scratch, 'health-'));
      const tools = stubTools(dir);
      const [kind, command] = spec('kafka').healthcheck?.test ?? [];
      expect(kind).toBe('CMD-SHELL');
      const run = runScript(command ?? '', envOf('kafka'), tools.bin);
      expect(run.status).toBe(0);
      const [call] = tools.calls();
      expect(call?.tool).toBe('kafka-broker-api-versions.sh');
      expect(call?.argv.slice(0, 2)).toEqual(['--bootstrap-server', 'localhost:9092']);
      expectAdminClient(call?.config ?? '');
    });

    it("kafka-acls creates exactly busAcls('revocable.revocations') as admin, after the broker is healthy", () => {
      const acls = spec('kafka-acls');
      expect(acls.image).toBe(spec('kafka').image);
      expect(acls.restart).toBe('no');
      expect(acls.depends_on?.['kafka']?.condition).toBe('service_healthy');
      const topic = envOf('auth')['REVOCATION_TOPIC'] ?? '';
      expect(topic).toBe('revocable.revocations');
      for (const name of Object.keys(services)) expect(envOf(name)['REVOCATION_TOPIC']).toBe(topic);
      const dir = mkdtempSync(join(scratch, 'acls-'));
      const tools = stubTools(dir);
      const run = runScript(acls.command?.[2] ?? '', envOf('kafka-acls'), tools.bin);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const created = tools.calls().map(({ tool, argv, config }) => {
        expect(tool).toBe('kafka-acls.sh');
        expectAdminClient(config);
        const value = (flag: string) => argv[argv.indexOf(flag) + 1];
        expect(value('--bootstrap-server')).toBe('kafka:9092');
        expect(argv).toContain('--add');
        const resource = argv.includes('--topic') ? 'TOPIC' : 'GROUP';
        return {
          principal: value('--allow-principal'),
          resource,
          name: value(resource === 'TOPIC' ? '--topic' : '--group'),
          pattern: value('--resource-pattern-type'),
          operations: argv.flatMap((a, i) => (argv[i - 1] === '--operation' ? [a] : [])),
        };
      });
      const expected = busAcls(topic).map((acl) => ({
        principal: `User:${acl.principal}`,
        resource: acl.resource,
        name: acl.name,
        pattern: acl.resource === 'TOPIC' ? 'literal' : 'prefixed',
        operations: acl.operations.map(operationName),
      }));
      expect(created).toEqual(expected);
      expect(expected.some((acl) => acl.resource === 'GROUP' && acl.name === BROADCAST_GROUP_PREFIX)).toBe(true);
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

      it('waits for healthy dependencies, each of which has a healthcheck, and for the ACLs', () => {
        const deps = Object.entries(spec(name).depends_on ?? {});
        expect(deps.length).toBeGreaterThan(0);
        for (const [dep, { condition }] of deps) {
          if (dep === 'kafka-acls') continue;
          expect(condition).toBe('service_healthy');
          expect(spec(dep).healthcheck?.test.length ?? 0).toBeGreaterThan(0);
        }
        expect(spec(name).depends_on?.['kafka-acls']?.condition).toBe('service_completed_successfully');
      });

      it('authenticates to Kafka as its own principal, with its password from the generated env', () => {
        const principal = name as BusPrincipal;
        expect(BUS_PRINCIPALS).toContain(principal);
        expect(env['KAFKA_BROKERS']).toBe('kafka:9092');
        // auth keeps it at the top of its config, the resource services in their verifier's.
        const config = load(env) as { kafkaSecurity?: KafkaSecurityShape; verifier?: { kafkaSecurity: KafkaSecurityShape } };
        const kafkaSecurity = config.kafkaSecurity ?? config.verifier?.kafkaSecurity;
        expect(kafkaSecurity?.sasl).toEqual({ mechanism: 'SCRAM-SHA-512', username: principal, password: dotEnv[composeScramPasswordVariable(principal)] });
        expect(kafkaSecurity?.warning).toBeUndefined();
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
