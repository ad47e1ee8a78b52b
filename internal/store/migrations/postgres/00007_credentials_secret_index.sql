-- +goose Up
-- Credential reuse looks credentials up by secret (the dedup key starts with
-- the attacker's address and cannot serve it): without this index the reuse
-- list and the dashboard's credentials page scanned the table per row.
CREATE INDEX ix_credentials_secret ON credentials(secret_sha256, secret_kind);

-- +goose Down
DROP INDEX ix_credentials_secret;
