-- Up Migration

-- Accounts. email is stored normalised (NFC, lower case); token_version is the `ver` claim.
CREATE TABLE users (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email           text NOT NULL,
  password_hash   text NOT NULL,
  token_version   integer NOT NULL DEFAULT 1 CHECK (token_version >= 1),
  disabled_at     timestamptz,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  CONSTRAINT users_email_key UNIQUE (email),
  CONSTRAINT users_email_length CHECK (char_length(email) BETWEEN 3 AND 254)
);

-- Failed logins per account (keyed by an HMAC of the email, so unknown emails count too).
CREATE TABLE login_failures (
  account_key       bytea PRIMARY KEY,
  failures          integer NOT NULL,
  window_started_at timestamptz NOT NULL
);

-- One session = one refresh-token family.
CREATE TABLE sessions (
  id                  uuid PRIMARY KEY,
  user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at          timestamptz NOT NULL,
  last_used_at        timestamptz NOT NULL,
  idle_expires_at     timestamptz NOT NULL,
  absolute_expires_at timestamptz NOT NULL,
  revoked_at          timestamptz,
  revoke_reason       text,
  user_agent          text,
  ip                  text
);
CREATE INDEX sessions_active_by_user ON sessions (user_id, created_at) WHERE revoked_at IS NULL;

-- Refresh tokens, stored only as SHA-256 hashes. rotated_at marks a used token.
CREATE TABLE refresh_tokens (
  token_hash  bytea PRIMARY KEY,
  session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  generation  integer NOT NULL,
  created_at  timestamptz NOT NULL,
  rotated_at  timestamptz
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

-- Signing keys. Private keys are AES-256-GCM encrypted with KEY_ENCRYPTION_KEY (AAD = kid).
CREATE TABLE signing_keys (
  kid                 text PRIMARY KEY,
  alg                 text NOT NULL CHECK (alg IN ('EdDSA', 'ES256')),
  public_jwk          jsonb NOT NULL,
  private_ciphertext  bytea NOT NULL,
  private_iv          bytea NOT NULL,
  private_tag         bytea NOT NULL,
  status              text NOT NULL CHECK (status IN ('active', 'retired', 'revoked')),
  created_at          timestamptz NOT NULL,
  retired_at          timestamptz,
  revoked_at          timestamptz
);
-- At most one active key, whatever several instances do at once.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (status) WHERE status = 'active';

-- Access tokens revoked one by one (RFC 7009); kept until they expire.
CREATE TABLE revoked_access_tokens (
  jti         text PRIMARY KEY,
  sub         text NOT NULL,
  expires_at  timestamptz NOT NULL
);

-- Transactional outbox: written in the same transaction as the state change it announces.
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  event_key   text NOT NULL,
  payload     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_by_key ON outbox (event_key, id);

-- Wakes relays (LISTEN auth_outbox) when a transaction that wrote events commits.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('auth_outbox', '');
  RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Down Migration
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
DROP TABLE IF EXISTS outbox;
DROP TABLE IF EXISTS revoked_access_tokens;
DROP TABLE IF EXISTS signing_keys;
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS login_failures;
DROP TABLE IF EXISTS users;
