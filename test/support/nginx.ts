/**
 * A private nginx for tests and benchmarks: Debian's package (installed when missing), run
 * as a non-daemon child with its own prefix, config, logs and temp paths in a temp dir, on
 * the ports the caller chose. `stop()` ends it (SIGQUIT, then SIGKILL) and removes the dir.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianPackage } from './apt.ts';
import { superviseDaemon } from './daemon.ts';

export interface Nginx {
  /** The prefix directory (config, logs). */
  dir: string;
  /** nginx's stderr/stdout so far (error log goes to stderr). */
  output(): string;
  stop(): Promise<void>;
}

/** Thrown when nginx refuses its config or does not listen in time; carries its output. */
export class NginxError extends Error {
  readonly code = 'ERR_NGINX';
  constructor(message: string) {
    super(message);
    this.name = 'NginxError';
  }
}

/**
 * Starts nginx with `httpBlock` (the contents of `http { }`) and waits until every port in
 * `ports` accepts connections.
 */
export async function startNginx(httpBlock: string, ports: readonly number[], { workers = 1 }: { workers?: number } = {}): Promise<Nginx> {
  const binary = await ensureDebianPackage('nginx');
  const dir = mkdtempSync(join(tmpdir(), 'revocable-nginx-'));
  for (const sub of ['logs', 'tmp/body', 'tmp/proxy', 'tmp/fastcgi', 'tmp/uwsgi', 'tmp/scgi']) mkdirSync(join(dir, sub), { recursive: true });
  // Workers drop root for nobody: they must be able to write their temp paths.
  for (const sub of ['tmp', 'tmp/body', 'tmp/proxy', 'tmp/fastcgi', 'tmp/uwsgi', 'tmp/scgi']) chmodSync(join(dir, sub), 0o777);
  const conf = `worker_processes ${workers};
pid ${join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'tmp/body')};
  proxy_temp_path ${join(dir, 'tmp/proxy')};
  fastcgi_temp_path ${join(dir, 'tmp/fastcgi')};
  uwsgi_temp_path ${join(dir, 'tmp/uwsgi')};
  scgi_temp_path ${join(dir, 'tmp/scgi')};
${httpBlock}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child: ChildProcess = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr', '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const daemon = await superviseDaemon(child, { name: 'nginx', ports, dir, stopSignal: 'SIGQUIT', failure: (message) => new NginxError(message) });
  return { dir, ...daemon };
}

/** The gate's nginx example (services/gate/deploy/nginx.conf) with its ports replaced. */
export function gateNginxSnippet(template: string, ports: { nginx: number; gate: number; upstream: number }): string {
  const out = template
    .replaceAll('127.0.0.1:3003', `127.0.0.1:${ports.gate}`)
    .replaceAll('127.0.0.1:8080', `127.0.0.1:${ports.upstream}`)
    .replaceAll('listen 127.0.0.1:8000;', `listen 127.0.0.1:${ports.nginx};`);
  if (out === template) throw new NginxError('the nginx example no longer has the expected ports to replace');
  return out;
}
