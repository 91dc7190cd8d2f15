package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// ClaimSends implements bridge.Store. The writer only leases the jobs; their
// messages are read after the commit by a reader connection, beside the
// writer rather than in its serial time (the lease keeps every other claim
// off them meanwhile).
func (s *SQLite) ClaimSends(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]bridge.SendJob, error) {
	type claimed struct {
		ref      string
		attempts int
		started  int64
	}
	var cs []claimed
	err := s.commit.write(ctx, func(tx *wtx) error {
		cs = cs[:0]
		// A send is claimed only when no earlier send to the same customer
		// from the same number is still due, in flight or being retried:
		// messages to one customer go out in the order they were submitted
		// (a long mail's parts, several submit_sm). One scheduled for later
		// does not hold the others back. The check seeks the
		// conversation's pending send jobs (index jobs_conversation): it
		// costs the same with a backlog of a million customers or a
		// history of thousands of messages with one.
		rows, err := tx.Query(claimSendsQuery(limit), ms(now.Add(lease)), jobSend, jobSend, ms(now), ms(now), ms(now))
		if err != nil {
			return fmt.Errorf("store: claim: %w", err)
		}
		for rows.Next() {
			var c claimed
			if err := rows.Scan(&c.ref, &c.attempts, &c.started); err != nil {
				rows.Close()
				return err
			}
			cs = append(cs, c)
		}
		rows.Close()
		return rows.Err()
	})
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	// The claimed messages in one query (without their history), each with
	// its customer's window.
	refs := make([]string, len(cs))
	for i, c := range cs {
		refs[i] = c.ref
	}
	list, err := json.Marshal(refs)
	if err != nil {
		return nil, err
	}
	byID, err := claimedMessages(ctx, s.reader, string(list))
	if err != nil {
		// The leases run out and the jobs are claimed again.
		return nil, err
	}
	jobs := make([]bridge.SendJob, 0, len(cs))
	var orphans []string
	for _, c := range cs {
		cm, ok := byID[bridge.MessageID(c.ref)]
		if !ok {
			orphans = append(orphans, c.ref)
			continue
		}
		jobs = append(jobs, bridge.SendJob{Message: cm.m, Attempts: c.attempts, AttemptStarted: fromMS(c.started),
			WindowRead: true, LastInbound: cm.lastInbound})
	}
	if len(orphans) > 0 {
		// A send job whose message is gone has nothing to send.
		if err := s.FinishJobs(ctx, jobSend, orphans); err != nil {
			return jobs, err
		}
	}
	return jobs, nil
}

// claimedMessagesQuery reads the messages whose ids are in a JSON array
// (seeking the primary key once per id), each with the last inbound time
// of its customer's window (0: never; the windows primary key).
const claimedMessagesQuery = `SELECT ` + messageColumns + `,
	COALESCE((SELECT w.last_inbound FROM windows w WHERE w.business = messages.business AND w.customer = messages.customer), 0)
	FROM messages WHERE id IN (SELECT value FROM json_each(?))`

type claimedMessage struct {
	m           *bridge.Message
	lastInbound time.Time
}

// claimedMessages runs claimedMessagesQuery for the JSON array ids.
func claimedMessages(ctx context.Context, q queryer, ids string) (map[bridge.MessageID]claimedMessage, error) {
	rows, err := q.query(ctx, claimedMessagesQuery, ids)
	if err != nil {
		return nil, fmt.Errorf("store: read claimed messages: %w", err)
	}
	defer rows.Close()
	out := map[bridge.MessageID]claimedMessage{}
	for rows.Next() {
		var last int64
		m, err := scanMessage(rows, &last)
		if err != nil {
			return nil, err
		}
		cm := claimedMessage{m: m}
		if last > 0 {
			cm.lastInbound = fromMS(last)
		}
		out[m.ID] = cm
	}
	return out, rows.Err()
}

// StartAttempt implements bridge.Store.
func (s *SQLite) StartAttempt(ctx context.Context, id bridge.MessageID, at time.Time, rec *bridge.SendRecord, fallbackAt time.Time) error {
	var record []byte
	if rec != nil {
		var err error
		if record, err = json.Marshal(rec); err != nil {
			return err
		}
	}
	return s.commit.write(ctx, func(tx *wtx) error {
		res, err := tx.Exec(`UPDATE jobs SET attempt_started = ?, attempts = attempts + 1 WHERE kind = ? AND ref = ?`,
			ms(at), jobSend, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return bridge.ErrNotFound // cancelled or settled meanwhile
		}
		if record != nil {
			if _, err := tx.Exec(`UPDATE messages SET send_record = ? WHERE id = ?`, string(record), id); err != nil {
				return err
			}
		}
		if !fallbackAt.IsZero() {
			return enqueue(tx, bridge.JobFallbackTimeout, string(id), fallbackAt)
		}
		return nil
	})
}

