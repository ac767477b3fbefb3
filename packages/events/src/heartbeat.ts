/**
 * Signed heartbeats.
 *
 * A heartbeat proves "the issuer's outbox was drained when I was sent" and feeds every
 * verifier's freshness bound, so it must not be forgeable by whoever can write the topic.
 * The auth service signs each one with an event-signing key (Ed25519) published in its
 * JWKS next to the token keys, but marked apart (see `EVENT_KEY_KID_PREFIX` in
 * @revocable/protocol). The signature covers a domain-separated string binding the topic,
 * the partition, and every field of the heartbeat, so a heartbeat copied to another
 * partition or topic does not verify, and no access-token signature (always over
 * base64url text) can pass for one.
 *
 * Verification is synchronous (node:crypto), so the consumer checks heartbeats inline;
 * revocation events are not signed (see the README's "Security model").
 */

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { EVENT_KEY_KID_PREFIX, EVENT_KEY_MEMBER, EVENT_KEY_MEMBER_VALUE, type HeartbeatRejectCode } from '@revocable/protocol';
import type { HeartbeatEvent } from './schema.ts';

/** A JWK as a JWKS carries it (only the members this module reads are typed). */
export interface JWK {
  kty?: string;
  crv?: string;
  x?: string;
  d?: string;
  kid?: string;
  alg?: string;
  use?: string;
  key_ops?: string[];
  [member: string]: unknown;
}

/** Where a heartbeat is written: part of what its signature covers. */
export interface HeartbeatTarget {
  topic: string;
  partition: number;
}

/** An event-signing key as the issuer holds it. */
export interface EventSigningKey {
  /** `evt.` + the RFC 7638 thumbprint of the public key. */
  kid: string;
  /** The public JWK as the JWKS serves it (`use: "sig"`, `alg: "EdDSA"`, the event marker). */
  publicJwk: JWK;
  /** The private JWK; never leaves the issuer. */
  privateJwk: JWK;
}

/** A private event-signing key, imported once. */
export interface EventSigner {
  kid: string;
  privateKey: KeyObject;
}

const SIGNING_DOMAIN = 'revocable-heartbeat/1';
const SIG_PATTERN = /^[A-Za-z0-9_-]{86}$/;

/** The exact bytes a heartbeat's signature covers. */
export function heartbeatSigningInput(event: Pick<HeartbeatEvent, 'id' | 'at' | 'source'> & { kid: string }, target: HeartbeatTarget): Buffer {
  return Buffer.from([SIGNING_DOMAIN, target.topic, String(target.partition), event.kid, event.id, String(event.at), event.source].join('\n'), 'utf8');
}

/** Generates a fresh Ed25519 event-signing key, with its JWKS form. */
export function generateEventSigningKey(): EventSigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'jwk' }) as JWK;
  const priv = privateKey.export({ format: 'jwk' }) as JWK;
  const thumbprint = createHash('sha256').update(JSON.stringify({ crv: pub.crv, kty: pub.kty, x: pub.x })).digest('base64url');
  const kid = `${EVENT_KEY_KID_PREFIX}${thumbprint}`;
  return { kid, publicJwk: eventPublicJwk(pub, kid), privateJwk: { ...priv, kid } };
}

/** The JWKS form of an event-signing public key. */
export function eventPublicJwk(jwk: JWK, kid: string): JWK {
  const { d: _d, ...pub } = jwk;
  return { ...pub, kid, alg: 'EdDSA', use: 'sig', key_ops: ['verify'], [EVENT_KEY_MEMBER]: EVENT_KEY_MEMBER_VALUE };
}

/** True for a JWK marked as an event-signing key (prefix, marker member, `use: "sig"`, Ed25519). */
export function isEventSigningJwk(jwk: JWK): boolean {
  return (
    typeof jwk.kid === 'string' &&
    jwk.kid.startsWith(EVENT_KEY_KID_PREFIX) &&
    jwk[EVENT_KEY_MEMBER] === EVENT_KEY_MEMBER_VALUE &&
    jwk.use === 'sig' &&
    jwk.kty === 'OKP' &&
    jwk.crv === 'Ed25519' &&
    typeof jwk.x === 'string'
  );
}

