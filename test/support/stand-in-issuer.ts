/**
 * A stand-in for the auth service in tests of one resource service against the real broker:
 * a JWKS serving one token key and the tests' event-signing key, the revocation topic, and a
 * producer (as the suite's admin) writing what the relay would. The orders service it builds
 * runs with an injected clock, so tests move time instead of waiting for it.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { revocationTopicSpec, type EventProducer } from '@revocable/events';
import { buildApp, loadConfig } from '@revocable/orders';
import { generateSigningKey, importPrivateKey, type SignerKey } from '@revocable/tokens';
import { kafkaEnv, testTransport, waitFor } from './env.ts';
import { heartbeatRecords, testHeartbeatKeys } from './heartbeats.ts';

/** Options of {@link startStandInIssuer}. */
export interface StandInIssuerOptions {
  /** `iss` of the tokens it signs. */
  issuer: string;
  /** The revocation topic (created with `partitions`). */
  topic: string;
  partitions: number;
  /** Kafka client id of its producer. */
  clientId: string;
}

/** A running stand-in issuer; {@link StandInIssuer.close} releases everything it opened. */
export interface StandInIssuer {
  issuer: string;
  topic: string;
  partitions: number;
  /** Base URL whose `/.well-known/jwks.json` serves the token key and the heartbeat keys. */
  authUrl: string;
  /** Signs access tokens with the published token key. */
  signer: SignerKey;
  /** Writes to the topic as the suite's admin. */
  producer: EventProducer;
  /**
   * Builds the orders service against it (`env` over the defaults: this topic, this JWKS, no
   * receipts, silent logs) on the clock `now`, and waits until it is ready and a round of
   * signed heartbeats at `now()` counted (the event-signing keys come from its first JWKS fetch).
   */
  orders(env: Record<string, string>, now: () => number): Promise<FastifyInstance>;
  close(): Promise<void>;
}

/** Starts the JWKS, creates the topic and connects the producer. */
export async function startStandInIssuer(options: StandInIssuerOptions): Promise<StandInIssuer> {
  const key = await generateSigningKey('EdDSA');
  const signer: SignerKey = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
  const jwks: FastifyInstance = Fastify();
  jwks.get('/.well-known/jwks.json', async () => ({ keys: [key.publicJwk, ...testHeartbeatKeys] }));
  await jwks.listen({ port: 0, host: '127.0.0.1' });
  const built: FastifyInstance[] = [];
  let producer: EventProducer | undefined;
  try {
    const transport = testTransport(options.clientId);
    const admin = await transport.admin();
    try {
      await admin.ensureTopic({ ...revocationTopicSpec({ topic: options.topic, maxAccessTtlSeconds: 900 }), partitions: options.partitions });
    } finally {
      await admin.close();
    }
    producer = await transport.producer();
  } catch (error) {
    await jwks.close();
    throw error;
  }
  const { topic, partitions } = options;
  const authUrl = `http://127.0.0.1:${(jwks.server.address() as AddressInfo).port}`;
  const ready = producer;
  return {
    issuer: options.issuer,
    topic,
    partitions,
    authUrl,
    signer,
    producer: ready,
    async orders(env, now) {
      const app = await buildApp(
        loadConfig({ ...kafkaEnv(), REVOCATION_TOPIC: topic, AUTH_URL: authUrl, AUTH_ISSUER: options.issuer, RECEIPTS_ENABLED: 'false', LOG_LEVEL: 'silent', ...env }),
        { now },
      );
      built.push(app);
      await app.ready();
      await app.revocable.whenReady();
      await waitFor(
        async () => {
          await ready.send(topic, heartbeatRecords(topic, partitions, { at: now() }));
          return app.revocable.freshnessSeconds() === 0;
        },
        { what: 'the first signed heartbeats to count' },
      );
      return app;
    },
    async close() {
      await ready.close();
      for (const app of built) await app.close();
      await jwks.close();
    },
  };
}
