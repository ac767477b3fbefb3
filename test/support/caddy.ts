/**
 * A private Caddy for tests: Debian's package (installed when missing), run in the
 * foreground with its own Caddyfile, HOME and data dirs in a temp dir, no admin endpoint,
 * no automatic HTTPS. `stop()` ends it and removes the dir.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianPackage } from './apt.ts';
import { superviseDaemon, type Daemon } from './daemon.ts';

export type Caddy = Daemon;

/** Starts Caddy with `siteBlocks` after a global block turning admin and auto-HTTPS off; waits for `port`. */
export async function startCaddy(siteBlocks: string, port: number): Promise<Caddy> {
  const binary = await ensureDebianPackage('caddy');
  const dir = mkdtempSync(join(tmpdir(), 'revocable-caddy-'));
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, `{\n\tadmin off\n\tauto_https off\n}\n\n${siteBlocks}`);
  const child = spawn(binary, ['run', '--config', file, '--adapter', 'caddyfile'], {
    env: { PATH: process.env['PATH'] ?? '', HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return superviseDaemon(child, { name: 'caddy', ports: [port], dir });
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
