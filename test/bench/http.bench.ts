/**
 * The request path over real sockets, against the verifiers users pick today: each contender
 * is its own server process pinned to CPU 0 (test/bench/http-server.ts), wrk (Debian's
 * package, installed when missing) runs pinned to CPU 1, loopback only. CPU per request is
 * the server process's own CPU time (/proc/<pid>/stat) over the requests wrk completed.
 *
 * Scenarios: HOT, 1,000 live tokens round-robin (many users, several requests each within a
 * token's lifetime); COLD, every request a token never seen before; REVOKED, 1,000 tokens
 * of revoked sessions round-robin (every answer must be 401). 10,000 sessions are revoked in
 * every contender (Revocable reads them from a real revocation topic, on the secured bench
 * broker as the `orders` principal: test/bench/broker.ts). Rounds interleave the
 * contenders so load from elsewhere hits all alike; each figure is the median of the rounds.
 * Every run checks its answers: 200 for HOT/COLD, 401 for REVOKED, else the bench fails.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { createEventBuilder, encodeEvent, revocationTopicSpec } from '@revocable/events';
import { generateSigningKey, importPrivateKey, signAccessToken, type SignerKey } from '@revocable/tokens';
import { ensureDebianPackage } from '../support/apt.ts';
import { benchBroker } from './broker.ts';
import type { Contender, ServerSetup } from './http-server.ts';
import { betterRatio, median, type BenchModule, type BenchResult } from './types.ts';

const run = promisify(execFile);
const ISSUER = 'https://auth.http-bench.test';
const AUDIENCE = 'orders';
const ROUNDS = Number(process.env['BENCH_HTTP_ROUNDS'] ?? 4);
const SECONDS = Number(process.env['BENCH_HTTP_SECONDS'] ?? 4);
const CONNECTIONS = 16;
const HOT_TOKENS = 1000;
const REVOKED_SESSIONS = 10_000;
/** Unique tokens per COLD run: more than any contender verifies in SECONDS on one core. */
const COLD_TOKENS = Number(process.env['BENCH_HTTP_COLD_TOKENS'] ?? 40_000);
const SERVER_SCRIPT = new URL('./http-server.ts', import.meta.url).pathname;
const CONTENDERS: readonly Contender[] = ['unprotected', 'revocable', 'fastify-jwt', 'fastify-jwt-cache', 'jose-map'];
const NAMES: Record<Contender, string> = {
  unprotected: 'unprotected route',
  revocable: 'Revocable',
  'fastify-jwt': '@fastify/jwt 10.2.8 + Map denylist',
  'fastify-jwt-cache': '@fastify/jwt 10.2.8 with its verify cache + Map denylist',
  'jose-map': 'jose jwtVerify + Map denylist',
};
type Scenario = 'HOT' | 'COLD' | 'REVOKED';

interface Measured {
  cpuMicrosPerRequest: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
}

const LUA = `
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = "Bearer " .. line end
local i = 0
request = function()
  i = i + 1
  if i > #tokens then i = 1 end
  return wrk.format("GET", "/v1/orders", { ["Authorization"] = tokens[i] })
end
`;

function toMs(value: string, unit: string): number {
  const n = Number.parseFloat(value);
  if (unit === 'us') return n / 1000;
  if (unit === 'ms') return n;
  if (unit === 's') return n * 1000;
  throw new Error(`unknown wrk latency unit ${unit}`);
}

function parseWrk(out: string): { requests: number; rps: number; p50Ms: number; p99Ms: number; non2xx: number } {
  const requests = /(\d+) requests in/.exec(out)?.[1];
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  if (requests === undefined || rps === undefined || p50?.[2] === undefined || p99?.[2] === undefined) throw new Error(`cannot read wrk output: ${out}`);
  return {
    requests: Number(requests),
    rps: Number(rps),
    p50Ms: toMs(p50[1] ?? '', p50[2]),
    p99Ms: toMs(p99[1] ?? '', p99[2]),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
  };
}

/** User + system CPU time of a process, in microseconds. */
function cpuMicros(pid: number, ticksPerSecond: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1e6;
}

interface Server {
  contender: Contender;
  port: number;
  pid: number;
  child: ChildProcess;
}

