/**
 * The verifier in the real cluster (auth, orders, profile as processes): a logout reaches
 * both resource services over Kafka, and an orders process that crashed and restarts never
 * serves the revoked token: while it replays it is down or answers 503, and its first ready
 * answer is already 401 revoked.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { databaseUrl, kafkaBrokers, waitFor } from './support/env.ts';

describe('verifier in the process cluster', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ kafkaBrokers: kafkaBrokers(), databaseUrl: databaseUrl() });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  const json = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, init);
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  };
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  it('a crashed orders process replays on restart and never serves a token revoked while it was down', async () => {
    const email = `cluster-${randomUUID()}@example.test`;
    const credentials = { email, password: 'correct horse battery' };
    const post = (path: string, body?: unknown, token?: string) =>
      json(`${cluster.authUrl}${path}`, {
        method: 'POST',
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    expect((await post('/v1/users', credentials)).status).toBe(201);
    const login = await post('/v1/login', { ...credentials, audience: ['orders', 'profile'] });
    expect(login.status).toBe(200);
    const token = login.body['access_token'] as string;
    expect((await json(`${cluster.ordersUrl}/v1/orders`, bearer(token))).status).toBe(200);
    expect((await json(`${cluster.profileUrl}/v1/profile`, bearer(token))).status).toBe(200);

    // Crash orders, then log out while it is down: only the topic knows about this revocation.
    await cluster.stopService('orders', 'SIGKILL');
    expect((await post('/v1/logout', undefined, token)).status).toBe(204);
    await waitFor(async () => (await json(`${cluster.profileUrl}/v1/profile`, bearer(token))).status === 401, { timeoutMs: 20_000 });

    const seen: Array<number | 'down'> = [];
    let started = false;
    const starting = cluster.startService('orders').then(() => {
      started = true;
    });
    while (!started) {
      seen.push(await fetch(`${cluster.ordersUrl}/v1/orders`, bearer(token)).then((r) => r.status, () => 'down' as const));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await starting;
    const first = await json(`${cluster.ordersUrl}/v1/orders`, bearer(token));
    expect(first.status).toBe(401);
    expect(first.body).toMatchObject({ error: 'invalid_token', reason: 'revoked' });
    // Before ready it was either not listening or answering 503, never serving the token.
    expect(seen.filter((s) => s !== 'down' && s !== 503 && s !== 401), JSON.stringify(seen)).toEqual([]);
    // A fresh login works against the restarted instance.
    const again = await post('/v1/login', { ...credentials, audience: ['orders', 'profile'] });
    expect((await json(`${cluster.ordersUrl}/v1/orders`, bearer(again.body['access_token'] as string))).status).toBe(200);
  }, 120_000);
});
