/**
 * Who listens on a TCP port, from /proc/net/tcp{,6} and /proc/<pid>/fd (Linux), falling
 * back to a connect probe elsewhere. Used to check every port before anything starts and to
 * accept readiness only from the process the orchestrator spawned.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { InfraError } from './errors.ts';

/** The process listening on a port; `pid` null when the socket's owner is not visible (another user / namespace). */
export interface PortHolder {
  port: number;
  pid: number | null;
  /** Its command line, shortened, or a note when unknown. */
  command: string;
}

const LISTEN = '0A';

function listeningInodes(port: number): Set<string> | null {
  const inodes = new Set<string>();
  let readAny = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
      readAny = true;
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[3] !== LISTEN) continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  return readAny ? inodes : null;
}

/** Command line of a pid, shortened to `max` characters ('' when gone). */
export function commandLine(pid: number, max = 160): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a.length > 0);
    // A JVM's options and class path are long and say nothing: keep the main class and its arguments.
    const cp = argv.indexOf('-cp');
    const shown = (cp > 0 ? [argv[0], '…', ...argv.slice(cp + 2)] : argv).join(' ');
    return shown.length > max ? `${shown.slice(0, max - 1)}…` : shown;
  } catch {
    return '';
  }
}

function pidsOwning(inodes: Set<string>): number[] {
  const wanted = new Set([...inodes].map((i) => `socket:[${i}]`));
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      if (wanted.has(target)) {
        found.push(Number(entry));
        break;
      }
    }
  }
  return found;
}

async function accepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/**
 * The process listening on `port` (any local address), or null when nothing listens.
 * A socket whose owner this user cannot see gives `pid: null`.
 */
export async function portHolder(port: number): Promise<PortHolder | null> {
  const inodes = listeningInodes(port);
  if (inodes === null) {
    return (await accepts(port)) ? { port, pid: null, command: 'another process (no /proc to tell which)' } : null;
  }
  if (inodes.size === 0) return null;
  const pids = pidsOwning(inodes);
  // Forked servers share the socket; the lowest pid is the parent.
  const pid = pids.length > 0 ? Math.min(...pids) : null;
  return { port, pid, command: pid === null ? 'a process of another user or namespace' : commandLine(pid) || '?' };
}

/** Whether `pid` itself holds a listening socket on `port` (only that process's fds are read). */
export async function listensOn(pid: number, port: number): Promise<boolean> {
  const inodes = listeningInodes(port);
  if (inodes === null) return accepts(port);
  if (inodes.size === 0) return false;
  const wanted = new Set([...inodes].map((i) => `socket:[${i}]`));
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      return wanted.has(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      return false;
    }
  });
}

/** One line naming the port, its role and who holds it. */
export function describeHolder(holder: PortHolder, role: string): string {
  return `port ${holder.port} (${role}) is held by ${holder.pid === null ? '' : `pid ${holder.pid}: `}${holder.command}`;
}

/** Asks the OS for a free loopback TCP port. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Resolves once something accepts TCP connections on host:port, or throws `ERR_PORT_TIMEOUT` after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await accepts(port, host)) return;
    if (Date.now() > deadline) throw new InfraError('ERR_PORT_TIMEOUT', `nothing answered on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
