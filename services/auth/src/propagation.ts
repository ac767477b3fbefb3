import { LIVENESS_INTERVALS, type ReceiptMessage } from '@revocable/events';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** A revocation event as the tracker needs it. */
export interface TrackedEvent {
  id: string;
  type: string;
  /** The event's `at`: set by the auth service in the transaction that commits it, epoch ms (auth clock). */
  at: number;
}

/** One resource-service instance, as its announces and receipts describe it. */
export interface InstanceView {
  instance: string;
  service: string;
  audiences: readonly string[];
  /** Live by the rule: a message within {@link LIVENESS_INTERVALS} × its announce interval, not `leaving`. */
  live: boolean;
  /** When the last message from it arrived, epoch ms (auth clock). */
  lastSeenAt: number;
  announceIntervalMs: number;
  state: 'up' | 'leaving';
  ready: boolean;
  freshnessSeconds: number | null;
  lag: number;
}

/** Where one instance is with one revocation. */
export interface InstanceReceipt {
  instance: string;
  service: string;
  audiences: readonly string[];
  status: 'confirmed' | 'pending';
  /** When the receipt arrived here (auth clock), epoch ms; null while pending. */
  confirmedAt: number | null;
  /** When the instance says it applied the event (its clock), epoch ms; null while pending. */
  appliedAt: number | null;
  /** Event time → receipt here, milliseconds (one clock); null while pending. */
  propagationMs: number | null;
  /** Whether the instance is live now. */
  live: boolean;
}

/** The propagation report of one revocation. */
export interface PropagationReport {
  id: string;
  type: string;
  at: number;
  /** Audiences the revocation affects (every audience this auth service issues tokens for). */
  audiences: readonly string[];
  instances: InstanceReceipt[];
  confirmed: number;
  /** Ids of the instances that were live when the event was tracked and have not confirmed. */
  pending: string[];
  /** Largest propagation among confirmations, milliseconds; null before any. */
  slowestMs: number | null;
  /** True once no instance is pending. */
  complete: boolean;
}

interface Entry {
  event: TrackedEvent;
  /** Instances expected to confirm: live (for an affected audience) when the event was tracked. */
  expected: Set<string>;
  confirmations: Map<string, { receivedAt: number; appliedAt: number }>;
  waiters: Set<() => void>;
}

interface Instance {
  view: Omit<InstanceView, 'live'>;
}

/** Options of {@link PropagationTracker}. */
export interface PropagationTrackerOptions {
  /** Audiences revocations affect (AUDIENCES): instances of any of them are waited for. */
  audiences: readonly string[];
  /** Injected clock, epoch ms. */
  now: () => number;
  /** Registry for the propagation metrics. */
  registry: Registry;
  /** Revocations remembered, newest kept. Default 10000. */
  maxEvents?: number;
  /** How long a revocation is remembered, milliseconds. Default 15 minutes. */
  eventTtlMs?: number;
  /** Instances not heard from for this long are forgotten, milliseconds. Default 10 minutes. */
  instanceTtlMs?: number;
}

/**
 * The auth service's view of propagation, on its own clock: the live resource-service
 * instances (from their announces), and for each recent revocation which of the instances
 * live when it was committed have confirmed it and when the receipt arrived here. Fills
 * `revocable_auth_propagation_seconds{audience}` (event time → receipt, live applies only).
 * Bounded: the newest `maxEvents` revocations for `eventTtlMs` (plus any a `Prefer: wait`
 * answer is still waiting for).
 */
export class PropagationTracker {
  readonly #o: PropagationTrackerOptions;
  readonly #audiences: Set<string>;
  readonly #events = new Map<string, Entry>();
  readonly #instances = new Map<string, Instance>();
  readonly #histogram: Histogram<'audience'>;
  readonly #receipts: Counter<'kind'>;

