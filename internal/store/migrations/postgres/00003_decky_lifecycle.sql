-- +goose Up
-- One row per asynchronous operation on a decky (deploy, remove): the API
-- answers 202 with the row ids and clients poll them. A row is immutable
-- once its status is terminal (succeeded or failed); a retry is a new row.
CREATE TABLE decky_lifecycle (
    id           TEXT PRIMARY KEY,
    decky_name   TEXT NOT NULL,
    operation    TEXT NOT NULL,
    status       TEXT NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    started_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX ix_decky_lifecycle_decky ON decky_lifecycle(decky_name);

-- +goose Down
DROP TABLE decky_lifecycle;
