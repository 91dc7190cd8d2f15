-- +goose Up
-- Business-initiated conversations: a customer messaged outside their
-- customer-service window (a template), for the messaging-limit tier
-- (unique customers per rolling 24 hours, per portfolio).
CREATE TABLE initiations (
    customer TEXT PRIMARY KEY,
    at       INTEGER NOT NULL
);
CREATE INDEX initiations_at ON initiations(at);

-- +goose Down
DROP TABLE initiations;
