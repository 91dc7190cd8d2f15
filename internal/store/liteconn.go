package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// liteConn is one of the store's SQLite connections (the writer's, and each
// reader's in the pool), on the SQLite library the driver is built from
// (modernc.org/sqlite/lib) but without the driver or database/sql.
//
// Each connection is used by one goroutine at a time (the writer's by the
// writer, a reader's by the read that took it from the pool), so it needs
// none of what a database/sql driver must pay for on every call:
//   - the connection is opened SQLITE_OPEN_NOMUTEX: the driver opens every
//     connection FULLMUTEX, so each bind, step and column read locks and
//     unlocks the connection's mutex (6 % of the daemon's CPU flat out);
//   - a text or blob argument is copied into memory the statement keeps and
//     bound in place, where the driver allocates and frees C memory for each;
//   - a query's rows are read straight into the Scan destinations: no column
//     names and declared types built for every query, no driver.Value boxing.
//
// A liteConn and its statements must be used by one goroutine at a time.
type liteConn struct {
	tls *libc.TLS
	db  uintptr
}

// liteFlags opens the file read-write, creating it, in multi-thread mode
// (one user at a time, no connection mutex).
const liteFlags = sqlite3.SQLITE_OPEN_READWRITE | sqlite3.SQLITE_OPEN_CREATE | sqlite3.SQLITE_OPEN_NOMUTEX

// openLiteConn opens path through the VFS named vfs ("" for SQLite's
// default) and runs each of pragmas ("journal_mode(WAL)", …) on it.
func openLiteConn(path, vfs string, pragmas []string) (*liteConn, error) {
	c := &liteConn{tls: libc.NewTLS()}
	name, err := libc.CString(path)
	if err != nil {
		c.tls.Close()
		return nil, err
	}
	defer libc.Xfree(c.tls, name)
	var zVfs uintptr
	if vfs != "" {
		if zVfs, err = libc.CString(vfs); err != nil {
			c.tls.Close()
			return nil, err
		}
		defer libc.Xfree(c.tls, zVfs)
	}
	pdb := c.tls.Alloc(int(unsafe.Sizeof(uintptr(0))))
	rc := sqlite3.Xsqlite3_open_v2(c.tls, name, pdb, liteFlags, zVfs)
	c.db = *(*uintptr)(cmem(pdb))
	c.tls.Free(int(unsafe.Sizeof(uintptr(0))))
	if rc != sqlite3.SQLITE_OK {
		err := c.errorf(rc, "open")
		c.close()
		return nil, err
	}
	sqlite3.Xsqlite3_extended_result_codes(c.tls, c.db, 1)
	for _, p := range pragmas {
		if err := c.exec("PRAGMA " + p); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// exec runs q, a statement without arguments, once.
func (c *liteConn) exec(q string) error {
	st, err := c.prepare(q, false)
	if err != nil {
		return err
	}
	defer st.finalize()
	_, err = st.exec(nil)
	return err
}

// totalChanges is sqlite3_total_changes64: the rows changed since the
// connection opened (rolled-back changes included).
func (c *liteConn) totalChanges() int64 {
	return sqlite3.Xsqlite3_total_changes64(c.tls, c.db)
}

func (c *liteConn) close() error {
	var err error
	if c.db != 0 {
		if rc := sqlite3.Xsqlite3_close_v2(c.tls, c.db); rc != sqlite3.SQLITE_OK {
			err = c.errorf(rc, "close")
		}
		c.db = 0
	}
	if c.tls != nil {
		c.tls.Close()
		c.tls = nil
	}
	return err
}

// liteError is an SQLite error: the primary or extended result code and
// SQLite's message.
type liteError struct {
	code int32
	msg  string
}

func (e *liteError) Error() string { return e.msg }

// errorf describes result code rc of the connection's last call (op names
// the call when SQLite has no message of its own for it).
func (c *liteConn) errorf(rc int32, op string) error {
	str := libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))
	msg := ""
	if c.db != 0 && sqlite3.Xsqlite3_extended_errcode(c.tls, c.db)&0xff == rc&0xff {
		msg = libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))
	}
	if msg == "" || msg == str {
		return &liteError{code: rc, msg: fmt.Sprintf("sqlite %s: %s (%d)", op, str, rc)}
	}
	return &liteError{code: rc, msg: fmt.Sprintf("%s: %s (%d)", str, msg, rc)}
}

