import { describe, expect, it } from 'vitest';
import { normalisePath } from './path.ts';

describe('normalisePath', () => {
  it.each([
    ['/orders', '/orders'],
    ['/orders/', '/orders/'],
    ['/orders?x=1&y=/../admin', '/orders'],
    ['/orders#frag', '/orders'],
    ['//orders///1', '/orders/1'],
    ['/public/../admin', '/admin'],
    ['/public/./x/../y', '/public/y'],
    ['/public/%2e%2e/admin', '/admin'],
    ['/public/%2E%2E/admin', '/admin'],
    ['/public/.%2e/admin', '/admin'],
    ['/caf%C3%A9', '/café'],
    ['/a/b/..', '/a'],
    ['/public/..', '/'],
    ['http://example.test/public/../admin?q', '/admin'],
    ['/', '/'],
  ])('%s → %s', (input, expected) => {
    expect(normalisePath(input)).toEqual({ ok: true, path: expected });
  });

  it.each([
    [undefined, 'missing_uri'],
    ['', 'missing_uri'],
    ['orders', 'invalid_uri'],
    ['*', 'invalid_uri'],
    ['/..', 'path_traversal'],
    ['/public/../../admin', 'path_traversal'],
    ['/public%2F..%2Fadmin', 'encoded_separator'],
    ['/public/..%2fadmin', 'encoded_separator'],
    ['/public/..%5cadmin', 'encoded_separator'],
    ['/public\\..\\admin', 'ambiguous_encoding'],
    ['/public/%252e%252e/admin', 'ambiguous_encoding'],
    ['/public/..;/admin', 'ambiguous_encoding'],
    ['/admin;jsessionid=1', 'ambiguous_encoding'],
    ['/public/%3b/x', 'ambiguous_encoding'],
    ['/bad%zz', 'invalid_uri'],
    ['/bad%', 'invalid_uri'],
    ['/bad%C3', 'invalid_uri'],
    ['/nul%00x', 'invalid_uri'],
    ['/space here', 'invalid_uri'],
    ['/tab\there', 'invalid_uri'],
    ['/quote"x', 'invalid_uri'],
  ])('%s is refused: %s', (input, reason) => {
    expect(normalisePath(input)).toEqual({ ok: false, reason });
  });

  it('refuses a target longer than the limit', () => {
    expect(normalisePath(`/${'a'.repeat(5000)}`)).toEqual({ ok: false, reason: 'uri_too_long' });
    expect(normalisePath(`/${'a'.repeat(100)}`, 64)).toEqual({ ok: false, reason: 'uri_too_long' });
    expect(normalisePath(`/${'a'.repeat(60)}`, 64)).toEqual({ ok: true, path: `/${'a'.repeat(60)}` });
  });
});
