import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Fixed ports for everything the nemesis kills and restarts, from this suite's range
 * 26000-26999, below the kernel's ephemeral range (32768-60999 by default). A port from
 * the ephemeral range can be taken while its owner is down: a client retrying a connect
 * to 127.0.0.1:P may get P as its own source port and connect to itself (TCP simultaneous
 * open), and the restarted broker then fails with "Address already in use".
 *
 * The range is split into blocks of 100; a run claims one block with a lock file (stale
 * locks of dead processes are taken over), so two runs at once never pick the same port
 * between choosing it and binding it.
 */
export const PORT_RANGE = { first: 26000, last: 26999 } as const;
const BLOCK = 100;

let block: number | null = null;
let next = 0;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function claimBlock(): number {
  const blocks = (PORT_RANGE.last - PORT_RANGE.first + 1) / BLOCK;
  const start = process.pid % blocks;
  for (let i = 0; i < blocks; i++) {
    const b = (start + i) % blocks;
    const lock = join(tmpdir(), `revocable-faults-ports-${PORT_RANGE.first + b * BLOCK}.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(lock, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        process.once('exit', () => rmSync(lock, { force: true }));
        return b;
      } catch {
        const owner = Number(readFileSync(lock, 'utf8').trim() || '0');
        if (owner > 0 && pidAlive(owner)) break;
        rmSync(lock, { force: true }); // stale: its process is gone
      }
    }
  }
  throw new Error(`every block of ports in ${PORT_RANGE.first}-${PORT_RANGE.last} is claimed by a running fault suite`);
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The next free port of this process's block of {@link PORT_RANGE}. */
export async function rangePort(): Promise<number> {
  block ??= claimBlock();
  while (next < BLOCK) {
    const port = PORT_RANGE.first + block * BLOCK + next++;
    if (await bindable(port)) return port;
  }
  throw new Error(`the ${BLOCK} ports of block ${PORT_RANGE.first + block * BLOCK} are used up`);
}
