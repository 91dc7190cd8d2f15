package store

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/wabridge/wabridge/bridge"
)

func migrationProvider(t *testing.T, db *sql.DB) *goose.Provider {
	t.Helper()
	sub, err := fs.Sub(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// databaseAt creates a database migrated up to version and returns its
// path and an open handle (not a store: no writer, no later migrations).
func databaseAt(t *testing.T, version int64) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.db")
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrationProvider(t, db).UpTo(context.Background(), version); err != nil {
		db.Close()
		t.Fatal(err)
	}
	return path, db
}

// databaseDownTo opens the database at path and migrates it down to
// version; the handle is closed with the test.
func databaseDownTo(t *testing.T, path string, version int64) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := migrationProvider(t, db).DownTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
	return db
}

// Migration 13 moves each message's history rows into its row, in the
// order they were written (seq), and leaves a message without any with an
// empty history; its Down puts them back as rows, in the same order.
func TestHistoryMovesIntoTheMessageRow(t *testing.T) {
	ctx := context.Background()
	path, db := databaseAt(t, 12)
	for _, id := range []string{"m1", "m2", "m3"} {
		if _, err := db.Exec(`INSERT INTO messages (id, direction, business, customer, kind, content, channel, status, created_at, updated_at)
			VALUES (?, 'outbound', '+15550100001', '+4915112345678', 'text', '{}', 'whatsapp', 'queued', 1, 1)`, id); err != nil {
			t.Fatal(err)
		}
	}
	rows := []struct {
		id, status string
		at         int64
		code       int
	}{{"m1", "queued", 1000, 0}, {"m1", "sent", 2000, 0}, {"m2", "queued", 3000, 0}, {"m1", "read", 5000, 0},
		{"m1", "delivered", 4000, 0}, {"m2", "failed", 6000, 131026}}
	for _, r := range rows {
		if _, err := db.Exec(`INSERT INTO history (message_id, status, at, code) VALUES (?,?,?,?)`, r.id, r.status, r.at, r.code); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := OpenSQLite(ctx, SQLiteConfig{Path: path}) // migrates to the latest version
	if err != nil {
		t.Fatal(err)
	}
	at := func(ms int64) time.Time { return fromMS(ms) }
	want := map[string][]bridge.HistoryEntry{
		"m1": {{Status: "queued", At: at(1000)}, {Status: "sent", At: at(2000)}, {Status: "read", At: at(5000)}, {Status: "delivered", At: at(4000)}},
		"m2": {{Status: "queued", At: at(3000)}, {Status: "failed", At: at(6000), Code: 131026}},
		"m3": nil,
	}
	for id, h := range want {
		m, err := s.Message(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.History, h) {
			t.Errorf("%s: history %+v, want %+v", id, m.History, h)
		}
	}
	// New entries go on the end.
	if _, _, err := s.Fail(ctx, "m1", bridge.ReasonUpstreamError, 131000, "x", at(7000)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	db = databaseDownTo(t, path, 12)
	got, err := db.Query(`SELECT message_id, status, at, code FROM history ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	var back []string
	for got.Next() {
		var id, st string
		var ms int64
		var code int
		if err := got.Scan(&id, &st, &ms, &code); err != nil {
			t.Fatal(err)
		}
		back = append(back, id+" "+st+" "+time.UnixMilli(ms).UTC().Format("05.000")+" "+strconv.Itoa(code))
	}
	wantBack := []string{"m1 queued 01.000 0", "m1 sent 02.000 0", "m1 read 05.000 0", "m1 delivered 04.000 0",
		"m1 failed 07.000 131000", "m2 queued 03.000 0", "m2 failed 06.000 131026"}
	if !reflect.DeepEqual(back, wantBack) {
		t.Errorf("history rows after Down:\n%q\nwant\n%q", back, wantBack)
	}
}
