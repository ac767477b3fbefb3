/**
 * Deterministic generator of hostile access tokens for the verifier. Every token it yields
 * must be refused with 401; `reasons` lists the reject reasons that are a correct answer
 * for its category (a token can be wrong in more than one way, and which check fires first
 * is the verifier's business).
 *
 * Tokens are assembled by hand with node:crypto (not jose's signers) so headers and claims
 * can be anything an attacker can send: jose would refuse to sign most of these.
 */
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { TokenRejectReason } from '@revocable/tokens';

export interface CorpusKey {
  kid: string;
  /** Private JWK (Ed25519). */
  privateJwk: JWK;
  publicJwk: JWK;
}

export interface CorpusOptions {
  /** The service's trusted, current signing key (valid tokens would be signed with it). */
  key: CorpusKey;
  /** A key the JWKS still publishes but that was revoked (key.revoked event). */
  revokedKey: CorpusKey;
  issuer: string;
  audience: string;
  /** Epoch milliseconds the verifier believes it is. */
  nowMs: number;
  /** Tokens to yield at least. Default 10000. */
  count?: number;
  /** PRNG seed. Default 1. */
  seed?: number;
}

export interface HostileToken {
  category: string;
  token: string;
  reasons: readonly TokenRejectReason[];
}

type Json = Record<string, unknown>;

// Values that are not acceptable for each claim (ids are non-empty strings of at most 256 chars).
const WRONG_TYPES: Record<string, unknown[]> = {
  sub: [null, 1, '', [], {}, true, 'x'.repeat(300), ['user-1']],
  jti: [null, 1, '', [], {}, true, 'x'.repeat(300)],
  sid: [null, 1, '', [], {}, true, 'x'.repeat(300)],
  ver: [null, -1, '', [], {}, true, 1.5, '1', 2 ** 60],
  scope: [null, 1, [], {}, true, ['orders:read']],
  roles: [null, 1, '', {}, true, [1, 2], 'admin'],
  iss: [null, 1, '', [], {}, true],
  aud: [null, 1, '', [], {}, true, [1, 2]],
};