/** Imports a private event-signing JWK. */
export function importEventSigner(privateJwk: JWK, kid: string): EventSigner {
  return { kid, privateKey: createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' }) };
}

/** Signs a heartbeat for one partition: returns the event with `kid` and `sig` set. */
export function signHeartbeat(input: { id: string; at: number; source: string }, target: HeartbeatTarget, signer: EventSigner): HeartbeatEvent {
  const unsigned = { v: 1 as const, id: input.id, at: input.at, type: 'heartbeat' as const, source: input.source, kid: signer.kid };
  const sig = sign(null, heartbeatSigningInput(unsigned, target), signer.privateKey).toString('base64url');
  return { ...unsigned, sig };
}

/** Checks heartbeat signatures against a set of event-signing public keys. */
export interface HeartbeatVerifier {
  /** Null when the signature verifies; otherwise why not. Never throws. */
  verify(event: HeartbeatEvent, target: HeartbeatTarget): Extract<HeartbeatRejectCode, 'ERR_HEARTBEAT_UNSIGNED' | 'ERR_HEARTBEAT_UNKNOWN_KEY' | 'ERR_HEARTBEAT_BAD_SIGNATURE'> | null;
}

/**
 * The event-signing keys a verifier trusts, taken from the issuer's JWKS: every key that is
 * not marked for event signing is ignored, so a token key never verifies a heartbeat.
 * @example
 * const ring = new EventKeyRing();
 * ring.replace((await (await fetch(jwksUrl)).json()).keys);
 * ring.verify(heartbeat, { topic, partition }); // null when valid
 */
export class EventKeyRing implements HeartbeatVerifier {
  #keys = new Map<string, KeyObject>();
  readonly #onUnknownKid: ((kid: string) => void) | undefined;

  /** `onUnknownKid` is told about kids it lacks (e.g. to refetch the JWKS, with a cooldown). */
  constructor(options: { keys?: readonly JWK[]; onUnknownKid?: (kid: string) => void } = {}) {
    this.#onUnknownKid = options.onUnknownKid;
    if (options.keys !== undefined) this.replace(options.keys);
  }

  /** Replaces the trusted keys with the event-signing keys among `jwks` (others are ignored). */
  replace(jwks: readonly JWK[]): void {
    const next = new Map<string, KeyObject>();
    for (const jwk of jwks) {
      if (!isEventSigningJwk(jwk)) continue;
      try {
        next.set(jwk.kid as string, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x as string }, format: 'jwk' }));
      } catch {
        // A malformed key is no key.
      }
    }
    this.#keys = next;
  }

  /** Kids of the trusted event-signing keys. */
  kids(): string[] {
    return [...this.#keys.keys()];
  }

  verify(event: HeartbeatEvent, target: HeartbeatTarget): 'ERR_HEARTBEAT_UNSIGNED' | 'ERR_HEARTBEAT_UNKNOWN_KEY' | 'ERR_HEARTBEAT_BAD_SIGNATURE' | null {
    const { kid, sig } = event;
    if (kid === undefined || sig === undefined) return 'ERR_HEARTBEAT_UNSIGNED';
    const key = this.#keys.get(kid);
    if (key === undefined) {
      this.#onUnknownKid?.(kid);
      return 'ERR_HEARTBEAT_UNKNOWN_KEY';
    }
    if (!SIG_PATTERN.test(sig)) return 'ERR_HEARTBEAT_BAD_SIGNATURE';
    try {
      return verify(null, heartbeatSigningInput({ ...event, kid }, target), key, Buffer.from(sig, 'base64url')) ? null : 'ERR_HEARTBEAT_BAD_SIGNATURE';
    } catch {
      return 'ERR_HEARTBEAT_BAD_SIGNATURE';
    }
  }
}
