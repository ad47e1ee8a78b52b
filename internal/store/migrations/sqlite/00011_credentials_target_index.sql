-- +goose Up
-- The reuse stage asks "has this secret been used on this decky and service
-- before?" for every new credentials row. A secret sprayed by thousands of
-- addresses (123456, admin) has thousands of rows; this index answers the
-- question with one probe instead of a walk over all of them.
CREATE INDEX ix_credentials_secret_target ON credentials(secret_sha256, secret_kind, principal, decky, service);

-- +goose Down
DROP INDEX ix_credentials_secret_target;
