-- Up Migration

-- Who rotated a refresh token: an HMAC (keyed from KEY_ENCRYPTION_KEY) of the rotating
-- request's IP address and user agent. The reuse grace window hands the successor to a
-- duplicate only when it comes from that same client; NULL (rotated before this column
-- existed) never matches, so such a duplicate is reuse.
ALTER TABLE refresh_tokens ADD COLUMN rotated_by bytea;

-- Down Migration
ALTER TABLE refresh_tokens DROP COLUMN IF EXISTS rotated_by;
