-- +goose Up
-- What the operator wants each decky to run (its services and their
-- configuration, as JSON), kept across restarts; '' for rows written
-- before live operations existed.
ALTER TABLE deckies ADD COLUMN config TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE deckies DROP COLUMN config;
