import { describe, expect, it } from 'vitest';
import { parsePrefer, waitPreference } from './prefer.ts';

describe('parsePrefer (RFC 7240 grammar)', () => {
  it('reads names case-insensitively, values (token or quoted-string) and parameters', () => {
    expect(parsePrefer('Wait=5')).toEqual([{ name: 'wait', value: '5', params: [] }]);
    expect(parsePrefer('respond-async, wait = 10 ; foo="a;b,c" ;;, handling=lenient')).toEqual([
      { name: 'respond-async', value: undefined, params: [] },
      { name: 'wait', value: '10', params: [{ name: 'foo', value: 'a;b,c' }] },
      { name: 'handling', value: 'lenient', params: [] },
    ]);
    expect(parsePrefer('return="represen\\"tation"')).toEqual([{ name: 'return', value: 'represen"tation', params: [] }]);
  });

  it('keeps the first occurrence only, joins several header lines, skips empty elements', () => {
    expect(parsePrefer(['wait=3', 'WAIT=9', ' , ,return=minimal'])).toEqual([
      { name: 'wait', value: '3', params: [] },
      { name: 'return', value: 'minimal', params: [] },
    ]);
  });

  it('drops a malformed element without dropping its neighbours', () => {
    expect(parsePrefer('wait=5 x, =3, "q", a=, b="unterminated')).toEqual([]);
    expect(parsePrefer('wait=5 x, =3, return=minimal, wait=2')).toEqual([
      { name: 'return', value: 'minimal', params: [] },
      { name: 'wait', value: '2', params: [] },
    ]);
    expect(parsePrefer('x="a,b" junk, wait=4')).toEqual([{ name: 'wait', value: '4', params: [] }]);
    expect(parsePrefer(undefined)).toEqual([]);
    expect(parsePrefer('')).toEqual([]);
  });
});

describe('waitPreference', () => {
  it('honours wait=delta-seconds, capped at the maximum', () => {
    expect(waitPreference('wait=5', 10)).toEqual({ requestedSeconds: 5, seconds: 5 });
    expect(waitPreference('respond-async, wait=0', 10)).toEqual({ requestedSeconds: 0, seconds: 0 });
    expect(waitPreference('wait=60', 10)).toEqual({ requestedSeconds: 60, seconds: 10 });
    expect(waitPreference('wait=99999999999999999999999', 10)?.seconds).toBe(10);
    expect(waitPreference('wait="7"', 10)).toEqual({ requestedSeconds: 7, seconds: 7 });
  });

  it('ignores what it cannot use (§2: not an error)', () => {
    for (const header of [undefined, '', 'wait', 'wait=', 'wait=-1', 'wait=1.5', 'wait=abc', 'wait=5x', 'return=minimal', 'wait==5']) {
      expect(waitPreference(header, 10), String(header)).toBeUndefined();
    }
    // The first wait counts, even when unusable.
    expect(waitPreference('wait=abc, wait=5', 10)).toBeUndefined();
  });
});
