import { CSRF_HEADER } from '@revocable/protocol';
import {
  NetworkError,
  NotAuthenticatedError,
  ProtocolError,
  RevocableClientError,
  SessionRevokedError,
  TimeoutError,
} from './errors.ts';
import {
  genericError,
  invalidTokenReason,
  isSessionEnd,
  loginError,
  readErrorBody,
  readJson,
  readTokenResponse,
  sessionEndError,
  type TokenResponse,
} from './http.ts';
import { decodeJwtPayload, type UnverifiedClaims } from './jwt.ts';
import type { RefreshTokenStorage, RefreshTokenStore } from './storage.ts';

/**
 * Header the SDK adds to every auth-service call in cookie mode; the auth service refuses
 * cookie-authenticated requests without it. Allow it in the auth service's CORS settings
 * when the app runs on another origin.
 */
export { CSRF_HEADER };

/** Options of {@link RevocableClient}. */
export interface RevocableClientOptions {
  /** Base URL of the auth service, e.g. `https://auth.example.com`. */
  authUrl: string | URL;
  /**
   * Where the refresh token lives: `'cookie'` (browser; the auth service's HttpOnly cookie,
   * calls use `credentials: 'include'`) or a {@link RefreshTokenStore} (CLI, mobile).
   */
  storage: RefreshTokenStorage;
  /**
   * Audience(s) to ask for at login and at every refresh (RFC 8707 `resource`), e.g.
   * `['orders', 'profile']`. Default: the auth service's default audiences.
   */
  audience?: string | readonly string[];
  /**
   * The auth service's own audience (its ACCOUNT_AUDIENCE), which the account API
   * (`sessions()`, `revokeSession()`, `logoutAll()`, `logout()`) requires. Added to every
   * explicit `audience` list so the one access token serves both. Default `'auth'`; `null`
   * asks only for `audience` (the account calls then fail with `wrong_audience`).
   */
  accountAudience?: string | null;
  /**
   * OAuth `client_id` of this app (a public client of the auth service's CLIENTS), sent at
   * login and every refresh. Default: none sent, the auth service's default client.
   */
  clientId?: string;
  /**
   * Scopes to ask for at login (space-separated or a list; RFC 6749 §3.3). Default: the
   * client's default scopes of the granted audiences.
   */
  scope?: string | readonly string[];
  /** The fetch to use. Default: the platform's `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Clock, epoch milliseconds. Default `Date.now`. Tests inject one to "expire" tokens. */
  now?: () => number;
  /**
   * Refresh this many seconds before the access token expires. Default 30; never more
   * than half the token's lifetime.
   */
  refreshBeforeExpirySeconds?: number;
  /** Deadline of each call to the auth service, in milliseconds. Default 15000. */
  requestTimeoutMs?: number;
  /** Called whenever the access token changes (login, refresh, logout, session end). */
  onTokenChange?: (change: TokenChange) => void;
  /**
   * Called once when the session ends without this client asking for it: the refresh
   * token was refused (revoked on another device, logout-all, admin, expired) or its
   * reuse was detected. Typical handler: redirect to the login page. See {@link SessionEndReason}.
   */
  onSessionEnded?: (event: SessionEndedEvent) => void;
}

/** What {@link RevocableClientOptions.onTokenChange} receives. */
export interface TokenChange {
  /** The new access token, `null` when the client no longer has one. */
  accessToken: string | null;
  /** When the client will consider the new token expired (client clock), epoch ms. */
  expiresAt: number | null;
  /** Why it changed. */
  cause: 'login' | 'refresh' | 'logout' | 'session_ended';
}

/**
 * Why a session ended on its own, from the auth service's `reason` for refusing the refresh
 * token (`error.reason` has it verbatim).
 */
