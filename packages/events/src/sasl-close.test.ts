// A broker that drops the connection in the middle of SASL authentication (a restart, a cut
// network) must give the caller an error, not crash the process: @platformatic/kafka 2.12.1's
// connection emits 'error' twice then (the socket error, then the request the close fails),
// and its pool listened once (patches/@platformatic__kafka@2.12.1.patch).
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTransport } from './factory.ts';
import { isTransportError } from './transport.ts';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((done) => (server ? server.close(done) : done(undefined)));
  server = undefined;
});

/** A TCP server that resets every connection once the client has sent its first request. */
async function resettingBroker(): Promise<{ port: number; resets: () => number }> {
  let resets = 0;
  server = createServer((socket: Socket) => {
    socket.once('data', () => {
      resets++;
      socket.resetAndDestroy();
    });
  });
  await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, resets: () => resets };
}

describe('a connection reset during SASL authentication (platformatic)', () => {
  it('rejects with a transport error and the process keeps running', async () => {
    const broker = await resettingBroker();
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    const transport = createTransport({
      client: 'platformatic',
      brokers: [`127.0.0.1:${broker.port}`],
      clientId: 'sasl-reset',
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'orders', password: 'x'.repeat(32) },
      connectionTimeoutMs: 2000,
      requestTimeoutMs: 2000,
    });
    try {
      const failure = await transport
        .admin()
        .then((admin) => admin.listTopics().finally(() => admin.close()))
        .then(
          () => null,
          (error: unknown) => error,
        );
      expect(isTransportError(failure)).toBe(true);
      expect(broker.resets()).toBeGreaterThan(0);
      // Give the second 'error' the turn it would be emitted on.
      await new Promise((done) => setImmediate(done));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
