/**
 * Where the refresh token lives between requests.
 *
 * - Browser: pass `'cookie'`. The auth service keeps the refresh token in an `HttpOnly;
 *   SameSite=Strict` cookie; the SDK calls it with `credentials: 'include'` and never sees
 *   or stores the token, so no script (including an XSS payload) can read it.
 * - CLI, mobile, server-side: pass a {@link RefreshTokenStore} (OS keychain, a 0600 file,
 *   secure storage). The SDK writes every rotated token before it uses the new access token.
 *
 * Access tokens are only ever held in memory.
 */

/** Pluggable persistence for the refresh token. Methods may be sync or async. */
export interface RefreshTokenStore {
  /** The stored refresh token, or `null` when there is none. */
  get(): string | null | Promise<string | null>;
  /** Stores `token`; `null` deletes it (logout, session ended). */
  set(token: string | null): void | Promise<void>;
}

/** Refresh-token storage mode: the auth service's HttpOnly cookie, or an explicit store. */
export type RefreshTokenStorage = 'cookie' | RefreshTokenStore;

/**
 * A store that keeps the refresh token in this process's memory only: the session dies
 * with the process. Handy for tests, short-lived scripts and the demo.
 */
export function memoryStore(initial: string | null = null): RefreshTokenStore {
  let token = initial;
  return {
    get: () => token,
    set: (next) => {
      token = next;
    },
  };
}
