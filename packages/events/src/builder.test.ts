import { describe, expect, it } from 'vitest';
import { createEventBuilder, revocationUntil, tokenRevocationUntil } from './builder.ts';
import { validateEvent } from './schema.ts';

const window = { accessTtlSeconds: 900, clockSkewSeconds: 30 };

describe('event builder', () => {
  it('applies the until rule: revokedAt (rounded up to the second) + access TTL + skew; a token its exp + skew', () => {
    expect(revocationUntil(1_700_000_000_001, window)).toBe(1_700_000_001 + 930);
    expect(revocationUntil(1_700_000_000_000, window)).toBe(1_700_000_000 + 930);
    expect(tokenRevocationUntil(1_700_000_900, window)).toBe(1_700_000_930);
  });

  it('builds valid v1 events with a fresh id each time', () => {
    let n = 0;
    const events = createEventBuilder({ ...window, newId: () => `id-${++n}` });
    const at = 1_700_000_000_500;
    const built = [
      events.sessionRevoked({ sub: 'u', sid: 's', reason: 'logout', atMs: at }),
      events.userRevoked({ sub: 'u', minVer: 3, reason: 'admin', atMs: at }),
      events.tokenRevoked({ sub: 'u', jti: 'j', exp: 1_700_000_600, atMs: at }),
      events.keyRevoked({ kid: 'k', lastSignedAtMs: at - 60_000, atMs: at }),
      events.heartbeat({ source: 'relay-1', atMs: at }),
    ];
    for (const event of built) expect(validateEvent(event)).toEqual({ ok: true, event });
    expect(built.map((e) => e.id)).toEqual(['id-1', 'id-2', 'id-3', 'id-4', 'id-5']);
    expect(built[0]).toMatchObject({ v: 1, at, until: 1_700_000_001 + 930 });
    expect(built[2]).toMatchObject({ until: 1_700_000_630 });
    expect(built[3]).toMatchObject({ until: 1_699_999_941 + 930 });
  });
});
