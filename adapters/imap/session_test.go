package imap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/mailbox"
)

var date0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func TestSelectAndExamineData(t *testing.T) {
	ts := startServer(t)
	ts.put("INBOX", testMail("one", "Mon, 02 Mar 2026 10:00:00 +0000", "", "one\r\n"), date0, `\Seen`, "$Label1")
	ts.put("INBOX", testMail("two", "Mon, 02 Mar 2026 11:00:00 +0000", "", "two\r\n"), date0, `\Flagged`)
	ts.deliver("three")
	info := ts.mailbox("INBOX").Info()
	c := ts.client(nil)
	for _, readOnly := range []bool{false, true} {
		sel, err := c.Select("INBOX", &goimap.SelectOptions{ReadOnly: readOnly}).Wait()
		if err != nil {
			t.Fatalf("SELECT (read-only %v): %v", readOnly, err)
		}
		if sel.NumMessages != 3 || sel.UIDNext != 4 || sel.UIDValidity != info.UIDValidity || sel.UIDValidity == 0 {
			t.Errorf("read-only %v: EXISTS %d UIDNEXT %d UIDVALIDITY %d (stored %d)", readOnly, sel.NumMessages, sel.UIDNext, sel.UIDValidity, info.UIDValidity)
		}
		for _, f := range []goimap.Flag{goimap.FlagSeen, goimap.FlagAnswered, goimap.FlagFlagged, goimap.FlagDeleted, goimap.FlagDraft, "$Label1"} {
			if !hasFlag(sel.Flags, f) {
				t.Errorf("read-only %v: FLAGS %v lack %s", readOnly, sel.Flags, f)
			}
		}
		if len(sel.Flags) != 6 {
			t.Errorf("read-only %v: FLAGS %v, want the system flags and $Label1", readOnly, sel.Flags)
		}
		if !readOnly {
			if !hasFlag(sel.PermanentFlags, goimap.FlagWildcard) || !hasFlag(sel.PermanentFlags, "$Label1") || !hasFlag(sel.PermanentFlags, goimap.FlagSeen) {
				t.Errorf("PERMANENTFLAGS %v", sel.PermanentFlags)
			}
		}
	}
	// The response codes as sent: UNSEEN (the first message without
	// \Seen), READ-WRITE / READ-ONLY.
	rc := ts.raw()
	resp := strings.Join(rc.cmd("SELECT INBOX"), "\n")
	for _, want := range []string{"* 3 EXISTS", "[UNSEEN 2]", fmt.Sprintf("[UIDVALIDITY %d]", info.UIDValidity), "[UIDNEXT 4]", "[READ-WRITE]", `\*)]`} {
		if !strings.Contains(resp, want) {
			t.Errorf("SELECT lacks %q:\n%s", want, resp)
		}
	}
	resp = strings.Join(rc.cmd("EXAMINE inbox"), "\n")
	if !strings.Contains(resp, "[READ-ONLY]") || !strings.Contains(resp, "* 3 EXISTS") {
		t.Errorf("EXAMINE:\n%s", resp)
	}
	// An empty mailbox, and one that does not exist.
	sel, err := c.Select("Sent", nil).Wait()
	if err != nil || sel.NumMessages != 0 || sel.UIDNext != 1 || sel.UIDValidity != ts.mailbox("Sent").Info().UIDValidity {
		t.Errorf("SELECT Sent: %+v %v", sel, err)
	}
	if _, err := c.Select("Nope", nil).Wait(); imapCode(err) != goimap.ResponseCodeNonExistent {
		t.Errorf("SELECT of a missing mailbox: %v", err)
	}
}

func TestExamineIsReadOnly(t *testing.T) {
	ts := startServer(t)
	ts.put("INBOX", testMail("one", "Mon, 02 Mar 2026 10:00:00 +0000", "", "one\r\n"), date0)
	ts.put("INBOX", testMail("two", "Mon, 02 Mar 2026 10:00:00 +0000", "", "two\r\n"), date0, `\Deleted`)
	if err := ts.svc.Create(context.Background(), testUser, "Archive", ""); err != nil {
		t.Fatal(err)
	}
	c := ts.client(nil)
	if _, err := c.Select("INBOX", &goimap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	err := c.Store(goimap.SeqSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagFlagged}}, nil).Close()
	if !isNo(err) {
		t.Errorf("STORE under EXAMINE: %v", err)
	}
	msgs := fetch(t, c, goimap.SeqSetNum(1), &goimap.FetchOptions{UID: true, Flags: true, BodySection: []*goimap.FetchItemBodySection{{}}})
	if len(msgs) != 1 || hasFlag(msgs[0].Flags, goimap.FlagSeen) || !strings.Contains(string(msgs[0].BodySection[0].Bytes), "one") {
		t.Errorf("FETCH BODY[] under EXAMINE: %+v", msgs)
	}
	// EXPUNGE removes nothing (it answers OK: CLOSE goes the same way).
	if exp, err := c.Expunge().Collect(); err != nil || len(exp) != 0 {
		t.Errorf("EXPUNGE under EXAMINE: %v %v", exp, err)
	}
	if _, err := c.Move(goimap.SeqSetNum(1), "Archive").Wait(); !isNo(err) {
		t.Errorf("MOVE under EXAMINE: %v", err)
	}
	// Nothing changed; reading from EXAMINE still allows copying out.
	if got := ts.storedFlags("INBOX", 1); got != "" {
		t.Errorf("flags of 1 after EXAMINE: %q", got)
	}
	if got := ts.storedFlags("INBOX", 2); got != `\Deleted` {
		t.Errorf("flags of 2 after EXAMINE: %q", got)
	}
	if _, err := c.Copy(goimap.SeqSetNum(1), "Archive").Wait(); err != nil {
		t.Errorf("COPY from EXAMINE: %v", err)
	}
	// CLOSE under EXAMINE removes nothing and is no error (RFC 3501
	// 6.4.2); the mailbox is then closed.
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Errorf("CLOSE under EXAMINE: %v", err)
	}
	if n := len(ts.mailboxMessages("INBOX")); n != 2 {
		t.Errorf("INBOX has %d messages after EXAMINE, want 2", n)
	}
	if _, err := c.Fetch(goimap.SeqSetNum(1), &goimap.FetchOptions{UID: true}).Collect(); err == nil {
		t.Error("FETCH after CLOSE: a mailbox is still selected")
	}
}

