package store

import (
	"context"
	"errors"
	"sync"
)

// maxReaderConns is the reader pool's size. Every one is kept open: an
// SQLite connection reads the schema when it opens, so a pool that closes
// idle connections and opens new ones under load spends its time there.
const maxReaderConns = 8

// readerPragmas are the readers' settings: the store's, and no writing.
var readerPragmas = append(append([]string(nil), sqlitePragmas...), "query_only(1)")

// readDB is the pool of read connections. Like the writer's, they are the
// store's own (liteConn), each with its prepared statements: a read takes a
// connection, runs its query and gives the connection back when its rows
// are closed (for QueryRow, after Scan).
type readDB struct {
	path  string
	idle  chan *readConn
	slots chan struct{} // one per open connection, up to maxReaderConns

	mu     sync.Mutex
	closed bool
}

// readConn is one reader connection and the statements prepared on it.
type readConn struct {
	stmts stmtSet
}

var errReaderClosed = errors.New("store: closed")

func newReadDB(path string) *readDB {
	return &readDB{
		path:  path,
		idle:  make(chan *readConn, maxReaderConns),
		slots: make(chan struct{}, maxReaderConns),
	}
}

// get takes an idle connection, opens one while the pool has room, or
// waits for one to come back.
func (r *readDB) get(ctx context.Context) (*readConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case rc := <-r.idle:
		return rc, nil
	default:
	}
	select {
	case rc := <-r.idle:
		return rc, nil
	case r.slots <- struct{}{}:
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed {
			<-r.slots
			return nil, errReaderClosed
		}
		c, err := openLiteConn(r.path, "", readerPragmas)
		if err != nil {
			<-r.slots
			return nil, err
		}
		return &readConn{stmts: stmtSet{conn: c}}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put gives rc back to the pool (closing it once the pool is closed).
func (r *readDB) put(rc *readConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		rc.stmts.close()
		<-r.slots
		return
	}
	r.idle <- rc // never blocks: one place per slot
}

// QueryRowContext runs q on a pooled connection for its first row.
func (r *readDB) QueryRowContext(ctx context.Context, q string, args ...any) *wrow {
	rows, err := r.QueryContext(ctx, q, args...)
	return &wrow{rows: rows, err: err}
}

// QueryContext runs q on a pooled connection, held until the rows are
// closed.
func (r *readDB) QueryContext(ctx context.Context, q string, args ...any) (*wrows, error) {
	rc, err := r.get(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := rc.stmts.query(q, args)
	if err != nil {
		r.put(rc)
		return nil, err
	}
	rows.ctx, rows.pool, rows.conn = ctx, r, rc
	return rows, nil
}

func (r *readDB) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	return r.QueryRowContext(ctx, q, args...)
}

func (r *readDB) query(ctx context.Context, q string, args ...any) (rowIter, error) {
	return r.QueryContext(ctx, q, args...)
}

// PingContext checks that a reader connection can be had (opening one if
// none is).
func (r *readDB) PingContext(ctx context.Context) error {
	rc, err := r.get(ctx)
	if err != nil {
		return err
	}
	r.put(rc)
	return nil
}

// Close closes the idle connections; those in use are closed when they
// come back.
func (r *readDB) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	for {
		select {
		case rc := <-r.idle:
			rc.stmts.close()
			<-r.slots
		default:
			return nil
		}
	}
}

// QueryRow is QueryRowContext with a background context.
func (r *readDB) QueryRow(q string, args ...any) *wrow {
	return r.QueryRowContext(context.Background(), q, args...)
}

// Query is QueryContext with a background context.
func (r *readDB) Query(q string, args ...any) (*wrows, error) {
	return r.QueryContext(context.Background(), q, args...)
}
