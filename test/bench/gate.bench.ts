/**
 * The gate's cost through nginx: wrk (Debian's package, installed when missing) against one
 * nginx with two servers in front of the same upstream: the gated route (auth_request to
 * the gate process, services/gate/deploy/nginx.conf as is) and the same route without the
 * gate. Rounds alternate between the two, loopback only, bounded in time (~30 s of load).
 *
 * The upstream is an nginx server returning a fixed 200, so the difference is the gate
 * (subrequest, verification from the cache, denylist check, identity headers) and nothing
 * else. The gate reads a real revocation topic (its own broker unless KAFKA_BROKERS is set)
 * with heartbeats flowing, so its default freshness bound (10 s, fail-closed) holds.
 * The broker is secured as in production (test/bench/broker.ts): the gate authenticates as
 * its `gate` principal with the topic's ACLs; the bench's topic and heartbeats as the admin.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { defaultReceiptsTopic, receiptsTopicSpec, revocationTopicSpec } from '@revocable/events';
import { freePort } from '@revocable/infra';
import { generateSigningKey, importPrivateKey, signAccessToken } from '@revocable/tokens';
import { ensureDebianPackage } from '../support/apt.ts';
import { startGate, startStaticJwks } from '../support/gate.ts';
import { heartbeatRecords, testHeartbeatKeys } from '../support/heartbeats.ts';
import { gateNginxSnippet, startNginx } from '../support/nginx.ts';
import { benchBroker } from './broker.ts';
import { betterRatio, median, type BenchModule, type BenchResult } from './types.ts';

const run = promisify(execFile);
const ISSUER = 'https://auth.gate-bench.test';
const ROUNDS = 3;
const SECONDS_PER_ROUND = 5;
const CONNECTIONS = 16;
const NGINX_EXAMPLE = fileURLToPath(new URL('../../services/gate/deploy/nginx.conf', import.meta.url));

interface WrkRun {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
}

function toMs(value: string, unit: string): number {
  const n = Number.parseFloat(value);
  switch (unit) {
    case 'us':
      return n / 1000;
    case 'ms':
      return n;
    case 's':
      return n * 1000;
    default:
      throw new Error(`unknown wrk latency unit ${unit}`);
  }
}

function parseWrk(out: string): WrkRun {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  if (rps?.[1] === undefined || p50?.[1] === undefined || p50[2] === undefined || p99?.[1] === undefined || p99[2] === undefined) {
    throw new Error(`cannot read wrk output: ${out}`);
  }
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  return { requestsPerSecond: Number(rps[1]), p50Ms: toMs(p50[1], p50[2]), p99Ms: toMs(p99[1], p99[2]), non2xx: Number(non2xx?.[1] ?? 0) };
}

const bench: BenchModule = {
  name: 'gate',
  async run(): Promise<BenchResult[]> {
    const wrk = await ensureDebianPackage('wrk');
    const bus = await benchBroker();
    const dir = mkdtempSync(join(tmpdir(), 'gate-bench-'));
    const cleanups: Array<() => Promise<unknown>> = [];
    let heartbeating = true;
    try {
      const topic = `bench.gate.${randomUUID()}`;
      // The bench's own writer (topic, heartbeats) is the admin; the gate reads as `gate`, with the topic's ACLs.
      await bus.grant(topic);
      const transport = bus.transport('gate-bench');
      const spec = revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 });
      const admin = await transport.admin();
      await admin.ensureTopic(spec);
      // The auth service creates the receipts topic in production; without it the gate's first receipts fail and it creates the topic itself.
      await admin.ensureTopic(receiptsTopicSpec({ topic: defaultReceiptsTopic(topic) }));
      await admin.close();
      const producer = await transport.producer();
      cleanups.push(() => producer.close());
      // Stands in for the auth service's relay heartbeats, so the freshness bound holds.
      const heartbeats = (async () => {
        while (heartbeating) {
          await producer.send(topic, heartbeatRecords(topic, spec.partitions, { source: 'gate-bench' })).catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      })();
      cleanups.push(() => {
        heartbeating = false;
        return heartbeats;
      });

      const key = await generateSigningKey('EdDSA');
      const signer = { kid: key.kid, alg: key.alg, privateKey: await importPrivateKey(key.privateJwk, key.alg) };
      const jwks = await startStaticJwks([key.publicJwk, ...testHeartbeatKeys]);
      cleanups.push(() => jwks.close());
      const token = (await signAccessToken({ sub: 'bench-user', aud: 'orders', jti: randomUUID(), sid: randomUUID(), ver: 1, scope: 'orders:read' }, signer, { issuer: ISSUER, accessTtlSeconds: 900 })).token;

      const routesFile = join(dir, 'routes.json');
      writeFileSync(routesFile, JSON.stringify({ routes: [{ prefix: '/orders', audience: 'orders', scopes: ['orders:read'] }] }));
      const gatePort = await freePort();
      const gate = await startGate(gatePort, { GATE_ROUTES_FILE: routesFile, ...bus.env('gate'), REVOCATION_TOPIC: topic, AUTH_ISSUER: ISSUER, JWKS_URL: jwks.url });
      cleanups.push(() => gate.stop());
      const readyBy = Date.now() + 60_000;
      while ((await fetch(`${gate.url}/readyz`).then((r) => r.status, () => 0)) !== 200) {
        if (Date.now() > readyBy) throw new Error(`gate not ready within 60 s: ${gate.logs()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      const [gated, plain, upstream] = [await freePort(), await freePort(), await freePort()];
      const snippet = gateNginxSnippet(readFileSync(NGINX_EXAMPLE, 'utf8'), { nginx: gated, gate: gatePort, upstream });
      const nginx = await startNginx(
        `${snippet}
server {
    listen 127.0.0.1:${plain};
    location / {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://protected_app;
    }
}
server {
    listen 127.0.0.1:${upstream};
    location / {
        default_type application/json;
        return 200 '{"ok":true}';
    }
}
`,
        [gated, plain, upstream],
      );
      cleanups.push(() => nginx.stop());

      const check = await fetch(`http://127.0.0.1:${gated}/orders/1`, { headers: { authorization: `Bearer ${token}` } });
      if (check.status !== 200) throw new Error(`gated route answered ${check.status} before the bench: ${await check.text()}`);
      const denied = await fetch(`http://127.0.0.1:${gated}/orders/1`);
      if (denied.status !== 401) throw new Error(`gated route without a token answered ${denied.status}, expected 401`);

      const load = async (port: number, seconds: number) => {
        const { stdout } = await run(
          wrk,
          ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Authorization: Bearer ${token}`, `http://127.0.0.1:${port}/orders/1`],
          { timeout: (seconds + 30) * 1000 },
        );
        return parseWrk(stdout);
      };
      // Warm-up: JIT, keep-alive pools, the verified-token cache.
      await load(gated, 2);
      await load(plain, 1);
      const runs: { gated: WrkRun[]; plain: WrkRun[] } = { gated: [], plain: [] };
      for (let round = 0; round < ROUNDS; round++) {
        runs.gated.push(await load(gated, SECONDS_PER_ROUND));
        runs.plain.push(await load(plain, SECONDS_PER_ROUND));
      }
      const bad = [...runs.gated, ...runs.plain].reduce((sum, r) => sum + r.non2xx, 0);
      if (bad > 0) throw new Error(`${bad} non-2xx answers during the bench: ${gate.logs().slice(-2000)}`);

      const m = (list: WrkRun[], field: keyof WrkRun) => median(list.map((r) => r[field]));
      const g = { rps: m(runs.gated, 'requestsPerSecond'), p50: m(runs.gated, 'p50Ms'), p99: m(runs.gated, 'p99Ms') };
      const p = { rps: m(runs.plain, 'requestsPerSecond'), p50: m(runs.plain, 'p50Ms'), p99: m(runs.plain, 'p99Ms') };
      const how = `wrk -t1 -c${CONNECTIONS}, median of ${ROUNDS} alternating ${SECONDS_PER_ROUND} s rounds, loopback; nginx 1 worker, gate 1 process, upstream a fixed nginx 200`;
      const baselineName = 'same route, nginx without the gate';
      return [
        {
          metric: 'requests/s through nginx, gated route (auth_request → gate)',
          ours: g.rps,
          baseline: p.rps,
          baselineName,
          unit: 'req/s',
          ratio: betterRatio(g.rps, p.rps, 'higher'),
          note: `${how}; < 1 is the price of the check (one subrequest per request)`,
        },
        {
          metric: 'p50 latency through nginx, gated route',
          ours: g.p50,
          baseline: p.p50,
          baselineName,
          unit: 'ms',
          ratio: betterRatio(g.p50, p.p50, 'lower'),
          note: `added p50: ${(g.p50 - p.p50).toFixed(2)} ms; ${how}`,
        },
        {
          metric: 'p99 latency through nginx, gated route',
          ours: g.p99,
          baseline: p.p99,
          baselineName,
          unit: 'ms',
          ratio: betterRatio(g.p99, p.p99, 'lower'),
          note: `added p99: ${(g.p99 - p.p99).toFixed(2)} ms; ${how}`,
        },
      ];
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      await bus.stop();
    }
  },
};

export default bench;
