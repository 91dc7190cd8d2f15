-- +goose Up
-- The statuses a message has taken, one bit per provider word (see
-- seenBit): a status of a known message is deduplicated by its row, in the
-- update that applies it, instead of by a status_events row (an insert
-- with ~600 bytes of JSON and a random (wamid, status) key per status:
-- 12-18 % of the pages a commit wrote under SMPP load). NULL in rows of
-- earlier versions: their statuses go on being deduplicated by
-- status_events, where the ones they already took are.
ALTER TABLE messages ADD COLUMN seen INTEGER;

-- +goose Down
-- Statuses applied through seen have no status_events row: after this,
-- a repeat of one of them is applied again (its history entry repeated;
-- the status never moves back, bridge.Advance).
ALTER TABLE messages DROP COLUMN seen;
