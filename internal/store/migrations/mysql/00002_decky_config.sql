-- +goose Up
ALTER TABLE deckies ADD COLUMN config MEDIUMTEXT NOT NULL DEFAULT ('');

-- +goose Down
ALTER TABLE deckies DROP COLUMN config;
