import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { DENIAL_KINDS, EVENT_REJECT_CODES, HEARTBEAT_REJECT_CODES, MAX_AUTHORIZATION_HEADER_LENGTH, SKIP_CODES, isToken68, locateBearer, parseBearer } from './index.ts';

// The grammar the verifier used before this parser existed (RFC 6750 b64token); the parser
// must agree with it on every input.
const REFERENCE = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

function reference(header: string | undefined): ReturnType<typeof parseBearer> {
  if (header === undefined || header.length === 0) return { ok: false, reason: 'missing_token' };
  if (header.length > MAX_AUTHORIZATION_HEADER_LENGTH) return { ok: false, reason: 'token_too_large' };
  // RFC 6750 §3.1: credentials of another scheme are no bearer credentials at all.
  if (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?: |$)/.test(header) && !/^bearer/i.test(header)) return { ok: false, reason: 'missing_token' };
  const match = REFERENCE.exec(header);
  return match?.[1] !== undefined ? { ok: true, token: match[1] } : { ok: false, reason: 'malformed' };
}

describe('parseBearer', () => {
  it('returns the token of well-formed credentials, scheme in any case, spaces around', () => {
    expect(parseBearer('Bearer abc.def-ghi_jkl~m+n/o==')).toEqual({ ok: true, token: 'abc.def-ghi_jkl~m+n/o==' });
    expect(parseBearer('bearer x')).toEqual({ ok: true, token: 'x' });
    expect(parseBearer('BEARER    tok  ')).toEqual({ ok: true, token: 'tok' });
  });

  it('refuses what RFC 6750 does not allow, with the reason', () => {
    expect(parseBearer(undefined)).toEqual({ ok: false, reason: 'missing_token' });
    expect(parseBearer('')).toEqual({ ok: false, reason: 'missing_token' });
    for (const other of ['Basic abc', 'Basic dXNlcjpwYXNz', 'Negotiate', 'DPoP abc', 'Bear x']) {
      expect(parseBearer(other), JSON.stringify(other)).toEqual({ ok: false, reason: 'missing_token' });
    }
    for (const bad of ['Bearer', 'Bearer ', 'Bearer  ', 'Bearerabc', 'Bearer a b', 'Bearer a=b', 'Bearer =', 'Bearer\tabc', 'Bearer "abc"', 'Bearer abcé', ' Bearer abc', 'Bearer abc\t']) {
      expect(parseBearer(bad), JSON.stringify(bad)).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(parseBearer(`Bearer ${'a'.repeat(MAX_AUTHORIZATION_HEADER_LENGTH)}`)).toEqual({ ok: false, reason: 'token_too_large' });
    expect(parseBearer('Bearer abcdef', 10)).toEqual({ ok: false, reason: 'token_too_large' });
  });

  it('agrees with the RFC 6750 regular expression on generated headers', () => {
    // Deterministic generator: headers built from the characters that matter at each position.
    const alphabet = ['B', 'b', 'e', 'a', 'r', 'E', 'R', ' ', '\t', '=', 'x', 'Z', '9', '-', '.', '_', '~', '+', '/', '"', ',', 'é', 'ſ', 'K'];
    let seed = 42;
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const prefixes = ['Bearer ', 'bearer  ', 'BEARER', 'Bearer', 'Bear', ''];
    for (let round = 0; round < 20_000; round++) {
      let header = prefixes[next(prefixes.length)]!;
      const extra = next(8);
      for (let k = 0; k < extra; k++) header += alphabet[next(alphabet.length)];
      expect(parseBearer(header), JSON.stringify(header)).toEqual(reference(header));
      // The cache-first split: locate, then check the characters, gives the same answer.
      const located = locateBearer(header);
      expect(located.ok && !isToken68(located.token) ? { ok: false, reason: 'malformed' } : located, JSON.stringify(header)).toEqual(reference(header));
    }
  });
});

describe('locateBearer and isToken68', () => {
  it('locates the token without reading its characters; isToken68 checks them', () => {
    expect(locateBearer('Bearer abcé')).toEqual({ ok: true, token: 'abcé' });
    expect(locateBearer('Bearer "abc"  ')).toEqual({ ok: true, token: '"abc"' });
    expect(isToken68('abcé')).toBe(false);
    expect(isToken68('"abc"')).toBe(false);
    expect(isToken68('a=b')).toBe(false);
    expect(isToken68('==')).toBe(false);
    expect(isToken68('')).toBe(false);
    expect(isToken68('abc.def-ghi_jkl~m+n/o==')).toBe(true);
  });

  it('refuses the structure as parseBearer does: two tokens, no token, other schemes, size', () => {
    for (const bad of ['Bearer', 'Bearer ', 'Bearer  ', 'Bearerabc', 'Bearer a b', ' Bearer abc', 'Bearer\tabc']) {
      expect(locateBearer(bad), JSON.stringify(bad)).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(locateBearer('Basic abc')).toEqual({ ok: false, reason: 'missing_token' });
    expect(locateBearer(undefined)).toEqual({ ok: false, reason: 'missing_token' });
    expect(locateBearer('Bearer abcdef', 10)).toEqual({ ok: false, reason: 'token_too_large' });
  });
});

describe('constants', () => {
  it('skip codes are the reject codes, the apply failure and the heartbeat codes, each once', () => {
    expect(SKIP_CODES).toEqual([...EVENT_REJECT_CODES, 'ERR_EVENT_APPLY_FAILED', ...HEARTBEAT_REJECT_CODES]);
    expect(new Set(SKIP_CODES).size).toBe(SKIP_CODES.length);
    expect(DENIAL_KINDS).toEqual(['session', 'user', 'token', 'key']);
  });
});

describe('portability', () => {
  it('type-checks with only the ES library (no DOM, no Node.js types) and has no imports', () => {
    const file = fileURLToPath(new URL('./index.ts', import.meta.url));
    expect(readFileSync(file, 'utf8')).not.toMatch(/^\s*import\s/m);
    const program = ts.createProgram([file], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts'],
      types: [],
      strict: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      noEmit: true,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });
});
