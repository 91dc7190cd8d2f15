package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/walvfs"
)

func open(t *testing.T) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), SQLiteConfig{Path: filepath.Join(t.TempDir(), "sub", "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openWithOutbound opens a store holding one queued outbound message.
func openWithOutbound(t *testing.T) (*SQLite, *bridge.Message, time.Time) {
	t.Helper()
	s := open(t)
	now := time.Now()
	m := benchOutbound(now, 1)
	if _, _, err := s.CreateOutbound(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return s, m, now
}

// Durability rests on these settings: WAL with synchronous=FULL syncs the
// log before a commit returns.
func TestDurabilityPragmas(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for name, want := range map[string]string{"journal_mode": "wal", "synchronous": "2"} {
		got, err := s.Pragma(ctx, name)
		if err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q (2 = FULL)", name, got, err, want)
		}
	}
	// The readers use the same settings.
	var sync string
	if err := s.reader.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != "2" {
		t.Errorf("reader synchronous = %q (%v)", sync, err)
	}
}

// The writer's connection writes through walvfs: a commit's log reaches
// the file in one write, where SQLite asks for two per page.
func TestWriterGathersLogWrites(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	asked0, written0 := walvfs.Counts()
	synced0 := s.Stats().Synced
	if _, err := s.Ingest(ctx, []bridge.Event{{Inbound: &bridge.Message{
		Business: "+15550100001", Customer: bridge.Customer{Phone: "+4915112345678"},
		Kind: bridge.KindText, Content: bridge.Content{Text: "x"}, WAMID: "wamid.gathered",
		Channel: bridge.ChannelWhatsApp,
	}}}); err != nil {
		t.Fatal(err)
	}
	asked1, written1 := walvfs.Counts()
	synced := s.Stats().Synced - synced0
	if synced != 1 || written1-written0 != 1 || asked1-asked0 < 4 {
		t.Fatalf("%d commit(s) made %d write(s) to the log for SQLite's %d; want 1 commit, 1 write for at least 4", synced, written1-written0, asked1-asked0)
	}
}

func TestGroupCommitBatchesConcurrentWriters(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	const writers = 400
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Ingest(ctx, []bridge.Event{{Inbound: &bridge.Message{
				Business: "+15550100001", Customer: bridge.Customer{Phone: "+4915112345678"},
				Kind: bridge.KindText, Content: bridge.Content{Text: "x"}, WAMID: fmt.Sprintf("wamid.%d", i),
				Channel: bridge.ChannelWhatsApp,
			}}})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Operations < writers {
		t.Fatalf("operations %d < %d", st.Operations, writers)
	}
	if st.Commits >= st.Operations {
		t.Errorf("no batching: %d commits for %d operations", st.Commits, st.Operations)
	}
	t.Logf("%d operations in %d commits", st.Operations, st.Commits)

	// Every commit changed rows: each is synced and in both duration
	// histograms, once.
	if st.Synced != st.Commits {
		t.Errorf("%d of %d commits synced", st.Synced, st.Commits)
	}
	tx, commit := s.TransactionDurations(), s.CommitDurations()
	for name, h := range map[string]Histogram{"transaction": tx, "commit": commit} {
		if h.Count != uint64(st.Commits) {
			t.Errorf("%s durations: %d observations for %d commits", name, h.Count, st.Commits)
		}
		if h.Sum <= 0 {
			t.Errorf("%s durations: sum %v", name, h.Sum)
		}
		var prev uint64
		for _, le := range DurationBuckets {
			if h.Buckets[le] < prev || h.Buckets[le] > h.Count {
				t.Errorf("%s durations: bucket %v holds %d after %d (count %d): not cumulative", name, le, h.Buckets[le], prev, h.Count)
			}
			prev = h.Buckets[le]
		}
	}
	if tx.Sum < commit.Sum {
		t.Errorf("transactions took %vs, less than their commits' %vs", tx.Sum, commit.Sum)
	}
}

// A write transaction that changed no row (a claim that found no work)
// commits without writing or syncing the log: counted as a commit, not as
// a sync, and not timed; the next one that changes a row is.
func TestCommitWithoutChangesIsNotSynced(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	nothing := func(tx *wtx) error {
		_, err := tx.Exec(`UPDATE raw_events SET field = 'g' WHERE key = 'none'`)
		return err
	}
	if err := s.commit.write(ctx, nothing); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Commits != 1 || st.Synced != 0 || s.CommitDurations().Count != 0 || s.TransactionDurations().Count != 0 {
		t.Fatalf("after a commit that changed nothing: %+v, %d and %d timed; want 1 commit, none synced or timed",
			st, s.CommitDurations().Count, s.TransactionDurations().Count)
	}
	// A failing operation's insert is rolled back: no commit, and the
	// empty commit after it is still not synced.
	if err := s.commit.write(ctx, insertRawEvent("gone", nil, true)); err == nil {
		t.Fatal("the failing operation succeeded")
	}
	if err := s.commit.write(ctx, nothing); err != nil {
		t.Fatal(err)
	}
	if st = s.Stats(); st.Commits != 2 || st.Synced != 0 {
		t.Fatalf("after a rolled-back insert and an empty commit: %+v; want 2 commits, none synced", st)
	}
	if err := s.commit.write(ctx, insertRawEvent("k", nil, false)); err != nil {
		t.Fatal(err)
	}
	if err := s.commit.write(ctx, nothing); err != nil {
		t.Fatal(err)
	}
	st = s.Stats()
	if st.Commits != 4 || st.Synced != 1 || s.CommitDurations().Count != 1 || s.TransactionDurations().Count != 1 {
		t.Fatalf("after an insert and another empty commit: %+v, %d and %d timed; want 4 commits, 1 synced and timed",
			st, s.CommitDurations().Count, s.TransactionDurations().Count)
	}
}

func TestDurationsBuckets(t *testing.T) {
	var h durations
	for _, d := range []time.Duration{50 * time.Microsecond, 100 * time.Microsecond, 101 * time.Microsecond, 3 * time.Millisecond, 10 * time.Second} {
		h.observe(d)
	}
	got := h.snapshot()
	// ≤ 100 µs: two (the bound is inclusive); ≤ 250 µs: three; ≤ 5 ms: four; 10 s above every bound.
	for le, want := range map[float64]uint64{.0001: 2, .00025: 3, .0025: 3, .005: 4, 2.5: 4} {
		if got.Buckets[le] != want {
			t.Errorf("bucket %v = %d, want %d", le, got.Buckets[le], want)
		}
	}
	if got.Count != 5 {
		t.Errorf("count %d, want 5", got.Count)
	}
	if want := (50*time.Microsecond + 100*time.Microsecond + 101*time.Microsecond + 3*time.Millisecond + 10*time.Second).Seconds(); got.Sum != want {
		t.Errorf("sum %v, want %v", got.Sum, want)
	}
}

// A failing operation is rolled back alone; the others in its batch commit.
func TestFailingOperationIsIsolated(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.commit.write(ctx, func(tx *wtx) error {
				if _, err := tx.Exec(`INSERT INTO raw_events (key, field, raw, received_at) VALUES (?, 'f', '{}', 0)`, fmt.Sprint(i)); err != nil {
					return err
				}
				if i%2 == 1 {
					return errors.New("boom")
				}
				if i == 4 {
					panic("bad op")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	var n int
	if err := s.reader.QueryRow(`SELECT COUNT(*) FROM raw_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 9 {
		t.Errorf("%d rows committed, want 9 (even ones but the panicking one)", n)
	}
	if errs[4] == nil || errs[1] == nil || errs[2] != nil {
		t.Errorf("errors: %v", errs[:5])
	}
}

// A batch runs without savepoints; when one of its operations fails, the
// batch is rolled back and run again with a savepoint per operation, so the
// failing one alone is undone. An operation alone is simply rolled back.
func TestFailedBatchRunsAgainWithSavepoints(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	insert := insertRawEvent
	// Hold the writer so that the three operations queued meanwhile run in
	// one transaction (they join the held operation's). started has room
	// for the signal: the writer may run the operation before this
	// goroutine waits for it.
	started, release := make(chan struct{}, 1), make(chan struct{})
	held := s.commit.queue(ctx, func(tx *wtx) error {
		select {
		case started <- struct{}{}: // the first run only
		default:
		}
		<-release
		return nil
	})
	<-started
	var runs [3]int
	waits := []func() error{
		s.commit.queue(ctx, insert("a", &runs[0], false)),
		s.commit.queue(ctx, insert("b", &runs[1], true)),
		s.commit.queue(ctx, insert("c", &runs[2], false)),
	}
	close(release)
	if err := held(); err != nil {
		t.Fatal(err)
	}
	var errs [3]error
	for i, w := range waits {
		errs[i] = w()
	}
	if errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("errors %v, want only the second", errs)
	}
	// The first run stops at the failure; the second runs all three.
	if runs != [3]int{2, 2, 1} {
		t.Errorf("runs %v, want 2, 2, 1 (up to the failure without savepoints, then all with)", runs)
	}
	if got := s.commit.reruns.Load(); got != 1 {
		t.Errorf("reruns %d, want 1", got)
	}
	keys := func() string {
		rows, err := s.reader.Query(`SELECT key FROM raw_events ORDER BY key`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			out = append(out, k)
		}
		return strings.Join(out, ",")
	}
	if got := keys(); got != "a,c" {
		t.Errorf("committed %q, want a,c", got)
	}

	// Alone, a failing operation is rolled back with its transaction.
	var one int
	if err := s.commit.write(ctx, insert("d", &one, true)); err == nil {
		t.Fatal("the failing operation succeeded")
	}
	if one != 1 || s.commit.reruns.Load() != 1 {
		t.Errorf("runs %d, reruns %d: an operation alone is not run again", one, s.commit.reruns.Load())
	}
	if got := keys(); got != "a,c" {
		t.Errorf("committed %q after a failing operation alone, want a,c", got)
	}
}

func TestIngestDeduplicatesByNaturalKeys(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	st := &bridge.StatusUpdate{WAMID: "wamid.x", Status: bridge.StatusSent, RawStatus: "sent", Timestamp: time.Now()}
	raw := &bridge.RawEvent{Field: "message_template_status_update", Key: "k1", Raw: []byte(`{"event":"APPROVED"}`)}
	for i := range 2 {
		out, err := s.Ingest(ctx, []bridge.Event{{Status: st}, {Other: raw}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && (out.Statuses != 1 || out.Other != 1) || i == 1 && out.Duplicates != 2 {
			t.Errorf("round %d: %+v", i, out.IngestResult)
		}
	}
}

func TestPurgeKeepsRecordsDropsBodies(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour)
	in := &bridge.Message{Business: "+15550100001", Customer: bridge.Customer{Phone: "+4915112345678"},
		Kind: bridge.KindText, Content: bridge.Content{Text: "secret body"}, WAMID: "wamid.old",
		Channel: bridge.ChannelWhatsApp, CreatedAt: old}
	if _, err := s.Ingest(ctx, []bridge.Event{{Inbound: in}}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Purge(ctx, time.Now().Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	m, err := s.Message(ctx, "wamid.old")
	if err != nil || m.Content.Text != "" || m.Status != bridge.StatusReceived {
		t.Errorf("after purge: %+v %v", m, err)
	}
}

func TestReopenKeepsDataAndReleasesLeases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	ctx := context.Background()
	s, err := OpenSQLite(ctx, SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m := &bridge.Message{ID: bridge.NewID(now), Direction: bridge.Outbound, Business: "+15550100001",
		Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindText, Content: bridge.Content{Text: "x"},
		Channel: bridge.ChannelWhatsApp, Status: bridge.StatusQueued, CreatedAt: now, UpdatedAt: now}
	if _, _, err := s.CreateOutbound(ctx, m); err != nil {
		t.Fatal(err)
	}
	if jobs, err := s.ClaimSends(ctx, now, 10, time.Hour); err != nil || len(jobs) != 1 {
		t.Fatal(len(jobs), err)
	}
	s.Close()
	s, err = OpenSQLite(ctx, SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	jobs, err := s.ClaimSends(ctx, now, 10, time.Hour)
	if err != nil || len(jobs) != 1 || jobs[0].Message.Content.Text != "x" {
		t.Fatalf("after reopen: %d jobs, %v", len(jobs), err)
	}
}

// A claimed send job whose message is gone (nothing deletes messages; a
// hand-edited database could) is dropped, and no longer holds back the
// conversation's next message.
func TestClaimSendsDropsAJobWithoutItsMessage(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	gone, kept := outbound(t, s, "gone"), outbound(t, s, "kept")
	if err := s.commit.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(`DELETE FROM messages WHERE id = ?`, gone)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The first claim gets the orphan alone (the same conversation's next
	// message waits behind it) and drops it.
	if jobs, err := s.ClaimSends(ctx, time.Now().Add(time.Second), 10, time.Hour); err != nil || len(jobs) != 0 {
		t.Fatalf("first claim: %v, %v; want nothing", jobs, err)
	}
	jobs, err := s.ClaimSends(ctx, time.Now().Add(time.Second), 10, time.Hour)
	if err != nil || len(jobs) != 1 || jobs[0].Message.ID != kept {
		t.Fatalf("claimed %v, %v; want only %s", jobs, err, kept)
	}
	var n int
	if err := s.reader.QueryRow(`SELECT COUNT(*) FROM jobs WHERE kind = ? AND ref = ?`, jobSend, gone).Scan(&n); err != nil || n != 0 {
		t.Errorf("the orphan's send job: %d rows, %v", n, err)
	}
}

// A write racing Close is answered (errClosed), never left waiting, even
// with a context that cannot be cancelled.
func TestWriteRacingCloseIsAnswered(t *testing.T) {
	for range 50 {
		s, err := OpenSQLite(context.Background(), SQLiteConfig{Path: filepath.Join(t.TempDir(), "w.db")})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 20 {
				_ = s.EnqueueJob(context.Background(), "k", "r", time.Now())
			}
		}()
		s.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a write racing Close never returned")
		}
	}
}

// The send claim's per-customer order check must seek the conversation's
// pending send jobs (index jobs_conversation). Left to the planner it
// scanned every send job for each candidate (a backlog of 100,000 queued
// messages claimed 16 jobs in ~0.3 s and sent ~60/s); starting from the
// customer's messages instead scanned a long history with one customer.
func TestClaimSendsPlanUsesTheConversationIndex(t *testing.T) {
	s, err := OpenSQLite(context.Background(), SQLiteConfig{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	joined := queryPlan(t, s, claimSendsQuery(16), 1, "send", "send", 1, 1, 1)
	if !strings.Contains(joined, "SEARCH j2 USING INDEX jobs_conversation (kind=? AND conv=? AND rowid<?)") {
		t.Errorf("claim plan:\n%s", joined)
	}
}

// The claimed messages are read in one query that seeks each id and its
// customer's window.
func TestClaimedMessagesPlanSeeksEachID(t *testing.T) {
	s := open(t)
	plan := queryPlan(t, s, claimedMessagesQuery, `["a","b"]`)
	if !strings.Contains(plan, "SEARCH messages USING INDEX sqlite_autoindex_messages_1 (id=?)") || strings.Contains(plan, "SCAN messages") ||
		!strings.Contains(plan, "SEARCH w USING INDEX sqlite_autoindex_windows_1 (business=? AND customer=?)") {
		t.Errorf("claimed messages plan:\n%s", plan)
	}
}

// queryPlan is SQLite's EXPLAIN QUERY PLAN for q, one detail per line.
func queryPlan(t *testing.T, s *SQLite, q string, args ...any) string {
	t.Helper()
	rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n")
}

// Appending to Sent looks a Message-ID up on every mail: it must seek the
// partial index, not scan the mailbox (it did, and SMTP slowed as Sent grew).
func TestMailByMessageIDPlanUsesTheIndex(t *testing.T) {
	s, err := OpenSQLite(context.Background(), SQLiteConfig{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	plan := queryPlan(t, s, mailByMessageIDQuery, 1, "<a@b>")
	if !strings.Contains(plan, "USING INDEX mail_messages_message_id (mailbox_id=? AND message_id=?)") {
		t.Errorf("plan:\n%s", plan)
	}
}

// A status change of a message whose origin's reporters are all
// JobReporters queues their jobs in the same commit and no report job; an
// origin the plan does not cover still gets a report job. The ingest's
// outcome says which it queued.
func TestStatusChangeQueuesPlannedReportJobs(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var planned []string
	s.PlanReports(func(m *bridge.Message) ([]bridge.JobRef, bool) {
		if m.Origin != "smpp:acme" {
			return nil, false
		}
		planned = append(planned, string(m.Status))
		if m.Status != bridge.StatusDelivered {
			return nil, true // covered, nothing to report (no intermediate receipts)
		}
		return []bridge.JobRef{{Kind: "smpp:acme", Ref: "dlr/" + string(m.ID) + "/delivered", Data: `{"receipt":1}`}}, true
	})
	now := time.Now()
	smpp, mail := benchOutbound(now, 1), benchOutbound(now, 2)
	smpp.Origin, mail.Origin = "smpp:acme", "smtp:agent"
	for _, m := range []*bridge.Message{smpp, mail} {
		if _, _, err := s.CreateOutbound(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Accepted(ctx, m.ID, "wamid."+string(m.ID), now); err != nil {
			t.Fatal(err)
		}
		for _, st := range []bridge.Status{bridge.StatusSent, bridge.StatusDelivered} {
			out, err := s.Ingest(ctx, []bridge.Event{{Status: &bridge.StatusUpdate{WAMID: "wamid." + string(m.ID),
				Status: st, RawStatus: string(st), Timestamp: now}}})
			if err != nil {
				t.Fatal(err)
			}
			// What the ingest queued, so the bridge wakes only those loops.
			want := bridge.ReportsQueued{ReportJobs: m == mail, ReporterJobs: m == smpp && st == bridge.StatusDelivered}
			if out.Queued == nil || *out.Queued != want {
				t.Errorf("%s %s: queued %+v, want %+v", m.Origin, st, out.Queued, want)
			}
		}
	}
	if strings.Join(planned, ",") != "sent,delivered" {
		t.Errorf("plan called for %v", planned)
	}
	dlr, err := s.ClaimJobs(ctx, "smpp:acme", now.Add(time.Minute), 10, time.Minute)
	if err != nil || len(dlr) != 1 || dlr[0].Ref != "dlr/"+string(smpp.ID)+"/delivered" || dlr[0].Data != `{"receipt":1}` {
		t.Errorf("receipt jobs: %+v %v (want the planned job with its data)", dlr, err)
	}
	reports, err := s.ClaimJobs(ctx, bridge.JobReport, now.Add(time.Minute), 10, time.Minute)
	var refs []string
	for _, j := range reports {
		refs = append(refs, j.Ref)
		if j.Data != "" {
			t.Errorf("report job %s has data %q", j.Ref, j.Data)
		}
	}
	if want := string(mail.ID) + "/sent," + string(mail.ID) + "/delivered"; err != nil || strings.Join(refs, ",") != want {
		t.Errorf("report jobs %v %v, want %s (the uncovered origin only)", refs, err, want)
	}
}

// A status that comes before the send's answer is kept and applied by
// Accepted, which says so; a second Accepted changes nothing; an unknown
// message is ErrNotFound.
func TestAcceptedAppliesStatusesThatCameFirst(t *testing.T) {
	s, m, now := openWithOutbound(t)
	ctx := context.Background()
	if _, err := s.Ingest(ctx, []bridge.Event{{Status: &bridge.StatusUpdate{WAMID: "wamid.early",
		Status: bridge.StatusDelivered, RawStatus: "delivered", Timestamp: now}}}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		changed, err := s.Accepted(ctx, m.ID, "wamid.early", now)
		if err != nil || changed != want {
			t.Errorf("Accepted #%d: changed %v %v, want %v", i+1, changed, err, want)
		}
	}
	got, err := s.Message(ctx, string(m.ID))
	if err != nil || got.Status != bridge.StatusDelivered || got.WAMID != "wamid.early" {
		t.Errorf("after Accepted: %+v %v", got, err)
	}
	if _, err := s.Accepted(ctx, "no-such-id", "wamid.none", now); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("unknown message: %v", err)
	}
}

// statusRecord must decode to what json.Marshal would have stored.
func TestEncodeStatusMatchesMarshal(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, st := range []*bridge.StatusUpdate{
		{WAMID: "wamid.A", Status: bridge.StatusDelivered, RawStatus: "delivered", Timestamp: at},
		{WAMID: "wamid.B", Status: bridge.StatusFailed, RawStatus: "failed", Timestamp: at,
			Errors: []bridge.UpstreamError{{Code: 131026, Title: "Message undeliverable"}},
			Raw:    json.RawMessage(`{"id":"wamid.B","status":"failed","errors":[{"code":131026}]}`)},
		{WAMID: "wamid.C", Status: bridge.StatusRead, RawStatus: "read", Raw: json.RawMessage(`{"id": "wamid.C",` + "\n" + ` "status": "read"}`)},
	} {
		got, err := (&wtx{}).statusRecord(st)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(st)
		var g, w any
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", st.WAMID, err, got)
		}
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %s\nwant %s", st.WAMID, got, want)
		}
		var back bridge.StatusUpdate
		if err := json.Unmarshal([]byte(got), &back); err != nil || back.WAMID != st.WAMID || (len(back.Raw) == 0) != (len(st.Raw) == 0) {
			t.Errorf("%s: decoded back as %+v, %v", st.WAMID, back, err)
		}
	}
}

// MessageHead finds what Message finds (by id or wamid), only without the
// history; a send claim carries the message without it too.
func TestMessageHeadIsMessageWithoutHistory(t *testing.T) {
	s, m, now := openWithOutbound(t)
	ctx := context.Background()
	jobs, err := s.ClaimSends(ctx, now, 10, time.Minute)
	if err != nil || len(jobs) != 1 || jobs[0].Message.ID != m.ID || jobs[0].Message.History != nil {
		t.Fatalf("ClaimSends = %+v, %v; want the message without history", jobs, err)
	}
	if _, err := s.Accepted(ctx, m.ID, "wamid.head", now); err != nil {
		t.Fatal(err)
	}
	full, err := s.Message(ctx, string(m.ID))
	if err != nil || len(full.History) == 0 {
		t.Fatalf("Message = %+v, %v", full, err)
	}
	for _, key := range []string{string(m.ID), "wamid.head"} {
		head, err := s.MessageHead(ctx, key)
		if err != nil {
			t.Fatalf("MessageHead(%s): %v", key, err)
		}
		if head.History != nil {
			t.Errorf("MessageHead(%s) read the history", key)
		}
		full.History = nil
		if !reflect.DeepEqual(head, full) {
			t.Errorf("MessageHead(%s) =\n %+v\nwant\n %+v", key, head, full)
		}
	}
	if _, err := s.MessageHead(ctx, "nothing"); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("MessageHead of an unknown id: %v", err)
	}
}

// MessageForReport is Message by id without the history, the content and
// the send record, and everything else the same (a mail bounce reads the
// idempotency key and the times).
func TestMessageForReportLeavesOutContentAndSendRecord(t *testing.T) {
	s, m, now := openWithOutbound(t)
	ctx := context.Background()
	if _, err := s.Accepted(ctx, m.ID, "wamid.report", now); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSend(ctx, m.ID, &bridge.SendRecord{How: bridge.SentFreeform}); err != nil {
		t.Fatal(err)
	}
	full, err := s.Message(ctx, string(m.ID))
	if err != nil || full.Content.Text == "" || full.SendRecord == nil || len(full.History) == 0 {
		t.Fatalf("Message = %+v, %v; want content, a send record and history", full, err)
	}
	got, err := s.MessageForReport(ctx, string(m.ID))
	if err != nil {
		t.Fatal(err)
	}
	full.History, full.SendRecord, full.Content = nil, nil, bridge.Content{}
	if !reflect.DeepEqual(got, full) {
		t.Errorf("MessageForReport =\n %+v\nwant\n %+v", got, full)
	}
	if _, err := s.MessageForReport(ctx, "nothing"); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("MessageForReport of an unknown id: %v", err)
	}
}

// The statuses that came before their send's answer are found through the
// primary key (there is no separate index for them since migration 12).
func TestPendingStatusesPlanUsesThePrimaryKey(t *testing.T) {
	s := open(t)
	plan := queryPlan(t, s, pendingStatusesQuery, "wamid.x")
	if !strings.Contains(plan, "USING INDEX sqlite_autoindex_status_events_1 (wamid=?)") {
		t.Errorf("pending statuses plan:\n%s", plan)
	}
}

// A status ends its message's send job only while no wamid is recorded:
// recording one (Accepted, or a status echoing our id) ends the job in the
// same transaction, and a new outbound message never has one. The first
// echoed status settles an attempt whose outcome was unknown; a later one
// finds no job to end.
func TestStatusEndsTheSendJobOnce(t *testing.T) {
	s, m, now := openWithOutbound(t)
	ctx := context.Background()
	if err := s.StartAttempt(ctx, m.ID, now, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for i, st := range []string{"sent", "delivered", "read"} {
		out, err := s.Ingest(ctx, []bridge.Event{{Status: &bridge.StatusUpdate{WAMID: "wamid.echo",
			Status: bridge.Status(st), RawStatus: st, Timestamp: now, CallbackData: string(m.ID)}}})
		reconciled := 0
		if i == 0 {
			reconciled = 1
		}
		if err != nil || out.Statuses != 1 || out.Reconciled != reconciled || len(out.Changed) != 1 {
			t.Fatalf("status %s: %+v %v", st, out, err)
		}
		// A status reads its message without the history, except read
		// (bridge.ReportPlanner): queued, sent, delivered, read.
		wantHistory := 0
		if st == "read" {
			wantHistory = 4
		}
		if h := out.Changed[0].History; len(h) != wantHistory {
			t.Errorf("status %s: Changed carries the history %v", st, h)
		}
	}
	if n, err := s.OutboxDepth(ctx); err != nil || n != 0 {
		t.Errorf("send jobs left: %d %v", n, err)
	}
	got, err := s.Message(ctx, string(m.ID))
	if err != nil || got.WAMID != "wamid.echo" || got.Status != bridge.StatusRead || len(got.History) != 4 {
		t.Errorf("message: %+v %v", got, err)
	}

	withID := benchOutbound(now, 2)
	withID.WAMID = "wamid.preset"
	if _, _, err := s.CreateOutbound(ctx, withID); err == nil {
		t.Error("a new outbound message with a provider id was stored")
	}
}

// A claim reads each message's window with it: what LastInbound answers.
func TestClaimReadsTheWindow(t *testing.T) {
	s, m, now := openWithOutbound(t)
	ctx := context.Background()
	quiet := benchOutbound(now, 2) // a customer who never wrote
	if _, _, err := s.CreateOutbound(ctx, quiet); err != nil {
		t.Fatal(err)
	}
	wrote := now.Add(-time.Hour).Truncate(time.Millisecond)
	if _, err := s.Ingest(ctx, []bridge.Event{{Inbound: &bridge.Message{Business: m.Business, Customer: m.Customer,
		Kind: bridge.KindText, Content: bridge.Content{Text: "hi"}, WAMID: "wamid.in", Channel: bridge.ChannelWhatsApp,
		Timestamp: wrote}}}); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimSends(ctx, now.Add(time.Second), 10, time.Minute)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claim: %d jobs, %v", len(jobs), err)
	}
	for _, j := range jobs {
		want, err := s.LastInbound(ctx, j.Message.Business, j.Message.Customer.Key())
		if err != nil {
			t.Fatal(err)
		}
		if !j.WindowRead || !j.LastInbound.Equal(want) {
			t.Errorf("%s: window read %v, last inbound %v; LastInbound says %v", j.Message.ID, j.WindowRead, j.LastInbound, want)
		}
		if j.Message.ID == m.ID && want.IsZero() {
			t.Error("the inbound message opened no window")
		}
	}
}

// JobsDue answers from the readers what a claim would find: a due,
// unleased job of the kind, seen once its commit has returned.
func TestJobsDue(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	due := func() bool {
		t.Helper()
		ok, err := s.JobsDue(ctx, "peek", now)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if due() {
		t.Error("due with no job")
	}
	if err := s.EnqueueJob(ctx, "peek", "later", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if due() {
		t.Error("due with a job for later")
	}
	if err := s.EnqueueJob(ctx, "peek", "now", now); err != nil {
		t.Fatal(err)
	}
	if !due() {
		t.Error("not due with a job due now")
	}
	if jobs, err := s.ClaimJobs(ctx, "peek", now, 10, time.Minute); err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	if due() {
		t.Error("due while the only due job is leased")
	}
	if plan := queryPlan(t, s, jobsDueQuery, "peek", 1, 1); !strings.Contains(plan, "USING INDEX jobs_due (kind=? AND run_at<?)") {
		t.Errorf("plan:\n%s", plan)
	}
}

// Committed operations are counted by the store method that ran them.
func TestOperationCountsByMethod(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	for _, ref := range []string{"a", "b"} {
		if err := s.EnqueueJob(ctx, "count", ref, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ClaimJobs(ctx, "count", now, 10, time.Minute); err != nil {
		t.Fatal(err)
	}
	got := s.OperationCounts()
	if got["enqueue_job"] != 2 || got["claim_jobs"] != 1 {
		t.Errorf("counts %v, want enqueue_job 2 and claim_jobs 1", got)
	}
	if _, ok := got["unknown"]; ok {
		t.Errorf("an operation without a name: %v", got)
	}
}

// The writer's answer channels are recycled: an operation's wait asked
// again gives its own answer, not a later operation's, and operations
// after it get theirs.
func TestQueuedWaitAnswersOnce(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	failing := s.commit.queue(ctx, func(tx *wtx) error { return errors.New("boom") })
	if err := failing(); err == nil || err.Error() != "boom" {
		t.Fatalf("first answer %v, want boom", err)
	}
	for i := range 50 { // reuse the pooled channels many times over
		if err := s.commit.write(ctx, func(tx *wtx) error { return nil }); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		ok := s.commit.queue(ctx, func(tx *wtx) error { return nil })
		if err := ok(); err != nil {
			t.Fatalf("queued %d: %v", i, err)
		}
		if err := failing(); err == nil || err.Error() != "boom" {
			t.Fatalf("asked again after %d more operations: %v, want boom", i+1, err)
		}
	}
}

// An operation that arrives while the writer runs a batch joins that
// batch's commit instead of waiting for the next one; a joined operation
// that fails is rolled back alone; maxBatch bounds the joining.
func TestOperationsJoinTheRunningCommit(t *testing.T) {
	ctx := context.Background()
	insert := func(key string, fail bool) txFunc { return insertRawEvent(key, nil, fail) }
	// first runs alone in its batch and, while it runs, queues the others:
	// they are in the writer's queue when it returns.
	run := func(t *testing.T, s *SQLite, keys []string, failing string) (commits int64, errs []error) {
		t.Helper()
		before := s.Stats()
		waits := make([]func() error, len(keys))
		err := s.commit.write(ctx, func(tx *wtx) error {
			if waits[0] == nil {
				for i, k := range keys {
					waits[i] = s.commit.queue(ctx, insert(k, k == failing))
				}
			}
			return insert("first", false)(tx)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range waits {
			errs = append(errs, w())
		}
		return s.Stats().Commits - before.Commits, errs
	}
	count := func(t *testing.T, s *SQLite) (n int) {
		t.Helper()
		if err := s.writer.QueryRow(`SELECT count(*) FROM raw_events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("joined", func(t *testing.T) {
		s := open(t)
		commits, errs := run(t, s, []string{"a", "b", "c"}, "")
		if commits != 1 || errs[0] != nil || errs[1] != nil || errs[2] != nil {
			t.Fatalf("%d commits, errors %v; want 1 commit, no error", commits, errs)
		}
		if n := count(t, s); n != 4 {
			t.Errorf("%d rows, want 4", n)
		}
	})
	t.Run("a joined operation fails alone", func(t *testing.T) {
		s := open(t)
		// b's failure rolls back the transaction; it runs again with
		// savepoints (first, a, b) and commits without b; c, not taken
		// yet, commits next.
		commits, errs := run(t, s, []string{"a", "b", "c"}, "b")
		if commits != 2 || errs[0] != nil || errs[1] == nil || errs[2] != nil {
			t.Fatalf("%d commits, errors %v; want 2 commits, only b failing", commits, errs)
		}
		if n := count(t, s); n != 3 {
			t.Errorf("%d rows, want 3 (first, a, c)", n)
		}
	})
	t.Run("bounded by the batch cap", func(t *testing.T) {
		s, err := OpenSQLite(ctx, SQLiteConfig{Path: filepath.Join(t.TempDir(), "w.db"), CommitBatch: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		commits, errs := run(t, s, []string{"a", "b", "c"}, "")
		if errs[0] != nil || errs[1] != nil || errs[2] != nil {
			t.Fatal(errs)
		}
		// first+a, then b+c: never more than two operations per commit.
		if commits != 2 {
			t.Errorf("%d commits, want 2", commits)
		}
	})
}

// insertRawEvent is an operation that stores a raw event under key,
// counting its runs in *runs (when not nil), and fails after the insert
// when fail is set.
func insertRawEvent(key string, runs *int, fail bool) txFunc {
	return func(tx *wtx) error {
		if runs != nil {
			*runs++
		}
		if _, err := tx.Exec(`INSERT INTO raw_events (key, field, raw, received_at) VALUES (?, 'f', '{}', 0)`, key); err != nil {
			return err
		}
		if fail {
			return errors.New("boom")
		}
		return nil
	}
}
