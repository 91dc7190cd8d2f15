package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

const jobSend = "send"

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// queryer is what both the writer's transaction (*wtx) and the reader
// pool (*readDB) offer for reads.
type queryer interface {
	queryRow(ctx context.Context, query string, args ...any) rowScanner
	query(ctx context.Context, query string, args ...any) (rowIter, error)
}

const messageColumns = `id, direction, business, customer_phone, customer_bsuid, kind, content,
	COALESCE(wamid, ''), channel, status, reason, error_code, error_message, origin,
	COALESCE(idempotency_key, ''), profile_name, ts, created_at, updated_at, origin_data, send_record, fallback`

// scanMessage reads a row of messageColumns, then into extra the columns
// selected after them.
func scanMessage(row interface{ Scan(...any) error }, extra ...any) (*bridge.Message, error) {
	var (
		m                   bridge.Message
		content             string
		ts, created, update int64
		originData, record  string
	)
	dest := append([]any{&m.ID, &m.Direction, &m.Business, &m.Customer.Phone, &m.Customer.BSUID,
		&m.Kind, &content, &m.WAMID, &m.Channel, &m.Status, &m.Reason, &m.ErrorCode,
		&m.ErrorMessage, &m.Origin, &m.IdempotencyKey, &m.ProfileName, &ts, &created, &update, &originData, &record, &m.Fallback},
		extra...)
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bridge.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read message: %w", err)
	}
	if content != "" {
		if err := json.Unmarshal([]byte(content), &m.Content); err != nil {
			return nil, fmt.Errorf("store: message %s content: %w", m.ID, err)
		}
	}
	m.Timestamp, m.CreatedAt, m.UpdatedAt = fromMS(ts), fromMS(created), fromMS(update)
	if originData != "" {
		m.OriginData = json.RawMessage(originData)
	}
	if record != "" {
		m.SendRecord = &bridge.SendRecord{}
		if err := json.Unmarshal([]byte(record), m.SendRecord); err != nil {
			return nil, fmt.Errorf("store: message %s send record: %w", m.ID, err)
		}
	}
	return &m, nil
}

func loadMessage(ctx context.Context, q queryer, where string, args ...any) (*bridge.Message, error) {
	var history string
	m, err := scanMessage(q.queryRow(ctx, `SELECT `+messageColumns+`, history FROM messages WHERE `+where, args...), &history)
	if err != nil {
		return nil, err
	}
	if m.History, err = decodeHistory(history); err != nil {
		return nil, fmt.Errorf("store: message %s history: %w", m.ID, err)
	}
	return m, nil
}

// reportByID reads a message for a bridge.StatusOnly reporter: the
// columns of messageColumns, but the content and the send record are read
// as empty strings (scanMessage then decodes no JSON). Derived from
// messageColumns so the two lists cannot drift apart.
var reportByID = `SELECT ` +
	strings.NewReplacer(" content,", " '',", " send_record,", " '',").Replace(messageColumns) +
	` FROM messages WHERE id = ?`

