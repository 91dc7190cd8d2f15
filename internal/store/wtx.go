package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/wabridge/wabridge/bridge"
)

// wtx is the writer's open transaction. Its methods mirror *sql.Tx's, but
// they run on the writer's own SQLite connection (liteConn), without
// database/sql or its driver: every query text is prepared once and kept
// (SQLite does not parse the same SQL again for each of the thousands of
// operations per second a group commit carries), and a statement costs no
// pool bookkeeping, locking or per-call allocations.
//
// The ctx of the *Context methods is ignored: an operation, once taken by
// the writer, runs to its end (a caller's cancelled request must not fail a
// statement halfway through a shared transaction). Only the writer's
// goroutine uses a wtx.
type wtx struct {
	c *committer
	// queued records the report queues the operation added to
	// (reportChange); an operation that reports it resets it first.
	queued bridge.ReportsQueued
	// scratch is reused by encodings only bound to a statement (statusRecord).
	scratch []byte
}

// writeCtx is the context of every statement the writer runs.
var writeCtx = context.Background()

// maxConnStmts bounds the statements a connection keeps prepared; a text
// beyond it is prepared for its one use (none today: the store's texts are
// fixed, and claims have one per limit).
const maxConnStmts = 512

// stmtSet is a connection and the statements prepared on it, by query text.
type stmtSet struct {
	conn *liteConn
	m    map[string]*liteStmt
}

// get returns q prepared on the connection; kept says it is the kept one
// (else it is for this use only, and finalized after it: beyond
// maxConnStmts, or while the kept one's rows are still being read).
func (s *stmtSet) get(q string) (st *liteStmt, kept bool, err error) {
	if st, ok := s.m[q]; ok && !st.busy {
		return st, true, nil
	}
	keep := len(s.m) < maxConnStmts && s.m[q] == nil
	if st, err = s.conn.prepare(q, keep); err != nil {
		return nil, false, err
	}
	if !keep {
		return st, false, nil
	}
	if s.m == nil {
		s.m = map[string]*liteStmt{}
	}
	s.m[q] = st
	return st, true, nil
}

// exec runs q with args.
func (s *stmtSet) exec(q string, args []any) (liteResult, error) {
	st, kept, err := s.get(q)
	if err != nil {
		return liteResult{}, err
	}
	res, err := st.exec(args)
	if !kept {
		st.finalize()
	}
	return res, err
}

// query runs q with args for its rows.
func (s *stmtSet) query(q string, args []any) (*wrows, error) {
	st, kept, err := s.get(q)
	if err != nil {
		return nil, err
	}
	if err := st.query(args); err != nil {
		if !kept {
			st.finalize()
		}
		return nil, err
	}
	return &wrows{st: st, kept: kept}, nil
}

// close finalizes the statements and closes the connection.
func (s *stmtSet) close() {
	for _, st := range s.m {
		st.finalize()
	}
	s.m = nil
	if s.conn != nil {
		_ = s.conn.close()
		s.conn = nil
	}
}

// Exec runs q with args. Its result is a value, not sql.Result: an
// interface would cost an allocation per statement.
func (t *wtx) Exec(q string, args ...any) (liteResult, error) {
	return t.c.stmts.exec(q, args)
}

func (t *wtx) ExecContext(_ context.Context, q string, args ...any) (liteResult, error) {
	return t.Exec(q, args...)
}

func (t *wtx) Query(q string, args ...any) (*wrows, error) {
	return t.c.stmts.query(q, args)
}

func (t *wtx) QueryContext(_ context.Context, q string, args ...any) (*wrows, error) {
	return t.Query(q, args...)
}

// QueryRow runs q for its first row; Scan reports sql.ErrNoRows without one.
func (t *wtx) QueryRow(q string, args ...any) *wrow {
	rows, err := t.Query(q, args...)
	return &wrow{rows: rows, err: err}
}

func (t *wtx) QueryRowContext(_ context.Context, q string, args ...any) *wrow {
	return t.QueryRow(q, args...)
}

func (t *wtx) queryRow(_ context.Context, q string, args ...any) rowScanner {
	return t.QueryRow(q, args...)
}

func (t *wtx) query(_ context.Context, q string, args ...any) (rowIter, error) {
	return t.Query(q, args...)
}

// wrows is *sql.Rows for the store's connections (the writer's and the
// readers'): Next, Scan, Err, Close.
type wrows struct {
	st     *liteStmt
	kept   bool // st is its connection's kept statement (else finalized at Close)
	err    error
	closed bool
	row    bool // Next returned true and Scan may read the row
	// A reader's rows: the query's context (checked before each row) and
	// the connection, given back to pool at Close.
	ctx  context.Context
	pool *readDB
	conn *readConn
}

