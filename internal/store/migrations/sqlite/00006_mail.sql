-- +goose Up
-- The IMAP mailboxes of mail users. UIDs come from uid_next and are never
-- reused; uid_validity is fixed at creation (see mail_counters).
CREATE TABLE mail_mailboxes (
    id           INTEGER PRIMARY KEY,
    username     TEXT NOT NULL,
    name         TEXT NOT NULL,
    uid_validity INTEGER NOT NULL,
    uid_next     INTEGER NOT NULL DEFAULT 1,
    special_use  TEXT NOT NULL DEFAULT '',
    subscribed   INTEGER NOT NULL DEFAULT 1,
    UNIQUE (username, name)
);

-- Per user: the last UIDVALIDITY handed out, so a mailbox deleted and
-- created again never repeats one.
CREATE TABLE mail_counters (
    username          TEXT PRIMARY KEY,
    last_uid_validity INTEGER NOT NULL
);

-- One message in one mailbox. delivery_key makes deliveries idempotent
-- ("in:<message id>", "sent:<Message-ID>", "bounce:…"); message_id is the
-- mail's Message-ID for merging a client's APPEND to Sent.
CREATE TABLE mail_messages (
    mailbox_id    INTEGER NOT NULL REFERENCES mail_mailboxes(id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    delivery_key  TEXT,
    message_id    TEXT NOT NULL DEFAULT '',
    flags         TEXT NOT NULL DEFAULT '',
    internal_date INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    body          BLOB NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
);
CREATE UNIQUE INDEX mail_messages_key ON mail_messages(mailbox_id, delivery_key) WHERE delivery_key IS NOT NULL;
CREATE INDEX mail_messages_message_id ON mail_messages(mailbox_id, message_id) WHERE message_id <> '';

-- Sent copies and the WhatsApp messages they stand for.
CREATE TABLE mail_links (
    mailbox_id INTEGER NOT NULL,
    uid        INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, uid, message_id),
    FOREIGN KEY (mailbox_id, uid) REFERENCES mail_messages(mailbox_id, uid) ON DELETE CASCADE
);
CREATE INDEX mail_links_message ON mail_links(message_id);

-- +goose Down
DROP TABLE mail_links;
DROP TABLE mail_messages;
DROP TABLE mail_counters;
DROP TABLE mail_mailboxes;
