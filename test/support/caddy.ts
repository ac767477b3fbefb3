/**
 * A private Caddy for tests: Debian's package (installed when missing), run in the
 * foreground with its own Caddyfile, HOME and data dirs in a temp dir, no admin endpoint,
 * no automatic HTTPS. `stop()` ends it and removes the dir.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianPackage } from './apt.ts';

export interface Caddy {
  output(): string;
  stop(): Promise<void>;
}

/** Starts Caddy with `siteBlocks` after a global block turning admin and auto-HTTPS off; waits for `port`. */
export async function startCaddy(siteBlocks: string, port: number): Promise<Caddy> {
  const binary = await ensureDebianPackage('caddy');
  const dir = mkdtempSync(join(tmpdir(), 'revocable-caddy-'));
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, `{\n\tadmin off\n\tauto_https off\n}\n\n${siteBlocks}`);
  let output = '';
  const child = spawn(binary, ['run', '--config', file, '--adapter', 'caddyfile'], {
    env: { PATH: process.env['PATH'] ?? '', HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  process.once('exit', () => child.kill('SIGKILL'));
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`caddy did not listen on ${port}: ${output.trim().split('\n').slice(-5).join(' | ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
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

/** The gate's Caddy example (services/gate/deploy/Caddyfile) with its ports replaced. */
export function gateCaddySnippet(template: string, ports: { caddy: number; gate: number; upstream: number }): string {
  const out = template
    .replaceAll('127.0.0.1:3003', `127.0.0.1:${ports.gate}`)
    .replaceAll('127.0.0.1:8080', `127.0.0.1:${ports.upstream}`)
    .replaceAll('http://127.0.0.1:8000', `http://127.0.0.1:${ports.caddy}`);
  if (out === template) throw new Error('the Caddy example no longer has the expected ports to replace');
  return out;
}
