// `Prefer: wait=N` on the revoking routes, in-process against the real PostgreSQL: receipts
// are fed to the app's PropagationTracker directly (relay off, an in-memory transport for
// the receipts reader), so each case controls who confirms and when.
import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTransport, type AppliedEvent, type ReceiptMessage } from '@revocable/events';
import type { PropagationTracker } from '../propagation.ts';
import { startTestApp } from '../test-app.ts';

const ADMIN = randomBytes(24).toString('base64url');
const admin = { authorization: `Bearer ${ADMIN}` };
let app: FastifyInstance;
let tracker: PropagationTracker;
let close = async () => {};

async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const announce = (instance: string, audience: string, state: 'up' | 'leaving' = 'up'): ReceiptMessage => ({
  kind: 'announce',
  instance,
  service: audience,
  audiences: [audience],
  at: Date.now(),
  // Live for the whole file.
  intervalMs: 600_000,
  state,
  ready: true,
  freshnessSeconds: 0.1,
  lag: 0,
});
const applied = (instance: string, audience: string, event: { id: string; type: string; at: number }): ReceiptMessage => ({
  kind: 'applied',
  instance,
  service: audience,
  audiences: [audience],
  events: [{ id: event.id, type: event.type as AppliedEvent['type'], at: event.at, appliedAt: Date.now(), phase: 'live' }],
});

beforeAll(async () => {
  ({ app, close } = await startTestApp('auth_prefer_wait', { ADMIN_TOKEN: ADMIN, AUDIENCES: 'orders,profile', PREFER_WAIT_MAX_SECONDS: '3' }, { receipts: true, transport: new MemoryTransport() }));
  tracker = app.revocableAuth.propagation;
});

afterAll(() => close());

async function session(): Promise<{ access: string; refresh: string; userId: string }> {
  const email = `wait-${randomUUID()}@example.test`;
  const password = 'a long enough passphrase';
  const created = await app.inject({ method: 'POST', url: '/v1/users', payload: { email, password } });
  expect(created.statusCode).toBe(201);
  const res = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password, audience: ['orders', 'profile', 'auth'] } });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json<{ access_token: string; refresh_token: string }>();
  return { access: body.access_token, refresh: body.refresh_token, userId: created.json<{ id: string }>().id };
}

