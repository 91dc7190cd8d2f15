// Package mailbox keeps the mail users' IMAP mailboxes: durable in the
// store, indexed in memory, with change tracking for IMAP sessions. It
// also fills them: customers' WhatsApp messages into INBOX (an
// InboundConsumer), Sent copies of submitted mail with their delivery
// state as keywords and bounces for mail that finally failed (a
// StatusReporter for "smtp:" origins).
package mailbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/wabridge/wabridge/bridge"
)

// Well-known mailbox names. INBOX and Sent always exist.
const (
	Inbox = "INBOX"
	Sent  = "Sent"
)

// Delim is the hierarchy delimiter of mailbox names.
const Delim = '/'

// Config configures the service.
type Config struct {
	Domain string // the mail domain of customer addresses
	Users  *Users
	// OpenFile opens a stored media file for rendering (FileStore.Open).
	OpenFile func(ctx context.Context, id string) (io.ReadCloser, *bridge.File, error)
	// DisableMapLink leaves map links out of locations.
	DisableMapLink bool
	Log            *slog.Logger
	// Metrics counts logins and deliveries; optional.
	Metrics Metrics
	// HeaderCacheBytes bounds the cache of recently read messages'
	// header blocks (Mailbox.Header), shared by every mailbox; 0: none.
	HeaderCacheBytes int64
}

// Metrics receives the mail edges' counts.
type Metrics interface {
	// Login counts a login by protocol ("smtp", "imap") and result ("ok", "failed").
	Login(protocol, result string)
	// Delivered counts a mail newly stored by kind ("inbox", "sent", "bounce").
	Delivered(kind string)
}

type noMetrics struct{}

func (noMetrics) Login(string, string) {}
func (noMetrics) Delivered(string)     {}

// Service holds every user's mailboxes.
type Service struct {
	cfg   Config
	store Store
	log   *slog.Logger

	headers *headerCache

	mu    sync.Mutex
	users map[string]*userBoxes // by Users key
}

type userBoxes struct {
	mu    sync.Mutex // guards boxes; held while creating, deleting, renaming
	boxes map[string]*Mailbox
}

