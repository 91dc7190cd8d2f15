package store

import (
	"context"
	"database/sql"
)

// maxReaderConns is the reader pool's size. Every one is kept open: an
// SQLite connection reads the schema when it opens, so a pool that closes
// idle connections and opens new ones under load spends its time there.
const maxReaderConns = 8

// readDB is the pool of read connections. Its queries run as prepared
// statements (stmtCache; database/sql prepares each on a connection the
// first time it runs there).
type readDB struct {
	*sql.DB
	stmts stmtCache
}

func newReadDB(db *sql.DB) *readDB {
	db.SetMaxOpenConns(maxReaderConns)
	db.SetMaxIdleConns(maxReaderConns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return &readDB{DB: db}
}

func (r *readDB) stmt(ctx context.Context, q string) *sql.Stmt {
	return r.stmts.get(ctx, q, r.DB.PrepareContext)
}

// QueryRowContext runs q as a cached prepared statement.
func (r *readDB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := r.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.DB.QueryRowContext(ctx, q, args...)
}

// QueryContext runs q as a cached prepared statement.
func (r *readDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := r.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.DB.QueryContext(ctx, q, args...)
}

// QueryRow is QueryRowContext with a background context.
func (r *readDB) QueryRow(q string, args ...any) *sql.Row {
	return r.QueryRowContext(context.Background(), q, args...)
}

// Query is QueryContext with a background context.
func (r *readDB) Query(q string, args ...any) (*sql.Rows, error) {
	return r.QueryContext(context.Background(), q, args...)
}

func (r *readDB) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	return r.QueryRowContext(ctx, q, args...)
}

func (r *readDB) query(ctx context.Context, q string, args ...any) (rowIter, error) {
	return r.QueryContext(ctx, q, args...)
}

// Close closes the statements and the pool.
func (r *readDB) Close() error {
	r.stmts.close()
	return r.DB.Close()
}
