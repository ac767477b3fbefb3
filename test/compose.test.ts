import { readFileSync } from 'node:fs';
import { loadConfig as loadAuthConfig } from '@revocable/auth';
import { loadConfig as loadOrdersConfig } from '@revocable/orders';
import { loadConfig as loadProfileConfig } from '@revocable/profile';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// No Docker engine runs on the CI machine, so the compose file is validated statically
// against the code: every service parses its compose environment with its own loadConfig,
// listens on the port compose publishes, and every variable compose sets is one it reads.

const root = new URL('../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const compose = parse(read('infra/docker-compose.yml')) as {
  services: Record<string, { image?: string; build?: { dockerfile: string; args?: Record<string, string> }; environment?: Record<string, string>; ports?: string[]; healthcheck?: unknown; depends_on?: Record<string, { condition: string }> }>;
};

/** Compose interpolation: ${VAR:?message} needs a value, ${VAR:-default} falls back. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_]+)(?::([?-])([^}]*))?\}/g, (_m, name: string, kind?: string, rest?: string) => {
    if (given[name] !== undefined) return given[name];
    if (kind === '?') throw new Error(`compose requires ${name}: ${rest}`);
    return rest ?? '';
  });
}

const userEnv = { KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'), ADMIN_TOKEN: 'admin-token-for-compose-test-000' };
const envOf = (service: string): Record<string, string> =>
  Object.fromEntries(Object.entries(compose.services[service]?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), userEnv)]));

const services = {
  auth: { load: loadAuthConfig, sources: ['services/auth/src/config.ts', 'packages/config/src/index.ts'] },
  orders: { load: loadOrdersConfig, sources: ['services/orders/src/config.ts', 'packages/kit/src/config.ts', 'packages/config/src/index.ts'] },
  profile: { load: loadProfileConfig, sources: ['services/profile/src/config.ts', 'packages/kit/src/config.ts', 'packages/config/src/index.ts'] },
} as const;

describe('infra/docker-compose.yml', () => {
  it('runs Kafka 3.9 in KRaft mode and PostgreSQL, both with healthchecks', () => {
    expect(compose.services['kafka']?.image).toMatch(/^apache\/kafka:3\.9\./);
    expect(compose.services['kafka']?.environment?.['KAFKA_PROCESS_ROLES']).toBe('broker,controller');
    expect(compose.services['kafka']?.healthcheck).toBeTruthy();
    expect(compose.services['postgres']?.healthcheck).toBeTruthy();
  });

  it('refuses to start without the secrets the auth service requires', () => {
    expect(() => interpolate(String(compose.services['auth']?.environment?.['KEY_ENCRYPTION_KEY']), {})).toThrow(/KEY_ENCRYPTION_KEY/);
  });

  for (const [name, { load, sources }] of Object.entries(services)) {
    describe(name, () => {
      const env = envOf(name);

      it('builds from the shared multi-stage Dockerfile with a healthcheck', () => {
        const spec = compose.services[name];
        expect(spec?.build?.args?.['SERVICE']).toBe(name);
        const dockerfile = read(spec?.build?.dockerfile ?? '');
        expect(dockerfile.match(/^FROM node:24-slim/gm)).toHaveLength(2);
        expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
        expect(dockerfile).toContain('services/${SERVICE}/src/server.ts');
        expect(read(`services/${name}/src/server.ts`).length).toBeGreaterThan(0);
      });

      it("parses its compose environment with the service's own loadConfig", () => {
        const config = load(env) as { port: number; host: string };
        expect(config.host).toBe('0.0.0.0');
        expect(spec(name).ports).toContain(`${config.port}:${config.port}`);
      });

      it('sets only variables the service reads', () => {
        const code = sources.map(read).join('\n');
        for (const variable of Object.keys(env)) expect(code, `${name} does not read ${variable}`).toContain(`'${variable}'`);
      });

      it('waits for healthy dependencies', () => {
        for (const [dep, { condition }] of Object.entries(spec(name).depends_on ?? {})) {
          expect(condition).toBe('service_healthy');
          expect(compose.services[dep]?.healthcheck ?? dep).toBeTruthy();
        }
      });
    });
  }
});

function spec(name: string) {
  const s = compose.services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
}
