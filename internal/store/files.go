package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// Files keeps media files: the bytes in a directory (dir/ab/<id>), the
// record in the database. A file is durable when Commit returns: its bytes
// are synced, renamed into place, the directory synced, and the row committed.
type Files struct {
	db  *SQLite
	dir string
}

var _ bridge.FileStore = (*Files)(nil)

// Files returns the file store keeping its bytes under dir (created if needed).
func (s *SQLite) Files(dir string) (*Files, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("store: media dir: %w", err)
	}
	// Left-over temporary files are from a crash before Commit: never acknowledged.
	if entries, err := os.ReadDir(filepath.Join(dir, "tmp")); err == nil {
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, "tmp", e.Name()))
		}
	}
	return &Files{db: s, dir: dir}, nil
}

func (f *Files) path(id string) string { return filepath.Join(f.dir, id[:2], id) }

type fileWriter struct {
	files *Files
	tmp   *os.File
	hash  hash.Hash
	n     int64
	once  sync.Once
	done  bool
}

// Create implements bridge.FileStore.
func (f *Files) Create(context.Context) (bridge.FileWriter, error) {
	tmp, err := os.CreateTemp(filepath.Join(f.dir, "tmp"), "upload-*")
	if err != nil {
		return nil, fmt.Errorf("store: new file: %w", err)
	}
	return &fileWriter{files: f, tmp: tmp, hash: sha256.New()}, nil
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.tmp.Write(p)
	w.hash.Write(p[:n])
	w.n += int64(n)
	return n, err
}

func (w *fileWriter) Written() int64 { return w.n }

// Commit implements bridge.FileWriter.
func (w *fileWriter) Commit(ctx context.Context, meta bridge.File) (*bridge.File, error) {
	if w.done {
		return nil, errors.New("store: file already committed or aborted")
	}
	w.done = true
	defer w.cleanup()
	if err := w.tmp.Sync(); err != nil {
		return nil, fmt.Errorf("store: sync file: %w", err)
	}
	now := time.Now().UTC()
	rec := meta
	rec.ID = "f" + string(bridge.NewID(now))
	rec.SHA256 = hex.EncodeToString(w.hash.Sum(nil))
	rec.Size = w.n
	rec.CreatedAt = now
	rec.MIMEType = bridge.BaseMIME(rec.MIMEType)
	final := w.files.path(rec.ID)
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return nil, fmt.Errorf("store: media dir: %w", err)
	}
	if err := os.Rename(w.tmp.Name(), final); err != nil {
		return nil, fmt.Errorf("store: place file: %w", err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return nil, err
	}
	err := w.files.db.commit.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(`INSERT INTO files (id, sha256, mime_type, size, filename, created_at) VALUES (?,?,?,?,?,?)`,
			rec.ID, rec.SHA256, rec.MIMEType, rec.Size, rec.Filename, ms(now))
		return err
	})
	if err != nil {
		_ = os.Remove(final)
		return nil, fmt.Errorf("store: record file: %w", err)
	}
	return &rec, nil
}

// Abort implements bridge.FileWriter.
func (w *fileWriter) Abort() {
	w.done = true
	w.cleanup()
}

func (w *fileWriter) cleanup() {
	w.once.Do(func() {
		w.tmp.Close()
		_ = os.Remove(w.tmp.Name()) // fails harmlessly after the rename
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync dir: %w", err)
	}
	return nil
}

// Stat returns a file's record; bridge.ErrNotFound if none.
func (f *Files) Stat(ctx context.Context, id string) (*bridge.File, error) {
	var (
		rec     bridge.File
		created int64
	)
	err := f.db.reader.QueryRowContext(ctx, `SELECT id, sha256, mime_type, size, filename, created_at FROM files WHERE id = ?`, id).
		Scan(&rec.ID, &rec.SHA256, &rec.MIMEType, &rec.Size, &rec.Filename, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bridge.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: file: %w", err)
	}
	rec.CreatedAt = fromMS(created)
	return &rec, nil
}

// Open implements bridge.FileStore.
func (f *Files) Open(ctx context.Context, id string) (io.ReadCloser, *bridge.File, error) {
	rec, err := f.Stat(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	r, err := os.Open(f.path(rec.ID))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, bridge.ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("store: open file: %w", err)
	}
	return r, rec, nil
}

// PurgeFiles removes files created before the cut-off that no queued
// message still needs; it returns how many went.
func (f *Files) PurgeFiles(ctx context.Context, before time.Time) (int, error) {
	var ids []string
	err := f.db.commit.write(ctx, func(tx *wtx) error {
		ids = ids[:0]
		rows, err := tx.Query(`DELETE FROM files WHERE created_at < ? AND id NOT IN (
			SELECT json_extract(m.content, '$.media.file_id') FROM messages m JOIN jobs j ON j.ref = m.id
			WHERE json_extract(m.content, '$.media.file_id') IS NOT NULL) RETURNING id`, ms(before))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		_ = os.Remove(f.path(id))
	}
	return len(ids), nil
}
