-- +goose Up
-- How a message was sent (freeform, which template and how chosen) or why
-- not: bridge.SendRecord as JSON.
ALTER TABLE messages ADD COLUMN send_record TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE messages DROP COLUMN send_record;
