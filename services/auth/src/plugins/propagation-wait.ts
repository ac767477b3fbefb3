import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { captureEvents } from '../event-capture.ts';
import { waitPreference } from '../prefer.ts';
import type { PropagationReport, PropagationTracker, TrackedEvent } from '../propagation.ts';

/**
 * The body of a revoking answer under `Prefer: wait=N` (its `propagation` member): which
 * resource-service instances confirmed the revocation's events, which are still pending.
 */
/** A resource-service instance as its receipts name it: instance id, service, the audiences it verifies. */
export const InstanceIdentitySchema = Type.Object({ instance: Type.String(), service: Type.String(), audiences: Type.Array(Type.String()) });
/** {@link InstanceIdentitySchema} with more members. */
export const withInstanceIdentity = <T extends TProperties>(properties: T) => Type.Composite([InstanceIdentitySchema, Type.Object(properties)]);

export const WaitReportSchema = Type.Object(
  {
    events: Type.Array(Type.Object({ id: Type.String(), type: Type.String() }), {
      description: 'the revocation events this request wrote (ids for GET /v1/admin/revocations/{id}); empty when it changed nothing',
    }),
    complete: Type.Boolean({ description: 'every instance live at commit (of an affected audience) confirmed every event; false: the wait ended at its deadline' }),
    confirmed: Type.Array(withInstanceIdentity({ ms: Type.Integer({ description: "commit → receipt here, ms, on the auth service's clock (the slowest of the request's events)" }) })),
    pending: Type.Array(InstanceIdentitySchema, {
      description: 'instances live at commit that had not confirmed when the answer was sent',
    }),
    slowest_ms: Type.Union([Type.Integer(), Type.Null()], { description: 'largest `ms` among confirmed; null before any' }),
    waited_ms: Type.Integer({ description: 'how long the answer was held, ms' }),
  },
  { description: 'Propagation report of a revoking answer under Prefer: wait=N (RFC 7240)' },
);
export type WaitReport = Static<typeof WaitReportSchema>;

/** The `Prefer` request header, as documented on every revoking route. */
export const PreferHeaderSchema = Type.Object({
  prefer: Type.Optional(
    Type.String({
      description:
        'RFC 7240. `wait=N` holds the answer until every live instance of the affected audiences confirmed the revocation (receipts), or N seconds (capped at PREFER_WAIT_MAX_SECONDS); the answer then carries `propagation` and `Preference-Applied: wait=N`. Other preferences and unusable values are ignored',
    }),
  ),
});

/** Result of {@link RevocationWait.run}. */
export interface WaitOutcome<T> {
  result: T;
  /** The propagation report, when the request asked `Prefer: wait=N` and it was honoured; else undefined (answer as without the header). */
  propagation: WaitReport | undefined;
}

/** What the revoking routes call around their service action. */
export interface RevocationWait {
  /**
   * Runs `action` (a revoking service call). Under `Prefer: wait=N` it then waits — after the
   * action returned, so no database connection is held — until every instance live at
   * commit confirmed the events the action wrote, N seconds pass, or the client goes away;
   * sets `Preference-Applied` and returns the report. Without a usable preference it only
   * runs the action.
   */
  run<T>(request: FastifyRequest, reply: FastifyReply, action: () => Promise<T>): Promise<WaitOutcome<T>>;
}

declare module 'fastify' {
  interface FastifyInstance {
    revocationWait: RevocationWait;
  }
}

/** Options of {@link propagationWaitPlugin}. */
export interface PropagationWaitOptions {
  tracker: PropagationTracker;
  /** PREFER_WAIT_MAX_SECONDS: longer waits are capped. */
  maxSeconds: number;
  /** Whether receipts are read (RECEIPTS_ENABLED): without them no wait is honoured (the preference is ignored). */
  enabled: boolean;
  /** Injected clock, epoch ms. */
  now: () => number;
}

/** Combines the per-event reports of one request into its {@link WaitReport}. */
export function waitReport(events: readonly TrackedEvent[], reports: ReadonlyArray<PropagationReport | undefined>, waitedMs: number): WaitReport {
  const byInstance = new Map<string, { service: string; audiences: string[]; pending: boolean; ms: number }>();
  for (const report of reports) {
    for (const i of report?.instances ?? []) {
      const seen = byInstance.get(i.instance) ?? { service: i.service, audiences: [...i.audiences], pending: false, ms: 0 };
      if (i.status === 'pending') seen.pending = true;
      else seen.ms = Math.max(seen.ms, i.propagationMs ?? 0);
      byInstance.set(i.instance, seen);
    }
  }
  const ids = [...byInstance.keys()].sort();
  const confirmed = ids.filter((id) => !byInstance.get(id)!.pending).map((id) => {
    const { service, audiences, ms } = byInstance.get(id)!;
    return { instance: id, service, audiences, ms };
  });
  const pending = ids.filter((id) => byInstance.get(id)!.pending).map((id) => {
    const { service, audiences } = byInstance.get(id)!;
    return { instance: id, service, audiences };
  });
  return {
    events: events.map((e) => ({ id: e.id, type: e.type })),
    complete: pending.length === 0,
    confirmed,
    pending,
    slowest_ms: confirmed.length === 0 ? null : Math.max(...confirmed.map((c) => c.ms)),
    waited_ms: Math.max(0, Math.round(waitedMs)),
  };
}

/**
 * `Prefer: wait=N` for the revoking routes (issue 14): decorates `app.revocationWait`. Waits
 * on the {@link PropagationTracker} (woken by receipts), never by polling; a client that
 * disconnects, or the service closing, releases the wait at once.
 */
export const propagationWaitPlugin = fp(
  async (app: FastifyInstance, options: PropagationWaitOptions) => {
    const { tracker, now } = options;
    // Closing releases every wait: the answers go out with what has been confirmed so far.
    const closing = new AbortController();
    app.addHook('preClose', async () => closing.abort());

    const run = async <T>(request: FastifyRequest, reply: FastifyReply, action: () => Promise<T>): Promise<WaitOutcome<T>> => {
      const wait = options.enabled ? waitPreference(request.headers.prefer, options.maxSeconds) : undefined;
      if (wait === undefined) return { result: await action(), propagation: undefined };
      const { result, events } = await captureEvents(action);
      const startedAt = now();
      // Tracked at commit: the instances live now are the ones waited for (the relay's later
      // track() of the same ids changes nothing).
      for (const event of events) tracker.track(event);
      const gone = new AbortController();
      const onClose = () => gone.abort();
      reply.raw.once('close', onClose);
      try {
        if (!reply.raw.destroyed) {
          await tracker.waitFor(
            events.map((e) => e.id),
            startedAt + wait.seconds * 1000,
            AbortSignal.any([gone.signal, closing.signal]),
          );
        }
      } finally {
        reply.raw.removeListener('close', onClose);
      }
      if (gone.signal.aborted) request.log.debug({ events: events.map((e) => e.id) }, 'client left while waiting for propagation');
      reply.header('preference-applied', `wait=${wait.seconds}`);
      const report = waitReport(
        events,
        events.map((e) => tracker.report(e.id)),
        now() - startedAt,
      );
      return { result, propagation: report };
    };
    app.decorate('revocationWait', { run });
  },
  { name: 'revocable-auth-propagation-wait', fastify: '5.x' },
);
