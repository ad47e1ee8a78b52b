-- +goose Up
-- Raw events, one row per event id (ingest is idempotent on event_id).
-- id is the monotonic cursor the SSE stream and the API page on.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL UNIQUE,
    ts           TEXT    NOT NULL,
    decky        TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    event_type   TEXT    NOT NULL,
    attacker_ip  TEXT    NOT NULL DEFAULT '',
    src_port     INTEGER NOT NULL DEFAULT 0,
    dst_ip       TEXT    NOT NULL DEFAULT '',
    dst_port     INTEGER NOT NULL DEFAULT 0,
    proto        TEXT    NOT NULL DEFAULT '',
    session      TEXT    NOT NULL DEFAULT '',
    fields       TEXT    NOT NULL DEFAULT '{}',
    credential   TEXT
);
-- Few indexes on purpose: every one costs on the ingest hot path. Lists page
-- on id (time order); per-attacker and per-session views use these two.
CREATE INDEX ix_events_attacker_ip ON events(attacker_ip, event_type);
CREATE INDEX ix_events_session ON events(session);

-- One row per source address.
CREATE TABLE attackers (
    uuid             TEXT    PRIMARY KEY,
    ip               TEXT    NOT NULL UNIQUE,
    first_seen       TEXT    NOT NULL,
    last_seen        TEXT    NOT NULL,
    event_count      INTEGER NOT NULL DEFAULT 0,
    session_count    INTEGER NOT NULL DEFAULT 0,
    credential_count INTEGER NOT NULL DEFAULT 0,
    command_count    INTEGER NOT NULL DEFAULT 0,
    services         TEXT    NOT NULL DEFAULT '[]',
    deckies          TEXT    NOT NULL DEFAULT '[]',
    updated_at       TEXT    NOT NULL
);
CREATE INDEX ix_attackers_last_seen ON attackers(last_seen);

-- One row per connection (the emitter's session id).
CREATE TABLE sessions (
    id            TEXT    PRIMARY KEY,
    attacker_ip   TEXT    NOT NULL,
    decky         TEXT    NOT NULL,
    service       TEXT    NOT NULL,
    src_port      INTEGER NOT NULL DEFAULT 0,
    started_at    TEXT    NOT NULL,
    last_seen     TEXT    NOT NULL,
    ended_at      TEXT,
    event_count   INTEGER NOT NULL DEFAULT 0,
    command_count INTEGER NOT NULL DEFAULT 0,
    login_count   INTEGER NOT NULL DEFAULT 0,
    username      TEXT    NOT NULL DEFAULT '',
    logged_in     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_sessions_attacker_ip ON sessions(attacker_ip);
CREATE INDEX ix_sessions_started_at ON sessions(started_at);

-- Deduplicated captured secrets.
CREATE TABLE credentials (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    attacker_ip      TEXT    NOT NULL,
    decky            TEXT    NOT NULL,
    service          TEXT    NOT NULL,
    principal        TEXT    NOT NULL DEFAULT '',
    secret_kind      TEXT    NOT NULL DEFAULT 'plaintext',
    secret_sha256    TEXT    NOT NULL,
    secret_b64       TEXT    NOT NULL,
    secret_printable TEXT    NOT NULL,
    outcome          TEXT    NOT NULL DEFAULT 'observed',
    first_seen       TEXT    NOT NULL,
    last_seen        TEXT    NOT NULL,
    attempt_count    INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT uq_credentials_dedup UNIQUE (attacker_ip, decky, service, secret_kind, secret_sha256, principal)
);
CREATE INDEX ix_credentials_last_seen ON credentials(last_seen);
-- X

-- The deckies the engine runs, with the ports each service actually got.
CREATE TABLE deckies (
    name       TEXT PRIMARY KEY,
    ip         TEXT NOT NULL,
    hostname   TEXT NOT NULL DEFAULT '',
    distro     TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL DEFAULT 'running',
    services   TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL
);

CREATE TABLE users (
    uuid                 TEXT PRIMARY KEY,
    username             TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    role                 TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    tokens_valid_from    INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL
);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    user_uuid  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX ix_revoked_tokens_expires ON revoked_tokens(expires_at);

-- Small key/value state (install secret fingerprint, cursors).
CREATE TABLE state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE state;
DROP TABLE revoked_tokens;
DROP TABLE users;
DROP TABLE deckies;
DROP TABLE credentials;
DROP TABLE sessions;
DROP TABLE attackers;
DROP TABLE events;
