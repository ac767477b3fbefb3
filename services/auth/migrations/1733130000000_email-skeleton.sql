-- Up Migration

-- The confusable skeleton (Unicode TS #39) of the normalised email: a registration whose
-- skeleton matches an existing account's (Cyrillic or full-width look-alikes) is refused.
-- Computed by the service (the mapping is Unicode's confusables data); rows from before
-- this migration are filled in at start, and a row whose skeleton collides with another
-- existing account keeps NULL (NULLs do not collide) and is reported in the log.
ALTER TABLE users ADD COLUMN email_skeleton text;
CREATE UNIQUE INDEX users_email_skeleton_key ON users (email_skeleton);

-- Down Migration
DROP INDEX IF EXISTS users_email_skeleton_key;
ALTER TABLE users DROP COLUMN IF EXISTS email_skeleton;
