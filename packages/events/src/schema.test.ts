import { describe, expect, it } from 'vitest';
import { EventValidationError, MAX_EVENT_BYTES, encodeEvent, eventKey, parseEvent, type RevocableEvent } from './schema.ts';

const base = { v: 1 as const, id: 'e-1', at: 1_700_000_000_000 };
const valid: RevocableEvent[] = [
  { ...base, type: 'session.revoked', sub: 'u1', sid: 's1', reason: 'logout', until: 1_700_000_900 },
  { ...base, type: 'user.revoked', sub: 'u1', minVer: 3, reason: 'password_changed', until: 1_700_000_900 },
  { ...base, type: 'token.revoked', sub: 'u1', jti: 'j1', until: 1_700_000_900 },
  { ...base, type: 'key.revoked', kid: 'k1', until: 1_700_000_900 },
  { ...base, type: 'heartbeat', source: 'relay-1' },
];

describe('event schema v1', () => {
  it.each(valid)('round-trips $type', (event) => {
    const parsed = parseEvent(encodeEvent(event));
    expect(parsed).toEqual({ ok: true, event });
  });

  it('keys user events by sub, key events by kid, heartbeats by nothing', () => {
    expect(valid.map(eventKey)).toEqual(['u1', 'u1', 'u1', 'kid:k1', null]);
  });

  it.each([
    ['garbage bytes', Buffer.from([0xc3, 0x28]), 'ERR_EVENT_NOT_JSON'],
    ['not json', '{nope', 'ERR_EVENT_NOT_JSON'],
    ['json array', '[]', 'ERR_EVENT_INVALID'],
    ['json null', 'null', 'ERR_EVENT_INVALID'],
    ['other version', JSON.stringify({ ...valid[0], v: 2 }), 'ERR_EVENT_UNSUPPORTED_VERSION'],
    ['unknown type', JSON.stringify({ ...base, type: 'user.deleted' }), 'ERR_EVENT_UNKNOWN_TYPE'],
    ['missing sid', JSON.stringify({ ...base, type: 'session.revoked', sub: 'u', reason: 'logout', until: 1 }), 'ERR_EVENT_INVALID'],
    ['bad reason', JSON.stringify({ ...valid[0], reason: 'because' }), 'ERR_EVENT_INVALID'],
    ['fractional until', JSON.stringify({ ...valid[0], until: 1.5 }), 'ERR_EVENT_INVALID'],
    ['string minVer', JSON.stringify({ ...valid[1], minVer: '3' }), 'ERR_EVENT_INVALID'],
    ['negative at', JSON.stringify({ ...valid[2], at: -1 }), 'ERR_EVENT_INVALID'],
    ['huge id', JSON.stringify({ ...valid[3], kid: 'k'.repeat(300) }), 'ERR_EVENT_INVALID'],
    ['too large', 'x'.repeat(MAX_EVENT_BYTES + 1), 'ERR_EVENT_TOO_LARGE'],
    ['empty', null, 'ERR_EVENT_INVALID'],
  ] as const)('rejects %s with a stable code', (_name, value, code) => {
    const parsed = parseEvent(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.code).toBe(code);
  });

  it('refuses to encode an invalid event', () => {
    const bad = { ...valid[0], sid: '' } as RevocableEvent;
    expect(() => encodeEvent(bad)).toThrow(EventValidationError);
    try {
      encodeEvent(bad);
    } catch (error) {
      expect((error as EventValidationError).code).toBe('ERR_EVENT_INVALID');
    }
  });
});
