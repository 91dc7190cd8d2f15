package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/jsonlite"
)

// Ingest implements bridge.Store. The whole batch is one operation of one
// group commit.
func (s *SQLite) Ingest(ctx context.Context, events []bridge.Event) (bridge.IngestOutcome, error) {
	var out bridge.IngestOutcome
	now := time.Now()
	err := s.commit.write(ctx, func(tx *wtx) error {
		out = bridge.IngestOutcome{}
		tx.queued = bridge.ReportsQueued{}
		defer func() { q := tx.queued; out.Queued = &q }()
		changed := map[bridge.MessageID]int{}
		for _, ev := range events {
			switch {
			case ev.Inbound != nil:
				if err := ingestInboundInto(tx, ev.Inbound, now, &out); err != nil {
					return err
				}
			case ev.Status != nil:
				isNew, m, settled, err := ingestStatus(ctx, tx, ev.Status, now)
				if err != nil {
					return err
				}
				if settled {
					out.Reconciled++
				}
				if !isNew {
					out.Duplicates++
					continue
				}
				out.Statuses++
				if m != nil {
					if i, ok := changed[m.ID]; ok {
						out.Changed[i] = m
					} else {
						changed[m.ID] = len(out.Changed)
						out.Changed = append(out.Changed, m)
					}
				}
			case ev.Other != nil:
				isNew, err := ingestRaw(tx, ev.Other, now)
				if err != nil {
					return err
				}
				if isNew {
					out.Other++
				} else {
					out.Duplicates++
				}
			}
		}
		return nil
	})
	return out, err
}

// ingestInboundInto stores an inbound message once and counts it in out.
func ingestInboundInto(tx *wtx, m *bridge.Message, now time.Time, out *bridge.IngestOutcome) error {
	isNew, err := ingestInbound(tx, m, now)
	if err != nil {
		return err
	}
	if isNew {
		out.Inbound = append(out.Inbound, m)
		out.IngestResult.Inbound++
	} else {
		out.Duplicates++
	}
	return nil
}

