// Issue 9 part 2, against the real broker: the orders service (JWKS from a stand-in issuer
// serving a token key and an event-signing key) counts only heartbeats signed by the event
// key. With the genuine heartbeats stopped, a forger writing unsigned, wrongly signed,
// replayed and copied heartbeats cannot keep the fail-closed route open; a relay clock
// skewed by ±30 s neither masks staleness nor trips the route. The verifier's clocks are
// injected: nothing sleeps, the test polls for delivery only.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent, generateEventSigningKey, importEventSigner, signHeartbeat, type EventProducer, type EventSigner, type OutgoingRecord } from '@revocable/events';
import { importPrivateKey, signAccessToken, type SignerKey } from '@revocable/tokens';
import { uniqueTopic, waitFor } from './support/env.ts';
import { heartbeatRecords, testEventKey, testEventSigner } from './support/heartbeats.ts';
import { startStandInIssuer, type StandInIssuer } from './support/stand-in-issuer.ts';

const ISSUER = 'https://auth.heartbeat-trust.test';
const PARTITIONS = 2;
const BOUND_SECONDS = 10;

describe('heartbeats no producer can fake (real broker)', () => {
  const topic = uniqueTopic('heartbeat-trust');
  let issuer: StandInIssuer;
  let orders: FastifyInstance;
  let producer: EventProducer;
  let tokenSigner: SignerKey;
  let nowMs = Date.now();
  const now = () => nowMs;
  const forgerKey = generateEventSigningKey();
  const forger = importEventSigner(forgerKey.privateJwk, forgerKey.kid);

  const token = async (signer: SignerKey = tokenSigner) =>
    (await signAccessToken({ sub: 'hb-user', aud: 'orders', jti: randomUUID(), sid: randomUUID(), ver: 1, client_id: 'revocable-app', scope: 'orders:read orders:write' }, signer, { issuer: ISSUER, accessTtlSeconds: 600, now })).token;
  const post = async () =>
    orders.inject({ method: 'POST', url: '/v1/orders', headers: { authorization: `Bearer ${await token()}` }, payload: { item: 'tea', quantity: 1 } });
  const stats = () => orders.revocable.consumer.stats();
  const looked = () => stats().heartbeats + Object.values(stats().skipped).reduce((a, b) => a + b, 0);
  /** Writes records and waits until the verifier has read them all. */
  const write = async (records: OutgoingRecord[]) => {
    const before = looked();
    await producer.send(topic, records);
    await waitFor(() => looked() >= before + records.length, { what: `the verifier to read ${records.length} heartbeat records` });
  };
  const signedBy = (signer: EventSigner, at: number, partition: number) =>
    encodeEvent(signHeartbeat({ id: randomUUID(), at, source: 'forger' }, { topic, partition }, signer));

  beforeAll(async () => {
    issuer = await startStandInIssuer({ issuer: ISSUER, topic, partitions: PARTITIONS, clientId: 'heartbeat-trust' });
    tokenSigner = issuer.signer;
    producer = issuer.producer;
    orders = await issuer.orders({ FRESHNESS_MAX_SECONDS: String(BOUND_SECONDS), HEARTBEAT_MAX_SKEW_SECONDS: '60' }, now);
  }, 60_000);

  afterAll(async () => {
    await issuer?.close();
  });

  it('the genuine relay keeps the fail-closed route open; a forger cannot once it stops', async () => {
    // A genuine round counted at start (startStandInIssuer). One more round, waited for: every earlier record has been read too (per-partition order).
    nowMs += 1000;
    const counted = stats().heartbeats;
    await producer.send(topic, heartbeatRecords(topic, PARTITIONS, { at: nowMs }));
    await waitFor(() => stats().heartbeats >= counted + PARTITIONS, { what: 'a genuine round counted' });
    expect((await post()).statusCode).toBe(201);
    const captured = heartbeatRecords(topic, PARTITIONS, { at: nowMs - 1 });
    const before = { ...stats().skipped };

    // The relay stops. Time passes on the verifier's clock while a forger writes every second.
    for (let second = 1; second <= BOUND_SECONDS + 2; second++) {
      nowMs += 1000;
      const partition = second % PARTITIONS;
      const stolenKid: EventSigner = { kid: testEventKey.kid, privateKey: forger.privateKey };
      await write([
        // Unsigned, at the current time.
        { key: null, partition, value: encodeEvent({ v: 1, id: randomUUID(), at: nowMs, type: 'heartbeat', source: 'forger' }) },
        // Signed by the forger's own key, and under the genuine kid.
        { key: null, partition, value: signedBy(forger, nowMs, partition) },
        { key: null, partition, value: signedBy(stolenKid, nowMs, partition) },
        // Captured genuine heartbeats, replayed.
        ...captured,
        // A genuine heartbeat of the other partition, copied to this one.
        { key: null, partition, value: signedBy(testEventSigner, nowMs, 1 - partition) },
      ]);
      expect(orders.revocable.freshnessSeconds()).toBe(second);
    }
    const closed = await post();
    expect(closed.statusCode).toBe(503);
    expect(closed.json()).toMatchObject({ error: 'temporarily_unavailable', reason: 'stale_revocation_state' });
    const after = stats().skipped;
    const rounds = BOUND_SECONDS + 2;
    expect(after.ERR_HEARTBEAT_UNSIGNED - before.ERR_HEARTBEAT_UNSIGNED).toBe(rounds);
    expect(after.ERR_HEARTBEAT_UNKNOWN_KEY - before.ERR_HEARTBEAT_UNKNOWN_KEY).toBe(rounds);
    expect(after.ERR_HEARTBEAT_BAD_SIGNATURE - before.ERR_HEARTBEAT_BAD_SIGNATURE).toBe(2 * rounds);
    expect(after.ERR_HEARTBEAT_REPLAYED - before.ERR_HEARTBEAT_REPLAYED).toBe(PARTITIONS * rounds);
    const metrics = (await orders.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/revocable_events_skipped_total\{code="ERR_HEARTBEAT_BAD_SIGNATURE"\} [1-9]/);

    // The genuine relay comes back: the route reopens.
    await write(heartbeatRecords(topic, PARTITIONS, { at: nowMs }));
    expect((await post()).statusCode).toBe(201);
  });

  it('an access token signed with the event-signing key is refused (401), though that key is in the JWKS', async () => {
    const eventKeyAsTokenKey: SignerKey = { kid: testEventKey.kid, alg: 'EdDSA', privateKey: await importPrivateKey(testEventKey.privateJwk as never, 'EdDSA') };
    const res = await orders.inject({ method: 'GET', url: '/v1/orders', headers: { authorization: `Bearer ${await token(eventKeyAsTokenKey)}` } });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ reason: 'unknown_kid' });
  });

  it('a relay clock skewed by +30 s or -30 s neither masks staleness nor trips the route', async () => {
    for (const skewMs of [30_000, -30_000]) {
      for (let i = 0; i < 3; i++) {
        nowMs += 1000;
        await write(heartbeatRecords(topic, PARTITIONS, { at: nowMs + skewMs }));
        expect(orders.revocable.freshnessSeconds()).toBe(0);
        expect((await post()).statusCode).toBe(201);
      }
      // The skewed relay stops: staleness shows on the verifier's clock, not the relay's.
      nowMs += (BOUND_SECONDS + 1) * 1000;
      expect(orders.revocable.freshnessSeconds()).toBe(BOUND_SECONDS + 1);
      expect((await post()).statusCode).toBe(503);
      // Far enough on that the next relay's `at` is newer than every skewed one (else: replays).
      nowMs += 61_000;
    }
    expect(stats().skipped.ERR_HEARTBEAT_SKEWED).toBe(0);
  });
});