// liteStmt is one prepared statement (or, for text holding several
// statements, the text: see script).
type liteStmt struct {
	c       *liteConn
	p       uintptr // the prepared statement; 0 for a script or an empty text
	nparams int
	ncols   int
	script  string // text of several statements, prepared in turn by exec
	// arena holds the text and blob arguments of the last execution, bound
	// in place (SQLITE_STATIC): the bindings stay valid until the next
	// execution binds again or the statement is finalized.
	arena    uintptr
	arenaCap int
	args     []liteArg // bind's scratch, cleared after each use
	busy     bool      // a query's rows are open on it
}

// arenaKeep is the largest argument arena a statement keeps between
// executions; a larger one (a big message or media part) is freed after use.
const arenaKeep = 64 << 10

// prepare compiles q. persistent says the statement is kept for reuse.
func (c *liteConn) prepare(q string, persistent bool) (*liteStmt, error) {
	var flags uint32
	if persistent {
		flags = sqlite3.SQLITE_PREPARE_PERSISTENT
	}
	p, n, err := c.prepareFirst(q, flags)
	if err != nil {
		return nil, err
	}
	st := &liteStmt{c: c, p: p}
	if p != 0 && strings.TrimSpace(q[n:]) != "" {
		// Several statements: exec prepares and runs them in turn.
		sqlite3.Xsqlite3_finalize(c.tls, p)
		st.p, st.script = 0, q
		return st, nil
	}
	if p != 0 {
		st.nparams = int(sqlite3.Xsqlite3_bind_parameter_count(c.tls, p))
		st.ncols = int(sqlite3.Xsqlite3_column_count(c.tls, p))
	}
	return st, nil
}

// prepareFirst compiles the first statement of q: 0 when q holds none
// (white space, comments); n is the length of q it took.
func (c *liteConn) prepareFirst(q string, flags uint32) (p uintptr, n int, err error) {
	sql, err := libc.CString(q)
	if err != nil {
		return 0, 0, err
	}
	defer libc.Xfree(c.tls, sql)
	const ptr = int(unsafe.Sizeof(uintptr(0)))
	out := c.tls.Alloc(2 * ptr)
	defer c.tls.Free(2 * ptr)
	if rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, sql, int32(len(q)+1), flags, out, out+uintptr(ptr)); rc != sqlite3.SQLITE_OK {
		return 0, 0, c.errorf(rc, "prepare")
	}
	p = *(*uintptr)(cmem(out))
	n = int(*(*uintptr)(cmem(out + uintptr(ptr))) - sql)
	return p, min(n, len(q)), nil
}

func (st *liteStmt) finalize() {
	if st.p != 0 {
		sqlite3.Xsqlite3_finalize(st.c.tls, st.p)
		st.p = 0
	}
	st.freeArena()
}

func (st *liteStmt) freeArena() {
	if st.arena != 0 {
		libc.Xfree(st.c.tls, st.arena)
		st.arena, st.arenaCap = 0, 0
	}
}

// liteResult is an Exec's sql.Result.
type liteResult struct{ lastID, changes int64 }

func (r liteResult) LastInsertId() (int64, error) { return r.lastID, nil }
func (r liteResult) RowsAffected() (int64, error) { return r.changes, nil }

// exec runs the statement with args to its end (rows it returns are
// discarded) and resets it.
func (st *liteStmt) exec(args []any) (liteResult, error) {
	if st.script != "" {
		return st.execScript(args)
	}
	if st.p == 0 {
		return liteResult{}, nil // only comments or white space
	}
	if err := st.bind(args); err != nil {
		return liteResult{}, err
	}
	c := st.c
	for {
		rc := sqlite3.Xsqlite3_step(c.tls, st.p)
		if rc == sqlite3.SQLITE_ROW {
			continue
		}
		if rc != sqlite3.SQLITE_DONE {
			err := c.errorf(rc, "step")
			st.reset()
			return liteResult{}, err
		}
		break
	}
	res := liteResult{lastID: sqlite3.Xsqlite3_last_insert_rowid(c.tls, c.db), changes: sqlite3.Xsqlite3_changes64(c.tls, c.db)}
	st.reset()
	return res, nil
}

