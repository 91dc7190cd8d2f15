package store

import (
	"context"
	"database/sql"
	"reflect"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// seenFixture is a store with one accepted outbound message.
type seenFixture struct {
	t   *testing.T
	s   *SQLite
	m   *bridge.Message
	now time.Time
}

func newSeenFixture(t *testing.T, wamid string) *seenFixture {
	s, m, now := openWithOutbound(t)
	if wamid != "" {
		if _, err := s.Accepted(context.Background(), m.ID, wamid, now); err != nil {
			t.Fatal(err)
		}
	}
	return &seenFixture{t: t, s: s, m: m, now: now}
}

// ingest sends one status event per word and returns the outcome.
func (f *seenFixture) ingest(wamid, callback string, words ...string) bridge.IngestResult {
	f.t.Helper()
	var evs []bridge.Event
	for _, w := range words {
		st, _ := bridge.ParseStatus(w)
		evs = append(evs, bridge.Event{Status: &bridge.StatusUpdate{WAMID: wamid, RawStatus: w, Status: st,
			CallbackData: callback, Timestamp: f.now, Raw: benchStatusRaw(wamid, callback)}})
	}
	out, err := f.s.Ingest(context.Background(), evs)
	if err != nil {
		f.t.Fatal(err)
	}
	return out.IngestResult
}

// events lists the status_events rows as "wamid/status applied".
func (f *seenFixture) events() []string {
	f.t.Helper()
	rows, err := f.s.reader.QueryContext(context.Background(),
		`SELECT wamid || '/' || status || ' ' || applied FROM status_events ORDER BY wamid, status`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// history lists the message's history statuses.
func (f *seenFixture) history() []bridge.Status {
	f.t.Helper()
	m, err := f.s.Message(context.Background(), string(f.m.ID))
	if err != nil {
		f.t.Fatal(err)
	}
	var out []bridge.Status
	for _, h := range m.History {
		out = append(out, h.Status)
	}
	return out
}

func (f *seenFixture) want(events []string, history ...bridge.Status) {
	f.t.Helper()
	if got := f.events(); !reflect.DeepEqual(got, events) {
		f.t.Errorf("status_events %q, want %q", got, events)
	}
	if got := f.history(); !reflect.DeepEqual(got, history) {
		f.t.Errorf("history %q, want %q", got, history)
	}
}

// A status of a known message is applied once: its repeats (in the same
// webhook or later) are recognised by the message row, and no event row is
// written for it.
func TestStatusRepeatsRecognisedByTheMessageRow(t *testing.T) {
	f := newSeenFixture(t, "wamid.s1")
	if got := f.ingest("wamid.s1", "", "sent", "delivered", "sent"); got.Statuses != 2 || got.Duplicates != 1 {
		t.Errorf("first webhook: %+v", got)
	}
	if got := f.ingest("wamid.s1", "", "delivered", "sent"); got.Statuses != 0 || got.Duplicates != 2 {
		t.Errorf("repeats: %+v", got)
	}
	f.want(nil, bridge.StatusQueued, bridge.StatusSent, bridge.StatusDelivered)
	// A status that does not move the message (failed after delivered is
	// history only) is recorded too, and so recognised when it repeats.
	if got := f.ingest("wamid.s1", "", "failed", "failed"); got.Statuses != 1 || got.Duplicates != 1 {
		t.Errorf("failed after delivered: %+v", got)
	}
	f.want(nil, bridge.StatusQueued, bridge.StatusSent, bridge.StatusDelivered, bridge.StatusFailed)
}

// Found by the echoed callback before its wamid is recorded: the status
// records the wamid, and its repeat is recognised by the row too.
func TestStatusRepeatsByCallback(t *testing.T) {
	f := newSeenFixture(t, "")
	for i := range 2 {
		got := f.ingest("wamid.cb", string(f.m.ID), "sent")
		if i == 0 && got.Statuses != 1 || i == 1 && got.Duplicates != 1 {
			t.Errorf("round %d: %+v", i, got)
		}
	}
	f.want(nil, bridge.StatusQueued, bridge.StatusSent)
	if m, err := f.s.Message(context.Background(), "wamid.cb"); err != nil || m.ID != f.m.ID {
		t.Errorf("by wamid: %+v %v", m, err)
	}
}

// A status that came before its message's wamid is kept as an event row
// until Accepted applies it; a repeat afterwards is recognised by the row.
func TestStatusRepeatsOfAnEventThatCameFirst(t *testing.T) {
	f := newSeenFixture(t, "")
	ctx := context.Background()
	if got := f.ingest("wamid.p", "", "delivered", "delivered"); got.Statuses != 1 || got.Duplicates != 1 {
		t.Errorf("before the wamid: %+v", got)
	}
	f.want([]string{"wamid.p/delivered 0"}, bridge.StatusQueued)
	if changed, err := f.s.Accepted(ctx, f.m.ID, "wamid.p", f.now); err != nil || !changed {
		t.Fatalf("Accepted: %v %v", changed, err)
	}
	if got := f.ingest("wamid.p", "", "delivered"); got.Duplicates != 1 {
		t.Errorf("repeat after Accepted: %+v", got)
	}
	f.want([]string{"wamid.p/delivered 1"}, bridge.StatusQueued, bridge.StatusDelivered)
}

// A status kept before its message was known, whose repeat was applied
// after a status echoing our id recorded the wamid, is not applied again
// when the send's answer comes.
func TestStatusKeptThenRepeatedAfterTheEcho(t *testing.T) {
	f := newSeenFixture(t, "")
	if got := f.ingest("wamid.k", "", "delivered"); got.Statuses != 1 {
		t.Fatalf("before the wamid: %+v", got)
	}
	if got := f.ingest("wamid.k", string(f.m.ID), "sent"); got.Statuses != 1 {
		t.Fatalf("echo: %+v", got)
	}
	if got := f.ingest("wamid.k", "", "delivered"); got.Statuses != 1 || got.Duplicates != 0 {
		t.Fatalf("repeat once known: %+v", got)
	}
	if changed, err := f.s.Accepted(context.Background(), f.m.ID, "wamid.k", f.now); err != nil || changed {
		t.Errorf("Accepted: changed %v %v, want nothing new", changed, err)
	}
	f.want([]string{"wamid.k/delivered 1"}, bridge.StatusQueued, bridge.StatusSent, bridge.StatusDelivered)
}

// A word the bridge does not map is never applied: it is kept as an event
// row (marked applied), once.
func TestUnmappedStatusWordKeptOnce(t *testing.T) {
	f := newSeenFixture(t, "wamid.u")
	for i := range 2 {
		got := f.ingest("wamid.u", "", "warning")
		if i == 0 && got.Statuses != 1 || i == 1 && got.Duplicates != 1 {
			t.Errorf("round %d: %+v", i, got)
		}
	}
	f.want([]string{"wamid.u/warning 1"}, bridge.StatusQueued)
}

// A message row from before migration 14 (seen is NULL) keeps its statuses
// in status_events, where its earlier ones are: repeats of those are
// still recognised, and the row gets no seen bits.
func TestStatusRepeatsOfARowFromAnEarlierVersion(t *testing.T) {
	f := newSeenFixture(t, "wamid.old")
	ctx := context.Background()
	if err := f.s.commit.write(ctx, func(tx *wtx) error {
		if _, err := tx.Exec(`UPDATE messages SET seen = NULL WHERE id = ?`, f.m.ID); err != nil {
			return err
		}
		// What version 13 stored for a status it applied.
		_, err := tx.Exec(`INSERT INTO status_events (wamid, status, ts, received_at, event, applied)
			VALUES ('wamid.old', 'sent', 1, 1, '{}', 1)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := f.ingest("wamid.old", "", "sent", "delivered", "delivered"); got.Statuses != 1 || got.Duplicates != 2 {
		t.Errorf("%+v", got)
	}
	f.want([]string{"wamid.old/delivered 1", "wamid.old/sent 1"}, bridge.StatusQueued, bridge.StatusDelivered)
	var seen sql.NullInt64
	if err := f.s.reader.QueryRowContext(ctx, `SELECT seen FROM messages WHERE id = ?`, f.m.ID).Scan(&seen); err != nil || seen.Valid {
		t.Errorf("seen = %v (%v), want NULL", seen, err)
	}
}

// Migration 14 leaves existing rows without seen bits (NULL) and new rows
// start with none set; its Down drops the column.
func TestSeenMigration(t *testing.T) {
	ctx := context.Background()
	path, db := databaseAt(t, 13)
	if _, err := db.Exec(`INSERT INTO messages (id, direction, business, customer, kind, content, channel, status, created_at, updated_at)
		VALUES ('m-old', 'outbound', '+15550100001', '+4915112345678', 'text', '{}', 'whatsapp', 'queued', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := OpenSQLite(ctx, SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	m := benchOutbound(time.Now(), 2)
	if _, _, err := s.CreateOutbound(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := map[string]sql.NullInt64{}
	for _, id := range []string{"m-old", string(m.ID)} {
		var v sql.NullInt64
		if err := s.reader.QueryRowContext(ctx, `SELECT seen FROM messages WHERE id = ?`, id).Scan(&v); err != nil {
			t.Fatal(err)
		}
		got[id] = v
	}
	if got["m-old"].Valid || !got[string(m.ID)].Valid || got[string(m.ID)].Int64 != 0 {
		t.Errorf("seen after migration: %v", got)
	}
	s.Close()
	db = databaseDownTo(t, path, 13)
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name = 'seen'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("seen column after Down: %d %v", n, err)
	}
}
