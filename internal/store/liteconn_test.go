package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// The writer's connection: the store's pragmas, no connection mutex.
func TestWriterConnectionSettings(t *testing.T) {
	s := open(t)
	for name, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "busy_timeout": "10000", "foreign_keys": "1"} {
		got, err := s.Pragma(context.Background(), name)
		if err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", name, got, err, want)
		}
	}
	if liteFlags&0x8000 == 0 { // SQLITE_OPEN_NOMUTEX
		t.Error("the writer's connection is opened with a mutex")
	}
}

// Arguments are bound as database/sql binds them: an empty text is text,
// not NULL; a nil []byte is NULL, an empty one a blob; an argument larger
// than the arena a statement keeps is bound and then released; texts of
// several statements run in turn; a query left open while the same text runs
// again uses a statement of its own.
func TestWriterBinds(t *testing.T) {
	s := open(t)
	big := strings.Repeat("x", 3*arenaKeep)
	err := s.commit.write(context.Background(), func(tx *wtx) error {
		if _, err := tx.Exec(`CREATE TEMP TABLE b (k INTEGER, v ANY); CREATE TEMP TABLE c (k INTEGER)`); err != nil {
			return err
		}
		for i, v := range []any{"", []byte(nil), []byte{}, big, []byte("\x00\x01"), 2.5, true} {
			if _, err := tx.Exec(`INSERT INTO b (k, v) VALUES (?, ?)`, i, v); err != nil {
				return err
			}
		}
		var types []string
		rows, err := tx.Query(`SELECT typeof(v), length(v) FROM b ORDER BY k`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var typ string
			var n sql.NullInt64
			if err := rows.Scan(&typ, &n); err != nil {
				return err
			}
			// The same text again while its rows are open.
			var again string
			if err := tx.QueryRow(`SELECT typeof(v), length(v) FROM b ORDER BY k`).Scan(&again, &n); err != nil {
				return err
			}
			types = append(types, typ)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if got := strings.Join(types, " "); got != "text null blob text blob real integer" {
			t.Errorf("bound as %s", got)
		}
		var back string
		if err := tx.QueryRow(`SELECT v FROM b WHERE k = 3`).Scan(&back); err != nil || back != big {
			t.Errorf("large text back: %d bytes, %v", len(back), err)
		}
		var blob []byte
		if err := tx.QueryRow(`SELECT v FROM b WHERE k = 4`).Scan(&blob); err != nil || !bytes.Equal(blob, []byte("\x00\x01")) {
			t.Errorf("blob back: %q, %v", blob, err)
		}
		if _, err := tx.Exec(`INSERT INTO c VALUES (?); INSERT INTO c VALUES (?)`, 7); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM c WHERE k = 7`).Scan(&n); err != nil || n != 2 {
			t.Errorf("script ran %d statements, %v", n, err)
		}
		if _, err := tx.Exec(`  -- nothing `); err != nil {
			t.Errorf("an empty text: %v", err)
		}
		if _, err := tx.Exec(`INSERT INTO b (k, v) VALUES (?, ?)`, 1); err == nil {
			t.Error("a missing argument was accepted")
		}
		_, err = tx.Exec(`INSERT INTO nowhere VALUES (1)`)
		if err == nil || !strings.Contains(err.Error(), "no such table: nowhere") {
			t.Errorf("error %v, want SQLite's message", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A file the writer cannot open is an error that names the cause.
func TestWriterOpenFails(t *testing.T) {
	_, err := openLiteConn(filepath.Join(t.TempDir(), "missing", "dir", "x.db"), "", nil)
	var le *liteError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "unable to open") {
		t.Fatalf("open: %v", err)
	}
}

// The reader pool: its connections do not write; more reads at once than it
// has connections wait for one and all finish; a read with a context that
// is done does not start; rows open when the pool closes close their
// connection when they are closed.
func TestReaderPool(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if err := s.reader.QueryRowContext(ctx, `DELETE FROM jobs RETURNING 1`).Scan(new(int)); err == nil {
		t.Error("a reader wrote")
	} else if !strings.Contains(err.Error(), "readonly") {
		t.Errorf("a reader's write: %v", err)
	}
	var held []*wrows
	for range maxReaderConns {
		rows, err := s.reader.QueryContext(ctx, `SELECT 1 UNION ALL SELECT 2`)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, rows)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	var n int
	if err := s.reader.QueryRowContext(short, `SELECT 1`).Scan(&n); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a read with every connection taken: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.reader.QueryRowContext(ctx, `SELECT 3`).Scan(&n) }()
	held[0].Close()
	if err := <-done; err != nil || n != 3 {
		t.Errorf("a read waiting for a connection: %d %v", n, err)
	}
	gone, stop := context.WithCancel(ctx)
	stop()
	if err := s.reader.QueryRowContext(gone, `SELECT 1`).Scan(&n); !errors.Is(err, context.Canceled) {
		t.Errorf("a read with a cancelled context: %v", err)
	}
	// A context ended between rows ends the read and gives its connection back.
	mid, cancelMid := context.WithCancel(ctx)
	rows, err := s.reader.QueryContext(mid, `SELECT 1 UNION ALL SELECT 2`)
	if err != nil || !rows.Next() {
		t.Fatalf("first row: %v", err)
	}
	cancelMid()
	if rows.Next() || !errors.Is(rows.Err(), context.Canceled) {
		t.Errorf("after cancel: Err %v", rows.Err())
	}
	back, cancelBack := context.WithTimeout(ctx, 5*time.Second)
	defer cancelBack()
	if err := s.reader.QueryRowContext(back, `SELECT 1`).Scan(&n); err != nil {
		t.Errorf("the cancelled read's connection is not back: %v", err)
	}
	if err := s.reader.Close(); err != nil {
		t.Fatal(err)
	}
	for _, rows := range held[1:] {
		for rows.Next() {
		}
		if err := rows.Close(); err != nil {
			t.Error(err)
		}
	}
	if len(s.reader.slots) != 0 || len(s.reader.idle) != 0 {
		t.Errorf("after Close: %d connections open, %d idle", len(s.reader.slots), len(s.reader.idle))
	}
	if err := s.reader.QueryRowContext(ctx, `SELECT 1`).Scan(&n); !errors.Is(err, errReaderClosed) {
		t.Errorf("a read after Close: %v", err)
	}
}

// Arguments convert as database/sql converts them: named types by their
// kind, a driver.Valuer by its value, pointers by what they point to.
func TestWriterArguments(t *testing.T) {
	s := open(t)
	str := "p"
	for _, c := range []struct {
		arg  any
		want string
	}{
		{bridge.Status("sent"), "text sent"},
		{bridge.MessageID("m1"), "text m1"},
		{int32(-4), "integer -4"},
		{uint16(9), "integer 9"},
		{float32(0.5), "real 0.5"},
		{json.RawMessage(`{}`), "blob {}"},
		{&str, "text p"},
		{(*string)(nil), "null "},
		{sql.NullString{String: "v", Valid: true}, "text v"},
		{sql.NullInt64{}, "null "},
		{false, "integer 0"},
	} {
		var got string
		err := s.commit.write(context.Background(), func(tx *wtx) error {
			return tx.QueryRow(`SELECT typeof(?1) || ' ' || coalesce(CAST(?1 AS TEXT), '')`, c.arg).Scan(&got)
		})
		if err != nil || got != c.want {
			t.Errorf("%T %v: %q (%v), want %q", c.arg, c.arg, got, err, c.want)
		}
	}
}
