import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryTransport } from './memory.ts';
import { encodeReceipt, parseReceipt, ReceiptFormatError, ReceiptPublisher, receiptsTopicSpec, type ReceiptMessage } from './receipts.ts';
import type { RevocationEvent } from './schema.ts';

const TOPIC = 'unit.revocations.receipts';

async function until(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sender = { instance: 'orders-1', service: 'orders', audiences: ['orders'] };
const revoked = (): RevocationEvent => ({ v: 1, id: randomUUID(), at: 1_700_000_000_000, type: 'session.revoked', sub: 'u', sid: randomUUID(), reason: 'logout', until: 1_700_000_900 });

describe('receipt wire format', () => {
  it('round-trips applied batches and announces', () => {
    const applied: ReceiptMessage = { kind: 'applied', ...sender, events: [{ id: 'e1', type: 'user.revoked', at: 5, appliedAt: 9, phase: 'live' }] };
    expect(parseReceipt(encodeReceipt(applied))).toEqual(applied);
    const announce: ReceiptMessage = { kind: 'announce', ...sender, at: 10, intervalMs: 2000, state: 'leaving', ready: true, freshnessSeconds: null, lag: 3 };
    expect(parseReceipt(encodeReceipt(announce))).toEqual(announce);
    expect(JSON.parse(encodeReceipt(applied).toString())).toMatchObject({ v: 1, kind: 'applied', events: [{ applied_at: 9 }] });
  });

  it('refuses what is not a receipt, with a stable code', () => {
    const code = (value: Buffer | null) => {
      try {
        parseReceipt(value);
        return 'accepted';
      } catch (error) {
        expect(error).toBeInstanceOf(ReceiptFormatError);
        return (error as ReceiptFormatError).code;
      }
    };
    expect(code(Buffer.from('{nope'))).toBe('ERR_RECEIPT_NOT_JSON');
    expect(code(null)).toBe('ERR_RECEIPT_INVALID');
    expect(code(Buffer.alloc(300 * 1024, 0x20))).toBe('ERR_RECEIPT_TOO_LARGE');
    const base = { v: 1, kind: 'applied', ...sender, events: [{ id: 'e', type: 'session.revoked', at: 1, applied_at: 2, phase: 'live' }] };
    const bad = (patch: Record<string, unknown>) => code(Buffer.from(JSON.stringify({ ...base, ...patch })));
    expect(bad({})).toBe('accepted');
    expect(bad({ v: 2 })).toBe('ERR_RECEIPT_INVALID');
    expect(bad({ instance: 'has space' })).toBe('ERR_RECEIPT_INVALID');
    expect(bad({ audiences: [] })).toBe('ERR_RECEIPT_INVALID');
    expect(bad({ kind: 'other' })).toBe('ERR_RECEIPT_INVALID');
    expect(bad({ events: [{ id: 'e', type: 'heartbeat', at: 1, applied_at: 2, phase: 'live' }] })).toBe('ERR_RECEIPT_INVALID');
    expect(bad({ events: [{ id: 'e', type: 'user.revoked', at: -1, applied_at: 2, phase: 'live' }] })).toBe('ERR_RECEIPT_INVALID');
    expect(bad({ kind: 'announce', at: 1, interval_ms: 5, state: 'up', ready: true, freshness_seconds: null, lag: 0 })).toBe('ERR_RECEIPT_INVALID');
  });
});

describe('ReceiptPublisher', () => {
  async function received(transport: MemoryTransport): Promise<ReceiptMessage[]> {
    const messages: ReceiptMessage[] = [];
    const subscription = await transport.subscribeAll({ topic: TOPIC, onRecords: (records) => void messages.push(...records.map((r) => parseReceipt(r.value))) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await subscription.stop();
    return messages;
  }

  it('announces at once and every interval, batches receipts keyed by instance, and says leaving on stop', async () => {
    const transport = new MemoryTransport();
    const admin = await transport.admin();
    await admin.ensureTopic(receiptsTopicSpec({ topic: TOPIC }));
    const sent: string[] = [];
    const publisher = new ReceiptPublisher({ transport, topic: TOPIC, ...sender, announceIntervalMs: 50, state: () => ({ ready: true, freshnessSeconds: 0.5, lag: 0 }), onSent: (kind) => sent.push(kind) });
    publisher.start();
    const a = revoked();
    const b = revoked();
    publisher.applied(a, 1_700_000_000_010, 'live');
    publisher.applied(b, 1_700_000_000_011, 'replay');
    await until(() => sent.filter((k) => k === 'announce').length >= 3 && sent.includes('applied'), 'announces and a receipt');
    await publisher.stop();
    const messages = await received(transport);
    const applied = messages.filter((m) => m.kind === 'applied');
    expect(applied).toHaveLength(1);
    expect(applied[0]).toMatchObject({ instance: 'orders-1', events: [{ id: a.id, phase: 'live', appliedAt: 1_700_000_000_010 }, { id: b.id, phase: 'replay' }] });
    const announces = messages.filter((m) => m.kind === 'announce');
    expect(announces[0]).toMatchObject({ state: 'up', intervalMs: 50, freshnessSeconds: 0.5 });
    expect(announces.at(-1)).toMatchObject({ state: 'leaving' });
  });

  it('keeps receipts while Kafka is down and sends them when it is back; creates a missing topic', async () => {
    const transport = new MemoryTransport();
    transport.setAvailable(false);
    const publisher = new ReceiptPublisher({ transport, topic: TOPIC, ...sender, announceIntervalMs: 60_000, state: () => ({ ready: true, freshnessSeconds: null, lag: 0 }) });
    const event = revoked();
    publisher.applied(event, 1, 'live');
    await new Promise((resolve) => setTimeout(resolve, 300));
    transport.setAvailable(true);
    await until(async () => (await received(transport)).some((m) => m.kind === 'applied'), 'the receipt after the outage', 15_000);
    await publisher.stop();
  });

  it('bounds the buffer and counts what it drops', async () => {
    const transport = new MemoryTransport();
    transport.setAvailable(false);
    let dropped = 0;
    const publisher = new ReceiptPublisher({ transport, topic: TOPIC, ...sender, maxBuffered: 3, state: () => ({ ready: true, freshnessSeconds: null, lag: 0 }), onDropped: (n) => (dropped += n) });
    for (let i = 0; i < 5; i++) publisher.applied(revoked(), i, 'live');
    expect(dropped).toBe(2);
    await publisher.stop();
  });
});
