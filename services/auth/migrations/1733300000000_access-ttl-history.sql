-- Up Migration

-- Every access-token lifetime the issuer has signed with, and when (issue 9 part 4, "windows
-- that never reopen"). A revocation must be remembered until the last token it covers
-- expired, and that token may have been issued under an earlier, longer ACCESS_TTL_SECONDS:
-- this history outlives restarts, so lowering the TTL never shortens a revocation.
--
-- One row per period a TTL (with its CLOCK_SKEW_SECONDS) is in force. `until` is a lease:
-- every instance signing with the TTL keeps it in the future (renewed at start and by the
-- housekeeping timer), so a token of that TTL was issued at or before `until` and expires by
-- `until + ttl_seconds`. A stopped or crashed instance simply stops renewing.
CREATE TABLE access_ttl_history (
  id                  bigserial PRIMARY KEY,
  ttl_seconds         integer NOT NULL CHECK (ttl_seconds > 0),
  clock_skew_seconds  integer NOT NULL CHECK (clock_skew_seconds >= 0),
  since               timestamptz NOT NULL,
  until               timestamptz NOT NULL,
  CHECK (until >= since)
);
CREATE INDEX access_ttl_history_until ON access_ttl_history (until);

-- The `until` a session or user revocation needs (epoch seconds), for tokens issued up to
-- `last_issued_at_ms`: the latest `exp` of any token of any TTL period, plus that period's
-- skew. NULL without history. The revocation statements raise the event's `until` to it,
-- in the statement that writes the event, so an instance also covers a longer TTL another
-- instance started signing with after this one read the history.
CREATE FUNCTION access_ttl_covered_until(last_issued_at_ms bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT max(ceil(least(extract(epoch FROM h.until) * 1000, last_issued_at_ms::numeric) / 1000) + h.ttl_seconds + h.clock_skew_seconds)::bigint
    FROM access_ttl_history h
   WHERE h.since <= to_timestamp(last_issued_at_ms::numeric / 1000)
$$;

-- A revocation event (jsonb, schema v1) with its `until` raised to what the TTL history
-- needs: session.revoked and user.revoked cover every token issued up to the event's `at`.
-- Other events are returned unchanged (token.revoked covers its own `exp`; key.revoked is
-- sized by the service in its transaction).
CREATE FUNCTION revocation_covering_ttl_history(payload jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN payload->>'type' IN ('session.revoked', 'user.revoked') THEN
      jsonb_set(payload, '{until}', to_jsonb(GREATEST((payload->>'until')::bigint, COALESCE(access_ttl_covered_until((payload->>'at')::bigint), 0))))
    ELSE payload
  END
$$;

-- Down Migration
DROP FUNCTION IF EXISTS revocation_covering_ttl_history(jsonb);
DROP FUNCTION IF EXISTS access_ttl_covered_until(bigint);
DROP TABLE IF EXISTS access_ttl_history;
