-- +goose Up
-- Parts of a concatenated submission (SMPP UDH or SAR), kept as they
-- arrive until the last one completes the message. expired = 1 once the
-- message can no longer complete (its receipt is still to be sent).
CREATE TABLE parts (
    origin      TEXT NOT NULL,
    key         TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    total       INTEGER NOT NULL,
    part_id     TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '',
    received_at INTEGER NOT NULL,
    expired     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (origin, key, seq)
);
CREATE INDEX parts_age ON parts(received_at) WHERE expired = 0;

-- Every part's id resolves to the message it became part of.
CREATE TABLE part_ids (
    part_id    TEXT PRIMARY KEY,
    message_id TEXT NOT NULL
);

-- +goose Down
DROP TABLE part_ids;
DROP TABLE parts;
