package mailbox

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Message is a mailbox's in-memory record of one message; its body stays
// in the store. Fields are guarded by the mailbox's lock. Flags is
// replaced when the flags change, never modified in place, so a copy of
// the record taken under the lock stays valid.
type Message struct {
	UID   uint32
	Flags []string
	Date  time.Time
	Size  int64
}

// Mailbox is one user's mailbox: its index in memory, its content in the
// store, and a tracker that tells every session that has it selected
// about new messages, flag changes and expunges. Every change is
// committed to the store before memory and sessions see it.
type Mailbox struct {
	svc     *Service
	tracker *imapserver.MailboxTracker

	mu      sync.Mutex
	info    Info
	msgs    []*Message
	deleted bool
	// changed is closed (and replaced) whenever an update is queued on
	// the tracker; see Changed.
	changed chan struct{}

	// Appends and delivery keywords do not hold mu while they commit, so
	// that a busy mailbox (every SMTP submission appends to Sent, every
	// WhatsApp reply to INBOX) shares the store's group commits: each
	// takes a ticket (issued) under mu as it queues its write, which is
	// the order the store commits them in, and applies its result to
	// memory when applied reaches its ticket. Writes that do hold mu
	// across their commit first wait for those in flight (settleLocked).
	issued, applied uint64
	turn            sync.Cond // L is &mu; broadcast when applied moves
}

func newMailbox(svc *Service, info Info, metas []Meta) *Mailbox {
	mb := &Mailbox{svc: svc, info: info, msgs: make([]*Message, len(metas)), changed: make(chan struct{})}
	mb.turn.L = &mb.mu
	for i, m := range metas {
		mb.msgs[i] = &Message{UID: m.UID, Flags: m.Flags, Date: m.Date, Size: m.Size}
	}
	mb.tracker = imapserver.NewMailboxTracker(uint32(len(mb.msgs)))
	return mb
}

// Info returns the mailbox's description.
func (mb *Mailbox) Info() Info {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.info
}

// Tracker returns the mailbox's update tracker (for new session views).
func (mb *Mailbox) Tracker() *imapserver.MailboxTracker { return mb.tracker }

// Changed returns a channel closed at the next update queued on the
// tracker. An idling session takes it, then polls its view, then waits
// on it: no update can fall between the two (imapserver's
// SessionTracker.Idle only wakes for updates queued after it started, so
// one queued just before IDLE would wait for the next).
func (mb *Mailbox) Changed() <-chan struct{} {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.changed
}

// ticketLocked reserves the next place in the order of queued writes;
// call it while holding mu, right before queueing the write on the store.
func (mb *Mailbox) ticketLocked() uint64 {
	mb.issued++
	return mb.issued
}

// applyInTurn waits (holding mu) until every write ticketed before t is
// applied, runs apply, and lets the next ticket go. apply runs even when
// nothing is to be applied (a failed write) so the order never stalls.
func (mb *Mailbox) applyInTurn(t uint64, apply func()) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	for mb.applied != t-1 {
		mb.turn.Wait()
	}
	apply()
	mb.applied = t
	mb.turn.Broadcast()
}

// settleLocked waits (holding mu) until every ticketed write is applied,
// so a write that holds mu across its commit sees memory that matches
// the store and commits after them.
func (mb *Mailbox) settleLocked() {
	for mb.applied != mb.issued {
		mb.turn.Wait()
	}
}

// notifyLocked wakes the idling sessions after updates were queued.
func (mb *Mailbox) notifyLocked() {
	close(mb.changed)
	mb.changed = make(chan struct{})
}

// Snapshot calls fn with the messages in UID order under the mailbox's
// lock; fn must not keep msgs nor call other methods of mb.
func (mb *Mailbox) Snapshot(fn func(info Info, msgs []*Message)) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	fn(mb.info, mb.msgs)
}

// Body reads a message's bytes from the store.
func (mb *Mailbox) Body(ctx context.Context, uid uint32) ([]byte, error) {
	return mb.svc.store.MailBody(ctx, mb.info.ID, uid)
}

func (mb *Mailbox) indexOf(uid uint32) int {
	i := sort.Search(len(mb.msgs), func(i int) bool { return mb.msgs[i].UID >= uid })
	if i < len(mb.msgs) && mb.msgs[i].UID == uid {
		return i
	}
	return -1
}

// Append stores msg (see Store.MailAppendQueued) and announces it once
// committed. It does not hold the mailbox's lock while the store commits:
// appends queued meanwhile share the commit, and are announced in UID
// order.
func (mb *Mailbox) Append(ctx context.Context, msg NewMessage, mergeByMessageID bool) (Appended, error) {
	mb.mu.Lock()
	if mb.deleted {
		mb.mu.Unlock()
		return Appended{}, ErrNoMailbox
	}
	msg.Flags = SetFlags(msg.Flags)
	if msg.Date.IsZero() {
		msg.Date = time.Now()
	}
	var kw KeywordFunc
	if len(msg.Links) > 0 {
		kw = DeliveryKeywords
	}
	t := mb.ticketLocked()
	wait := mb.svc.store.MailAppendQueued(ctx, mb.info.ID, msg, mergeByMessageID, kw)
	mb.mu.Unlock()
	a, err := wait()
	mb.applyInTurn(t, func() {
		if err == nil {
			mb.appliedAppendLocked(a, msg)
		}
	})
	return a, err
}

