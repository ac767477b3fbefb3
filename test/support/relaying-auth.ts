/**
 * The auth service in-process with its outbox relay on the suite's broker, and a broadcast
 * reader on its revocation topic: for the tests that check what reaches the topic (auth-flow,
 * auth-disable). Each start gets a fresh database and topic.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { buildApp, loadConfig, type AuthConfig } from '@revocable/auth';
import type { IncomingRecord, RevocableEvent, RevocationEvent } from '@revocable/events';
import { authEnv, createTestDatabase, kafkaBrokers, kafkaSasl, uniqueTopic, waitFor } from './env.ts';
import { readTopic, type TopicReader } from './topic-reader.ts';

export interface RelayingAuth {
  app: FastifyInstance;
  config: AuthConfig;
  /** The environment the app was configured from (defaults and the caller's overrides). */
  env: Record<string, string>;
  topic: string;
  /** Every event read back from the topic so far, heartbeats included. */
  events: RevocableEvent[];
  /** The revocation events (no heartbeats) matching `predicate`, once there is at least one (20 s deadline, naming `what`). */
  eventsFor(predicate: (e: RevocationEvent) => boolean, what: string): Promise<RevocationEvent[]>;
  /** `POST /v1/password` with `accessToken` as the bearer. */
  changePassword(accessToken: string, currentPassword: string, newPassword: string): Promise<LightMyRequestResponse>;
  /** Asserts the topic carried no invalid record, stops the reader and the app, drops the database. */
  close(): Promise<void>;
}

/**
 * Starts it. `env` goes over the defaults (issuer `http://auth.test`, audiences orders and
 * profile, three partitions, cheap scrypt, generous rate limits, a heartbeat every 500 ms);
 * `onRecord` sees each event with its record as it is read.
 */
export async function startRelayingAuth(options: {
  name: string;
  env?: Record<string, string>;
  now?: () => number;
  onRecord?: (event: RevocableEvent, record: IncomingRecord) => void;
}): Promise<RelayingAuth> {
  const db = await createTestDatabase(`revocable_${options.name.replaceAll('-', '_')}`);
  const topic = uniqueTopic(options.name);
  const env = authEnv(db.url, {
    REVOCATION_TOPIC: topic,
    REVOCATION_TOPIC_PARTITIONS: '3',
    AUTH_ISSUER: 'http://auth.test',
    AUDIENCES: 'orders,profile',
    HEARTBEAT_INTERVAL_MS: '500',
    ...options.env,
  });
  const events: RevocableEvent[] = [];
  let app: FastifyInstance | undefined;
  let reader: TopicReader | undefined;
  const stop = async () => {
    await reader?.stop();
    await app?.close();
    await db.drop();
  };
  try {
    const config = loadConfig(env);
    app = await buildApp(config, { logger: false, ...(options.now !== undefined ? { now: options.now } : {}) });
    await app.ready();
    // The relay creates the topic; a broadcast reader (no consumer group) reads it back.
    reader = await readTopic(kafkaBrokers(), topic, (event, record) => {
      events.push(event);
      options.onRecord?.(event, record);
    }, kafkaSasl());
    const invalid = reader.invalid;
    const ready = app;
    return {
      app,
      config,
      env,
      topic,
      events,
      eventsFor: (predicate, what) =>
        waitFor(
          () => {
            const found = events.filter((e): e is RevocationEvent => e.type !== 'heartbeat' && predicate(e));
            return found.length > 0 ? found : undefined;
          },
          { timeoutMs: 20_000, what },
        ),
      changePassword: (accessToken, currentPassword, newPassword) =>
        ready.inject({ method: 'POST', url: '/v1/password', headers: { authorization: `Bearer ${accessToken}` }, payload: { current_password: currentPassword, new_password: newPassword } }),
      async close() {
        try {
          expect(invalid, 'invalid events on the topic').toEqual([]);
        } finally {
          await stop();
        }
      },
    };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}
