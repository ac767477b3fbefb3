import type { EventBuilder, SessionRevokeReason, UserRevokeReason } from '@revocable/events';
import type { Logger } from '@revocable/protocol';
import { noteEventWritten } from '../event-capture.ts';
import type { AuthMetrics } from '../metrics.ts';
import { enqueueEvent, outboxRow } from '../outbox.ts';
import type { Db } from '../queries/db.ts';
import { revokeAccessTokenWithEvent, revokeSessionWithEvent } from '../queries/revocations.ts';
import { revokeUserSessions } from '../queries/sessions.ts';
import { bumpTokenVersion } from '../queries/users.ts';

/** Options for {@link Revocations}. */
export interface RevocationsOptions {
  events: EventBuilder;
  metrics?: AuthMetrics | undefined;
  log?: Pick<Logger, 'info' | 'warn'> | undefined;
}

/**
 * The revocation primitives every service uses: each writes its state change and its event
 * (built by `@revocable/events`, validated before it is written) in the caller's
 * transaction — or, for a single session or token, in one statement of its own.
 */
export class Revocations {
  readonly #o: RevocationsOptions;

  constructor(options: RevocationsOptions) {
    this.#o = options;
  }

  /** Marks one session revoked and writes `session.revoked`, in one statement. False if it already was (no event). */
  async session(db: Db, userId: string, sid: string, reason: SessionRevokeReason, nowMs: number): Promise<boolean> {
    const event = this.#o.events.sessionRevoked({ sub: userId, sid, reason, atMs: nowMs });
    const revoked = await revokeSessionWithEvent(db, { sid, userId, now: new Date(nowMs), reason }, outboxRow(event));
    if (!revoked) return false;
    noteEventWritten(event);
    const reuse = reason === 'reuse_detected';
    this.#o.log?.[reuse ? 'warn' : 'info']({ event: 'session.revoked', sub: userId, sid, reason }, reuse ? 'refresh token reuse detected: session revoked' : 'session revoked');
    this.#o.metrics?.revocations.inc({ type: 'session.revoked', reason });
    return true;
  }

  /**
   * Bumps `ver`, revokes every session (but `keepSid`), writes one `user.revoked {minVer}`.
   * Returns the new version, or null for an unknown user. Run it in a transaction.
   */
  async user(db: Db, userId: string, reason: UserRevokeReason, nowMs: number, sessionReason: SessionRevokeReason, keepSid?: string): Promise<number | null> {
    const now = new Date(nowMs);
    const minVer = await bumpTokenVersion(db, userId, now);
    if (minVer === undefined) return null;
    await revokeUserSessions(db, userId, now, sessionReason, keepSid);
    this.#o.log?.info({ event: 'user.revoked', sub: userId, minVer, reason }, 'all tokens of the user revoked');
    await enqueueEvent(db, this.#o.events.userRevoked({ sub: userId, minVer, reason, atMs: nowMs }));
    this.#o.metrics?.revocations.inc({ type: 'user.revoked', reason });
    return minVer;
  }

  /** Denies one access token until its `exp` (`token.revoked`), in one statement. False if it already was. */
  async accessToken(db: Db, claims: { sub: string; jti: string; exp: number }, nowMs: number): Promise<boolean> {
    const event = this.#o.events.tokenRevoked({ sub: claims.sub, jti: claims.jti, exp: claims.exp, atMs: nowMs });
    const revoked = await revokeAccessTokenWithEvent(db, { jti: claims.jti, sub: claims.sub, expiresAt: new Date(claims.exp * 1000) }, outboxRow(event));
    if (revoked) {
      noteEventWritten(event);
      this.#o.metrics?.revocations.inc({ type: 'token.revoked', reason: 'rfc7009' });
    }
    return revoked;
  }
}
