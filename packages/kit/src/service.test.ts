import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const KIT = fileURLToPath(new URL('./index.ts', import.meta.url));

/**
 * Runs `runService` in a child process (it owns signals and the exit code). `failures` is how
 * many times buildApp throws before it succeeds; `code` the code its error carries.
 */
function serve(env: Record<string, string>, script: { failures: number; code: string; retriable: boolean }) {
  const source = `
    import Fastify from 'fastify';
    import { runService, loadServerConfig } from ${JSON.stringify(KIT)};
    let attempts = 0;
    await runService({
      name: 'demo',
      loadConfig: (env) => loadServerConfig(env, { port: 0 }),
      buildApp: async () => {
        attempts++;
        if (attempts <= ${script.failures}) throw Object.assign(new Error('not up\\nyet'), { code: ${JSON.stringify(script.code)} });
        const app = Fastify();
        app.addHook('onClose', async () => { process.stdout.write('closed\\n'); });
        return app;
      },
      startRetry: () => ({ retriable: () => ${script.retriable}, timeoutMs: 60_000, delayMs: 10, waitingFor: 'dependency not up yet' }),
    });
    process.stdout.write('listening\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    env: { PATH: process.env['PATH'] ?? '', PORT: '0', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, exited, stdout: () => stdout };
}

describe('runService', () => {
  it('retries a transient start failure with one line per attempt, listens, and exits 0 after closing on SIGTERM', async () => {
    const run = serve({}, { failures: 2, code: 'ECONNREFUSED', retriable: true });
    const deadline = Date.now() + 30_000;
    while (!run.stdout().includes('listening')) {
      if (Date.now() > deadline) throw new Error(`never listened: ${run.stdout()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    run.child.kill('SIGTERM');
    const { code, stdout, stderr } = await run.exited;
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('closed');
    expect(stderr).toBe('demo: dependency not up yet (ECONNREFUSED not up yet); retrying\n'.repeat(2));
  });

  it('ends with one line and exit 1 when the start fails for good', async () => {
    const { code, stdout, stderr } = await serve({}, { failures: 1, code: 'ERR_BROKEN', retriable: false }).exited;
    expect(code).toBe(1);
    expect(stderr).toBe('demo: failed to start: ERR_BROKEN not up yet\n');
    expect(stdout).not.toContain('listening');
  });

  it('refuses a bad setting with one line naming the variable, exit 1, before building anything', async () => {
    const { code, stderr } = await serve({ PORT: 'eighty' }, { failures: 0, code: '', retriable: false }).exited;
    expect(code).toBe(1);
    expect(stderr).toBe('demo: configuration error: PORT: must be an integer between 0 and 65535, got "eighty"\n');
  });
});
