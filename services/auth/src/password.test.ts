import { describe, expect, it } from 'vitest';
import { createPasswordHasher } from './password.ts';

describe('scrypt password hasher', () => {
  const hasher = createPasswordHasher(10);

  it('verifies the right password and refuses others', async () => {
    const stored = await hasher.hash('correct horse');
    expect(stored).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/);
    expect(await hasher.verify('correct horse', stored)).toBe(true);
    expect(await hasher.verify('correct horsf', stored)).toBe(false);
    expect(await hasher.verify('', stored)).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hasher.hash('same')).not.toBe(await hasher.hash('same'));
  });

  it('normalises Unicode (NFKC) so composed and decomposed input match', async () => {
    const stored = await hasher.hash('caf\u00e9');
    expect(await hasher.verify('cafe\u0301', stored)).toBe(true);
  });

  it('refuses malformed or out-of-range stored hashes instead of throwing', async () => {
    for (const bad of ['', 'plain', '$scrypt$ln=40,r=8,p=1$AAAA$AAAA', '$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA']) {
      expect(await hasher.verify('x', bad)).toBe(false);
    }
  });

  it('keeps verifying hashes made at another cost (parameters travel with the hash)', async () => {
    const stronger = createPasswordHasher(12);
    const stored = await stronger.hash('migrate me');
    expect(await hasher.verify('migrate me', stored)).toBe(true);
  });

  it('runs at the OWASP default cost (N = 2^17) with raised maxmem', async () => {
    const owasp = createPasswordHasher(17);
    const stored = await owasp.hash('p');
    expect(stored.startsWith('$scrypt$ln=17,r=8,p=1$')).toBe(true);
    expect(await owasp.verify('p', stored)).toBe(true);
  });

  it('spends a verification on unknown accounts and always answers false', async () => {
    expect(await hasher.verifyDummy('anything')).toBe(false);
  });
});
