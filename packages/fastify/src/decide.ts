import {
  INSUFFICIENT_SCOPE,
  type BearerFailure,
  type DenialKind,
  type TokenRejectReason,
  type UnauthorizedReason,
  type UnavailableReason,
} from '@revocable/protocol';
import type { AuthContext } from './verifier.ts';

/** What a route does when the revocation state is older than its freshness bound. */
export type FreshnessPolicy = 'fail-closed' | 'fail-open' | 'introspect';

/** A bound on how old the revocation state may be for a route, and what to do past it. */
export interface FreshnessRequirement {
  /** Largest acceptable age of the revocation state, seconds. */
  maxSeconds: number;
  /**
   * `fail-closed`: answer 503. `fail-open`: serve and log a warning (counted as
   * `allowed_stale`). `introspect`: ask the auth service (RFC 7662); 503 if it cannot answer.
   */
  policy: FreshnessPolicy;
}

/** Per-route options, given as `config: { auth: {...} }` on a route. */
export interface RouteAuthOptions {
  /** No token needed (health checks, public pages). Default false: every route requires a token. */
  public?: boolean;
  /** Every listed scope must be in the token's `scope`, else 403 `insufficient_scope`. */
  scopes?: readonly string[];
  /** Overrides the plugin-wide freshness requirement; `false` turns the check off for this route. */
  freshness?: FreshnessRequirement | false;
}

/** A protected route's policy once the route's options and the plugin's defaults are merged. */
export interface RoutePolicy {
  /** Scopes the token must all carry (empty: none). */
  scopes: readonly string[];
  /** The freshness bound, or `undefined` when the route has none. */
  freshness: FreshnessRequirement | undefined;
}

/**
 * What is known about the request's token when the decision is made:
 * - `unchecked`: not looked at (the instance is not ready; no verification work was spent);
 * - `unusable`: the `Authorization` header carried no usable bearer token;
 * - `keys_unavailable`: the signing keys could not be resolved (our problem, not the token's);
 * - `rejected`: verification refused the token for `reason`;
 * - `revoked`: validly issued, denied by the denylist entry of kind `by`;
 * - `valid`: verified and not denied.
 */
export type TokenState =
  | { kind: 'unchecked' }
  | { kind: 'unusable'; reason: BearerFailure }
  | { kind: 'keys_unavailable' }
  | { kind: 'rejected'; reason: Exclude<TokenRejectReason, 'keys_unavailable'> }
  | { kind: 'revoked'; by: DenialKind }
  | { kind: 'valid'; context: AuthContext };

/** The revocation state as the decision sees it. */
export interface FreshnessState {
  /** The consumer replayed up to the high watermarks seen at start. */
  ready: boolean;
  /** Age of the revocation state, seconds (`Infinity` before any heartbeat). */
  ageSeconds: number;
  /**
   * The denylist refused a revocation at its cap and may miss it (`Denylist.failingClosed()`):
   * no token it does not deny by itself may be served from local state.
   */
  overflow?: boolean;
  /**
   * With `overflow`: seconds until the denylist stops failing closed, the `Retry-After` of the
   * 503 (at least 1). Default 1.
   */
  overflowRetryAfterSeconds?: number;
  /**
   * The issuer's RFC 7662 answer, once asked: present only on the second decision after a
   * first one answered `introspect`.
   */
  introspection?: 'active' | 'inactive' | 'failed';
}

/** An authentication/authorisation failure; {@link authFailureResponse} turns it into the HTTP answer. */
export type AuthFailure =
  | { status: 401; reason: UnauthorizedReason }
  | { status: 403; scopes: readonly string[] }
  | { status: 503; reason: UnavailableReason; /** `Retry-After`, seconds; default 1. */ retryAfterSeconds?: number };

/** `outcome` label of `revocable_requests_total`. */
export type RequestOutcome = 'allowed' | 'allowed_stale' | 'unauthorized' | 'forbidden' | 'unavailable';

/** The labels one request is counted under in `revocable_requests_total`. */
export interface RequestCount {
  readonly outcome: RequestOutcome;
  /** `ok`, a refusal reason, or `revoked_<kind>` / `revoked_introspection` for revocations. */
  readonly reason: string;
}

/**
 * What the request path does:
 * - `allow`: serve with `context`; `stale` is set when served past a fail-open bound;
 * - `deny`: answer `failure`;
 * - `introspect`: ask the issuer, then decide again with {@link FreshnessState.introspection}.
 * `count` is the metric sample of the request (absent on `introspect`, which is not final).
 */
export type Decision =
  | { verdict: 'allow'; context: AuthContext; count: RequestCount; stale?: { ageSeconds: number; maxSeconds: number } }
  | { verdict: 'deny'; failure: AuthFailure; count: RequestCount }
  | { verdict: 'introspect' };

// Denials carry no per-request data (the 403's scopes are the route's own), so they are
// built once: the request path allocates nothing to refuse.
type Deny = Extract<Decision, { verdict: 'deny' }>;
const deny = (failure: AuthFailure, outcome: RequestOutcome, reason: string): Deny =>
  Object.freeze({ verdict: 'deny', failure: Object.freeze(failure), count: Object.freeze({ outcome, reason }) });

