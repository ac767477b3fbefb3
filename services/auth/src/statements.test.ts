// How many statements each request sends to PostgreSQL (BEGIN and COMMIT count), read from
// the service's own revocable_auth_db_statements_total counter around one request. The relay
// is off, so nothing else talks to the database meanwhile. Issue 8: introspection costs one
// statement and no request reads signing_keys on a warm path; issue 16: one statement per
// revocation, its outbox row included.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from './test-app.ts';

let app: FastifyInstance;
let close = async () => {};
const statements: string[] = [];

beforeAll(async () => {
  ({ app, close } = await startTestApp('auth_statements', { INTROSPECTION_CLIENTS: 'orders:orders-secret-0123456789abcdef0123' }, { onStatement: (text) => statements.push(text) }));
});

afterAll(() => close());

async function counter(): Promise<number> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  const line = res.body.split('\n').find((l) => l.startsWith('revocable_auth_db_statements_total '));
  return Number(line?.split(' ')[1]);
}

/** Runs `request` and returns the statements it sent, checked against the metric. */
async function measure(request: () => Promise<{ statusCode: number; body: string }>, status: number): Promise<string[]> {
  const before = await counter();
  const from = statements.length;
  const res = await request();
  expect(res.statusCode, res.body).toBe(status);
  const sent = statements.slice(from);
  expect(await counter()).toBe(before + sent.length);
  return sent;
}

async function login(): Promise<{ access_token: string; refresh_token: string }> {
  const email = `count-${randomUUID()}@example.com`;
  expect((await app.inject({ method: 'POST', url: '/v1/users', payload: { email, password: 'count me in' } })).statusCode).toBe(201);
  const res = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: 'count me in' } });
  return res.json();
}

const basic = `Basic ${Buffer.from('orders:orders-secret-0123456789abcdef0123').toString('base64')}`;
// A key lookup reads signing_keys at the top level (the liveness statement only checks a kid in a sub-select).
const readsKeys = (sent: string[]) => sent.filter((s) => /^\s*SELECT[^(]*FROM signing_keys/.test(s));

describe('statements per request (warm)', () => {
  it('introspection: one statement, no key lookup', async () => {
    const { access_token } = await login();
    const introspect = () => app.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: basic }, payload: { token: access_token } });
    await introspect(); // warm-up
    const sent = await measure(introspect, 200);
    expect(readsKeys(sent)).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it('GET /v1/sessions: no key lookup (authentication and the list)', async () => {
    const { access_token } = await login();
    const list = () => app.inject({ method: 'GET', url: '/v1/sessions', headers: { authorization: `Bearer ${access_token}` } });
    await list();
    const sent = await measure(list, 200);
    expect(readsKeys(sent)).toEqual([]);
    expect(sent).toHaveLength(2);
  });

  it('RFC 7009 revocation of an access token: one statement, its outbox row included', async () => {
    const { access_token } = await login();
    const sent = await measure(() => app.inject({ method: 'POST', url: '/oauth/revoke', payload: { token: access_token, token_type_hint: 'access_token' } }), 200);
    expect(readsKeys(sent)).toEqual([]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/outbox/);
  });

  it('logout: authentication plus one statement that revokes the session and writes its event', async () => {
    const { access_token } = await login();
    const sent = await measure(() => app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${access_token}` } }), 204);
    expect(readsKeys(sent)).toEqual([]);
    expect(sent).toHaveLength(2);
  });
});
