-- +goose Up
-- Customers' consent: opted_out after STOP (or an import) until START.
-- A change applies only if it is not older than the one stored.
CREATE TABLE consent (
    customer TEXT PRIMARY KEY,
    opted_out INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    source   TEXT NOT NULL,
    keyword  TEXT NOT NULL DEFAULT '',
    ref      TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE consent;
