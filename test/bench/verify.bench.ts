/**
 * Verifier throughput: Revocable's TokenVerifier (verified-token cache + Denylist check on
 * every call) against the usual hand-rolled verifier, jose's `jwtVerify` on every request
 * plus a naive `Map` denylist, in the same process and run.
 *
 * Scenarios, each with 1,000 distinct live EdDSA tokens used round-robin (many users, each
 * sending several requests within a token's lifetime) and 10,000 revoked sessions in the
 * denylists:
 *  - direct verify path, repeated tokens (cache hits after the first round);
 *  - direct verify path, cache disabled (every call pays the signature check);
 *  - full HTTP request path through `app.inject` (Fastify + the plugin vs Fastify + an
 *    onRequest hook doing jwtVerify + Map); the plugin reads its revocation topic as the
 *    `orders` principal, with the topic's ACLs, on the secured bench broker (test/bench/broker.ts:
 *    a private one, or KAFKA_BROKERS with its credentials).
 * Figures are the median of 5 interleaved rounds of BENCH_VERIFY_OPS calls (default 20000) each.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { Denylist } from '@revocable/denylist';
import { revocationTopicSpec } from '@revocable/events';
import { revocable, TokenVerifier } from '@revocable/fastify';
import { generateSigningKey, importPrivateKey, signAccessToken } from '@revocable/tokens';
import { benchBroker } from './broker.ts';
import { betterRatio, median, type BenchModule, type BenchResult } from './types.ts';

const OPS = Number(process.env['BENCH_VERIFY_OPS'] ?? 20_000);
const ROUNDS = 5;
const TOKENS = 1000;
const REVOKED = 10_000;
const ISSUER = 'https://auth.bench.test';
const BASELINE = 'jose jwtVerify + Map denylist';

/**
 * Calls/s of each contender, median over ROUNDS. Rounds are interleaved (A B C, A B C, ...)
 * so load from other processes on the machine hits every contender alike.
 */
async function ratesPerSecond(contenders: ReadonlyArray<(i: number) => Promise<unknown>>): Promise<number[]> {
  // One warm-up pass fills caches and lets the JIT settle.
  for (const fn of contenders) for (let i = 0; i < Math.min(OPS, 5000); i++) await fn(i);
  const rates = contenders.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [c, fn] of contenders.entries()) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < OPS; i++) await fn(i);
      rates[c]?.push(OPS / (Number(process.hrtime.bigint() - start) / 1e9));
    }
  }
  return rates.map((r) => median(r));
}

/** The baseline verifier: what a service without Revocable typically does per request. */
function naiveVerifier(getKey: JWTVerifyGetKey, revokedSessions: Map<string, number>) {
  return async (token: string) => {
    const { payload } = await jwtVerify(token, getKey, { issuer: ISSUER, audience: 'orders', algorithms: ['EdDSA', 'ES256'], typ: 'at+jwt' });
    const until = revokedSessions.get(payload['sid'] as string);
    if (until !== undefined && until > Date.now() / 1000) throw new Error('revoked');
    return payload;
  };
}

