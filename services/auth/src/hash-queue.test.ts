import { describe, expect, it } from 'vitest';
import { HashQueue } from './hash-queue.ts';

/** Work that finishes when the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('HashQueue', () => {
  it('runs at most `concurrency` at once and refuses a full lane with ERR_AUTH_BUSY and a Retry-After', async () => {
    const q = new HashQueue({ concurrency: 2, maxWaitingLogin: 1, maxWaitingRegister: 0 });
    const gates = [gate(), gate(), gate()];
    const runs = gates.map((g) => q.run('login', 'verify', () => g.promise));
    expect(q.depth()).toEqual({ running: 2, waitingLogin: 1, waitingRegister: 0 });
    await expect(q.run('login', 'verify', async () => 1)).rejects.toMatchObject({ code: 'ERR_AUTH_BUSY', status: 503 });
    await expect(q.run('register', 'hash', async () => 1)).rejects.toMatchObject({ code: 'ERR_AUTH_BUSY', retryAfterSeconds: expect.any(Number) });
    for (const g of gates) g.open();
    await Promise.all(runs);
    expect(q.depth()).toEqual({ running: 0, waitingLogin: 0, waitingRegister: 0 });
  });

  it('keeps a worker for logins: registrations never take the last one, and waiting logins go first', async () => {
    const q = new HashQueue({ concurrency: 2, maxWaitingLogin: 10, maxWaitingRegister: 10 });
    const order: string[] = [];
    const r1 = gate();
    const reg1 = q.run('register', 'hash', () => r1.promise.then(() => order.push('reg1')));
    const reg2 = q.run('register', 'hash', async () => order.push('reg2'));
    // reg2 waits although a worker is free: that worker is the logins'.
    expect(q.depth()).toEqual({ running: 1, waitingLogin: 0, waitingRegister: 1 });
    const login = q.run('login', 'verify', async () => order.push('login'));
    expect(q.depth().running).toBe(2);
    await login;
    r1.open();
    await Promise.all([reg1, reg2]);
    expect(order).toEqual(['login', 'reg1', 'reg2']);
  });

  it('releases its worker when the work fails', async () => {
    const q = new HashQueue({ concurrency: 1, maxWaitingLogin: 0, maxWaitingRegister: 0 });
    await expect(q.run('login', 'verify', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await q.run('login', 'verify', async () => 'ok')).toBe('ok');
  });
});