// execScript runs the statements of st.script in turn, each bound to the
// first of args it has parameters for.
func (st *liteStmt) execScript(args []any) (liteResult, error) {
	var res liteResult
	for rest := st.script; strings.TrimSpace(rest) != ""; {
		p, n, err := st.c.prepareFirst(rest, 0)
		if err != nil {
			return res, err
		}
		rest = rest[n:]
		if p == 0 {
			continue
		}
		one := &liteStmt{c: st.c, p: p, nparams: int(sqlite3.Xsqlite3_bind_parameter_count(st.c.tls, p))}
		res, err = one.exec(args[:min(one.nparams, len(args))])
		one.finalize()
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// query binds args and leaves the statement before its first row: step
// reads the rows, reset ends the query.
func (st *liteStmt) query(args []any) error {
	if st.script != "" {
		return errors.New("store: a query of several statements")
	}
	if st.p == 0 {
		return errors.New("store: an empty query")
	}
	if err := st.bind(args); err != nil {
		return err
	}
	st.busy = true
	return nil
}

// step advances to the next row: false at the end (or on an error, which it
// returns), after which the statement is reset.
func (st *liteStmt) step() (bool, error) {
	switch rc := sqlite3.Xsqlite3_step(st.c.tls, st.p); rc {
	case sqlite3.SQLITE_ROW:
		return true, nil
	case sqlite3.SQLITE_DONE:
		st.reset()
		return false, nil
	default:
		err := st.c.errorf(rc, "step")
		st.reset()
		return false, err
	}
}

// reset ends an execution; a large argument arena is released.
func (st *liteStmt) reset() {
	if st.p != 0 {
		sqlite3.Xsqlite3_reset(st.c.tls, st.p)
	}
	st.busy = false
	if st.arenaCap > arenaKeep {
		if st.p != 0 {
			sqlite3.Xsqlite3_clear_bindings(st.c.tls, st.p) // no binding left into the arena
		}
		st.freeArena()
	}
}

// bind binds args to the statement's parameters by position, converted as
// database/sql converts them for the SQLite driver (liteArgOf).
func (st *liteStmt) bind(args []any) error {
	if len(args) != st.nparams {
		return fmt.Errorf("store: expected %d arguments, got %d", st.nparams, len(args))
	}
	if st.nparams == 0 {
		return nil
	}
	vals := st.args[:0]
	need := 1 // never empty: an empty text is bound to a pointer, not NULL
	for i, a := range args {
		v, err := liteArgOf(a)
		if err != nil {
			return fmt.Errorf("store: argument %d: %w", i+1, err)
		}
		if v.kind == argText || v.kind == argBlob {
			need += len(v.s) + len(v.b)
		}
		vals = append(vals, v)
	}
	st.args = vals
	// The text and blob arguments' bytes, in one arena.
	if need > st.arenaCap {
		st.freeArena()
		size := max(need, 256)
		st.arena = libc.Xmalloc(st.c.tls, uint64(size))
		if st.arena == 0 {
			return fmt.Errorf("store: cannot allocate %d bytes for arguments", size)
		}
		st.arenaCap = size
	}
	c := st.c
	off := uintptr(0)
	for i, v := range vals {
		idx := int32(i + 1)
		var rc int32
		switch v.kind {
		case argNull:
			rc = sqlite3.Xsqlite3_bind_null(c.tls, st.p, idx)
		case argInt:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, st.p, idx, v.i)
		case argFloat:
			rc = sqlite3.Xsqlite3_bind_double(c.tls, st.p, idx, v.f)
		case argText:
			p := st.arena + off
			copy(unsafe.Slice((*byte)(cmem(p)), len(v.s)), v.s)
			off += uintptr(len(v.s))
			rc = sqlite3.Xsqlite3_bind_text(c.tls, st.p, idx, p, int32(len(v.s)), 0)
		case argBlob:
			p := st.arena + off
			copy(unsafe.Slice((*byte)(cmem(p)), len(v.b)), v.b)
			off += uintptr(len(v.b))
			rc = sqlite3.Xsqlite3_bind_blob(c.tls, st.p, idx, p, int32(len(v.b)), 0)
		}
		if rc != sqlite3.SQLITE_OK {
			clear(st.args)
			return c.errorf(rc, "bind")
		}
	}
	clear(st.args) // no argument kept past the call
	return nil
}

// liteArg is an argument as SQLite binds it.
type liteArg struct {
	kind byte
	i    int64
	f    float64
	s    string
	b    []byte
}

const (
	argNull byte = iota
	argInt
	argFloat
	argText
	argBlob
)

// liteArgOf converts a as database/sql does for the SQLite driver
// (driver.DefaultParameterConverter: the driver's own types, a
// driver.Valuer's value, then named types by their kind), with time.Time
// as the driver writes it (its String form) and bool as 0 or 1; the common
// cases without boxing the value again.
func liteArgOf(a any) (liteArg, error) {
	switch x := a.(type) {
	case nil:
		return liteArg{kind: argNull}, nil
	case string:
		return liteArg{kind: argText, s: x}, nil
	case int64:
		return liteArg{kind: argInt, i: x}, nil
	case int:
		return liteArg{kind: argInt, i: int64(x)}, nil
	case bool:
		if x {
			return liteArg{kind: argInt, i: 1}, nil
		}
		return liteArg{kind: argInt}, nil
	case float64:
		return liteArg{kind: argFloat, f: x}, nil
	case []byte:
		if x == nil {
			return liteArg{kind: argNull}, nil
		}
		return liteArg{kind: argBlob, b: x}, nil
	case time.Time:
		return liteArg{kind: argText, s: x.String()}, nil
	case driver.Valuer:
	default:
		// Named strings and integers (bridge.Status, …) by their kind.
		switch rv := reflect.ValueOf(a); rv.Kind() {
		case reflect.String:
			return liteArg{kind: argText, s: rv.String()}, nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return liteArg{kind: argInt, i: rv.Int()}, nil
		}
	}
	v, err := driver.DefaultParameterConverter.ConvertValue(a)
	if err != nil {
		return liteArg{}, err
	}
	return liteArgOf(v) // one of the driver's own types now
}

// columnType is sqlite3_column_type of column i of the current row.
func (st *liteStmt) columnType(i int) int32 {
	return sqlite3.Xsqlite3_column_type(st.c.tls, st.p, int32(i))
}

// text is column i of the current row as text (a copy).
func (st *liteStmt) text(i int) string {
	c := st.c
	p := sqlite3.Xsqlite3_column_text(c.tls, st.p, int32(i))
	n := int(sqlite3.Xsqlite3_column_bytes(c.tls, st.p, int32(i)))
	if p == 0 || n == 0 {
		return ""
	}
	b := make([]byte, n)
	copy(b, unsafe.Slice((*byte)(cmem(p)), n))
	return unsafe.String(unsafe.SliceData(b), n)
}

// blob is column i of the current row as bytes (a copy; nil when empty).
func (st *liteStmt) blob(i int) []byte {
	c := st.c
	p := sqlite3.Xsqlite3_column_blob(c.tls, st.p, int32(i))
	n := int(sqlite3.Xsqlite3_column_bytes(c.tls, st.p, int32(i)))
	if p == 0 || n == 0 {
		return nil
	}
	b := make([]byte, n)
	copy(b, unsafe.Slice((*byte)(cmem(p)), n))
	return b
}

// value is column i of the current row as the SQLite driver returns it:
// int64, float64, string, []byte or nil.
func (st *liteStmt) value(i int) driver.Value {
	switch st.columnType(i) {
	case sqlite3.SQLITE_INTEGER:
		return sqlite3.Xsqlite3_column_int64(st.c.tls, st.p, int32(i))
	case sqlite3.SQLITE_FLOAT:
		return sqlite3.Xsqlite3_column_double(st.c.tls, st.p, int32(i))
	case sqlite3.SQLITE_TEXT:
		return st.text(i)
	case sqlite3.SQLITE_BLOB:
		return st.blob(i)
	}
	return nil
}

// scan stores the current row in dest, as assign does: the common
// destinations read their column directly, the others through its value.
func (st *liteStmt) scan(dest []any) error {
	if len(dest) != st.ncols {
		return fmt.Errorf("store: expected %d destination arguments in Scan, not %d", st.ncols, len(dest))
	}
	for i, d := range dest {
		ct := st.columnType(i)
		switch d := d.(type) {
		case *string:
			if ct == sqlite3.SQLITE_TEXT {
				*d = st.text(i)
				continue
			}
		case *int64:
			if ct == sqlite3.SQLITE_INTEGER {
				*d = sqlite3.Xsqlite3_column_int64(st.c.tls, st.p, int32(i))
				continue
			}
		case *int:
			if ct == sqlite3.SQLITE_INTEGER {
				*d = int(sqlite3.Xsqlite3_column_int64(st.c.tls, st.p, int32(i)))
				continue
			}
		case sql.Scanner, *any, *[]byte, *bool:
		default:
			// A named string type (bridge.Status, …) from text, as
			// assignKind would store it, without boxing the text first.
			if ct == sqlite3.SQLITE_TEXT {
				if rv := reflect.ValueOf(d); rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.String {
					rv.Elem().SetString(st.text(i))
					continue
				}
			}
		}
		if err := assign(d, st.value(i)); err != nil {
			return fmt.Errorf("store: scanning column %d: %w", i, err)
		}
	}
	return nil
}

// cmem is C memory at p (allocated by libc or SQLite, outside Go's heap) as
// an unsafe.Pointer. Reading p's bits as a pointer, rather than converting
// the integer, says that p is an address the Go runtime does not manage.
func cmem(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }
