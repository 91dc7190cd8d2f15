package mailbox

import (
	"context"
	"errors"
	"time"
)

// Info describes one stored mailbox.
type Info struct {
	ID          int64
	User        string // lower-cased user name
	Name        string // "INBOX", "Sent", "Archive/2026"
	UIDValidity uint32
	UIDNext     uint32
	SpecialUse  string // "\Sent", "\Drafts", … or ""
	Subscribed  bool
}

// Meta is what a mailbox keeps in memory for one message.
type Meta struct {
	UID   uint32
	Flags []string
	Date  time.Time // internal date
	Size  int64
}

// NewMessage is a message to store in a mailbox.
type NewMessage struct {
	// Key makes delivery idempotent: a second append with the same key to
	// the same mailbox stores nothing and answers the first UID. "" for
	// messages without one (a client's APPEND).
	Key string
	// MessageID is the mail's Message-ID (without angle brackets), used to
	// merge a client's APPEND to Sent with our own copy.
	MessageID string
	Flags     []string
	Date      time.Time
	Body      []byte
	// Links are the WhatsApp messages (bridge ids) a Sent copy stands for;
	// their delivery state becomes its keywords.
	Links []string
}

// FlagChange sets the flags of one message.
type FlagChange struct {
	MailboxID int64
	UID       uint32
	Flags     []string
}

// Appended is the outcome of an append.
type Appended struct {
	UID uint32
	// Existed is true when the key or Message-ID matched a stored message:
	// nothing new was stored (Flags are the merged flags).
	Existed bool
	Flags   []string
}

// Copied maps source UIDs to the UIDs of their copies.
type Copied struct {
	Source, Dest []uint32
}

// KeywordFunc returns a Sent copy's new flags: its current flags with the
// delivery keywords recomputed from the statuses of the WhatsApp messages
// it stands for.
type KeywordFunc func(flags, statuses []string) []string

// ErrExists is returned when creating a mailbox whose name is taken.
var ErrExists = errors.New("mailbox: already exists")

// ErrNoMailbox is returned for a mailbox id or name that does not exist.
var ErrNoMailbox = errors.New("mailbox: no such mailbox")

// Store keeps mailboxes durably: every method returns once its change is
// committed. UIDs are assigned by the store, strictly ascending per
// mailbox and never reused; UIDVALIDITY is fixed at creation and differs
// from any earlier mailbox of the same user.
type Store interface {
	MailMailboxes(ctx context.Context, user string) ([]Info, error)
	// MailCreateMailbox creates a mailbox (ErrExists if the name is taken,
	// compared case-insensitively for INBOX only).
	MailCreateMailbox(ctx context.Context, user, name, specialUse string) (Info, error)
	MailDeleteMailbox(ctx context.Context, id int64) error
	MailRenameMailbox(ctx context.Context, id int64, name string) error
	MailSubscribe(ctx context.Context, id int64, on bool) error
	// MailIndex lists a mailbox's messages in UID order.
	MailIndex(ctx context.Context, id int64) ([]Meta, error)
	MailBody(ctx context.Context, id int64, uid uint32) ([]byte, error)
	// MailAppendQueued queues storing msg (idempotent by msg.Key) and
	// returns a function that waits until it is committed. With
	// mergeByMessageID a message whose Message-ID is already in the
	// mailbox is merged: its flags gain msg.Flags and nothing is stored. A
	// message with Links gets its delivery keywords from kw in the same
	// transaction. Queued writes (this and MailUpdateDeliveryQueued) are
	// committed in the order they were queued, after every write whose
	// method returned before; ctx bounds only the queueing.
	MailAppendQueued(ctx context.Context, id int64, msg NewMessage, mergeByMessageID bool, kw KeywordFunc) func() (Appended, error)
	MailSetFlags(ctx context.Context, changes []FlagChange) error
	MailExpunge(ctx context.Context, id int64, uids []uint32) error
	// MailCopy copies messages (flags, date, body) to dst with new UIDs;
	// with move the sources are expunged in the same transaction.
	MailCopy(ctx context.Context, src int64, uids []uint32, dst int64, move bool) (Copied, error)
	// MailUpdateDeliveryQueued queues recomputing with kw the keywords of
	// every Sent copy linked to the WhatsApp message id, in one
	// transaction; its function waits for the commit and returns the
	// copies whose flags changed. Ordered like MailAppendQueued.
	MailUpdateDeliveryQueued(ctx context.Context, messageID string, kw KeywordFunc) func() ([]FlagChange, error)
	// MailLinked lists the Sent copies linked to a WhatsApp message.
	MailLinked(ctx context.Context, messageID string) ([]FlagChange, error)
}