// loadMessageHead is loadMessage without the history (its column is not
// read nor decoded), for callers that never look at it.
func loadMessageHead(ctx context.Context, q queryer, where string, args ...any) (*bridge.Message, error) {
	return scanMessage(q.queryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE `+where, args...))
}

// statusColumns are what applying a status reads of its message: the
// columns a status change writes, reports and is observed by (created_at:
// an SMPP receipt's submit date). The content, send record and the other
// timestamps are left out (Content is empty, SendRecord nil): decoding them
// was a tenth of the writer's time per status webhook.
const statusColumns = `id, direction, business, customer_phone, customer_bsuid, kind,
	COALESCE(wamid, ''), channel, status, reason, error_code, error_message, origin, origin_data, created_at, updated_at, fallback,
	IFNULL(seen, -1)`

// The queries loadStatusTarget runs, whole (built per call they were an
// allocation of their text each).
const (
	statusTargetByID    = `SELECT ` + statusColumns + ` FROM messages WHERE id = ?`
	statusTargetByOurID = `SELECT ` + statusColumns + ` FROM messages WHERE id = ? AND direction = 'outbound'`
)

// loadStatusTarget reads the message a status applies to (statusColumns,
// without its history; see applyStatus) and its seen bits (-1: a row of
// a version before them, see ingestStatus) with query, one of
// statusTargetByID and statusTargetByOurID.
func loadStatusTarget(tx *wtx, query string, args ...any) (*bridge.Message, int64, error) {
	var (
		m          bridge.Message
		created    int64
		updated    int64
		originData string
		seen       int64
	)
	err := tx.QueryRow(query, args...).Scan(
		&m.ID, &m.Direction, &m.Business, &m.Customer.Phone, &m.Customer.BSUID, &m.Kind,
		&m.WAMID, &m.Channel, &m.Status, &m.Reason, &m.ErrorCode, &m.ErrorMessage, &m.Origin,
		&originData, &created, &updated, &m.Fallback, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, bridge.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("store: read message: %w", err)
	}
	m.CreatedAt, m.UpdatedAt = fromMS(created), fromMS(updated)
	if originData != "" {
		m.OriginData = json.RawMessage(originData)
	}
	return &m, seen, nil
}

// loadHistory replaces m.History with what is stored (incl. this
// transaction's entries).
func loadHistory(ctx context.Context, q queryer, m *bridge.Message) error {
	var history string
	if err := q.queryRow(ctx, `SELECT history FROM messages WHERE id = ?`, m.ID).Scan(&history); err != nil {
		return fmt.Errorf("store: read history: %w", err)
	}
	h, err := decodeHistory(history)
	if err != nil {
		return fmt.Errorf("store: message %s history: %w", m.ID, err)
	}
	m.History = h
	return nil
}

// A message's history is kept in its row (column history, migration 13):
// a JSON array of [status, at (unix ms), code], in the order observed.
// Entries are appended in SQL (historyAppend), so a status change need not
// read the history to add to it.

// historyAppend is the SQL expression that appends one entry, its three
// values bound in order: status, at, code.
const historyAppend = `json_insert(history, '$[#]', json_array(?, ?, ?))`

// firstHistory is the history of a message created with status st at at.
func firstHistory(st bridge.Status, at time.Time) (string, error) {
	name, err := json.Marshal(string(st))
	if err != nil {
		return "", err
	}
	return `[[` + string(name) + `,` + strconv.FormatInt(ms(at), 10) + `,0]]`, nil
}

// decodeHistory reads a history column.
func decodeHistory(s string) ([]bridge.HistoryEntry, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var rows [][3]json.RawMessage
	if err := json.Unmarshal([]byte(s), &rows); err != nil {
		return nil, err
	}
	out := make([]bridge.HistoryEntry, len(rows))
	for i, r := range rows {
		var at int64
		if err := json.Unmarshal(r[0], &out[i].Status); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(r[1], &at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(r[2], &out[i].Code); err != nil {
			return nil, err
		}
		out[i].At = fromMS(at)
	}
	return out, nil
}

// insertMessage writes a new message with its first history entry (its
// status at its creation).
func insertMessage(tx *wtx, m *bridge.Message) error {
	content, err := json.Marshal(m.Content)
	if err != nil {
		return fmt.Errorf("store: encode content: %w", err)
	}
	history, err := firstHistory(m.Status, m.CreatedAt)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO messages (id, direction, business, customer, customer_phone, customer_bsuid,
		kind, content, wamid, channel, status, reason, error_code, error_message, origin, idempotency_key,
		profile_name, ts, created_at, updated_at, origin_data, history, seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)`,
		m.ID, m.Direction, m.Business, m.Customer.Key(), m.Customer.Phone, m.Customer.BSUID,
		m.Kind, string(content), nullable(m.WAMID), m.Channel, m.Status, m.Reason, m.ErrorCode,
		m.ErrorMessage, m.Origin, nullable(m.IdempotencyKey), m.ProfileName, ms(m.Timestamp),
		ms(m.CreatedAt), ms(m.UpdatedAt), string(m.OriginData), history)
	return err
}

// addHistory appends one entry to message id's history.
func addHistory(tx *wtx, id bridge.MessageID, st bridge.Status, at time.Time, code int) error {
	return addSeenHistory(tx, id, st, at, code, 0)
}

// addSeenHistory is addHistory for a provider status: it also records the
// status's seen bit (see seenBit; 0 records none).
func addSeenHistory(tx *wtx, id bridge.MessageID, st bridge.Status, at time.Time, code int, bit int64) error {
	_, err := tx.Exec(`UPDATE messages SET history = `+historyAppend+`, seen = seen | ? WHERE id = ?`, st, ms(at), code, bit, id)
	return err
}

