import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { looksLikeRefreshToken, newRefreshToken, open, safeEqual, seal, subkey, successorRefreshToken } from './crypto.ts';

describe('crypto helpers', () => {
  const key = randomBytes(32);

  it('AES-256-GCM round-trips and binds the AAD', () => {
    const sealed = seal(key, Buffer.from('private jwk'), 'kid-1');
    expect(open(key, sealed, 'kid-1').toString()).toBe('private jwk');
    expect(() => open(key, sealed, 'kid-2')).toThrow();
    expect(() => open(randomBytes(32), sealed, 'kid-1')).toThrow();
    const tampered = { ...sealed, ciphertext: Buffer.from(sealed.ciphertext) };
    tampered.ciphertext[0] = (tampered.ciphertext[0] as number) ^ 1;
    expect(() => open(key, tampered, 'kid-1')).toThrow();
  });

  it('makes 256-bit opaque refresh tokens', () => {
    const token = newRefreshToken();
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(looksLikeRefreshToken(token)).toBe(true);
    expect(looksLikeRefreshToken(`${token}x`)).toBe(false);
    expect(looksLikeRefreshToken("';--")).toBe(false);
  });

  it('derives one stable successor per token, different per key', () => {
    const token = newRefreshToken();
    const k = subkey(key, 'refresh-successor');
    expect(successorRefreshToken(k, token)).toBe(successorRefreshToken(k, token));
    expect(successorRefreshToken(k, token)).not.toBe(token);
    expect(successorRefreshToken(subkey(key, 'other'), token)).not.toBe(successorRefreshToken(k, token));
    expect(looksLikeRefreshToken(successorRefreshToken(k, token))).toBe(true);
  });

  it('compares strings in constant time', () => {
    expect(safeEqual('admin-token', 'admin-token')).toBe(true);
    expect(safeEqual('admin-token', 'admin-tokem')).toBe(false);
    expect(safeEqual('admin-token', 'admin')).toBe(false);
  });
});