const bench: BenchModule = {
  name: 'verify',
  async run(): Promise<BenchResult[]> {
    const key = await generateSigningKey('EdDSA');
    const signer = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
    const getKey = createLocalJWKSet({ keys: [key.publicJwk] });
    const tokens: string[] = [];
    for (let i = 0; i < TOKENS; i++) {
      tokens.push((await signAccessToken({ sub: `user-${i}`, aud: 'orders', jti: randomUUID(), sid: randomUUID(), ver: 1 }, signer, { issuer: ISSUER, accessTtlSeconds: 900 })).token);
    }
    const untilS = Math.floor(Date.now() / 1000) + 900;
    const denylist = new Denylist();
    const map = new Map<string, number>();
    for (let i = 0; i < REVOKED; i++) {
      const sid = randomUUID();
      denylist.revokeSession(sid, untilS);
      map.set(sid, untilS);
    }
    const naive = naiveVerifier(getKey, map);
    const cached = new TokenVerifier({ issuer: ISSUER, audience: 'orders', getKey, denylist });
    const uncached = new TokenVerifier({ issuer: ISSUER, audience: 'orders', getKey, denylist, cacheMax: 0 });
    const pick = (i: number) => tokens[i % TOKENS] as string;

    const [baselineRate, cachedRate, uncachedRate] = (await ratesPerSecond([(i) => naive(pick(i)), (i) => cached.verify(pick(i)), (i) => uncached.verify(pick(i))])) as [number, number, number];

    const results: BenchResult[] = [
      {
        metric: 'token checks/s, verify path, repeated tokens (cache hit + denylist)',
        ours: cachedRate,
        baseline: baselineRate,
        baselineName: BASELINE,
        unit: 'ops/s',
        ratio: betterRatio(cachedRate, baselineRate, 'higher'),
        note: `${TOKENS} EdDSA tokens round-robin, ${REVOKED} revoked sessions; median of ${ROUNDS} interleaved rounds of ${OPS}`,
      },
      {
        metric: 'token checks/s, verify path, cache disabled (signature every call)',
        ours: uncachedRate,
        baseline: baselineRate,
        baselineName: BASELINE,
        unit: 'ops/s',
        ratio: betterRatio(uncachedRate, baselineRate, 'higher'),
        note: 'ours additionally checks size cap, forbidden headers, kid, claim types, and jti/sid/sub-ver/kid in the denylist; ≈ 1× means those checks cost next to the signature',
      },
    ];

    // The plugin's consumer needs a real broker: the given one, else a private one from the Maven jars.
    const bus = await benchBroker();
    try {
      const topic = `bench.verify.${randomUUID()}`;
      await bus.grant(topic);
      const admin = await bus.transport('verify-bench-admin').admin();
      await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }));
      await admin.close();
      // The plugin reads as a resource service does: its own principal, the topic's ACLs.
      const transport = bus.transport('verify-bench', 'orders');
      const ours: FastifyInstance = Fastify();
      await ours.register(revocable, { issuer: ISSUER, audience: 'orders', getKey, transport, topic });
      ours.get('/v1/orders', async (request) => ({ sub: request.auth?.claims.sub }));
      await ours.ready();
      await ours.revocable.whenReady();
      const plain: FastifyInstance = Fastify();
      plain.decorateRequest('sub', '');
      plain.addHook('onRequest', async (request, reply) => {
        const header = request.headers.authorization;
        try {
          const payload = await naive(header?.startsWith('Bearer ') === true ? header.slice(7) : '');
          (request as unknown as { sub: string }).sub = payload.sub as string;
        } catch {
          return reply.code(401).send({ error: 'invalid_token' });
        }
      });
      plain.get('/v1/orders', async (request) => ({ sub: (request as unknown as { sub: string }).sub }));
      await plain.ready();
      const request = (app: FastifyInstance) => async (i: number) => {
        const res = await app.inject({ method: 'GET', url: '/v1/orders', headers: { authorization: `Bearer ${pick(i)}` } });
        if (res.statusCode !== 200) throw new Error(`unexpected ${res.statusCode}`);
      };
      const [plainRate, oursRate] = (await ratesPerSecond([request(plain), request(ours)])) as [number, number];
      results.push({
        metric: 'requests/s through Fastify (app.inject), repeated tokens',
        ours: oursRate,
        baseline: plainRate,
        baselineName: `Fastify onRequest: ${BASELINE}`,
        unit: 'req/s',
        ratio: betterRatio(oursRate, plainRate, 'higher'),
        note: 'ours: the full plugin (cache, denylist, scopes/freshness checks, metrics counter); same route and token pool',
      });
      await ours.close();
      await plain.close();
    } finally {
      await bus.stop();
    }
    return results;
  },
};

export default bench;
