/**
 * Signed heartbeats for tests that stand in for the auth service's relay. Every verifier a
 * test builds must trust {@link testEventKey} (put {@link testHeartbeatKeys} in its JWKS, or
 * pass them as the plugin's `heartbeatKeys`): unsigned heartbeats no longer count.
 */
import { randomUUID } from 'node:crypto';
import { encodeEvent, generateEventSigningKey, importEventSigner, signHeartbeat, type EventSigner, type OutgoingRecord } from '@revocable/events';

/** The tests' event-signing key (one per test process). */
export const testEventKey = generateEventSigningKey();
/** Its private half, imported for signing. */
export const testEventSigner: EventSigner = importEventSigner(testEventKey.privateJwk, testEventKey.kid);
/** The public JWKs a test verifier trusts for heartbeats. */
export const testHeartbeatKeys = [testEventKey.publicJwk];

/** Options of one signed heartbeat. */
export interface HeartbeatOptions {
  /** `at`, epoch ms. Default `Date.now()`. */
  at?: number;
  source?: string;
  /** Default {@link testEventSigner}. */
  signer?: EventSigner;
}

/** The encoded value of one signed heartbeat for `partition` of `topic`. */
export function signedHeartbeat(topic: string, partition: number, options: HeartbeatOptions = {}): Buffer {
  const input = { id: randomUUID(), at: options.at ?? Date.now(), source: options.source ?? 'test-relay' };
  return encodeEvent(signHeartbeat(input, { topic, partition }, options.signer ?? testEventSigner));
}

/** One signed heartbeat record per partition (what the relay sends each round). */
export function heartbeatRecords(topic: string, partitions: number, options: HeartbeatOptions = {}): OutgoingRecord[] {
  return Array.from({ length: partitions }, (_, partition) => ({ key: null, partition, value: signedHeartbeat(topic, partition, options) }));
}
