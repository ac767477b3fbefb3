/**
 * One contender of the over-sockets request-path benchmark (http.bench.ts), as its own
 * process so that its CPU time is its own: `node test/bench/http-server.ts <contender> <setup.json>`.
 * Serves `GET /v1/orders` on a free loopback port and prints `listening <port>` once it
 * answers. Every protected contender checks the same things a real service must: signature
 * (EdDSA, allow-listed), `iss`, `aud`, `exp`, `typ: at+jwt`, and the revoked sessions.
 *
 *  - unprotected: the route alone (the floor).
 *  - revocable: @revocable/fastify, its denylist fed by the real revocation topic (read as
 *    the `orders` principal when the setup carries `sasl`).
 *  - fastify-jwt / fastify-jwt-cache: @fastify/jwt (fast-jwt) with a `trusted` check against
 *    a Map of revoked sessions, without and with fast-jwt's verified-token cache.
 *  - jose-map: an onRequest hook doing jose `jwtVerify` + the same Map (the hand-written way).
 */
import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyJwt from '@fastify/jwt';
import { createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import { createTransport, type KafkaSaslOptions } from '@revocable/events';
import { revocable } from '@revocable/fastify';

export const CONTENDERS = ['unprotected', 'revocable', 'fastify-jwt', 'fastify-jwt-cache', 'jose-map'] as const;
export type Contender = (typeof CONTENDERS)[number];

/** What the bench hands every server. */
export interface ServerSetup {
  issuer: string;
  audience: string;
  publicJwk: JWK;
  /** Revoked session ids (every contender denies them; Revocable reads them from the topic). */
  revokedSids: string[];
  brokers: string[];
  /** The `orders` principal on the secured bench broker (absent on a given plaintext one). */
  sasl?: KafkaSaslOptions;
  topic: string;
}

function unauthorized(reply: import('fastify').FastifyReply) {
  return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'invalid_token' });
}

async function build(contender: Contender, setup: ServerSetup): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  const revoked = new Map(setup.revokedSids.map((sid) => [sid, Number.MAX_SAFE_INTEGER] as const));
  const isRevoked = (sid: unknown) => typeof sid === 'string' && (revoked.get(sid) ?? 0) > Date.now() / 1000;
  switch (contender) {
    case 'unprotected':
      break;
    case 'revocable': {
      const transport = createTransport({ brokers: setup.brokers, clientId: 'bench-http', ...(setup.sasl ? { sasl: setup.sasl } : {}) });
      await app.register(revocable, { issuer: setup.issuer, audience: setup.audience, getKey: createLocalJWKSet({ keys: [setup.publicJwk] }), transport, topic: setup.topic, defaultMetrics: false });
      break;
    }
    case 'fastify-jwt':
    case 'fastify-jwt-cache': {
      const pem = createPublicKey({ key: setup.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
      await app.register(fastifyJwt, {
        secret: { public: pem },
        verify: {
          algorithms: ['EdDSA'],
          allowedIss: setup.issuer,
          allowedAud: setup.audience,
          checkTyp: 'at+jwt',
          requiredClaims: ['exp', 'sid'],
          ...(contender === 'fastify-jwt-cache' ? { cache: true } : {}),
        },
        trusted: (_request, token) => !isRevoked((token as { sid?: unknown }).sid),
      });
      app.addHook('onRequest', async (request, reply) => {
        try {
          await request.jwtVerify();
        } catch {
          return unauthorized(reply);
        }
      });
      break;
    }
    case 'jose-map': {
      const getKey = createLocalJWKSet({ keys: [setup.publicJwk] });
      app.addHook('onRequest', async (request, reply) => {
        const header = request.headers.authorization;
        try {
          const { payload } = await jwtVerify(header?.startsWith('Bearer ') === true ? header.slice(7) : '', getKey, {
            issuer: setup.issuer,
            audience: setup.audience,
            algorithms: ['EdDSA'],
            typ: 'at+jwt',
          });
          if (isRevoked(payload['sid'])) return unauthorized(reply);
        } catch {
          return unauthorized(reply);
        }
      });
      break;
    }
  }
  app.get('/v1/orders', async () => ({ orders: [] }));
  return app;
}

const [contender, setupPath] = process.argv.slice(2) as [Contender | undefined, string | undefined];
if (contender === undefined || !CONTENDERS.includes(contender) || setupPath === undefined) {
  console.error(`usage: node test/bench/http-server.ts <${CONTENDERS.join('|')}> <setup.json>`);
  process.exit(2);
}
const app = await build(contender, JSON.parse(readFileSync(setupPath, 'utf8')) as ServerSetup);
await app.listen({ host: '127.0.0.1', port: 0 });
if (contender === 'revocable') await app.revocable.whenReady();
const address = app.server.address();
console.log(`listening ${typeof address === 'object' && address !== null ? address.port : 0}`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
