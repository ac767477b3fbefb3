import { dictionary } from '@zxcvbn-ts/language-common';
import { AuthError } from '../errors.ts';
import { PASSWORD_MAX } from './email.ts';

// zxcvbn-ts's list of common passwords (~49,000, most frequent first), compared case-insensitively.
const COMMON: ReadonlySet<string> = new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));

/**
 * The password policy of registration and password change. Throws ERR_AUTH_WEAK_PASSWORD
 * (400) with the rule it breaks, when the password (NFKC, as it is hashed):
 * - is shorter than `minLength` code points (PASSWORD_MIN_LENGTH) or longer than 1024;
 * - is only whitespace;
 * - is the account's email or its local part (case-insensitive);
 * - is in zxcvbn-ts's list of common passwords (`@zxcvbn-ts/language-common`).
 *
 * @example checkPassword('correct horse battery staple', 'alice@example.com', 8) // passes
 */
export function checkPassword(password: string, email: string, minLength: number): void {
  const normalized = password.normalize('NFKC');
  const length = [...normalized].length;
  if (length < minLength || password.length > PASSWORD_MAX) {
    throw new AuthError('ERR_AUTH_WEAK_PASSWORD', `password must be ${minLength} to ${PASSWORD_MAX} characters`);
  }
  if (/^\p{White_Space}*$/u.test(normalized)) throw new AuthError('ERR_AUTH_WEAK_PASSWORD', 'password must not be only whitespace');
  const folded = normalized.trim().toLowerCase();
  const at = email.lastIndexOf('@');
  if (folded === email || (at > 0 && folded === email.slice(0, at))) {
    throw new AuthError('ERR_AUTH_WEAK_PASSWORD', 'password must not be the email address or its local part');
  }
  if (COMMON.has(folded)) throw new AuthError('ERR_AUTH_WEAK_PASSWORD', 'password is in a list of commonly used passwords; choose another');
}
