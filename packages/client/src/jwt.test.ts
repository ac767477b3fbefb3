import { describe, expect, it } from 'vitest';
import { decodeJwtPayload } from './jwt.ts';

function b64url(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64url');
}

describe('decodeJwtPayload', () => {
  it('reads the claims of a compact JWT, including non-ASCII text', () => {
    const token = `${b64url('{"alg":"EdDSA"}')}.${b64url('{"sub":"u1","sid":"s1","exp":100,"name":"Zoë ✓"}')}.c2ln`;
    expect(decodeJwtPayload(token)).toEqual({ sub: 'u1', sid: 's1', exp: 100, name: 'Zoë ✓' });
  });

  it('returns null for anything that is not a readable JWT payload object', () => {
    expect(decodeJwtPayload('opaque-token')).toBeNull();
    expect(decodeJwtPayload('a.b')).toBeNull();
    expect(decodeJwtPayload('a..c')).toBeNull();
    expect(decodeJwtPayload(`x.${b64url('not json')}.y`)).toBeNull();
    expect(decodeJwtPayload(`x.${b64url('[1,2]')}.y`)).toBeNull();
    expect(decodeJwtPayload(`x.${b64url('null')}.y`)).toBeNull();
    expect(decodeJwtPayload('x.a+b/.y')).toBeNull();
  });
});
