package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// fallbackTx moves m to SMS inside tx (see bridge.Store.Fallback).
func fallbackTx(tx *wtx, m *bridge.Message, trigger bridge.Trigger, why string, at time.Time) (bool, error) {
	switch {
	case m.Direction != bridge.Outbound, m.Channel == bridge.ChannelSMS,
		m.Status == bridge.StatusDelivered, m.Status == bridge.StatusRead, m.Status == bridge.StatusFailed:
		return false, nil
	}
	rec, err := json.Marshal(&bridge.SendRecord{How: "sms_fallback", Why: why})
	if err != nil {
		return false, err
	}
	if _, err := tx.Exec(`UPDATE messages SET channel = ?, fallback = ?, send_record = ?, updated_at = ? WHERE id = ?`,
		bridge.ChannelSMS, trigger, string(rec), ms(at), m.ID); err != nil {
		return false, err
	}
	if _, err := tx.Exec(`DELETE FROM jobs WHERE kind IN (?, ?) AND ref = ?`, jobSend, bridge.JobFallbackTimeout, m.ID); err != nil {
		return false, err
	}
	if err := enqueue(tx, bridge.JobSMS, string(m.ID), at); err != nil {
		return false, err
	}
	m.Channel, m.Fallback, m.UpdatedAt = bridge.ChannelSMS, trigger, at
	return true, nil
}

// Fallback implements bridge.Store.
func (s *SQLite) Fallback(ctx context.Context, id bridge.MessageID, trigger bridge.Trigger, why string, at time.Time) (*bridge.Message, bool, error) {
	var (
		out   *bridge.Message
		moved bool
	)
	err := s.commit.write(ctx, func(tx *wtx) error {
		m, err := loadMessage(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		out = m
		moved, err = fallbackTx(tx, m, trigger, why, at)
		return err
	})
	return out, moved, err
}

// SMSSubmitted implements bridge.Store.
func (s *SQLite) SMSSubmitted(ctx context.Context, id bridge.MessageID, route string, partIDs []string, at time.Time) (*bridge.Message, error) {
	var out *bridge.Message
	err := s.commit.write(ctx, func(tx *wtx) error {
		m, err := loadMessage(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		out = m
		for i, p := range partIDs {
			if _, err := tx.Exec(`INSERT INTO sms_parts (message_id, idx, route, part_id, at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT DO NOTHING`, id, i, route, p, ms(at)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(`DELETE FROM jobs WHERE kind = ? AND ref = ?`, bridge.JobSMS, id); err != nil {
			return err
		}
		// Receipts may have come first (a fast SMSC): apply them now.
		return combineParts(ctx, tx, m, bridge.StatusSent, at)
	})
	return out, err
}

// smsFinal are the receipt states after which a part will not be delivered.
var smsFinal = map[string]bool{bridge.SMSUndeliverable: true, bridge.SMSRejected: true, bridge.SMSExpired: true, bridge.SMSDeleted: true}

// combineParts moves m to the state its parts' receipts add up to:
// delivered when every part is, failed when one part finally failed,
// else floor (sent after a submission).
func combineParts(ctx context.Context, tx *wtx, m *bridge.Message, floor bridge.Status, at time.Time) error {
	rows, err := tx.QueryContext(ctx, `SELECT stat, code FROM sms_parts WHERE message_id = ? ORDER BY idx`, m.ID)
	if err != nil {
		return err
	}
	var (
		n, delivered, failCode int
		failed                 string
	)
	for rows.Next() {
		var (
			stat string
			code int
		)
		if err := rows.Scan(&stat, &code); err != nil {
			rows.Close()
			return err
		}
		n++
		switch {
		case stat == bridge.SMSDelivered:
			delivered++
		case smsFinal[stat] && failed == "":
			failed, failCode = stat, code
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	next := floor
	switch {
	case failed != "":
		next = bridge.StatusFailed
	case n > 0 && delivered == n:
		next = bridge.StatusDelivered
	}
	if next == "" || bridge.Advance(m.Status, next) == m.Status {
		return nil
	}
	m.Status = bridge.Advance(m.Status, next)
	m.UpdatedAt = at
	if m.Status == bridge.StatusFailed {
		m.Reason, m.ErrorCode, m.ErrorMessage = bridge.ReasonSMSFailed, failCode, "SMS receipt: "+failed
	}
	if err := addHistory(tx, m.ID, m.Status, at, m.ErrorCode); err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE messages SET status = ?, reason = ?, error_code = ?, error_message = ?, updated_at = ? WHERE id = ?`,
		m.Status, m.Reason, m.ErrorCode, m.ErrorMessage, ms(at), m.ID); err != nil {
		return err
	}
	return reportChange(tx, m, at)
}

// IngestSMS implements bridge.Store.
func (s *SQLite) IngestSMS(ctx context.Context, events []bridge.SMSEvent) (bridge.IngestOutcome, error) {
	var out bridge.IngestOutcome
	now := time.Now()
	err := s.commit.write(ctx, func(tx *wtx) error {
		out = bridge.IngestOutcome{}
		for _, ev := range events {
			if ev.MO != nil {
				if err := ingestInboundInto(tx, ev.MO, now, &out); err != nil {
					return err
				}
				continue
			}
			at := ev.At
			if at.IsZero() {
				at = now
			}
			var id string
			err := tx.QueryRow(`SELECT message_id FROM sms_parts WHERE route = ? AND part_id = ?`, ev.Route, ev.PartID).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				out.Other++ // a receipt for nothing we sent (or sent before a crash lost the ids)
				continue
			}
			if err != nil {
				return err
			}
			// A part's final state stays: callbacks may come out of order
			// (Twilio says so), and a late "sent" must not undo "delivered".
			q := `UPDATE sms_parts SET stat = ?, code = ?, at = ? WHERE route = ? AND part_id = ? AND stat <> ?`
			if !finalSMSStat(ev.Stat) {
				q += ` AND stat NOT IN ('DELIVRD', 'UNDELIV', 'REJECTD', 'EXPIRED', 'DELETED')`
			}
			res, err := tx.Exec(q, ev.Stat, ev.ErrorCode, ms(at), ev.Route, ev.PartID, ev.Stat)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				out.Duplicates++
				continue
			}
			out.Statuses++
			m, err := loadMessage(ctx, tx, `id = ?`, id)
			if err != nil {
				return fmt.Errorf("store: receipt for %s: %w", id, err)
			}
			before := m.Status
			if err := combineParts(ctx, tx, m, "", at); err != nil {
				return err
			}
			if m.Status != before {
				out.Changed = append(out.Changed, m)
			}
		}
		return nil
	})
	return out, err
}

// finalSMSStat reports whether a receipt state is final.
func finalSMSStat(stat string) bool {
	switch stat {
	case bridge.SMSDelivered, bridge.SMSUndeliverable, bridge.SMSRejected, bridge.SMSExpired, bridge.SMSDeleted:
		return true
	}
	return false
}

// LastInboundChannel implements bridge.Store.
func (s *SQLite) LastInboundChannel(ctx context.Context, business, customer string) (bridge.Channel, error) {
	var ch bridge.Channel
	err := s.reader.QueryRowContext(ctx, `SELECT channel FROM messages WHERE business = ? AND customer = ? AND direction = 'inbound'
		ORDER BY created_at DESC LIMIT 1`, business, customer).Scan(&ch)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return ch, err
}
