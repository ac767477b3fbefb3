import type { FaultKind, FaultWindow, History, TokenInfo } from './history.ts';
import type { ServiceProcess } from './process.ts';
import type { Rng } from './rng.ts';
import { FRESHNESS_MAX_SECONDS, type FaultSystem } from './system.ts';
import { terminateBackends } from './truth.ts';
import { http, type Mutator, type Workload } from './workload.ts';

/** How long every instance has, after a fault is healed, to be ready and fresh again by itself. */
export const RECOVERY_DEADLINE_MS = 15_000;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface NemesisContext {
  system: FaultSystem;
  history: History;
  workload: Workload;
  mutator: Mutator;
  rng: Rng;
  log: (line: string) => void;
}

/**
 * Injects one fault at a time, heals it, then waits for every instance to recover by
 * itself within {@link RECOVERY_DEADLINE_MS}. What does not recover is a violation; the
 * nemesis then restarts crashed processes (a supervisor would) so that the run goes on
 * and the next faults are still tested.
 */
export class Nemesis {
  readonly #c: NemesisContext;
  #seenExits = 0;

  constructor(context: NemesisContext) {
    this.#c = context;
  }

  async inject(kind: FaultKind): Promise<FaultWindow> {
    const { system, history, rng, log } = this.#c;
    const window: FaultWindow = { index: history.windows.length + 1, kind, target: 'broker', startedAt: Date.now(), healedAt: null, recoveredAt: null, notes: [] };
    history.windows.push(window);
    const burstRng = rng.fork();
    switch (kind) {
      case 'broker-kill': {
        await system.broker.kill();
        window.notes.push('broker killed with SIGKILL');
        const burst = this.#c.mutator.burst(burstRng, 5);
        await delay(3000);
        await burst;
        await system.broker.start(180_000);
        await system.waitBrokerAnswers(60_000);
        break;
      }
      case 'broker-pause': {
        system.broker.pause();
        window.notes.push('broker paused with SIGSTOP');
        const burst = this.#c.mutator.burst(burstRng, 5);
        await delay(5000);
        system.broker.resume();
        await burst;
        await system.waitBrokerAnswers(60_000);
        break;
      }
      case 'auth-kill': {
        const victim = rng.pick(system.auth);
        window.target = victim.name;
        const burst = this.#c.mutator.burst(burstRng, 10, victim);
        await delay(rng.int(30, 250));
        await victim.kill('SIGKILL');
        window.notes.push(`${victim.name} killed with SIGKILL mid-burst`);
        await burst;
        await delay(1000);
        await this.#restart(victim, window);
        break;
      }
      case 'verifier-kill': {
        const victim = rng.pick(system.verifiers);
        window.target = victim.proc.name;
        await victim.proc.kill('SIGKILL');
        const downAt = Date.now();
        window.notes.push(`${victim.proc.name} killed with SIGKILL`);
        const before = history.mutations.length;
        await this.#c.mutator.burst(burstRng, 8);
        await delay(Math.max(0, 4000 - (Date.now() - downAt)));
        const revokedWhileDown = history.mutations.slice(before).filter((m) => m.acknowledged).flatMap((m) => m.targets);
        await this.#restart(victim.proc, window);
        // The restarted instance must refuse, at once, everything revoked while it was down.
        const tokens = revokedWhileDown.map((jti) => history.tokens.get(jti)).filter((t): t is TokenInfo => t !== undefined);
        await Promise.all(tokens.map((t) => this.#c.workload.probe(t, victim, 0, 'restart-check')));
        window.notes.push(`${tokens.length} tokens revoked while it was down probed right after its restart`);
        break;
      }
      case 'pg-terminate': {
        window.target = 'postgres';
        let terminated = 0;
        for (let i = 0; i < 3; i++) {
          const burst = this.#c.mutator.burst(burstRng, 6);
          await delay(rng.int(20, 120));
          terminated += await terminateBackends(system.adminDatabaseUrl, system.database.name);
          await burst;
          await delay(700);
        }
        window.notes.push(`${terminated} backends of ${system.database.name} terminated (3 rounds, during revocation bursts)`);
        break;
      }
      case 'verifier-cut': {
        const victim = rng.pick(system.verifiers);
        window.target = victim.proc.name;
        victim.proxy.cut();
        const cutAt = Date.now();
        window.notes.push(`${victim.proc.name} cut off from the broker`);
        const burst = this.#c.mutator.burst(burstRng, 5);
        // Longer than its freshness bound: its fail-closed routes must go 503 meanwhile.
        let effective = false;
        const deadline = cutAt + (FRESHNESS_MAX_SECONDS + 8) * 1000;
        while (Date.now() < deadline) {
          const r = await http(victim.proc.url, 'GET', '/readyz', { timeoutMs: 1000 });
          const f = (r.body as { freshness_seconds?: number | null } | null)?.freshness_seconds;
          if (f === null || (typeof f === 'number' && f > FRESHNESS_MAX_SECONDS)) {
            effective = true;
            break;
          }
          await delay(200);
        }
        await delay(Math.max(0, (FRESHNESS_MAX_SECONDS + 3) * 1000 - (Date.now() - cutAt)));
        await burst;
        if (!effective) history.violations.push({ kind: 'FAULT_INEFFECTIVE', instance: victim.proc.name, at: Date.now(), message: `cutting ${victim.proc.name} off from the broker never made its state stale` });
        else window.notes.push(`freshness of ${victim.proc.name} went past ${FRESHNESS_MAX_SECONDS} s while cut`);
        victim.proxy.heal();
        break;
      }
    }
    window.healedAt = Date.now();
    await this.#awaitRecovery(window);
    return window;
  }

  /** Starts a killed instance again; one that never gets ready is a violation, not the end of the run. */
  async #restart(proc: ServiceProcess, window: FaultWindow): Promise<void> {
    try {
      await proc.start();
    } catch (error) {
      this.#c.history.violations.push({
        kind: 'NOT_RECOVERED',
        instance: proc.name,
        at: Date.now(),
        message: `${proc.name} restarted after ${window.kind} did not get ready: ${(error as Error).message}`,
      });
    }
  }

  /** Polls every instance until all are ready and fresh; records what does not recover in time. */
  async #awaitRecovery(window: FaultWindow): Promise<void> {
    const { system, history, log } = this.#c;
    const healedAt = window.healedAt ?? Date.now();
    const deadline = healedAt + RECOVERY_DEADLINE_MS;
    let pending: Array<{ proc: ServiceProcess; why: string }> = [];
    for (;;) {
      pending = await this.#unrecovered();
      if (pending.length === 0 || Date.now() > deadline) break;
      await delay(100);
    }
    this.#reportCrashes(window);
    if (pending.length === 0) {
      window.recoveredAt = Date.now();
      log(`fault ${window.index} ${window.kind} (${window.target}): recovered ${((window.recoveredAt - healedAt) / 1000).toFixed(1)} s after healing`);
      return;
    }
    for (const p of pending) {
      history.violations.push({
        kind: 'NOT_RECOVERED',
        instance: p.proc.name,
        at: Date.now(),
        message: `${p.proc.name} did not recover by itself within ${RECOVERY_DEADLINE_MS / 1000} s of healing ${window.kind} (${p.why})\n${p.proc.logTail()}`,
      });
    }
    // Keep the run going: a supervisor's restart for what died, more time for what is slow.
    for (const p of pending) {
      if (!p.proc.alive) {
        window.notes.push(`${p.proc.name} was dead: restarted by the nemesis`);
        await p.proc.start().catch((error: unknown) => log(`restarting ${p.proc.name} failed: ${String(error)}`));
      }
    }
    const lateDeadline = Date.now() + 60_000;
    for (;;) {
      pending = await this.#unrecovered();
      if (pending.length === 0 || Date.now() > lateDeadline) break;
      await delay(200);
    }
    window.recoveredAt = Date.now();
    const took = ((window.recoveredAt - healedAt) / 1000).toFixed(1);
    window.notes.push(pending.length === 0 ? `all ready and fresh only ${took} s after healing` : `still not recovered ${took} s after healing: ${pending.map((p) => `${p.proc.name} (${p.why})`).join(', ')}`);
    log(`fault ${window.index} ${window.kind} (${window.target}): ${window.notes.at(-1)}`);
  }

  #reportCrashes(window: FaultWindow): void {
    const exits = this.#c.system.instances().flatMap((p) => p.unexpectedExits.map((e) => ({ e, p })));
    for (const { e, p } of exits.slice(this.#seenExits)) {
      this.#c.history.violations.push({
        kind: 'CRASHED',
        instance: e.instance,
        at: e.at,
        message: `${e.instance} (generation ${e.generation}) exited by itself (${e.code ?? e.signal}) at ${new Date(e.at).toISOString()} during ${window.kind}\n${p.logTail(45)}`,
      });
    }
    this.#seenExits = exits.length;
  }

  async #unrecovered(): Promise<Array<{ proc: ServiceProcess; why: string }>> {
    const { system } = this.#c;
    const out: Array<{ proc: ServiceProcess; why: string }> = [];
    await Promise.all([
      ...system.auth.map(async (a) => {
        if (!a.alive) return void out.push({ proc: a, why: 'process not running' });
        const r = await http(a.url, 'GET', '/readyz', { timeoutMs: 1500 });
        const relay = (r.body as { relay?: { state?: string } } | null)?.relay?.state;
        if (r.status !== 200 || relay !== 'running') out.push({ proc: a, why: `readyz ${r.status}, relay ${relay ?? 'unknown'}` });
      }),
      ...system.verifiers.map(async (v) => {
        if (!v.proc.alive) return void out.push({ proc: v.proc, why: 'process not running' });
        const r = await http(v.proc.url, 'GET', '/readyz', { timeoutMs: 1500 });
        const f = (r.body as { freshness_seconds?: number | null } | null)?.freshness_seconds;
        if (r.status !== 200 || typeof f !== 'number' || f > FRESHNESS_MAX_SECONDS) out.push({ proc: v.proc, why: `readyz ${r.status}, freshness ${f ?? 'none'} s` });
      }),
    ]);
    return out;
  }
}
