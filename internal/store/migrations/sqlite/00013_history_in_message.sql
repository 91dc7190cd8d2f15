-- +goose Up
-- A message's history moves into its row: a JSON array of
-- [status, at (unix ms), code], in the order observed. Every status change
-- rewrites the message row anyway; the history table added an insert, a
-- page of its message_id index and one of sqlite_sequence to nearly every
-- status (a fifth of the pages a commit wrote under SMPP load), and a
-- query to every read of a message with its history.
ALTER TABLE messages ADD COLUMN history TEXT NOT NULL DEFAULT '[]';
UPDATE messages SET history = (
    SELECT json_group_array(json_array(h.status, h.at, h.code) ORDER BY h.seq)
    FROM history h WHERE h.message_id = messages.id)
WHERE id IN (SELECT message_id FROM history);
DROP TABLE history;

-- +goose Down
CREATE TABLE history (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    status     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    code       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX history_message ON history(message_id);
INSERT INTO history (message_id, status, at, code)
    SELECT m.id, json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'), json_extract(e.value, '$[2]')
    FROM messages m, json_each(m.history) e
    ORDER BY m.rowid, e.key;
ALTER TABLE messages DROP COLUMN history;
