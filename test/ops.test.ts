/**
 * Operations against the real cluster (auth, orders, profile as processes, real Kafka and
 * PostgreSQL): every metric the alert rules and the dashboard name is exposed, with the
 * same process/HTTP/build metrics in every service; the OpenAPI documents are valid
 * (@seriousme/openapi-schema-validator) and describe every answer the services give,
 * errors included; request ids are honoured and echoed; and no token or secret reaches a
 * log line, even when a token travels in a query string.
 */
import { randomUUID } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { databaseUrl, kafkaBrokers, waitFor } from './support/env.ts';
import { alertExpressions, dashboardExpressions, metricNames, readDashboard } from './support/observability.ts';

let cluster: Cluster;
const PASSWORD = `pw-${randomUUID()}`;
const email = `ops-${randomUUID()}@example.test`;
let access: string;
let refresh: string;

interface TokenPair {
  access_token: string;
  refresh_token: string;
}

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const bearer = (token: string, init: RequestInit = {}): RequestInit => ({ ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } });

async function login(): Promise<TokenPair> {
  const res = await fetch(`${cluster.authUrl}/v1/login`, json({ email, password: PASSWORD, audience: ['orders', 'profile', 'auth'] }));
  expect(res.status).toBe(200);
  return (await res.json()) as TokenPair;
}

beforeAll(async () => {
  cluster = await startCluster({ kafkaBrokers: kafkaBrokers(), databaseUrl: databaseUrl(), env: { all: { LOG_LEVEL: 'info' } } });
  expect((await fetch(`${cluster.authUrl}/v1/users`, json({ email, password: PASSWORD }))).status).toBe(201);
  ({ access_token: access, refresh_token: refresh } = await login());
  // Writes are fail-closed: wait until both resource services hold fresh revocation state.
  for (const url of [cluster.ordersUrl, cluster.profileUrl]) {
    await waitFor(async () => ((await (await fetch(`${url}/readyz`)).json()) as { freshness_seconds: number | null }).freshness_seconds !== null, {
      what: `${url} fresh`,
      timeoutMs: 60_000,
    });
  }
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('metrics', () => {
  const exposition = async (url: string) => (await (await fetch(`${url}/metrics`)).text()).split('\n');
  const typed = (lines: string[]) => new Set(lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2] as string));

  it('every metric named by an alert rule or a dashboard panel is exposed by a real service', async () => {
    const exposed = new Set<string>();
    for (const url of Object.values(cluster.urls)) for (const name of typed(await exposition(url))) exposed.add(name);
    const named = new Map<string, string>();
    for (const [alert, expr] of alertExpressions()) for (const name of metricNames(expr)) named.set(name, `alert ${alert}`);
    for (const expr of dashboardExpressions(readDashboard())) for (const name of metricNames(expr)) named.set(name, 'dashboard');
    expect(named.size).toBeGreaterThan(15);
    const missing = [...named].filter(([name]) => !exposed.has(name)).map(([name, where]) => `${name} (${where})`);
    expect(missing).toEqual([]);
  });

  it('process_*, the HTTP duration histogram and revocable_build_info are the same in every service', async () => {
    for (const [service, url] of Object.entries(cluster.urls)) {
      const lines = await exposition(url);
      const names = typed(lines);
      for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'revocable_http_request_duration_seconds', 'revocable_build_info']) {
        expect(names.has(name), `${service} exposes ${name}`).toBe(true);
      }
      expect([...names].filter((n) => n.startsWith('revocable_auth_process') || n.startsWith('revocable_auth_nodejs')), service).toEqual([]);
      expect(lines.find((l) => l.startsWith('revocable_build_info{')), service).toMatch(new RegExp(`^revocable_build_info\\{service="${service}",version="0\\.1\\.0",node="v\\d+\\.\\d+\\.\\d+"\\} 1$`));
      expect(lines.some((l) => l.startsWith('revocable_http_request_duration_seconds_count{method="GET",route="/metrics",status="200"}')), `${service} HTTP histogram`).toBe(true);
    }
  });
});

