// Kafka outage: the auth service keeps serving logins, refreshes and logouts while its own
// broker is stopped; revocation events wait in the outbox and all arrive, in order per
// user, once the broker is back.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, loadConfig } from '@revocable/auth';
import { parseEvent, type RevocationEvent } from '@revocable/events';
import { startKafkaBroker, type KafkaBroker } from './support/kafka-broker.ts';
import { authEnv, createTestDatabase, uniqueTopic, waitFor } from './support/env.ts';
import { readTopic, type TopicReader } from './support/topic-reader.ts';

let broker: KafkaBroker;
let db: { url: string; drop: () => Promise<void> };
let app: FastifyInstance;
let consumer: TopicReader | undefined;
const topic = uniqueTopic('auth-outage');

beforeAll(async () => {
  [broker, db] = await Promise.all([startKafkaBroker(), createTestDatabase('revocable_auth_outage')]);
  const config = loadConfig(authEnv(db.url, { KAFKA_BROKERS: broker.brokers.join(','), KAFKA_SASL_MECHANISM: '', KAFKA_USERNAME: '', KAFKA_PASSWORD: '', REVOCATION_TOPIC: topic, HEARTBEAT_INTERVAL_MS: '500', OUTBOX_POLL_INTERVAL_MS: '200' }));
  app = await buildApp(config, { logger: false });
  await app.ready();
  await waitFor(async () => (await readyz()).relay.state === 'running', { timeoutMs: 60_000, what: 'relay connected to the private broker' });
}, 180_000);

afterAll(async () => {
  await consumer?.stop();
  await app?.close();
  await broker?.destroy();
  await db?.drop();
});

async function readyz(): Promise<{ status: string; relay: { state: string; pending: number | null } }> {
  const res = await app.inject({ method: 'GET', url: '/readyz' });
  return { ...(res.json() as { status: string; relay: { state: string; pending: number | null } }), status: res.statusCode === 200 ? 'ready' : 'not_ready' };
}

async function outboxRows(): Promise<number> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM outbox');
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

interface Tokens {
  access_token: string;
  refresh_token: string;
}

function sidOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { sid: string }).sid;
}

describe('auth service during a Kafka outage', () => {
  it('keeps working, holds revocations in the outbox, and delivers them all in per-user order when Kafka returns', async () => {
    const users = await Promise.all(
      [0, 1, 2].map(async () => {
        const email = `outage-${randomUUID()}@example.com`;
        const res = await app.inject({ method: 'POST', url: '/v1/users', payload: { email, password: 'outage password' } });
        expect(res.statusCode).toBe(201);
        return { id: (res.json() as { id: string }).id, email };
      }),
    );
    const login = async (email: string): Promise<Tokens> => {
      const res = await app.inject({ method: 'POST', url: '/v1/login', payload: { email, password: 'outage password' } });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as Tokens;
    };

    await broker.stop();

    // Everything the user does keeps working; the expected events are recorded in commit order.
    const expected = new Map<string, string[]>();
    for (const user of users) {
      const seq: string[] = [];
      const a = await login(user.email);
      const b = await login(user.email);
      const refreshed = await app.inject({ method: 'POST', url: '/oauth/token', payload: { grant_type: 'refresh_token', refresh_token: a.refresh_token } });
      expect(refreshed.statusCode, refreshed.body).toBe(200);
      const a2 = refreshed.json() as Tokens;
      expect((await app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${a2.access_token}` } })).statusCode).toBe(204);
      seq.push(`session.revoked:${sidOf(a.access_token)}:logout`);
      expect((await app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${b.access_token}` } })).statusCode).toBe(204);
      seq.push(`session.revoked:${sidOf(b.access_token)}:logout`);
      const c = await login(user.email);
      expect((await app.inject({ method: 'POST', url: '/v1/logout-all', headers: { authorization: `Bearer ${c.access_token}` } })).statusCode).toBe(204);
      seq.push('user.revoked:2:logout_all');
      expected.set(user.id, seq);
    }

    // Not ready? No: readiness does not depend on Kafka. The relay reports the outage.
    const state = await waitFor(async () => {
      const r = await readyz();
      return r.relay.state === 'kafka_unavailable' ? r : undefined;
    }, { timeoutMs: 60_000, what: 'relay to notice the outage' });
    expect(state.status).toBe('ready');
    expect(await outboxRows()).toBe(9);

    await broker.start();
    await waitFor(async () => (await outboxRows()) === 0, { timeoutMs: 90_000, what: 'outbox drained after the broker came back' });

    const received: RevocationEvent[] = [];
    consumer = await readTopic(broker.brokers, topic, (event) => {
      if (event.type !== 'heartbeat') received.push(event);
    });
    await waitFor(() => received.length >= 9, { timeoutMs: 30_000, what: 'all 9 revocation events' });
    expect(new Set(received.map((e) => e.id)).size).toBe(9);
    for (const user of users) {
      const got = received
        .filter((e) => e.type !== 'key.revoked' && e.sub === user.id)
        .map((e) => (e.type === 'session.revoked' ? `session.revoked:${e.sid}:${e.reason}` : e.type === 'user.revoked' ? `user.revoked:${e.minVer}:${e.reason}` : e.type));
      expect(got).toEqual(expected.get(user.id));
    }
    await waitFor(async () => (await readyz()).relay.state === 'running', { timeoutMs: 30_000, what: 'relay running again' });
  }, 240_000);
});
