import { describe, expect, it } from 'vitest';
import { matchRoute, parseRoutesFile, RoutesFileError } from './routes.ts';

const file = parseRoutesFile({
  routes: [
    { prefix: '/public', public: true },
    { prefix: '/api/orders', methods: ['GET', 'HEAD'], audience: 'orders', scopes: ['orders:read'], freshness: { maxSeconds: 30, policy: 'fail-open' } },
    { prefix: '/api/orders', audience: 'orders', scopes: ['orders:write'] },
    { prefix: '/api/orders/export', audience: 'orders', scopes: ['orders:export'], freshness: false },
    { prefix: '/api/', audience: 'api' },
  ],
});

describe('routes file', () => {
  it('matches the longest prefix on segment boundaries, filtered by method', () => {
    const at = (method: string, path: string) => matchRoute(file.routes, method, path)?.index ?? null;
    expect(at('GET', '/public')).toBe(0);
    expect(at('POST', '/public/x')).toBe(0);
    expect(at('GET', '/publicity')).toBeNull();
    expect(at('GET', '/api/orders/1')).toBe(1);
    expect(at('HEAD', '/api/orders')).toBe(1);
    expect(at('DELETE', '/api/orders/1')).toBe(2);
    expect(at('GET', '/api/orders/export/2026')).toBe(3);
    expect(at('GET', '/api/ordersx')).toBe(4);
    expect(at('GET', '/api')).toBeNull();
    expect(at('GET', '/')).toBeNull();
  });

  it('keeps what each rule needs, with the default identity header names', () => {
    expect(file.identityHeaders).toEqual({ subject: 'X-Auth-Subject', session: 'X-Auth-Session', scope: 'X-Auth-Scope', client: 'X-Auth-Client' });
    expect(file.routes[1]).toMatchObject({ audience: 'orders', scopes: ['orders:read'], freshness: { maxSeconds: 30, policy: 'fail-open' } });
    expect(file.routes[2]?.freshness).toBeUndefined();
    expect(file.routes[3]?.freshness).toBe(false);
    expect(file.routes[0]).toMatchObject({ public: true, audience: null });
  });

  it('takes other identity header names', () => {
    const custom = parseRoutesFile({ identityHeaders: { subject: 'X-User', client: 'X-Client-Id' }, routes: [{ prefix: '/', audience: 'a' }] });
    expect(custom.identityHeaders).toEqual({ subject: 'X-User', session: 'X-Auth-Session', scope: 'X-Auth-Scope', client: 'X-Client-Id' });
  });

  it.each([
    [null, '(root): must be a JSON object with a "routes" array'],
    [{ routes: [] }, 'routes: must be a non-empty array of rules'],
    [{ routes: [{ prefix: '/' , audience: 'a' }], extra: 1 }, 'extra: unknown field (expected "routes" and optionally "identityHeaders")'],
    [{ routes: [{ prefix: 'api', audience: 'a' }] }, 'routes[0].prefix: must be a path starting with "/"'],
    [{ routes: [{ prefix: '/public/../admin', public: true }] }, 'routes[0].prefix: must be a plain normalised path (no "//", ".", "..", "%", ";", "\\", "?" or "#")'],
    [{ routes: [{ prefix: '/a//b', public: true }] }, 'routes[0].prefix: must be a plain normalised path (no "//", ".", "..", "%", ";", "\\", "?" or "#")'],
    [{ routes: [{ prefix: '/a%2e', public: true }] }, 'routes[0].prefix: must be a plain normalised path (no "//", ".", "..", "%", ";", "\\", "?" or "#")'],
    [{ routes: [{ prefix: '/a' }] }, 'routes[0].audience: required unless "public": true; a name like "orders"'],
    [{ routes: [{ prefix: '/a', audience: 'a', scope: ['x'] }] }, 'routes[0].scope: unknown field (expected prefix, methods, public, audience, scopes, freshness)'],
    [{ routes: [{ prefix: '/a', audience: 'a', methods: ['get'] }] }, 'routes[0].methods: must be a non-empty array of upper-case methods like ["GET", "HEAD"]'],
    [{ routes: [{ prefix: '/a', audience: 'a', scopes: 'x' }] }, 'routes[0].scopes: must be an array of OAuth scope names like ["orders:write"]'],
    [{ routes: [{ prefix: '/a', audience: 'a', scopes: ['a b'] }] }, 'routes[0].scopes: must be an array of OAuth scope names like ["orders:write"]'],
    [{ routes: [{ prefix: '/a', audience: 'a', freshness: { maxSeconds: 0, policy: 'fail-open' } }] }, 'routes[0].freshness.maxSeconds: must be a number of seconds between 0 (exclusive) and 86400'],
    [{ routes: [{ prefix: '/a', audience: 'a', freshness: { maxSeconds: 5, policy: 'open' } }] }, 'routes[0].freshness.policy: must be "fail-closed", "fail-open" or "introspect"'],
    [{ routes: [{ prefix: '/a', audience: 'a', freshness: true }] }, 'routes[0].freshness: must be false or {"maxSeconds": 10, "policy": "fail-closed"}'],
    [{ routes: [{ prefix: '/a', public: true, scopes: ['x'] }] }, 'routes[0].scopes: a public rule takes no audience, scopes or freshness'],
    [{ routes: [{ prefix: '/a', public: 'yes' }] }, 'routes[0].public: must be true or false'],
    [{ identityHeaders: { subject: 'X User' }, routes: [{ prefix: '/', audience: 'a' }] }, 'identityHeaders.subject: must be an HTTP header name like X-Auth-Subject'],
    [{ identityHeaders: { user: 'X-User' }, routes: [{ prefix: '/', audience: 'a' }] }, 'identityHeaders.user: unknown field (expected subject, session, scope, client)'],
    [{ identityHeaders: { subject: 'x-auth-session' }, routes: [{ prefix: '/', audience: 'a' }] }, 'identityHeaders: header names must differ from each other'],
  ])('refuses %j with one line', (input, message) => {
    const error = (() => {
      try {
        parseRoutesFile(input);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(RoutesFileError);
    expect((error as RoutesFileError).code).toBe('ERR_GATE_ROUTES');
    expect((error as Error).message).toBe(message);
    expect((error as Error).message).not.toContain('\n');
  });
});
