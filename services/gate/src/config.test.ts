import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configErrorOf, type ConfigError } from '@revocable/kit';
import { loadConfig } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'gate-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const configError = (env: Record<string, string>): ConfigError => configErrorOf(() => loadConfig(env));

describe('gate configuration', () => {
  it('reads the routes file and the verifier settings', () => {
    const file = write('ok.json', JSON.stringify({ routes: [{ prefix: '/public', public: true }, { prefix: '/', audience: 'orders' }] }));
    const config = loadConfig({ GATE_ROUTES_FILE: file, PORT: '25001', AUTH_URL: 'http://127.0.0.1:25002' });
    expect(config.port).toBe(25001);
    expect(config.routesFile).toBe(file);
    expect(config.routes.routes).toHaveLength(2);
    expect(config.verifier.jwksUrl).toBe('http://127.0.0.1:25002/.well-known/jwks.json');
    expect(config.verifier.kafkaClientId).toBe('revocable-gate');
    expect(config.maxUriBytes).toBe(4096);
  });

  it('accepts the example routes file the README starts the gate with', () => {
    const example = new URL('../routes.example.json', import.meta.url).pathname;
    const config = loadConfig({ GATE_ROUTES_FILE: example });
    expect(config.routes.routes.map((r) => r.audience)).toEqual([null, 'orders', 'orders', 'profile']);
  });

  it.each([
    [{}, 'GATE_ROUTES_FILE', 'GATE_ROUTES_FILE: required: the path of the JSON routes file (see services/gate/README.md)'],
    [{ GATE_ROUTES_FILE: '/nonexistent/routes.json' }, 'GATE_ROUTES_FILE', 'GATE_ROUTES_FILE: cannot read /nonexistent/routes.json (ENOENT); point it at the JSON routes file'],
    [{ GATE_ROUTES_FILE: 'bad-json' }, 'GATE_ROUTES_FILE', /^GATE_ROUTES_FILE: .*bad\.json is not valid JSON \(.+\)$/],
    [{ GATE_ROUTES_FILE: 'bad-rule' }, 'GATE_ROUTES_FILE', /^GATE_ROUTES_FILE: .*rule\.json: routes\[0\]\.audience: required unless "public": true; a name like "orders"$/],
    [{ GATE_ROUTES_FILE: 'introspect' }, 'INTROSPECTION_CLIENT_ID', 'INTROSPECTION_CLIENT_ID: routes[0] uses the introspect policy: set INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET'],
    [{ GATE_ROUTES_FILE: 'ok', GATE_MAX_URI_BYTES: '10' }, 'GATE_MAX_URI_BYTES', /^GATE_MAX_URI_BYTES: /],
  ])('refuses %j with one line naming the variable', (env, variable, message) => {
    const files: Record<string, string> = {
      'bad-json': write('bad.json', '{"routes": [,]}'),
      'bad-rule': write('rule.json', JSON.stringify({ routes: [{ prefix: '/' }] })),
      introspect: write('introspect.json', JSON.stringify({ routes: [{ prefix: '/', audience: 'a', freshness: { maxSeconds: 5, policy: 'introspect' } }] })),
      ok: write('ok2.json', JSON.stringify({ routes: [{ prefix: '/', audience: 'a' }] })),
    };
    const resolved = { ...env } as Record<string, string>;
    const name = resolved['GATE_ROUTES_FILE'];
    if (name !== undefined && files[name] !== undefined) resolved['GATE_ROUTES_FILE'] = files[name];
    const error = configError(resolved);
    expect(error.variable).toBe(variable);
    expect(error.code).toBe('ERR_CONFIG');
    if (typeof message === 'string') expect(error.message).toBe(message);
    else expect(error.message).toMatch(message);
    expect(error.message).not.toContain('\n');
  });
});