const logout = (token: string, prefer?: string) =>
  app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${token}`, ...(prefer === undefined ? {} : { prefer }) } });

describe('without a usable Prefer: wait, nothing changes', () => {
  it('logout, logout-all and session delete stay 204 with no body and no Preference-Applied', async () => {
    for (const prefer of [undefined, 'wait=abc', 'wait=-1', 'wait', 'return=minimal', 'wait=5 junk']) {
      const { access } = await session();
      const res = await logout(access, prefer);
      expect(res.statusCode, String(prefer)).toBe(204);
      expect(res.body).toBe('');
      expect(res.headers['preference-applied']).toBeUndefined();
    }
    const { access } = await session();
    const all = await app.inject({ method: 'POST', url: '/v1/logout-all', headers: { authorization: `Bearer ${access}` } });
    expect(all.statusCode).toBe(204);
    expect(all.headers['preference-applied']).toBeUndefined();
  });

  it('RFC 7009 revoke stays `{}`; admin revoke keeps its body', async () => {
    const { refresh, userId } = await session();
    const revoked = await app.inject({ method: 'POST', url: '/oauth/revoke', payload: { token: refresh } });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toEqual({});
    const user = await app.inject({ method: 'POST', url: `/v1/admin/users/${userId}/revoke`, headers: admin });
    expect(user.statusCode).toBe(200);
    expect(Object.keys(user.json<object>()).sort()).toEqual(['min_ver', 'user_id']);
  });
});

describe('Prefer: wait=N', () => {
  it('answers once every live instance confirmed: 200, the report, Preference-Applied', async () => {
    tracker.receive(announce('orders-a', 'orders'));
    tracker.receive(announce('profile-a', 'profile'));
    const { access } = await session();
    const before = new Set(tracker.recent(200).map((r) => r.id));
    const answer = logout(access, 'respond-async, wait=3');
    const event = await until(() => tracker.recent(200).find((r) => !before.has(r.id)), 'the logout tracked');
    await until(() => tracker.waiters() > 0, 'the answer waiting');
    tracker.receive(applied('orders-a', 'orders', event));
    tracker.receive(applied('profile-a', 'profile', event));
    const res = await answer;
    expect(res.statusCode).toBe(200);
    expect(res.headers['preference-applied']).toBe('wait=3');
    const { propagation } = res.json<{ propagation: Record<string, unknown> & { confirmed: Array<{ instance: string; ms: number }> } }>();
    expect(propagation).toMatchObject({ events: [{ id: event.id, type: 'session.revoked' }], complete: true, pending: [] });
    expect(propagation.confirmed.map((c) => c.instance)).toEqual(['orders-a', 'profile-a']);
    expect(propagation['slowest_ms']).toBe(Math.max(...propagation.confirmed.map((c) => c.ms)));
    expect(propagation['waited_ms']).toBeLessThan(3000);
    expect(tracker.waiters()).toBe(0);
  });

  it('answers at the deadline naming the instance that did not confirm; N is capped at PREFER_WAIT_MAX_SECONDS', async () => {
    const { access } = await session();
    const before = new Set(tracker.recent(200).map((r) => r.id));
    const started = Date.now();
    const answer = logout(access, 'wait=1');
    const event = await until(() => tracker.recent(200).find((r) => !before.has(r.id)), 'the logout tracked');
    tracker.receive(applied('orders-a', 'orders', event));
    const res = await answer;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(res.statusCode).toBe(200);
    expect(res.headers['preference-applied']).toBe('wait=1');
    const { propagation } = res.json<{ propagation: { complete: boolean; pending: Array<{ instance: string; service: string }>; confirmed: Array<{ instance: string }> } }>();
    expect(propagation.complete).toBe(false);
    expect(propagation.pending).toEqual([{ instance: 'profile-a', service: 'profile', audiences: ['profile'] }]);
    expect(propagation.confirmed.map((c) => c.instance)).toEqual(['orders-a']);

    // Nothing to revoke (an unknown token): no event, nothing to wait for, at once.
    const unknown = await app.inject({ method: 'POST', url: '/oauth/revoke', headers: { prefer: 'wait=999999999999999999' }, payload: { token: 'no-such-token' } });
    expect(unknown.statusCode).toBe(200);
    expect(unknown.headers['preference-applied']).toBe('wait=3');
    expect(unknown.json()).toMatchObject({ propagation: { events: [], complete: true, confirmed: [], pending: [] } });
  });

  it('adds the report to bodies that have one (admin revoke, disable, password change)', async () => {
    const { access, userId } = await session();
    const wait = { prefer: 'wait=0' };
    const revoked = await app.inject({ method: 'POST', url: `/v1/admin/users/${userId}/revoke`, headers: { ...admin, ...wait } });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ user_id: userId, min_ver: expect.any(Number), propagation: { events: [{ type: 'user.revoked' }], complete: false } });
    const disabled = await app.inject({ method: 'POST', url: `/v1/admin/users/${userId}/disable`, headers: { ...admin, ...wait } });
    expect(disabled.json()).toMatchObject({ disabled: true, propagation: { events: [{ type: 'user.revoked' }] } });
    expect(disabled.headers['preference-applied']).toBe('wait=0');
    // A token of the revoked user no longer authenticates; a fresh user changes its password.
    expect((await logout(access, 'wait=0')).statusCode).toBe(401);
    const other = await session();
    const changed = await app.inject({
      method: 'POST',
      url: '/v1/password',
      headers: { authorization: `Bearer ${other.access}`, ...wait },
      payload: { current_password: 'a long enough passphrase', new_password: 'another long enough passphrase' },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({ access_token: expect.any(String), propagation: { events: [{ type: 'user.revoked' }] } });
  });

  it('a client that disconnects releases its waiter', async () => {
    const { access } = await session();
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    expect(address).toContain(String(port));
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/logout', headers: { authorization: `Bearer ${access}`, prefer: 'wait=3' } });
    req.on('error', () => {});
    req.end();
    await until(() => tracker.waiters() > 0, 'the answer waiting');
    req.destroy();
    await until(() => tracker.waiters() === 0, 'the waiter released', 2000);
  });
});
