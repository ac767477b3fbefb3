import { describe, expect, it } from 'vitest';
import { DENIAL_KINDS, TOKEN_REJECT_REASONS } from '@revocable/protocol';
import { decide, type FreshnessState, type RoutePolicy, type TokenState } from './decide.ts';
import { authFailureResponse } from './response.ts';
import type { AuthContext } from './verifier.ts';

const context = (scopes: string[] = []): AuthContext => ({
  claims: { iss: 'https://auth.test', sub: 'u', aud: 'orders', exp: 2, iat: 1, jti: 'j', sid: 's', ver: 1, client_id: 'c' } as AuthContext['claims'],
  kid: 'k',
  alg: 'EdDSA',
  scopes: new Set(scopes),
});
const valid = (scopes: string[] = []): TokenState => ({ kind: 'valid', context: context(scopes) });
const open: RoutePolicy = { scopes: [], freshness: undefined };
const fresh: FreshnessState = { ready: true, ageSeconds: 1 };
const stale: FreshnessState = { ready: true, ageSeconds: 30 };
const bound = (policy: 'fail-closed' | 'fail-open' | 'introspect'): RoutePolicy => ({ scopes: [], freshness: { maxSeconds: 10, policy } });

describe('decide', () => {
  it('answers 503 not_ready before the replay caught up, whatever the token', () => {
    for (const token of [valid(), { kind: 'unchecked' } as const, { kind: 'unusable', reason: 'missing_token' } as const, { kind: 'revoked', by: 'session' } as const]) {
      expect(decide(token, open, { ready: false, ageSeconds: 0 })).toMatchObject({
        verdict: 'deny',
        failure: { status: 503, reason: 'not_ready' },
        count: { outcome: 'unavailable', reason: 'not_ready' },
      });
    }
  });

  it('answers 503 denylist_overflow on an overflowed denylist for every route but introspect, after the 401s and 403s', () => {
    const overflow: FreshnessState = { ready: true, ageSeconds: 1, overflow: true };
    for (const route of [open, bound('fail-closed'), bound('fail-open')]) {
      expect(decide(valid(), route, overflow)).toEqual({
        verdict: 'deny',
        failure: { status: 503, reason: 'denylist_overflow' },
        count: { outcome: 'unavailable', reason: 'denylist_overflow' },
      });
    }
    // With the time the overflow still holds, the 503 carries it (Retry-After).
    const held = decide(valid(), open, { ...overflow, overflowRetryAfterSeconds: 1740 });
    expect(held).toMatchObject({ failure: { status: 503, reason: 'denylist_overflow', retryAfterSeconds: 1740 } });
    if (held.verdict !== 'deny') throw new Error('expected a denial');
    expect(authFailureResponse(held.failure).headers['retry-after']).toBe('1740');
    expect(authFailureResponse({ status: 503, reason: 'not_ready' }).headers['retry-after']).toBe('1');
    // What the denylist still knows is still answered: revoked, rejected, missing scope.
    expect(decide({ kind: 'revoked', by: 'session' }, open, overflow)).toMatchObject({ failure: { status: 401, reason: 'revoked' } });
    expect(decide({ kind: 'rejected', reason: 'expired' }, open, overflow)).toMatchObject({ failure: { status: 401, reason: 'expired' } });
    expect(decide(valid(), { scopes: ['orders:write'], freshness: undefined }, overflow)).toMatchObject({ failure: { status: 403 } });
    // An introspect route asks the issuer even when the state is fresh, and follows its answer.
    expect(decide(valid(), bound('introspect'), overflow)).toEqual({ verdict: 'introspect' });
    expect(decide(valid(), bound('introspect'), { ...overflow, introspection: 'active' })).toMatchObject({ verdict: 'allow', count: { outcome: 'allowed' } });
    expect(decide(valid(), bound('introspect'), { ...overflow, introspection: 'inactive' })).toMatchObject({ failure: { status: 401, reason: 'revoked' } });
    expect(decide(valid(), bound('introspect'), { ...overflow, introspection: 'failed' })).toMatchObject({ failure: { status: 503, reason: 'introspection_failed' } });
  });

  it('never allows a token that was not looked at, even when ready', () => {
    expect(decide({ kind: 'unchecked' }, open, fresh)).toMatchObject({ verdict: 'deny', failure: { status: 503, reason: 'not_ready' } });
  });

  it('answers 401 with the bearer grammar reason when there is no usable token', () => {
    for (const reason of ['missing_token', 'malformed', 'token_too_large'] as const) {
      expect(decide({ kind: 'unusable', reason }, open, fresh)).toEqual({
        verdict: 'deny',
        failure: { status: 401, reason },
        count: { outcome: 'unauthorized', reason },
      });
    }
  });

  it('answers 401 with the verification reason for every rejected token', () => {
    for (const reason of TOKEN_REJECT_REASONS) {
      if (reason === 'keys_unavailable') continue;
      expect(decide({ kind: 'rejected', reason }, open, fresh)).toEqual({
        verdict: 'deny',
        failure: { status: 401, reason },
        count: { outcome: 'unauthorized', reason },
      });
    }
  });

  it('answers 503 keys_unavailable (not 401) when the keys cannot be resolved', () => {
    expect(decide({ kind: 'keys_unavailable' }, open, fresh)).toEqual({
      verdict: 'deny',
      failure: { status: 503, reason: 'keys_unavailable' },
      count: { outcome: 'unavailable', reason: 'keys_unavailable' },
    });
  });

  it('answers 401 revoked for every denial kind, counted by kind', () => {
    for (const by of DENIAL_KINDS) {
      expect(decide({ kind: 'revoked', by }, open, fresh)).toEqual({
        verdict: 'deny',
        failure: { status: 401, reason: 'revoked' },
        count: { outcome: 'unauthorized', reason: `revoked_${by}` },
      });
    }
  });

  it('answers 403 with the route scopes when one is missing, and allows when all are there', () => {
    const route: RoutePolicy = { scopes: ['orders:read', 'orders:write'], freshness: undefined };
    expect(decide(valid(['orders:read']), route, fresh)).toEqual({
      verdict: 'deny',
      failure: { status: 403, scopes: ['orders:read', 'orders:write'] },
      count: { outcome: 'forbidden', reason: 'insufficient_scope' },
    });
    expect(decide(valid(['orders:write', 'orders:read', 'x']), route, fresh)).toMatchObject({ verdict: 'allow', count: { outcome: 'allowed', reason: 'ok' } });
  });

  it('checks scopes before freshness', () => {
    expect(decide(valid(), { scopes: ['a'], freshness: { maxSeconds: 10, policy: 'fail-closed' } }, stale)).toMatchObject({ failure: { status: 403 } });
  });

  it('allows a valid token with its context when no bound applies or the state is fresh enough', () => {
    const token = valid();
    const allowed = decide(token, open, stale);
    expect(allowed).toEqual({ verdict: 'allow', context: token.kind === 'valid' ? token.context : null, count: { outcome: 'allowed', reason: 'ok' } });
    for (const policy of ['fail-closed', 'fail-open', 'introspect'] as const) {
      expect(decide(valid(), bound(policy), fresh)).toMatchObject({ verdict: 'allow', count: { outcome: 'allowed' } });
      // Exactly at the bound is still fresh.
      expect(decide(valid(), bound(policy), { ready: true, ageSeconds: 10 })).toMatchObject({ verdict: 'allow', count: { outcome: 'allowed' } });
    }
  });

  it('fail-closed past the bound: 503 stale_revocation_state', () => {
    expect(decide(valid(), bound('fail-closed'), stale)).toEqual({
      verdict: 'deny',
      failure: { status: 503, reason: 'stale_revocation_state' },
      count: { outcome: 'unavailable', reason: 'stale_revocation_state' },
    });
    // Before any heartbeat the age is infinite.
    expect(decide(valid(), bound('fail-closed'), { ready: true, ageSeconds: Number.POSITIVE_INFINITY })).toMatchObject({ failure: { reason: 'stale_revocation_state' } });
  });

  it('fail-open past the bound: serves, counted allowed_stale, with the ages for the warning', () => {
    expect(decide(valid(), bound('fail-open'), stale)).toMatchObject({
      verdict: 'allow',
      count: { outcome: 'allowed_stale', reason: 'ok' },
      stale: { ageSeconds: 30, maxSeconds: 10 },
    });
  });

  it('introspect past the bound: asks first, then follows the issuer', () => {
    expect(decide(valid(), bound('introspect'), stale)).toEqual({ verdict: 'introspect' });
    expect(decide(valid(), bound('introspect'), { ...stale, introspection: 'active' })).toMatchObject({ verdict: 'allow', count: { outcome: 'allowed', reason: 'ok' } });
    expect(decide(valid(), bound('introspect'), { ...stale, introspection: 'inactive' })).toEqual({
      verdict: 'deny',
      failure: { status: 401, reason: 'revoked' },
      count: { outcome: 'unauthorized', reason: 'revoked_introspection' },
    });
    expect(decide(valid(), bound('introspect'), { ...stale, introspection: 'failed' })).toEqual({
      verdict: 'deny',
      failure: { status: 503, reason: 'introspection_failed' },
      count: { outcome: 'unavailable', reason: 'introspection_failed' },
    });
  });

  it('a refused token is refused on a stale introspect route without asking the issuer', () => {
    expect(decide({ kind: 'revoked', by: 'user' }, bound('introspect'), stale)).toMatchObject({ verdict: 'deny', failure: { status: 401 } });
  });
});
