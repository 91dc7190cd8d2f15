-- +goose Up
-- Media files wabridge keeps (downloaded from customers, or uploaded to
-- send). The bytes live in the media directory under their id.
CREATE TABLE files (
    id         TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL,
    mime_type  TEXT NOT NULL,
    size       INTEGER NOT NULL,
    filename   TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE files;