  constructor(options: PropagationTrackerOptions) {
    this.#o = options;
    this.#audiences = new Set(options.audiences);
    const registers = [options.registry];
    this.#histogram = new Histogram({
      name: 'revocable_auth_propagation_seconds',
      help: 'Revocation committed here → receipt from a resource instance that applied it live, on this service\'s clock, by the instance\'s audience.',
      labelNames: ['audience'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#receipts = new Counter({ name: 'revocable_auth_receipts_total', help: 'Receipt records read, by kind (applied, announce, invalid).', labelNames: ['kind'] as const, registers });
    for (const kind of ['applied', 'announce', 'invalid']) this.#receipts.inc({ kind }, 0);
    const tracker = this;
    new Gauge({
      name: 'revocable_auth_live_instances',
      help: 'Resource-service instances live by the announce rule, by audience.',
      labelNames: ['audience'] as const,
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>([...tracker.#audiences].map((a) => [a, 0]));
        for (const view of tracker.instances()) if (view.live) for (const a of view.audiences) counts.set(a, (counts.get(a) ?? 0) + 1);
        for (const [audience, count] of counts) this.set({ audience }, count);
      },
    });
    for (const audience of options.audiences) this.#histogram.zero({ audience });
  }

  /** Counts a record that was not a receipt (the reader skipped it). */
  invalid(): void {
    this.#receipts.inc({ kind: 'invalid' });
  }

  /** Applies one receipt message, received now. */
  receive(message: ReceiptMessage): void {
    const nowMs = this.#o.now();
    this.#receipts.inc({ kind: message.kind });
    const known = this.#instances.get(message.instance);
    const base = known?.view ?? { announceIntervalMs: 2000, state: 'up' as const, ready: true, freshnessSeconds: null, lag: 0 };
    const view = { ...base, instance: message.instance, service: message.service, audiences: message.audiences, lastSeenAt: nowMs };
    if (message.kind === 'announce') {
      Object.assign(view, { announceIntervalMs: message.intervalMs, state: message.state, ready: message.ready, freshnessSeconds: message.freshnessSeconds, lag: message.lag });
    }
    this.#instances.delete(message.instance);
    this.#instances.set(message.instance, { view });
    if (message.kind === 'announce') {
      // A leaving instance is no longer waited for.
      if (message.state === 'leaving') for (const entry of this.#events.values()) if (entry.expected.delete(message.instance)) this.#settle(entry);
      return;
    }
    for (const applied of message.events) {
      const entry = this.#entry({ id: applied.id, type: applied.type, at: applied.at });
      if (entry.confirmations.has(message.instance)) continue;
      entry.confirmations.set(message.instance, { receivedAt: nowMs, appliedAt: applied.appliedAt });
      if (applied.phase === 'live') {
        for (const audience of message.audiences) {
          if (this.#audiences.has(audience)) this.#histogram.observe({ audience }, Math.max(0, nowMs - entry.event.at) / 1000);
        }
      }
      this.#settle(entry);
    }
  }

  /**
   * Starts tracking a revocation (idempotent): the instances live now for an affected
   * audience are the ones expected to confirm it.
   */
  track(event: TrackedEvent): void {
    this.#entry(event);
  }

  /** The report of a tracked revocation, or undefined when unknown (or forgotten). */
  report(id: string): PropagationReport | undefined {
    this.#expire();
    const entry = this.#events.get(id);
    if (entry === undefined) return undefined;
    const instances: InstanceReceipt[] = [];
    const ids = new Set([...entry.expected, ...entry.confirmations.keys()]);
    let slowestMs: number | null = null;
    for (const instance of ids) {
      const view = this.#view(instance);
      const confirmation = entry.confirmations.get(instance);
      const propagationMs = confirmation === undefined ? null : Math.max(0, confirmation.receivedAt - entry.event.at);
      if (propagationMs !== null && (slowestMs === null || propagationMs > slowestMs)) slowestMs = propagationMs;
      instances.push({
        instance,
        service: view?.service ?? 'unknown',
        audiences: view?.audiences ?? [],
        status: confirmation === undefined ? 'pending' : 'confirmed',
        confirmedAt: confirmation?.receivedAt ?? null,
        appliedAt: confirmation?.appliedAt ?? null,
        propagationMs,
        live: view?.live ?? false,
      });
    }
    instances.sort((a, b) => a.instance.localeCompare(b.instance));
    const pending = instances.filter((i) => i.status === 'pending').map((i) => i.instance);
    return {
      id: entry.event.id,
      type: entry.event.type,
      at: entry.event.at,
      audiences: [...this.#audiences],
      instances,
      confirmed: instances.length - pending.length,
      pending,
      slowestMs,
      complete: pending.length === 0,
    };
  }

  /** The reports of the newest `limit` tracked revocations, newest first. */
  recent(limit: number): PropagationReport[] {
    this.#expire();
    const ids = [...this.#events.keys()].slice(-limit).reverse();
    return ids.map((id) => this.report(id)).filter((r): r is PropagationReport => r !== undefined);
  }

  /**
   * Resolves once every expected instance confirmed each of `ids` (or left), at
   * `deadlineMs` (epoch ms, auth clock; real time passes between checks), or when `signal`
   * aborts (the client went away, the service is closing), whichever comes first. Woken by
   * the receipts themselves: no polling. Ids not tracked (see {@link track}) are not waited for.
   */
  async waitFor(ids: readonly string[], deadlineMs: number, signal?: AbortSignal): Promise<void> {
    const entries = ids.map((id) => this.#events.get(id)).filter((e): e is Entry => e !== undefined);
    const done = () => entries.every((e) => this.#pendingOf(e).length === 0);
    if (done() || signal?.aborted === true) return;
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        for (const e of entries) e.waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(finish, Math.max(0, deadlineMs - this.#o.now()));
      signal?.addEventListener('abort', finish, { once: true });
      for (const e of entries) e.waiters.add(check);
    });
  }

  /** How many waiters are registered on tracked revocations (tests: a released waiter leaves none). */
  waiters(): number {
    let count = 0;
    for (const entry of this.#events.values()) count += entry.waiters.size;
    return count;
  }

  /** Every known instance, most recently heard from last. */
  instances(): InstanceView[] {
    this.#expire();
    return [...this.#instances.keys()].map((id) => this.#view(id)).filter((v): v is InstanceView => v !== undefined);
  }

  #view(id: string): InstanceView | undefined {
    const found = this.#instances.get(id);
    if (found === undefined) return undefined;
    const v = found.view;
    const live = v.state === 'up' && this.#o.now() - v.lastSeenAt < LIVENESS_INTERVALS * v.announceIntervalMs;
    return { ...v, live };
  }

  #pendingOf(entry: Entry): string[] {
    return [...entry.expected].filter((id) => !entry.confirmations.has(id));
  }

  #settle(entry: Entry): void {
    for (const waiter of [...entry.waiters]) waiter();
  }

  #entry(event: TrackedEvent): Entry {
    let entry = this.#events.get(event.id);
    if (entry !== undefined) return entry;
    this.#expire();
    const expected = new Set<string>();
    for (const view of this.instances()) {
      if (view.live && view.audiences.some((a) => this.#audiences.has(a))) expected.add(view.instance);
    }
    entry = { event, expected, confirmations: new Map(), waiters: new Set() };
    this.#events.set(event.id, entry);
    const max = this.#o.maxEvents ?? 10_000;
    // Oldest first; one an answer is still waiting for stays until that answer went out.
    for (const [id, old] of this.#events) {
      if (this.#events.size <= max) break;
      if (old.waiters.size === 0) this.#events.delete(id);
    }
    return entry;
  }

  #expire(): void {
    const nowMs = this.#o.now();
    const eventTtl = this.#o.eventTtlMs ?? 15 * 60_000;
    for (const [id, entry] of this.#events) {
      if (nowMs - entry.event.at <= eventTtl) break;
      if (entry.waiters.size === 0) this.#events.delete(id);
    }
    const instanceTtl = this.#o.instanceTtlMs ?? 10 * 60_000;
    for (const [id, { view }] of this.#instances) {
      if (nowMs - view.lastSeenAt <= instanceTtl) break;
      this.#instances.delete(id);
    }
  }
}
