-- +goose Up
-- Messages in both directions. content is the JSON of bridge.Content;
-- times are unix milliseconds.
CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    direction       TEXT NOT NULL,
    business        TEXT NOT NULL,
    customer        TEXT NOT NULL,
    customer_phone  TEXT NOT NULL DEFAULT '',
    customer_bsuid  TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL,
    content         TEXT NOT NULL,
    wamid           TEXT UNIQUE,
    channel         TEXT NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    error_code      INTEGER NOT NULL DEFAULT 0,
    error_message   TEXT NOT NULL DEFAULT '',
    origin          TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT,
    profile_name    TEXT NOT NULL DEFAULT '',
    ts              INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    purged          INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX messages_idempotency ON messages(origin, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_created ON messages(created_at);

-- Every status a message reached, in the order observed.
CREATE TABLE history (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    status     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    code       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX history_message ON history(message_id);

-- Provider status events, once per (wamid, status). applied = 0 while the
-- message they belong to is not known yet.
CREATE TABLE status_events (
    wamid       TEXT NOT NULL,
    status      TEXT NOT NULL,
    ts          INTEGER NOT NULL,
    callback    TEXT NOT NULL DEFAULT '',
    received_at INTEGER NOT NULL,
    applied     INTEGER NOT NULL DEFAULT 0,
    event       TEXT NOT NULL,
    PRIMARY KEY (wamid, status)
);
CREATE INDEX status_events_pending ON status_events(wamid) WHERE applied = 0;

-- Webhook items kept raw (template updates, unknown fields), once per key.
CREATE TABLE raw_events (
    key         TEXT PRIMARY KEY,
    field       TEXT NOT NULL,
    type        TEXT NOT NULL DEFAULT '',
    raw         TEXT NOT NULL,
    received_at INTEGER NOT NULL
);

-- The customer-service window: last inbound message per (business, customer).
CREATE TABLE windows (
    business     TEXT NOT NULL,
    customer     TEXT NOT NULL,
    last_inbound INTEGER NOT NULL,
    PRIMARY KEY (business, customer)
);

-- The outbox: work to do, leased by workers.
CREATE TABLE jobs (
    kind            TEXT NOT NULL,
    ref             TEXT NOT NULL,
    run_at          INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    attempt_started INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, ref)
);
CREATE INDEX jobs_due ON jobs(kind, run_at);

-- +goose Down
DROP TABLE jobs;
DROP TABLE windows;
DROP TABLE raw_events;
DROP TABLE status_events;
DROP TABLE history;
DROP TABLE messages;