export type SessionEndReason =
  /**
   * The session was revoked: the auth service answered `session_revoked` (logout on another
   * device, logout-all, admin, password change, session cap eviction, or reuse detected on
   * another copy of this session's tokens); or, from a server without a `reason`, a resource
   * service had answered 401 `revoked` before the refresh was refused.
   */
  | 'revoked'
  /** The session outlived its idle or absolute lifetime (`session_expired`). */
  | 'expired'
  /**
   * THIS client presented a refresh token that had already been used (`reuse_detected`):
   * someone else holds a copy (or another client shares the store); the session is revoked.
   */
  | 'reuse_detected'
  /** The refresh token was refused for another reason (`unknown_token`, or no `reason` given). */
  | 'refresh_rejected';

/** What {@link RevocableClientOptions.onSessionEnded} receives. */
export interface SessionEndedEvent {
  reason: SessionEndReason;
  /** The error the pending calls rejected with; carries the server's codes. */
  error: SessionRevokedError;
}

/** The logged-in session as this client sees it (decoded, NOT verified). */
export interface SessionSnapshot {
  accessToken: string;
  /** Client-clock epoch ms after which the token is treated as expired. */
  expiresAt: number;
  /** User id (`sub`). */
  subject: string | undefined;
  /** Session id (`sid`): what `DELETE /v1/sessions/:sid` takes. */
  sessionId: string | undefined;
  /** `aud` of the access token. */
  audience: string[];
  claims: UnverifiedClaims | null;
}

/** Login input. */
export interface LoginInput {
  email: string;
  password: string;
  /** Overrides the client's `audience` for this session. */
  audience?: string | readonly string[];
}

/** One of the user's sessions (devices), as `GET /v1/sessions` lists it. */
export interface SessionInfo {
  /** Session id. */
  sid: string;
  /** Whether it is the session of the calling access token. */
  current?: boolean;
  [field: string]: unknown;
}

/** Options of the revoking calls ({@link RevocableClient.logout}, `logoutAll`, `revokeSession`). */
export interface PropagationOptions {
  /**
   * Ask the auth service to answer only once every live resource-service instance has
   * confirmed the revocation (RFC 7240 `Prefer: wait=N`), or after N seconds: `true` waits
   * up to {@link DEFAULT_PROPAGATION_WAIT_SECONDS}, a number up to that many seconds (the
   * server caps it at its PREFER_WAIT_MAX_SECONDS). The call then resolves with the
   * {@link PropagationReport}. Default: no wait, resolves with `null`.
   */
  waitForPropagation?: boolean | number;
}

/** Seconds waited for by `waitForPropagation: true`. */
export const DEFAULT_PROPAGATION_WAIT_SECONDS = 10;

/** A resource-service instance in a {@link PropagationReport}. */
export interface PropagationInstance {
  /** Instance id (its INSTANCE_ID, default `<service>-<host>-<pid>`). */
  instance: string;
  service: string;
  audiences: string[];
}

/**
 * Which resource-service instances had applied a revocation when the auth service answered
 * (`Prefer: wait`). `complete: false` means the wait ended at its deadline: `pending` names
 * the instances that had not confirmed yet (they may still apply it, or be down).
 */
export interface PropagationReport {
  /** The revocation events of the call (ids for the admin API); empty when it changed nothing. */
  events: Array<{ id: string; type: string }>;
  /** Every instance live at commit confirmed. */
  complete: boolean;
  /** Instances that confirmed, with commit → receipt in milliseconds (auth service clock). */
  confirmed: Array<PropagationInstance & { ms: number }>;
  /** Instances live at commit that had not confirmed. */
  pending: PropagationInstance[];
  /** Largest `ms` among `confirmed`; null when none confirmed. */
  slowestMs: number | null;
  /** How long the auth service held the answer, milliseconds. */
  waitedMs: number;
}

interface TokenState {
  readonly accessToken: string;
  readonly claims: UnverifiedClaims | null;
  /** Client-clock epoch ms. */
  readonly expiresAt: number;
  /** Client-clock epoch ms from which a request first refreshes. */
  readonly refreshAt: number;
  /** Increases with every new token, so a late 401 can tell whether someone already refreshed. */
  readonly generation: number;
}

