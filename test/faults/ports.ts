import { createServer } from 'node:net';

/**
 * Fixed ports for everything the nemesis kills and restarts, from this suite's range
 * 26000-26999, below the kernel's ephemeral range (32768-60999 by default). A port from
 * the ephemeral range can be taken while its owner is down: a client retrying a connect
 * to 127.0.0.1:P may get P as its own source port and connect to itself (TCP simultaneous
 * open), and the restarted broker then fails with "Address already in use".
 */
export const PORT_RANGE = { first: 26000, last: 26999 } as const;

const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port of {@link PORT_RANGE} that is free now and not handed out before in this process. */
export async function rangePort(): Promise<number> {
  const size = PORT_RANGE.last - PORT_RANGE.first + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = PORT_RANGE.first + ((start + i) % size);
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port left in ${PORT_RANGE.first}-${PORT_RANGE.last}`);
}
