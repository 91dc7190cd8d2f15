package mailbox_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/mailbox"
	"github.com/wabridge/wabridge/internal/store"
)

const (
	business = "+15550100001"
	customer = "+4915112345678"
	domain   = "wa.example.com"
)

type countingMetrics struct {
	mu        sync.Mutex
	delivered map[string]int
	logins    map[string]int
}

func (m *countingMetrics) Login(protocol, result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.logins[protocol+"/"+result]++
}

func (m *countingMetrics) Delivered(kind string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delivered[kind]++
}

func (m *countingMetrics) get(kind string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.delivered[kind]
}

type env struct {
	st      *store.SQLite
	svc     *mailbox.Service
	metrics *countingMetrics
	path    string
}

// newEnv opens a store in a temp dir and a service with three users:
// agent and boss list the business number, other another one.
func newEnv(t *testing.T) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.db")
	st, err := store.OpenSQLite(context.Background(), store.SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{st: st, path: path, metrics: &countingMetrics{delivered: map[string]int{}, logins: map[string]int{}}}
	e.svc = e.service(t)
	return e
}

func (e *env) service(t *testing.T) *mailbox.Service {
	t.Helper()
	users, err := mailbox.NewUsers([]mailbox.User{
		{Username: "agent", Password: "pw", Numbers: []string{business}},
		{Username: "Boss", Password: "pw", Numbers: []string{"+15550100002", business}},
		{Username: "other", Password: "pw", Numbers: []string{"+15550100003"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := mailbox.New(e.st, mailbox.Config{Domain: domain, Users: users, Metrics: e.metrics, HeaderCacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (e *env) box(t *testing.T, user, name string) *mailbox.Mailbox {
	t.Helper()
	mb, err := e.svc.Mailbox(context.Background(), user, name)
	if err != nil {
		t.Fatalf("mailbox %s/%s: %v", user, name, err)
	}
	return mb
}

// messages copies a mailbox's in-memory index.
func messages(mb *mailbox.Mailbox) []mailbox.Message {
	var out []mailbox.Message
	mb.Snapshot(func(_ mailbox.Info, msgs []*mailbox.Message) {
		for _, m := range msgs {
			c := *m
			c.Flags = slices.Clone(m.Flags)
			out = append(out, c)
		}
	})
	return out
}

func inboundText(text string) *bridge.Message {
	now := time.Now()
	return &bridge.Message{ID: bridge.NewID(now), Direction: bridge.Inbound, Business: business,
		Customer: bridge.Customer{Phone: customer}, Kind: bridge.KindText, Content: bridge.Content{Text: text},
		WAMID: "wamid." + string(bridge.NewID(now)), Channel: bridge.ChannelWhatsApp, Status: bridge.StatusReceived,
		ProfileName: "Anna", Timestamp: now.Add(-time.Minute).Truncate(time.Second), CreatedAt: now, UpdatedAt: now}
}

func TestServiceCreatesInboxAndSent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	boxes, err := e.svc.Mailboxes(ctx, "agent")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, mb := range boxes {
		in := mb.Info()
		got[in.Name] = in.SpecialUse
		if in.UIDValidity == 0 || in.UIDNext != 1 || !in.Subscribed || in.User != "agent" {
			t.Errorf("mailbox %+v", in)
		}
	}
	if len(got) != 2 || got["INBOX"] != "" || got["Sent"] != `\Sent` {
		t.Errorf("a new user's mailboxes: %v", got)
	}
	// Loading again (another service over the same store) creates nothing more.
	again, err := e.service(t).Mailboxes(ctx, "agent")
	if err != nil || len(again) != 2 {
		t.Errorf("reloaded: %d mailboxes, %v", len(again), err)
	}
	if e.box(t, "agent", "inbox") != e.box(t, "agent", "INBOX/") {
		t.Error("INBOX is not found by any spelling")
	}
}

func TestServiceMailboxManagement(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for name, want := range map[string]string{"Trash": `\Trash`, "Drafts": `\Drafts`, "Spam": `\Junk`, "Work/": ""} {
		if err := e.svc.Create(ctx, "agent", name, ""); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if got := e.box(t, "agent", name).Info().SpecialUse; got != want {
			t.Errorf("%s: special use %q, want %q", name, got, want)
		}
	}
	if err := e.svc.Create(ctx, "agent", "Projects", `\Archive`); err != nil || e.box(t, "agent", "Projects").Info().SpecialUse != `\Archive` {
		t.Errorf("create with an explicit special use: %v", err)
	}
	for _, name := range []string{"Trash", "inbox", "INBOX/", "Sent"} {
		if err := e.svc.Create(ctx, "agent", name, ""); !errors.Is(err, mailbox.ErrExists) {
			t.Errorf("create %s again: %v", name, err)
		}
	}
	if err := e.svc.Create(ctx, "agent", "/", ""); err == nil {
		t.Error("created a mailbox with an empty name")
	}
	for _, name := range []string{"INBOX", "inbox", "Sent"} {
		if err := e.svc.Delete(ctx, "agent", name); !errors.Is(err, mailbox.ErrProtected) {
			t.Errorf("delete %s: %v", name, err)
		}
		if err := e.svc.Rename(ctx, "agent", name, "Elsewhere"); !errors.Is(err, mailbox.ErrProtected) {
			t.Errorf("rename %s: %v", name, err)
		}
	}
	if err := e.svc.Delete(ctx, "agent", "Nope"); !errors.Is(err, mailbox.ErrNoMailbox) {
		t.Errorf("delete of a missing mailbox: %v", err)
	}

	// Rename keeps UIDVALIDITY and messages.
	work := e.box(t, "agent", "Work")
	if _, err := work.Append(ctx, mailbox.NewMessage{Body: []byte("Subject: w\r\n\r\nw\r\n")}, false); err != nil {
		t.Fatal(err)
	}
	before := work.Info()
	if err := e.svc.Rename(ctx, "agent", "Work", "Trash"); !errors.Is(err, mailbox.ErrExists) {
		t.Errorf("rename onto Trash: %v", err)
	}
	if err := e.svc.Rename(ctx, "agent", "Work", "Done"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Mailbox(ctx, "agent", "Work"); !errors.Is(err, mailbox.ErrNoMailbox) {
		t.Errorf("old name after rename: %v", err)
	}
	done := e.box(t, "agent", "Done")
	if in := done.Info(); in.UIDValidity != before.UIDValidity || in.UIDNext != before.UIDNext || len(messages(done)) != 1 {
		t.Errorf("after rename: %+v (was %+v)", in, before)
	}

	// Subscriptions are stored.
	if err := e.svc.Subscribe(ctx, "agent", "Done", false); err != nil || e.box(t, "agent", "Done").Info().Subscribed {
		t.Errorf("unsubscribe: %v", err)
	}

	// Delete, then create again: a new UIDVALIDITY, no messages. The
	// deleted mailbox's headers leave the header cache.
	if h, err := done.Header(ctx, 1); err != nil || string(h) != "Subject: w\r\n\r\n" {
		t.Fatalf("header of the renamed mailbox's message: %q, %v", h, err)
	}
	if st := e.svc.HeaderCacheStats(); st.Entries != 1 {
		t.Errorf("header cache before delete: %+v", st)
	}
	if err := e.svc.Delete(ctx, "agent", "Done"); err != nil {
		t.Fatal(err)
	}
	if st := e.svc.HeaderCacheStats(); st.Entries != 0 || st.Bytes != 0 {
		t.Errorf("header cache after delete: %+v", st)
	}
	if _, err := done.Append(ctx, mailbox.NewMessage{Body: []byte("x")}, false); !errors.Is(err, mailbox.ErrNoMailbox) {
		t.Errorf("append to a deleted mailbox: %v", err)
	}
	if err := e.svc.Create(ctx, "agent", "Done", ""); err != nil {
		t.Fatal(err)
	}
	if in := e.box(t, "agent", "Done").Info(); in.UIDValidity == before.UIDValidity || in.UIDNext != 1 {
		t.Errorf("re-created mailbox: %+v (old %+v)", in, before)
	}

	// A fresh service over the same store sees the same mailboxes.
	svc2 := e.service(t)
	boxes, err := svc2.Mailboxes(ctx, "agent")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mb := range boxes {
		names = append(names, mb.Info().Name)
	}
	slices.Sort(names)
	if got := strings.Join(names, " "); got != "Done Drafts INBOX Projects Sent Spam Trash" {
		t.Errorf("reloaded mailboxes: %s", got)
	}
}

func TestDeliverInboundOncePerUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if !e.svc.Wants(business) || !e.svc.Wants("+15550100003") || e.svc.Wants("+15550100009") {
		t.Error("Wants")
	}
	m := inboundText("Hello, is my order on its way?")
	for range 2 {
		if err := e.svc.Deliver(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// Concurrent retries of the same delivery still store it once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.svc.Deliver(ctx, m); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, user := range []string{"agent", "boss"} {
		inbox := e.box(t, user, "INBOX")
		msgs := messages(inbox)
		if len(msgs) != 1 || msgs[0].UID != 1 || len(msgs[0].Flags) != 0 || !msgs[0].Date.Equal(m.Timestamp) {
			t.Fatalf("%s INBOX: %+v", user, msgs)
		}
		body, err := inbox.Body(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Hello, is my order on its way?", "@" + domain, "Message-ID: <" + m.WAMID + "@" + domain + ">"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("%s's mail lacks %q:\n%s", user, want, body)
			}
		}
		if int64(len(body)) != msgs[0].Size {
			t.Errorf("size %d, body %d bytes", msgs[0].Size, len(body))
		}
		if in := inbox.Info(); in.UIDNext != 2 {
			t.Errorf("%s UIDNEXT %d", user, in.UIDNext)
		}
	}
	if msgs := messages(e.box(t, "other", "INBOX")); len(msgs) != 0 {
		t.Errorf("a user not listing the number got %d messages", len(msgs))
	}
	if n := e.metrics.get("inbox"); n != 2 {
		t.Errorf("inbox deliveries counted %d, want 2 (one per user)", n)
	}
	// A user loaded later (another service) finds it in the store.
	if msgs := messages(mustMailbox(t, e.service(t), "agent", "INBOX")); len(msgs) != 1 {
		t.Errorf("reloaded INBOX: %d messages", len(msgs))
	}
}

func mustMailbox(t *testing.T, svc *mailbox.Service, user, name string) *mailbox.Mailbox {
	t.Helper()
	mb, err := svc.Mailbox(context.Background(), user, name)
	if err != nil {
		t.Fatal(err)
	}
	return mb
}

func TestDeliverMediaWaitsForItsFile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := inboundText("")
	m.Kind, m.Content = bridge.KindImage, bridge.Content{Media: &bridge.Media{ID: "media-1", MIMEType: "image/jpeg", Caption: "the receipt"}}
	if err := e.svc.Deliver(ctx, m); err == nil {
		t.Fatal("a media message without its file was delivered")
	}
	if msgs := messages(e.box(t, "agent", "INBOX")); len(msgs) != 0 {
		t.Fatalf("INBOX after a pending media message: %+v", msgs)
	}
	// Once the download finally failed, it is delivered (with a note).
	m.Content.Media.FetchError = "download failed"
	if err := e.svc.Deliver(ctx, m); err != nil {
		t.Fatal(err)
	}
	msgs := messages(e.box(t, "agent", "INBOX"))
	if len(msgs) != 1 {
		t.Fatalf("INBOX: %+v", msgs)
	}
	body, _ := e.box(t, "agent", "INBOX").Body(ctx, msgs[0].UID)
	if !strings.Contains(string(body), "the receipt") {
		t.Errorf("mail lacks the caption:\n%s", body)
	}
}

// submit stores an outbound message as the SMTP edge does for one part of
// a mail to one recipient, and returns it.
func submit(t *testing.T, e *env, user, mailID, rcpt string, n int) *bridge.Message {
	t.Helper()
	now := time.Now()
	m := &bridge.Message{ID: bridge.NewID(now), Direction: bridge.Outbound, Business: business,
		Customer: bridge.Customer{Phone: rcpt}, Kind: bridge.KindText, Content: bridge.Content{Text: "part"},
		Channel: bridge.ChannelWhatsApp, Status: bridge.StatusQueued, Origin: mailbox.OriginPrefix + user,
		CreatedAt: now, UpdatedAt: now}
	if mailID != "" {
		m.IdempotencyKey = fmt.Sprintf("%s|%s|%d", mailID, rcpt, n)
	}
	if _, _, err := e.st.CreateOutbound(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

func fail(t *testing.T, e *env, m *bridge.Message) *bridge.Message {
	t.Helper()
	got, _, err := e.st.Fail(context.Background(), m.ID, bridge.ReasonNotOnWhatsApp, 131026, "Message undeliverable", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestReportFailureBouncesOncePerMailAndRecipient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent := e.svc.Users().Lookup("agent")
	const mailID = "offer-1@example.com"
	// One mail to two recipients, two WhatsApp messages for the first.
	a0, a1 := submit(t, e, "agent", mailID, customer, 0), submit(t, e, "agent", mailID, customer, 1)
	b0 := submit(t, e, "agent", mailID, "+4915100000002", 0)
	raw := "From: agent@example.com\r\nTo: x@" + domain + "\r\nSubject: Our offer\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <" + mailID + ">\r\n\r\nhi\r\n"
	if _, err := e.svc.SaveSent(ctx, agent, []byte(raw), mailID, []bridge.MessageID{a0.ID, a1.ID, b0.ID}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*bridge.Message{a0, a1, a0} { // a0's report retried
		if err := e.svc.Report(ctx, fail(t, e, m)); err != nil {
			t.Fatal(err)
		}
	}
	inbox := e.box(t, "agent", "INBOX")
	msgs := messages(inbox)
	if len(msgs) != 1 {
		t.Fatalf("INBOX has %d messages, want one bounce", len(msgs))
	}
	body, err := inbox.Body(ctx, msgs[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"multipart/report", "Status: 5.1.1", customer, "not_on_whatsapp",
		"<" + mailID + ">", "Subject: Our offer"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("bounce lacks %q:\n%s", want, body)
		}
	}
	// The Sent copy shows the failure, in memory (for sessions) and stored.
	sent := e.box(t, "agent", "Sent")
	if s := messages(sent); len(s) != 1 || strings.Join(s[0].Flags, " ") != `\Seen $Failed` {
		t.Errorf("Sent copy: %+v", s)
	}
	// The other recipient failing is another bounce.
	if err := e.svc.Report(ctx, fail(t, e, b0)); err != nil {
		t.Fatal(err)
	}
	if n := len(messages(inbox)); n != 2 {
		t.Errorf("after the second recipient failed: %d messages, want 2", n)
	}
	if n := e.metrics.get("bounce"); n != 2 {
		t.Errorf("bounces counted %d, want 2", n)
	}
	// Nobody else got anything.
	if n := len(messages(e.box(t, "boss", "INBOX"))); n != 0 {
		t.Errorf("boss got %d messages", n)
	}

	// A message without an idempotency key bounces by its own id.
	lone := submit(t, e, "agent", "", customer, 0)
	for range 2 {
		if err := e.svc.Report(ctx, fail(t, e, lone)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(messages(inbox)); n != 3 {
		t.Errorf("after a keyless failure: %d messages, want 3", n)
	}
	// An origin naming no user is dropped without error (no retry loop).
	ghost := submit(t, e, "ghost", "x@x", customer, 0)
	if err := e.svc.Report(ctx, fail(t, e, ghost)); err != nil {
		t.Errorf("report for an unknown user: %v", err)
	}
}

func TestReportMovesSentKeywords(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent := e.svc.Users().Lookup("agent")
	m := submit(t, e, "agent", "m@x", customer, 0)
	if _, err := e.svc.SaveSent(ctx, agent, []byte("Subject: s\r\n\r\nb\r\n"), "<m@x>", []bridge.MessageID{m.ID}); err != nil {
		t.Fatal(err)
	}
	sent := e.box(t, "agent", "Sent")
	st := sent.Tracker().NewSession()
	defer st.Close()
	if _, err := e.st.Ingest(ctx, []bridge.Event{{Status: &bridge.StatusUpdate{WAMID: "wamid.m", Status: bridge.StatusDelivered,
		RawStatus: "delivered", Timestamp: time.Now(), CallbackData: string(m.ID)}}}); err != nil {
		t.Fatal(err)
	}
	got, err := e.st.Message(ctx, string(m.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Report(ctx, got); err != nil {
		t.Fatal(err)
	}
	if s := messages(sent); len(s) != 1 || strings.Join(s[0].Flags, " ") != `\Seen $Delivered` {
		t.Errorf("Sent copy after delivery: %+v", s)
	}
	if n := len(messages(e.box(t, "agent", "INBOX"))); n != 0 {
		t.Errorf("a delivery bounced: %d INBOX messages", n)
	}
	if !e.svc.Owns("smtp:agent") || e.svc.Owns("api") || e.svc.Owns("smpp:agent") {
		t.Error("Owns")
	}
}

func TestSaveSent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent := e.svc.Users().Lookup("agent")
	m1, m2 := submit(t, e, "agent", "s1@x", customer, 0), submit(t, e, "agent", "s1@x", "+4915100000002", 0)
	raw := []byte("From: agent@example.com\r\nBcc: hidden@example.com,\r\n other@example.com\r\nMessage-ID: <s1@x>\r\n\r\nbody\r\n")
	for _, links := range [][]bridge.MessageID{{m1.ID}, {m2.ID}} {
		id, err := e.svc.SaveSent(ctx, agent, raw, " <s1@x> ", links)
		if err != nil || id != "s1@x" {
			t.Fatalf("SaveSent: %q %v", id, err)
		}
	}
	sent := e.box(t, "agent", "Sent")
	msgs := messages(sent)
	if len(msgs) != 1 || strings.Join(msgs[0].Flags, " ") != `\Seen` {
		t.Fatalf("Sent: %+v", msgs)
	}
	body, _ := sent.Body(ctx, msgs[0].UID)
	if strings.Contains(strings.ToLower(string(body)), "bcc") || strings.Contains(string(body), "hidden") ||
		!strings.HasPrefix(string(body), "From: agent@example.com\r\nMessage-ID: <s1@x>\r\n\r\nbody") {
		t.Errorf("Sent body:\n%q", body)
	}
	for _, m := range []*bridge.Message{m1, m2} {
		l, err := e.st.MailLinked(ctx, string(m.ID))
		if err != nil || len(l) != 1 || l[0].UID != msgs[0].UID || l[0].MailboxID != sent.Info().ID {
			t.Errorf("links of %s: %+v %v", m.ID, l, err)
		}
	}
	if n := e.metrics.get("sent"); n != 1 {
		t.Errorf("Sent copies counted %d, want 1", n)
	}

	// Without a Message-ID one is made and put in the copy.
	id, err := e.svc.SaveSent(ctx, agent, []byte("Subject: none\r\n\r\nx\r\n"), "", nil)
	if err != nil || !strings.HasSuffix(id, "@"+domain) {
		t.Fatalf("SaveSent without Message-ID: %q %v", id, err)
	}
	msgs = messages(sent)
	if len(msgs) != 2 {
		t.Fatalf("Sent: %d messages", len(msgs))
	}
	body, _ = sent.Body(ctx, msgs[1].UID)
	if !strings.HasPrefix(string(body), "Message-ID: <"+id+">\r\nSubject: none\r\n") {
		t.Errorf("Sent body without a Message-ID:\n%q", body)
	}
}

// A session's tracker is told about new messages: one made before an
// append does not count the new message until it polls (EncodeSeqNum 0:
// an EXISTS is pending); one made after counts it at once.
func TestMailboxTrackerAnnouncesAppends(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	inbox := e.box(t, "agent", "INBOX")
	before := inbox.Tracker().NewSession()
	defer before.Close()
	if err := e.svc.Deliver(ctx, inboundText("one")); err != nil {
		t.Fatal(err)
	}
	if seq := before.EncodeSeqNum(1); seq != 0 {
		t.Errorf("an older session sees message 1 as %d before its EXISTS", seq)
	}
	after := inbox.Tracker().NewSession()
	defer after.Close()
	if seq := after.EncodeSeqNum(1); seq != 1 {
		t.Errorf("a new session sees message 1 as %d", seq)
	}
	// An expunge is announced too: message 1 is gone for the new session
	// until it polls, so its sequence numbers shift.
	if err := e.svc.Deliver(ctx, inboundText("two")); err != nil {
		t.Fatal(err)
	}
	third := inbox.Tracker().NewSession()
	defer third.Close()
	if _, err := inbox.Expunge(ctx, []uint32{1}); err != nil {
		t.Fatal(err)
	}
	if seq := third.EncodeSeqNum(1); seq != 2 {
		t.Errorf("before its EXPUNGE, message 2 is %d to a session, want 2", seq)
	}
	if msgs := messages(inbox); len(msgs) != 1 || msgs[0].UID != 2 {
		t.Errorf("after expunge: %+v", msgs)
	}
}

func TestMailboxCopyAndMove(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.svc.Create(ctx, "agent", "Archive", ""); err != nil {
		t.Fatal(err)
	}
	inbox, arch := e.box(t, "agent", "INBOX"), e.box(t, "agent", "Archive")
	for i := range 3 {
		if _, err := inbox.Append(ctx, mailbox.NewMessage{Flags: []string{`\seen`, fmt.Sprintf("$K%d", i)},
			Body: []byte(fmt.Sprintf("Subject: %d\r\n\r\n%d\r\n", i, i))}, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := inbox.SetFlags(ctx, map[uint32][]string{2: {mailbox.FlagFlagged}}, nil); err != nil {
		t.Fatal(err)
	}
	c, _, err := inbox.CopyTo(ctx, []uint32{1, 2}, arch, false)
	if err != nil || !slices.Equal(c.Source, []uint32{1, 2}) || !slices.Equal(c.Dest, []uint32{1, 2}) {
		t.Fatalf("copy: %+v %v", c, err)
	}
	got := messages(arch)
	if len(got) != 2 || strings.Join(got[0].Flags, " ") != `\Seen $K0` || strings.Join(got[1].Flags, " ") != `\Flagged` {
		t.Errorf("copies: %+v", got)
	}
	// Move in the other direction (lock order reversed) of 3: expunged here.
	m, seqs, err := inbox.CopyTo(ctx, []uint32{3}, arch, true)
	if err != nil || !slices.Equal(m.Dest, []uint32{3}) || !slices.Equal(seqs, []uint32{3}) {
		t.Fatalf("move: %+v %v %v", m, seqs, err)
	}
	back, seqs, err := arch.CopyTo(ctx, []uint32{1}, inbox, true)
	if err != nil || !slices.Equal(back.Dest, []uint32{4}) || !slices.Equal(seqs, []uint32{1}) {
		t.Fatalf("move back: %+v %v %v", back, seqs, err)
	}
	if uids := uidsIn(inbox); !slices.Equal(uids, []uint32{1, 2, 4}) {
		t.Errorf("INBOX UIDs %v", uids)
	}
	if uids := uidsIn(arch); !slices.Equal(uids, []uint32{2, 3}) {
		t.Errorf("Archive UIDs %v", uids)
	}
	// Memory and store agree.
	for _, mb := range []*mailbox.Mailbox{inbox, arch} {
		metas, err := e.st.MailIndex(ctx, mb.Info().ID)
		if err != nil {
			t.Fatal(err)
		}
		mem := messages(mb)
		if len(metas) != len(mem) {
			t.Fatalf("%s: store %d, memory %d", mb.Info().Name, len(metas), len(mem))
		}
		for i := range metas {
			if metas[i].UID != mem[i].UID || !slices.Equal(metas[i].Flags, mem[i].Flags) || metas[i].Size != mem[i].Size {
				t.Errorf("%s: store %+v, memory %+v", mb.Info().Name, metas[i], mem[i])
			}
		}
	}
}

func uidsIn(mb *mailbox.Mailbox) []uint32 {
	var out []uint32
	for _, m := range messages(mb) {
		out = append(out, m.UID)
	}
	return out
}

// CREATE makes missing parents (RFC 3501 6.3.3); RENAME moves the
// children along (6.3.5), each keeping its UIDVALIDITY.
func TestServiceHierarchy(t *testing.T) {
	e := newEnv(t)
	svc := e.service(t)
	ctx := context.Background()
	if err := svc.Create(ctx, "agent", "Projects/2026/Q1", ""); err != nil {
		t.Fatal(err)
	}
	names := func() string {
		boxes, err := svc.Mailboxes(ctx, "agent")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range boxes {
			out = append(out, b.Info().Name)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	if got := names(); got != "INBOX,Projects,Projects/2026,Projects/2026/Q1,Sent" {
		t.Fatalf("after CREATE: %s", got)
	}
	v := mustMailbox(t, svc, "agent", "Projects/2026/Q1").Info().UIDValidity
	if err := svc.Rename(ctx, "agent", "Projects", "Done"); err != nil {
		t.Fatal(err)
	}
	if got := names(); got != "Done,Done/2026,Done/2026/Q1,INBOX,Sent" {
		t.Fatalf("after RENAME: %s", got)
	}
	if got := mustMailbox(t, svc, "agent", "Done/2026/Q1").Info().UIDValidity; got != v {
		t.Errorf("UIDVALIDITY %d → %d", v, got)
	}
	// A restart reads the same names from the store.
	svc2 := e.service(t)
	boxes, _ := svc2.Mailboxes(ctx, "agent")
	if len(boxes) != 5 {
		t.Errorf("after reload: %d mailboxes", len(boxes))
	}
	if _, err := svc2.Mailbox(ctx, "agent", "Done/2026/Q1"); err != nil {
		t.Errorf("renamed child after reload: %v", err)
	}
}

// Appends do not hold the mailbox's lock across their commit (so that they
// share group commits); concurrent appends, STOREs and delivery reports
// must still leave memory equal to the store, with UIDs ascending and each
// append announced once.
func TestConcurrentAppendsKeepMemoryAndStoreInStep(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent := e.svc.Users().Lookup("agent")
	sent := e.box(t, "agent", "Sent")
	watcher := sent.Tracker().NewSession()
	defer watcher.Close()

	const n = 64
	ids := make([]*bridge.Message, n)
	for i := range ids {
		ids[i] = submit(t, e, "agent", fmt.Sprintf("c%d@x", i), customer, 0)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			raw := []byte(fmt.Sprintf("Message-ID: <c%d@x>\r\nSubject: %d\r\n\r\nbody\r\n", i, i))
			if _, err := e.svc.SaveSent(ctx, agent, raw, fmt.Sprintf("<c%d@x>", i), []bridge.MessageID{ids[i].ID}); err != nil {
				errs <- err
				return
			}
			// A delivery report and a client's STORE race the other appends.
			if _, err := e.st.Ingest(ctx, []bridge.Event{{Status: &bridge.StatusUpdate{WAMID: "wamid.c" + fmt.Sprint(i),
				Status: bridge.StatusDelivered, RawStatus: "delivered", Timestamp: time.Now(), CallbackData: string(ids[i].ID)}}}); err != nil {
				errs <- err
				return
			}
			got, err := e.st.Message(ctx, string(ids[i].ID))
			if err != nil {
				errs <- err
				return
			}
			if err := e.svc.Report(ctx, got); err != nil {
				errs <- err
			}
		}(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var uids []uint32
			sent.Snapshot(func(_ mailbox.Info, msgs []*mailbox.Message) {
				for _, m := range msgs {
					uids = append(uids, m.UID)
				}
			})
			if _, err := sent.UpdateFlags(ctx, uids, func(cur []string) []string { return mailbox.SetFlags(append(cur, `\Flagged`)) }, nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	mem := messages(sent)
	stored, err := e.st.MailIndex(ctx, sent.Info().ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(mem) != n || len(stored) != n {
		t.Fatalf("Sent has %d messages in memory, %d stored; want %d", len(mem), len(stored), n)
	}
	for i := range mem {
		if i > 0 && mem[i].UID <= mem[i-1].UID {
			t.Errorf("UIDs not ascending at %d: %d after %d", i, mem[i].UID, mem[i-1].UID)
		}
		if mem[i].UID != stored[i].UID || strings.Join(mem[i].Flags, " ") != strings.Join(stored[i].Flags, " ") {
			t.Errorf("message %d: memory %d %v, store %d %v", i, mem[i].UID, mem[i].Flags, stored[i].UID, stored[i].Flags)
		}
		if !slices.Contains(mem[i].Flags, "$Delivered") {
			t.Errorf("UID %d lost its delivery keyword: %v", mem[i].UID, mem[i].Flags)
		}
	}
	if seq := watcher.EncodeSeqNum(n); seq != 0 {
		t.Errorf("a session that has not polled sees message %d as %d", n, seq)
	}
	if info := sent.Info(); info.UIDNext != mem[n-1].UID+1 {
		t.Errorf("UIDNEXT %d after UID %d", info.UIDNext, mem[n-1].UID)
	}
}

// An append the store refuses still takes its turn: the appends after it
// are answered (with their own outcome) instead of waiting for it forever,
// and a STORE afterwards does not wait either.
func TestFailedAppendDoesNotStallTheMailbox(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	box := e.box(t, "agent", "INBOX")
	// The mailbox disappears from the store under the loaded Mailbox.
	if err := e.st.MailDeleteMailbox(ctx, box.Info().ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 3)
	for i := range 3 {
		go func() {
			_, err := box.Append(ctx, mailbox.NewMessage{Body: []byte(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)), Date: time.Now()}, false)
			done <- err
		}()
	}
	for range 3 {
		select {
		case err := <-done:
			if !errors.Is(err, mailbox.ErrNoMailbox) {
				t.Errorf("append to a mailbox gone from the store: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an append never returned")
		}
	}
	stored := make(chan error, 1)
	go func() {
		_, err := box.UpdateFlags(ctx, nil, func(cur []string) []string { return cur }, nil)
		stored <- err
	}()
	select {
	case err := <-stored:
		if err != nil {
			t.Errorf("STORE after failed appends: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a STORE after failed appends waits for them forever")
	}
	if n := len(messages(box)); n != 0 {
		t.Errorf("%d messages in memory after refused appends", n)
	}
}