func (ts *testServer) mailboxMessages(name string) []mailbox.Message {
	var out []mailbox.Message
	ts.mailbox(name).Snapshot(func(_ mailbox.Info, msgs []*mailbox.Message) {
		for _, m := range msgs {
			out = append(out, *m)
		}
	})
	return out
}

func TestFetchBodySetsSeen(t *testing.T) {
	ts := startServer(t)
	ts.put("INBOX", testMail("one", "Mon, 02 Mar 2026 10:00:00 +0000", "", "one\r\n"), date0)
	ts.put("INBOX", testMail("two", "Mon, 02 Mar 2026 10:00:00 +0000", "", "two\r\n"), date0, `\Flagged`)
	c := ts.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// PEEK leaves \Seen alone and reports no flags unasked.
	msgs := fetch(t, c, goimap.SeqSetNum(1), &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{{Peek: true}}})
	if len(msgs) != 1 || len(msgs[0].Flags) != 0 || ts.storedFlags("INBOX", 1) != "" {
		t.Fatalf("BODY.PEEK[]: %+v, stored %q", msgs, ts.storedFlags("INBOX", 1))
	}
	// BODY[] sets \Seen, stores it and reports FLAGS without being asked.
	msgs = fetch(t, c, goimap.SeqSet{{Start: 1, Stop: 2}}, &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{{Specifier: goimap.PartSpecifierText}}})
	if len(msgs) != 2 {
		t.Fatalf("FETCH BODY[TEXT]: %d messages", len(msgs))
	}
	if got := flagString(msgs[0].Flags); got != `\Seen` {
		t.Errorf("message 1 reported flags %q, want \\Seen", got)
	}
	if got := flagString(msgs[1].Flags); got != `\Flagged \Seen` {
		t.Errorf("message 2 reported flags %q", got)
	}
	if string(msgs[0].BodySection[0].Bytes) != "one\r\n" {
		t.Errorf("BODY[TEXT] %q", msgs[0].BodySection[0].Bytes)
	}
	if ts.storedFlags("INBOX", 1) != `\Seen` || ts.storedFlags("INBOX", 2) != `\Flagged \Seen` {
		t.Errorf("stored flags %q, %q", ts.storedFlags("INBOX", 1), ts.storedFlags("INBOX", 2))
	}
	metas, err := ts.st.MailIndex(context.Background(), ts.mailbox("INBOX").Info().ID)
	if err != nil || len(metas) != 2 || strings.Join(metas[0].Flags, " ") != `\Seen` {
		t.Errorf("in the store: %+v %v", metas, err)
	}
	// Reading again reports FLAGS only if asked.
	msgs = fetch(t, c, goimap.SeqSetNum(1), &goimap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true, BodySection: []*goimap.FetchItemBodySection{{}}})
	if len(msgs) != 1 || msgs[0].UID != 1 || msgs[0].RFC822Size != int64(len(msgs[0].BodySection[0].Bytes)) || !msgs[0].InternalDate.Equal(date0) {
		t.Errorf("second FETCH: %+v", msgs[0])
	}
}

// BINARY[] (RFC 3516) marks \Seen like BODY[]; BINARY.PEEK[] does not.
func TestFetchBinarySetsSeen(t *testing.T) {
	ts := startServer(t)
	ts.put("INBOX", testMail("one", "Mon, 02 Mar 2026 10:00:00 +0000", "", "one\r\n"), date0)
	ts.put("INBOX", testMail("two", "Mon, 02 Mar 2026 10:00:00 +0000", "", "two\r\n"), date0)
	c := ts.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	fetch(t, c, goimap.SeqSetNum(1), &goimap.FetchOptions{BinarySection: []*goimap.FetchItemBinarySection{{Peek: true}}})
	if got := ts.storedFlags("INBOX", 1); got != "" {
		t.Errorf("BINARY.PEEK[] set flags %q", got)
	}
	fetch(t, c, goimap.SeqSetNum(2), &goimap.FetchOptions{BinarySection: []*goimap.FetchItemBinarySection{{}}})
	if got := ts.storedFlags("INBOX", 2); got != `\Seen` {
		t.Errorf("BINARY[] left flags %q, want \\Seen", got)
	}
}

func TestUIDFetchStar(t *testing.T) {
	ts := startServer(t)
	for i := range 4 {
		ts.put("INBOX", testMail(fmt.Sprint(i), "Mon, 02 Mar 2026 10:00:00 +0000", "", "x\r\n"), date0)
	}
	if _, err := ts.mailbox("INBOX").Expunge(context.Background(), []uint32{4}); err != nil {
		t.Fatal(err)
	}
	ts.put("INBOX", testMail("last", "Mon, 02 Mar 2026 10:00:00 +0000", "", "x\r\n"), date0) // UID 5
	// Raw: imapclient cannot match the answers to "*" to its command.
	rc := ts.raw()
	rc.cmd("SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"UID FETCH * (UID)", "4:5"},
		{"UID FETCH 2:* (UID)", "2:2 3:3 4:5"},
		{"UID FETCH 4:* (UID)", "4:5"},
		{"UID FETCH *:4 (UID)", "4:5"},
		{"UID FETCH 99:* (UID)", "4:5"}, // n:* with n above every UID is the last one
		{"UID FETCH 1:* (UID)", "1:1 2:2 3:3 4:5"},
		{"UID FETCH 4 (UID)", ""},
		{"UID FETCH 1,3 (UID)", "1:1 3:3"},
		{"UID FETCH 3:2 (UID)", "2:2 3:3"},
		{"FETCH * (UID)", "4:5"},
		{"FETCH 3:* (UID)", "3:3 4:5"},
		{"FETCH 4 (UID)", "4:5"},
		{"FETCH 9 (UID)", ""},
	} {
		var got []string
		resp := rc.cmd(tc.cmd)
		for _, l := range resp[:len(resp)-1] {
			var seq, uid int
			if _, err := fmt.Sscanf(l, "* %d FETCH (UID %d)", &seq, &uid); err == nil {
				got = append(got, fmt.Sprint(seq, ":", uid))
			}
		}
		if strings.Join(got, " ") != tc.want || !strings.Contains(resp[len(resp)-1], "OK") {
			t.Errorf("%s: seq:UID %q, want %q (%q)", tc.cmd, strings.Join(got, " "), tc.want, resp)
		}
	}
}