/**
 * The Revocable client SDK: logs in, keeps a short-lived access token fresh, attaches it to
 * requests, and turns "the server revoked my session" into one clear event.
 *
 * - Proactive refresh: before a request, a token within `refreshBeforeExpirySeconds` of its
 *   end is refreshed first. The decoded `exp`/`iat` only schedule refreshes; the lifetime is
 *   measured on the client's own clock from receipt, so client/server clock skew does not
 *   matter.
 * - Single flight: however many requests wait, at most one refresh is in flight.
 * - A 401 `invalid_token` answer triggers one refresh (shared with concurrent requests) and
 *   one retry of that request; a second 401 is returned as is, never looped on.
 */
export class RevocableClient {
  readonly #authUrl: URL;
  readonly #storage: RefreshTokenStorage;
  readonly #audience: readonly string[];
  readonly #accountAudience: string | null;
  readonly #clientId: string | undefined;
  readonly #scope: string | undefined;
  readonly #fetch: typeof globalThis.fetch;
  readonly #now: () => number;
  readonly #refreshBeforeMs: number;
  readonly #timeoutMs: number;
  readonly #onTokenChange: ((change: TokenChange) => void) | undefined;
  readonly #onSessionEnded: ((event: SessionEndedEvent) => void) | undefined;

  #token: TokenState | null = null;
  #generation = 0;
  #inflight: Promise<TokenState> | null = null;
  /** Bumped by login/logout/session end: a refresh started before must not resurrect tokens. */
  #epoch = 0;
  /** Set after logout or a session end: no server calls until the next login. */
  #ended = false;
  #sessionAudience: readonly string[];
  #refreshCount = 0;
  /** A resource service answered `revoked` for the current token. */
  #revokedHint = false;

