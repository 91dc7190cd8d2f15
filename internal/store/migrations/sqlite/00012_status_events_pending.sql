-- +goose Up
-- The statuses waiting for their message (applied = 0) are found by wamid
-- through the primary key (wamid, status): a message has a handful of
-- statuses at most. The partial index only cost every such status webhook
-- one more B-tree insert (and the load test writes nothing but those).
DROP INDEX status_events_pending;

-- +goose Down
CREATE INDEX status_events_pending ON status_events(wamid) WHERE applied = 0;
