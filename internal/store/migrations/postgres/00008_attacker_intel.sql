-- +goose Up
-- Per-address threat intelligence (data-api.md §1.3 attacker_intel), one row
-- per attacker, written by the intel-hashes stage after each enrichment. A
-- provider that failed keeps its previous columns; aggregate_verdict is the
-- strongest verdict of the latest pass (NULL when no provider had a record).
-- raw holds every provider's answer as JSON, keyed by provider name. The
-- GeoIP/ASN answer lives here too (the attackers table has no such columns);
-- the identity clusterer reads asn from it.
CREATE TABLE attacker_intel (
    uuid                       TEXT     PRIMARY KEY,
    attacker_uuid              TEXT     NOT NULL UNIQUE REFERENCES attackers(uuid) ON DELETE CASCADE,
    attacker_ip                TEXT     NOT NULL,
    schema_version             BIGINT   NOT NULL DEFAULT 1,
    greynoise_classification   TEXT,
    greynoise_name             TEXT,
    greynoise_tags             TEXT     NOT NULL DEFAULT '[]',
    greynoise_queried_at       TEXT,
    abuseipdb_score            BIGINT,
    abuseipdb_categories       TEXT     NOT NULL DEFAULT '[]',
    abuseipdb_queried_at       TEXT,
    feodo_listed               SMALLINT,
    feodo_malware_family       TEXT,
    feodo_queried_at           TEXT,
    threatfox_listed           SMALLINT,
    threatfox_threat_types     TEXT     NOT NULL DEFAULT '[]',
    threatfox_ioc_types        TEXT     NOT NULL DEFAULT '[]',
    threatfox_malware_families TEXT     NOT NULL DEFAULT '[]',
    threatfox_queried_at       TEXT,
    raw                        TEXT     NOT NULL DEFAULT '{}',
    country_code               TEXT,
    asn                        BIGINT,
    as_name                    TEXT,
    asn_source                 TEXT,
    aggregate_verdict          TEXT,
    cached_at                  TEXT     NOT NULL,
    expires_at                 TEXT     NOT NULL
);
CREATE INDEX ix_attacker_intel_attacker_ip ON attacker_intel(attacker_ip);
CREATE INDEX ix_attacker_intel_aggregate_verdict ON attacker_intel(aggregate_verdict);
CREATE INDEX ix_attacker_intel_expires_at ON attacker_intel(expires_at);
CREATE INDEX ix_attacker_intel_asn ON attacker_intel(asn);

-- The clusterer's roll-up of plain JA4 (TLS client) hashes; ja4h and
-- ja4_quic have columns since 00004.
ALTER TABLE attacker_identities ADD COLUMN ja4_hashes TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE attacker_identities DROP COLUMN ja4_hashes;
DROP TABLE attacker_intel;