  constructor(options: RevocableClientOptions) {
    this.#authUrl = new URL(options.authUrl);
    if (!this.#authUrl.pathname.endsWith('/')) this.#authUrl.pathname += '/';
    this.#storage = options.storage;
    this.#accountAudience = options.accountAudience === undefined ? 'auth' : options.accountAudience;
    this.#audience = withAccount(toList(options.audience), this.#accountAudience);
    this.#sessionAudience = this.#audience;
    this.#clientId = options.clientId;
    this.#scope = options.scope === undefined ? undefined : typeof options.scope === 'string' ? options.scope : options.scope.join(' ');
    const platformFetch = options.fetch ?? globalThis.fetch;
    if (typeof platformFetch !== 'function') throw new TypeError('no fetch available: pass options.fetch');
    // Bound: browsers throw "Illegal invocation" when fetch is called with another `this`.
    this.#fetch = platformFetch.bind(globalThis);
    this.#now = options.now ?? Date.now;
    this.#refreshBeforeMs = (options.refreshBeforeExpirySeconds ?? 30) * 1000;
    this.#timeoutMs = options.requestTimeoutMs ?? 15_000;
    this.#onTokenChange = options.onTokenChange;
    this.#onSessionEnded = options.onSessionEnded;
  }

  /** The current session, or `null` (decoded from the access token, not verified). */
  get session(): SessionSnapshot | null {
    const token = this.#token;
    if (token === null) return null;
    const aud = token.claims?.aud;
    return {
      accessToken: token.accessToken,
      expiresAt: token.expiresAt,
      subject: typeof token.claims?.sub === 'string' ? token.claims.sub : undefined,
      sessionId: typeof token.claims?.sid === 'string' ? token.claims.sid : undefined,
      audience: typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a) => typeof a === 'string') : [],
      claims: token.claims,
    };
  }

  /** How many refreshes this client has sent to the auth service (for diagnostics and tests). */
  get refreshCount(): number {
    return this.#refreshCount;
  }

  /** `POST /v1/users`: creates an account. Returns the server's JSON answer. */
  async register(input: { email: string; password: string }): Promise<Record<string, unknown>> {
    const response = await this.#authCall('v1/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: input.email, password: input.password }),
    });
    if (!response.ok) throw genericError('registration refused', response, await readErrorBody(response));
    const body = await readJson(response);
    return body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  }

  /**
   * `POST /v1/login`: starts a session. In store mode the refresh token is written to the
   * store before this resolves; in cookie mode the server's HttpOnly cookie keeps it and
   * the copy in the body is dropped. Throws {@link InvalidCredentialsError} on a bad password.
   */
  async login(input: LoginInput): Promise<SessionSnapshot> {
    const audience = input.audience === undefined ? this.#audience : withAccount(toList(input.audience), this.#accountAudience);
    this.#epoch += 1;
    const epoch = this.#epoch;
    const body: Record<string, unknown> = { email: input.email, password: input.password };
    if (this.#clientId !== undefined) body['client_id'] = this.#clientId;
    if (this.#scope !== undefined) body['scope'] = this.#scope;
    if (audience.length === 1) body['audience'] = audience[0];
    else if (audience.length > 1) body['audience'] = [...audience];
    const response = await this.#authCall('v1/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw loginError(response, await readErrorBody(response));
    const tokens = await readTokenResponse(response);
    if (this.#store !== null) {
      if (tokens.refresh_token === undefined) throw new ProtocolError('login answer has no refresh_token');
      await this.#store.set(tokens.refresh_token);
    }
    if (epoch !== this.#epoch) throw new NotAuthenticatedError('logged out while logging in');
    this.#sessionAudience = audience;
    this.#ended = false;
    this.#setToken(tokens, 'login');
    const session = this.session;
    if (session === null) throw new NotAuthenticatedError();
    return session;
  }

  /**
   * A valid access token: the current one, or a refreshed one when it is missing or about
   * to expire (single-flight). Rejects with {@link SessionRevokedError} when the session
   * ended, {@link NotAuthenticatedError} when there is none, {@link NetworkError} offline.
   */
  async getAccessToken(): Promise<string> {
    return (await this.#validToken()).accessToken;
  }

  /**
   * Forces a refresh now (joins one already in flight). Useful after a permission change
   * or to resume a stored session at start-up.
   */
  async refresh(): Promise<string> {
    return (await this.#refreshOnce(this.#token?.generation ?? -1, true)).accessToken;
  }

  /**
   * `fetch` with the bearer token attached. Refreshes first when the token is about to
   * expire; on a 401 `invalid_token` refreshes once and retries once. Returns the
   * response of the last attempt (non-2xx included). Rejects with {@link NetworkError}
   * when there is no answer and {@link SessionRevokedError} when the session is over.
   *
   * Only pass URLs of your own APIs: the token is sent to whatever URL you give.
   */
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const template = new Request(input, init);
    const first = await this.#validToken();
    const response = await this.#send(template.clone(), first.accessToken);
    const rejection = await invalidTokenReason(response);
    if (rejection === false) return response;
    // A service said the token is revoked: if the refresh fails too, the session was ended elsewhere.
    if (rejection === 'revoked' && this.#token?.generation === first.generation) this.#revokedHint = true;
    const next = await this.#refreshOnce(first.generation, false);
    await response.body?.cancel().catch(() => undefined);
    return this.#send(template, next.accessToken);
  }

  /**
   * `POST /v1/logout`: revokes this session on the server (every resource service rejects
   * its access tokens within milliseconds), then forgets it locally, even if the server
   * could not be reached (the error is rethrown after).
   *
   * With `{ waitForPropagation: true }` the server answers once every live resource
   * instance confirmed the revocation (or at the deadline), and this resolves with its
   * {@link PropagationReport}; `null` when not asked, when the session was already over, or
   * when the server did not honour the wait (receipts off, an older server).
   *
   * @example
   * const report = await auth.logout({ waitForPropagation: true });
   * if (report && !report.complete) console.warn('not yet confirmed by', report.pending.map((p) => p.instance));
   */
  async logout(options: PropagationOptions = {}): Promise<PropagationReport | null> {
    return this.#endOnServer('v1/logout', options);
  }

  /**
   * `POST /v1/logout-all`: revokes every session of the user (all devices), then forgets
   * this one. `waitForPropagation` as in {@link logout}.
   */
  async logoutAll(options: PropagationOptions = {}): Promise<PropagationReport | null> {
    return this.#endOnServer('v1/logout-all', options);
  }

  /** `GET /v1/sessions`: the user's active sessions (devices). */
  async sessions(): Promise<SessionInfo[]> {
    const response = await this.fetch(this.#url('v1/sessions'), this.#cookieInit({ method: 'GET' }));
    if (!response.ok) throw genericError('listing sessions failed', response, await readErrorBody(response));
    const body = (await readJson(response)) as { sessions?: unknown } | null | undefined;
    const list = body?.sessions;
    if (!Array.isArray(list)) throw new ProtocolError('sessions answer has no sessions list', { status: response.status });
    return list.filter(
      (item): item is SessionInfo =>
        item !== null && typeof item === 'object' && typeof (item as { sid?: unknown }).sid === 'string',
    );
  }

  /**
   * `DELETE /v1/sessions/:sid`: logs one device out. Revoking the current session also ends
   * it here. `waitForPropagation` as in {@link logout}; an unknown session resolves `null`.
   */
  async revokeSession(sid: string, options: PropagationOptions = {}): Promise<PropagationReport | null> {
    const current = this.session?.sessionId;
    const response = await this.fetch(
      this.#url(`v1/sessions/${encodeURIComponent(sid)}`),
      this.#cookieInit({ method: 'DELETE', headers: preferHeaders(options) }),
    );
    if (!response.ok && response.status !== 404) {
      throw genericError('revoking the session failed', response, await readErrorBody(response));
    }
    const report = await readPropagation(response);
    if (current !== undefined && current === sid) await this.#forget('logout');
    return report;
  }

  get #store(): RefreshTokenStore | null {
    return this.#storage === 'cookie' ? null : this.#storage;
  }

  async #endOnServer(path: string, options: PropagationOptions): Promise<PropagationReport | null> {
    if (this.#ended) {
      await this.#forget('logout');
      return null;
    }
    try {
      const response = await this.fetch(this.#url(path), this.#cookieInit({ method: 'POST', headers: preferHeaders(options) }));
      if (!response.ok && response.status !== 401) {
        throw genericError(`${path} failed`, response, await readErrorBody(response));
      }
      return await readPropagation(response);
    } catch (error) {
      // Already over on the server: exactly what was asked.
      if (!(error instanceof SessionRevokedError) && !(error instanceof NotAuthenticatedError)) throw error;
      return null;
    } finally {
      await this.#forget('logout');
    }
  }

  async #validToken(): Promise<TokenState> {
    const token = this.#token;
    if (token !== null && this.#now() < token.refreshAt) return token;
    return this.#refreshOnce(token?.generation ?? -1, true);
  }

  /**
   * Refreshes unless a newer token than `staleGeneration` is already there (someone else
   * refreshed while this caller waited), joining the refresh in flight if there is one.
   */
  #refreshOnce(staleGeneration: number, requireFresh: boolean): Promise<TokenState> {
    if (this.#inflight !== null) return this.#inflight;
    const token = this.#token;
    if (token !== null && token.generation !== staleGeneration && (!requireFresh || this.#now() < token.refreshAt)) {
      return Promise.resolve(token);
    }
    const flight = this.#doRefresh().finally(() => {
      if (this.#inflight === flight) this.#inflight = null;
    });
    this.#inflight = flight;
    return flight;
  }

  async #doRefresh(): Promise<TokenState> {
    if (this.#ended) throw new NotAuthenticatedError();
    const epoch = this.#epoch;
    const form = new URLSearchParams({ grant_type: 'refresh_token' });
    const store = this.#store;
    if (store !== null) {
      const refreshToken = await store.get();
      if (refreshToken === null || refreshToken.length === 0) throw new NotAuthenticatedError('no refresh token stored');
      form.set('refresh_token', refreshToken);
    }
    for (const resource of this.#sessionAudience) form.append('resource', resource);
    if (this.#clientId !== undefined) form.set('client_id', this.#clientId);
    this.#refreshCount += 1;
    const response = await this.#authCall('oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    if (!response.ok) {
      const details = await readErrorBody(response);
      if (epoch !== this.#epoch) throw new NotAuthenticatedError('logged out while refreshing');
      if (isSessionEnd(response, details, store === null)) {
        if (this.#token === null && store === null && details.serverError === 'invalid_request') {
          // Cookie mode, fresh page, no cookie: nobody was logged in, so nothing "ended".
          await this.#forget('logout');
          throw new NotAuthenticatedError('no session cookie: log in first');
        }
        const error = sessionEndError(details);
        await this.#forget('session_ended');
        this.#emitSessionEnded(error);
        throw error;
      }
      throw genericError('refresh failed', response, details);
    }
    const tokens = await readTokenResponse(response);
    if (epoch !== this.#epoch) throw new NotAuthenticatedError('logged out while refreshing');
    if (store !== null) {
      if (tokens.refresh_token === undefined) throw new ProtocolError('refresh answer has no refresh_token');
      await store.set(tokens.refresh_token);
    }
    return this.#setToken(tokens, 'refresh');
  }

  #setToken(tokens: TokenResponse, cause: 'login' | 'refresh'): TokenState {
    const receivedAt = this.#now();
    const claims = decodeJwtPayload(tokens.access_token);
    // Lifetime from the token's own iat/exp (or expires_in), measured from receipt on the
    // client clock: a client whose clock is off by minutes still refreshes on time.
    const lifetimeMs =
      claims !== null && typeof claims.exp === 'number' && typeof claims.iat === 'number' && claims.exp > claims.iat
        ? (claims.exp - claims.iat) * 1000
        : tokens.expires_in * 1000;
    const expiresAt = receivedAt + lifetimeMs;
    const refreshAt = expiresAt - Math.min(this.#refreshBeforeMs, lifetimeMs / 2);
    this.#generation += 1;
    this.#revokedHint = false;
    const state: TokenState = {
      accessToken: tokens.access_token,
      claims,
      expiresAt,
      refreshAt,
      generation: this.#generation,
    };
    this.#token = state;
    this.#emitTokenChange({ accessToken: state.accessToken, expiresAt, cause });
    return state;
  }

  async #forget(cause: 'logout' | 'session_ended'): Promise<void> {
    this.#epoch += 1;
    this.#ended = true;
    const had = this.#token !== null;
    this.#token = null;
    this.#inflight = null;
    if (this.#store !== null) await this.#store.set(null);
    if (had) this.#emitTokenChange({ accessToken: null, expiresAt: null, cause });
  }

  async #send(request: Request, accessToken: string): Promise<Response> {
    request.headers.set('authorization', `Bearer ${accessToken}`);
    try {
      return await this.#fetch(request);
    } catch (error) {
      // The caller's own AbortSignal fired: keep fetch's usual AbortError.
      if (error instanceof Error && error.name === 'AbortError' && request.signal.aborted) throw error;
      throw toTransportError(error, request.url);
    }
  }

  /** A call to the auth service itself (no bearer), with the request deadline. */
  async #authCall(path: string, init: RequestInit): Promise<Response> {
    const url = this.#url(path);
    try {
      return await this.#fetch(url, {
        ...this.#cookieInit(init),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw toTransportError(error, url.toString());
    }
  }

  #cookieInit(init: RequestInit): RequestInit {
    if (this.#storage !== 'cookie') return init;
    // The auth service refuses cookie-authenticated calls without this header (CSRF defence:
    // a cross-site form cannot set it, and a cross-origin script needs a CORS preflight).
    const headers = new Headers(init.headers);
    headers.set(CSRF_HEADER, '1');
    return { ...init, headers, credentials: 'include' };
  }

  #url(path: string): URL {
    return new URL(path, this.#authUrl);
  }

  #emitTokenChange(change: TokenChange): void {
    safeCall(this.#onTokenChange, change);
  }

  #emitSessionEnded(error: SessionRevokedError): void {
    const reason: SessionEndReason =
      error.code === 'ERR_REFRESH_TOKEN_REUSED'
        ? 'reuse_detected'
        : error.reason === 'session_revoked'
          ? 'revoked'
          : error.reason === 'session_expired'
            ? 'expired'
            : this.#revokedHint
              ? 'revoked'
              : 'refresh_rejected';
    this.#revokedHint = false;
    safeCall(this.#onSessionEnded, { reason, error });
  }
}

/** The `Prefer` header of {@link PropagationOptions}, or none. */
function preferHeaders(options: PropagationOptions): Record<string, string> {
  const wait = options.waitForPropagation;
  if (wait === undefined || wait === false) return {};
  const seconds = wait === true ? DEFAULT_PROPAGATION_WAIT_SECONDS : Math.max(0, Math.floor(wait));
  return Number.isFinite(seconds) ? { prefer: `wait=${seconds}` } : {};
}

/** The propagation report of a revoking answer, or null when the server applied no wait. Consumes the body. */
async function readPropagation(response: Response): Promise<PropagationReport | null> {
  if (!response.ok || response.headers.get('preference-applied') === null) {
    await response.body?.cancel().catch(() => undefined);
    return null;
  }
  const body = (await readJson(response)) as { propagation?: unknown } | null | undefined;
  const p = body?.propagation as Record<string, unknown> | undefined;
  if (p === undefined || p === null || typeof p !== 'object' || !Array.isArray(p['confirmed']) || !Array.isArray(p['pending'])) {
    throw new ProtocolError('the answer has Preference-Applied but no propagation report', { status: response.status });
  }
  const instance = (i: Record<string, unknown>): PropagationInstance => ({
    instance: String(i['instance']),
    service: String(i['service']),
    audiences: Array.isArray(i['audiences']) ? i['audiences'].map(String) : [],
  });
  return {
    events: Array.isArray(p['events']) ? (p['events'] as Array<Record<string, unknown>>).map((e) => ({ id: String(e['id']), type: String(e['type']) })) : [],
    complete: p['complete'] === true,
    confirmed: (p['confirmed'] as Array<Record<string, unknown>>).map((c) => ({ ...instance(c), ms: Number(c['ms']) })),
    pending: (p['pending'] as Array<Record<string, unknown>>).map(instance),
    slowestMs: typeof p['slowest_ms'] === 'number' ? p['slowest_ms'] : null,
    waitedMs: typeof p['waited_ms'] === 'number' ? p['waited_ms'] : 0,
  };
}

/** Creates a {@link RevocableClient}. */
export function createClient(options: RevocableClientOptions): RevocableClient {
  return new RevocableClient(options);
}

/** An explicit audience list plus the account audience; an empty list stays empty (the server's defaults). */
function withAccount(audience: readonly string[], account: string | null): readonly string[] {
  if (audience.length === 0 || account === null || audience.includes(account)) return audience;
  return [...audience, account];
}

function toList(audience: string | readonly string[] | undefined): readonly string[] {
  if (audience === undefined) return [];
  return typeof audience === 'string' ? [audience] : [...audience];
}

function toTransportError(error: unknown, url: string): RevocableClientError {
  if (error instanceof RevocableClientError) return error;
  const name = error instanceof Error ? error.name : '';
  if (name === 'TimeoutError') return new TimeoutError(`no answer from ${originOf(url)} in time`, { cause: error });
  if (name === 'AbortError') return new NetworkError(`request to ${originOf(url)} aborted`, { cause: error });
  return new NetworkError(`could not reach ${originOf(url)}`, { cause: error });
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the server';
  }
}

// An app's callback must not break token handling; its failure is still reported.
function safeCall<T>(callback: ((value: T) => void) | undefined, value: T): void {
  if (callback === undefined) return;
  try {
    callback(value);
  } catch (error) {
    console.error('revocable client: callback threw', error);
  }
}
