-- gatehouse schema, PostgreSQL dialect. Portable column types only: TEXT ids, BIGINT for
-- integers, booleans (0/1) and unix times, so one code path serves SQLite and PostgreSQL.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    uid          TEXT PRIMARY KEY,
    username     TEXT NOT NULL,
    username_key TEXT UNIQUE,            -- lower-case name; NULL once deleted
    name         TEXT NOT NULL DEFAULT '',
    email        TEXT NOT NULL DEFAULT '',
    role         TEXT NOT NULL,
    super_admin  BIGINT NOT NULL DEFAULT 0,
    can_login    BIGINT NOT NULL DEFAULT 1,
    webdav       BIGINT NOT NULL DEFAULT 0,
    auth_method  TEXT NOT NULL DEFAULT 'default',
    password_hash TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    login_at     BIGINT,
    deleted_at   BIGINT
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    user_uid     TEXT REFERENCES users(uid) ON DELETE CASCADE,
    client_id    TEXT,
    parent_id    TEXT REFERENCES sessions(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    scope        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    idle_timeout BIGINT NOT NULL DEFAULT 0,
    last_active  BIGINT NOT NULL,
    login_ip     TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_uid, kind);
CREATE INDEX sessions_client ON sessions (client_id, created_at);
CREATE INDEX sessions_parent ON sessions (parent_id);

CREATE TABLE passcodes (
    user_uid      TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    verified_at   BIGINT,
    activated_at  BIGINT,
    last_step     BIGINT NOT NULL DEFAULT -1,
    recovery_hash TEXT
);

CREATE TABLE auth_attempts (
    id          BIGSERIAL PRIMARY KEY,
    account_key TEXT NOT NULL,
    ip_prefix   TEXT NOT NULL,
    outcome     BIGINT NOT NULL,         -- 0 pending, 1 success, 2 failure
    at          BIGINT NOT NULL
);
CREATE INDEX auth_attempts_account ON auth_attempts (account_key, outcome, at);
CREATE INDEX auth_attempts_ip ON auth_attempts (ip_prefix, outcome, at);

CREATE TABLE events (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    user_uid   TEXT,
    username   TEXT NOT NULL DEFAULT '',
    actor      TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_user ON events (user_uid, id);
CREATE INDEX events_kind ON events (kind, id);

CREATE TABLE clients (
    client_id      TEXT PRIMARY KEY,
    secret_hash    TEXT NOT NULL,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL DEFAULT 'client',
    scope          TEXT NOT NULL,
    token_lifetime BIGINT NOT NULL,
    max_tokens     BIGINT NOT NULL,
    enabled        BIGINT NOT NULL DEFAULT 1,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
