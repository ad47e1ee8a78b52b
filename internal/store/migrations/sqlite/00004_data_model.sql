-- +goose Up
-- The complete data model: identities, campaigns, BEHAVE observations and
-- attribution, TTP tags and rules, attachments, fingerprint rotation,
-- bounty, credential reuse, webhooks, canary tokens and topologies.
-- Conventions (the same on every dialect, see docs/database.md): times are
-- fixed-width UTC RFC 3339 text, BEHAVE times float epoch seconds, booleans
-- 0/1 integers, JSON lists and objects text (native JSON where marked).

-- "key" is a reserved word on MySQL; the column is "name" on every dialect.
ALTER TABLE state RENAME COLUMN key TO name;

-- Operation-level grouping of identities.
CREATE TABLE campaigns (
    uuid              TEXT    PRIMARY KEY,
    schema_version    INTEGER NOT NULL DEFAULT 1,
    first_seen_at     TEXT,
    last_seen_at      TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    confidence        REAL,
    identity_count    INTEGER NOT NULL DEFAULT 0,
    ja3_hashes        TEXT    NOT NULL DEFAULT '[]',
    hassh_hashes      TEXT    NOT NULL DEFAULT '[]',
    tls_cert_sha256   TEXT    NOT NULL DEFAULT '[]',
    payload_simhashes TEXT    NOT NULL DEFAULT '[]',
    c2_endpoints      TEXT    NOT NULL DEFAULT '[]',
    merged_into_uuid  TEXT    REFERENCES campaigns(uuid) ON DELETE SET NULL,
    notes             TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX ix_campaigns_updated_at ON campaigns(updated_at);
CREATE INDEX ix_campaigns_merged_into_uuid ON campaigns(merged_into_uuid);

-- A deduplicated actor behind one or more attacker addresses.
CREATE TABLE attacker_identities (
    uuid                 TEXT    PRIMARY KEY,
    schema_version       INTEGER NOT NULL DEFAULT 1,
    campaign_id          TEXT    REFERENCES campaigns(uuid) ON DELETE SET NULL,
    first_seen_at        TEXT,
    last_seen_at         TEXT,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL,
    confidence           REAL,
    observation_count    INTEGER NOT NULL DEFAULT 0,
    ja3_hashes           TEXT    NOT NULL DEFAULT '[]',
    hassh_hashes         TEXT    NOT NULL DEFAULT '[]',
    ja4h_hashes          TEXT    NOT NULL DEFAULT '[]',
    ja4_quic_hashes      TEXT    NOT NULL DEFAULT '[]',
    http_versions_seen   TEXT    NOT NULL DEFAULT '[]',
    tls_cert_sha256      TEXT    NOT NULL DEFAULT '[]',
    payload_simhashes    TEXT    NOT NULL DEFAULT '[]',
    c2_endpoints         TEXT    NOT NULL DEFAULT '[]',
    ipv6_link_local_iids TEXT    NOT NULL DEFAULT '[]',
    kd_digraph_simhash   TEXT,
    merged_into_uuid     TEXT    REFERENCES attacker_identities(uuid) ON DELETE SET NULL,
    notes                TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX ix_attacker_identities_campaign_id ON attacker_identities(campaign_id);
CREATE INDEX ix_attacker_identities_updated_at ON attacker_identities(updated_at);
CREATE INDEX ix_attacker_identities_merged_into_uuid ON attacker_identities(merged_into_uuid);
CREATE INDEX ix_attacker_identities_kd_digraph_simhash ON attacker_identities(kd_digraph_simhash);

ALTER TABLE attackers ADD COLUMN identity_id TEXT REFERENCES attacker_identities(uuid) ON DELETE SET NULL;
ALTER TABLE attackers ADD COLUMN rotation_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attackers ADD COLUMN last_rotation_at TEXT;
CREATE INDEX ix_attackers_identity_id ON attackers(identity_id);
CREATE INDEX ix_attackers_last_rotation_at ON attackers(last_rotation_at);

-- credentials carry no attacker_uuid: attackers.ip is unique, so a join on
-- attacker_ip finds the attacker, with no back-fill. Indexes for credential
-- reuse come with its query (each one costs on the ingest hot path).

-- One secret tried against several deckies or services.
CREATE TABLE credential_reuse (
    id             TEXT    PRIMARY KEY,
    secret_sha256  TEXT    NOT NULL,
    secret_kind    TEXT    NOT NULL,
    principal      TEXT    NOT NULL DEFAULT '',
    attacker_uuids TEXT    NOT NULL DEFAULT '[]',
    attacker_ips   TEXT    NOT NULL DEFAULT '[]',
    deckies        TEXT    NOT NULL DEFAULT '[]',
    services       TEXT    NOT NULL DEFAULT '[]',
    target_count   INTEGER NOT NULL DEFAULT 0,
    attempt_count  INTEGER NOT NULL DEFAULT 0,
    confidence     REAL    NOT NULL DEFAULT 1,
    first_seen     TEXT    NOT NULL,
    last_seen      TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    CONSTRAINT uq_credential_reuse_secret_principal UNIQUE (secret_sha256, secret_kind, principal)
);
CREATE INDEX ix_credential_reuse_target_count ON credential_reuse(target_count);

-- Derived artefacts: fingerprints (JA3, HASSH, …), IP leaks, artifacts.
-- payload_sha256 deduplicates identical findings from the same address.
CREATE TABLE bounty (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    ts             TEXT    NOT NULL,
    decky          TEXT    NOT NULL,
    service        TEXT    NOT NULL,
    attacker_ip    TEXT    NOT NULL,
    bounty_type    TEXT    NOT NULL,
    payload        TEXT    NOT NULL DEFAULT '{}',
    payload_sha256 TEXT    NOT NULL,
    CONSTRAINT uq_bounty_dedup UNIQUE (bounty_type, attacker_ip, payload_sha256)
);
CREATE INDEX ix_bounty_ts ON bounty(ts);
CREATE INDEX ix_bounty_attacker_ip ON bounty(attacker_ip);

-- One BEHAVE observation envelope per row (intel.md §3.2), plus the
-- attacker it was derived from. Native JSON: value.
CREATE TABLE observations (
    id              TEXT    PRIMARY KEY,
    identity_ref    TEXT,
    primitive       TEXT    NOT NULL,
    value           TEXT    NOT NULL,
    confidence      REAL    NOT NULL DEFAULT 0,
    window_start_ts REAL,
    window_end_ts   REAL,
    source          TEXT    NOT NULL DEFAULT '',
    evidence_ref    TEXT    NOT NULL,
    envelope_v      INTEGER NOT NULL DEFAULT 1,
    ts              REAL    NOT NULL,
    attacker_uuid   TEXT    REFERENCES attackers(uuid) ON DELETE CASCADE,
    CONSTRAINT uq_observations_evidence_primitive UNIQUE (evidence_ref, primitive)
);
CREATE INDEX ix_observations_attacker_primitive_ts ON observations(attacker_uuid, primitive, ts);
CREATE INDEX ix_observations_primitive_ts ON observations(primitive, ts);

-- Per (identity, primitive) attribution state machine. Native JSON: current_value.
CREATE TABLE attribution_state (
    identity_uuid       TEXT    NOT NULL REFERENCES attacker_identities(uuid) ON DELETE CASCADE,
    primitive           TEXT    NOT NULL,
    current_value       TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    confidence          REAL    NOT NULL DEFAULT 0,
    observation_count   INTEGER NOT NULL DEFAULT 0,
    last_change_ts      REAL    NOT NULL,
    last_observation_ts REAL    NOT NULL,
    schema_version      INTEGER NOT NULL DEFAULT 1,
    updated_at          TEXT    NOT NULL,
    PRIMARY KEY (identity_uuid, primitive)
);
CREATE INDEX ix_attribution_state_state ON attribution_state(state);
CREATE INDEX ix_attribution_state_last_change ON attribution_state(last_change_ts);
CREATE INDEX ix_attribution_state_identity_state ON attribution_state(identity_uuid, state);

-- One row per distinct attachment hash seen in captured mail. The verdict
-- is sticky: once mal_hash_match is 1 it never goes back. Native JSON: extensions.
CREATE TABLE observed_attachments (
    uuid                     TEXT    PRIMARY KEY,
    sha256                   TEXT    NOT NULL UNIQUE,
    first_seen               TEXT    NOT NULL,
    last_seen                TEXT    NOT NULL,
    observation_count        INTEGER NOT NULL DEFAULT 0,
    first_seen_decky_uuid    TEXT    NOT NULL DEFAULT '',
    first_seen_attacker_uuid TEXT    NOT NULL DEFAULT '',
    last_seen_attacker_uuid  TEXT    NOT NULL DEFAULT '',
    extensions               TEXT    NOT NULL,
    first_subject            TEXT    NOT NULL DEFAULT '',
    mal_hash_match           INTEGER,
    mal_hash_match_provider  TEXT,
    mal_hash_match_at        TEXT
);
CREATE INDEX ix_observed_attachments_last_seen ON observed_attachments(last_seen);
CREATE INDEX ix_observed_attachments_mal_hash_match ON observed_attachments(mal_hash_match);

-- The prober's memory of each attacker's active fingerprints, for
-- rotation detection.
CREATE TABLE attacker_fingerprint_state (
    uuid           TEXT    PRIMARY KEY,
    attacker_uuid  TEXT    NOT NULL REFERENCES attackers(uuid) ON DELETE CASCADE,
    port           INTEGER NOT NULL,
    probe_type     TEXT    NOT NULL,
    last_hash      TEXT    NOT NULL,
    last_seen      TEXT    NOT NULL,
    rotation_count INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT uq_attacker_fingerprint_state_natural UNIQUE (attacker_uuid, port, probe_type)
);
CREATE INDEX ix_attacker_fingerprint_state_last_seen ON attacker_fingerprint_state(last_seen);

-- One row per (source record × technique × rule); uuid is a UUIDv5 of
-- those, so re-tagging is idempotent. Native JSON: evidence.
CREATE TABLE ttp_tag (
    uuid             TEXT    PRIMARY KEY,
    source_kind      TEXT    NOT NULL,
    source_id        TEXT    NOT NULL,
    attacker_uuid    TEXT    REFERENCES attackers(uuid) ON DELETE CASCADE,
    identity_uuid    TEXT    REFERENCES attacker_identities(uuid) ON DELETE CASCADE,
    session_id       TEXT,
    decky_id         TEXT,
    tactic           TEXT    NOT NULL DEFAULT '',
    technique_id     TEXT    NOT NULL,
    sub_technique_id TEXT,
    confidence       REAL    NOT NULL,
    rule_id          TEXT    NOT NULL,
    rule_version     INTEGER NOT NULL,
    evidence         TEXT    NOT NULL,
    attack_release   TEXT    NOT NULL,
    mitre_url        TEXT,
    created_at       TEXT    NOT NULL,
    CONSTRAINT ttp_tag_has_anchor CHECK (attacker_uuid IS NOT NULL OR identity_uuid IS NOT NULL),
    CONSTRAINT ttp_tag_confidence_range CHECK (confidence >= 0 AND confidence <= 1)
);
CREATE INDEX ix_ttp_tag_source ON ttp_tag(source_kind, source_id);
CREATE INDEX ix_ttp_tag_session_id ON ttp_tag(session_id);
CREATE INDEX ix_ttp_tag_decky_id ON ttp_tag(decky_id);
CREATE INDEX ix_ttp_tag_tactic ON ttp_tag(tactic);
CREATE INDEX ix_ttp_tag_sub_technique_id ON ttp_tag(sub_technique_id);
CREATE INDEX ix_ttp_tag_rule_id ON ttp_tag(rule_id);
CREATE INDEX ix_ttp_tag_attack_release ON ttp_tag(attack_release);
CREATE INDEX ix_ttp_tag_created_at ON ttp_tag(created_at);
CREATE INDEX ix_ttp_tag_identity_technique ON ttp_tag(identity_uuid, technique_id);
CREATE INDEX ix_ttp_tag_attacker_technique ON ttp_tag(attacker_uuid, technique_id);
CREATE INDEX ix_ttp_tag_technique_created ON ttp_tag(technique_id, created_at);

-- Database mirror of the YAML rules (when the rule store is the database).
CREATE TABLE ttp_rule (
    rule_id      TEXT    PRIMARY KEY,
    rule_version INTEGER NOT NULL,
    source_path  TEXT    NOT NULL DEFAULT '',
    yaml_content TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    updated_by   TEXT    NOT NULL DEFAULT ''
);

-- Operator override of a rule: enabled, disabled or clipped confidence.
CREATE TABLE ttp_rule_state (
    rule_id        TEXT PRIMARY KEY,
    state          TEXT NOT NULL,
    confidence_max REAL,
    expires_at     TEXT,
    reason         TEXT NOT NULL DEFAULT '',
    set_by         TEXT NOT NULL DEFAULT '',
    set_at         TEXT NOT NULL
);

-- Outgoing notifications: HMAC-signed POSTs of bus topics.
CREATE TABLE webhook_subscriptions (
    uuid                 TEXT    PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    url                  TEXT    NOT NULL,
    secret               TEXT    NOT NULL,
    topic_patterns       TEXT    NOT NULL DEFAULT '[]',
    enabled              INTEGER NOT NULL DEFAULT 1,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_success_at      TEXT,
    last_failure_at      TEXT,
    last_error           TEXT    NOT NULL DEFAULT '',
    auto_disabled_at     TEXT,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL
);
CREATE INDEX ix_webhook_subscriptions_enabled ON webhook_subscriptions(enabled);

-- Canary files (bytes on disk by sha256), the tokens planted from them,
-- and the callbacks those tokens produced.
CREATE TABLE canary_blobs (
    uuid         TEXT    PRIMARY KEY,
    sha256       TEXT    NOT NULL UNIQUE,
    filename     TEXT    NOT NULL,
    content_type TEXT    NOT NULL DEFAULT '',
    size_bytes   INTEGER NOT NULL DEFAULT 0,
    uploaded_by  TEXT    NOT NULL DEFAULT '',
    uploaded_at  TEXT    NOT NULL
);

CREATE TABLE canary_tokens (
    uuid              TEXT    PRIMARY KEY,
    kind              TEXT    NOT NULL,
    decky_name        TEXT    NOT NULL,
    topology_id       TEXT,
    blob_uuid         TEXT    REFERENCES canary_blobs(uuid),
    instrumenter      TEXT    NOT NULL DEFAULT '',
    generator         TEXT    NOT NULL DEFAULT '',
    placement_path    TEXT    NOT NULL DEFAULT '',
    callback_token    TEXT    NOT NULL UNIQUE,
    secret_seed       TEXT    NOT NULL DEFAULT '',
    placed_at         TEXT,
    last_triggered_at TEXT,
    trigger_count     INTEGER NOT NULL DEFAULT 0,
    created_by        TEXT    NOT NULL DEFAULT '',
    state             TEXT    NOT NULL DEFAULT 'planted',
    last_error        TEXT    NOT NULL DEFAULT '',
    fingerprint_nonce TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX ix_canary_tokens_decky_state ON canary_tokens(decky_name, state);
CREATE INDEX ix_canary_tokens_kind ON canary_tokens(kind);
CREATE INDEX ix_canary_tokens_blob_uuid ON canary_tokens(blob_uuid);
CREATE INDEX ix_canary_tokens_topology_id ON canary_tokens(topology_id);

CREATE TABLE canary_triggers (
    uuid         TEXT PRIMARY KEY,
    token_uuid   TEXT NOT NULL REFERENCES canary_tokens(uuid) ON DELETE CASCADE,
    occurred_at  TEXT NOT NULL,
    src_ip       TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    request_path TEXT NOT NULL DEFAULT '',
    dns_qname    TEXT NOT NULL DEFAULT '',
    raw_headers  TEXT NOT NULL DEFAULT '{}',
    attacker_id  TEXT
);
CREATE INDEX ix_canary_triggers_token_occurred ON canary_triggers(token_uuid, occurred_at);
CREATE INDEX ix_canary_triggers_src_ip ON canary_triggers(src_ip);
CREATE INDEX ix_canary_triggers_attacker_id ON canary_triggers(attacker_id);

-- MazeNET topologies: LANs, deckies, the edges between them, queued
-- mutations and the status history. Children go with their topology.
CREATE TABLE topologies (
    id                TEXT    PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    mode              TEXT    NOT NULL DEFAULT 'unihost',
    target_host_uuid  TEXT,
    config_snapshot   TEXT    NOT NULL DEFAULT '{}',
    status            TEXT    NOT NULL DEFAULT 'pending',
    status_changed_at TEXT    NOT NULL,
    created_at        TEXT    NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1,
    needs_resync      INTEGER NOT NULL DEFAULT 0,
    email_personas    TEXT    NOT NULL DEFAULT '[]',
    language_default  TEXT    NOT NULL DEFAULT 'en'
);
CREATE INDEX ix_topologies_status ON topologies(status);
CREATE INDEX ix_topologies_created_at ON topologies(created_at);

CREATE TABLE lans (
    id                TEXT    PRIMARY KEY,
    topology_id       TEXT    NOT NULL REFERENCES topologies(id) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    docker_network_id TEXT    NOT NULL DEFAULT '',
    subnet            TEXT    NOT NULL DEFAULT '',
    is_dmz            INTEGER NOT NULL DEFAULT 0,
    x                 REAL    NOT NULL DEFAULT 0,
    y                 REAL    NOT NULL DEFAULT 0,
    CONSTRAINT uq_lans_topology_name UNIQUE (topology_id, name)
);

CREATE TABLE topology_deckies (
    uuid         TEXT    PRIMARY KEY,
    topology_id  TEXT    NOT NULL REFERENCES topologies(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    services     TEXT    NOT NULL DEFAULT '[]',
    decky_config TEXT    NOT NULL DEFAULT '{}',
    ip           TEXT    NOT NULL DEFAULT '',
    state        TEXT    NOT NULL DEFAULT 'pending',
    last_error   TEXT    NOT NULL DEFAULT '',
    compose_hash TEXT    NOT NULL DEFAULT '',
    last_seen    TEXT,
    updated_at   TEXT    NOT NULL,
    x            REAL    NOT NULL DEFAULT 0,
    y            REAL    NOT NULL DEFAULT 0,
    CONSTRAINT uq_topology_deckies_topology_name UNIQUE (topology_id, name)
);
CREATE INDEX ix_topology_deckies_state ON topology_deckies(state);

CREATE TABLE topology_edges (
    id          TEXT    PRIMARY KEY,
    topology_id TEXT    NOT NULL REFERENCES topologies(id) ON DELETE CASCADE,
    decky_uuid  TEXT    NOT NULL REFERENCES topology_deckies(uuid) ON DELETE CASCADE,
    lan_id      TEXT    NOT NULL REFERENCES lans(id) ON DELETE CASCADE,
    is_bridge   INTEGER NOT NULL DEFAULT 0,
    forwards_l3 INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_topology_edges_topology_id ON topology_edges(topology_id);
CREATE INDEX ix_topology_edges_decky_uuid ON topology_edges(decky_uuid);
CREATE INDEX ix_topology_edges_lan_id ON topology_edges(lan_id);

CREATE TABLE topology_mutations (
    id           TEXT PRIMARY KEY,
    topology_id  TEXT NOT NULL REFERENCES topologies(id) ON DELETE CASCADE,
    op           TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    state        TEXT NOT NULL DEFAULT 'pending',
    requested_at TEXT NOT NULL,
    applied_at   TEXT,
    reason       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ix_topology_mutations_state_topology ON topology_mutations(state, topology_id);
CREATE INDEX ix_topology_mutations_topology_id ON topology_mutations(topology_id);
CREATE INDEX ix_topology_mutations_requested_at ON topology_mutations(requested_at);

CREATE TABLE topology_status_events (
    id          TEXT PRIMARY KEY,
    topology_id TEXT NOT NULL REFERENCES topologies(id) ON DELETE CASCADE,
    from_status TEXT NOT NULL DEFAULT '',
    to_status   TEXT NOT NULL,
    changed_at  TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ix_topology_status_events_topology_changed ON topology_status_events(topology_id, changed_at);

-- +goose Down
DROP TABLE topology_status_events;
DROP TABLE topology_mutations;
DROP TABLE topology_edges;
DROP TABLE topology_deckies;
DROP TABLE lans;
DROP TABLE topologies;
DROP TABLE canary_triggers;
DROP TABLE canary_tokens;
DROP TABLE canary_blobs;
DROP TABLE webhook_subscriptions;
DROP TABLE ttp_rule_state;
DROP TABLE ttp_rule;
DROP TABLE ttp_tag;
DROP TABLE attacker_fingerprint_state;
DROP TABLE observed_attachments;
DROP TABLE attribution_state;
DROP TABLE observations;
DROP TABLE bounty;
DROP TABLE credential_reuse;
DROP INDEX ix_attackers_last_rotation_at;
DROP INDEX ix_attackers_identity_id;
ALTER TABLE attackers DROP COLUMN last_rotation_at;
ALTER TABLE attackers DROP COLUMN rotation_count;
ALTER TABLE attackers DROP COLUMN identity_id;
DROP TABLE attacker_identities;
DROP TABLE campaigns;
ALTER TABLE state RENAME COLUMN name TO key;
