// Two auth instances on one database, both relaying the outbox at once (FOR UPDATE SKIP
// LOCKED): every revocation event is delivered exactly once, each user's in order.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, loadConfig } from '@revocable/auth';
import { parseEvent, type HeartbeatEvent, type RevocationEvent } from '@revocable/events';
import { authEnv, createTestDatabase, kafkaBrokers, kafkaSasl, uniqueTopic, waitFor } from './support/env.ts';
import { readTopic, type TopicReader } from './support/topic-reader.ts';

let db: { url: string; drop: () => Promise<void> };
let apps: FastifyInstance[] = [];
let consumer: TopicReader | undefined;
const topic = uniqueTopic('auth-relay');
const received: RevocationEvent[] = [];
const heartbeatSources = new Set<string>();

beforeAll(async () => {
  db = await createTestDatabase('revocable_auth_relay');
  const env = authEnv(db.url, {
    REVOCATION_TOPIC: topic,
    MAX_SESSIONS_PER_USER: '100',
    HEARTBEAT_INTERVAL_MS: '300',
    // Small batches so both relays get a share of the rows.
    OUTBOX_BATCH_SIZE: '3',
  });
  // Started together: migrations and key bootstrap must be safe under concurrency.
  apps = await Promise.all(
    ['auth-a', 'auth-b'].map((id) => buildApp(loadConfig({ ...env, INSTANCE_ID: id }), { logger: false })),
  );
  await Promise.all(apps.map((a) => a.ready()));
  consumer = await readTopic(kafkaBrokers(), topic, (event) => {
    if (event.type === 'heartbeat') heartbeatSources.add((event as HeartbeatEvent).source);
    else received.push(event);
  }, kafkaSasl());
}, 120_000);

afterAll(async () => {
  expect(consumer?.invalid ?? []).toEqual([]);
  await consumer?.stop();
  await Promise.all(apps.map((a) => a.close()));
  await db?.drop();
});

function sidOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { sid: string }).sid;
}

describe('two auth instances relaying one outbox', () => {
  it('both instances share one signing key set', async () => {
    const [a, b] = apps as [FastifyInstance, FastifyInstance];
    const ka = (await a.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Array<{ kid: string }> };
    const kb = (await b.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Array<{ kid: string }> };
    // Started together, they still created one active and one next key between them (of each kind).
    expect(ka.keys.filter((k) => !k.kid.startsWith('evt.'))).toHaveLength(2);
    expect(ka.keys.filter((k) => k.kid.startsWith('evt.'))).toHaveLength(2);
    expect(kb.keys.map((k) => k.kid)).toEqual(ka.keys.map((k) => k.kid));
  });

  it('delivers every event exactly once and keeps each user\'s events in order', async () => {
    const users = 8;
    const sessionsPerUser = 6;
    const expected = new Map<string, string[]>();
    await Promise.all(
      Array.from({ length: users }, async (_, u) => {
        const email = `relay-${u}-${randomUUID()}@example.com`;
        const reg = await apps[u % 2]!.inject({ method: 'POST', url: '/v1/users', payload: { email, password: 'relay password' } });
        expect(reg.statusCode).toBe(201);
        const sub = (reg.json() as { id: string }).id;
        const seq: string[] = [];
        const tokens: string[] = [];
        for (let i = 0; i < sessionsPerUser; i++) {
          const res = await apps[i % 2]!.inject({ method: 'POST', url: '/v1/login', payload: { email, password: 'relay password' } });
          expect(res.statusCode, res.body).toBe(200);
          tokens.push((res.json() as { access_token: string }).access_token);
        }
        // Alternate instances so both write and both relay this user's rows.
        for (const [i, token] of tokens.entries()) {
          const res = await apps[(i + u) % 2]!.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${token}` } });
          expect(res.statusCode).toBe(204);
          seq.push(`session:${sidOf(token)}`);
        }
        const last = await apps[u % 2]!.inject({ method: 'POST', url: '/v1/login', payload: { email, password: 'relay password' } });
        const res = await apps[(u + 1) % 2]!.inject({ method: 'POST', url: '/v1/logout-all', headers: { authorization: `Bearer ${(last.json() as { access_token: string }).access_token}` } });
        expect(res.statusCode).toBe(204);
        seq.push('user:2');
        expected.set(sub, seq);
      }),
    );
    const total = users * (sessionsPerUser + 1);
    await waitFor(() => received.length >= total, { timeoutMs: 60_000, what: `${total} events` });
    // Let any duplicate that would arrive late show up before counting.
    await waitFor(async () => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM outbox')).rows[0]?.n) === 0;
      } finally {
        await client.end();
      }
    }, { what: 'empty outbox' });
    const ids = received.map((e) => e.id);
    expect(new Set(ids).size).toBe(total);
    expect(ids).toHaveLength(total);
    for (const [sub, seq] of expected) {
      const got = received
        .filter((e) => e.type !== 'key.revoked' && e.sub === sub)
        .map((e) => (e.type === 'session.revoked' ? `session:${e.sid}` : e.type === 'user.revoked' ? `user:${e.minVer}` : e.type));
      expect(got).toEqual(seq);
    }
    const published = await Promise.all(
      apps.map(async (a) => ((await a.inject({ method: 'GET', url: '/readyz' })).json() as { relay: { published: number } }).relay.published),
    );
    expect(published.reduce((x, y) => x + y, 0)).toBe(total);
    // Both relays took part (SKIP LOCKED shares the rows; each instance is woken by NOTIFY).
    expect(published.every((n) => n > 0)).toBe(true);
  }, 120_000);

  it('each instance sends heartbeats', async () => {
    await waitFor(() => heartbeatSources.has('auth-a') && heartbeatSources.has('auth-b'), { what: 'heartbeats from both instances' });
  });
});