// CancelQueued implements bridge.Store.
func (s *SQLite) CancelQueued(ctx context.Context, id bridge.MessageID, at time.Time) (*bridge.Message, error) {
	var out *bridge.Message
	err := s.commit.write(ctx, func(tx *wtx) error {
		m, err := loadMessage(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		res, err := tx.Exec(`DELETE FROM jobs WHERE kind = ? AND ref = ? AND attempt_started = 0`, jobSend, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 || m.Status != bridge.StatusQueued {
			return bridge.ErrNotCancellable
		}
		if err := addHistory(tx, id, bridge.StatusFailed, at, 0); err != nil {
			return err
		}
		m.Status, m.Reason, m.UpdatedAt = bridge.StatusFailed, bridge.ReasonCancelled, at
		m.History = append(m.History, bridge.HistoryEntry{Status: bridge.StatusFailed, At: at})
		if _, err := tx.Exec(`UPDATE messages SET status = ?, reason = ?, updated_at = ? WHERE id = ?`,
			m.Status, m.Reason, ms(at), id); err != nil {
			return err
		}
		out = m
		return reportChange(tx, m, at)
	})
	return out, err
}

// Accepted implements bridge.Store. The message is read only when status
// events wait for it (a webhook that came before the send's answer).
func (s *SQLite) Accepted(ctx context.Context, id bridge.MessageID, wamid string, at time.Time) (bool, error) {
	var changed bool
	err := s.commit.write(ctx, func(tx *wtx) error {
		changed = false
		if _, err := tx.Exec(`DELETE FROM jobs WHERE kind = ? AND ref = ?`, jobSend, id); err != nil {
			return err
		}
		if wamid == "" {
			return errors.New("store: accepted without a provider id")
		}
		res, err := tx.Exec(`UPDATE messages SET wamid = ?, updated_at = ? WHERE id = ? AND wamid IS NULL`,
			wamid, ms(at), id)
		if err != nil {
			return fmt.Errorf("store: record wamid: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Recorded before, or no such message: either way nothing new.
			var one int
			if err := tx.QueryRow(`SELECT 1 FROM messages WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return bridge.ErrNotFound
			} else if err != nil {
				return err
			}
		}
		// Apply status events that arrived before we knew the wamid.
		rows, err := tx.Query(pendingStatusesQuery, wamid)
		if err != nil {
			return err
		}
		var pending []*bridge.StatusUpdate
		for rows.Next() {
			var raw string
			if err := rows.Scan(&raw); err != nil {
				rows.Close()
				return err
			}
			var st bridge.StatusUpdate
			if err := json.Unmarshal([]byte(raw), &st); err == nil {
				pending = append(pending, &st)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		m, err := loadMessage(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		var seen int64
		if err := tx.QueryRow(`SELECT IFNULL(seen, -1) FROM messages WHERE id = ?`, id).Scan(&seen); err != nil {
			return err
		}
		for _, st := range pending {
			if bit := seenBit(st); seen >= 0 && bit != 0 && seen&bit != 0 {
				// A repeat of it came after the message was known (a
				// status echoing our id recorded the wamid) and was
				// applied then.
				if _, err := tx.Exec(`UPDATE status_events SET applied = 1 WHERE wamid = ? AND status = ?`, st.WAMID, st.RawStatus); err != nil {
					return err
				}
				continue
			}
			moved, err := applyStatus(tx, m, st, st.Timestamp, at, true, true)
			if err != nil {
				return err
			}
			if seen >= 0 {
				seen |= seenBit(st)
			}
			changed = changed || moved
		}
		return nil
	})
	return changed, err
}

// pendingStatusesQuery reads the status events stored before their
// message's wamid was known; it seeks the primary key (wamid, status).
const pendingStatusesQuery = `SELECT event FROM status_events WHERE wamid = ? AND applied = 0 ORDER BY ts`

// Retry implements bridge.Store.
func (s *SQLite) Retry(ctx context.Context, id bridge.MessageID, runAt time.Time, lastErr string) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(`UPDATE jobs SET run_at = ?, lease_until = 0, attempt_started = 0, last_error = ?
			WHERE kind = ? AND ref = ?`, ms(runAt), lastErr, jobSend, id)
		return err
	})
}

// Defer implements bridge.Store.
func (s *SQLite) Defer(ctx context.Context, id bridge.MessageID, runAt time.Time, lastErr string) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(`UPDATE jobs SET run_at = ?, lease_until = 0, last_error = ? WHERE kind = ? AND ref = ?`,
			ms(runAt), lastErr, jobSend, id)
		return err
	})
}

// Fail implements bridge.Store.
func (s *SQLite) Fail(ctx context.Context, id bridge.MessageID, reason bridge.Reason, code int, msg string, at time.Time) (*bridge.Message, bool, error) {
	var (
		out     *bridge.Message
		changed bool
	)
	err := s.commit.write(ctx, func(tx *wtx) error {
		if _, err := tx.Exec(`DELETE FROM jobs WHERE kind = ? AND ref = ?`, jobSend, id); err != nil {
			return err
		}
		m, err := loadMessage(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		out, changed = m, false
		if bridge.Advance(m.Status, bridge.StatusFailed) != bridge.StatusFailed || m.Status == bridge.StatusFailed {
			return nil
		}
		if err := addHistory(tx, id, bridge.StatusFailed, at, code); err != nil {
			return err
		}
		m.Status, m.Reason, m.ErrorCode, m.ErrorMessage, m.UpdatedAt = bridge.StatusFailed, reason, code, msg, at
		m.History = append(m.History, bridge.HistoryEntry{Status: bridge.StatusFailed, At: at, Code: code})
		changed = true
		_, err = tx.Exec(`UPDATE messages SET status = ?, reason = ?, error_code = ?, error_message = ?, updated_at = ? WHERE id = ?`,
			m.Status, m.Reason, m.ErrorCode, m.ErrorMessage, ms(at), id)
		if err != nil {
			return err
		}
		return reportChange(tx, m, at)
	})
	return out, changed, err
}

// JobsDue implements bridge.JobPeeker, on the reader pool: a committed job
// is visible to it once its commit has returned.
func (s *SQLite) JobsDue(ctx context.Context, kind string, now time.Time) (bool, error) {
	var one int
	err := s.reader.QueryRowContext(ctx, jobsDueQuery, kind, ms(now), ms(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: peek at jobs: %w", err)
	}
	return true, nil
}

// claimSendsQuery leases up to limit due send jobs, oldest first, each
// only when no earlier send of its conversation is due or in flight (see
// ClaimSends); arguments: the lease's end, jobSend twice, now three times.
func claimSendsQuery(limit int) string {
	return `UPDATE jobs SET lease_until = ?
			WHERE kind = ? AND ref IN (
				SELECT j.ref FROM jobs j
				WHERE j.kind = ? AND j.run_at <= ? AND j.lease_until <= ?
				AND NOT EXISTS (
					SELECT 1 FROM jobs j2 INDEXED BY jobs_conversation
					WHERE j2.kind = j.kind AND j2.conv = j.conv AND j2.rowid < j.rowid
					AND (j2.run_at <= ? OR j2.attempts > 0))
				ORDER BY j.run_at, j.rowid ` + limitClause(limit) + `)
			RETURNING ref, attempts, attempt_started`
}

// limitClause is "LIMIT n" written into a claim's text. SQLite's planner
// reads a bound LIMIT's value and marks the statement to be prepared again
// whenever that value changes (sqlite3ExprIsInteger); claims ask for as
// many jobs as have free hands, a different number nearly every time, so a
// bound LIMIT re-parsed the claim on most calls (~10 µs each, measured).
// One cached statement per limit instead; limits are small (senders,
// windows), and a text beyond the writer's statement cache is prepared for
// its one use (maxWriterStmts).
func limitClause(n int) string {
	if n < 1 {
		n = 1
	}
	return "LIMIT " + strconv.Itoa(n)
}

// jobsDueQuery finds one due, unleased job of a kind (index jobs_due).
const jobsDueQuery = `SELECT 1 FROM jobs WHERE kind = ? AND run_at <= ? AND lease_until <= ? LIMIT 1`

// ClaimJobs implements bridge.Store.
func (s *SQLite) ClaimJobs(ctx context.Context, kind string, now time.Time, limit int, lease time.Duration) ([]bridge.Job, error) {
	var jobs []bridge.Job
	err := s.commit.write(ctx, func(tx *wtx) error {
		jobs = jobs[:0]
		rows, err := tx.Query(`UPDATE jobs SET lease_until = ?, attempts = attempts + 1
			WHERE kind = ? AND ref IN (SELECT ref FROM jobs WHERE kind = ? AND run_at <= ? AND lease_until <= ?
				ORDER BY run_at, rowid `+limitClause(limit)+`)
			RETURNING ref, attempts, last_error, IFNULL(data, '')`,
			ms(now.Add(lease)), kind, kind, ms(now), ms(now))
		if err != nil {
			return fmt.Errorf("store: claim %s: %w", kind, err)
		}
		defer rows.Close()
		for rows.Next() {
			j := bridge.Job{Kind: kind}
			if err := rows.Scan(&j.Ref, &j.Attempts, &j.LastError, &j.Data); err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
		return rows.Err()
	})
	return jobs, err
}

// RetryJob implements bridge.Store.
func (s *SQLite) RetryJob(ctx context.Context, kind, ref string, runAt time.Time, lastErr string) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(`UPDATE jobs SET run_at = ?, lease_until = 0, last_error = ? WHERE kind = ? AND ref = ?`,
			ms(runAt), lastErr, kind, ref)
		return err
	})
}

// UpdateMedia implements bridge.Store.
func (s *SQLite) UpdateMedia(ctx context.Context, id bridge.MessageID, fn func(*bridge.Media), endJob string) (*bridge.Message, error) {
	var out *bridge.Message
	err := s.commit.write(ctx, func(tx *wtx) error {
		m, err := loadMessage(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if m.Content.Media == nil {
			m.Content.Media = &bridge.Media{}
		}
		fn(m.Content.Media)
		content, err := json.Marshal(m.Content)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE messages SET content = ? WHERE id = ?`, string(content), id); err != nil {
			return err
		}
		if endJob != "" {
			if _, err := tx.Exec(`DELETE FROM jobs WHERE kind = ? AND ref = ?`, endJob, id); err != nil {
				return err
			}
		}
		out = m
		return nil
	})
	return out, err
}

// EnqueueJob implements bridge.Store.
func (s *SQLite) EnqueueJob(ctx context.Context, kind, ref string, runAt time.Time) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		return enqueue(tx, kind, ref, runAt)
	})
}

func enqueue(tx *wtx, kind, ref string, runAt time.Time) error {
	return enqueueData(tx, kind, ref, "", runAt)
}

// enqueueData is enqueue with the job's data (NULL when empty).
func enqueueData(tx *wtx, kind, ref, data string, runAt time.Time) error {
	_, err := tx.Exec(`INSERT INTO jobs (kind, ref, run_at, data) VALUES (?,?,?,?) ON CONFLICT DO NOTHING`, kind, ref, ms(runAt), nullable(data))
	if err != nil {
		return fmt.Errorf("store: enqueue %s: %w", kind, err)
	}
	return nil
}

// FinishJob implements bridge.Store.
func (s *SQLite) FinishJob(ctx context.Context, kind, ref string) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(`DELETE FROM jobs WHERE kind = ? AND ref = ?`, kind, ref)
		return err
	})
}

