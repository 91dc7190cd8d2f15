package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

// The store's connections (the writer's and the readers') scan rows without
// database/sql (wrows): for every value SQLite returns and every destination
// type, they must store what database/sql's Scan stores, and fail where it
// fails. s.writer is the database/sql handle the migrations run on.
func TestWriterScansLikeDatabaseSQL(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	values := []string{`'text'`, `''`, `'42'`, `'1'`, `'true'`, `42`, `-7`, `0`, `1`, `2`, `3.5`, `-0.25`,
		`NULL`, `x'00ff'`, `x''`, `9223372036854775807`, `4294967296`}
	dests := []func() any{
		func() any { return new(string) },
		func() any { return new([]byte) },
		func() any { return new(int64) },
		func() any { return new(int) },
		func() any { return new(int32) },
		func() any { return new(uint32) },
		func() any { return new(float64) },
		func() any { return new(bool) },
		func() any { return new(any) },
		func() any { return new(bridge.Status) },
		func() any { return new(bridge.MessageID) },
		func() any { return new(sql.NullString) },
		func() any { return new(sql.NullInt64) },
	}
	for _, v := range values {
		for _, mk := range dests {
			want, got := mk(), mk()
			q := `SELECT ` + v
			werr := s.writer.QueryRowContext(ctx, q).Scan(want)
			read := mk()
			if rerr := s.reader.QueryRowContext(ctx, q).Scan(read); (werr == nil) != (rerr == nil) {
				t.Errorf("%s into %T: database/sql %v, reader %v", v, want, werr, rerr)
			} else if werr == nil && !reflect.DeepEqual(want, read) {
				t.Errorf("%s into %T: database/sql %#v, reader %#v", v, want, reflect.ValueOf(want).Elem(), reflect.ValueOf(read).Elem())
			}
			var gerr error
			if err := s.commit.write(ctx, func(tx *wtx) error {
				gerr = tx.QueryRow(q).Scan(got)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%s into %T", v, want)
			if (werr == nil) != (gerr == nil) {
				t.Errorf("%s: database/sql %v, writer %v", name, werr, gerr)
				continue
			}
			if werr == nil && !reflect.DeepEqual(want, got) {
				t.Errorf("%s: database/sql %#v, writer %#v", name, reflect.ValueOf(want).Elem(), reflect.ValueOf(got).Elem())
			}
		}
	}
}

// A writer query's rows: several, none (sql.ErrNoRows for QueryRow), the
// wrong number of destinations, an error from the statement; the prepared
// statement is reused after each.
func TestWriterQueries(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	err := s.commit.write(ctx, func(tx *wtx) error {
		if _, err := tx.Exec(`CREATE TEMP TABLE t (a INTEGER, b TEXT)`); err != nil {
			return err
		}
		for i := range 3 {
			res, err := tx.Exec(`INSERT INTO t (a, b) VALUES (?, ?)`, i, bridge.Status(fmt.Sprint("s", i)))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return fmt.Errorf("rows affected %d %v", n, err)
			}
		}
		for range 2 { // the second time on the kept statement
			rows, err := tx.Query(`SELECT a, b FROM t WHERE a >= ? ORDER BY a`, 1)
			if err != nil {
				return err
			}
			var got []string
			for rows.Next() {
				var a int
				var b bridge.Status
				if err := rows.Scan(&a, &b); err != nil {
					return err
				}
				got = append(got, fmt.Sprintf("%d %s", a, b))
			}
			if err := rows.Err(); err != nil || !reflect.DeepEqual(got, []string{"1 s1", "2 s2"}) {
				return fmt.Errorf("rows %v %v", got, err)
			}
			if rows.Next() || rows.Close() != nil {
				return errors.New("rows after the end")
			}
		}
		var b string
		if err := tx.QueryRow(`SELECT b FROM t WHERE a = ?`, 9).Scan(&b); !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no row: %v", err)
		}
		if err := tx.QueryRow(`SELECT a, b FROM t WHERE a = ?`, 0).Scan(&b); err == nil {
			return errors.New("two columns scanned into one destination")
		}
		if err := tx.QueryRow(`SELECT b FROM t WHERE a = ?`, 2).Scan(&b); err != nil || b != "s2" {
			return fmt.Errorf("row: %q %v", b, err)
		}
		if _, err := tx.Exec(`INSERT INTO no_such_table VALUES (1)`); err == nil {
			return errors.New("a bad statement ran")
		}
		if _, err := tx.Exec(`INSERT INTO t (a, b) VALUES (?, ?)`, struct{}{}, "x"); err == nil {
			return errors.New("an unsupported argument was bound")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
