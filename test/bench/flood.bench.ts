/**
 * A registration flood against the real auth service (one process, production scrypt cost
 * 2^17, PostgreSQL, Kafka secured as in production: test/bench/broker.ts), over real
 * sockets: a legitimate user's login latency while 64 clients register new accounts as
 * fast as they are answered, each from its own address (`X-Forwarded-For` behind
 * `TRUST_PROXY=1`, so the per-IP registration limit does not save the service: the bounded
 * password-hashing queue has to), next to the same login on the
 * idle service in the same run. The flood's answers are counted by status, with the latency
 * of the 503s (the queue must refuse fast, not after a hash).
 */
import { randomUUID } from 'node:crypto';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { benchBroker } from './broker.ts';
import { betterRatio, median, percentile, type BenchModule, type BenchResult } from './types.ts';

const PASSWORD = 'correct horse battery staple';
const LOGINS = Number(process.env['BENCH_FLOOD_LOGINS'] ?? 12);
const FLOODERS = Number(process.env['BENCH_FLOOD_CLIENTS'] ?? 64);

const bench: BenchModule = {
  name: 'flood',
  async run(): Promise<BenchResult[]> {
    const bus = await benchBroker();
    const databaseUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    let cluster: Cluster | undefined;
    try {
      // auth authenticates as its own principal, the topic's ACLs granted first (as `up` does).
      cluster = await startCluster({
        kafkaBrokers: bus.brokers,
        kafkaCredentials: bus.credentials,
        databaseUrl,
        services: ['auth'],
        env: { auth: { LOG_LEVEL: 'warn', PASSWORD_SCRYPT_COST: '17', TRUST_PROXY: '1', REGISTER_RATE_LIMIT_PER_IP: '20', MAX_SESSIONS_PER_USER: '1000' } },
      });
      const auth = cluster.authUrl;
      const post = (path: string, body: unknown, from: string) =>
        fetch(`${auth}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': from }, body: JSON.stringify(body) });
      const email = `flood-user-${randomUUID()}@example.com`;
      const created = await post('/v1/users', { email, password: PASSWORD }, '192.0.2.1');
      if (created.status !== 201) throw new Error(`registration of the legitimate user answered ${created.status}: ${await created.text()}`);

      // Sequential logins from the user's own address; every one must succeed.
      const logins = async (): Promise<{ ms: number[]; failed: number }> => {
        const ms: number[] = [];
        let failed = 0;
        for (let i = 0; i < LOGINS; i++) {
          const started = performance.now();
          const r = await post('/v1/login', { email, password: PASSWORD }, '192.0.2.1');
          await r.arrayBuffer();
          ms.push(performance.now() - started);
          if (r.status !== 200) failed++;
        }
        return { ms, failed };
      };
      await logins(); // warm-up: JIT, pool, the user's row
      const idle = await logins();

      let flooding = true;
      let sent = 0;
      const statuses = new Map<number, number>();
      const refusedMs: number[] = [];
      const flood = Array.from({ length: FLOODERS }, async () => {
        while (flooding) {
          const n = sent++;
          const started = performance.now();
          const r = await post('/v1/users', { email: `flood-${randomUUID()}@example.com`, password: PASSWORD }, `198.51.${(n >> 8) & 255}.${n & 255}`).catch(() => null);
          const ms = performance.now() - started;
          const status = r === null ? 0 : r.status;
          await r?.arrayBuffer();
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status === 503) refusedMs.push(ms);
        }
      });
      // Let the queue fill before measuring: wait for the first refusal, with a deadline.
      const deadline = Date.now() + 30_000;
      while (refusedMs.length === 0 && (statuses.get(201) ?? 0) < 4) {
        if (Date.now() > deadline) throw new Error('the flood got neither a 503 nor four 201s within 30 s');
        await new Promise<void>((resolve) => setTimeout(resolve, 10));
      }
      const during = await logins();
      flooding = false;
      await Promise.all(flood);

      const idleP50 = median(idle.ms);
      const floodP50 = median(during.ms);
      const counts = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s === 0 ? 'network error' : s} ×${n}`).join(', ');
      const note = `auth at scrypt 2^17, ${FLOODERS} clients registering from distinct addresses (X-Forwarded-For, TRUST_PROXY=1) while one user logs in ${LOGINS} times in a row; flood answers: ${counts}; 503 p50 ${percentile(refusedMs, 50).toFixed(1)} ms, p99 ${percentile(refusedMs, 99).toFixed(1)} ms`;
      return [
        {
          metric: 'login p50 during a registration flood',
          ours: Math.round(floodP50),
          baseline: Math.round(idleP50),
          baselineName: 'the same login, idle service (same run)',
          unit: 'ms',
          ratio: betterRatio(floodP50, idleP50, 'lower'),
          note: `${note}; logins refused during the flood: ${during.failed}`,
          target: { text: 'every login during the flood succeeds', met: during.failed === 0 && idle.failed === 0 },
        },
        {
          metric: 'login p99 during a registration flood',
          ours: Math.round(percentile(during.ms, 99)),
          baseline: Math.round(percentile(idle.ms, 99)),
          baselineName: 'the same login, idle service (same run)',
          unit: 'ms',
          ratio: betterRatio(percentile(during.ms, 99), percentile(idle.ms, 99), 'lower'),
          note: 'before the bounded hashing queue, 60 registrations from one address made a login take 21.9 s instead of 0.63 s (35×)',
        },
      ];
    } finally {
      await cluster?.stop();
      await bus.stop();
    }
  },
};

export default bench;
