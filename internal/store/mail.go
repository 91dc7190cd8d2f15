package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wabridge/wabridge/internal/mailbox"
)

// The IMAP mailboxes (internal/mailbox) live in the same database as the
// messages, written through the same group commit.

var _ mailbox.Store = (*SQLite)(nil)

func joinFlags(flags []string) string { return strings.Join(flags, " ") }

func splitFlags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

const mailboxColumns = `id, username, name, uid_validity, uid_next, special_use, subscribed`

func scanMailbox(row interface{ Scan(...any) error }) (mailbox.Info, error) {
	var in mailbox.Info
	err := row.Scan(&in.ID, &in.User, &in.Name, &in.UIDValidity, &in.UIDNext, &in.SpecialUse, &in.Subscribed)
	if errors.Is(err, sql.ErrNoRows) {
		return in, mailbox.ErrNoMailbox
	}
	return in, err
}

// MailMailboxes implements mailbox.Store.
func (s *SQLite) MailMailboxes(ctx context.Context, user string) ([]mailbox.Info, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+mailboxColumns+` FROM mail_mailboxes WHERE username = ? ORDER BY name`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mailbox.Info
	for rows.Next() {
		in, err := scanMailbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// MailCreateMailbox implements mailbox.Store.
func (s *SQLite) MailCreateMailbox(ctx context.Context, user, name, specialUse string) (mailbox.Info, error) {
	var in mailbox.Info
	err := s.commit.write(ctx, func(tx *wtx) error {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM mail_mailboxes WHERE username = ? AND name = ?`, user, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return mailbox.ErrExists
		}
		// UIDVALIDITY: the creation time in seconds, or one more than the
		// last one this user got, whichever is larger.
		var last int64
		err := tx.QueryRow(`SELECT last_uid_validity FROM mail_counters WHERE username = ?`, user).Scan(&last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		v := max(time.Now().Unix(), last+1)
		if v > 1<<32-1 {
			return errors.New("store: UIDVALIDITY exhausted")
		}
		if _, err := tx.Exec(`INSERT INTO mail_counters (username, last_uid_validity) VALUES (?, ?)
			ON CONFLICT (username) DO UPDATE SET last_uid_validity = excluded.last_uid_validity`, user, v); err != nil {
			return err
		}
		res, err := tx.Exec(`INSERT INTO mail_mailboxes (username, name, uid_validity, special_use) VALUES (?, ?, ?, ?)`,
			user, name, v, specialUse)
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		in = mailbox.Info{ID: id, User: user, Name: name, UIDValidity: uint32(v), UIDNext: 1, SpecialUse: specialUse, Subscribed: true}
		return nil
	})
	return in, err
}

func mustAffect(res liteResult, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return mailbox.ErrNoMailbox
	}
	return nil
}

// MailDeleteMailbox implements mailbox.Store.
func (s *SQLite) MailDeleteMailbox(ctx context.Context, id int64) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		return mustAffect(tx.Exec(`DELETE FROM mail_mailboxes WHERE id = ?`, id))
	})
}

// MailRenameMailbox implements mailbox.Store.
func (s *SQLite) MailRenameMailbox(ctx context.Context, id int64, name string) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM mail_mailboxes WHERE name = ?
			AND username = (SELECT username FROM mail_mailboxes WHERE id = ?)`, name, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return mailbox.ErrExists
		}
		return mustAffect(tx.Exec(`UPDATE mail_mailboxes SET name = ? WHERE id = ?`, name, id))
	})
}

// MailSubscribe implements mailbox.Store.
func (s *SQLite) MailSubscribe(ctx context.Context, id int64, on bool) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		return mustAffect(tx.Exec(`UPDATE mail_mailboxes SET subscribed = ? WHERE id = ?`, on, id))
	})
}

