// Issue 9 part 3, against the real broker: the orders service with small DENYLIST_MAX_* caps
// reads a flood of revocation records far beyond them. Its denylist stops growing at the caps
// (its tables' bytes do not move while the flood goes on), every refused record is counted in
// /metrics, and while a refused record could still cover an acceptable token the service
// answers 503 denylist_overflow to every token it does not deny itself (revoked ones stay
// 401). Once the refused entries would have expired it serves again; a refused record with an
// absurd `until` closes it for the token lifetime + leeway at most. The clock is injected:
// nothing sleeps, the test polls for delivery only.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent, type EventProducer, type OutgoingRecord } from '@revocable/events';
import { MAX_ACCESS_TTL_SECONDS, signAccessToken, type SignerKey } from '@revocable/tokens';
import { uniqueTopic, waitFor } from './support/env.ts';
import { heartbeatRecords } from './support/heartbeats.ts';
import { startStandInIssuer, type StandInIssuer } from './support/stand-in-issuer.ts';

const ISSUER = 'https://auth.denylist-caps.test';
const PARTITIONS = 2;
const CAPS = { session: 500, key: 3 };
const FLOOD = { session: 5_000, key: 60 };
const TTL_SECONDS = 600;
// The verifier's default maxTokenLifetimeSeconds (TOKEN_MAX_LIFETIME_SECONDS): the issuer's largest TTL.
const TOKEN_MAX_LIFETIME = MAX_ACCESS_TTL_SECONDS;
const TOLERANCE = 5;
const GRACE = 60;