// New returns the service over store.
func New(store Store, cfg Config) (*Service, error) {
	if cfg.Domain == "" {
		return nil, errors.New("mailbox: the mail domain is required")
	}
	if cfg.Users == nil {
		cfg.Users, _ = NewUsers(nil)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	return &Service{cfg: cfg, store: store, log: cfg.Log, headers: newHeaderCache(cfg.HeaderCacheBytes),
		users: map[string]*userBoxes{}}, nil
}

// Users returns the user directory.
func (s *Service) Users() *Users { return s.cfg.Users }

// Login authenticates a user of protocol ("smtp", "imap") and counts the
// attempt; nil when the name or password is wrong.
func (s *Service) Login(protocol, username, password string) *User {
	u := s.cfg.Users.Authenticate(username, password)
	result := "ok"
	if u == nil {
		result = "failed"
	}
	s.cfg.Metrics.Login(protocol, result)
	return u
}

// NormalizeName spells INBOX in capitals (its name is case-insensitive)
// and drops a trailing delimiter.
func NormalizeName(name string) string {
	name = strings.TrimRight(name, string(Delim))
	if strings.EqualFold(name, Inbox) {
		return Inbox
	}
	if len(name) > 6 && strings.EqualFold(name[:6], Inbox+string(Delim)) {
		return Inbox + name[5:]
	}
	return name
}

// defaultSpecialUse gives the conventional names their RFC 6154 use.
var defaultSpecialUse = map[string]string{
	"sent": `\Sent`, "drafts": `\Drafts`, "trash": `\Trash`,
	"archive": `\Archive`, "junk": `\Junk`, "spam": `\Junk`,
}

// load returns the user's mailboxes, loading them on first use and
// creating INBOX and Sent when missing.
func (s *Service) load(ctx context.Context, user string) (*userBoxes, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ub := s.users[user]; ub != nil {
		return ub, nil
	}
	infos, err := s.store.MailMailboxes(ctx, user)
	if err != nil {
		return nil, err
	}
	ub := &userBoxes{boxes: map[string]*Mailbox{}}
	for _, in := range infos {
		metas, err := s.store.MailIndex(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		ub.boxes[in.Name] = newMailbox(s, in, metas)
	}
	for _, name := range []string{Inbox, Sent} {
		if ub.boxes[name] != nil {
			continue
		}
		in, err := s.store.MailCreateMailbox(ctx, user, name, defaultSpecialUse[strings.ToLower(name)])
		if err != nil {
			return nil, err
		}
		ub.boxes[name] = newMailbox(s, in, nil)
	}
	s.users[user] = ub
	return ub, nil
}

// Mailboxes lists the user's mailboxes (INBOX and Sent at least).
func (s *Service) Mailboxes(ctx context.Context, user string) ([]*Mailbox, error) {
	ub, err := s.load(ctx, user)
	if err != nil {
		return nil, err
	}
	ub.mu.Lock()
	defer ub.mu.Unlock()
	out := make([]*Mailbox, 0, len(ub.boxes))
	for _, mb := range ub.boxes {
		out = append(out, mb)
	}
	return out, nil
}

// Mailbox returns one of the user's mailboxes, or ErrNoMailbox.
func (s *Service) Mailbox(ctx context.Context, user, name string) (*Mailbox, error) {
	ub, err := s.load(ctx, user)
	if err != nil {
		return nil, err
	}
	ub.mu.Lock()
	defer ub.mu.Unlock()
	if mb := ub.boxes[NormalizeName(name)]; mb != nil {
		return mb, nil
	}
	return nil, ErrNoMailbox
}

// Create makes a mailbox. Without an explicit special use, the
// conventional names (Drafts, Trash, Archive, Junk, Spam, Sent) get theirs.
func (s *Service) Create(ctx context.Context, user, name, specialUse string) error {
	name = NormalizeName(name)
	if name == "" {
		return fmt.Errorf("mailbox: empty name")
	}
	ub, err := s.load(ctx, user)
	if err != nil {
		return err
	}
	ub.mu.Lock()
	defer ub.mu.Unlock()
	if ub.boxes[name] != nil {
		return ErrExists
	}
	// Missing parents are created too (RFC 3501 6.3.3): "a/b/c" makes
	// "a" and "a/b".
	for i, r := range name {
		if r != Delim || i == 0 {
			continue
		}
		if parent := name[:i]; ub.boxes[parent] == nil {
			in, err := s.store.MailCreateMailbox(ctx, user, parent, "")
			if err != nil {
				return err
			}
			ub.boxes[parent] = newMailbox(s, in, nil)
		}
	}
	if specialUse == "" {
		specialUse = defaultSpecialUse[strings.ToLower(name)]
	}
	in, err := s.store.MailCreateMailbox(ctx, user, name, specialUse)
	if err != nil {
		return err
	}
	ub.boxes[name] = newMailbox(s, in, nil)
	return nil
}

// ErrProtected is returned for deleting or renaming INBOX or Sent.
var ErrProtected = errors.New("mailbox: INBOX and Sent cannot be deleted or renamed")

// Delete removes a mailbox and its messages.
func (s *Service) Delete(ctx context.Context, user, name string) error {
	name = NormalizeName(name)
	if name == Inbox || name == Sent {
		return ErrProtected
	}
	ub, err := s.load(ctx, user)
	if err != nil {
		return err
	}
	ub.mu.Lock()
	defer ub.mu.Unlock()
	mb := ub.boxes[name]
	if mb == nil {
		return ErrNoMailbox
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.settleLocked()
	if err := s.store.MailDeleteMailbox(ctx, mb.info.ID); err != nil {
		return err
	}
	mb.deleted = true
	delete(ub.boxes, name)
	s.headers.forget(mb)
	return nil
}

// Rename renames a mailbox (its UIDVALIDITY and UIDs stay).
func (s *Service) Rename(ctx context.Context, user, from, to string) error {
	from, to = NormalizeName(from), NormalizeName(to)
	if from == Inbox || from == Sent {
		return ErrProtected
	}
	ub, err := s.load(ctx, user)
	if err != nil {
		return err
	}
	ub.mu.Lock()
	defer ub.mu.Unlock()
	mb := ub.boxes[from]
	if mb == nil {
		return ErrNoMailbox
	}
	if ub.boxes[to] != nil || to == "" {
		return ErrExists
	}
	// The mailbox and its children ("from/…" becomes "to/…", RFC 3501
	// 6.3.5); each keeps its UIDVALIDITY and UIDs.
	renames := map[string]string{from: to}
	for name := range ub.boxes {
		if strings.HasPrefix(name, from+string(Delim)) {
			nn := to + name[len(from):]
			if ub.boxes[nn] != nil {
				return ErrExists
			}
			renames[name] = nn
		}
	}
	for old, nn := range renames {
		b := ub.boxes[old]
		b.mu.Lock()
		b.settleLocked()
		err := s.store.MailRenameMailbox(ctx, b.info.ID, nn)
		if err == nil {
			b.info.Name = nn
		}
		b.mu.Unlock()
		if err != nil {
			return err
		}
		delete(ub.boxes, old)
		ub.boxes[nn] = b
	}
	return nil
}

// Subscribe sets a mailbox's subscription.
func (s *Service) Subscribe(ctx context.Context, user, name string, on bool) error {
	mb, err := s.Mailbox(ctx, user, name)
	if err != nil {
		return err
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := s.store.MailSubscribe(ctx, mb.info.ID, on); err != nil {
		return err
	}
	mb.info.Subscribed = on
	return nil
}

// byID finds a loaded mailbox by id (nil if its user is not loaded: the
// store then already holds the change and the next load sees it).
func (s *Service) byID(id int64) *Mailbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ub := range s.users {
		ub.mu.Lock()
		for _, mb := range ub.boxes {
			if mb.info.ID == id {
				ub.mu.Unlock()
				return mb
			}
		}
		ub.mu.Unlock()
	}
	return nil
}
