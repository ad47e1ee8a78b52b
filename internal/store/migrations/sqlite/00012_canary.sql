-- +goose Up
-- Canary tokens as internal/canary plants and watches them (spec intel §8):
-- access_key_id is the cloud key id an aws_passive token planted, looked up
-- for every attacker request that carries one (hence the index; '' for the
-- other kinds); a trigger says how it was seen (via: http, dns, passive),
-- the validated fingerprint beacon (a JSON object, '' when none came) and
-- the conclusions drawn from it (metrics: a JSON list of {name, signature}).
ALTER TABLE canary_tokens ADD COLUMN access_key_id TEXT NOT NULL DEFAULT '';
CREATE INDEX ix_canary_tokens_access_key_id ON canary_tokens(access_key_id);
ALTER TABLE canary_triggers ADD COLUMN via TEXT NOT NULL DEFAULT '';
ALTER TABLE canary_triggers ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
ALTER TABLE canary_triggers ADD COLUMN metrics TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE canary_triggers DROP COLUMN metrics;
ALTER TABLE canary_triggers DROP COLUMN fingerprint;
ALTER TABLE canary_triggers DROP COLUMN via;
DROP INDEX ix_canary_tokens_access_key_id;
ALTER TABLE canary_tokens DROP COLUMN access_key_id;
