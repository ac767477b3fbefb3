import { AsyncLocalStorage } from 'node:async_hooks';
import type { TrackedEvent } from './propagation.ts';

const store = new AsyncLocalStorage<TrackedEvent[]>();

/**
 * Runs `action` and returns, with its result, the revocation events it wrote to the outbox
 * (in the order written; none when it changed nothing, e.g. a session already revoked).
 * The revoking routes use it under `Prefer: wait` to know which events to wait for, without
 * every service method returning its events. An action that throws writes none that count:
 * its transaction rolled back, or its answer is an error anyway.
 */
export async function captureEvents<T>(action: () => Promise<T>): Promise<{ result: T; events: TrackedEvent[] }> {
  const events: TrackedEvent[] = [];
  const result = await store.run(events, action);
  return { result, events };
}

/** Records an event just written to the outbox, for an enclosing {@link captureEvents} (if any). */
export function noteEventWritten(event: { id: string; type: string; at: number }): void {
  store.getStore()?.push({ id: event.id, type: event.type, at: event.at });
}