// CreateOutbound implements bridge.Store.
func (s *SQLite) CreateOutbound(ctx context.Context, m *bridge.Message) (bridge.MessageID, bool, error) {
	return s.CreateOutboundQueued(ctx, m)()
}

// CreateOutboundQueued implements bridge.OutboundQueuer: the write is
// handed to the writer at once and commits after every write queued
// before it; wait returns once it is durable.
func (s *SQLite) CreateOutboundQueued(ctx context.Context, m *bridge.Message) (wait func() (bridge.MessageID, bool, error)) {
	id, created := m.ID, true
	done := s.commit.queue(ctx, func(tx *wtx) error {
		id, created = m.ID, true
		if m.IdempotencyKey != "" {
			var existing string
			err := tx.QueryRow(`SELECT id FROM messages WHERE origin = ? AND idempotency_key = ?`,
				m.Origin, m.IdempotencyKey).Scan(&existing)
			if err == nil {
				id, created = bridge.MessageID(existing), false
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		return createOutbound(tx, m)
	})
	return func() (bridge.MessageID, bool, error) {
		if err := done(); err != nil {
			return "", false, err
		}
		return id, created, nil
	}
}

// CreateOutboundBatch commits many new outbound messages (each with its
// history entry and send job, as CreateOutbound) in one transaction: bulk
// imports and the load tool's queue seeding. Idempotency keys are not
// checked; a duplicate id fails the whole batch.
func (s *SQLite) CreateOutboundBatch(ctx context.Context, ms []*bridge.Message) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		for _, m := range ms {
			if err := createOutbound(tx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

// Message implements bridge.Store.
func (s *SQLite) Message(ctx context.Context, idOrWAMID string) (*bridge.Message, error) {
	return s.findMessage(ctx, idOrWAMID, loadMessage)
}

// MessageHead implements bridge.MessageHeadReader: Message without the
// history.
func (s *SQLite) MessageHead(ctx context.Context, idOrWAMID string) (*bridge.Message, error) {
	return s.findMessage(ctx, idOrWAMID, loadMessageHead)
}

// MessageForReport implements bridge.MessageReportReader.
func (s *SQLite) MessageForReport(ctx context.Context, id string) (*bridge.Message, error) {
	return scanMessage(s.reader.queryRow(ctx, reportByID, id))
}

func (s *SQLite) findMessage(ctx context.Context, idOrWAMID string,
	load func(context.Context, queryer, string, ...any) (*bridge.Message, error)) (*bridge.Message, error) {
	m, err := load(ctx, s.reader, `id = ?`, idOrWAMID)
	if errors.Is(err, bridge.ErrNotFound) {
		m, err = load(ctx, s.reader, `wamid = ?`, idOrWAMID)
	}
	if errors.Is(err, bridge.ErrNotFound) {
		// The id of one part of a concatenated submission.
		m, err = load(ctx, s.reader, `id = (SELECT message_id FROM part_ids WHERE part_id = ?)`, idOrWAMID)
	}
	return m, err
}

// MessageByKey implements bridge.Store.
func (s *SQLite) MessageByKey(ctx context.Context, origin, key string) (*bridge.Message, error) {
	return loadMessage(ctx, s.reader, `origin = ? AND idempotency_key = ?`, origin, key)
}

// RecordSend implements bridge.Store.
func (s *SQLite) RecordSend(ctx context.Context, id bridge.MessageID, rec *bridge.SendRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.commit.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(`UPDATE messages SET send_record = ? WHERE id = ?`, string(data), id)
		return err
	})
}

// Consent implements bridge.Store.
func (s *SQLite) Consent(ctx context.Context, customer string) (*bridge.Consent, error) {
	if !s.consented.has(customer) {
		return nil, bridge.ErrNotFound
	}
	c := bridge.Consent{Customer: customer}
	var at int64
	err := s.reader.QueryRowContext(ctx, `SELECT opted_out, at, source, keyword, ref FROM consent WHERE customer = ?`, customer).
		Scan(&c.OptedOut, &at, &c.Source, &c.Keyword, &c.Ref)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bridge.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.At = fromMS(at)
	return &c, nil
}

// SetConsent implements bridge.Store: the change applies unless the
// stored one is newer.
func (s *SQLite) SetConsent(ctx context.Context, c bridge.Consent) (bool, error) {
	var applied bool
	s.consented.add(c.Customer) // before the commit: a read after it looks
	err := s.commit.write(ctx, func(tx *wtx) error {
		res, err := tx.Exec(`INSERT INTO consent (customer, opted_out, at, source, keyword, ref) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (customer) DO UPDATE SET opted_out = excluded.opted_out, at = excluded.at, source = excluded.source,
				keyword = excluded.keyword, ref = excluded.ref
			WHERE excluded.at >= consent.at`, c.Customer, c.OptedOut, ms(c.At), c.Source, c.Keyword, c.Ref)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		applied = n > 0
		return err
	})
	return applied, err
}

// Initiate implements bridge.Store.
func (s *SQLite) Initiate(ctx context.Context, customer string, now time.Time, limit int) (bool, error) {
	var ok bool
	err := s.commit.write(ctx, func(tx *wtx) error {
		since := ms(now.Add(-24 * time.Hour))
		var last int64
		err := tx.QueryRow(`SELECT at FROM initiations WHERE customer = ?`, customer).Scan(&last)
		switch {
		case err == nil && last > since:
			ok = true // already in this window of 24 hours
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		default:
			if limit > 0 {
				var n int
				if err := tx.QueryRow(`SELECT count(*) FROM initiations WHERE at > ?`, since).Scan(&n); err != nil {
					return err
				}
				if n >= limit {
					ok = false
					return nil
				}
			}
			ok = true
		}
		_, err = tx.Exec(`INSERT INTO initiations (customer, at) VALUES (?, ?)
			ON CONFLICT (customer) DO UPDATE SET at = excluded.at`,
			customer, ms(now))
		return err
	})
	return ok, err
}

// LastInbound implements bridge.Store.
func (s *SQLite) LastInbound(ctx context.Context, business, customer string) (time.Time, error) {
	var v int64
	err := s.reader.QueryRowContext(ctx, `SELECT last_inbound FROM windows WHERE business = ? AND customer = ?`,
		business, customer).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: window: %w", err)
	}
	return fromMS(v), nil
}

// OutboxDepth implements bridge.Store.
func (s *SQLite) OutboxDepth(ctx context.Context) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs WHERE kind = ?`, jobSend).Scan(&n)
	return n, err
}

// JobDepth counts jobs of a kind not yet done.
func (s *SQLite) JobDepth(ctx context.Context, kind string) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs WHERE kind = ?`, kind).Scan(&n)
	return n, err
}

