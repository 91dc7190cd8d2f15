-- +goose Up
-- Sends to one customer go out in the order they were submitted; claims
-- look for earlier pending sends by (business, customer).
CREATE INDEX messages_conversation ON messages(business, customer);

-- +goose Down
DROP INDEX messages_conversation;
