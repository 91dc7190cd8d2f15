-- +goose Up
-- SMS fallback: the trigger that moved a message to SMS, and the parts
-- an SMS route accepted (one row per part, by the upstream's id).
ALTER TABLE messages ADD COLUMN fallback TEXT NOT NULL DEFAULT '';
CREATE TABLE sms_parts (
    message_id TEXT NOT NULL,
    idx        INTEGER NOT NULL,
    route      TEXT NOT NULL,
    part_id    TEXT NOT NULL,
    stat       TEXT NOT NULL DEFAULT '',
    code       INTEGER NOT NULL DEFAULT 0,
    at         INTEGER NOT NULL,
    PRIMARY KEY (message_id, idx)
);
CREATE UNIQUE INDEX sms_parts_upstream ON sms_parts(route, part_id);

-- +goose Down
DROP TABLE sms_parts;
ALTER TABLE messages DROP COLUMN fallback;
