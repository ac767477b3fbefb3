import type { History } from './history.ts';
import type { FaultSystem } from './system.ts';
import { http } from './workload.ts';

/**
 * Samples every verifier's `/readyz` (ready? how fresh?) every ~500 ms. The checker uses it
 * to tell an instance that served a revoked token while it knew it was stale (what the
 * fail-open policy allows) from one that claimed to be fresh (a lost revocation).
 */
export class FreshnessMonitor {
  readonly #system: FaultSystem;
  readonly #history: History;
  #running = false;
  #loop: Promise<void> = Promise.resolve();

  constructor(system: FaultSystem, history: History) {
    this.#system = system;
    this.#history = history;
  }

  start(): void {
    this.#running = true;
    this.#loop = (async () => {
      while (this.#running) {
        const started = Date.now();
        await Promise.all(
          this.#system.verifiers.map(async (v) => {
            const t = Date.now();
            const r = await http(v.proc.url, 'GET', '/readyz', { timeoutMs: 1000 });
            const f = (r.body as { freshness_seconds?: number | null } | null)?.freshness_seconds;
            const list = this.#history.samples.get(v.proc.name) ?? [];
            list.push({ instance: v.proc.name, t, status: r.status, freshness: typeof f === 'number' ? f : null });
            this.#history.samples.set(v.proc.name, list);
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, Math.max(50, 500 - (Date.now() - started))));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}
