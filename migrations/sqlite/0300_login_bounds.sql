-- Brute-force lanes (domain::throttle): each attempt is judged as a stranger's (0), from
-- a known address (1) or from the owner's device (2); `device` is the device cookie's
-- hash for lane 2; `channel` is 0 for the JSON login, 1 for HTTP Basic. Outcome 3 is
-- the right password without the second factor.
ALTER TABLE auth_attempts ADD COLUMN lane BIGINT NOT NULL DEFAULT 0;
ALTER TABLE auth_attempts ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_attempts ADD COLUMN channel BIGINT NOT NULL DEFAULT 0;

-- Device cookies (OWASP "device cookies"): SHA-256 of the random cookie value, bound to
-- the accounts that logged in completely with it.
CREATE TABLE login_devices (
    token_hash  TEXT NOT NULL,
    account_key TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    last_used   BIGINT NOT NULL,
    PRIMARY KEY (token_hash, account_key)
);
CREATE INDEX login_devices_account ON login_devices (account_key, last_used);

-- Pending passkey ceremonies are capped per client address.
ALTER TABLE webauthn_challenges ADD COLUMN ip_prefix TEXT NOT NULL DEFAULT '';
CREATE INDEX webauthn_challenges_ip ON webauthn_challenges (ip_prefix, expires_at);

-- Repeated identical events are one row: how many, and when the last one was.
ALTER TABLE events ADD COLUMN repeats BIGINT NOT NULL DEFAULT 1;
ALTER TABLE events ADD COLUMN last_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX events_repeat ON events (kind, ip, at);
UPDATE events SET last_at = at;