async function startServer(contender: Contender, setupFile: string): Promise<Server> {
  // BENCH_HTTP_PROFILE=<contender>:<dir> writes that server's V8 CPU profile into <dir> when it stops.
  const [profiled, profileDir] = (process.env['BENCH_HTTP_PROFILE'] ?? '').split(':');
  const flags = profiled === contender && profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn('taskset', ['-c', '0', process.execPath, ...flags, SERVER_SCRIPT, contender, setupFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${contender} server did not listen within 120 s`)), 120_000);
    child.once('exit', (code) => reject(new Error(`${contender} server exited (${code}) before listening`)));
    lines.on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return { contender, port, pid: child.pid!, child };
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((done) => server.child.once('exit', done));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function signMany(signer: SignerKey, sids: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const [i, sid] of sids.entries()) {
    out.push((await signAccessToken({ sub: `user-${i}`, aud: AUDIENCE, jti: randomUUID(), sid, ver: 1 }, signer, { issuer: ISSUER, accessTtlSeconds: 900 })).token);
  }
  return out;
}

const bench: BenchModule = {
  name: 'http',
  async run(): Promise<BenchResult[]> {
    const wrk = await ensureDebianPackage('wrk');
    const ticksPerSecond = Number((await run('getconf', ['CLK_TCK'])).stdout.trim());
    const bus = await benchBroker();
    const dir = mkdtempSync(join(tmpdir(), 'http-bench-'));
    const servers: Server[] = [];
    try {
      const key = await generateSigningKey('EdDSA');
      const signer: SignerKey = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
      const revokedSids = Array.from({ length: REVOKED_SESSIONS }, () => randomUUID());

      // The revocations go through the real topic, as the auth service's relay would write them.
      // Written by the bench as the admin; Revocable's server reads it as `orders`, with the topic's ACLs.
      const topic = `bench.http.${randomUUID()}`;
      await bus.grant(topic);
      const transport = bus.transport('http-bench');
      const admin = await transport.admin();
      await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }));
      await admin.close();
      const producer = await transport.producer();
      const events = createEventBuilder({ accessTtlSeconds: 900, clockSkewSeconds: 30 });
      for (let i = 0; i < revokedSids.length; i += 1000) {
        await producer.send(
          topic,
          revokedSids.slice(i, i + 1000).map((sid, j) => ({ key: `user-r${i + j}`, value: encodeEvent(events.sessionRevoked({ sub: `user-r${i + j}`, sid, reason: 'logout', atMs: Date.now() })) })),
        );
      }
      await producer.close();

      const files: Record<string, string> = {};
      const write = (name: string, tokens: readonly string[]) => {
        files[name] = join(dir, `${name}.tokens`);
        writeFileSync(files[name], `${tokens.join('\n')}\n`);
      };
      write('HOT', await signMany(signer, Array.from({ length: HOT_TOKENS }, () => randomUUID())));
      write('REVOKED', await signMany(signer, revokedSids.slice(0, HOT_TOKENS)));
      // COLD: a fresh set per (round, contender), so no server ever sees a token twice.
      for (let r = 0; r < ROUNDS; r++) {
        for (const c of CONTENDERS) write(`COLD-${r}-${c}`, await signMany(signer, Array.from({ length: COLD_TOKENS }, () => randomUUID())));
      }
      const luaFile = join(dir, 'tokens.lua');
      writeFileSync(luaFile, LUA);
      const sasl = bus.sasl('orders');
      const setup: ServerSetup = { issuer: ISSUER, audience: AUDIENCE, publicJwk: key.publicJwk, revokedSids, brokers: bus.brokers, ...(sasl ? { sasl } : {}), topic };
      const setupFile = join(dir, 'setup.json');
      writeFileSync(setupFile, JSON.stringify(setup));
      for (const c of CONTENDERS) servers.push(await startServer(c, setupFile));

      const runs = new Map<string, Measured[]>();
      let wrapped = false;
      const scenarios = (process.env['BENCH_HTTP_SCENARIOS'] ?? 'HOT,COLD,REVOKED').split(',') as Scenario[];
      for (const scenario of scenarios) {
        for (const s of servers) {
          // Warm-up: JIT, connections, and (HOT/REVOKED) the caches, as a running service has them.
          const warm = scenario === 'COLD' ? files['HOT']! : files[scenario]!;
          await run('taskset', ['-c', '1', wrk, '-t1', `-c${CONNECTIONS}`, '-d1s', '-s', luaFile, `http://127.0.0.1:${s.port}/v1/orders`], { env: { ...process.env, BENCH_TOKENS: warm } });
        }
        for (let r = 0; r < ROUNDS; r++) {
          for (const s of servers) {
            const tokens = scenario === 'COLD' ? files[`COLD-${r}-${s.contender}`]! : files[scenario]!;
            const before = cpuMicros(s.pid, ticksPerSecond);
            const { stdout } = await run('taskset', ['-c', '1', wrk, '-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-s', luaFile, `http://127.0.0.1:${s.port}/v1/orders`], {
              env: { ...process.env, BENCH_TOKENS: tokens },
            });
            const used = cpuMicros(s.pid, ticksPerSecond) - before;
            const w = parseWrk(stdout);
            const expectRefused = scenario === 'REVOKED' && s.contender !== 'unprotected';
            if (expectRefused ? w.non2xx !== w.requests : w.non2xx !== 0) {
              throw new Error(`${NAMES[s.contender]} ${scenario}: ${w.non2xx} of ${w.requests} answers were not ${expectRefused ? '401' : '200'}`);
            }
            if (scenario === 'COLD' && w.requests > COLD_TOKENS && s.contender !== 'unprotected') wrapped = true;
            const key = `${scenario}/${s.contender}`;
            runs.set(key, [...(runs.get(key) ?? []), { cpuMicrosPerRequest: used / w.requests, requestsPerSecond: w.rps, p50Ms: w.p50Ms, p99Ms: w.p99Ms, requests: w.requests }]);
          }
        }
      }

      if (scenarios.length < 3) return [];
      const fig = (scenario: Scenario, c: Contender) => {
        const list = runs.get(`${scenario}/${c}`) ?? [];
        return {
          cpu: median(list.map((m) => m.cpuMicrosPerRequest)),
          rps: median(list.map((m) => m.requestsPerSecond)),
          p50: median(list.map((m) => m.p50Ms)),
          p99: median(list.map((m) => m.p99Ms)),
        };
      };
      const how = `wrk -t1 -c${CONNECTIONS} (CPU 1) → one server process (CPU 0), median of ${ROUNDS} interleaved ${SECONDS} s rounds; ${REVOKED_SESSIONS.toLocaleString('en-US')} revoked sessions; EdDSA`;
      const rows: BenchResult[] = [];
      const row = (scenario: Scenario, baseline: Contender, what: string, target?: { minRatio: number }) => {
        const ours = fig(scenario, 'revocable');
        const base = fig(baseline === 'revocable' ? 'HOT' : scenario, baseline);
        const ratio = betterRatio(ours.cpu, base.cpu, 'lower');
        rows.push({
          metric: `CPU per request over sockets, ${scenario} (${what})`,
          ours: ours.cpu,
          baseline: base.cpu,
          baselineName: baseline === 'revocable' ? 'Revocable, HOT' : NAMES[baseline],
          unit: 'µs/req',
          ratio,
          note: `p50/p99 ${ours.p50.toFixed(2)}/${ours.p99.toFixed(2)} ms vs ${base.p50.toFixed(2)}/${base.p99.toFixed(2)} ms, ${Math.round(ours.rps).toLocaleString('en-US')} vs ${Math.round(base.rps).toLocaleString('en-US')} req/s; ${how}`,
          ...(target ? { target: { text: `≥ ${target.minRatio.toFixed(2)}×`, met: ratio >= target.minRatio } } : {}),
        });
      };
      row('HOT', 'unprotected', '1,000 tokens round-robin', { minRatio: 0.9 });
      row('HOT', 'fastify-jwt-cache', '1,000 tokens round-robin', { minRatio: 2 });
      row('HOT', 'fastify-jwt', '1,000 tokens round-robin');
      row('HOT', 'jose-map', '1,000 tokens round-robin');
      row('COLD', 'jose-map', `every token new${wrapped ? '; a token list wrapped, so some requests were cache hits' : ''}`, { minRatio: 1 });
      row('COLD', 'fastify-jwt', 'every token new');
      row('COLD', 'fastify-jwt-cache', 'every token new');
      row('REVOKED', 'revocable', 'revoked sessions vs our own HOT', { minRatio: 1 });
      row('REVOKED', 'fastify-jwt-cache', 'revoked sessions');
      row('REVOKED', 'jose-map', 'revoked sessions');
      return rows;
    } finally {
      for (const s of servers) await stopServer(s);
      rmSync(dir, { recursive: true, force: true });
      await bus.stop();
    }
  },
};

export default bench;
