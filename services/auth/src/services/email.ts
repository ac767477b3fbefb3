import unhomoglyph from 'unhomoglyph';
import { AuthError } from '../errors.ts';

const EMAIL_MAX = 254;

/**
 * Normalises an email for storage and lookup: NFKC (full-width and other compatibility
 * forms fold to their plain letters), trimmed, lower-cased, and without the trailing dot
 * of a fully qualified domain (`alice@example.com.` is `alice@example.com`). Rejects
 * control and format characters, whitespace, lone surrogates and anything without exactly
 * one `@` between non-empty parts. Internationalised addresses are accepted.
 */
export function normalizeEmail(input: string): string {
  if (!input.isWellFormed()) throw invalidEmail();
  let email = input.normalize('NFKC').trim().toLowerCase();
  if (email.endsWith('.') && !email.endsWith('..')) email = email.slice(0, -1);
  if (email.length < 3 || email.length > EMAIL_MAX) throw invalidEmail();
  if (!/^[^\s@\p{C}]{1,64}@[^\s@\p{C}]+\.[^\s@\p{C}]+$/u.test(email) || email.includes('..')) throw invalidEmail();
  return email;
}

function invalidEmail(): AuthError {
  return new AuthError('ERR_AUTH_INVALID_EMAIL', 'email must be a valid address of at most 254 characters');
}

/**
 * The confusable skeleton of a normalised email (Unicode TS #39 §4: NFD, every character
 * mapped to its prototype from Unicode's confusables data, NFD again). Two addresses that
 * look alike (`аlice@example.com` with a Cyrillic `а`, `paypa1@…` and `paypal@…`) have the
 * same skeleton. Only ever compared, never shown.
 *
 * @example emailSkeleton('\u0430lice@example.com') === emailSkeleton('alice@example.com') // true
 */
export function emailSkeleton(normalizedEmail: string): string {
  return unhomoglyph(normalizedEmail.normalize('NFD')).normalize('NFD');
}

/** Longest password accepted anywhere (characters), so hashing cost stays bounded. */
export const PASSWORD_MAX = 1024;

/** UUIDs (user and session ids): anything else is answered without a statement. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
