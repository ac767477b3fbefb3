/**
 * orders and profile run alone as processes (`node services/<name>/src/server.ts`): they
 * listen, report ready once they replayed the topic, refuse tokenless calls, stop cleanly on
 * SIGTERM, and refuse to start on a bad setting with one line naming it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort, ServiceProcess } from '@revocable/infra';
import { revocationTopicSpec } from '@revocable/events';
import { kafkaEnv, testTransport, uniqueTopic } from './support/env.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// Generous: on a loaded 2-core machine a process start (TypeScript stripping, the Kafka client
// library, the replay) can take tens of seconds; this is a deadline, not a timing check.
const READY_DEADLINE_MS = 90_000;

describe.each(['orders', 'profile'] as const)('%s as a process', (name) => {
  it('starts, becomes ready, answers 401 without a token and exits 0 on SIGTERM', async () => {
    const topic = uniqueTopic(`test.server.${name}`);
    const admin = await testTransport('server-test').admin();
    await admin.ensureTopic(revocationTopicSpec({ topic, maxAccessTtlSeconds: 900 }));
    await admin.close();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let output = '';
    // Only PATH and the documented variables: the service needs nothing else.
    const service = ServiceProcess.spawn(
      { name, port, url: base, env: { PORT: String(port), ...kafkaEnv(), REVOCATION_TOPIC: topic, LOG_LEVEL: 'info' } },
      { baseEnv: { PATH: process.env['PATH'] ?? '' }, onLine: (line) => (output += `${line}\n`) },
    );
    const exited = once(service.child, 'exit');
    try {
      // Ready: /readyz 200 from this very process (its pid holds the listening socket).
      await service.waitReady({ timeoutMs: READY_DEADLINE_MS });
      const res = await fetch(`${base}/v1/${name === 'orders' ? 'orders' : 'profile'}`, { headers: { authorization: 'Bearer not.a.jwt' } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token", error_description="malformed"');
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
    } finally {
      service.child.kill('SIGTERM');
    }
    const [code] = await exited;
    expect(code, output).toBe(0);
    // JSON log lines, and never the bearer token.
    expect(output).toContain('"msg":"shutting down"');
    expect(output).not.toContain('not.a.jwt');
  }, 150_000);

  it('refuses a bad setting with one line naming the variable, exit code 1', async () => {
    const child = spawn(process.execPath, [`services/${name}/src/server.ts`], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', PORT: 'eighty', KAFKA_BROKERS: '127.0.0.1:1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(stderr).toBe(`${name}: configuration error: PORT: must be an integer between 0 and 65535, got "eighty"\n`);
  });
});