func ingestInbound(tx *wtx, m *bridge.Message, now time.Time) (bool, error) {
	if m.ID == "" {
		m.ID = bridge.NewID(now)
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	m.UpdatedAt = now
	if m.Status == "" {
		m.Status = bridge.StatusReceived
	}
	content, err := json.Marshal(m.Content)
	if err != nil {
		return false, fmt.Errorf("store: encode content: %w", err)
	}
	history, err := firstHistory(m.Status, m.CreatedAt)
	if err != nil {
		return false, err
	}
	res, err := tx.Exec(`INSERT INTO messages (id, direction, business, customer, customer_phone, customer_bsuid,
		kind, content, wamid, channel, status, profile_name, ts, created_at, updated_at, history, seen)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0) ON CONFLICT(wamid) DO NOTHING`,
		m.ID, bridge.Inbound, m.Business, m.Customer.Key(), m.Customer.Phone, m.Customer.BSUID,
		m.Kind, string(content), nullable(m.WAMID), m.Channel, m.Status, m.ProfileName,
		ms(m.Timestamp), ms(m.CreatedAt), ms(m.UpdatedAt), history)
	if err != nil {
		return false, fmt.Errorf("store: insert inbound: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	// Consumers (mailboxes, SMPP receivers) get it through a job committed
	// with the message: a crash after the webhook's 200 loses no delivery.
	if err := enqueue(tx, bridge.JobInbound, string(m.ID), now); err != nil {
		return false, err
	}
	// A customer's media is fetched by a job committed with the message, so
	// the webhook's 200 never waits for a download and a crash loses none.
	if m.Kind.IsMedia() && m.Content.Media != nil && m.Content.Media.ID != "" {
		if _, err := tx.Exec(`INSERT INTO jobs (kind, ref, run_at) VALUES (?,?,?) ON CONFLICT DO NOTHING`,
			bridge.JobMediaFetch, m.ID, ms(now)); err != nil {
			return false, fmt.Errorf("store: media job: %w", err)
		}
	}
	// The window opens at the customer's message time; a timestamp from the
	// future (clock skew) counts as now.
	at := m.Timestamp
	if at.IsZero() || at.After(now) {
		at = now
	}
	if m.Business != "" && !m.Customer.IsZero() {
		_, err = tx.Exec(`INSERT INTO windows (business, customer, last_inbound) VALUES (?,?,?)
			ON CONFLICT(business, customer) DO UPDATE SET last_inbound = MAX(last_inbound, excluded.last_inbound)`,
			m.Business, m.Customer.Key(), ms(at))
		if err != nil {
			return false, fmt.Errorf("store: window: %w", err)
		}
	}
	return true, nil
}

// ingestStatus applies a status event once: to its message when the
// message is known, else it is kept until the wamid is recorded. It returns
// the message when its status moved, and settled when it closed a send
// job whose attempt had an unknown outcome.
//
// Repeats are recognised by (wamid, provider word). For a known message
// whose row has seen bits (every row written since migration 14) and a
// word the bridge maps (seenBit), the row's bit is that record: the event
// is applied in the row's update and no status_events row is written.
// Other events (unknown messages, unmapped words, rows of earlier
// versions) are kept in status_events under that key.
func ingestStatus(ctx context.Context, tx *wtx, st *bridge.StatusUpdate, now time.Time) (isNew bool, moved *bridge.Message, settled bool, err error) {
	if st.WAMID == "" {
		return false, nil, false, errors.New("store: status event without id")
	}
	ts := st.Timestamp
	if ts.IsZero() {
		ts = now
	}
	// Find the message: our id echoed back first (it also covers a send
	// whose wamid we never recorded), then the wamid. Only the columns a
	// status needs are read, without the history (applyStatus reads it
	// when report planning needs it).
	var (
		m    *bridge.Message
		seen int64
		raw  string // the stored record, encoded once (statusRecord)
	)
	if st.CallbackData != "" {
		m, seen, err = loadStatusTarget(tx, statusTargetByOurID, st.CallbackData)
		if err != nil && !errors.Is(err, bridge.ErrNotFound) {
			return false, nil, false, err
		}
	}
	if m == nil {
		// A status for a message we do not know (yet, or at all) is kept
		// in one statement that also looks the wamid up; when it keeps
		// nothing, the message is known or the status a repeat, and the
		// steps below find out which.
		if raw, err = tx.statusRecord(st); err != nil {
			return false, nil, false, fmt.Errorf("store: encode status: %w", err)
		}
		res, err := tx.Exec(`INSERT INTO status_events (wamid, status, ts, callback, received_at, event, applied)
			SELECT ?,?,?,?,?,?,0 WHERE NOT EXISTS (SELECT 1 FROM messages WHERE wamid = ?)
			ON CONFLICT(wamid, status) DO NOTHING`,
			st.WAMID, st.RawStatus, ms(ts), st.CallbackData, ms(now), raw, st.WAMID)
		if err != nil {
			return false, nil, false, fmt.Errorf("store: insert status: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return true, nil, false, nil // kept; applied when the wamid is recorded
		}
		// By wamid: the id first (one narrow lookup, not a wide one).
		var id string
		switch err := tx.QueryRow(`SELECT id FROM messages WHERE wamid = ?`, st.WAMID).Scan(&id); {
		case err == nil:
			if m, seen, err = loadStatusTarget(tx, statusTargetByID, id); err != nil {
				return false, nil, false, err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return false, nil, false, err
		}
	}
	bit := seenBit(st)
	if m != nil && seen >= 0 && bit != 0 {
		if seen&bit != 0 {
			return false, nil, false, nil
		}
	} else {
		// Kept as an event row, written once (already marked applied when
		// its message is known).
		if raw == "" {
			if raw, err = tx.statusRecord(st); err != nil {
				return false, nil, false, fmt.Errorf("store: encode status: %w", err)
			}
		}
		res, err := tx.Exec(`INSERT INTO status_events (wamid, status, ts, callback, received_at, event, applied)
			VALUES (?,?,?,?,?,?,?) ON CONFLICT(wamid, status) DO NOTHING`,
			st.WAMID, st.RawStatus, ms(ts), st.CallbackData, ms(now), raw, m != nil)
		if err != nil {
			return false, nil, false, fmt.Errorf("store: insert status: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, nil, false, nil
		}
		if m == nil {
			return true, nil, false, nil // kept; applied when the wamid is recorded
		}
	}
	if m.WAMID == "" {
		if _, err := tx.Exec(`UPDATE messages SET wamid = ? WHERE id = ? AND wamid IS NULL`, st.WAMID, m.ID); err != nil {
			return false, nil, false, fmt.Errorf("store: record wamid: %w", err)
		}
		m.WAMID = st.WAMID
		// Any status about a send proves the send happened: its job is
		// over (settled when an attempt had begun with no outcome
		// recorded). A message whose wamid was recorded already has no
		// send job: the wamid is written only here and by Accepted, each
		// in the transaction that deletes the job, and a new outbound
		// message never has one (createOutbound).
		if settled, err = endSendJob(tx, m.ID); err != nil {
			return false, nil, false, err
		}
	}
	changed, err := applyStatus(tx, m, st, ts, now, false, false)
	if err != nil {
		return false, nil, false, err
	}
	if !changed {
		return true, nil, settled, nil
	}
	return true, m, settled, nil
}

// seenWords are the provider status words with a seen bit: the ones
// bridge.ParseStatus maps (Meta's and Twilio's). The order is stored in
// messages.seen: append only.
var seenWords = [...]string{"sent", "delivered", "read", "failed", "queued", "accepted", "played", "undelivered"}

// seenBit is st's bit in messages.seen; 0 for a word without one (kept in
// status_events) or one the bridge does not map (never applied, so its
// repeats are recognised by its event row).
func seenBit(st *bridge.StatusUpdate) int64 {
	if st.Status == "" {
		return 0
	}
	for i, w := range seenWords {
		if w == st.RawStatus {
			return 1 << i
		}
	}
	return 0
}

// applyStatus records one observed status on m (history and its seen bit
// always, status through bridge.Advance); with mark it marks the stored
// event applied (an event stored before its message was known). withHistory says m
// came with its whole history; without it m.History is left alone, and
// read in full before a change to read is planned (see
// bridge.ReportPlanner: the one status whose report depends on the ones
// before it).
func applyStatus(tx *wtx, m *bridge.Message, st *bridge.StatusUpdate, ts, now time.Time, mark, withHistory bool) (bool, error) {
	if mark {
		if _, err := tx.Exec(`UPDATE status_events SET applied = 1 WHERE wamid = ? AND status = ?`, st.WAMID, st.RawStatus); err != nil {
			return false, err
		}
	}
	if st.Status == "" {
		return false, nil // a word the machine does not know: stored, not applied
	}
	code := 0
	if len(st.Errors) > 0 {
		code = st.Errors[0].Code
	}
	if withHistory {
		m.History = append(m.History, bridge.HistoryEntry{Status: st.Status, At: ts, Code: code})
	}
	next := m.Status
	if m.Channel != bridge.ChannelSMS {
		// (A message moved to SMS: a late WhatsApp status is history
		// only; the SMS receipts decide its state.)
		next = bridge.Advance(m.Status, st.Status)
	}
	if next == m.Status || (next == bridge.StatusFailed && st.Fallback != "") {
		if err := addSeenHistory(tx, m.ID, st.Status, ts, code, seenBit(st)); err != nil {
			return false, err
		}
		if next == m.Status {
			return false, nil
		}
		why := fmt.Sprintf("WhatsApp failed (%s, code %d): %s", st.Reason, code, st.Fallback)
		return fallbackTx(tx, m, st.Fallback, why, now)
	}
	m.Status = next
	m.UpdatedAt = now
	if next == bridge.StatusFailed {
		m.Reason, m.ErrorCode = st.Reason, code
		if m.Reason == "" {
			m.Reason = bridge.ReasonUpstreamError
		}
		if len(st.Errors) > 0 {
			m.ErrorMessage = st.Errors[0].Title
			if st.Errors[0].Details != "" {
				m.ErrorMessage = st.Errors[0].Details
			}
		}
	}
	// The status and its history entry in one update of the row.
	_, err := tx.Exec(`UPDATE messages SET status = ?, reason = ?, error_code = ?, error_message = ?, updated_at = ?,
		history = `+historyAppend+`, seen = seen | ? WHERE id = ?`,
		m.Status, m.Reason, m.ErrorCode, m.ErrorMessage, ms(now), st.Status, ms(ts), code, seenBit(st), m.ID)
	if err != nil {
		return false, err
	}
	if next == bridge.StatusRead && !withHistory {
		if err := loadHistory(writeCtx, tx, m); err != nil {
			return false, err
		}
	}
	return true, reportChange(tx, m, now)
}

// endSendJob deletes message id's send job; settled: an attempt of it had
// begun with no outcome recorded.
func endSendJob(tx *wtx, id bridge.MessageID) (settled bool, err error) {
	rows, err := tx.Query(`DELETE FROM jobs WHERE kind = ? AND ref = ? RETURNING attempt_started`, jobSend, id)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var started int64
		if err := rows.Scan(&started); err != nil {
			return false, err
		}
		settled = settled || started > 0
	}
	return settled, rows.Err()
}

func ingestRaw(tx *wtx, ev *bridge.RawEvent, now time.Time) (bool, error) {
	key := ev.Key
	if key == "" {
		key = "anon:" + string(bridge.NewID(now))
	}
	res, err := tx.Exec(`INSERT INTO raw_events (key, field, type, raw, received_at) VALUES (?,?,?,?,?)
		ON CONFLICT(key) DO NOTHING`, key, ev.Field, ev.Type, string(ev.Raw), ms(now))
	if err != nil {
		return false, fmt.Errorf("store: insert raw event: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// statusJSONSize is room for appendStatusJSON's output: the member names
// and punctuation take 165 bytes at most, a time 35.
func statusJSONSize(st *bridge.StatusUpdate) int {
	return 200 + len(st.WAMID) + len(st.Status) + len(st.RawStatus) + len(st.Business) + len(st.Recipient.Phone) +
		len(st.Recipient.BSUID) + len(st.CallbackData) + len(st.PricingCategory) + len(st.Reason) + len(st.Raw)
}

// maxScratch bounds the writer's scratch buffer between operations.
const maxScratch = 64 << 10

// statusRecord is a status event's stored record: json.Marshal(st) with
// st.Raw appended as it is (encoding/json would scan and compact the raw
// object again, 6 % of a status webhook's CPU, although the adapters hand
// over valid JSON: see bridge.StatusUpdate.Raw). It is written into the
// writer's scratch buffer and handed to SQLite without a copy: the string
// is valid only until the writer's next statusRecord, which is enough to
// bind it (SQLite copies bound text).
func (tx *wtx) statusRecord(st *bridge.StatusUpdate) (string, error) {
	b := tx.scratch[:0]
	if n := statusJSONSize(st); cap(b) < n {
		b = make([]byte, 0, n)
	}
	b, ok := appendStatusJSON(b, st)
	if !ok {
		return marshalStatus(st)
	}
	if cap(b) <= maxScratch {
		tx.scratch = b[:0]
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// marshalStatus is statusRecord through encoding/json.
func marshalStatus(st *bridge.StatusUpdate) (string, error) {
	if len(st.Raw) == 0 {
		out, err := json.Marshal(st)
		return string(out), err
	}
	out, err := json.Marshal(statusWithoutRaw{StatusUpdate: st})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(out) + len(`,"raw":`) + len(st.Raw))
	b.Write(out[:len(out)-1]) // out ends with '}'
	b.WriteString(`,"raw":`)
	b.Write(st.Raw)
	b.WriteByte('}')
	return b.String(), nil
}

// appendStatusJSON appends what statusRecord writes for a status without
// errors, action or fallback whose strings need no escapes, without
// reflection (json.Marshal was a thirtieth of the webhook path's CPU);
// false for any other (statusRecord then marshals it).
// TestStatusJSONMatchesEncodingJSON holds it to json.Marshal.
func appendStatusJSON(b []byte, st *bridge.StatusUpdate) ([]byte, bool) {
	w := jsonlite.NewWriter(b)
	if len(st.Errors) > 0 || st.Action != 0 || st.Fallback != "" {
		w.Fail()
	}
	if y := st.Timestamp.Year(); y < 0 || y > 9999 {
		w.Fail() // json.Marshal refuses it
	}
	w.String(`{"wamid":`, st.WAMID)
	w.String(`,"status":`, string(st.Status))
	w.String(`,"raw_status":`, st.RawStatus)
	if w.OK {
		w.B = append(st.Timestamp.AppendFormat(append(w.B, `,"timestamp":"`...), time.RFC3339Nano), '"')
	}
	w.OptString(`,"business":`, st.Business)
	w.Raw(`,"recipient":{`)
	if st.Recipient.Phone != "" {
		w.String(`"phone":`, st.Recipient.Phone)
		w.OptString(`,"bsuid":`, st.Recipient.BSUID)
	} else {
		w.OptString(`"bsuid":`, st.Recipient.BSUID)
	}
	w.Raw(`}`)
	w.OptString(`,"callback_data":`, st.CallbackData)
	w.OptString(`,"pricing_category":`, st.PricingCategory)
	w.OptString(`,"reason":`, string(st.Reason))
	if w.OK && len(st.Raw) > 0 {
		w.B = append(append(w.B, `,"raw":`...), st.Raw...)
	}
	w.Raw(`}`)
	return w.B, w.OK
}

// statusWithoutRaw marshals as its StatusUpdate without the raw object:
// the outer Raw, always empty and omitted, hides the embedded one
// (encoding/json takes the shallower of two fields with one name).
type statusWithoutRaw struct {
	*bridge.StatusUpdate
	Raw json.RawMessage `json:"raw,omitempty"`
}
