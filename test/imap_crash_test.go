package test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// mailboxState is what a client sees of a mailbox: UIDVALIDITY, and per
// UID the flags and the message's bytes.
type mailboxState struct {
	uidValidity uint32
	uidNext     goimap.UID
	msgs        map[goimap.UID]string // "flags|body"
}

func readMailbox(t *testing.T, c *imapclient.Client, name string) mailboxState {
	t.Helper()
	sel, err := c.Select(name, &goimap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("EXAMINE %s: %v", name, err)
	}
	st := mailboxState{uidValidity: sel.UIDValidity, uidNext: sel.UIDNext, msgs: map[goimap.UID]string{}}
	if sel.NumMessages == 0 {
		return st
	}
	for _, m := range fetchAll(t, c, goimap.SeqSet{{Start: 1, Stop: 0}}, &goimap.FetchOptions{
		UID: true, Flags: true, BodySection: []*goimap.FetchItemBodySection{{Peek: true}},
	}) {
		flags := strings.Fields(flagsOf(m))
		sort.Strings(flags)
		st.msgs[m.UID] = strings.Join(flags, " ") + "|" + string(m.BodySection[0].Bytes)
	}
	return st
}

// After a kill -9 the mailboxes are exactly as clients last saw them:
// UIDVALIDITY, UIDs, flags set with STORE just before the kill, contents
// (INBOX, a MOVE into a created mailbox), with the daemon and the sandbox
// as separate processes.
func TestIMAPStateSurvivesKill9(t *testing.T) {
	imapPort := freePort(t)
	cert, key, pool := selfSigned(t)
	ce := startCrashEnv(t, fmt.Sprintf(`
[mail]
domain = "wa.example.com"
[[mail.users]]
username = "agent"
password = "s3cret-pass"
numbers = [%q]
[smtp]
listen = ""
[imap]
listen = "127.0.0.1:%d"
cert_file = %q
key_file = %q
`, crashBusiness, imapPort, cert, key))
	addr := fmt.Sprintf("127.0.0.1:%d", imapPort)

	const n = 20
	for i := range n {
		do(t, "POST", ce.sandbox+"/sandbox/v1/inbound", "", map[string]any{
			"from": fmt.Sprintf("+49151000%05d", i), "to": crashBusiness, "text": fmt.Sprintf("message %d", i),
		}, nil)
	}
	c := imapClient(t, addr, pool, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every message in INBOX", func() bool {
		st, err := c.Status("INBOX", &goimap.StatusOptions{NumMessages: true}).Wait()
		return err == nil && *st.NumMessages == n
	})
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(goimap.SeqSet{{Start: 1, Stop: 5}}, "Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	store := func(set goimap.SeqSet, op goimap.StoreFlagsOp, flags ...goimap.Flag) {
		t.Helper()
		if err := c.Store(set, &goimap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close(); err != nil {
			t.Fatal(err)
		}
	}
	store(goimap.SeqSet{{Start: 1, Stop: 3}}, goimap.StoreFlagsAdd, goimap.FlagFlagged)
	store(goimap.SeqSetNum(4, 5), goimap.StoreFlagsAdd, goimap.FlagSeen, "$Label1")
	store(goimap.SeqSetNum(6), goimap.StoreFlagsSet, goimap.FlagAnswered)
	store(goimap.SeqSetNum(7), goimap.StoreFlagsAdd, goimap.FlagDeleted)
	if _, err := c.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	// The last STORE's OK is the last thing before the kill.
	store(goimap.SeqSetNum(8), goimap.StoreFlagsAdd, goimap.FlagFlagged, "$Important")

	before := map[string]mailboxState{}
	for _, name := range []string{"INBOX", "Archive", "Sent"} {
		before[name] = readMailbox(t, c, name)
	}
	if len(before["INBOX"].msgs) != n-6 || len(before["Archive"].msgs) != 5 {
		t.Fatalf("before the kill: INBOX %d, Archive %d", len(before["INBOX"].msgs), len(before["Archive"].msgs))
	}
	ce.daemon.kill9()
	ce.restart(t)

	var c2 *imapclient.Client
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if cl, err := imapclient.DialStartTLS(addr, &imapclient.Options{TLSConfig: tlsFor(pool)}); err == nil {
			c2 = cl
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("IMAP not back after the restart")
		}
	}
	defer c2.Close()
	if err := c2.Login("agent", "s3cret-pass").Wait(); err != nil {
		t.Fatal(err)
	}
	for name, want := range before {
		got := readMailbox(t, c2, name)
		if got.uidValidity != want.uidValidity || got.uidNext != want.uidNext {
			t.Errorf("%s: UIDVALIDITY %d→%d, UIDNEXT %d→%d", name, want.uidValidity, got.uidValidity, want.uidNext, got.uidNext)
		}
		if len(got.msgs) != len(want.msgs) {
			t.Errorf("%s: %d messages after the kill, %d before", name, len(got.msgs), len(want.msgs))
		}
		for uid, w := range want.msgs {
			if g := got.msgs[uid]; g != w {
				t.Errorf("%s UID %d changed:\nbefore %.120q\nafter  %.120q", name, uid, w, g)
			}
		}
	}
	last := 0
	for _, m := range before["INBOX"].msgs {
		if strings.HasPrefix(m, "$Important \\Flagged|") {
			last++
		}
	}
	if last != 1 {
		t.Errorf("the last STORE before the kill is on %d messages, want 1", last)
	}
}
