import { describe, expect, it } from 'vitest';
import { adapterProducer, errorWrapper, retentionToRaise } from './adapter.ts';
import { TransportError } from './transport.ts';

const wrap = errorWrapper(() => 'ERR_KAFKA_TIMEOUT');

describe('adapter helpers', () => {
  it('errorWrapper codes library failures and passes TransportErrors through', () => {
    const cause = new Error('socket hang up');
    expect(wrap(cause, 'reading t')).toMatchObject({ code: 'ERR_KAFKA_TIMEOUT', retriable: true, message: 'reading t failed: socket hang up', cause });
    const already = new TransportError('ERR_KAFKA_REJECTED', 'no');
    expect(wrap(already, 'reading t')).toBe(already);
    expect(wrap('text', 'listing topics').message).toBe('listing topics failed: text');
  });

  it('adapterProducer sends nothing for an empty batch and wraps a failure naming the topic', async () => {
    const published: string[] = [];
    let fail = false;
    const producer = adapterProducer(
      {
        publish: async (topic, records) => {
          if (fail) throw new Error('broker gone');
          published.push(`${topic}:${records.length}`);
        },
        close: async () => {},
      },
      wrap,
    );
    await producer.send('t', []);
    await producer.send('t', [{ key: 'k', value: Buffer.from('{}') }]);
    expect(published).toEqual(['t:1']);
    fail = true;
    await expect(producer.send('t', [{ key: 'k', value: Buffer.from('{}') }])).rejects.toMatchObject({ code: 'ERR_KAFKA_TIMEOUT', message: 'publishing to t failed: broker gone' });
  });

  it('retentionToRaise only ever raises, and leaves unlimited retention alone', () => {
    const spec = { topic: 't', partitions: 1, replicationFactor: 1, configs: { 'retention.ms': '1000' } };
    expect(retentionToRaise(spec, 500)).toBe(1000);
    expect(retentionToRaise(spec, 1000)).toBeUndefined();
    expect(retentionToRaise(spec, 5000)).toBeUndefined();
    expect(retentionToRaise(spec, -1)).toBeUndefined();
  });
});