const b64 = (data: string | Buffer) => Buffer.from(data).toString('base64url');
const enc = (value: unknown) => b64(JSON.stringify(value));

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields at least `count` hostile tokens, cycling through every category. */
export function* hostileTokens(options: CorpusOptions): Generator<HostileToken> {
  const rnd = mulberry32(options.seed ?? 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
  const rid = () => Math.floor(rnd() * 2 ** 52).toString(36);
  const nowS = Math.floor(options.nowMs / 1000);
  const signer = createPrivateKey({ key: options.key.privateJwk as JsonWebKey, format: 'jwk' });
  const revokedSigner = createPrivateKey({ key: options.revokedKey.privateJwk as JsonWebKey, format: 'jwk' });
  const attackerPair = generateKeyPairSync('ed25519');
  const attacker = attackerPair.privateKey;
  const attackerJwk = attackerPair.publicKey.export({ format: 'jwk' });

  const claims = (extra: Json = {}): Json => ({
    iss: options.issuer,
    sub: `user-${rid()}`,
    aud: options.audience,
    iat: nowS - 10,
    exp: nowS + 600,
    jti: rid(),
    sid: rid(),
    ver: 1,
    ...extra,
  });
  const header = (extra: Json = {}): Json => ({ alg: 'EdDSA', typ: 'at+jwt', kid: options.key.kid, ...extra });
  const signWith = (key: KeyObject, h: unknown, p: unknown, raw = false): string => {
    const input = `${raw ? (h as string) : enc(h)}.${raw ? (p as string) : enc(p)}`;
    return `${input}.${b64(cryptoSign(null, Buffer.from(input), key))}`;
  };
  const signed = (h: unknown, p: unknown) => signWith(signer, h, p);
  const hmac = (secret: Buffer | string, h: Json, p: Json) => {
    const input = `${enc(h)}.${enc(p)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
  const valid = () => signed(header(), claims());
  const publicPem = createPublicKey({ key: options.key.publicJwk as JsonWebKey, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
  const publicSecrets: (Buffer | string)[] = [
    JSON.stringify(options.key.publicJwk),
    Buffer.from(String(options.key.publicJwk.x), 'base64url'),
    String(options.key.publicJwk.x),
    publicPem,
  ];

  const categories: Array<{ name: string; reasons: readonly TokenRejectReason[]; make: () => string }> = [
    // --- algorithm attacks
    { name: 'alg_none_empty_sig', reasons: ['malformed'], make: () => `${enc(header({ alg: pick(['none', 'None', 'NONE', 'nOnE']) }))}.${enc(claims())}.` },
    { name: 'alg_none_with_sig', reasons: ['unsupported_alg'], make: () => `${enc(header({ alg: 'none' }))}.${enc(claims())}.${b64(rid())}` },
    { name: 'alg_hs256_public_key', reasons: ['unsupported_alg'], make: () => hmac(pick(publicSecrets), header({ alg: pick(['HS256', 'HS384', 'HS512']) }), claims()) },
    // RS256 is allowed (RFC 9068 §2.1), but no RSA key has this kid: nothing can verify it.
    { name: 'alg_rs256_on_ed25519_kid', reasons: ['unknown_kid'], make: () => signed(header({ alg: 'RS256' }), claims()) },
    { name: 'alg_unlisted', reasons: ['unsupported_alg'], make: () => signed(header({ alg: pick(['PS256', 'ES512', 'ES384', 'Ed448', 'dir', 'A128KW', 'eddsa', 'HS256']) }), claims()) },
    { name: 'alg_not_string', reasons: ['unsupported_alg', 'malformed'], make: () => signed(header({ alg: pick([null, 1, ['EdDSA'], { a: 1 }, true]) }), claims()) },
    { name: 'alg_missing', reasons: ['unsupported_alg', 'malformed'], make: () => signed(pick<Json>([{ typ: 'at+jwt', kid: options.key.kid }, header({ alg: '' })]), claims()) },
    // --- key selection attacks
    { name: 'kid_unknown', reasons: ['unknown_kid'], make: () => signWith(attacker, header({ kid: rid() }), claims()) },
    {
      name: 'kid_injected',
      reasons: ['unknown_kid'],
      make: () =>
        signWith(attacker, header({ kid: pick(['../../../../etc/passwd', "' OR '1'='1", '${jndi:ldap://x/a}', '\u0000', 'k'.repeat(300), '<script>', '%00', '*']) }), claims()),
    },
    { name: 'kid_not_string', reasons: ['unknown_kid'], make: () => signed(header({ kid: pick([null, 0, 12345, [options.key.kid], { kid: options.key.kid }, true, '']) }), claims()) },
    { name: 'kid_missing', reasons: ['unknown_kid'], make: () => signed({ alg: 'EdDSA', typ: 'at+jwt' }, claims()) },
    { name: 'kid_real_attacker_sig', reasons: ['bad_signature'], make: () => signWith(attacker, header(), claims()) },
    {
      name: 'header_jku_x5u_jwk',
      reasons: ['forbidden_header'],
      make: () =>
        signed(
          header(
            pick<Json>([
              { jku: 'https://evil.example/jwks.json' },
              { x5u: 'https://evil.example/cert.pem' },
              { jwk: attackerJwk },
              { x5c: ['MIIB'] },
              { x5t: 'abc' },
              { 'x5t#S256': 'abc' },
            ]),
          ),
          claims(),
        ),
    },
    {
      name: 'header_embedded_jwk_attacker',
      reasons: ['forbidden_header'],
      make: () => signWith(attacker, header({ kid: rid(), jwk: attackerJwk }), claims()),
    },
    {
      name: 'header_crit',
      reasons: ['malformed', 'unsupported_alg'],
      make: () => signed(header(pick<Json>([{ crit: ['exp'] }, { crit: ['foo'], foo: 1 }, { crit: [] }, { crit: 'b64' }, { crit: ['b64'], b64: false }])), claims()),
    },
    // --- type confusion
    { name: 'typ_wrong', reasons: ['bad_typ'], make: () => signed(header({ typ: pick(['JWT', 'jwt', 'id_token+jwt', 'application/jwt', 'JOSE', 'at+jwe', 'dpop+jwt']) }), claims()) },
    { name: 'typ_missing', reasons: ['bad_typ'], make: () => signed({ alg: 'EdDSA', kid: options.key.kid }, claims()) },
    { name: 'typ_not_string', reasons: ['bad_typ', 'malformed'], make: () => signed(header({ typ: pick([1, null, ['at+jwt'], { t: 1 }]) }), claims()) },
    // --- nested / encrypted
    { name: 'jwe_compact', reasons: ['malformed'], make: () => [enc({ alg: 'dir', enc: 'A256GCM', typ: 'at+jwt', kid: options.key.kid }), '', b64(rid()), b64(rid().repeat(4)), b64(rid())].join('.') },
    { name: 'jwe_rsa_oaep', reasons: ['malformed'], make: () => [enc({ alg: 'RSA-OAEP-256', enc: 'A128CBC-HS256' }), b64(rid()), b64(rid()), b64(rid()), b64(rid())].join('.') },
    { name: 'nested_jwt_payload', reasons: ['malformed', 'invalid_claims'], make: () => signWith(signer, enc(header({ cty: 'JWT' })), b64(valid()), true) },
    // --- encoding attacks
    { name: 'b64_standard_alphabet', reasons: ['malformed'], make: () => valid().replace(/-/g, '+').replace(/_/g, '/') + pick(['+', '/', '+/']) },
    { name: 'b64_padding', reasons: ['malformed'], make: () => valid().split('.').map((s) => `${s}==`).join('.') },
    { name: 'b64_bad_chars', reasons: ['malformed'], make: () => { const t = valid(); const i = Math.floor(rnd() * t.length); return t.slice(0, i) + pick(['!', '*', '$', '%', ' ', '\t', 'é', '\u2028', '"', '\\']) + t.slice(i + 1); } },
    { name: 'segments_wrong_count', reasons: ['malformed'], make: () => { const parts = valid().split('.'); return pick([parts.slice(0, 2).join('.'), parts.join('..'), `${parts.join('.')}.${parts[2]}`, parts[0] as string, `.${parts.join('.')}`, '', '.', '..', '...']); } },
    { name: 'header_not_json', reasons: ['malformed'], make: () => signWith(signer, b64(pick(['{', 'alg', '{"alg":"EdDSA"', '\u0000', '[]', 'null', '1', '"x"', '{"alg":"EdDSA",}'])), enc(claims()), true) },
    { name: 'header_not_utf8', reasons: ['malformed'], make: () => signWith(signer, b64(Buffer.from([0xff, 0xfe, 0x7b, 0x22, 0xc3, 0x28])), enc(claims()), true) },
    { name: 'payload_not_json', reasons: ['malformed', 'invalid_claims'], make: () => signWith(signer, enc(header()), b64(pick(['{', 'null', '[1,2]', '"sub"', '42', 'true', '{"sub":'])), true) },
    { name: 'payload_duplicate_keys', reasons: ['wrong_audience', 'malformed', 'invalid_claims'], make: () => { const c = claims(); const json = JSON.stringify(c).replace(/}$/, ',"aud":"evil"}'); return signWith(signer, enc(header()), b64(json), true); } },
    // --- size attacks (refused before parsing)
    { name: 'huge_header', reasons: ['token_too_large'], make: () => signed(header({ pad: 'A'.repeat(8192 + Math.floor(rnd() * 4096)) }), claims()) },
    { name: 'huge_payload', reasons: ['token_too_large'], make: () => signed(header(), claims({ pad: 'B'.repeat(8192 + Math.floor(rnd() * 4096)) })) },
    { name: 'huge_garbage', reasons: ['token_too_large'], make: () => 'a'.repeat(8193 + Math.floor(rnd() * 2000)) },
    { name: 'huge_deep_nesting', reasons: ['token_too_large', 'malformed'], make: () => `${b64('['.repeat(9000))}.${enc(claims())}.${b64('x')}` },
    // --- time claims
    { name: 'exp_past', reasons: ['expired'], make: () => signed(header(), claims({ iat: nowS - 3600, exp: nowS - 10 - Math.floor(rnd() * 3000) })) },
    { name: 'exp_not_number', reasons: ['invalid_claims'], make: () => signed(header(), claims({ exp: pick([String(nowS + 600), null, [nowS + 600], { t: 1 }, true, '']) })) },
    { name: 'exp_far_future', reasons: ['invalid_claims'], make: () => signed(header(), claims({ exp: pick([nowS + 86_401 + Math.floor(rnd() * 1e6), 9_999_999_999, 1e308, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2]) })) },
    { name: 'exp_fraction', reasons: ['invalid_claims'], make: () => signed(header(), claims({ exp: nowS + 600.5 })) },
    { name: 'exp_before_iat', reasons: ['invalid_claims', 'expired'], make: () => signed(header(), claims({ iat: nowS, exp: nowS - 1 + Math.floor(rnd() * 2) - 1 })) },
    { name: 'iat_future', reasons: ['invalid_claims'], make: () => signed(header(), claims({ iat: nowS + 60 + Math.floor(rnd() * 1e6), exp: nowS + 2_000_000 })) },
    { name: 'iat_not_number', reasons: ['invalid_claims'], make: () => signed(header(), claims({ iat: pick(['now', null, [1], {}, 1.5, -1e308]) })) },
    { name: 'nbf_future', reasons: ['not_yet_valid'], make: () => signed(header(), claims({ nbf: nowS + 60 + Math.floor(rnd() * 500) })) },
    { name: 'nbf_not_number', reasons: ['invalid_claims'], make: () => signed(header(), claims({ nbf: pick(['0', null, [0], {}, true]) })) },
    // --- claims
    { name: 'claim_missing', reasons: ['invalid_claims', 'wrong_issuer', 'wrong_audience'], make: () => { const c = claims(); delete c[pick(['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'sid', 'ver'])]; return signed(header(), c); } },
    {
      name: 'claim_wrong_type',
      reasons: ['invalid_claims', 'wrong_issuer', 'wrong_audience'],
      make: () => {
        const claim = pick(Object.keys(WRONG_TYPES));
        return signed(header(), claims({ [claim]: pick(WRONG_TYPES[claim] as unknown[]) }));
      },
    },
    { name: 'ver_invalid', reasons: ['invalid_claims'], make: () => signed(header(), claims({ ver: pick([-1, 1.5, '1', null, 2 ** 60]) })) },
    { name: 'aud_wrong', reasons: ['wrong_audience'], make: () => signed(header(), claims({ aud: pick(['profile', `${options.audience} `, options.audience.toUpperCase(), ['profile', 'admin'], [], '*', `https://${options.audience}`]) })) },
    { name: 'iss_wrong', reasons: ['wrong_issuer'], make: () => signed(header(), claims({ iss: pick([`${options.issuer}/`, 'https://evil.example', options.issuer.toUpperCase(), `${options.issuer}.evil.example`, '']) })) },
    // --- signature tampering
    { name: 'sig_truncated', reasons: ['bad_signature', 'malformed'], make: () => { const t = valid(); return t.slice(0, t.length - 1 - Math.floor(rnd() * 80)); } },
    {
      name: 'sig_bitflip',
      reasons: ['bad_signature', 'malformed'],
      make: () => {
        const [h, p, s] = valid().split('.') as [string, string, string];
        const bytes = Buffer.from(s, 'base64url');
        const i = Math.floor(rnd() * bytes.length);
        bytes[i] = (bytes[i] as number) ^ (1 << Math.floor(rnd() * 8));
        return `${h}.${p}.${b64(bytes)}`;
      },
    },
    {
      name: 'payload_tampered',
      reasons: ['bad_signature'],
      make: () => {
        const [h, , s] = valid().split('.') as [string, string, string];
        return `${h}.${enc(claims({ sub: 'admin', scope: 'orders:admin' }))}.${s}`;
      },
    },
    { name: 'sig_empty_or_zero', reasons: ['bad_signature', 'malformed'], make: () => { const [h, p] = valid().split('.'); return `${h}.${p}.${pick(['A', 'AA', b64(Buffer.alloc(64)), b64(Buffer.alloc(63))])}`; } },
    { name: 'sig_swapped_from_other_token', reasons: ['bad_signature'], make: () => { const [h, p] = valid().split('.'); const s = valid().split('.')[2]; return `${h}.${p}.${s}`; } },
    // --- revoked key
    { name: 'signed_by_revoked_key', reasons: ['revoked'], make: () => signWith(revokedSigner, header({ kid: options.revokedKey.kid }), claims()) },
  ];

  const count = options.count ?? 10_000;
  let produced = 0;
  while (produced < count) {
    for (const category of categories) {
      yield { category: category.name, token: category.make(), reasons: category.reasons };
      produced++;
    }
  }
}
