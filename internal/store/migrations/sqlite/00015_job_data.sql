-- +goose Up
-- A job may carry what its worker needs, written in the commit that queued
-- it: an SMPP receipt job holds its receipt's fields (addresses, dates,
-- reason), taken from the message as the status changed it, so sending the
-- receipt reads no message row. NULL for every other job (and for the
-- receipt jobs of earlier versions, which read the message as before).
ALTER TABLE jobs ADD COLUMN data TEXT;

-- +goose Down
ALTER TABLE jobs DROP COLUMN data;
