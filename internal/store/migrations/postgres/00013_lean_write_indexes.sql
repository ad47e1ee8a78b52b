-- +goose Up
-- Indexes no query reads, dropped because every one costs each insert on
-- the pipeline's hottest tables (docs/database.md, "Indexes"):
-- * ttp_tag: every read goes by uuid, attacker, identity, session,
--   technique or time. The original's indexes on source, decky, tactic,
--   sub-technique, rule and ATT&CK release (one value for every row) were
--   a third of the cost of storing a tag.
-- * credentials: ix_credentials_secret is a prefix of
--   ix_credentials_secret_target (00011), which answers the same lookups.
DROP INDEX ix_ttp_tag_source;
DROP INDEX ix_ttp_tag_decky_id;
DROP INDEX ix_ttp_tag_tactic;
DROP INDEX ix_ttp_tag_sub_technique_id;
DROP INDEX ix_ttp_tag_rule_id;
DROP INDEX ix_ttp_tag_attack_release;
DROP INDEX ix_credentials_secret;

-- +goose Down
CREATE INDEX ix_ttp_tag_source ON ttp_tag(source_kind, source_id);
CREATE INDEX ix_ttp_tag_decky_id ON ttp_tag(decky_id);
CREATE INDEX ix_ttp_tag_tactic ON ttp_tag(tactic);
CREATE INDEX ix_ttp_tag_sub_technique_id ON ttp_tag(sub_technique_id);
CREATE INDEX ix_ttp_tag_rule_id ON ttp_tag(rule_id);
CREATE INDEX ix_ttp_tag_attack_release ON ttp_tag(attack_release);
CREATE INDEX ix_credentials_secret ON credentials(secret_sha256, secret_kind);
