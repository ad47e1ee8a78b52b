-- +goose Up
-- The complete data model: identities, campaigns, BEHAVE observations and
-- attribution, TTP tags and rules, attachments, fingerprint rotation,
-- bounty, credential reuse, webhooks, canary tokens and topologies.
-- Conventions (the same on every dialect, see docs/database.md): times are
-- fixed-width UTC RFC 3339 text, BEHAVE times float epoch seconds, booleans
-- 0/1 integers, JSON lists and objects text (native JSON where marked).


-- Operation-level grouping of identities.
CREATE TABLE campaigns (
    uuid              VARCHAR(64)  NOT NULL PRIMARY KEY,
    schema_version    BIGINT       NOT NULL DEFAULT 1,
    first_seen_at     VARCHAR(40),
    last_seen_at      VARCHAR(40),
    created_at        VARCHAR(40)  NOT NULL,
    updated_at        VARCHAR(40)  NOT NULL,
    confidence        DOUBLE,
    identity_count    BIGINT       NOT NULL DEFAULT 0,
    ja3_hashes        TEXT         NOT NULL DEFAULT ('[]'),
    hassh_hashes      TEXT         NOT NULL DEFAULT ('[]'),
    tls_cert_sha256   TEXT         NOT NULL DEFAULT ('[]'),
    payload_simhashes TEXT         NOT NULL DEFAULT ('[]'),
    c2_endpoints      TEXT         NOT NULL DEFAULT ('[]'),
    merged_into_uuid  VARCHAR(64),
    notes             TEXT         NOT NULL DEFAULT (''),
    CONSTRAINT fk_campaigns_merged_into_uuid FOREIGN KEY (merged_into_uuid) REFERENCES campaigns(uuid) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_campaigns_updated_at ON campaigns(updated_at);
CREATE INDEX ix_campaigns_merged_into_uuid ON campaigns(merged_into_uuid);

-- A deduplicated actor behind one or more attacker addresses.
CREATE TABLE attacker_identities (
    uuid                 VARCHAR(64)  NOT NULL PRIMARY KEY,
    schema_version       BIGINT       NOT NULL DEFAULT 1,
    campaign_id          VARCHAR(64),
    first_seen_at        VARCHAR(40),
    last_seen_at         VARCHAR(40),
    created_at           VARCHAR(40)  NOT NULL,
    updated_at           VARCHAR(40)  NOT NULL,
    confidence           DOUBLE,
    observation_count    BIGINT       NOT NULL DEFAULT 0,
    ja3_hashes           TEXT         NOT NULL DEFAULT ('[]'),
    hassh_hashes         TEXT         NOT NULL DEFAULT ('[]'),
    ja4h_hashes          TEXT         NOT NULL DEFAULT ('[]'),
    ja4_quic_hashes      TEXT         NOT NULL DEFAULT ('[]'),
    http_versions_seen   TEXT         NOT NULL DEFAULT ('[]'),
    tls_cert_sha256      TEXT         NOT NULL DEFAULT ('[]'),
    payload_simhashes    TEXT         NOT NULL DEFAULT ('[]'),
    c2_endpoints         TEXT         NOT NULL DEFAULT ('[]'),
    ipv6_link_local_iids TEXT         NOT NULL DEFAULT ('[]'),
    kd_digraph_simhash   VARCHAR(16),
    merged_into_uuid     VARCHAR(64),
    notes                TEXT         NOT NULL DEFAULT (''),
    CONSTRAINT fk_attacker_identities_campaign_id FOREIGN KEY (campaign_id) REFERENCES campaigns(uuid) ON DELETE SET NULL,
    CONSTRAINT fk_attacker_identities_merged_into_uuid FOREIGN KEY (merged_into_uuid) REFERENCES attacker_identities(uuid) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_attacker_identities_campaign_id ON attacker_identities(campaign_id);
CREATE INDEX ix_attacker_identities_updated_at ON attacker_identities(updated_at);
CREATE INDEX ix_attacker_identities_merged_into_uuid ON attacker_identities(merged_into_uuid);
CREATE INDEX ix_attacker_identities_kd_digraph_simhash ON attacker_identities(kd_digraph_simhash);

ALTER TABLE attackers ADD COLUMN identity_id VARCHAR(64);
ALTER TABLE attackers ADD CONSTRAINT fk_attackers_identity_id FOREIGN KEY (identity_id) REFERENCES attacker_identities(uuid) ON DELETE SET NULL;
ALTER TABLE attackers ADD COLUMN rotation_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE attackers ADD COLUMN last_rotation_at VARCHAR(40);
CREATE INDEX ix_attackers_identity_id ON attackers(identity_id);
CREATE INDEX ix_attackers_last_rotation_at ON attackers(last_rotation_at);

-- credentials carry no attacker_uuid: attackers.ip is unique, so a join on
-- attacker_ip finds the attacker, with no back-fill. Indexes for credential
-- reuse come with its query (each one costs on the ingest hot path).

-- One secret tried against several deckies or services.
CREATE TABLE credential_reuse (
    id             VARCHAR(64)  NOT NULL PRIMARY KEY,
    secret_sha256  VARCHAR(64)  NOT NULL,
    secret_kind    VARCHAR(32)  NOT NULL,
    principal      VARCHAR(256) NOT NULL DEFAULT '',
    attacker_uuids MEDIUMTEXT   NOT NULL DEFAULT ('[]'),
    attacker_ips   MEDIUMTEXT   NOT NULL DEFAULT ('[]'),
    deckies        MEDIUMTEXT   NOT NULL DEFAULT ('[]'),
    services       MEDIUMTEXT   NOT NULL DEFAULT ('[]'),
    target_count   BIGINT       NOT NULL DEFAULT 0,
    attempt_count  BIGINT       NOT NULL DEFAULT 0,
    confidence     DOUBLE       NOT NULL DEFAULT 1,
    first_seen     VARCHAR(40)  NOT NULL,
    last_seen      VARCHAR(40)  NOT NULL,
    updated_at     VARCHAR(40)  NOT NULL,
    CONSTRAINT uq_credential_reuse_secret_principal UNIQUE (secret_sha256, secret_kind, principal)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_credential_reuse_target_count ON credential_reuse(target_count);

-- Derived artefacts: fingerprints (JA3, HASSH, …), IP leaks, artifacts.
-- payload_sha256 deduplicates identical findings from the same address.
CREATE TABLE bounty (
    id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    ts             VARCHAR(40)  NOT NULL,
    decky          VARCHAR(64)  NOT NULL,
    service        VARCHAR(32)  NOT NULL,
    attacker_ip    VARCHAR(45)  NOT NULL,
    bounty_type    VARCHAR(32)  NOT NULL,
    payload        MEDIUMTEXT   NOT NULL DEFAULT ('{}'),
    payload_sha256 VARCHAR(64)  NOT NULL,
    CONSTRAINT uq_bounty_dedup UNIQUE (bounty_type, attacker_ip, payload_sha256)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_bounty_ts ON bounty(ts);
CREATE INDEX ix_bounty_attacker_ip ON bounty(attacker_ip);

-- One BEHAVE observation envelope per row (intel.md §3.2), plus the
-- attacker it was derived from. Native JSON: value.
CREATE TABLE observations (
    id              VARCHAR(64)  NOT NULL PRIMARY KEY,
    identity_ref    VARCHAR(64),
    primitive       VARCHAR(128) NOT NULL,
    value           JSON         NOT NULL,
    confidence      DOUBLE       NOT NULL DEFAULT 0,
    window_start_ts DOUBLE,
    window_end_ts   DOUBLE,
    source          VARCHAR(255) NOT NULL DEFAULT '',
    evidence_ref    VARCHAR(512) NOT NULL,
    envelope_v      BIGINT       NOT NULL DEFAULT 1,
    ts              DOUBLE       NOT NULL,
    attacker_uuid   VARCHAR(64),
    CONSTRAINT uq_observations_evidence_primitive UNIQUE (evidence_ref, primitive),
    CONSTRAINT fk_observations_attacker_uuid FOREIGN KEY (attacker_uuid) REFERENCES attackers(uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_observations_attacker_primitive_ts ON observations(attacker_uuid, primitive, ts);
CREATE INDEX ix_observations_primitive_ts ON observations(primitive, ts);

-- Per (identity, primitive) attribution state machine. Native JSON: current_value.
CREATE TABLE attribution_state (
    identity_uuid       VARCHAR(64)  NOT NULL,
    primitive           VARCHAR(128) NOT NULL,
    current_value       JSON         NOT NULL,
    state               VARCHAR(32)  NOT NULL,
    confidence          DOUBLE       NOT NULL DEFAULT 0,
    observation_count   BIGINT       NOT NULL DEFAULT 0,
    last_change_ts      DOUBLE       NOT NULL,
    last_observation_ts DOUBLE       NOT NULL,
    schema_version      BIGINT       NOT NULL DEFAULT 1,
    updated_at          VARCHAR(40)  NOT NULL,
    PRIMARY KEY (identity_uuid, primitive),
    CONSTRAINT fk_attribution_state_identity_uuid FOREIGN KEY (identity_uuid) REFERENCES attacker_identities(uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_attribution_state_state ON attribution_state(state);
CREATE INDEX ix_attribution_state_last_change ON attribution_state(last_change_ts);
CREATE INDEX ix_attribution_state_identity_state ON attribution_state(identity_uuid, state);

-- One row per distinct attachment hash seen in captured mail. The verdict
-- is sticky: once mal_hash_match is 1 it never goes back. Native JSON: extensions.
CREATE TABLE observed_attachments (
    uuid                     VARCHAR(64)  NOT NULL PRIMARY KEY,
    sha256                   VARCHAR(64)  NOT NULL UNIQUE,
    first_seen               VARCHAR(40)  NOT NULL,
    last_seen                VARCHAR(40)  NOT NULL,
    observation_count        BIGINT       NOT NULL DEFAULT 0,
    first_seen_decky_uuid    VARCHAR(64)  NOT NULL DEFAULT '',
    first_seen_attacker_uuid VARCHAR(64)  NOT NULL DEFAULT '',
    last_seen_attacker_uuid  VARCHAR(64)  NOT NULL DEFAULT '',
    extensions               JSON         NOT NULL,
    first_subject            TEXT         NOT NULL DEFAULT (''),
    mal_hash_match           SMALLINT,
    mal_hash_match_provider  VARCHAR(64),
    mal_hash_match_at        VARCHAR(40)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_observed_attachments_last_seen ON observed_attachments(last_seen);
CREATE INDEX ix_observed_attachments_mal_hash_match ON observed_attachments(mal_hash_match);

-- The prober's memory of each attacker's active fingerprints, for
-- rotation detection.
CREATE TABLE attacker_fingerprint_state (
    uuid           VARCHAR(64)  NOT NULL PRIMARY KEY,
    attacker_uuid  VARCHAR(64)  NOT NULL,
    port           BIGINT       NOT NULL,
    probe_type     VARCHAR(16)  NOT NULL,
    last_hash      VARCHAR(128) NOT NULL,
    last_seen      VARCHAR(40)  NOT NULL,
    rotation_count BIGINT       NOT NULL DEFAULT 0,
    CONSTRAINT uq_attacker_fingerprint_state_natural UNIQUE (attacker_uuid, port, probe_type),
    CONSTRAINT fk_attacker_fingerprint_state_attacker_uuid FOREIGN KEY (attacker_uuid) REFERENCES attackers(uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_attacker_fingerprint_state_last_seen ON attacker_fingerprint_state(last_seen);

-- One row per (source record × technique × rule); uuid is a UUIDv5 of
-- those, so re-tagging is idempotent. Native JSON: evidence.
CREATE TABLE ttp_tag (
    uuid             VARCHAR(64)  NOT NULL PRIMARY KEY,
    source_kind      VARCHAR(32)  NOT NULL,
    source_id        VARCHAR(191) NOT NULL,
    attacker_uuid    VARCHAR(64),
    identity_uuid    VARCHAR(64),
    session_id       VARCHAR(128),
    decky_id         VARCHAR(64),
    tactic           VARCHAR(16)  NOT NULL DEFAULT '',
    technique_id     VARCHAR(16)  NOT NULL,
    sub_technique_id VARCHAR(16),
    confidence       DOUBLE       NOT NULL,
    rule_id          VARCHAR(64)  NOT NULL,
    rule_version     BIGINT       NOT NULL,
    evidence         JSON         NOT NULL,
    attack_release   VARCHAR(32)  NOT NULL,
    mitre_url        VARCHAR(255),
    created_at       VARCHAR(40)  NOT NULL,
    -- ttp_tag_has_anchor is enforced in code only: MySQL 8 refuses a CHECK on
    -- columns with ON DELETE actions.
    CONSTRAINT ttp_tag_confidence_range CHECK (confidence >= 0 AND confidence <= 1),
    CONSTRAINT fk_ttp_tag_attacker_uuid FOREIGN KEY (attacker_uuid) REFERENCES attackers(uuid) ON DELETE CASCADE,
    CONSTRAINT fk_ttp_tag_identity_uuid FOREIGN KEY (identity_uuid) REFERENCES attacker_identities(uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
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
    rule_id      VARCHAR(64)  NOT NULL PRIMARY KEY,
    rule_version BIGINT       NOT NULL,
    source_path  TEXT         NOT NULL DEFAULT (''),
    yaml_content MEDIUMTEXT   NOT NULL,
    updated_at   VARCHAR(40)  NOT NULL,
    updated_by   VARCHAR(128) NOT NULL DEFAULT ''
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Operator override of a rule: enabled, disabled or clipped confidence.
CREATE TABLE ttp_rule_state (
    rule_id        VARCHAR(64)  NOT NULL PRIMARY KEY,
    state          VARCHAR(32)  NOT NULL,
    confidence_max DOUBLE,
    expires_at     VARCHAR(40),
    reason         TEXT         NOT NULL DEFAULT (''),
    set_by         VARCHAR(128) NOT NULL DEFAULT '',
    set_at         VARCHAR(40)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Outgoing notifications: HMAC-signed POSTs of bus topics.
CREATE TABLE webhook_subscriptions (
    uuid                 VARCHAR(64)  NOT NULL PRIMARY KEY,
    name                 VARCHAR(128) NOT NULL UNIQUE,
    url                  TEXT         NOT NULL,
    secret               TEXT         NOT NULL,
    topic_patterns       TEXT         NOT NULL DEFAULT ('[]'),
    enabled              SMALLINT     NOT NULL DEFAULT 1,
    consecutive_failures BIGINT       NOT NULL DEFAULT 0,
    last_success_at      VARCHAR(40),
    last_failure_at      VARCHAR(40),
    last_error           TEXT         NOT NULL DEFAULT (''),
    auto_disabled_at     VARCHAR(40),
    created_at           VARCHAR(40)  NOT NULL,
    updated_at           VARCHAR(40)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_webhook_subscriptions_enabled ON webhook_subscriptions(enabled);

-- Canary files (bytes on disk by sha256), the tokens planted from them,
-- and the callbacks those tokens produced.
CREATE TABLE canary_blobs (
    uuid         VARCHAR(64)  NOT NULL PRIMARY KEY,
    sha256       VARCHAR(64)  NOT NULL UNIQUE,
    filename     VARCHAR(255) NOT NULL,
    content_type VARCHAR(128) NOT NULL DEFAULT '',
    size_bytes   BIGINT       NOT NULL DEFAULT 0,
    uploaded_by  VARCHAR(64)  NOT NULL DEFAULT '',
    uploaded_at  VARCHAR(40)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE canary_tokens (
    uuid              VARCHAR(64)  NOT NULL PRIMARY KEY,
    kind              VARCHAR(32)  NOT NULL,
    decky_name        VARCHAR(64)  NOT NULL,
    topology_id       VARCHAR(64),
    blob_uuid         VARCHAR(64),
    instrumenter      VARCHAR(64)  NOT NULL DEFAULT '',
    generator         VARCHAR(64)  NOT NULL DEFAULT '',
    placement_path    TEXT         NOT NULL DEFAULT (''),
    callback_token    VARCHAR(64)  NOT NULL UNIQUE,
    secret_seed       VARCHAR(128) NOT NULL DEFAULT '',
    placed_at         VARCHAR(40),
    last_triggered_at VARCHAR(40),
    trigger_count     BIGINT       NOT NULL DEFAULT 0,
    created_by        VARCHAR(64)  NOT NULL DEFAULT '',
    state             VARCHAR(32)  NOT NULL DEFAULT 'planted',
    last_error        TEXT         NOT NULL DEFAULT (''),
    fingerprint_nonce VARCHAR(32)  NOT NULL DEFAULT '',
    CONSTRAINT fk_canary_tokens_blob_uuid FOREIGN KEY (blob_uuid) REFERENCES canary_blobs(uuid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_canary_tokens_decky_state ON canary_tokens(decky_name, state);
CREATE INDEX ix_canary_tokens_kind ON canary_tokens(kind);
CREATE INDEX ix_canary_tokens_blob_uuid ON canary_tokens(blob_uuid);
CREATE INDEX ix_canary_tokens_topology_id ON canary_tokens(topology_id);

CREATE TABLE canary_triggers (
    uuid         VARCHAR(64)  NOT NULL PRIMARY KEY,
    token_uuid   VARCHAR(64)  NOT NULL,
    occurred_at  VARCHAR(40)  NOT NULL,
    src_ip       VARCHAR(45)  NOT NULL DEFAULT '',
    user_agent   TEXT         NOT NULL DEFAULT (''),
    request_path TEXT         NOT NULL DEFAULT (''),
    dns_qname    VARCHAR(255) NOT NULL DEFAULT '',
    raw_headers  MEDIUMTEXT   NOT NULL DEFAULT ('{}'),
    attacker_id  VARCHAR(64),
    CONSTRAINT fk_canary_triggers_token_uuid FOREIGN KEY (token_uuid) REFERENCES canary_tokens(uuid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_canary_triggers_token_occurred ON canary_triggers(token_uuid, occurred_at);
CREATE INDEX ix_canary_triggers_src_ip ON canary_triggers(src_ip);
CREATE INDEX ix_canary_triggers_attacker_id ON canary_triggers(attacker_id);

-- MazeNET topologies: LANs, deckies, the edges between them, queued
-- mutations and the status history. Children go with their topology.
CREATE TABLE topologies (
    id                VARCHAR(64)  NOT NULL PRIMARY KEY,
    name              VARCHAR(128) NOT NULL UNIQUE,
    mode              VARCHAR(16)  NOT NULL DEFAULT 'unihost',
    target_host_uuid  VARCHAR(64),
    config_snapshot   MEDIUMTEXT   NOT NULL DEFAULT ('{}'),
    status            VARCHAR(32)  NOT NULL DEFAULT 'pending',
    status_changed_at VARCHAR(40)  NOT NULL,
    created_at        VARCHAR(40)  NOT NULL,
    version           BIGINT       NOT NULL DEFAULT 1,
    needs_resync      SMALLINT     NOT NULL DEFAULT 0,
    email_personas    TEXT         NOT NULL DEFAULT ('[]'),
    language_default  VARCHAR(8)   NOT NULL DEFAULT 'en'
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_topologies_status ON topologies(status);
CREATE INDEX ix_topologies_created_at ON topologies(created_at);

CREATE TABLE lans (
    id                VARCHAR(64)  NOT NULL PRIMARY KEY,
    topology_id       VARCHAR(64)  NOT NULL,
    name              VARCHAR(128) NOT NULL,
    docker_network_id VARCHAR(128) NOT NULL DEFAULT '',
    subnet            VARCHAR(64)  NOT NULL DEFAULT '',
    is_dmz            SMALLINT     NOT NULL DEFAULT 0,
    x                 DOUBLE       NOT NULL DEFAULT 0,
    y                 DOUBLE       NOT NULL DEFAULT 0,
    CONSTRAINT uq_lans_topology_name UNIQUE (topology_id, name),
    CONSTRAINT fk_lans_topology_id FOREIGN KEY (topology_id) REFERENCES topologies(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE topology_deckies (
    uuid         VARCHAR(64)  NOT NULL PRIMARY KEY,
    topology_id  VARCHAR(64)  NOT NULL,
    name         VARCHAR(128) NOT NULL,
    services     MEDIUMTEXT   NOT NULL DEFAULT ('[]'),
    decky_config MEDIUMTEXT   NOT NULL DEFAULT ('{}'),
    ip           VARCHAR(45)  NOT NULL DEFAULT '',
    state        VARCHAR(32)  NOT NULL DEFAULT 'pending',
    last_error   TEXT         NOT NULL DEFAULT (''),
    compose_hash VARCHAR(128) NOT NULL DEFAULT '',
    last_seen    VARCHAR(40),
    updated_at   VARCHAR(40)  NOT NULL,
    x            DOUBLE       NOT NULL DEFAULT 0,
    y            DOUBLE       NOT NULL DEFAULT 0,
    CONSTRAINT uq_topology_deckies_topology_name UNIQUE (topology_id, name),
    CONSTRAINT fk_topology_deckies_topology_id FOREIGN KEY (topology_id) REFERENCES topologies(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_topology_deckies_state ON topology_deckies(state);

CREATE TABLE topology_edges (
    id          VARCHAR(64)  NOT NULL PRIMARY KEY,
    topology_id VARCHAR(64)  NOT NULL,
    decky_uuid  VARCHAR(64)  NOT NULL,
    lan_id      VARCHAR(64)  NOT NULL,
    is_bridge   SMALLINT     NOT NULL DEFAULT 0,
    forwards_l3 SMALLINT     NOT NULL DEFAULT 0,
    CONSTRAINT fk_topology_edges_topology_id FOREIGN KEY (topology_id) REFERENCES topologies(id) ON DELETE CASCADE,
    CONSTRAINT fk_topology_edges_decky_uuid FOREIGN KEY (decky_uuid) REFERENCES topology_deckies(uuid) ON DELETE CASCADE,
    CONSTRAINT fk_topology_edges_lan_id FOREIGN KEY (lan_id) REFERENCES lans(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_topology_edges_topology_id ON topology_edges(topology_id);
CREATE INDEX ix_topology_edges_decky_uuid ON topology_edges(decky_uuid);
CREATE INDEX ix_topology_edges_lan_id ON topology_edges(lan_id);

CREATE TABLE topology_mutations (
    id           VARCHAR(64)  NOT NULL PRIMARY KEY,
    topology_id  VARCHAR(64)  NOT NULL,
    op           VARCHAR(32)  NOT NULL,
    payload      MEDIUMTEXT   NOT NULL DEFAULT ('{}'),
    state        VARCHAR(32)  NOT NULL DEFAULT 'pending',
    requested_at VARCHAR(40)  NOT NULL,
    applied_at   VARCHAR(40),
    reason       TEXT         NOT NULL DEFAULT (''),
    CONSTRAINT fk_topology_mutations_topology_id FOREIGN KEY (topology_id) REFERENCES topologies(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_topology_mutations_state_topology ON topology_mutations(state, topology_id);
CREATE INDEX ix_topology_mutations_topology_id ON topology_mutations(topology_id);
CREATE INDEX ix_topology_mutations_requested_at ON topology_mutations(requested_at);

CREATE TABLE topology_status_events (
    id          VARCHAR(64)  NOT NULL PRIMARY KEY,
    topology_id VARCHAR(64)  NOT NULL,
    from_status VARCHAR(32)  NOT NULL DEFAULT '',
    to_status   VARCHAR(32)  NOT NULL,
    changed_at  VARCHAR(40)  NOT NULL,
    reason      TEXT         NOT NULL DEFAULT (''),
    CONSTRAINT fk_topology_status_events_topology_id FOREIGN KEY (topology_id) REFERENCES topologies(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
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
ALTER TABLE attackers DROP FOREIGN KEY fk_attackers_identity_id;
DROP INDEX ix_attackers_last_rotation_at ON attackers;
DROP INDEX ix_attackers_identity_id ON attackers;
ALTER TABLE attackers DROP COLUMN last_rotation_at;
ALTER TABLE attackers DROP COLUMN rotation_count;
ALTER TABLE attackers DROP COLUMN identity_id;
DROP TABLE attacker_identities;
DROP TABLE campaigns;
