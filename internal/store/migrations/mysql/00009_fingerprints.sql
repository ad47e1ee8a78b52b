-- +goose Up
-- Passive fingerprints (docs/pipeline.md "Loot"), written by the intel-loot
-- stage. attacker_fingerprints holds one row per (address, type, value) —
-- what identity clustering reads, by attacker or by shared value;
-- session_fingerprints one row per session that showed it, which makes a
-- redelivered event a no-op and answers "what did this session show".
-- Values are at most 256 characters, so the keys fit InnoDB's 3072 bytes.
CREATE TABLE attacker_fingerprints (
    attacker_ip      VARCHAR(45)  NOT NULL,
    fingerprint_type VARCHAR(32)  NOT NULL,
    value            VARCHAR(256) NOT NULL,
    session_id       VARCHAR(128) NOT NULL DEFAULT '',
    decky            VARCHAR(64)  NOT NULL DEFAULT '',
    service          VARCHAR(32)  NOT NULL DEFAULT '',
    first_seen       VARCHAR(40)  NOT NULL,
    last_seen        VARCHAR(40)  NOT NULL,
    session_count    BIGINT       NOT NULL DEFAULT 1,
    PRIMARY KEY (attacker_ip, fingerprint_type, value)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_attacker_fingerprints_value ON attacker_fingerprints(fingerprint_type, value);

CREATE TABLE session_fingerprints (
    session_id       VARCHAR(128) NOT NULL,
    attacker_ip      VARCHAR(45)  NOT NULL,
    fingerprint_type VARCHAR(32)  NOT NULL,
    value            VARCHAR(256) NOT NULL,
    ts               VARCHAR(40)  NOT NULL,
    PRIMARY KEY (session_id, attacker_ip, fingerprint_type, value)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The target count last announced on credential.reuse.detected, so that a
-- refresh from elsewhere (the API's) never swallows an announcement. Rows
-- that exist already count as announced.
ALTER TABLE credential_reuse ADD COLUMN notified_targets BIGINT NOT NULL DEFAULT 0;
UPDATE credential_reuse SET notified_targets = target_count;

-- +goose Down
ALTER TABLE credential_reuse DROP COLUMN notified_targets;
DROP TABLE session_fingerprints;
DROP TABLE attacker_fingerprints;
