import { AuthError } from '../errors.ts';

const EMAIL_MAX = 254;

/**
 * Normalises an email for storage and lookup: NFC, trimmed, lower-cased. Rejects control
 * and format characters, whitespace, lone surrogates and anything without exactly one `@`
 * between non-empty parts. Internationalised addresses are accepted.
 */
export function normalizeEmail(input: string): string {
  const email = input.normalize('NFC').trim().toLowerCase();
  if (email.length < 3 || email.length > EMAIL_MAX || !email.isWellFormed()) {
    throw new AuthError('ERR_AUTH_INVALID_EMAIL', 'email must be a valid address of at most 254 characters');
  }
  if (!/^[^\s@\p{C}]{1,64}@[^\s@\p{C}]+\.[^\s@\p{C}]+$/u.test(email) || email.includes('..')) {
    throw new AuthError('ERR_AUTH_INVALID_EMAIL', 'email must be a valid address of at most 254 characters');
  }
  return email;
}

/** Longest password accepted anywhere (characters), so hashing cost stays bounded. */
export const PASSWORD_MAX = 1024;

/** UUIDs (user and session ids): anything else is answered without a statement. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