describe('denylist caps under a flood (real broker)', () => {
  const topic = uniqueTopic('denylist-caps');
  let issuer: StandInIssuer;
  let orders: FastifyInstance;
  let producer: EventProducer;
  let signer: SignerKey;
  let nowMs = Date.now();
  const now = () => nowMs;
  const nowSec = () => Math.floor(nowMs / 1000);

  const token = async (sid = randomUUID()) =>
    (await signAccessToken({ sub: 'caps-user', aud: 'orders', jti: randomUUID(), sid, ver: 1, client_id: 'revocable-app', scope: 'orders:read' }, signer, { issuer: ISSUER, accessTtlSeconds: TTL_SECONDS, now })).token;
  const get = async (bearer: string) => orders.inject({ method: 'GET', url: '/v1/orders', headers: { authorization: `Bearer ${bearer}` } });
  const metric = async (line: string): Promise<number> => {
    const text = (await orders.inject({ method: 'GET', url: '/metrics' })).body;
    const found = text.split('\n').find((l) => l.startsWith(`${line} `));
    if (found === undefined) throw new Error(`no sample ${line} in /metrics`);
    return Number(found.slice(line.length + 1));
  };
  const read = () => {
    const s = orders.revocable.consumer.stats();
    return s.applied + s.heartbeats + Object.values(s.skipped).reduce((a, b) => a + b, 0);
  };
  /** Writes records and waits until the verifier has read them all (applied, refused at a cap, or skipped). */
  const write = async (records: OutgoingRecord[]) => {
    const before = read();
    for (let i = 0; i < records.length; i += 1000) await producer.send(topic, records.slice(i, i + 1000));
    await waitFor(() => read() >= before + records.length, { what: `the verifier to read ${records.length} records`, timeoutMs: 60_000 });
  };
  const heartbeats = () => write(heartbeatRecords(topic, PARTITIONS, { at: nowMs }));
  const session = (sid: string, until: number): OutgoingRecord => ({
    key: 'caps-user',
    value: encodeEvent({ v: 1, id: randomUUID(), at: nowMs, type: 'session.revoked', sub: 'caps-user', sid, reason: 'logout', until }),
  });
  const key = (kid: string, until: number): OutgoingRecord => ({
    key: kid,
    value: encodeEvent({ v: 1, id: randomUUID(), at: nowMs, type: 'key.revoked', kid, until }),
  });

  beforeAll(async () => {
    issuer = await startStandInIssuer({ issuer: ISSUER, topic, partitions: PARTITIONS, clientId: 'denylist-caps' });
    signer = issuer.signer;
    producer = issuer.producer;
    orders = await issuer.orders(
      {
        // The test moves the clock by a day: the bound only has to survive that.
        FRESHNESS_MAX_SECONDS: '86400',
        CLOCK_TOLERANCE_SECONDS: String(TOLERANCE),
        DENYLIST_MAX_SESSIONS: String(CAPS.session),
        DENYLIST_MAX_KEYS: String(CAPS.key),
      },
      now,
    );
  }, 60_000);

  afterAll(async () => {
    await issuer?.close();
  });

  it('stops growing at the caps, counts every refused record, answers 503 denylist_overflow until the refused entries expire', async () => {
    const revokedSid = randomUUID();
    const revoked = await token(revokedSid);
    expect((await get(await token())).statusCode).toBe(200);
    expect((await get(revoked)).statusCode).toBe(200);

    // Fill the session table to its cap, the revoked token's session first.
    const until = nowSec() + TTL_SECONDS;
    await write([session(revokedSid, until), ...Array.from({ length: CAPS.session - 1 }, () => session(randomUUID(), until))]);
    const denylist = orders.revocable.denylist;
    expect(denylist.size().session).toBe(CAPS.session);
    expect(denylist.failingClosed()).toBe(false);
    expect((await get(await token())).statusCode).toBe(200);
    const bytesAtCap = denylist.memoryBytes();

    // The flood: ten times the session cap, twenty times the key cap.
    await write(Array.from({ length: FLOOD.session }, () => session(randomUUID(), until)));
    await write(Array.from({ length: FLOOD.key }, () => key(`flood-${randomUUID()}`, until)));
    expect(denylist.size()).toMatchObject({ session: CAPS.session, key: CAPS.key });
    expect(denylist.memoryBytes()).toBe(bytesAtCap);
    expect(await metric('revocable_denylist_entries{kind="session"}')).toBe(CAPS.session);
    expect(await metric('revocable_denylist_cap{kind="session"}')).toBe(CAPS.session);
    expect(await metric('revocable_denylist_cap{kind="key"}')).toBe(CAPS.key);
    expect(await metric('revocable_denylist_overflows_total{kind="session"}')).toBe(FLOOD.session);
    expect(await metric('revocable_denylist_overflows_total{kind="key"}')).toBe(FLOOD.key - CAPS.key);
    expect(await metric('revocable_denylist_fail_closed_until_seconds')).toBe(until + GRACE + 1);

    // A token local state would serve is refused; a revoked one is still 401.
    const refused = await get(await token());
    expect(refused.statusCode).toBe(503);
    // Retry-After says how long the overflow still holds, not 1 s.
    expect(refused.headers['retry-after']).toBe(String(until + GRACE + 1 - nowSec()));
    expect(refused.json()).toMatchObject({ error: 'temporarily_unavailable', reason: 'denylist_overflow' });
    const still = await get(revoked);
    expect(still.statusCode).toBe(401);
    expect(still.json()).toMatchObject({ reason: 'revoked' });
    expect(await metric('revocable_requests_total{outcome="unavailable",reason="denylist_overflow"}')).toBe(1);

    // Up to the last second a refused entry denies, it stays closed; one second later it serves.
    nowMs = (until + GRACE) * 1000;
    await heartbeats();
    expect((await get(await token())).statusCode).toBe(503);
    nowMs += 1000;
    await heartbeats();
    expect((await get(await token())).statusCode).toBe(200);
    expect(await metric('revocable_denylist_fail_closed_until_seconds')).toBe(0);
  }, 120_000);

  it('a refused record with an absurd until closes the service for the token lifetime + leeway at most', async () => {
    // The key table is full of live entries again, then one more arrives with `until` in 2096.
    const until = nowSec() + TTL_SECONDS;
    await write(Array.from({ length: CAPS.key }, () => key(`live-${randomUUID()}`, until)));
    const refusedAt = nowSec();
    await write([key(`absurd-${randomUUID()}`, 4_000_000_000)]);
    const bound = refusedAt + TOKEN_MAX_LIFETIME + TOLERANCE + GRACE;
    expect(await metric('revocable_denylist_fail_closed_until_seconds')).toBe(bound);
    expect((await get(await token())).json()).toMatchObject({ reason: 'denylist_overflow' });
    nowMs = bound * 1000;
    await heartbeats();
    expect((await get(await token())).statusCode).toBe(200);
  }, 120_000);
});