// FinishJobs implements bridge.Store: several jobs of one kind ended in
// one commit.
func (s *SQLite) FinishJobs(ctx context.Context, kind string, refs []string) error {
	if len(refs) == 0 {
		return nil
	}
	return s.commit.write(ctx, func(tx *wtx) error {
		for _, ref := range refs {
			if _, err := tx.Exec(`DELETE FROM jobs WHERE kind = ? AND ref = ?`, kind, ref); err != nil {
				return err
			}
		}
		return nil
	})
}

// reportChange queues the report of m's current status to its origin, in
// the transaction that changed it: the reporters' own jobs when the
// bridge's plan covers the origin (see bridge.ReportPlanner), else a
// report job.
func reportChange(tx *wtx, m *bridge.Message, at time.Time) error {
	if !bridge.ReportsOrigin(m.Origin) {
		return nil
	}
	if plan := tx.c.plan.Load(); plan != nil {
		if jobs, covered := (*plan)(m); covered {
			if len(jobs) > 0 {
				tx.queued.ReporterJobs = true
			}
			for _, j := range jobs {
				if err := enqueueData(tx, j.Kind, j.Ref, j.Data, at); err != nil {
					return err
				}
			}
			return nil
		}
	}
	tx.queued.ReportJobs = true
	return enqueue(tx, bridge.JobReport, string(m.ID)+"/"+string(m.Status), at)
}

// PlanReports implements bridge.ReportPlanner.
func (s *SQLite) PlanReports(plan func(m *bridge.Message) ([]bridge.JobRef, bool)) {
	s.commit.plan.Store(&plan)
}

// ReleaseJob implements bridge.Store.
func (s *SQLite) ReleaseJob(ctx context.Context, kind, ref, lastErr string) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(`UPDATE jobs SET lease_until = 0, last_error = ? WHERE kind = ? AND ref = ?`, lastErr, kind, ref)
		return err
	})
}
