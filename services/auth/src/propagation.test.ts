import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ReceiptMessage } from '@revocable/events';
import { PropagationTracker } from './propagation.ts';

function setUp() {
  let clock = 1_000_000;
  const registry = new Registry();
  const tracker = new PropagationTracker({ audiences: ['orders', 'profile'], now: () => clock, registry, maxEvents: 3 });
  const announce = (instance: string, audience: string, state: 'up' | 'leaving' = 'up'): ReceiptMessage => ({
    kind: 'announce',
    instance,
    service: audience,
    audiences: [audience],
    at: clock,
    intervalMs: 1000,
    state,
    ready: true,
    freshnessSeconds: 0.2,
    lag: 0,
  });
  const applied = (instance: string, audience: string, id: string, phase: 'live' | 'replay' = 'live'): ReceiptMessage => ({
    kind: 'applied',
    instance,
    service: audience,
    audiences: [audience],
    events: [{ id, type: 'session.revoked', at: 1_000_000, appliedAt: clock - 1, phase }],
  });
  return { tracker, registry, announce, applied, tick: (ms: number) => (clock += ms), now: () => clock };
}

describe('PropagationTracker', () => {
  it('counts an instance live until three announce intervals pass without a message, or it leaves', () => {
    const { tracker, announce, tick } = setUp();
    tracker.receive(announce('o1', 'orders'));
    tracker.receive(announce('p1', 'profile'));
    tick(2999);
    expect(tracker.instances().map((i) => [i.instance, i.live])).toEqual([['o1', true], ['p1', true]]);
    tick(1);
    expect(tracker.instances().every((i) => !i.live)).toBe(true);
    tracker.receive(announce('o1', 'orders'));
    expect(tracker.instances().find((i) => i.instance === 'o1')?.live).toBe(true);
    tracker.receive(announce('o1', 'orders', 'leaving'));
    expect(tracker.instances().find((i) => i.instance === 'o1')).toMatchObject({ live: false, state: 'leaving' });
  });

  it('expects the instances live at tracking time, reports confirmations on its own clock, and fills the histogram with live applies only', async () => {
    const { tracker, registry, announce, applied, tick } = setUp();
    tracker.receive(announce('o1', 'orders'));
    tracker.receive(announce('p1', 'profile'));
    tracker.receive(announce('x1', 'elsewhere'));
    tracker.track({ id: 'e1', type: 'session.revoked', at: 1_000_000 });
    expect(tracker.report('e1')).toMatchObject({ confirmed: 0, pending: ['o1', 'p1'], complete: false, slowestMs: null });
    tick(40);
    tracker.receive(applied('o1', 'orders', 'e1'));
    tick(60);
    tracker.receive(applied('p1', 'profile', 'e1', 'replay'));
    tracker.receive(applied('p1', 'profile', 'e1'));
    const report = tracker.report('e1');
    expect(report).toMatchObject({ confirmed: 2, pending: [], complete: true, slowestMs: 100 });
    expect(report?.instances.map((i) => [i.instance, i.status, i.propagationMs])).toEqual([['o1', 'confirmed', 40], ['p1', 'confirmed', 100]]);
    const text = await registry.metrics();
    expect(text).toMatch(/revocable_auth_propagation_seconds_count\{audience="orders"\} 1/);
    // p1's first receipt was a replay: counted as confirmed, not as a propagation sample.
    expect(text).toMatch(/revocable_auth_propagation_seconds_count\{audience="profile"\} 0/);
    expect(text).toMatch(/revocable_auth_live_instances\{audience="orders"\} 1/);
  });

  it('waitFor resolves when every expected instance confirmed, when one leaves, or at the deadline', async () => {
    const { tracker, announce, applied, now } = setUp();
    tracker.receive(announce('o1', 'orders'));
    tracker.receive(announce('p1', 'profile'));
    tracker.track({ id: 'e1', type: 'session.revoked', at: 1_000_000 });
    const waiting = tracker.waitFor(['e1'], now() + 60_000);
    let settled = false;
    void waiting.then(() => (settled = true));
    tracker.receive(applied('o1', 'orders', 'e1'));
    await Promise.resolve();
    expect(settled).toBe(false);
    tracker.receive(announce('p1', 'profile', 'leaving'));
    await waiting;
    expect(tracker.report('e1')?.pending).toEqual([]);

    tracker.receive(announce('p1', 'profile'));
    tracker.track({ id: 'e2', type: 'session.revoked', at: 1_000_000 });
    const started = Date.now();
    await tracker.waitFor(['e2'], now() + 50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(tracker.report('e2')?.pending).toEqual(['o1', 'p1']);
  });

  it('learns revocations committed by another auth instance from their receipts, and keeps only the newest', () => {
    const { tracker, announce, applied } = setUp();
    tracker.receive(announce('o1', 'orders'));
    tracker.receive(applied('o1', 'orders', 'other-1'));
    expect(tracker.report('other-1')).toMatchObject({ confirmed: 1, complete: true });
    for (const id of ['a', 'b', 'c']) tracker.track({ id, type: 'user.revoked', at: 1_000_000 });
    expect(tracker.report('other-1')).toBeUndefined();
    expect(tracker.recent(10).map((r) => r.id)).toEqual(['c', 'b', 'a']);
  });

  it('does not forget a revocation an answer is waiting for, however many follow', async () => {
    const { tracker, announce, applied, now } = setUp();
    tracker.receive(announce('o1', 'orders'));
    tracker.track({ id: 'held', type: 'session.revoked', at: 1_000_000 });
    const waiting = tracker.waitFor(['held'], now() + 60_000);
    for (const id of ['a', 'b', 'c', 'd']) tracker.track({ id, type: 'user.revoked', at: 1_000_000 });
    expect(tracker.report('held')?.pending).toEqual(['o1']);
    expect(tracker.recent(10).map((r) => r.id)).toEqual(['d', 'c', 'held']);
    tracker.receive(applied('o1', 'orders', 'held'));
    await waiting;
    expect(tracker.waiters()).toBe(0);
    tracker.track({ id: 'e', type: 'user.revoked', at: 1_000_000 });
    expect(tracker.report('held')).toBeUndefined();
  });

  it('waitFor ends at once when its signal aborts (client gone, service closing)', async () => {
    const { tracker, announce, now } = setUp();
    tracker.receive(announce('o1', 'orders'));
    tracker.track({ id: 'e1', type: 'session.revoked', at: 1_000_000 });
    const gone = new AbortController();
    const waiting = tracker.waitFor(['e1'], now() + 60_000, gone.signal);
    expect(tracker.waiters()).toBe(1);
    gone.abort();
    await waiting;
    expect(tracker.waiters()).toBe(0);
    expect(tracker.report('e1')?.pending).toEqual(['o1']);
  });
});
