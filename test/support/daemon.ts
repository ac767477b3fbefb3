/**
 * A foreground server process a test owns (nginx, Caddy…): its output kept, killed when the
 * test process exits, stopped with the signal it expects, its temp dir removed afterwards.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';

export interface Daemon {
  /** Its stdout and stderr so far. */
  output(): string;
  /** Ends it (`stopSignal`, SIGKILL after 5 s) and removes `dir`. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** Name in the error message. */
  name: string;
  /** Ports it must accept connections on before it counts as started. */
  ports: readonly number[];
  /** Directory removed on stop. */
  dir: string;
  /** Default SIGTERM. */
  stopSignal?: NodeJS.Signals;
  /** How long it may take to listen, in milliseconds. Default 15000. */
  startTimeoutMs?: number;
  /** Builds the error thrown when it does not listen in time. Default `Error`. */
  failure?: (message: string) => Error;
}

/** Watches `child` until it listens on every port; on failure it is stopped and the error carries its last output lines. */
export async function superviseDaemon(child: ChildProcess, options: DaemonOptions): Promise<Daemon> {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  process.once('exit', () => child.kill('SIGKILL'));
  const stop = async () => {
    if (!exited) {
      child.kill(options.stopSignal ?? 'SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    }
    rmSync(options.dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  for (const port of options.ports) {
    while (!(await accepts(port))) {
      if (exited || Date.now() > deadline) {
        await stop();
        const message = `${options.name} did not listen on ${port}: ${output.trim().split('\n').slice(-5).join(' | ')}`;
        throw options.failure ? options.failure(message) : new Error(message);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { output: () => output, stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