func (r *wrows) Next() bool {
	if r.closed {
		return false
	}
	if r.ctx != nil {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			_ = r.Close()
			return false
		}
	}
	ok, err := r.st.step()
	if !ok {
		r.err = err
		r.row = false
		_ = r.Close()
		return false
	}
	r.row = true
	return true
}

func (r *wrows) Scan(dest ...any) error {
	if !r.row {
		if r.err != nil {
			return r.err
		}
		return errors.New("store: Scan called without a row")
	}
	return r.st.scan(dest)
}

func (r *wrows) Err() error { return r.err }

func (r *wrows) Close() error {
	if r.closed {
		return nil
	}
	r.closed, r.row = true, false
	r.st.reset()
	if !r.kept {
		r.st.finalize()
	}
	if r.pool != nil {
		r.pool.put(r.conn)
		r.pool, r.conn = nil, nil
	}
	return nil
}

// wrow is *sql.Row for the store's connections.
type wrow struct {
	rows *wrows
	err  error
}

func (r *wrow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	return r.rows.Scan(dest...)
}

// rowScanner and rowIter are what reads need of *sql.Row and *sql.Rows;
// the writer's wrow and wrows have them too (see queryer).
type rowScanner interface{ Scan(dest ...any) error }

type rowIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// assign stores a column's value in dest as database/sql's Scan does
// (convertAssign) for what SQLite returns (int64, float64, string, []byte,
// nil): into strings, byte slices, integers, floats and booleans (and
// named types of those kinds), any, and sql.Scanner. NULL goes only into
// []byte, any and a Scanner. TestWriterScansLikeDatabaseSQL compares the
// two on every pair of value and destination the store uses.
func assign(dest any, src driver.Value) error {
	switch d := dest.(type) {
	case sql.Scanner:
		return d.Scan(src)
	case *any:
		if b, ok := src.([]byte); ok {
			src = append([]byte(nil), b...)
		}
		*d = src
		return nil
	case *[]byte:
		switch s := src.(type) {
		case nil:
			*d = nil
			return nil
		case []byte:
			*d = append([]byte(nil), s...)
			return nil
		}
		if str, ok := asString(src); ok {
			*d = []byte(str)
			return nil
		}
	case *string:
		if str, ok := asString(src); ok {
			*d = str
			return nil
		}
	case *int64:
		if s, ok := src.(int64); ok {
			*d = s
			return nil
		}
	case *int:
		if s, ok := src.(int64); ok {
			*d = int(s)
			return nil
		}
	case *bool:
		b, err := driver.Bool.ConvertValue(src)
		if err != nil {
			return fmt.Errorf("converting driver.Value type %T (%q) to a bool: %w", src, src, err)
		}
		*d = b.(bool)
		return nil
	}
	if src == nil {
		return fmt.Errorf("converting NULL to %T is unsupported", dest)
	}
	return assignKind(dest, src)
}

// asString is src as text, as database/sql formats it.
func asString(src driver.Value) (string, bool) {
	switch s := src.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	case int64:
		return strconv.FormatInt(s, 10), true
	case float64:
		return strconv.FormatFloat(s, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(s), true
	}
	return "", false
}

// assignKind is assign by dest's kind (named types: bridge.Status, …):
// numbers parsed from the value's text, strings only from text.
func assignKind(dest any, src driver.Value) error {
	rv := reflect.ValueOf(dest)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("destination not a pointer: %T", dest)
	}
	e := rv.Elem()
	str, _ := asString(src)
	switch e.Kind() {
	case reflect.String:
		switch s := src.(type) {
		case string:
			e.SetString(s)
			return nil
		case []byte:
			e.SetString(string(s))
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(str, 10, e.Type().Bits())
		if err != nil {
			return fmt.Errorf("converting driver.Value type %T (%q) to a %s: %w", src, str, e.Kind(), err)
		}
		e.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(str, 10, e.Type().Bits())
		if err != nil {
			return fmt.Errorf("converting driver.Value type %T (%q) to a %s: %w", src, str, e.Kind(), err)
		}
		e.SetUint(n)
		return nil
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(str, e.Type().Bits())
		if err != nil {
			return fmt.Errorf("converting driver.Value type %T (%q) to a %s: %w", src, str, e.Kind(), err)
		}
		e.SetFloat(f)
		return nil
	case reflect.Bool:
		b, err := driver.Bool.ConvertValue(src)
		if err != nil {
			return fmt.Errorf("converting driver.Value type %T (%q) to a bool: %w", src, str, err)
		}
		e.SetBool(b.(bool))
		return nil
	}
	return fmt.Errorf("unsupported Scan, storing driver.Value type %T into type %T", src, dest)
}