// Purge implements bridge.Store: bodies of messages created before the
// cut-off are emptied (the record, status and history stay).
func (s *SQLite) Purge(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.commit.write(ctx, func(tx *wtx) error {
		res, err := tx.Exec(`UPDATE messages SET content = '{}', purged = 1
			WHERE purged = 0 AND created_at < ? AND id NOT IN (SELECT ref FROM jobs WHERE kind = ?)`,
			ms(before), jobSend)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM raw_events WHERE received_at < ?`, ms(before)); err != nil {
			return err
		}
		// Status events stay (they are the idempotency record); their JSON goes.
		_, err = tx.Exec(`UPDATE status_events SET event = '{}' WHERE received_at < ? AND event <> '{}'`, ms(before))
		return err
	})
	return int(n), err
}

// createOutbound writes a new outbound message with its first history
// entry, its send job (due at NotBefore, if later) and its expiry job.
func createOutbound(tx *wtx, m *bridge.Message) error {
	if m.WAMID != "" {
		// Recording a wamid ends the send job (Accepted, ingestStatus);
		// a status ingest relies on it.
		return fmt.Errorf("store: new outbound message %s already has a provider id", m.ID)
	}
	if err := insertMessage(tx, m); err != nil {
		return fmt.Errorf("store: insert message: %w", err)
	}
	runAt := m.CreatedAt
	if m.NotBefore.After(runAt) {
		runAt = m.NotBefore
	}
	if _, err := tx.Exec(`INSERT INTO jobs (kind, ref, run_at, conv) VALUES (?,?,?,?) ON CONFLICT DO NOTHING`,
		jobSend, string(m.ID), ms(runAt), m.Business+" "+m.Customer.Key()); err != nil {
		return fmt.Errorf("store: enqueue send: %w", err)
	}
	if m.ExpiresAt.IsZero() {
		return nil
	}
	return enqueue(tx, bridge.JobExpire, string(m.ID), m.ExpiresAt)
}
