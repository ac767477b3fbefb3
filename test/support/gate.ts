/**
 * Runs the gate as a process (`node services/gate/src/server.ts`) for cross-process tests
 * and the benchmark, plus the helpers around it: a TCP relay to the Kafka broker that can be
 * held shut (to keep a restarted gate from catching up), a JWKS that adds a test key to the
 * auth service's, and the Python echo upstream.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JWK } from 'jose';
import { freePort } from '@revocable/infra';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface GateProcess {
  url: string;
  port: number;
  child: ChildProcess;
  logs(): string;
  /** SIGTERM, waits for the exit; resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** Starts the gate on `port` with `env` and resolves once it answers `/healthz` (not necessarily ready). */
export async function startGate(port: number, env: Record<string, string>): Promise<GateProcess> {
  const child = spawn(process.execPath, ['services/gate/src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  child.stdout?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  process.once('exit', () => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  // A loaded 2-core machine can take tens of seconds to start a Node.js process.
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gate exited with ${child.exitCode}: ${logs}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gate did not answer /healthz within 90 s: ${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    port,
    child,
    logs: () => logs,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const [code] = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * A TCP relay on `port` to the broker's bootstrap address. While shut it does not listen
 * (connections are refused); opened, it forwards. Kafka clients only bootstrap through it
 * (metadata points them at the broker itself), which is all a gate needs to start reading.
 */
export class BootstrapRelay {
  readonly port: number;
  readonly #target: { host: string; port: number };
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();

  constructor(port: number, broker: string) {
    this.port = port;
    const [host, p] = broker.split(':');
    this.#target = { host: host ?? '127.0.0.1', port: Number(p) };
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async open(): Promise<void> {
    if (this.#server !== null) return;
    const server = createServer((socket) => {
      const upstream = connect(this.#target);
      for (const s of [socket, upstream]) {
        this.#sockets.add(s);
        s.once('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      socket.pipe(upstream).pipe(socket);
      socket.once('close', () => upstream.destroy());
      upstream.once('close', () => socket.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
  }

  async shut(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Serves the auth service's JWKS plus `extra` keys (test keys that sign scoped tokens). */
export async function startMergedJwks(authJwksUrl: string, extra: readonly JWK[]): Promise<{ url: string; close(): Promise<void> }> {
  const server: HttpServer = createHttpServer((request, response) => {
    fetch(authJwksUrl)
      .then((r) => r.json() as Promise<{ keys: JWK[] }>)
      .then((jwks) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ keys: [...jwks.keys, ...extra] }));
      })
      .catch(() => {
        response.writeHead(502).end();
      });
    request.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { url: `http://127.0.0.1:${address.port}/jwks.json`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Serves a fixed JWKS (benchmarks: no auth service). */
export async function startStaticJwks(keys: readonly JWK[]): Promise<{ url: string; close(): Promise<void> }> {
  const body = JSON.stringify({ keys });
  const server: HttpServer = createHttpServer((request, response) => {
    request.resume();
    response.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { url: `http://127.0.0.1:${address.port}/jwks.json`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export interface EchoUpstream {
  port: number;
  stop(): Promise<void>;
}

/** Starts `python3 test/support/echo-upstream.py` on a free port. */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const child = spawn('python3', [fileURLToPath(new URL('./echo-upstream.py', import.meta.url)), '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  process.once('exit', () => child.kill('SIGKILL'));
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`python3 upstream did not start: ${out}`)), 15_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`python3 upstream exited with ${code}: ${out}`));
    });
  });
  return {
    port,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** A gate process and the Python echo upstream behind the reverse proxy a test puts in front of them. */
export interface ProxiedGate {
  /** The proxy's port: where the test sends its requests. */
  port: number;
  gatePort: number;
  /** The gate running now (see {@link ProxiedGate.startGateAgain}). */
  gate: GateProcess;
  upstream: EchoUpstream;
  /** Starts the gate again on the same port and env after the test stopped it; resolves once it answers `/healthz` (not necessarily ready). */
  startGateAgain(): Promise<GateProcess>;
  /** Stops the proxy, the gate and the upstream, and removes the routes file. */
  stop(): Promise<void>;
}

/**
 * Starts the echo upstream, writes `routes` as the gate's GATE_ROUTES_FILE, starts the gate
 * with `env` and waits until it is ready (topic caught up), then starts the proxy that
 * `proxy` launches on the given ports (Caddy's forward_auth, nginx's auth_request…).
 */
export async function startProxiedGate(options: {
  routes: readonly Record<string, unknown>[];
  env: Record<string, string>;
  proxy: (ports: { proxy: number; gate: number; upstream: number }) => Promise<{ stop(): Promise<void> }>;
}): Promise<ProxiedGate> {
  const dir = mkdtempSync(join(tmpdir(), 'revocable-gate-'));
  const routesFile = join(dir, 'routes.json');
  writeFileSync(routesFile, JSON.stringify({ routes: options.routes }));
  const env = { GATE_ROUTES_FILE: routesFile, ...options.env };
  const gatePort = await freePort();
  const port = await freePort();
  let upstream: EchoUpstream | undefined;
  let gate: GateProcess | undefined;
  let proxy: { stop(): Promise<void> } | undefined;
  const stop = async () => {
    await proxy?.stop();
    await gate?.stop();
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    upstream = await startEchoUpstream();
    gate = await startGate(gatePort, env);
    await untilReady(gate, 60_000);
    proxy = await options.proxy({ proxy: port, gate: gatePort, upstream: upstream.port });
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  const proxied: ProxiedGate = {
    port,
    gatePort,
    gate,
    upstream,
    async startGateAgain() {
      proxied.gate = gate = await startGate(gatePort, env);
      return proxied.gate;
    },
    stop,
  };
  return proxied;
}

/** Polls the gate's `/readyz` until it answers 200; throws with the gate's output after `timeoutMs`. */
async function untilReady(gate: GateProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await fetch(`${gate.url}/readyz`).then((r) => r.status, () => 0)) !== 200) {
    if (Date.now() > deadline) throw new Error(`the gate was not ready within ${timeoutMs} ms: ${gate.logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