func TestCopyKeepsFlagsAndReturnsCopyUID(t *testing.T) {
	ts := startServer(t)
	ts.put("INBOX", testMail("one", "Mon, 02 Mar 2026 10:00:00 +0000", "", "one\r\n"), date0, `\Seen`, "$Label1")
	ts.put("INBOX", testMail("two", "Mon, 02 Mar 2026 10:00:00 +0000", "", "two\r\n"), date0, `\Flagged`)
	ts.put("INBOX", testMail("three", "Mon, 02 Mar 2026 10:00:00 +0000", "", "three\r\n"), date0)
	c := ts.client(nil)
	if err := c.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	ts.put("Archive", testMail("old", "Mon, 02 Mar 2026 10:00:00 +0000", "", "old\r\n"), date0) // Archive UID 1
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	cd, err := c.Copy(goimap.UIDSetNum(1, 2), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	arch := ts.mailbox("Archive").Info()
	if cd.UIDValidity != arch.UIDValidity || fmt.Sprint(cd.SourceUIDs) != "1:2" || fmt.Sprint(cd.DestUIDs) != "2:3" {
		t.Errorf("COPYUID %d %v %v (Archive UIDVALIDITY %d)", cd.UIDValidity, cd.SourceUIDs, cd.DestUIDs, arch.UIDValidity)
	}
	// The source is unchanged.
	if n := len(ts.mailboxMessages("INBOX")); n != 3 {
		t.Errorf("INBOX has %d messages after COPY", n)
	}
	if _, err := c.Select("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs := fetch(t, c, goimap.UIDSetNum(2, 3), &goimap.FetchOptions{UID: true, Flags: true, InternalDate: true, BodySection: []*goimap.FetchItemBodySection{{Peek: true, Specifier: goimap.PartSpecifierText}}})
	if len(msgs) != 2 {
		t.Fatalf("Archive: %d copies", len(msgs))
	}
	slices.SortFunc(msgs, func(a, b *imapclient.FetchMessageBuffer) int { return int(a.UID) - int(b.UID) })
	if flagString(msgs[0].Flags) != `\Seen $Label1` || flagString(msgs[1].Flags) != `\Flagged` {
		t.Errorf("copied flags %q, %q", flagString(msgs[0].Flags), flagString(msgs[1].Flags))
	}
	if string(msgs[0].BodySection[0].Bytes) != "one\r\n" || !msgs[0].InternalDate.Equal(date0) {
		t.Errorf("copy 1: %q %v", msgs[0].BodySection[0].Bytes, msgs[0].InternalDate)
	}
	// To a missing mailbox: TRYCREATE. Copying nothing is fine.
	if _, err := c.Copy(goimap.UIDSetNum(2), "Nope").Wait(); imapCode(err) != goimap.ResponseCodeTryCreate {
		t.Errorf("COPY to a missing mailbox: %v", err)
	}
	// Copying nothing is OK, without a COPYUID (an empty set cannot be
	// written).
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Copy(goimap.UIDSetNum(77), "Archive").Wait(); err != nil {
		t.Errorf("COPY of no message: %v", err)
	}
	if _, err := c.Move(goimap.UIDSetNum(77), "Archive").Wait(); err != nil {
		t.Errorf("MOVE of no message: %v", err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Errorf("NOOP after copying nothing: %v", err)
	}
	if n := len(ts.mailboxMessages("Archive")); n != 3 {
		t.Errorf("Archive has %d messages, want 3", n)
	}
}

func TestMoveExpungesInEverySession(t *testing.T) {
	ts := startServer(t)
	for i := range 4 {
		ts.put("INBOX", testMail(fmt.Sprint("m", i+1), "Mon, 02 Mar 2026 10:00:00 +0000", "", "x\r\n"), date0, fmt.Sprint("$K", i+1))
	}
	var moverEv, watcherEv events
	mover := ts.client(moverEv.handler())
	watcher := ts.client(watcherEv.handler())
	if err := mover.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*imapclient.Client{mover, watcher} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	md, err := mover.Move(goimap.SeqSetNum(2), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if md.UIDValidity != ts.mailbox("Archive").Info().UIDValidity || fmt.Sprint(md.SourceUIDs) != "2" || fmt.Sprint(md.DestUIDs) != "1" {
		t.Errorf("MOVE COPYUID: %+v", md)
	}
	// The mover got its EXPUNGE before the command completed.
	if _, exp := moverEv.snapshot(); !slices.Equal(exp, []uint32{2}) {
		t.Errorf("mover's EXPUNGEs %v, want [2]", exp)
	}
	// The watcher gets it at its next command.
	if err := watcher.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if _, exp := watcherEv.snapshot(); !slices.Equal(exp, []uint32{2}) {
		t.Errorf("watcher's EXPUNGEs %v, want [2]", exp)
	}
	// UID MOVE of two (1 and 4): sequence numbers as each session sees them.
	if _, err := mover.Move(goimap.UIDSetNum(1, 4), "Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := watcher.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	for name, ev := range map[string]*events{"mover": &moverEv, "watcher": &watcherEv} {
		_, exp := ev.snapshot()
		// After [2]: UID 4 is seq 3, UID 1 is seq 1; highest first.
		if !slices.Equal(exp, []uint32{2, 3, 1}) {
			t.Errorf("%s's EXPUNGEs %v, want [2 3 1]", name, exp)
		}
	}
	for name, c := range map[string]*imapclient.Client{"mover": mover, "watcher": watcher} {
		msgs := fetch(t, c, goimap.SeqSet{{Start: 1, Stop: 0}}, &goimap.FetchOptions{UID: true, Flags: true})
		if len(msgs) != 1 || msgs[0].SeqNum != 1 || msgs[0].UID != 3 || flagString(msgs[0].Flags) != "$K3" {
			t.Errorf("%s sees %+v, want only UID 3 as 1", name, msgs)
		}
	}
	// The moved messages keep their flags.
	var got []string
	for _, m := range ts.mailboxMessages("Archive") {
		got = append(got, fmt.Sprint(m.UID, ":", strings.Join(m.Flags, " ")))
	}
	if strings.Join(got, ",") != "1:$K2,2:$K1,3:$K4" {
		t.Errorf("Archive: %v", got)
	}
	// MOVE to the selected mailbox itself is allowed (RFC 6851 does not
	// forbid it): the message gets a new UID.
	if md, err := mover.Move(goimap.SeqSetNum(1), "INBOX").Wait(); err != nil || fmt.Sprint(md.DestUIDs) != "5" {
		t.Errorf("MOVE to the same mailbox: %+v %v", md, err)
	}
	if m := ts.mailboxMessages("INBOX"); len(m) != 1 || m[0].UID != 5 || strings.Join(m[0].Flags, " ") != "$K3" {
		t.Errorf("INBOX after MOVE to itself: %+v", m)
	}
}

func TestIdleSeesDeliveriesAndOtherSessionsFlags(t *testing.T) {
	ts := startServer(t)
	ts.put("INBOX", testMail("one", "Mon, 02 Mar 2026 10:00:00 +0000", "", "one\r\n"), date0)
	var ev events
	idler := ts.client(ev.handler())
	if _, err := idler.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := idler.Idle()
	if err != nil {
		t.Fatal(err)
	}
	// A customer writes on WhatsApp.
	ts.deliver("Hello from WhatsApp")
	waitFor(t, "EXISTS 2 during IDLE", func() bool {
		exists, _ := ev.snapshot()
		return slices.Contains(exists, 2)
	})
	// Another session flags message 1, then deletes and expunges it.
	other := ts.client(nil)
	if _, err := other.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := other.Store(goimap.SeqSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "FETCH FLAGS during IDLE", func() bool { return ev.sawFlags(1, `\Flagged`) })
	if err := other.Store(goimap.SeqSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "EXPUNGE during IDLE", func() bool {
		_, exp := ev.snapshot()
		return slices.Equal(exp, []uint32{1})
	})
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	msgs := fetch(t, idler, goimap.SeqSet{{Start: 1, Stop: 0}}, &goimap.FetchOptions{UID: true, Envelope: true})
	if len(msgs) != 1 || msgs[0].UID != 2 || !strings.Contains(msgs[0].Envelope.Subject, "Hello from WhatsApp") {
		t.Errorf("after IDLE: %+v", msgs)
	}
	// A silent STORE is silent only for the session that made it.
	waitFor(t, "the silent STORE's FLAGS at the idler", func() bool { return ev.sawFlags(1, `\Flagged \Deleted`) })
}

// Changes made while a session is between commands (after its last
// command's updates, before its IDLE) are sent as soon as it idles, not
// held back until some later change.
func TestIdleSendsChangesQueuedBeforeIt(t *testing.T) {
	ts := startServer(t)
	ts.put("INBOX", testMail("one", "Mon, 02 Mar 2026 10:00:00 +0000", "", "one\r\n"), date0)
	var ev events
	idler := ts.client(ev.handler())
	if _, err := idler.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	ts.deliver("arrived before IDLE")
	if err := ts.mailbox("INBOX").SetFlags(context.Background(), map[uint32][]string{1: {`\Flagged`}}, nil); err != nil {
		t.Fatal(err)
	}
	idle, err := idler.Idle()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "EXISTS 2 and FETCH FLAGS queued before IDLE", func() bool {
		exists, _ := ev.snapshot()
		return slices.Contains(exists, 2) && ev.sawFlags(1, `\Flagged`)
	})
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

// The delivery keywords WhatsApp statuses put on a Sent copy reach a
// session idling on Sent.
func TestIdleSeesDeliveryKeywords(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	now := time.Now()
	m := &bridge.Message{ID: bridge.NewID(now), Direction: bridge.Outbound, Business: testNumber,
		Customer: bridge.Customer{Phone: testCustomer}, Kind: bridge.KindText, Content: bridge.Content{Text: "hi"},
		Channel: bridge.ChannelWhatsApp, Status: bridge.StatusQueued, Origin: "smtp:" + testUser,
		IdempotencyKey: "k@x|" + testCustomer + "|0", CreatedAt: now, UpdatedAt: now}
	if _, _, err := ts.st.CreateOutbound(ctx, m); err != nil {
		t.Fatal(err)
	}
	user := ts.svc.Users().Lookup(testUser)
	if _, err := ts.svc.SaveSent(ctx, user, []byte("Subject: hi\r\nMessage-ID: <k@x>\r\n\r\nhi\r\n"), "k@x", []bridge.MessageID{m.ID}); err != nil {
		t.Fatal(err)
	}
	var ev events
	idler := ts.client(ev.handler())
	if _, err := idler.Select("Sent", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := idler.Idle()
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []bridge.Status{bridge.StatusDelivered, bridge.StatusRead} {
		if _, err := ts.st.Ingest(ctx, []bridge.Event{{Status: &bridge.StatusUpdate{WAMID: "wamid.k", Status: st, RawStatus: string(st),
			Timestamp: time.Now(), CallbackData: string(m.ID)}}}); err != nil {
			t.Fatal(err)
		}
		cur, err := ts.st.Message(ctx, string(m.ID))
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.svc.Report(ctx, cur); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "$Delivered then $Read on the Sent copy during IDLE", func() bool {
		return ev.sawFlags(1, `\Seen $Delivered`) && ev.sawFlags(1, `\Seen $Delivered $Read`)
	})
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestRenameKeepsUIDValidity(t *testing.T) {
	ts := startServer(t)
	c := ts.client(nil)
	if err := c.Create("Projects", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := appendMsg(t, c, "Projects", testMail("p", "Mon, 02 Mar 2026 10:00:00 +0000", "", "p\r\n"), nil); err != nil {
		t.Fatal(err)
	}
	opts := &goimap.StatusOptions{UIDValidity: true, UIDNext: true, NumMessages: true}
	before, err := c.Status("Projects", opts).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("Projects", "Done/2026", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	after, err := c.Status("Done/2026", opts).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if after.UIDValidity != before.UIDValidity || after.UIDNext != before.UIDNext || *after.NumMessages != 1 {
		t.Errorf("after RENAME: %+v, before %+v", after, before)
	}
	if _, err := c.Status("Projects", opts).Wait(); imapCode(err) != goimap.ResponseCodeNonExistent {
		t.Errorf("STATUS of the old name: %v", err)
	}
	if err := c.Rename("INBOX", "Old", nil).Wait(); !isNo(err) {
		t.Errorf("RENAME INBOX: %v", err)
	}
	if err := c.Rename("Done/2026", "Sent", nil).Wait(); imapCode(err) != goimap.ResponseCodeAlreadyExists {
		t.Errorf("RENAME onto Sent: %v", err)
	}
	if err := c.Rename("Nope", "X", nil).Wait(); imapCode(err) != goimap.ResponseCodeNonExistent {
		t.Errorf("RENAME of a missing mailbox: %v", err)
	}
}

func TestDeleteProtectedMailboxes(t *testing.T) {
	ts := startServer(t)
	c := ts.client(nil)
	for _, name := range []string{"INBOX", "inbox", "Sent"} {
		if err := c.Delete(name).Wait(); !isNo(err) || imapCode(err) != goimap.ResponseCodeCannot {
			t.Errorf("DELETE %s: %v", name, err)
		}
	}
	if err := c.Delete("Nope").Wait(); imapCode(err) != goimap.ResponseCodeNonExistent {
		t.Errorf("DELETE of a missing mailbox: %v", err)
	}
	if err := c.Create("Trash", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	before := ts.mailbox("Trash").Info().UIDValidity
	if err := c.Delete("Trash").Wait(); err != nil {
		t.Fatal(err)
	}
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range boxes {
		names = append(names, b.Mailbox)
	}
	if strings.Join(names, " ") != "INBOX Sent" {
		t.Errorf("LIST after DELETE: %v", names)
	}
	// Created again: a new UIDVALIDITY.
	if err := c.Create("Trash", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Status("Trash", &goimap.StatusOptions{UIDValidity: true}).Wait(); err != nil || st.UIDValidity == before {
		t.Errorf("re-created Trash: %+v %v (was %d)", st, err, before)
	}
}

func TestAppendLimit(t *testing.T) {
	const limit = 5000 // above 4096: clients send such literals synchronized
	ts := startServer(t, func(c *Config) { c.MaxMessageBytes = limit })
	c := ts.client(nil)
	if !c.Caps().Has(goimap.CapLiteralPlus) {
		t.Errorf("capabilities: %v", c.Caps())
	}
	head := "Subject: big\r\n\r\n"
	fits := head + strings.Repeat("x", limit-len(head))
	if ad, err := appendMsg(t, c, "INBOX", fits, nil); err != nil || ad.UID != 1 {
		t.Errorf("APPEND of exactly the limit: %+v %v", ad, err)
	}
	_, err := appendMsg(t, c, "INBOX", fits+"x", nil)
	if imapCode(err) != goimap.ResponseCodeTooBig {
		t.Errorf("APPEND over the limit: %v", err)
	}
	// imapclient drops its connection after a refused synchronizing
	// literal (the raw test below checks the server stays in step); nothing
	// else was stored.
	c = ts.client(nil)
	if st, err := c.Status("INBOX", &goimap.StatusOptions{NumMessages: true, UIDNext: true}).Wait(); err != nil || *st.NumMessages != 1 || st.UIDNext != 2 {
		t.Errorf("STATUS after the refused APPEND: %+v %v", st, err)
	}
	// APPEND with flags and a date; to a missing mailbox: TRYCREATE.
	ad, err := appendMsg(t, c, "INBOX", "Subject: s\r\n\r\nb\r\n", &goimap.AppendOptions{Flags: []goimap.Flag{`\seen`, "$Label1"}, Time: date0})
	if err != nil || ad.UID != 2 || ad.UIDValidity != ts.mailbox("INBOX").Info().UIDValidity {
		t.Fatalf("APPEND: %+v %v", ad, err)
	}
	if got := ts.storedFlags("INBOX", 2); got != `\Seen $Label1` {
		t.Errorf("appended flags %q", got)
	}
	if m := ts.mailboxMessages("INBOX"); len(m) != 2 || !m[1].Date.Equal(date0) {
		t.Errorf("appended internal date: %+v", m)
	}
	if _, err := appendMsg(t, c, "Nope", "Subject: s\r\n\r\nb\r\n", nil); imapCode(err) != goimap.ResponseCodeTryCreate {
		t.Errorf("APPEND to a missing mailbox: %v", err)
	}
}

// An APPEND over the limit is refused with TOOBIG after its literal was
// read, synchronizing or not (LITERAL+ is offered): the literal's bytes
// never run as commands and the connection stays in step.
func TestAppendTooBigNeverRunsTheLiteral(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxMessageBytes = 100 })
	rc := ts.raw()
	if caps := rc.cmd("CAPABILITY")[0]; !strings.Contains(caps, "LITERAL+") || strings.Contains(caps, "APPENDLIMIT") {
		t.Errorf("capabilities: %s", caps)
	}
	body := "X1 CREATE Injected\r\n" + strings.Repeat("y", 100)
	// Non-synchronizing: the whole command at once.
	resp := rc.cmd(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(body), body))
	if last := resp[len(resp)-1]; !strings.Contains(last, "NO [TOOBIG]") {
		t.Fatalf("APPEND of a non-synchronizing literal over the limit: %q", resp)
	}
	// Synchronizing: the server asks for the literal, reads it, refuses.
	rc.n++
	tag := fmt.Sprintf("T%d", rc.n)
	fmt.Fprintf(rc.conn, "%s APPEND INBOX {%d}\r\n", tag, len(body))
	if l := rc.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("no continuation: %q", l)
	}
	fmt.Fprintf(rc.conn, "%s\r\n", body)
	if l := rc.line(); !strings.HasPrefix(l, tag+" NO [TOOBIG]") {
		t.Fatalf("APPEND of a synchronizing literal over the limit: %q", l)
	}
	if resp := rc.cmd("NOOP"); len(resp) != 1 || !strings.Contains(resp[0], "OK") {
		t.Errorf("NOOP got %q", resp)
	}
	if _, err := ts.svc.Mailbox(context.Background(), testUser, "Injected"); err == nil {
		t.Error("mailbox Injected exists")
	}
	if n := len(ts.mailboxMessages("INBOX")); n != 0 {
		t.Errorf("INBOX has %d messages", n)
	}
}

func TestLoginFailures(t *testing.T) {
	ts := startServer(t)
	c, err := imapclient.DialInsecure(ts.addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, "wrong").Wait(); imapCode(err) != goimap.ResponseCodeAuthenticationFailed {
		t.Errorf("wrong password: %v", err)
	}
	if err := c.Login("nobody", testPassword).Wait(); imapCode(err) != goimap.ResponseCodeAuthenticationFailed {
		t.Errorf("unknown user: %v", err)
	}
	if err := c.Login("AGENT", testPassword).Wait(); err != nil {
		t.Errorf("user name in capitals: %v", err)
	}
}

// Without TLS the server advertises LOGINDISABLED and refuses LOGIN;
// after STARTTLS, or on the implicit-TLS listener, LOGIN works.
func TestLoginNeedsTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	ts := startServer(t, func(c *Config) {
		c.AllowInsecureAuth = false
		c.CertFile, c.KeyFile = certFile, keyFile
		c.TLSListen = "127.0.0.1:0"
	})
	plain, err := imapclient.DialInsecure(ts.addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if caps := plain.Caps(); !caps.Has(goimap.CapLoginDisabled) || !caps.Has(goimap.CapStartTLS) || caps.Has("AUTH=PLAIN") {
		t.Errorf("capabilities without TLS: %v", caps)
	}
	if err := plain.Login(testUser, testPassword).Wait(); err == nil {
		t.Error("LOGIN accepted without TLS")
	}
	tlsConfig := func() *tls.Config { return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"} }
	st, err := imapclient.DialStartTLS(ts.addr(), &imapclient.Options{TLSConfig: tlsConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Caps().Has(goimap.CapLoginDisabled) {
		t.Errorf("capabilities after STARTTLS: %v", st.Caps())
	}
	if err := st.Login(testUser, testPassword).Wait(); err != nil {
		t.Errorf("LOGIN after STARTTLS: %v", err)
	}
	if ts.srv.TLSAddr() == "" || ts.srv.TLSAddr() == ts.addr() {
		t.Fatalf("TLS listener %q, plain %q", ts.srv.TLSAddr(), ts.addr())
	}
	it, err := imapclient.DialTLS(ts.srv.TLSAddr(), &imapclient.Options{TLSConfig: tlsConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if err := it.Login(testUser, testPassword).Wait(); err != nil {
		t.Errorf("LOGIN over implicit TLS: %v", err)
	}
	// A client that does not trust the certificate fails the handshake.
	if bad, err := imapclient.DialTLS(ts.srv.TLSAddr(), &imapclient.Options{TLSConfig: &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1"}}); err == nil {
		if err := bad.Noop().Wait(); err == nil {
			t.Error("an untrusted certificate was accepted")
		}
		bad.Close()
	}
}

func TestStartConfigErrors(t *testing.T) {
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Error("New without a mailbox service")
	}
	ts := startServer(t)
	srv, err := New(Config{TLSListen: "127.0.0.1:0"}, ts.svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err == nil {
		srv.Shutdown(context.Background())
		t.Error("implicit TLS without a certificate started")
	}
	srv, err = New(Config{Listen: "127.0.0.1:0", CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"}, ts.svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err == nil {
		srv.Shutdown(context.Background())
		t.Error("started with a missing certificate")
	}
}

// Stopping the server and closing the store, then opening both again,
// keeps UIDVALIDITY, UIDs and flags, as clients cached them.
func TestRestartKeepsState(t *testing.T) {
	ts := startServer(t)
	ts.deliver("first")
	ts.deliver("second")
	ts.deliver("third")
	c := ts.client(nil)
	if err := c.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(goimap.UIDSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagFlagged, "$Label1"}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	fetch(t, c, goimap.UIDSetNum(3), &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{{}}}) // \Seen
	if _, err := c.Move(goimap.UIDSetNum(2), "Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	type state struct {
		validity map[string]uint32
		next     map[string]goimap.UID
		msgs     map[string]string
	}
	read := func(c *imapclient.Client) state {
		t.Helper()
		s := state{validity: map[string]uint32{}, next: map[string]goimap.UID{}, msgs: map[string]string{}}
		for _, name := range []string{"INBOX", "Archive", "Sent"} {
			sel, err := c.Select(name, &goimap.SelectOptions{ReadOnly: true}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			s.validity[name], s.next[name] = sel.UIDValidity, sel.UIDNext
			var parts []string
			if sel.NumMessages > 0 {
				for _, m := range fetch(t, c, goimap.SeqSet{{Start: 1, Stop: 0}}, &goimap.FetchOptions{UID: true, Flags: true, RFC822Size: true}) {
					parts = append(parts, fmt.Sprintf("%d[%s]%d", m.UID, flagString(m.Flags), m.RFC822Size))
				}
			}
			slices.Sort(parts)
			s.msgs[name] = strings.Join(parts, " ")
		}
		return s
	}
	before := read(c)
	if before.msgs["INBOX"] == "" || !strings.Contains(before.msgs["INBOX"], `1[\Flagged $Label1]`) || !strings.Contains(before.msgs["INBOX"], `3[\Seen]`) || !strings.HasPrefix(before.msgs["Archive"], "1[]") {
		t.Fatalf("before the restart: %+v", before)
	}
	ts.restart()
	c2 := ts.client(nil)
	after := read(c2)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("state changed across the restart:\nbefore %+v\nafter  %+v", before, after)
	}
	// New messages continue the UIDs.
	ts.deliver("fourth")
	if st, err := c2.Status("INBOX", &goimap.StatusOptions{UIDNext: true, NumMessages: true}).Wait(); err != nil || st.UIDNext != 5 || *st.NumMessages != 3 {
		t.Errorf("STATUS after a new delivery: %+v %v", st, err)
	}
}

func TestListAndStatus(t *testing.T) {
	ts := startServer(t)
	ts.put("INBOX", testMail("one", "Mon, 02 Mar 2026 10:00:00 +0000", "", "one\r\n"), date0, `\Seen`)
	ts.put("INBOX", testMail("two", "Mon, 02 Mar 2026 10:00:00 +0000", "", "two\r\n"), date0, `\Deleted`)
	c := ts.client(nil)
	for _, name := range []string{"Archive", "Archive/2026", "Drafts"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Unsubscribe("Drafts").Wait(); err != nil {
		t.Fatal(err)
	}
	list := func(pattern string, opts *goimap.ListOptions) string {
		t.Helper()
		boxes, err := c.List("", pattern, opts).Collect()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range boxes {
			out = append(out, b.Mailbox)
		}
		return strings.Join(out, " ")
	}
	if got := list("*", nil); got != "INBOX Archive Archive/2026 Drafts Sent" {
		t.Errorf("LIST *: %s", got)
	}
	if got := list("%", nil); got != "INBOX Archive Drafts Sent" {
		t.Errorf("LIST %%: %s", got)
	}
	if got := list("Archive/%", nil); got != "Archive/2026" {
		t.Errorf("LIST Archive/%%: %s", got)
	}
	if got := list("*", &goimap.ListOptions{SelectSubscribed: true}); strings.Contains(got, "Drafts") || !strings.Contains(got, "Archive") {
		t.Errorf("LIST (SUBSCRIBED): %s", got)
	}
	if got := list("*", &goimap.ListOptions{SelectSpecialUse: true}); got != "Archive Drafts Sent" {
		t.Errorf("LIST (SPECIAL-USE): %s", got)
	}
	st, err := c.Status("INBOX", &goimap.StatusOptions{NumMessages: true, NumUnseen: true, NumDeleted: true, UIDNext: true, UIDValidity: true, Size: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(testMail("one", "Mon, 02 Mar 2026 10:00:00 +0000", "", "one\r\n")) + len(testMail("two", "Mon, 02 Mar 2026 10:00:00 +0000", "", "two\r\n")))
	if *st.NumMessages != 2 || *st.NumUnseen != 1 || *st.NumDeleted != 1 || st.UIDNext != 3 || st.UIDValidity != ts.mailbox("INBOX").Info().UIDValidity || *st.Size != size {
		t.Errorf("STATUS INBOX: %+v", st)
	}
}

// Two sessions adding different flags to the same message at the same
// time must both see their flags kept (STORE +FLAGS is an atomic add).
func TestConcurrentStoresCompose(t *testing.T) {
	ts := startServer(t)
	ts.put("INBOX", testMail("one", "Mon, 02 Mar 2026 10:00:00 +0000", "", "one\r\n"), date0)
	const n = 100
	var wg sync.WaitGroup
	for _, name := range []string{"A", "B"} {
		c := ts.client(nil)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range n {
				f := goimap.Flag(fmt.Sprintf("$%s%d", name, j))
				if err := c.Store(goimap.UIDSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{f}}, nil).Close(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := strings.Fields(ts.storedFlags("INBOX", 1)); len(got) != 2*n {
		t.Errorf("%d flags kept, want %d", len(got), 2*n)
	}
	metas, err := ts.st.MailIndex(context.Background(), ts.mailbox("INBOX").Info().ID)
	if err != nil || len(metas) != 1 || len(metas[0].Flags) != 2*n {
		t.Errorf("stored: %+v, %v", metas, err)
	}
}

// CLOSE after SELECT expunges the \Deleted messages; another session
// with the mailbox selected is told.
func TestCloseExpungesDeleted(t *testing.T) {
	ts := startServer(t)
	for i := range 3 {
		ts.put("INBOX", testMail(fmt.Sprint(i), "Mon, 02 Mar 2026 10:00:00 +0000", "", "x\r\n"), date0)
	}
	var ev events
	watcher := ts.client(ev.handler())
	c := ts.client(nil)
	for _, cl := range []*imapclient.Client{watcher, c} {
		if _, err := cl.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Store(goimap.UIDSetNum(1, 3), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Fatalf("CLOSE: %v", err)
	}
	var uids []uint32
	for _, m := range ts.mailboxMessages("INBOX") {
		uids = append(uids, m.UID)
	}
	if !slices.Equal(uids, []uint32{2}) {
		t.Errorf("INBOX after CLOSE: %v", uids)
	}
	if err := watcher.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if _, exp := ev.snapshot(); !slices.Equal(exp, []uint32{3, 1}) {
		t.Errorf("watcher's EXPUNGEs %v, want [3 1]", exp)
	}
	// UID EXPUNGE removes only the given \Deleted messages.
	ts.put("INBOX", testMail("4", "Mon, 02 Mar 2026 10:00:00 +0000", "", "x\r\n"), date0, `\Deleted`)
	ts.put("INBOX", testMail("5", "Mon, 02 Mar 2026 10:00:00 +0000", "", "x\r\n"), date0, `\Deleted`)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	exp, err := c.UIDExpunge(goimap.UIDSetNum(2, 5)).Collect()
	if err != nil || !slices.Equal(exp, []uint32{3}) {
		t.Errorf("UID EXPUNGE 2,5: %v %v, want [3]", exp, err)
	}
	uids = nil
	for _, m := range ts.mailboxMessages("INBOX") {
		uids = append(uids, m.UID)
	}
	if !slices.Equal(uids, []uint32{2, 4}) {
		t.Errorf("INBOX after UID EXPUNGE: %v", uids)
	}
}

// FETCH and SEARCH number messages as the session sees them: with an
// expunge and an arrival not yet told to it (a non-UID FETCH may not
// send EXPUNGE), the expunged message is skipped and the new one is not
// shown; a UID FETCH tells both after its answer. Sets of several ranges give each
// message once, in mailbox order.
func TestFetchNumbersAsTheSessionSeesThem(t *testing.T) {
	ts := startServer(t)
	for i := range 4 {
		ts.put("INBOX", testMail(fmt.Sprint("m", i+1), "Mon, 02 Mar 2026 10:00:00 +0000", "", "x\r\n"), date0)
	}
	var ev events
	actor, watcher := ts.client(nil), ts.client(ev.handler())
	if err := actor.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*imapclient.Client{actor, watcher} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	seqUIDs := func(msgs []*imapclient.FetchMessageBuffer) string {
		var s []string
		for _, m := range msgs {
			s = append(s, fmt.Sprint(m.SeqNum, ":", m.UID))
		}
		return strings.Join(s, ",")
	}
	uidOnly := &goimap.FetchOptions{UID: true}
	// (Sets built by AddRange: imapclient matches its answers to a
	// command by the set, which must be in order.)
	var seqs goimap.SeqSet
	seqs.AddRange(3, 4)
	seqs.AddNum(1)
	if got := seqUIDs(fetch(t, watcher, seqs, uidOnly)); got != "1:1,3:3,4:4" {
		t.Errorf("FETCH %v: %s", seqs, got)
	}
	var uids goimap.UIDSet
	uids.AddNum(4)
	uids.AddRange(1, 2)
	uids.AddRange(9, 12)
	if got := seqUIDs(fetch(t, watcher, uids, uidOnly)); got != "1:1,2:2,4:4" {
		t.Errorf("UID FETCH %v: %s", uids, got)
	}
	if _, err := actor.Move(goimap.UIDSetNum(2), "Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	ts.put("INBOX", testMail("m5", "Mon, 02 Mar 2026 10:00:00 +0000", "", "x\r\n"), date0)
	// The watcher still numbers UID 3 as 3 and does not know UID 5.
	if got := seqUIDs(fetch(t, watcher, goimap.SeqSet{{Start: 1, Stop: 0}}, uidOnly)); got != "1:1,3:3,4:4" {
		t.Errorf("FETCH 1:* with an expunge and an arrival pending: %s", got)
	}
	if got := seqUIDs(fetch(t, watcher, goimap.SeqSet{{Start: 3, Stop: 3}}, uidOnly)); got != "3:3" {
		t.Errorf("FETCH 3 with an expunge pending: %s", got)
	}
	// A UID FETCH answers in the same numbers, then tells both (after
	// its FETCH responses); from then on every number is a position.
	if got := seqUIDs(fetch(t, watcher, goimap.UIDSet{{Start: 1, Stop: 0}}, uidOnly)); got != "1:1,3:3,4:4" {
		t.Errorf("UID FETCH 1:*: %s", got)
	}
	if _, exp := ev.snapshot(); !slices.Equal(exp, []uint32{2}) {
		t.Errorf("watcher's EXPUNGEs %v, want [2]", exp)
	}
	if got := seqUIDs(fetch(t, watcher, goimap.SeqSet{{Start: 2, Stop: 0}}, uidOnly)); got != "2:3,3:4,4:5" {
		t.Errorf("FETCH 2:*: %s", got)
	}
}

// ENVELOPE and the header sections are served from the header block (the
// mailbox's header cache on the second read) and are byte for byte what
// the whole message gives: line endings CRLF or LF, folded fields, a
// message without a body, one whose header has no end, a partial range.
func TestFetchHeadersFromTheHeaderBlock(t *testing.T) {
	for _, cacheBytes := range []int64{1 << 20, 0} {
		t.Run(fmt.Sprint("cache=", cacheBytes), func(t *testing.T) {
			ts := startServer(t)
			ts.headerCache = cacheBytes
			ts.restart()
			mails := []string{
				testMail("crlf", "Mon, 02 Mar 2026 10:00:00 +0000", "X-Long: one\r\n two\r\n", "body\r\n\r\nmore\r\n"),
				"From: a@example.com\nSubject: lf only\nX-Folded: a\n\tb\n\nbody\n",
				"From: a@example.com\r\nSubject: no body\r\n\r\n",
				"From: a@example.com\r\nSubject: header never ends\r\n",
				"\r\nno header at all\r\n",
			}
			for _, m := range mails {
				ts.put("INBOX", m, date0)
			}
			c := ts.client(nil)
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			sections := []*goimap.FetchItemBodySection{
				{Specifier: goimap.PartSpecifierHeader, Peek: true},
				{Specifier: goimap.PartSpecifierHeader, HeaderFields: []string{"SUBJECT", "x-folded", "From"}, Peek: true},
				{Specifier: goimap.PartSpecifierHeader, HeaderFieldsNot: []string{"Subject"}, Peek: true},
				{Specifier: goimap.PartSpecifierHeader, Partial: &goimap.SectionPartial{Offset: 3, Size: 12}, Peek: true},
			}
			opts := &goimap.FetchOptions{UID: true, Envelope: true, BodySection: sections}
			for round := range 2 { // the second from the cache
				msgs := fetch(t, c, goimap.SeqSet{{Start: 1, Stop: 0}}, opts)
				if len(msgs) != len(mails) {
					t.Fatalf("round %d: %d messages", round, len(msgs))
				}
				for i, m := range msgs {
					full := []byte(mails[i])
					for j, bs := range sections {
						want := imapserver.ExtractBodySection(bytes.NewReader(full), bs)
						if got := m.FindBodySection(bs); !bytes.Equal(got, want) {
							t.Errorf("round %d, message %d, section %d: %q, want %q", round, i+1, j, got, want)
						}
					}
					var want *goimap.Envelope
					if h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(full))); err == nil {
						want = imapserver.ExtractEnvelope(h)
						// RFC 3501 7.4.2: sender and reply-to default to from.
						if len(want.Sender) == 0 {
							want.Sender = want.From
						}
						if len(want.ReplyTo) == 0 {
							want.ReplyTo = want.From
						}
					}
					if fmt.Sprint(m.Envelope) != fmt.Sprint(want) {
						t.Errorf("round %d, message %d: envelope %+v, want %+v", round, i+1, m.Envelope, want)
					}
				}
			}
		})
	}
}
