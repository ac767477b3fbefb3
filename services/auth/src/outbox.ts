import { encodeEvent, eventKey, type RevocationEvent } from '@revocable/events';
import type { PoolClient } from './db.ts';

/**
 * Writes `event` to the outbox inside the caller's transaction, so the event exists if and
 * only if the state change it announces committed. The event is validated here (fail the
 * transaction, not the relay) and again by the relay when it produces. The insert trigger
 * NOTIFYs waiting relays at commit.
 */
export async function enqueueEvent(client: PoolClient, event: RevocationEvent): Promise<void> {
  encodeEvent(event);
  const key = eventKey(event);
  if (key === null) throw new Error(`event type ${event.type} has no key and cannot go through the outbox`);
  await client.query('INSERT INTO outbox (event_key, payload) VALUES ($1, $2::jsonb)', [key, JSON.stringify(event)]);
}
