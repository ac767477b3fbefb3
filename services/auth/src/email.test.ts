import { describe, expect, it } from 'vitest';
import { AuthError } from './errors.ts';
import { normalizeEmail } from './services/email.ts';

describe('normalizeEmail', () => {
  it('normalises case, whitespace and Unicode form', () => {
    expect(normalizeEmail('  Alice@Example.COM ')).toBe('alice@example.com');
    expect(normalizeEmail('Jose\u0301@example.com')).toBe('jos\u00e9@example.com');
    expect(normalizeEmail("o'hara@example.com")).toBe("o'hara@example.com");
    expect(normalizeEmail('用户@例子.广告')).toBe('用户@例子.广告');
  });

  it.each([
    ['no at', 'alice.example.com'],
    ['two ats', 'a@b@example.com'],
    ['no domain dot', 'alice@localhost'],
    ['space', 'ali ce@example.com'],
    ['NUL', 'a\u0000@example.com'],
    ['control', 'a\u0007@example.com'],
    ['bidi override', 'a\u202e@example.com'],
    ['zero width', 'a\u200b@example.com'],
    ['lone surrogate', '\ud800@example.com'],
    ['double dot', 'a..b@example.com'],
    ['too long', `${'a'.repeat(64)}@${'b'.repeat(190)}.com`],
    ['local part too long', `${'a'.repeat(65)}@example.com`],
  ])('refuses %s', (_name, input) => {
    expect(() => normalizeEmail(input)).toThrow(AuthError);
    try {
      normalizeEmail(input);
    } catch (error) {
      expect((error as AuthError).code).toBe('ERR_AUTH_INVALID_EMAIL');
    }
  });
});
