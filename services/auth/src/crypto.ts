import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** AES-256-GCM ciphertext with its IV and tag. */
export interface Sealed {
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
}

/** Encrypts with AES-256-GCM; `aad` binds the ciphertext to its row (e.g. the kid). */
export function seal(key: Buffer, plaintext: Buffer, aad: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, iv, tag: cipher.getAuthTag() };
}

/** Decrypts {@link seal}'s output; throws if the key, AAD or data do not match. */
export function open(key: Buffer, sealed: Sealed, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
}

/** Derives an independent 32-byte subkey from the master key (HKDF-SHA256). */
export function subkey(master: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `revocable-auth/${purpose}`, 32));
}

export function sha256(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

export function hmac(key: Buffer, value: string): Buffer {
  return createHmac('sha256', key).update(value).digest();
}

/** Constant-time string equality (compares digests, so lengths do not leak either). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

const REFRESH_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A fresh opaque refresh token: 256 random bits, base64url (43 chars). */
export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The successor of a refresh token, derived with a server-side key. Deriving instead of
 * drawing at random lets a concurrent duplicate refresh (inside the grace window) receive
 * the very same successor while the database still stores only hashes.
 */
export function successorRefreshToken(key: Buffer, token: string): string {
  return hmac(key, `successor:${token}`).toString('base64url');
}

/** Cheap shape check before any database work. */
export function looksLikeRefreshToken(value: string): boolean {
  return REFRESH_TOKEN.test(value);
}
