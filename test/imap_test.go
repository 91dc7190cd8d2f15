package test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/wabridge/wabridge/internal/config"
)

// mailDaemon starts the daemon with a mail user, STARTTLS submission and
// an IMAP server (STARTTLS), all with the same certificate.
func mailDaemon(t *testing.T, edit ...func(*config.Config)) (*daemon, *x509.CertPool) {
	cfg := testConfig(t)
	cert, key, pool := selfSigned(t)
	cfg.Mail.Domain = mailDomain
	cfg.Mail.Users = []config.MailUser{{Username: "agent", Password: "s3cret-pass", Numbers: []string{business}}}
	cfg.SMTP.Listen, cfg.SMTP.CertFile, cfg.SMTP.KeyFile = "127.0.0.1:0", cert, key
	cfg.IMAP.Listen, cfg.IMAP.CertFile, cfg.IMAP.KeyFile = "127.0.0.1:0", cert, key
	for _, e := range edit {
		e(cfg)
	}
	d := startDaemon(t, cfg)
	if d.app.IMAPAddr() == "" {
		t.Fatal("IMAP is not listening")
	}
	return d, pool
}

// imapClient logs in over STARTTLS (certificate verified); h, if given,
// receives unilateral data.
func imapClient(t *testing.T, addr string, pool *x509.CertPool, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialStartTLS(addr, &imapclient.Options{
		TLSConfig:             tlsFor(pool),
		UnilateralDataHandler: h,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("agent", "s3cret-pass").Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	return c
}

func tlsFor(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

func fetchAll(t *testing.T, c *imapclient.Client, set goimap.NumSet, opts *goimap.FetchOptions) []*imapclient.FetchMessageBuffer {
	t.Helper()
	msgs, err := c.Fetch(set, opts).Collect()
	if err != nil {
		t.Fatalf("FETCH: %v", err)
	}
	return msgs
}

func flagsOf(m *imapclient.FetchMessageBuffer) string {
	var s []string
	for _, f := range m.Flags {
		s = append(s, string(f))
	}
	return strings.Join(s, " ")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The whole loop through the real daemon: a customer writes on WhatsApp,
// an idling client is told at once, the message is a proper mail; the
// user replies by mail with the client's In-Reply-To and WhatsApp gets a
// reply to the right wamid; the Sent copy shows its delivery state; the
// client's own APPEND of it to Sent is merged.
func TestIMAPMailLoop(t *testing.T) {
	d, pool := mailDaemon(t)
	var (
		mu     sync.Mutex
		exists uint32
	)
	idler := imapClient(t, d.app.IMAPAddr(), pool, &imapclient.UnilateralDataHandler{
		Mailbox: func(data *imapclient.UnilateralDataMailbox) {
			if data.NumMessages != nil {
				mu.Lock()
				exists = *data.NumMessages
				mu.Unlock()
			}
		},
	})
	sel, err := idler.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 0 || sel.UIDValidity == 0 {
		t.Fatalf("fresh INBOX: %+v", sel)
	}
	idle, err := idler.Idle()
	if err != nil {
		t.Fatal(err)
	}
	wamid := d.inject(customer, "Can you send me the invoice? 😀")
	waitFor(t, "IDLE push of the new message", func() bool { mu.Lock(); defer mu.Unlock(); return exists == 1 })
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}

	c := imapClient(t, d.app.IMAPAddr(), pool, nil)
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range boxes {
		names = append(names, fmt.Sprint(b.Mailbox, b.Attrs))
	}
	if got := strings.Join(names, ";"); !strings.Contains(got, "INBOX") || !strings.Contains(got, `Sent[\Subscribed \Sent]`) {
		t.Errorf("LIST: %s", got)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs := fetchAll(t, c, goimap.SeqSetNum(1), &goimap.FetchOptions{
		UID: true, Flags: true, Envelope: true, RFC822Size: true,
		BodySection: []*goimap.FetchItemBodySection{{Peek: true}},
	})
	if len(msgs) != 1 {
		t.Fatalf("FETCH: %d messages", len(msgs))
	}
	m := msgs[0]
	env := m.Envelope
	if env == nil || len(env.From) != 1 || env.From[0].Name != "Test Customer" || env.From[0].Addr() != strings.TrimPrefix(customer, "+")+"@"+mailDomain {
		t.Errorf("envelope From: %+v", env)
	}
	if env.MessageID != strings.Trim(mailMessageID(wamid), "<>") {
		t.Errorf("Message-ID %q, want one from %s", env.MessageID, wamid)
	}
	body := string(m.BodySection[0].Bytes)
	if !strings.Contains(body, "Can you send me the invoice? =F0=9F=98=80") || int64(len(m.BodySection[0].Bytes)) != m.RFC822Size {
		t.Errorf("body (size %d):\n%s", m.RFC822Size, body)
	}
	if flagsOf(m) != "" {
		t.Errorf("a new message has flags %q", flagsOf(m))
	}

	// SEARCH over body, headers, flags and dates.
	search := func(c2 *goimap.SearchCriteria) []goimap.UID {
		t.Helper()
		data, err := c.UIDSearch(c2, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		return data.AllUIDs()
	}
	uid := m.UID
	for name, crit := range map[string]*goimap.SearchCriteria{
		"BODY":   {Body: []string{"invoice"}},
		"FROM":   {Header: []goimap.SearchCriteriaHeaderField{{Key: "From", Value: "Test Customer"}}},
		"UNSEEN": {NotFlag: []goimap.Flag{goimap.FlagSeen}},
		"SINCE":  {Since: time.Now().Add(-48 * time.Hour)},
	} {
		if got := search(crit); len(got) != 1 || got[0] != uid {
			t.Errorf("SEARCH %s: %v", name, got)
		}
	}
	if got := search(&goimap.SearchCriteria{Body: []string{"no such words"}}); len(got) != 0 {
		t.Errorf("SEARCH for absent text: %v", got)
	}

	// Reply by mail: In-Reply-To is the Message-ID the client saw.
	sc := mailClient(t, d, pool)
	if err := sc.Auth(sasl.NewPlainClient("", "agent", "s3cret-pass")); err != nil {
		t.Fatal(err)
	}
	reply := "From: agent@example.com\nTo: " + env.From[0].Addr() + "\nSubject: Re: " + env.Subject +
		"\nMessage-ID: <reply-1@example.com>\nIn-Reply-To: <" + env.MessageID + ">\n\nHere it is.\n\n> Can you send me the invoice?\n"
	if err := sendMail(sc, "agent@example.com", []string{env.From[0].Addr()}, reply); err != nil {
		t.Fatalf("reply by mail: %v", err)
	}
	got := waitSandbox(t, d, func(ms []sandboxMessage) bool { return len(ms) == 1 })
	if got[0].Text != "Here it is." || !strings.Contains(string(got[0].Request), `"message_id":"`+wamid+`"`) {
		t.Errorf("WhatsApp got %+v %s, want a reply to %s", got[0], got[0].Request, wamid)
	}

	// The Sent copy: the mail as written, \Seen, then $Delivered and $Read
	// as WhatsApp reports them (the sandbox reads every message).
	if _, err := c.Select("Sent", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var sent []*imapclient.FetchMessageBuffer
	waitFor(t, "$Read on the Sent copy", func() bool {
		sent = fetchAll(t, c, goimap.SeqSetNum(1), &goimap.FetchOptions{UID: true, Flags: true, Envelope: true})
		return len(sent) == 1 && strings.Contains(flagsOf(sent[0]), "$Read")
	})
	if f := flagsOf(sent[0]); !strings.Contains(f, `\Seen`) || !strings.Contains(f, "$Delivered") || sent[0].Envelope.MessageID != "reply-1@example.com" {
		t.Errorf("Sent copy: flags %q, envelope %+v", f, sent[0].Envelope)
	}
	// The client saves its own copy to Sent: merged, not doubled.
	raw := strings.ReplaceAll(reply, "\n", "\r\n")
	app := c.Append("Sent", int64(len(raw)), &goimap.AppendOptions{Flags: []goimap.Flag{goimap.FlagSeen, goimap.FlagFlagged}})
	if _, err := app.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	ad, err := app.Wait()
	if err != nil {
		t.Fatalf("APPEND to Sent: %v", err)
	}
	if ad.UID != sent[0].UID {
		t.Errorf("APPEND of the submitted mail got UID %d, our copy is %d", ad.UID, sent[0].UID)
	}
	after := fetchAll(t, c, goimap.SeqSet{{Start: 1, Stop: 0}}, &goimap.FetchOptions{UID: true, Flags: true})
	if len(after) != 1 || !strings.Contains(flagsOf(after[0]), `\Flagged`) {
		t.Errorf("Sent after APPEND: %d messages, flags %q", len(after), flagsOf(after[0]))
	}
	if got := metricLines(t, d.base, "wabridge_mail_deliveries_total"); got != `wabridge_mail_deliveries_total{kind="inbox"} 1; wabridge_mail_deliveries_total{kind="sent"} 1` {
		t.Errorf("delivery metrics: %s", got)
	}
	if got := metricLines(t, d.base, "wabridge_mail_logins_total"); got != `wabridge_mail_logins_total{protocol="imap",result="ok"} 2; wabridge_mail_logins_total{protocol="smtp",result="ok"} 1` {
		t.Errorf("login metrics: %s", got)
	}
	// The gate's gauges: nothing waits; the scrape itself is no IMAP work.
	if got := metricLines(t, d.base, "wabridge_imap_sessions_waiting"); got != `wabridge_imap_sessions_waiting 0` {
		t.Errorf("gate metrics: %s", got)
	}
	if got := metricLines(t, d.base, "wabridge_imap_sessions_busy"); !strings.HasPrefix(got, "wabridge_imap_sessions_busy ") {
		t.Errorf("gate metrics: %s", got)
	}
	// The header cache: a header fetch reads the message once, then
	// serves it from memory.
	hits := func() string { return metricLines(t, d.base, "wabridge_imap_header_cache_hits_total") }
	before := hits()
	subject := &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{
		{Specifier: goimap.PartSpecifierHeader, HeaderFields: []string{"Subject"}, Peek: true}}}
	for range 2 {
		if m := fetchAll(t, c, goimap.SeqSetNum(1), subject); len(m) != 1 || !strings.HasPrefix(string(m[0].BodySection[0].Bytes), "Subject: ") {
			t.Fatalf("header fetch: %+v", m)
		}
	}
	if after := hits(); after == before {
		t.Errorf("header cache hits: %s before two header fetches, %s after", before, after)
	}
	if got := metricLines(t, d.base, "wabridge_imap_header_cache_bytes"); got == "wabridge_imap_header_cache_bytes 0" || got == "" {
		t.Errorf("header cache bytes: %q", got)
	}
}

// Mailbox management as mail clients do it: CREATE Drafts/Trash/Archive
// (special use by name), APPEND a draft, STORE seen by another session,
// MOVE, EXPUNGE; INBOX cannot be deleted; LOGIN needs TLS.
func TestIMAPMailboxes(t *testing.T) {
	d, pool := mailDaemon(t)
	d.inject(customer, "first")
	d.inject(customer, "second")
	c := imapClient(t, d.app.IMAPAddr(), pool, nil)
	for _, name := range []string{"Drafts", "Trash", "Archive"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatalf("CREATE %s: %v", name, err)
		}
	}
	if err := c.Create("Archive", nil).Wait(); !isIMAPCode(err, goimap.ResponseCodeAlreadyExists) {
		t.Errorf("CREATE of an existing mailbox: %v", err)
	}
	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Error("INBOX deleted")
	}
	boxes, err := c.List("", "*", &goimap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	uses := map[string]string{}
	for _, b := range boxes {
		for _, a := range b.Attrs {
			if a != goimap.MailboxAttrSubscribed {
				uses[b.Mailbox] = string(a)
			}
		}
	}
	if uses["Drafts"] != `\Drafts` || uses["Trash"] != `\Trash` || uses["Archive"] != `\Archive` || uses["Sent"] != `\Sent` {
		t.Errorf("special use: %v", uses)
	}
	draft := "From: agent@example.com\r\nSubject: draft\r\n\r\nnot yet\r\n"
	app := c.Append("Drafts", int64(len(draft)), &goimap.AppendOptions{Flags: []goimap.Flag{goimap.FlagDraft}})
	app.Write([]byte(draft))
	app.Close()
	if ad, err := app.Wait(); err != nil || ad.UID != 1 {
		t.Errorf("APPEND draft: %+v %v", ad, err)
	}

	// Two sessions on INBOX: one's STORE reaches the other.
	var (
		mu      sync.Mutex
		flagged bool
	)
	other := imapClient(t, d.app.IMAPAddr(), pool, &imapclient.UnilateralDataHandler{
		Fetch: func(msg *imapclient.FetchMessageData) {
			buf, _ := msg.Collect()
			if buf != nil && strings.Contains(flagsOf(buf), `\Flagged`) {
				mu.Lock()
				flagged = true
				mu.Unlock()
			}
		},
	})
	if _, err := other.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(goimap.SeqSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other session to see \\Flagged", func() bool {
		if err := other.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return flagged
	})

	// MOVE the first message to Archive; the second is then number 1.
	md, err := c.Move(goimap.SeqSetNum(1), "Archive").Wait()
	if err != nil {
		t.Fatalf("MOVE: %v", err)
	}
	if md.UIDValidity == 0 || fmt.Sprint(md.DestUIDs) != "1" {
		t.Errorf("COPYUID: %+v", md)
	}
	if st, err := c.Status("Archive", &goimap.StatusOptions{NumMessages: true}).Wait(); err != nil || *st.NumMessages != 1 {
		t.Errorf("STATUS Archive: %+v %v", st, err)
	}
	// Delete and expunge the other.
	if err := c.Store(goimap.SeqSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Status("INBOX", &goimap.StatusOptions{NumMessages: true, UIDNext: true}).Wait(); err != nil || *st.NumMessages != 0 || st.UIDNext != 3 {
		t.Errorf("STATUS INBOX after MOVE and EXPUNGE: %+v %v", st, err)
	}

	// Without TLS: LOGINDISABLED, LOGIN refused.
	plain, err := imapclient.DialInsecure(d.app.IMAPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if !plain.Caps().Has(goimap.CapLoginDisabled) {
		t.Errorf("capabilities before TLS: %v", plain.Caps())
	}
	if err := plain.Login("agent", "s3cret-pass").Wait(); err == nil {
		t.Error("LOGIN accepted without TLS")
	}
	bad, err := imapclient.DialStartTLS(d.app.IMAPAddr(), &imapclient.Options{TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Login("agent", "wrong").Wait(); !isIMAPCode(err, goimap.ResponseCodeAuthenticationFailed) {
		t.Errorf("wrong password: %v", err)
	}
}

func isIMAPCode(err error, code goimap.ResponseCode) bool {
	var ie *goimap.Error
	return errors.As(err, &ie) && ie.Code == code
}

// A mail to a number not on WhatsApp finally fails: the sender gets one
// RFC 3464 bounce in INBOX naming the recipient and the reason, and the
// Sent copy is marked $Failed.
func TestIMAPBounce(t *testing.T) {
	const nobody = "+4915100000099"
	d, pool := mailDaemon(t, func(cfg *config.Config) { cfg.Sandbox.NotOnWhatsApp = []string{nobody} })
	d.inject(nobody, "hi") // the window is open; WhatsApp still cannot deliver
	sc := mailClient(t, d, pool)
	if err := sc.Auth(sasl.NewPlainClient("", "agent", "s3cret-pass")); err != nil {
		t.Fatal(err)
	}
	rcpt := strings.TrimPrefix(nobody, "+") + "@" + mailDomain
	long := strings.Repeat("some words in a line\n", 250) // two WhatsApp messages, one bounce
	if err := sendMail(sc, "agent@example.com", []string{rcpt}, "Subject: Offer\nMessage-ID: <offer-1@example.com>\n\n"+long+"\n"); err != nil {
		t.Fatal(err)
	}
	c := imapClient(t, d.app.IMAPAddr(), pool, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// INBOX: the customer's "hi", then the bounce.
	all := func() []*imapclient.FetchMessageBuffer {
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		return fetchAll(t, c, goimap.SeqSet{{Start: 1, Stop: 0}}, &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{{Peek: true}}})
	}
	var msgs []*imapclient.FetchMessageBuffer
	waitFor(t, "a bounce in INBOX", func() bool { msgs = all(); return len(msgs) >= 2 })
	time.Sleep(500 * time.Millisecond) // a second bounce would have come by now
	if msgs = all(); len(msgs) != 2 {
		t.Fatalf("%d messages in INBOX, want the customer's and one bounce", len(msgs))
	}
	msgs = msgs[1:]
	b := string(msgs[0].BodySection[0].Bytes)
	for _, want := range []string{"multipart/report", "report-type=delivery-status", "Final-Recipient: rfc822; " + rcpt,
		"Action: failed", "Status: 5.1.1", "not_on_whatsapp", "In-Reply-To: <offer-1@example.com>", "Subject: Offer"} {
		if !strings.Contains(b, want) {
			t.Errorf("bounce lacks %q:\n%s", want, b)
		}
	}
	if _, err := c.Select("Sent", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "$Failed on the Sent copy", func() bool {
		s := fetchAll(t, c, goimap.SeqSetNum(1), &goimap.FetchOptions{Flags: true})
		return len(s) == 1 && strings.Contains(flagsOf(s[0]), "$Failed")
	})
}