describe('OpenAPI documents', () => {
  type Operation = { responses: Record<string, { description: string; content?: Record<string, { schema?: object }> }>; security?: unknown[]; parameters?: Array<{ in: string; name: string }> };
  type Spec = { paths: Record<string, Record<string, Operation>> };
  const specs = new Map<string, Spec>();
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);

  beforeAll(async () => {
    for (const [service, url] of Object.entries(cluster.urls)) {
      const res = await fetch(`${url}/docs/json`);
      expect(res.status, service).toBe(200);
      const validator = new Validator();
      const result = await validator.validate((await res.json()) as Record<string, unknown>);
      expect(result.errors, `${service} OpenAPI document`).toBeUndefined();
      expect(result.valid).toBe(true);
      expect(validator.version).toBe('3.1');
      specs.set(service, validator.resolveRefs() as unknown as Spec);
    }
  });

  it('are valid OpenAPI 3.1 and every operation documents a success answer, its errors and 500', () => {
    for (const [service, spec] of specs) {
      for (const [path, item] of Object.entries(spec.paths)) {
        for (const [method, op] of Object.entries(item)) {
          const where = `${service} ${method.toUpperCase()} ${path}`;
          const codes = Object.keys(op.responses);
          expect(codes.some((c) => /^[23]/.test(c)), `${where} has a success answer`).toBe(true);
          expect(Object.values(op.responses).map((r) => r.description), `${where} is described`).not.toContain('Default Response');
          expect(codes, `${where} documents 500`).toContain('500');
          if (op.security !== undefined && op.security.length > 0) expect(codes, `${where} documents 401`).toContain('401');
        }
      }
    }
  });

  it('documents the Prefer header (RFC 7240 wait) on every revoking route of the auth service', () => {
    const paths = specs.get('auth')?.paths ?? {};
    const revoking = [
      ['post', '/v1/logout'],
      ['post', '/v1/logout-all'],
      ['delete', '/v1/sessions/{sid}'],
      ['post', '/v1/password'],
      ['post', '/oauth/revoke'],
      ['post', '/v1/admin/users/{id}/revoke'],
      ['post', '/v1/admin/users/{id}/sessions/{sid}/revoke'],
      ['post', '/v1/admin/users/{id}/disable'],
      ['post', '/v1/admin/keys/{kid}/revoke'],
    ] as const;
    for (const [method, path] of revoking) {
      const params = paths[path]?.[method]?.parameters ?? [];
      expect(params.some((p) => p.in === 'header' && p.name.toLowerCase() === 'prefer'), `${method.toUpperCase()} ${path} documents Prefer`).toBe(true);
    }
  });

  // Asserts that `res` is an answer the document of `service` describes for `method path`, body included.
  async function expectDocumented(service: string, method: string, path: string, res: Response): Promise<number> {
    const op = specs.get(service)?.paths[path]?.[method.toLowerCase()];
    const where = `${service} ${method} ${path} → ${res.status}`;
    expect(op, `${service} documents ${method} ${path}`).toBeDefined();
    const doc = op!.responses[String(res.status)] ?? op!.responses[`${String(res.status)[0]}XX`];
    expect(doc, `${where} is documented`).toBeDefined();
    const text = await res.text();
    if (res.status === 204) {
      expect(doc!.content, where).toBeUndefined();
      return res.status;
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0] as string;
    const media = doc!.content?.[type];
    expect(media, `${where} documents ${type}`).toBeDefined();
    if (type === 'application/json' && media?.schema !== undefined) {
      const validate = ajv.compile(media.schema);
      const ok = validate(JSON.parse(text));
      expect(ok ? [] : validate.errors, `${where} body ${text.slice(0, 300)}`).toEqual([]);
    }
    return res.status;
  }

  it('describes every answer of the auth service, errors included', async () => {
    const a = cluster.authUrl;
    const admin = { authorization: `Bearer ${cluster.adminToken}` };
    const check = (method: string, path: string, res: Response) => expectDocumented('auth', method, path, res);
    const other = `ops-other-${randomUUID()}@example.test`;
    expect(await check('POST', '/v1/users', await fetch(`${a}/v1/users`, json({ email: other, password: PASSWORD })))).toBe(201);
    expect(await check('POST', '/v1/users', await fetch(`${a}/v1/users`, json({ email: other, password: PASSWORD })))).toBe(409);
    expect(await check('POST', '/v1/users', await fetch(`${a}/v1/users`, json({ email: other })))).toBe(400);
    expect(await check('POST', '/v1/users', await fetch(`${a}/v1/users`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }))).toBe(415);
    expect(await check('POST', '/v1/login', await fetch(`${a}/v1/login`, json({ email, password: 'wrong-password' })))).toBe(401);
    const pair = await login();
    expect(await check('POST', '/v1/login', await fetch(`${a}/v1/login`, json({ email, password: PASSWORD })))).toBe(200);
    const sessions = await fetch(`${a}/v1/sessions`, bearer(pair.access_token));
    const sids = ((await sessions.clone().json()) as { sessions: Array<{ sid: string; current: boolean }> }).sessions;
    expect(await check('GET', '/v1/sessions', sessions)).toBe(200);
    expect(await check('GET', '/v1/sessions', await fetch(`${a}/v1/sessions`))).toBe(401);
    const otherSid = sids.find((s) => !s.current)?.sid as string;
    expect(await check('DELETE', '/v1/sessions/{sid}', await fetch(`${a}/v1/sessions/${otherSid}`, bearer(pair.access_token, { method: 'DELETE' })))).toBe(204);
    expect(await check('DELETE', '/v1/sessions/{sid}', await fetch(`${a}/v1/sessions/${randomUUID()}`, bearer(pair.access_token, { method: 'DELETE' })))).toBe(404);
    const form = (body: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(body).toString(),
    });
    const rotated = await fetch(`${a}/oauth/token`, form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }));
    const next = (await rotated.clone().json()) as TokenPair;
    expect(await check('POST', '/oauth/token', rotated)).toBe(200);
    expect(await check('POST', '/oauth/token', await fetch(`${a}/oauth/token`, form({ grant_type: 'refresh_token', refresh_token: 'not-a-token' })))).toBe(400);
    const basic = `Basic ${Buffer.from(`${cluster.introspectionClients.orders.clientId}:${cluster.introspectionClients.orders.secret}`).toString('base64')}`;
    expect(await check('POST', '/oauth/introspect', await fetch(`${a}/oauth/introspect`, form({ token: next.access_token }, { authorization: basic })))).toBe(200);
    expect(await check('POST', '/oauth/introspect', await fetch(`${a}/oauth/introspect`, form({ token: next.access_token })))).toBe(401);
    expect(await check('POST', '/v1/password', await fetch(`${a}/v1/password`, bearer(next.access_token, json({ current_password: 'wrong-password', new_password: `${PASSWORD}-2` }))))).toBe(401);
    expect(await check('POST', '/oauth/revoke', await fetch(`${a}/oauth/revoke`, form({ token: next.refresh_token })))).toBe(200);
    expect(await check('POST', '/oauth/revoke', await fetch(`${a}/oauth/revoke`, form({})))).toBe(400);
    const third = await login();
    expect(await check('POST', '/v1/logout', await fetch(`${a}/v1/logout`, bearer(third.access_token, { method: 'POST' })))).toBe(204);
    expect(await check('POST', '/v1/logout', await fetch(`${a}/v1/logout`, { method: 'POST' }))).toBe(401);
    // Prefer: wait=N (RFC 7240): the 204 routes answer 200 with the propagation report, the others add it.
    const waited = await login();
    const wait = { prefer: 'wait=1' };
    expect(await check('POST', '/v1/logout', await fetch(`${a}/v1/logout`, bearer(waited.access_token, { method: 'POST', headers: wait })))).toBe(200);
    expect(await check('POST', '/oauth/revoke', await fetch(`${a}/oauth/revoke`, form({ token: 'no-such-token' }, wait)))).toBe(200);
    const fourth = await login();
    expect(await check('POST', '/v1/logout-all', await fetch(`${a}/v1/logout-all`, bearer(fourth.access_token, { method: 'POST' })))).toBe(204);
    expect(await check('GET', '/.well-known/jwks.json', await fetch(`${a}/.well-known/jwks.json`))).toBe(200);
    expect(await check('GET', '/.well-known/oauth-authorization-server', await fetch(`${a}/.well-known/oauth-authorization-server`))).toBe(200);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect(await check('GET', path, await fetch(`${a}${path}`))).toBe(200);
    const keys = await fetch(`${a}/v1/admin/keys`, { headers: admin });
    expect(await check('GET', '/v1/admin/keys', keys)).toBe(200);
    expect(await check('GET', '/v1/admin/keys', await fetch(`${a}/v1/admin/keys`))).toBe(401);
    const otherId = ((await (await fetch(`${a}/v1/users`, json({ email: `ops-third-${randomUUID()}@example.test`, password: PASSWORD }))).json()) as { id: string }).id;
    expect(await check('POST', '/v1/admin/users/{id}/revoke', await fetch(`${a}/v1/admin/users/${otherId}/revoke`, { method: 'POST', headers: admin }))).toBe(200);
    expect(await check('POST', '/v1/admin/users/{id}/revoke', await fetch(`${a}/v1/admin/users/${otherId}/revoke`, { method: 'POST', headers: { ...admin, prefer: 'wait=1' } }))).toBe(200);
    expect(await check('POST', '/v1/admin/users/{id}/disable', await fetch(`${a}/v1/admin/users/${otherId}/disable`, { method: 'POST', headers: admin }))).toBe(200);
    expect(await check('POST', '/v1/admin/users/{id}/enable', await fetch(`${a}/v1/admin/users/${otherId}/enable`, { method: 'POST', headers: admin }))).toBe(200);
    expect(await check('POST', '/v1/admin/users/{id}/enable', await fetch(`${a}/v1/admin/users/${randomUUID()}/enable`, { method: 'POST', headers: admin }))).toBe(404);
    expect(await check('POST', '/v1/admin/keys/{kid}/revoke', await fetch(`${a}/v1/admin/keys/no-such-kid/revoke`, { method: 'POST', headers: admin }))).toBe(404);
    expect(await check('POST', '/v1/admin/keys/rotate', await fetch(`${a}/v1/admin/keys/rotate`, { method: 'POST', headers: admin }))).toBe(200);
    expect(await check('GET', '/v1/admin/instances', await fetch(`${a}/v1/admin/instances`, { headers: admin }))).toBe(200);
    const recent = await fetch(`${a}/v1/admin/revocations?limit=5`, { headers: admin });
    const recentId = ((await recent.clone().json()) as { revocations: Array<{ id: string }> }).revocations[0]?.id;
    expect(await check('GET', '/v1/admin/revocations', recent)).toBe(200);
    expect(await check('GET', '/v1/admin/revocations', await fetch(`${a}/v1/admin/revocations?limit=x`, { headers: admin }))).toBe(400);
    if (recentId !== undefined) expect(await check('GET', '/v1/admin/revocations/{id}', await fetch(`${a}/v1/admin/revocations/${recentId}`, { headers: admin }))).toBe(200);
    expect(await check('GET', '/v1/admin/revocations/{id}', await fetch(`${a}/v1/admin/revocations/${randomUUID()}`, { headers: admin }))).toBe(404);
  });

  it('describes every answer of orders and profile, refusals included', async () => {
    const o = cluster.ordersUrl;
    const p = cluster.profileUrl;
    const { access_token: token } = await login();
    const orders = (method: string, path: string, res: Response) => expectDocumented('orders', method, path, res);
    const profile = (method: string, path: string, res: Response) => expectDocumented('profile', method, path, res);
    const created = await fetch(`${o}/v1/orders`, bearer(token, json({ item: 'tea', quantity: 1 })));
    const id = ((await created.clone().json()) as { id: string }).id;
    expect(await orders('POST', '/v1/orders', created)).toBe(201);
    expect(await orders('POST', '/v1/orders', await fetch(`${o}/v1/orders`, bearer(token, json({ item: '' }))))).toBe(400);
    expect(await orders('POST', '/v1/orders', await fetch(`${o}/v1/orders`, json({ item: 'tea', quantity: 1 })))).toBe(401);
    expect(await orders('GET', '/v1/orders', await fetch(`${o}/v1/orders`, bearer(token)))).toBe(200);
    expect(await orders('GET', '/v1/orders', await fetch(`${o}/v1/orders`, bearer(`${token}x`)))).toBe(401);
    expect(await orders('GET', '/v1/orders/{id}', await fetch(`${o}/v1/orders/${id}`, bearer(token)))).toBe(200);
    expect(await orders('GET', '/v1/orders/{id}', await fetch(`${o}/v1/orders/not-a-uuid`, bearer(token)))).toBe(400);
    expect(await orders('DELETE', '/v1/orders/{id}', await fetch(`${o}/v1/orders/${id}`, bearer(token, { method: 'DELETE' })))).toBe(204);
    expect(await orders('DELETE', '/v1/orders/{id}', await fetch(`${o}/v1/orders/${id}`, bearer(token, { method: 'DELETE' })))).toBe(404);
    expect(await orders('GET', '/v1/orders/{id}', await fetch(`${o}/v1/orders/${id}`, bearer(token)))).toBe(404);
    expect(await profile('GET', '/v1/profile', await fetch(`${p}/v1/profile`, bearer(token)))).toBe(200);
    expect(await profile('PUT', '/v1/profile', await fetch(`${p}/v1/profile`, bearer(token, { ...json({ displayName: 'Ops' }), method: 'PUT' })))).toBe(200);
    expect(await profile('PUT', '/v1/profile', await fetch(`${p}/v1/profile`, bearer(token, { ...json({ bio: 'no name' }), method: 'PUT' })))).toBe(400);
    expect(await profile('GET', '/v1/profile', await fetch(`${p}/v1/profile`))).toBe(401);
    for (const [service, url] of [['orders', o], ['profile', p]] as const) {
      for (const path of ['/healthz', '/readyz', '/metrics']) expect(await expectDocumented(service, 'GET', path, await fetch(`${url}${path}`))).toBe(200);
    }
  });
});

