-- +goose Up
CREATE TABLE decky_lifecycle (
    id           VARCHAR(64) NOT NULL PRIMARY KEY,
    decky_name   VARCHAR(64) NOT NULL,
    operation    VARCHAR(32) NOT NULL,
    status       VARCHAR(32) NOT NULL,
    error        TEXT        NOT NULL DEFAULT (''),
    started_at   VARCHAR(40) NOT NULL,
    updated_at   VARCHAR(40) NOT NULL,
    completed_at VARCHAR(40)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_decky_lifecycle_decky ON decky_lifecycle(decky_name);

-- +goose Down
DROP TABLE decky_lifecycle;
