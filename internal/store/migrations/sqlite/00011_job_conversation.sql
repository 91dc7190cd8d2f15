-- +goose Up
-- A send job names its conversation (business and customer), so the claim's
-- order check ("no earlier pending send to the same customer") seeks the
-- conversation's pending jobs directly: scanning every send job (a large
-- backlog to many customers) or every message of the customer (a long
-- history with one customer) made claims slow.
ALTER TABLE jobs ADD COLUMN conv TEXT;
UPDATE jobs SET conv = (SELECT m.business || ' ' || m.customer FROM messages m WHERE m.id = jobs.ref) WHERE kind = 'send';
CREATE INDEX jobs_conversation ON jobs(kind, conv) WHERE conv IS NOT NULL;

-- +goose Down
DROP INDEX jobs_conversation;
ALTER TABLE jobs DROP COLUMN conv;
