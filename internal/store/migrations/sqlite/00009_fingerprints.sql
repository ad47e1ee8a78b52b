-- +goose Up
-- Passive fingerprints (docs/pipeline.md "Loot"), written by the intel-loot
-- stage. attacker_fingerprints holds one row per (address, type, value) —
-- what identity clustering reads, by attacker or by shared value;
-- session_fingerprints one row per session that showed it, which makes a
-- redelivered event a no-op and answers "what did this session show".
CREATE TABLE attacker_fingerprints (
    attacker_ip      TEXT    NOT NULL,
    fingerprint_type TEXT    NOT NULL,
    value            TEXT    NOT NULL,
    session_id       TEXT    NOT NULL DEFAULT '',
    decky            TEXT    NOT NULL DEFAULT '',
    service          TEXT    NOT NULL DEFAULT '',
    first_seen       TEXT    NOT NULL,
    last_seen        TEXT    NOT NULL,
    session_count    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (attacker_ip, fingerprint_type, value)
);
CREATE INDEX ix_attacker_fingerprints_value ON attacker_fingerprints(fingerprint_type, value);

CREATE TABLE session_fingerprints (
    session_id       TEXT NOT NULL,
    attacker_ip      TEXT NOT NULL,
    fingerprint_type TEXT NOT NULL,
    value            TEXT NOT NULL,
    ts               TEXT NOT NULL,
    PRIMARY KEY (session_id, attacker_ip, fingerprint_type, value)
);

-- The target count last announced on credential.reuse.detected, so that a
-- refresh from elsewhere (the API's) never swallows an announcement. Rows
-- that exist already count as announced.
ALTER TABLE credential_reuse ADD COLUMN notified_targets INTEGER NOT NULL DEFAULT 0;
UPDATE credential_reuse SET notified_targets = target_count;

-- +goose Down
ALTER TABLE credential_reuse DROP COLUMN notified_targets;
DROP TABLE session_fingerprints;
DROP TABLE attacker_fingerprints;
