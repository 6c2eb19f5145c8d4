-- Passkeys (WebAuthn, issue 12): the credentials, their pending ceremonies, and the
-- account's one recovery code, which now belongs to the account rather than to the
-- TOTP authenticator (the first second factor of any kind makes it; the last one
-- removed takes it away).

CREATE TABLE recovery_codes (
    user_uid   TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE,
    hash       TEXT NOT NULL,            -- Argon2id of the normalised code
    created_at BIGINT NOT NULL
);
INSERT INTO recovery_codes (user_uid, hash, created_at)
    SELECT user_uid, recovery_hash, activated_at FROM passcodes
    WHERE activated_at IS NOT NULL AND recovery_hash IS NOT NULL;
-- passcodes.recovery_hash now only holds the code of a setup not yet activated.
UPDATE passcodes SET recovery_hash = NULL WHERE activated_at IS NOT NULL;

CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,      -- public id (pk…)
    user_uid      TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    credential_id BLOB NOT NULL UNIQUE,  -- raw credential id, 1..1023 bytes
    user_handle   TEXT NOT NULL,         -- the WebAuthn user id (a UUID) the key holds
    rp_id         TEXT NOT NULL,         -- the relying-party id it was made for
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,         -- public key and flags (webauthn-rs Passkey, JSON)
    sign_count    BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    activated_at  BIGINT,                -- NULL: a first factor waiting for its recovery code to be saved
    pending_recovery_hash TEXT           -- that recovery code's hash, until activation
);
CREATE INDEX passkeys_user ON passkeys (user_uid);

CREATE TABLE webauthn_challenges (
    id_hash    TEXT PRIMARY KEY,         -- SHA-256 of the challenge id handed to the client
    purpose    TEXT NOT NULL,            -- register | second_factor | passwordless
    user_uid   TEXT REFERENCES users(uid) ON DELETE CASCADE,
    rp_id      TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '', -- the name of a passkey being registered
    state      TEXT NOT NULL,            -- the ceremony state (webauthn-rs, JSON)
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);
