import { encodeEvent, eventKey, type RevocationEvent } from '@revocable/events';
import { noteEventWritten } from './event-capture.ts';
import type { Db } from './queries/db.ts';

/** An outbox row, validated: what a statement inserts into `outbox`. */
export interface OutboxRow {
  key: string;
  /** The event as JSON text (cast to jsonb in SQL). */
  payload: string;
}

/**
 * Validates `event` (throws EventValidationError: fail the transaction, not the relay) and
 * returns its outbox row. The relay validates again when it produces.
 */
export function outboxRow(event: RevocationEvent): OutboxRow {
  encodeEvent(event);
  const key = eventKey(event);
  if (key === null) throw new Error(`event type ${event.type} has no key and cannot go through the outbox`);
  return { key, payload: JSON.stringify(event) };
}

/**
 * Writes `event` to the outbox inside the caller's transaction, so the event exists if and
 * only if the state change it announces committed. The insert trigger NOTIFYs waiting
 * relays at commit. A `session.revoked` or `user.revoked` event's `until` is raised, in the
 * statement, to the latest expiry of any token issued under the TTL history (see the
 * migration `access-ttl-history`): another instance may sign with a longer TTL.
 */
export async function enqueueEvent(db: Db, event: RevocationEvent): Promise<void> {
  const row = outboxRow(event);
  // A session or user revocation's `until` is raised to cover every TTL of the issuer's history.
  await db.query('INSERT INTO outbox (event_key, payload) VALUES ($1, revocation_covering_ttl_history($2::jsonb))', [row.key, row.payload]);
  noteEventWritten(event);
}