// MailIndex implements mailbox.Store.
func (s *SQLite) MailIndex(ctx context.Context, id int64) ([]mailbox.Meta, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT uid, flags, internal_date, size FROM mail_messages
		WHERE mailbox_id = ? ORDER BY uid`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mailbox.Meta
	for rows.Next() {
		var (
			m     mailbox.Meta
			flags string
			date  int64
		)
		if err := rows.Scan(&m.UID, &flags, &date, &m.Size); err != nil {
			return nil, err
		}
		m.Flags, m.Date = splitFlags(flags), fromMS(date)
		out = append(out, m)
	}
	return out, rows.Err()
}

// MailBody implements mailbox.Store.
func (s *SQLite) MailBody(ctx context.Context, id int64, uid uint32) ([]byte, error) {
	var body []byte
	err := s.reader.QueryRowContext(ctx, `SELECT body FROM mail_messages WHERE mailbox_id = ? AND uid = ?`, id, uid).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: message %d/%d: %w", id, uid, mailbox.ErrNoMailbox)
	}
	return body, err
}

// nextUID takes the next UID of a mailbox.
func nextUID(tx *wtx, id int64) (uint32, error) {
	var uid uint32
	err := tx.QueryRow(`UPDATE mail_mailboxes SET uid_next = uid_next + 1 WHERE id = ? RETURNING uid_next - 1`, id).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, mailbox.ErrNoMailbox
	}
	return uid, err
}

// mailByMessageIDQuery finds a mailbox's first mail with a Message-ID. Its
// test that message_id is not empty makes the partial index
// mail_messages_message_id usable (a bound "message_id = ?" alone does not
// imply the index's condition) and INDEXED BY
// keeps the planner from walking the mailbox in uid order instead: either way
// it scanned the whole mailbox on every append.
const mailByMessageIDQuery = `SELECT uid, flags FROM mail_messages INDEXED BY mail_messages_message_id
	WHERE mailbox_id = ? AND message_id = ? AND message_id <> '' ORDER BY uid LIMIT 1`

// MailAppend stores msg and returns once it is committed (see
// MailAppendQueued).
func (s *SQLite) MailAppend(ctx context.Context, id int64, msg mailbox.NewMessage, mergeByMessageID bool, kw mailbox.KeywordFunc) (mailbox.Appended, error) {
	return s.MailAppendQueued(ctx, id, msg, mergeByMessageID, kw)()
}

// MailAppendQueued implements mailbox.Store.
func (s *SQLite) MailAppendQueued(ctx context.Context, id int64, msg mailbox.NewMessage, mergeByMessageID bool, kw mailbox.KeywordFunc) func() (mailbox.Appended, error) {
	var out mailbox.Appended
	wait := s.commit.queue(ctx, func(tx *wtx) error {
		out = mailbox.Appended{}
		var (
			uid   uint32
			flags string
			err   error = sql.ErrNoRows
		)
		if msg.Key != "" {
			err = tx.QueryRow(`SELECT uid, flags FROM mail_messages WHERE mailbox_id = ? AND delivery_key = ?`, id, msg.Key).Scan(&uid, &flags)
		}
		if errors.Is(err, sql.ErrNoRows) && mergeByMessageID && msg.MessageID != "" {
			err = tx.QueryRow(mailByMessageIDQuery, id, msg.MessageID).Scan(&uid, &flags)
			if err == nil {
				merged := mergeFlags(splitFlags(flags), msg.Flags)
				if _, err := tx.Exec(`UPDATE mail_messages SET flags = ? WHERE mailbox_id = ? AND uid = ?`, joinFlags(merged), id, uid); err != nil {
					return err
				}
				flags = joinFlags(merged)
			}
		}
		switch {
		case err == nil:
			out = mailbox.Appended{UID: uid, Existed: true, Flags: splitFlags(flags)}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		default:
			if uid, err = nextUID(tx, id); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO mail_messages (mailbox_id, uid, delivery_key, message_id, flags, internal_date, size, body)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, uid, nullable(msg.Key), msg.MessageID, joinFlags(msg.Flags),
				ms(msg.Date), len(msg.Body), msg.Body); err != nil {
				return err
			}
			out = mailbox.Appended{UID: uid, Flags: msg.Flags}
		}
		// Links add up: the same mail submitted again for other
		// recipients stands for their messages too.
		for _, l := range msg.Links {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO mail_links (mailbox_id, uid, message_id) VALUES (?, ?, ?)`, id, uid, l); err != nil {
				return err
			}
		}
		if len(msg.Links) > 0 && kw != nil {
			changes, err := updateDelivery(tx, []mailbox.FlagChange{{MailboxID: id, UID: uid, Flags: out.Flags}}, kw)
			if err != nil {
				return err
			}
			if len(changes) > 0 {
				out.Flags = changes[0].Flags
			}
		}
		return nil
	})
	return func() (mailbox.Appended, error) {
		err := wait()
		return out, err
	}
}

// mergeFlags adds the flags of add that cur lacks (case-insensitively).
func mergeFlags(cur, add []string) []string {
	out := append([]string(nil), cur...)
next:
	for _, f := range add {
		for _, c := range out {
			if strings.EqualFold(c, f) {
				continue next
			}
		}
		out = append(out, f)
	}
	return out
}

// MailSetFlags implements mailbox.Store.
func (s *SQLite) MailSetFlags(ctx context.Context, changes []mailbox.FlagChange) error {
	return s.commit.write(ctx, func(tx *wtx) error {
		for _, c := range changes {
			if _, err := tx.Exec(`UPDATE mail_messages SET flags = ? WHERE mailbox_id = ? AND uid = ?`,
				joinFlags(c.Flags), c.MailboxID, c.UID); err != nil {
				return err
			}
		}
		return nil
	})
}

// MailExpunge implements mailbox.Store.
func (s *SQLite) MailExpunge(ctx context.Context, id int64, uids []uint32) error {
	return s.commit.write(ctx, func(tx *wtx) error { return expunge(tx, id, uids) })
}

