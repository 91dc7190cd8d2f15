// Package store holds wabridge's durable state behind bridge.Store: SQLite
// (embedded, one node) now, PostgreSQL (several nodes) later, with one
// schema applied by embedded migrations.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/wabridge/wabridge/bridge"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// SQLiteConfig configures the embedded store.
type SQLiteConfig struct {
	// Path is the database file; its directory is created if missing.
	Path string
	// CommitBatch caps operations per group commit (default 256).
	CommitBatch int
	// CommitDelay lets a commit wait for more work (default 0: commit as
	// soon as the writer is free; batches still form under load).
	CommitDelay time.Duration
	// WriterPriority is how many nice levels the writer's OS thread runs
	// above the rest of the process (0: no thread of its own). Raising it
	// needs CAP_SYS_NICE or RLIMIT_NICE; without them the writer runs at
	// the process's priority (see (*SQLite).WriterPriority).
	WriterPriority int
}

// SQLite is the embedded store: one file, WAL journal, synchronous=FULL (a
// commit is on disk before it returns), one writer goroutine doing group
// commits and a pool of readers. One process owns the file.
type SQLite struct {
	writer *sql.DB
	reader *readDB
	commit *committer
	// consented lists every customer with a consent row (see Consent).
	consented customerSet
}

var (
	_ bridge.Store             = (*SQLite)(nil)
	_ bridge.ReportPlanner     = (*SQLite)(nil)
	_ bridge.OutboundQueuer    = (*SQLite)(nil)
	_ bridge.MessageHeadReader = (*SQLite)(nil)
	_ bridge.JobPeeker         = (*SQLite)(nil)
)

// sqlitePragmas are set on every connection: the writer's and the readers'
// (openLiteConn; the readers add query_only), and the database/sql handle's
// the migrations run on (sqliteDSN). synchronous(FULL) is also what the
// writer's VFS (walvfs) requires: it holds a commit's log writes until the
// sync at its end, which only FULL makes before other connections see it.
var sqlitePragmas = []string{
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"busy_timeout(10000)",
	"foreign_keys(1)",
}

func sqliteDSN(path string) string {
	q := url.Values{}
	for _, p := range sqlitePragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// OpenSQLite opens (creating if needed) the database at cfg.Path, applies
// migrations and releases the leases a previous process held: with one
// process per file, a lease left behind is always from a crash.
func OpenSQLite(ctx context.Context, cfg SQLiteConfig) (*SQLite, error) {
	if cfg.Path == "" {
		return nil, errors.New("store: sqlite path is empty")
	}
	if dir := filepath.Dir(cfg.Path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	dsn := sqliteDSN(cfg.Path)
	writer, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", cfg.Path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	if err := migrateSQLite(ctx, writer); err != nil {
		writer.Close()
		return nil, err
	}
	reader := newReadDB(cfg.Path)
	if _, err := writer.ExecContext(ctx, `UPDATE jobs SET lease_until = 0 WHERE lease_until > 0`); err != nil {
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("store: release leases: %w", err)
	}
	s := &SQLite{writer: writer, reader: reader}
	if err := s.consented.load(ctx, writer); err != nil {
		writer.Close()
		reader.Close()
		return nil, err
	}
	// From here the committer writes, on a connection of its own.
	s.commit = newCommitter(cfg.Path, cfg.CommitBatch, cfg.CommitDelay, cfg.WriterPriority)
	return s, nil
}

// WriterPriority reports the writer thread's priority as set at open.
func (s *SQLite) WriterPriority() WriterPriority { return s.commit.priority }

func migrateSQLite(ctx context.Context, db *sql.DB) error {
	sub, err := fs.Sub(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// Close stops the writer (pending writes fail with an error) and closes the
// database. It may be called more than once.
func (s *SQLite) Close() error {
	s.commit.close()
	err1 := s.reader.Close()
	err2 := s.writer.Close()
	return errors.Join(err1, err2)
}

// Stats are counters that make group commit visible.
type Stats struct {
	// Commits counts committed write transactions.
	Commits int64
	// Synced counts those that changed rows: with WAL and synchronous=FULL
	// SQLite writes and syncs the log once for each, so this is the number
	// of fsyncs spent on commits (checkpoints aside). A transaction that
	// changed nothing (a claim that found no work) commits without either.
	Synced int64
	// Operations counts write operations (webhooks, submits, job updates)
	// carried by those commits.
	Operations int64
}

// Stats returns the counters since Open.
func (s *SQLite) Stats() Stats {
	return Stats{Commits: s.commit.commits.Load(), Synced: s.commit.synced.Load(), Operations: s.commit.operations.Load()}
}

// TransactionDurations returns how long the write transactions committed
// since Open that changed rows took from BEGIN to durable.
func (s *SQLite) TransactionDurations() Histogram { return s.commit.txTime.snapshot() }

// CommitDurations returns how long their COMMIT alone took: the log's
// writes, its fsync and an automatic checkpoint when one ran.
func (s *SQLite) CommitDurations() Histogram { return s.commit.commitTime.snapshot() }

// OperationCounts returns the committed write operations since Open by
// store operation (claim_sends, ingest, start_attempt, …).
func (s *SQLite) OperationCounts() map[string]int64 {
	return s.commit.byOp.snapshot()
}

// Pragma returns the value of a PRAGMA on the writer connection (for tests
// and check-config output).
func (s *SQLite) Pragma(ctx context.Context, name string) (string, error) {
	var v string
	err := s.commit.write(ctx, func(tx *wtx) error { return tx.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v) })
	return v, err
}

// Ping implements bridge.Store.
func (s *SQLite) Ping(ctx context.Context) error {
	return s.reader.PingContext(ctx)
}
