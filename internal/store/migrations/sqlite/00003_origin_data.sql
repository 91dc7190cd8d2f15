-- +goose Up
-- What the submitting edge keeps about a message (SMPP: addresses,
-- registered_delivery); opaque to the core.
ALTER TABLE messages ADD COLUMN origin_data TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE messages DROP COLUMN origin_data;