func expunge(tx *wtx, id int64, uids []uint32) error {
	for _, uid := range uids {
		if _, err := tx.Exec(`DELETE FROM mail_messages WHERE mailbox_id = ? AND uid = ?`, id, uid); err != nil {
			return err
		}
	}
	return nil
}

// MailCopy implements mailbox.Store. Copies keep flags, date, body,
// Message-ID and links, not the delivery key (a copy is not a delivery).
func (s *SQLite) MailCopy(ctx context.Context, src int64, uids []uint32, dst int64, move bool) (mailbox.Copied, error) {
	var out mailbox.Copied
	err := s.commit.write(ctx, func(tx *wtx) error {
		out = mailbox.Copied{}
		for _, uid := range uids {
			nuid, err := nextUID(tx, dst)
			if err != nil {
				return err
			}
			res, err := tx.Exec(`INSERT INTO mail_messages (mailbox_id, uid, message_id, flags, internal_date, size, body)
				SELECT ?, ?, message_id, flags, internal_date, size, body FROM mail_messages WHERE mailbox_id = ? AND uid = ?`,
				dst, nuid, src, uid)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // gone meanwhile; the UID stays unused
			}
			if _, err := tx.Exec(`INSERT OR IGNORE INTO mail_links (mailbox_id, uid, message_id)
				SELECT ?, ?, message_id FROM mail_links WHERE mailbox_id = ? AND uid = ?`, dst, nuid, src, uid); err != nil {
				return err
			}
			out.Source, out.Dest = append(out.Source, uid), append(out.Dest, nuid)
		}
		if move {
			return expunge(tx, src, out.Source)
		}
		return nil
	})
	return out, err
}

// linked lists the copies linked to a WhatsApp message, with their flags.
func linked(q queryer, ctx context.Context, messageID string) ([]mailbox.FlagChange, error) {
	rows, err := q.query(ctx, `SELECT l.mailbox_id, l.uid, m.flags FROM mail_links l
		JOIN mail_messages m ON m.mailbox_id = l.mailbox_id AND m.uid = l.uid
		WHERE l.message_id = ? ORDER BY l.mailbox_id, l.uid`, messageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []mailbox.FlagChange
	for rows.Next() {
		var (
			c     mailbox.FlagChange
			flags string
		)
		if err := rows.Scan(&c.MailboxID, &c.UID, &flags); err != nil {
			return nil, err
		}
		c.Flags = splitFlags(flags)
		out = append(out, c)
	}
	return out, rows.Err()
}

// MailLinked implements mailbox.Store.
func (s *SQLite) MailLinked(ctx context.Context, messageID string) ([]mailbox.FlagChange, error) {
	return linked(s.reader, ctx, messageID)
}

// MailUpdateDelivery recomputes the keywords of a message's Sent copies and
// returns once that is committed (see MailUpdateDeliveryQueued).
func (s *SQLite) MailUpdateDelivery(ctx context.Context, messageID string, kw mailbox.KeywordFunc) ([]mailbox.FlagChange, error) {
	return s.MailUpdateDeliveryQueued(ctx, messageID, kw)()
}

// MailUpdateDeliveryQueued implements mailbox.Store.
func (s *SQLite) MailUpdateDeliveryQueued(ctx context.Context, messageID string, kw mailbox.KeywordFunc) func() ([]mailbox.FlagChange, error) {
	var out []mailbox.FlagChange
	wait := s.commit.queue(ctx, func(tx *wtx) error {
		copies, err := linked(tx, context.Background(), messageID)
		if err != nil {
			return err
		}
		out, err = updateDelivery(tx, copies, kw)
		return err
	})
	return func() ([]mailbox.FlagChange, error) {
		err := wait()
		return out, err
	}
}

// updateDelivery recomputes the flags of copies from the statuses of all
// the messages each is linked to, and stores those that changed.
func updateDelivery(tx *wtx, copies []mailbox.FlagChange, kw mailbox.KeywordFunc) ([]mailbox.FlagChange, error) {
	var changed []mailbox.FlagChange
	for _, c := range copies {
		rows, err := tx.Query(`SELECT m.status FROM mail_links l JOIN messages m ON m.id = l.message_id
			WHERE l.mailbox_id = ? AND l.uid = ?`, c.MailboxID, c.UID)
		if err != nil {
			return nil, err
		}
		var statuses []string
		for rows.Next() {
			var st string
			if err := rows.Scan(&st); err != nil {
				rows.Close()
				return nil, err
			}
			statuses = append(statuses, st)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		flags := kw(c.Flags, statuses)
		if joinFlags(flags) == joinFlags(c.Flags) {
			continue
		}
		if _, err := tx.Exec(`UPDATE mail_messages SET flags = ? WHERE mailbox_id = ? AND uid = ?`,
			joinFlags(flags), c.MailboxID, c.UID); err != nil {
			return nil, err
		}
		changed = append(changed, mailbox.FlagChange{MailboxID: c.MailboxID, UID: c.UID, Flags: flags})
	}
	return changed, nil
}