const NOT_READY = deny({ status: 503, reason: 'not_ready' }, 'unavailable', 'not_ready');
const KEYS_UNAVAILABLE = deny({ status: 503, reason: 'keys_unavailable' }, 'unavailable', 'keys_unavailable');
const STALE = deny({ status: 503, reason: 'stale_revocation_state' }, 'unavailable', 'stale_revocation_state');
const OVERFLOW = deny({ status: 503, reason: 'denylist_overflow' }, 'unavailable', 'denylist_overflow');
const INTROSPECTION_FAILED = deny({ status: 503, reason: 'introspection_failed' }, 'unavailable', 'introspection_failed');
const REVOKED_BY_INTROSPECTION = deny({ status: 401, reason: 'revoked' }, 'unauthorized', 'revoked_introspection');
const REVOKED: Record<DenialKind, Deny> = {
  session: deny({ status: 401, reason: 'revoked' }, 'unauthorized', 'revoked_session'),
  user: deny({ status: 401, reason: 'revoked' }, 'unauthorized', 'revoked_user'),
  token: deny({ status: 401, reason: 'revoked' }, 'unauthorized', 'revoked_token'),
  key: deny({ status: 401, reason: 'revoked' }, 'unauthorized', 'revoked_key'),
};
const UNAUTHORIZED = new Map<UnauthorizedReason, Deny>();
const unauthorized = (reason: UnauthorizedReason): Deny => {
  let found = UNAUTHORIZED.get(reason);
  if (found === undefined) {
    found = deny({ status: 401, reason }, 'unauthorized', reason);
    UNAUTHORIZED.set(reason, found);
  }
  return found;
};
const FORBIDDEN = new WeakMap<readonly string[], Deny>();
const forbidden = (scopes: readonly string[]): Deny => {
  let found = FORBIDDEN.get(scopes);
  if (found === undefined) {
    found = deny({ status: 403, scopes }, 'forbidden', INSUFFICIENT_SCOPE);
    FORBIDDEN.set(scopes, found);
  }
  return found;
};
const INTROSPECT: Decision = Object.freeze({ verdict: 'introspect' });
const COUNT_ALLOWED: RequestCount = Object.freeze({ outcome: 'allowed', reason: 'ok' });
const COUNT_ALLOWED_STALE: RequestCount = Object.freeze({ outcome: 'allowed_stale', reason: 'ok' });

/**
 * The request-path decision of a protected route, as a pure function: no I/O, no clock,
 * no metric, no reply. The caller gathers the inputs (verifies the token, reads the
 * consumer's readiness and freshness), executes the answer, and calls again with the
 * issuer's answer when the first decision is `introspect`.
 *
 * Order of the checks (the first that applies wins): not ready → 503 `not_ready`; no usable
 * bearer token → 401; keys unavailable → 503; rejected or revoked → 401; missing scope →
 * 403; denylist overflow → 503 `denylist_overflow` on every route, except that an
 * `introspect` route asks the issuer (a missing revocation is not staleness: fail-open does
 * not serve through it); state older than the route's freshness bound → its policy
 * (fail-closed 503, fail-open serve, introspect ask); else allow.
 *
 * @example
 * ```ts
 * const d = decide({ kind: 'valid', context }, { scopes: [], freshness: undefined }, { ready: true, ageSeconds: 0.4 });
 * // d.verdict === 'allow'
 * ```
 */
export function decide(token: TokenState, route: RoutePolicy, freshness: FreshnessState): Decision {
  // Before the replay reached the start watermarks the denylist is incomplete: serving would
  // let a token revoked while this instance was down through. A token that was not looked
  // at is never allowed, whatever the readiness flag says.
  if (!freshness.ready || token.kind === 'unchecked') return NOT_READY;
  switch (token.kind) {
    case 'unusable':
      return unauthorized(token.reason);
    case 'keys_unavailable':
      // A 401 would make clients throw away good tokens.
      return KEYS_UNAVAILABLE;
    case 'rejected':
      return unauthorized(token.reason);
    case 'revoked':
      return REVOKED[token.by];
    case 'valid':
      break;
  }
  const { context } = token;
  for (const scope of route.scopes) {
    if (!context.scopes.has(scope)) return forbidden(route.scopes);
  }
  const bound = route.freshness;
  if (freshness.overflow === true) {
    if (bound?.policy !== 'introspect') {
      const retry = freshness.overflowRetryAfterSeconds;
      // Built per request only while an overflow is in force: the answer says how long it lasts.
      return retry === undefined ? OVERFLOW : deny({ status: 503, reason: 'denylist_overflow', retryAfterSeconds: retry }, 'unavailable', 'denylist_overflow');
    }
    return introspected(context, freshness.introspection);
  }
  if (bound !== undefined && freshness.ageSeconds > bound.maxSeconds) {
    switch (bound.policy) {
      case 'fail-closed':
        return STALE;
      case 'fail-open':
        return { verdict: 'allow', context, count: COUNT_ALLOWED_STALE, stale: { ageSeconds: freshness.ageSeconds, maxSeconds: bound.maxSeconds } };
      case 'introspect':
        return introspected(context, freshness.introspection);
    }
  }
  return { verdict: 'allow', context, count: COUNT_ALLOWED };
}

/** An `introspect` route whose local state cannot decide: ask, then follow the issuer's answer. */
function introspected(context: AuthContext, introspection: FreshnessState['introspection']): Decision {
  switch (introspection) {
    case undefined:
      return INTROSPECT;
    case 'active':
      return { verdict: 'allow', context, count: COUNT_ALLOWED };
    case 'inactive':
      return REVOKED_BY_INTROSPECTION;
    case 'failed':
      return INTROSPECTION_FAILED;
  }
}
