package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxReaderConns is the reader pool's size. Every one is kept open: an
// SQLite connection reads the schema when it opens, so a pool that closes
// idle connections and opens new ones under load spends its time there.
const maxReaderConns = 8

// readDB is the pool of read connections. Its queries run as prepared
// statements, cached by text (database/sql prepares each on a connection
// the first time it runs there): parsing a query is most of the cost of a
// point lookup. The statements are the store's own constant texts; past
// maxCachedStmts a query runs unprepared.
type readDB struct {
	*sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func newReadDB(db *sql.DB) *readDB {
	db.SetMaxOpenConns(maxReaderConns)
	db.SetMaxIdleConns(maxReaderConns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return &readDB{DB: db, stmts: map[string]*sql.Stmt{}}
}

func (r *readDB) stmt(ctx context.Context, q string) *sql.Stmt {
	r.mu.RLock()
	st, ok := r.stmts[q]
	r.mu.RUnlock()
	if ok {
		return st
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.stmts[q]; ok {
		return st
	}
	if len(r.stmts) >= maxCachedStmts {
		return nil
	}
	st, err := r.DB.PrepareContext(ctx, q)
	if err != nil {
		return nil // run unprepared: the error is reported there
	}
	r.stmts[q] = st
	return st
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

// Close closes the statements and the pool.
func (r *readDB) Close() error {
	r.mu.Lock()
	for _, st := range r.stmts {
		_ = st.Close()
	}
	r.stmts = map[string]*sql.Stmt{}
	r.mu.Unlock()
	return r.DB.Close()
}
