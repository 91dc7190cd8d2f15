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

// AddPart implements bridge.Store.
func (s *SQLite) AddPart(ctx context.Context, p *bridge.Part, build func([]bridge.Part) (*bridge.Message, error)) (bridge.MessageID, *bridge.Message, error) {
	var (
		id  bridge.MessageID
		out *bridge.Message
	)
	err := s.commit.write(ctx, func(tx *wtx) error {
		id, out = p.ID, nil
		var existing string
		err := tx.QueryRow(`SELECT part_id FROM parts WHERE origin = ? AND key = ? AND seq = ?`, p.Origin, p.Key, p.Seq).Scan(&existing)
		if err == nil {
			id = bridge.MessageID(existing) // a repeated part
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO parts (origin, key, seq, total, part_id, body, data, received_at) VALUES (?,?,?,?,?,?,?,?)`,
			p.Origin, p.Key, p.Seq, p.Total, p.ID, p.Text, string(p.Data), ms(p.ReceivedAt)); err != nil {
			return fmt.Errorf("store: insert part: %w", err)
		}
		parts, err := setParts(tx, p.Origin, p.Key)
		if err != nil {
			return err
		}
		if len(parts) < p.Total {
			return nil
		}
		m, err := build(parts)
		if err != nil {
			return err
		}
		if err := createOutbound(tx, m); err != nil {
			return err
		}
		for _, part := range parts {
			if _, err := tx.Exec(`INSERT INTO part_ids (part_id, message_id) VALUES (?,?)`, part.ID, m.ID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(`DELETE FROM parts WHERE origin = ? AND key = ?`, p.Origin, p.Key); err != nil {
			return err
		}
		out = m
		return nil
	})
	return id, out, err
}

const partColumns = `part_id, origin, key, seq, total, body, data, received_at, expired`

func scanPart(row interface{ Scan(...any) error }) (bridge.Part, error) {
	var (
		p        bridge.Part
		data     string
		received int64
	)
	err := row.Scan(&p.ID, &p.Origin, &p.Key, &p.Seq, &p.Total, &p.Text, &data, &received, &p.Expired)
	if data != "" {
		p.Data = json.RawMessage(data)
	}
	p.ReceivedAt = fromMS(received)
	return p, err
}

func setParts(tx *wtx, origin, key string) ([]bridge.Part, error) {
	rows, err := tx.Query(`SELECT `+partColumns+` FROM parts WHERE origin = ? AND key = ? AND expired = 0 ORDER BY seq`, origin, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bridge.Part
	for rows.Next() {
		p, err := scanPart(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ExpireParts implements bridge.Store.
func (s *SQLite) ExpireParts(ctx context.Context, before time.Time) ([]bridge.Part, error) {
	var out []bridge.Part
	err := s.commit.write(ctx, func(tx *wtx) error {
		out = out[:0]
		// A set expires as a whole, by its oldest part.
		rows, err := tx.Query(`UPDATE parts SET expired = 1 WHERE expired = 0 AND (origin, key) IN
			(SELECT origin, key FROM parts WHERE expired = 0 GROUP BY origin, key HAVING MIN(received_at) < ?)
			RETURNING `+partColumns, ms(before))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanPart(rows)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	return out, err
}

// Part implements bridge.Store.
func (s *SQLite) Part(ctx context.Context, id bridge.MessageID) (*bridge.Part, error) {
	p, err := scanPart(s.reader.QueryRowContext(ctx, `SELECT `+partColumns+` FROM parts WHERE part_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bridge.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// DeletePart implements bridge.Store.
func (s *SQLite) DeletePart(ctx context.Context, id bridge.MessageID) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(`DELETE FROM parts WHERE part_id = ?`, id)
		return err
	})
}
