-- +goose Up
-- MySQL/MariaDB twin of migrations/sqlite (same versions, same tables and
-- columns). Every table is InnoDB, utf8mb4 with a binary collation so that
-- keys compare case-sensitively as on SQLite and PostgreSQL. Indexed text is
-- VARCHAR sized so every composite key fits InnoDB's 3072-byte limit; times
-- are fixed-width UTC RFC 3339 text (VARCHAR(40)), as on the other dialects.
-- state's key column is "name" here from the start ("key" is reserved).
CREATE TABLE events (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id     VARCHAR(128) NOT NULL,
    ts           VARCHAR(40)  NOT NULL,
    decky        VARCHAR(64)  NOT NULL,
    service      VARCHAR(32)  NOT NULL,
    event_type   VARCHAR(64)  NOT NULL,
    attacker_ip  VARCHAR(45)  NOT NULL DEFAULT '',
    src_port     INT          NOT NULL DEFAULT 0,
    dst_ip       VARCHAR(45)  NOT NULL DEFAULT '',
    dst_port     INT          NOT NULL DEFAULT 0,
    proto        VARCHAR(16)  NOT NULL DEFAULT '',
    session      VARCHAR(128) NOT NULL DEFAULT '',
    fields       MEDIUMTEXT   NOT NULL DEFAULT ('{}'),
    credential   MEDIUMTEXT,
    CONSTRAINT uq_events_event_id UNIQUE (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_events_attacker_ip ON events(attacker_ip, event_type);
CREATE INDEX ix_events_session ON events(session);

CREATE TABLE attackers (
    uuid             VARCHAR(64) NOT NULL PRIMARY KEY,
    ip               VARCHAR(45) NOT NULL,
    first_seen       VARCHAR(40) NOT NULL,
    last_seen        VARCHAR(40) NOT NULL,
    event_count      BIGINT      NOT NULL DEFAULT 0,
    session_count    BIGINT      NOT NULL DEFAULT 0,
    credential_count BIGINT      NOT NULL DEFAULT 0,
    command_count    BIGINT      NOT NULL DEFAULT 0,
    services         MEDIUMTEXT  NOT NULL DEFAULT ('[]'),
    deckies          MEDIUMTEXT  NOT NULL DEFAULT ('[]'),
    updated_at       VARCHAR(40) NOT NULL,
    CONSTRAINT uq_attackers_ip UNIQUE (ip)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_attackers_last_seen ON attackers(last_seen);

CREATE TABLE sessions (
    id            VARCHAR(128) NOT NULL PRIMARY KEY,
    attacker_ip   VARCHAR(45)  NOT NULL,
    decky         VARCHAR(64)  NOT NULL,
    service       VARCHAR(32)  NOT NULL,
    src_port      INT          NOT NULL DEFAULT 0,
    started_at    VARCHAR(40)  NOT NULL,
    last_seen     VARCHAR(40)  NOT NULL,
    ended_at      VARCHAR(40),
    event_count   BIGINT       NOT NULL DEFAULT 0,
    command_count BIGINT       NOT NULL DEFAULT 0,
    login_count   BIGINT       NOT NULL DEFAULT 0,
    username      VARCHAR(256) NOT NULL DEFAULT '',
    logged_in     SMALLINT     NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_sessions_attacker_ip ON sessions(attacker_ip);
CREATE INDEX ix_sessions_started_at ON sessions(started_at);

-- Unique key: 45+64+32+32+64+256 = 493 characters, 1972 bytes in utf8mb4.
CREATE TABLE credentials (
    id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    attacker_ip      VARCHAR(45)  NOT NULL,
    decky            VARCHAR(64)  NOT NULL,
    service          VARCHAR(32)  NOT NULL,
    principal        VARCHAR(256) NOT NULL DEFAULT '',
    secret_kind      VARCHAR(32)  NOT NULL DEFAULT 'plaintext',
    secret_sha256    VARCHAR(64)  NOT NULL,
    secret_b64       MEDIUMTEXT   NOT NULL,
    secret_printable TEXT         NOT NULL,
    outcome          VARCHAR(16)  NOT NULL DEFAULT 'observed',
    first_seen       VARCHAR(40)  NOT NULL,
    last_seen        VARCHAR(40)  NOT NULL,
    attempt_count    BIGINT       NOT NULL DEFAULT 0,
    CONSTRAINT uq_credentials_dedup UNIQUE (attacker_ip, decky, service, secret_kind, secret_sha256, principal)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_credentials_last_seen ON credentials(last_seen);

CREATE TABLE deckies (
    name       VARCHAR(64)  NOT NULL PRIMARY KEY,
    ip         VARCHAR(45)  NOT NULL,
    hostname   VARCHAR(255) NOT NULL DEFAULT '',
    distro     VARCHAR(64)  NOT NULL DEFAULT '',
    status     VARCHAR(32)  NOT NULL DEFAULT 'running',
    services   MEDIUMTEXT   NOT NULL DEFAULT ('[]'),
    updated_at VARCHAR(40)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE users (
    uuid                 VARCHAR(64)  NOT NULL PRIMARY KEY,
    username             VARCHAR(255) NOT NULL,
    password_hash        VARCHAR(255) NOT NULL,
    role                 VARCHAR(16)  NOT NULL,
    must_change_password SMALLINT     NOT NULL DEFAULT 0,
    tokens_valid_from    BIGINT       NOT NULL DEFAULT 0,
    created_at           VARCHAR(40)  NOT NULL,
    CONSTRAINT uq_users_username UNIQUE (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE revoked_tokens (
    jti        VARCHAR(128) NOT NULL PRIMARY KEY,
    user_uuid  VARCHAR(64)  NOT NULL,
    expires_at BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_revoked_tokens_expires ON revoked_tokens(expires_at);

CREATE TABLE state (
    name  VARCHAR(191) NOT NULL PRIMARY KEY,
    value MEDIUMTEXT   NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE state;
DROP TABLE revoked_tokens;
DROP TABLE users;
DROP TABLE deckies;
DROP TABLE credentials;
DROP TABLE sessions;
DROP TABLE attackers;
DROP TABLE events;
