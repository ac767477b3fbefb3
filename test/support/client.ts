/**
 * A RevocableClient as the SDK tests drive it (client-sdk against a fake server, client-auth
 * against the real services): an in-memory refresh-token store, a clock the test moves
 * forward (`advance`), and every session end and token change recorded.
 */
import { RevocableClient, memoryStore, type RefreshTokenStore, type RevocableClientOptions, type SessionEndedEvent, type TokenChange } from '@revocable/client';

export interface TestClient {
  client: RevocableClient;
  store: RefreshTokenStore;
  ended: SessionEndedEvent[];
  changes: TokenChange[];
  /** Moves the client's clock `ms` forward (access tokens expire on it; nothing sleeps). */
  advance(ms: number): void;
}

/** A client of `options.authUrl`; every other option goes over the test defaults above. */
export function testClient(options: Partial<RevocableClientOptions> & Pick<RevocableClientOptions, 'authUrl'>): TestClient {
  let nowMs = Date.now();
  const store = memoryStore();
  const ended: SessionEndedEvent[] = [];
  const changes: TokenChange[] = [];
  const client = new RevocableClient({
    storage: store,
    now: () => nowMs,
    onSessionEnded: (event) => ended.push(event),
    onTokenChange: (change) => changes.push(change),
    ...options,
  });
  return {
    client,
    store,
    ended,
    changes,
    advance(ms) {
      nowMs += ms;
    },
  };
}
