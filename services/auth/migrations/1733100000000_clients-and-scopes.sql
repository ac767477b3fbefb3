-- Up Migration

-- RS256 (RFC 9068 §2.1) beside EdDSA and ES256.
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_alg_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_alg_check CHECK (alg IN ('EdDSA', 'ES256', 'RS256'));

-- What a session was granted at login: its client, the audiences it may refresh into
-- (RFC 8707) and the scopes (RFC 6749 §6: a refresh never widens them). NULL on sessions
-- created before clients existed: they keep the registry's default client and the
-- AUDIENCES allow-list.
ALTER TABLE sessions ADD COLUMN client_id text;
ALTER TABLE sessions ADD COLUMN audiences text[];
ALTER TABLE sessions ADD COLUMN scope text;

-- Down Migration
ALTER TABLE sessions DROP COLUMN IF EXISTS scope;
ALTER TABLE sessions DROP COLUMN IF EXISTS audiences;
ALTER TABLE sessions DROP COLUMN IF EXISTS client_id;
DELETE FROM signing_keys WHERE alg = 'RS256' AND status = 'next';
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_alg_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_alg_check CHECK (alg IN ('EdDSA', 'ES256'));