// appliedAppendLocked puts a committed append into memory and announces it.
func (mb *Mailbox) appliedAppendLocked(a Appended, msg NewMessage) {
	if a.Existed {
		if i := mb.indexOf(a.UID); i >= 0 && !slices.Equal(mb.msgs[i].Flags, a.Flags) {
			mb.msgs[i].Flags = a.Flags
			mb.tracker.QueueMessageFlags(uint32(i+1), imap.UID(a.UID), imapFlags(a.Flags), nil)
			mb.notifyLocked()
		}
		return
	}
	mb.msgs = append(mb.msgs, &Message{UID: a.UID, Flags: a.Flags, Date: msg.Date.UTC(), Size: int64(len(msg.Body))})
	mb.info.UIDNext = a.UID + 1
	mb.tracker.QueueNumMessages(uint32(len(mb.msgs)))
	mb.notifyLocked()
}

// SetFlags stores new flag sets by UID and announces them to every
// session except origin (which reports them itself; may be nil).
func (mb *Mailbox) SetFlags(ctx context.Context, flags map[uint32][]string, origin *imapserver.SessionTracker) error {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.settleLocked()
	var changes []FlagChange
	for uid, f := range flags {
		if i := mb.indexOf(uid); i >= 0 && !slices.Equal(mb.msgs[i].Flags, f) {
			changes = append(changes, FlagChange{MailboxID: mb.info.ID, UID: uid, Flags: f})
		}
	}
	if len(changes) == 0 {
		return nil
	}
	if err := mb.svc.store.MailSetFlags(ctx, changes); err != nil {
		return err
	}
	mb.applyLocked(changes, origin)
	return nil
}

// UpdateFlags sets the flags of each message with one of uids to
// fn(its current flags), computed under the mailbox's lock so that
// concurrent changes (two sessions' STORE +FLAGS) compose instead of
// overwriting each other; the changes are stored, then announced to every
// session except origin. It returns the resulting flags by UID (messages
// gone meanwhile are left out).
func (mb *Mailbox) UpdateFlags(ctx context.Context, uids []uint32, fn func(cur []string) []string, origin *imapserver.SessionTracker) (map[uint32][]string, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.settleLocked()
	out := make(map[uint32][]string, len(uids))
	var changes []FlagChange
	for _, uid := range uids {
		i := mb.indexOf(uid)
		if i < 0 {
			continue
		}
		f := fn(slices.Clone(mb.msgs[i].Flags))
		out[uid] = f
		if !slices.Equal(mb.msgs[i].Flags, f) {
			changes = append(changes, FlagChange{MailboxID: mb.info.ID, UID: uid, Flags: f})
		}
	}
	if len(changes) == 0 {
		return out, nil
	}
	if err := mb.svc.store.MailSetFlags(ctx, changes); err != nil {
		return nil, err
	}
	mb.applyLocked(changes, origin)
	return out, nil
}

// applyLocked puts committed flag changes into memory and announces them.
func (mb *Mailbox) applyLocked(changes []FlagChange, origin *imapserver.SessionTracker) {
	for _, c := range changes {
		if i := mb.indexOf(c.UID); i >= 0 {
			mb.msgs[i].Flags = c.Flags
			mb.tracker.QueueMessageFlags(uint32(i+1), imap.UID(c.UID), imapFlags(c.Flags), origin)
		}
	}
	mb.notifyLocked()
}

// Expunge removes the messages with the given UIDs and announces each
// removal; it returns their sequence numbers as they were announced
// (highest first).
func (mb *Mailbox) Expunge(ctx context.Context, uids []uint32) ([]uint32, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.settleLocked()
	if err := mb.svc.store.MailExpunge(ctx, mb.info.ID, uids); err != nil {
		return nil, err
	}
	return mb.removeLocked(uids), nil
}

func (mb *Mailbox) removeLocked(uids []uint32) []uint32 {
	var seqs []uint32
	for i := len(mb.msgs) - 1; i >= 0; i-- {
		if slices.Contains(uids, mb.msgs[i].UID) {
			seqs = append(seqs, uint32(i+1))
			mb.tracker.QueueExpunge(uint32(i + 1))
			mb.msgs = slices.Delete(mb.msgs, i, i+1)
		}
	}
	if len(seqs) > 0 {
		mb.notifyLocked()
	}
	return seqs
}

// CopyTo copies (or moves) messages to dst, which must be another
// mailbox. A move also returns the sequence numbers expunged here.
func (mb *Mailbox) CopyTo(ctx context.Context, uids []uint32, dst *Mailbox, move bool) (Copied, []uint32, error) {
	// Lock in id order so two opposite copies cannot deadlock. Settling
	// first while holding nothing else, then second, cannot deadlock
	// either: no new ticket on first can be issued meanwhile.
	first, second := mb, dst
	if dst.info.ID < mb.info.ID {
		first, second = dst, mb
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	first.settleLocked()
	if second != first { // a copy into the same mailbox takes one lock
		second.mu.Lock()
		defer second.mu.Unlock()
		second.settleLocked()
	}
	if dst.deleted {
		return Copied{}, nil, ErrNoMailbox
	}
	c, err := mb.svc.store.MailCopy(ctx, mb.info.ID, uids, dst.info.ID, move)
	if err != nil {
		return c, nil, err
	}
	for i, uid := range c.Source {
		src := mb.msgs[mb.indexOf(uid)]
		dst.msgs = append(dst.msgs, &Message{UID: c.Dest[i], Flags: slices.Clone(src.Flags), Date: src.Date, Size: src.Size})
		dst.info.UIDNext = c.Dest[i] + 1
		// One announcement per message: session trackers count arrivals
		// by single steps.
		dst.tracker.QueueNumMessages(uint32(len(dst.msgs)))
	}
	if len(c.Source) > 0 {
		dst.notifyLocked()
	}
	var seqs []uint32
	if move {
		seqs = mb.removeLocked(c.Source)
	}
	return c, seqs, nil
}

func imapFlags(flags []string) []imap.Flag {
	out := make([]imap.Flag, len(flags))
	for i, f := range flags {
		out[i] = imap.Flag(f)
	}
	return out
}