describe('request ids and logs', () => {
  it('honours a valid X-Request-Id and echoes it; replaces an invalid or oversized one', async () => {
    for (const url of Object.values(cluster.urls)) {
      const id = `ops-${randomUUID()}`;
      expect((await fetch(`${url}/healthz`, { headers: { 'x-request-id': id } })).headers.get('x-request-id')).toBe(id);
      for (const bad of ['two words', 'x'.repeat(129)]) {
        const echoed = (await fetch(`${url}/nowhere`, { headers: { 'x-request-id': bad } })).headers.get('x-request-id');
        expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
      }
    }
  });

  it('no log line of any service carries a token or a secret, even from a query string', async () => {
    // A fresh session: the OpenAPI checks above end with a logout-all.
    ({ access_token: access, refresh_token: refresh } = await login());
    const requestId = `ops-logs-${randomUUID()}`;
    const headers = { 'x-request-id': requestId };
    const q = (token: string) => `token=${encodeURIComponent(token)}&page=2`;
    const calls: Array<Promise<Response>> = [
      fetch(`${cluster.ordersUrl}/v1/orders?${q(access)}`, bearer(access, { headers })),
      fetch(`${cluster.ordersUrl}/v1/orders?${q(access)}`, { headers }),
      fetch(`${cluster.profileUrl}/v1/profile?${q(access)}`, bearer(access, { headers })),
      fetch(`${cluster.ordersUrl}/nowhere?${q(access)}`, { headers }),
      fetch(`${cluster.authUrl}/v1/sessions?${q(access)}`, bearer(access, { headers })),
      fetch(`${cluster.authUrl}/v1/sessions?${q(refresh)}`, { headers: { ...headers, cookie: `revocable_rt=${refresh}` } }),
      fetch(`${cluster.authUrl}/nowhere?${q(refresh)}&admin=${cluster.adminToken}`, { headers }),
      fetch(`${cluster.authUrl}/v1/admin/keys?${q(cluster.adminToken)}`, { headers: { ...headers, authorization: `Bearer ${cluster.adminToken}x` } }),
      fetch(`${cluster.authUrl}/oauth/introspect?${q(access)}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`orders:${cluster.introspectionClients.orders.secret}`).toString('base64')}` },
        body: `token=${access}`,
      }),
      fetch(`${cluster.authUrl}/v1/login?${q(PASSWORD)}`, { ...json({ email, password: PASSWORD }), headers: { ...headers, 'content-type': 'application/json' } }),
      // RFC 6750 §2.3 style, and next to a header (two credentials: refused).
      fetch(`${cluster.ordersUrl}/v1/orders?access_token=${encodeURIComponent(access)}`, { headers }),
      fetch(`${cluster.profileUrl}/v1/profile?access_token=${encodeURIComponent(access)}`, bearer(access, { headers })),
    ];
    const statuses = await Promise.all(calls.map(async (c) => (await c).status));
    expect(statuses.slice(0, 10)).toEqual([200, 401, 200, 404, 200, 401, 404, 401, 200, 200]);
    for (const status of statuses.slice(10)) expect([400, 401]).toContain(status);
    const ours = () => cluster.logs().split('\n').filter((l) => l.includes(requestId));
    // Every service logged the requests (incoming + completed), so the check below saw them.
    await waitFor(() => ours().filter((l) => l.includes('request completed')).length >= statuses.length, { what: 'the request log lines', timeoutMs: 15_000 });
    const lines = cluster.logs();
    for (const service of ['auth', 'orders', 'profile'] as const) expect(cluster.logs(service).includes(requestId), `${service} logged the requests`).toBe(true);
    expect(ours().some((l) => l.includes('?token=[REDACTED]&page=[REDACTED]'))).toBe(true);
    expect(ours().some((l) => l.includes('?access_token=[REDACTED]'))).toBe(true);
    const secrets = {
      access,
      accessSignature: access.split('.')[2] as string,
      refresh,
      password: PASSWORD,
      adminToken: cluster.adminToken,
      ordersSecret: cluster.introspectionClients.orders.secret,
      profileSecret: cluster.introspectionClients.profile.secret,
    };
    for (const [name, value] of Object.entries(secrets)) {
      expect(lines.includes(value), `${name} in a log line`).toBe(false);
      expect(lines.includes(encodeURIComponent(value)), `${name} (URL-encoded) in a log line`).toBe(false);
    }
    // Probes are logged at debug: the readiness polls of the start left no line at info.
    expect(lines.split('\n').filter((l) => l.includes('"url":"/readyz"'))).toEqual([]);
  });
});
