package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/mailbox"
)

func mustMailbox(t *testing.T, s *SQLite, user, name string) mailbox.Info {
	t.Helper()
	in, err := s.MailCreateMailbox(context.Background(), user, name, "")
	if err != nil {
		t.Fatalf("create %s/%s: %v", user, name, err)
	}
	return in
}

func mustAppend(t *testing.T, s *SQLite, id int64, msg mailbox.NewMessage) mailbox.Appended {
	t.Helper()
	if msg.Date.IsZero() {
		msg.Date = time.Now()
	}
	if msg.Body == nil {
		msg.Body = []byte("Subject: test\r\n\r\nbody\r\n")
	}
	a, err := s.MailAppend(context.Background(), id, msg, false, nil)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return a
}

func uidsOf(t *testing.T, s *SQLite, id int64) []uint32 {
	t.Helper()
	metas, err := s.MailIndex(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint32
	for _, m := range metas {
		out = append(out, m.UID)
	}
	return out
}

func mailboxByName(t *testing.T, s *SQLite, user, name string) mailbox.Info {
	t.Helper()
	infos, err := s.MailMailboxes(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("no mailbox %s/%s in %+v", user, name, infos)
	return mailbox.Info{}
}

func countRows(t *testing.T, s *SQLite, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.reader.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMailUIDsAscendingNeverReused(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	in := mustMailbox(t, s, "agent", "INBOX")
	if in.UIDNext != 1 || in.UIDValidity == 0 || !in.Subscribed {
		t.Fatalf("new mailbox: %+v", in)
	}
	var uids []uint32
	for range 3 {
		uids = append(uids, mustAppend(t, s, in.ID, mailbox.NewMessage{}).UID)
	}
	if !slices.Equal(uids, []uint32{1, 2, 3}) {
		t.Fatalf("UIDs %v, want 1 2 3", uids)
	}
	// Expunging the highest UID does not hand it out again.
	if err := s.MailExpunge(ctx, in.ID, []uint32{3}); err != nil {
		t.Fatal(err)
	}
	if a := mustAppend(t, s, in.ID, mailbox.NewMessage{}); a.UID != 4 {
		t.Errorf("append after expunging UID 3 got UID %d, want 4", a.UID)
	}
	// Nor does emptying the mailbox.
	if err := s.MailExpunge(ctx, in.ID, []uint32{1, 2, 4}); err != nil {
		t.Fatal(err)
	}
	if got := uidsOf(t, s, in.ID); len(got) != 0 {
		t.Fatalf("after expunging all: %v", got)
	}
	if a := mustAppend(t, s, in.ID, mailbox.NewMessage{}); a.UID != 5 {
		t.Errorf("append to the emptied mailbox got UID %d, want 5", a.UID)
	}
	// Expunging what is not there is no error.
	if err := s.MailExpunge(ctx, in.ID, []uint32{1, 99}); err != nil {
		t.Errorf("expunge of missing UIDs: %v", err)
	}
	if got := mailboxByName(t, s, "agent", "INBOX"); got.UIDNext != 6 || got.UIDValidity != in.UIDValidity {
		t.Errorf("mailbox after appends: %+v (created %+v)", got, in)
	}
	// A mailbox's UIDs are its own.
	other := mustMailbox(t, s, "agent", "Other")
	if a := mustAppend(t, s, other.ID, mailbox.NewMessage{}); a.UID != 1 {
		t.Errorf("first UID of another mailbox: %d", a.UID)
	}
	if _, err := s.MailAppend(ctx, 99999, mailbox.NewMessage{Body: []byte("x"), Date: time.Now()}, false, nil); !errors.Is(err, mailbox.ErrNoMailbox) {
		t.Errorf("append to a missing mailbox: %v", err)
	}
}

// UIDVALIDITY is the creation second, but never repeats for a user: a
// mailbox deleted and created again at once gets a new one.
func TestMailUIDValidityNeverRepeats(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	seen := map[uint32]bool{}
	var last uint32
	for i := range 5 {
		in := mustMailbox(t, s, "agent", "Archive")
		if seen[in.UIDValidity] || in.UIDValidity <= last {
			t.Fatalf("round %d: UIDVALIDITY %d after %d (seen %v)", i, in.UIDValidity, last, seen)
		}
		if now := uint32(time.Now().Unix()); in.UIDValidity+60 < now {
			t.Errorf("UIDVALIDITY %d far below the clock %d", in.UIDValidity, now)
		}
		seen[in.UIDValidity], last = true, in.UIDValidity
		if err := s.MailDeleteMailbox(ctx, in.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Mailboxes created in the same second differ too.
	a, b := mustMailbox(t, s, "agent", "A"), mustMailbox(t, s, "agent", "B")
	if a.UIDValidity == b.UIDValidity || seen[a.UIDValidity] || seen[b.UIDValidity] {
		t.Errorf("UIDVALIDITY %d and %d (earlier %v)", a.UIDValidity, b.UIDValidity, seen)
	}
	// Another user has a counter of its own (any value is fine, but it is set).
	if o := mustMailbox(t, s, "other", "Archive"); o.UIDValidity == 0 {
		t.Errorf("other user's UIDVALIDITY is 0")
	}
}

func TestMailMailboxManagement(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	in := mustMailbox(t, s, "agent", "Work")
	if _, err := s.MailCreateMailbox(ctx, "agent", "Work", ""); !errors.Is(err, mailbox.ErrExists) {
		t.Errorf("create of a taken name: %v", err)
	}
	if _, err := s.MailCreateMailbox(ctx, "someone", "Work", ""); err != nil {
		t.Errorf("the same name for another user: %v", err)
	}
	sent, err := s.MailCreateMailbox(ctx, "agent", "Sent", `\Sent`)
	if err != nil || sent.SpecialUse != `\Sent` {
		t.Fatalf("create Sent: %+v %v", sent, err)
	}
	if err := s.MailRenameMailbox(ctx, in.ID, "Sent"); !errors.Is(err, mailbox.ErrExists) {
		t.Errorf("rename onto a taken name: %v", err)
	}
	if err := s.MailRenameMailbox(ctx, in.ID, "Work/2026"); err != nil {
		t.Fatal(err)
	}
	if err := s.MailSubscribe(ctx, in.ID, false); err != nil {
		t.Fatal(err)
	}
	got := mailboxByName(t, s, "agent", "Work/2026")
	if got.ID != in.ID || got.UIDValidity != in.UIDValidity || got.Subscribed {
		t.Errorf("after rename and unsubscribe: %+v (was %+v)", got, in)
	}
	for name, err := range map[string]error{
		"delete":    s.MailDeleteMailbox(ctx, 99999),
		"rename":    s.MailRenameMailbox(ctx, 99999, "X"),
		"subscribe": s.MailSubscribe(ctx, 99999, true),
	} {
		if !errors.Is(err, mailbox.ErrNoMailbox) {
			t.Errorf("%s of a missing mailbox: %v", name, err)
		}
	}
	if _, err := s.MailBody(ctx, in.ID, 1); !errors.Is(err, mailbox.ErrNoMailbox) {
		t.Errorf("body of a missing message: %v", err)
	}
}

func TestMailAppendIdempotentByKey(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	in := mustMailbox(t, s, "agent", "INBOX")
	first := mustAppend(t, s, in.ID, mailbox.NewMessage{Key: "in:m1", Body: []byte("one")})
	if first.Existed || first.UID != 1 {
		t.Fatalf("first append: %+v", first)
	}
	again := mustAppend(t, s, in.ID, mailbox.NewMessage{Key: "in:m1", Body: []byte("one, again"), Flags: []string{mailbox.FlagFlagged}})
	if !again.Existed || again.UID != 1 || len(again.Flags) != 0 {
		t.Errorf("second append with the same key: %+v", again)
	}
	if got := uidsOf(t, s, in.ID); !slices.Equal(got, []uint32{1}) {
		t.Errorf("UIDs %v, want only 1", got)
	}
	if body, err := s.MailBody(ctx, in.ID, 1); err != nil || string(body) != "one" {
		t.Errorf("body %q, %v", body, err)
	}
	if got := mailboxByName(t, s, "agent", "INBOX"); got.UIDNext != 2 {
		t.Errorf("a duplicate used a UID: UIDNEXT %d", got.UIDNext)
	}
	// Another key is another message; the same key elsewhere too.
	if a := mustAppend(t, s, in.ID, mailbox.NewMessage{Key: "in:m2"}); a.Existed || a.UID != 2 {
		t.Errorf("another key: %+v", a)
	}
	other := mustMailbox(t, s, "agent", "Other")
	if a := mustAppend(t, s, other.ID, mailbox.NewMessage{Key: "in:m1"}); a.Existed || a.UID != 1 {
		t.Errorf("the same key in another mailbox: %+v", a)
	}
	// Messages without a key are never deduplicated.
	a1 := mustAppend(t, s, in.ID, mailbox.NewMessage{Body: []byte("same")})
	a2 := mustAppend(t, s, in.ID, mailbox.NewMessage{Body: []byte("same")})
	if a1.Existed || a2.Existed || a1.UID == a2.UID {
		t.Errorf("keyless appends: %+v %+v", a1, a2)
	}
}

func TestMailAppendMergesByMessageIDOnlyWhenAsked(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	sent := mustMailbox(t, s, "agent", "Sent")
	first := mustAppend(t, s, sent.ID, mailbox.NewMessage{MessageID: "m1@x", Flags: []string{mailbox.FlagSeen, "$Delivered"}})
	// Not asked: a second message with that Message-ID is stored.
	plain, err := s.MailAppend(ctx, sent.ID, mailbox.NewMessage{MessageID: "m1@x", Body: []byte("b"), Date: time.Now()}, false, nil)
	if err != nil || plain.Existed || plain.UID == first.UID {
		t.Fatalf("append without merge: %+v %v", plain, err)
	}
	// Asked: merged into the first one (lowest UID), its flags gain the new ones.
	merged, err := s.MailAppend(ctx, sent.ID, mailbox.NewMessage{MessageID: "m1@x", Body: []byte("c"), Date: time.Now(),
		Flags: []string{`\seen`, mailbox.FlagFlagged}}, true, nil)
	if err != nil || !merged.Existed || merged.UID != first.UID {
		t.Fatalf("append with merge: %+v %v", merged, err)
	}
	if want := []string{mailbox.FlagSeen, "$Delivered", mailbox.FlagFlagged}; !slices.Equal(merged.Flags, want) {
		t.Errorf("merged flags %q, want %q", merged.Flags, want)
	}
	metas, err := s.MailIndex(ctx, sent.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) != 2 || !slices.Equal(metas[0].Flags, merged.Flags) {
		t.Errorf("index after merge: %+v", metas)
	}
	// Another Message-ID, or none, is stored even when merging.
	if a, err := s.MailAppend(ctx, sent.ID, mailbox.NewMessage{MessageID: "m2@x", Body: []byte("d"), Date: time.Now()}, true, nil); err != nil || a.Existed {
		t.Errorf("another Message-ID: %+v %v", a, err)
	}
	if a, err := s.MailAppend(ctx, sent.ID, mailbox.NewMessage{Body: []byte("e"), Date: time.Now()}, true, nil); err != nil || a.Existed {
		t.Errorf("no Message-ID: %+v %v", a, err)
	}
	// Merging looks only in the mailbox at hand.
	other := mustMailbox(t, s, "agent", "Other")
	if a, err := s.MailAppend(ctx, other.ID, mailbox.NewMessage{MessageID: "m1@x", Body: []byte("f"), Date: time.Now()}, true, nil); err != nil || a.Existed {
		t.Errorf("Message-ID of another mailbox: %+v %v", a, err)
	}
}

func TestMailCopyAndMove(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	src := mustMailbox(t, s, "agent", "INBOX")
	dst := mustMailbox(t, s, "agent", "Archive")
	date := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		mustAppend(t, s, src.ID, mailbox.NewMessage{Key: fmt.Sprintf("in:%d", i), MessageID: fmt.Sprintf("m%d@x", i),
			Flags: []string{mailbox.FlagSeen, fmt.Sprintf("$K%d", i)}, Date: date.Add(time.Duration(i) * time.Hour),
			Body: []byte(fmt.Sprintf("body %d", i))})
	}
	mustAppend(t, s, dst.ID, mailbox.NewMessage{}) // dst UID 1 is taken

	// COPY 1 and 3 (and 7, which does not exist).
	c, err := s.MailCopy(ctx, src.ID, []uint32{1, 3, 7}, dst.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Source, []uint32{1, 3}) || len(c.Dest) != 2 || c.Dest[0] < 2 || c.Dest[1] <= c.Dest[0] {
		t.Fatalf("copy: %+v", c)
	}
	if got := uidsOf(t, s, src.ID); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Errorf("source after copy: %v", got)
	}
	srcMetas, _ := s.MailIndex(ctx, src.ID)
	dstMetas, _ := s.MailIndex(ctx, dst.ID)
	byUID := func(metas []mailbox.Meta, uid uint32) mailbox.Meta {
		for _, m := range metas {
			if m.UID == uid {
				return m
			}
		}
		t.Fatalf("no UID %d in %+v", uid, metas)
		return mailbox.Meta{}
	}
	for i, su := range c.Source {
		sm, dm := byUID(srcMetas, su), byUID(dstMetas, c.Dest[i])
		if !slices.Equal(sm.Flags, dm.Flags) || !sm.Date.Equal(dm.Date) || sm.Size != dm.Size {
			t.Errorf("copy of %d: %+v, source %+v", su, dm, sm)
		}
		sb, _ := s.MailBody(ctx, src.ID, su)
		db, _ := s.MailBody(ctx, dst.ID, c.Dest[i])
		if string(sb) != string(db) {
			t.Errorf("copy of %d: body %q, source %q", su, db, sb)
		}
	}
	// A copy is not a delivery: the delivery key stays with the original.
	if a := mustAppend(t, s, dst.ID, mailbox.NewMessage{Key: "in:0"}); a.Existed {
		t.Errorf("the delivery key was copied: %+v", a)
	}
	// The copy keeps the Message-ID (merging finds it).
	if a, err := s.MailAppend(ctx, dst.ID, mailbox.NewMessage{MessageID: "m2@x", Body: []byte("x"), Date: date}, true, nil); err != nil || !a.Existed || a.UID != c.Dest[1] {
		t.Errorf("merge into a copy by Message-ID: %+v %v", a, err)
	}

	// MOVE 2 and 3: copies made, sources gone, in one go.
	next := mailboxByName(t, s, "agent", "Archive").UIDNext
	m, err := s.MailCopy(ctx, src.ID, []uint32{2, 3}, dst.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Source, []uint32{2, 3}) || !slices.Equal(m.Dest, []uint32{next, next + 1}) {
		t.Errorf("move: %+v (UIDNEXT was %d)", m, next)
	}
	if got := uidsOf(t, s, src.ID); !slices.Equal(got, []uint32{1}) {
		t.Errorf("source after move: %v", got)
	}
	if b, err := s.MailBody(ctx, dst.ID, m.Dest[0]); err != nil || string(b) != "body 1" {
		t.Errorf("moved body %q, %v", b, err)
	}

	// A move that fails (no destination) changes nothing: the expunge is
	// in the same transaction as the copy.
	if _, err := s.MailCopy(ctx, src.ID, []uint32{1}, 99999, true); !errors.Is(err, mailbox.ErrNoMailbox) {
		t.Errorf("move to a missing mailbox: %v", err)
	}
	if got := uidsOf(t, s, src.ID); !slices.Equal(got, []uint32{1}) {
		t.Errorf("source after a failed move: %v", got)
	}
}

// outbound stores an outbound message (queued, with its send job) as the
// SMTP edge submits one.
func outbound(t *testing.T, s *SQLite, key string) bridge.MessageID {
	t.Helper()
	now := time.Now()
	m := &bridge.Message{ID: bridge.NewID(now), Direction: bridge.Outbound, Business: "+15550100001",
		Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindText,
		Content: bridge.Content{Text: "hello"}, Channel: bridge.ChannelWhatsApp, Status: bridge.StatusQueued,
		Origin: "smtp:agent", IdempotencyKey: key, CreatedAt: now, UpdatedAt: now}
	id, created, err := s.CreateOutbound(context.Background(), m)
	if err != nil || !created {
		t.Fatalf("create outbound: %v %v", created, err)
	}
	return id
}

// status moves an outbound message by a provider status event.
func status(t *testing.T, s *SQLite, id bridge.MessageID, st bridge.Status) {
	t.Helper()
	_, err := s.Ingest(context.Background(), []bridge.Event{{Status: &bridge.StatusUpdate{
		WAMID: "wamid." + string(id), Status: st, RawStatus: string(st), Timestamp: time.Now(), CallbackData: string(id)}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Message(context.Background(), string(id))
	if err != nil || m.Status != st {
		t.Fatalf("message %s: %v %v, want %s", id, m, err, st)
	}
}

func flagsAt(t *testing.T, s *SQLite, id int64, uid uint32) string {
	t.Helper()
	metas, err := s.MailIndex(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metas {
		if m.UID == uid {
			return strings.Join(m.Flags, " ")
		}
	}
	t.Fatalf("no UID %d", uid)
	return ""
}

func TestMailUpdateDeliveryFollowsLinkedMessages(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	sent := mustMailbox(t, s, "agent", "Sent")
	m1, m2 := outbound(t, s, "mail-1@x|+4915112345678|0"), outbound(t, s, "mail-1@x|+4915112345678|1")
	a, err := s.MailAppend(ctx, sent.ID, mailbox.NewMessage{Key: "sent:mail-1@x", MessageID: "mail-1@x",
		Flags: []string{mailbox.FlagSeen}, Date: time.Now(), Body: []byte("Subject: s\r\n\r\nb\r\n"),
		Links: []string{string(m1)}}, true, mailbox.DeliveryKeywords)
	if err != nil || a.Existed || strings.Join(a.Flags, " ") != `\Seen` {
		t.Fatalf("Sent copy: %+v %v", a, err)
	}
	// The same mail saved again for its second message: links add up.
	b, err := s.MailAppend(ctx, sent.ID, mailbox.NewMessage{Key: "sent:mail-1@x", MessageID: "mail-1@x",
		Flags: []string{mailbox.FlagSeen}, Date: time.Now(), Body: []byte("x"),
		Links: []string{string(m2), string(m1)}}, true, mailbox.DeliveryKeywords)
	if err != nil || !b.Existed || b.UID != a.UID {
		t.Fatalf("Sent copy again: %+v %v", b, err)
	}
	for _, id := range []bridge.MessageID{m1, m2} {
		l, err := s.MailLinked(ctx, string(id))
		if err != nil || len(l) != 1 || l[0].MailboxID != sent.ID || l[0].UID != a.UID {
			t.Errorf("MailLinked(%s) = %+v %v", id, l, err)
		}
	}
	update := func(id bridge.MessageID) []mailbox.FlagChange {
		t.Helper()
		ch, err := s.MailUpdateDelivery(ctx, string(id), mailbox.DeliveryKeywords)
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	if ch := update(m1); len(ch) != 0 {
		t.Errorf("queued messages changed flags: %+v", ch)
	}
	status(t, s, m1, bridge.StatusDelivered)
	if ch := update(m1); len(ch) != 0 {
		t.Errorf("one of two delivered changed flags: %+v", ch)
	}
	status(t, s, m2, bridge.StatusDelivered)
	ch := update(m2)
	if len(ch) != 1 || ch[0].MailboxID != sent.ID || ch[0].UID != a.UID || strings.Join(ch[0].Flags, " ") != `\Seen $Delivered` {
		t.Fatalf("both delivered: %+v", ch)
	}
	if got := flagsAt(t, s, sent.ID, a.UID); got != `\Seen $Delivered` {
		t.Errorf("stored flags %q", got)
	}
	if ch := update(m2); len(ch) != 0 {
		t.Errorf("a repeated update reported changes: %+v", ch)
	}
	status(t, s, m1, bridge.StatusRead)
	status(t, s, m2, bridge.StatusRead)
	if ch := update(m1); len(ch) != 1 || strings.Join(ch[0].Flags, " ") != `\Seen $Delivered $Read` {
		t.Errorf("both read: %+v", ch)
	}

	// A second mail: one message fails → $Failed, whatever the other does.
	m3, m4 := outbound(t, s, "mail-2@x|+4915112345678|0"), outbound(t, s, "mail-2@x|+4915112345678|1")
	c, err := s.MailAppend(ctx, sent.ID, mailbox.NewMessage{Key: "sent:mail-2@x", MessageID: "mail-2@x",
		Flags: []string{mailbox.FlagSeen, mailbox.FlagFlagged}, Date: time.Now(), Body: []byte("y"),
		Links: []string{string(m3), string(m4)}}, true, mailbox.DeliveryKeywords)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Fail(ctx, m3, bridge.ReasonNotOnWhatsApp, 131026, "not on WhatsApp", time.Now()); err != nil {
		t.Fatal(err)
	}
	status(t, s, m4, bridge.StatusDelivered)
	if ch := update(m3); len(ch) != 1 || ch[0].UID != c.UID || strings.Join(ch[0].Flags, " ") != `\Seen \Flagged $Failed` {
		t.Errorf("one failed: %+v", ch)
	}
	// The first mail is untouched by the second's updates.
	if got := flagsAt(t, s, sent.ID, a.UID); got != `\Seen $Delivered $Read` {
		t.Errorf("first mail's flags %q", got)
	}
	// A Sent copy appended after its messages moved gets its keywords at once.
	m5 := outbound(t, s, "mail-3@x|+4915112345678|0")
	status(t, s, m5, bridge.StatusRead)
	d, err := s.MailAppend(ctx, sent.ID, mailbox.NewMessage{Key: "sent:mail-3@x", MessageID: "mail-3@x",
		Flags: []string{mailbox.FlagSeen}, Date: time.Now(), Body: []byte("z"),
		Links: []string{string(m5)}}, true, mailbox.DeliveryKeywords)
	if err != nil || strings.Join(d.Flags, " ") != `\Seen $Delivered $Read` || flagsAt(t, s, sent.ID, d.UID) != `\Seen $Delivered $Read` {
		t.Errorf("late Sent copy: %+v %v", d, err)
	}
	// Unknown message ids change nothing.
	if ch := update("no-such-message"); len(ch) != 0 {
		t.Errorf("unknown message: %+v", ch)
	}
}

// Copies of Sent messages keep their links: their keywords follow too.
func TestMailCopyKeepsLinks(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	sent := mustMailbox(t, s, "agent", "Sent")
	arch := mustMailbox(t, s, "agent", "Archive")
	m1 := outbound(t, s, "")
	a, err := s.MailAppend(ctx, sent.ID, mailbox.NewMessage{Key: "sent:x@x", MessageID: "x@x", Date: time.Now(),
		Body: []byte("x"), Links: []string{string(m1)}}, true, mailbox.DeliveryKeywords)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.MailCopy(ctx, sent.ID, []uint32{a.UID}, arch.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	status(t, s, m1, bridge.StatusDelivered)
	ch, err := s.MailUpdateDelivery(ctx, string(m1), mailbox.DeliveryKeywords)
	if err != nil || len(ch) != 2 {
		t.Fatalf("update: %+v %v", ch, err)
	}
	if flagsAt(t, s, arch.ID, c.Dest[0]) != "$Delivered" || flagsAt(t, s, sent.ID, a.UID) != "$Delivered" {
		t.Errorf("flags: Sent %q, Archive %q", flagsAt(t, s, sent.ID, a.UID), flagsAt(t, s, arch.ID, c.Dest[0]))
	}
}

func TestMailDeleteMailboxRemovesMessagesAndLinks(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	keep := mustMailbox(t, s, "agent", "Sent")
	gone := mustMailbox(t, s, "agent", "Old")
	m1 := outbound(t, s, "")
	for _, id := range []int64{keep.ID, gone.ID} {
		if _, err := s.MailAppend(ctx, id, mailbox.NewMessage{Key: "sent:x@x", MessageID: "x@x", Date: time.Now(),
			Body: []byte("x"), Links: []string{string(m1)}}, true, mailbox.DeliveryKeywords); err != nil {
			t.Fatal(err)
		}
		mustAppend(t, s, id, mailbox.NewMessage{})
	}
	if err := s.MailDeleteMailbox(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, `SELECT count(*) FROM mail_messages WHERE mailbox_id = ?`, gone.ID); n != 0 {
		t.Errorf("%d messages left in the deleted mailbox", n)
	}
	if n := countRows(t, s, `SELECT count(*) FROM mail_links WHERE mailbox_id = ?`, gone.ID); n != 0 {
		t.Errorf("%d links left to the deleted mailbox", n)
	}
	l, err := s.MailLinked(ctx, string(m1))
	if err != nil || len(l) != 1 || l[0].MailboxID != keep.ID {
		t.Errorf("links after delete: %+v %v", l, err)
	}
	if n := countRows(t, s, `SELECT count(*) FROM mail_messages WHERE mailbox_id = ?`, keep.ID); n != 2 {
		t.Errorf("the other mailbox has %d messages, want 2", n)
	}
	// Expunging a linked message drops its link too.
	if err := s.MailExpunge(ctx, keep.ID, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	if l, err := s.MailLinked(ctx, string(m1)); err != nil || len(l) != 0 {
		t.Errorf("links after expunge: %+v %v", l, err)
	}
	if n := countRows(t, s, `SELECT count(*) FROM mail_links`); n != 0 {
		t.Errorf("%d links left", n)
	}
	if _, err := s.MailIndex(ctx, gone.ID); err != nil {
		t.Errorf("index of a deleted mailbox: %v", err)
	}
}

// Everything about mailboxes survives closing and reopening the store.
func TestMailPersistsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.db")
	ctx := context.Background()
	s, err := OpenSQLite(ctx, SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	inbox := mustMailbox(t, s, "agent", "INBOX")
	arch, err := s.MailCreateMailbox(ctx, "agent", "Archive", `\Archive`)
	if err != nil {
		t.Fatal(err)
	}
	date := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	for i := range 4 {
		mustAppend(t, s, inbox.ID, mailbox.NewMessage{Key: fmt.Sprintf("in:%d", i), Date: date.Add(time.Duration(i) * time.Minute),
			Body: []byte(fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i))})
	}
	if err := s.MailSetFlags(ctx, []mailbox.FlagChange{
		{MailboxID: inbox.ID, UID: 2, Flags: []string{mailbox.FlagSeen, mailbox.FlagFlagged, "$Label1"}},
		{MailboxID: inbox.ID, UID: 3, Flags: []string{mailbox.FlagDeleted}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.MailExpunge(ctx, inbox.ID, []uint32{3}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MailCopy(ctx, inbox.ID, []uint32{4}, arch.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := s.MailSubscribe(ctx, arch.ID, false); err != nil {
		t.Fatal(err)
	}
	type state struct {
		boxes  []mailbox.Info
		index  map[int64][]mailbox.Meta
		bodies map[string]string
	}
	snapshot := func(s *SQLite) state {
		t.Helper()
		st := state{index: map[int64][]mailbox.Meta{}, bodies: map[string]string{}}
		boxes, err := s.MailMailboxes(ctx, "agent")
		if err != nil {
			t.Fatal(err)
		}
		st.boxes = boxes
		for _, b := range boxes {
			metas, err := s.MailIndex(ctx, b.ID)
			if err != nil {
				t.Fatal(err)
			}
			st.index[b.ID] = metas
			for _, m := range metas {
				body, err := s.MailBody(ctx, b.ID, m.UID)
				if err != nil {
					t.Fatal(err)
				}
				st.bodies[fmt.Sprint(b.ID, "/", m.UID)] = string(body)
			}
		}
		return st
	}
	before := snapshot(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := OpenSQLite(ctx, SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	after := snapshot(s2)
	if fmt.Sprintf("%+v", before.boxes) != fmt.Sprintf("%+v", after.boxes) {
		t.Errorf("mailboxes:\nbefore %+v\nafter  %+v", before.boxes, after.boxes)
	}
	for id, metas := range before.index {
		got := after.index[id]
		if len(got) != len(metas) {
			t.Errorf("mailbox %d: %d messages, had %d", id, len(got), len(metas))
			continue
		}
		for i := range metas {
			if got[i].UID != metas[i].UID || !slices.Equal(got[i].Flags, metas[i].Flags) ||
				!got[i].Date.Equal(metas[i].Date) || got[i].Size != metas[i].Size {
				t.Errorf("mailbox %d message %d: %+v, had %+v", id, i, got[i], metas[i])
			}
		}
	}
	if fmt.Sprint(before.bodies) != fmt.Sprint(after.bodies) {
		t.Errorf("bodies:\nbefore %v\nafter  %v", before.bodies, after.bodies)
	}
	// The concrete values, not just equality.
	if got := uidsOf(t, s2, inbox.ID); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("INBOX UIDs %v", got)
	}
	if got := flagsAt(t, s2, inbox.ID, 2); got != `\Seen \Flagged $Label1` {
		t.Errorf("INBOX 2 flags %q", got)
	}
	if metas := after.index[inbox.ID]; len(metas) == 2 && !metas[1].Date.Equal(date.Add(time.Minute)) {
		t.Errorf("internal date %v, want %v", metas[1].Date, date.Add(time.Minute))
	}
	a := mailboxByName(t, s2, "agent", "Archive")
	if a.UIDValidity != arch.UIDValidity || a.UIDNext != 2 || a.Subscribed || a.SpecialUse != `\Archive` {
		t.Errorf("Archive after reopen: %+v", a)
	}
	// UIDs continue, never reused; delivery keys still deduplicate.
	if got := mustAppend(t, s2, inbox.ID, mailbox.NewMessage{}); got.UID != 5 {
		t.Errorf("append after reopen: UID %d, want 5", got.UID)
	}
	if got := mustAppend(t, s2, inbox.ID, mailbox.NewMessage{Key: "in:1"}); !got.Existed || got.UID != 2 {
		t.Errorf("a known delivery key after reopen: %+v", got)
	}
	if got := mustMailbox(t, s2, "agent", "New"); got.UIDValidity <= arch.UIDValidity {
		t.Errorf("UIDVALIDITY after reopen %d, not above %d", got.UIDValidity, arch.UIDValidity)
	}
}
