package test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/wabridge/wabridge/internal/config"
)

const mailDomain = "wa.example.com"

// smtpDaemon starts the daemon with a mail user and STARTTLS submission.
func smtpDaemon(t *testing.T) (*daemon, *x509.CertPool) {
	cfg := testConfig(t)
	cert, key, pool := selfSigned(t)
	cfg.Mail.Domain = mailDomain
	cfg.Mail.Users = []config.MailUser{{Username: "agent", Password: "s3cret-pass", Numbers: []string{business}}}
	cfg.SMTP.Listen, cfg.SMTP.CertFile, cfg.SMTP.KeyFile = "127.0.0.1:0", cert, key
	d := startDaemon(t, cfg)
	if d.app.SMTPAddr() == "" {
		t.Fatal("SMTP is not listening")
	}
	return d, pool
}

// mailClient connects with STARTTLS, verifying the certificate.
func mailClient(t *testing.T, d *daemon, pool *x509.CertPool) *gosmtp.Client {
	t.Helper()
	c, err := gosmtp.DialStartTLS(d.app.SMTPAddr(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func smtpCode(err error) int {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func smtpEnhanced(err error) string {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	return ""
}

// sendMail runs one transaction; the error is from the first refusal.
func sendMail(c *gosmtp.Client, from string, to []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			c.Reset()
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
		return err
	}
	return w.Close()
}

func waitSandbox(t *testing.T, d *daemon, cond func([]sandboxMessage) bool) []sandboxMessage {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := sandboxMessages(t, d.sandbox, "")
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandbox never got what was expected: %+v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// AUTH is required before MAIL; PLAIN and LOGIN work over STARTTLS; a
// wrong password is 535; no relay: RCPT outside the domain is 550 5.1.1.
func TestSMTPAuthAndRelay(t *testing.T) {
	d, pool := smtpDaemon(t)
	c := mailClient(t, d, pool)
	if err := c.Mail("agent@example.com", nil); smtpCode(err) != 530 || smtpEnhanced(err) != "5.7.0" {
		t.Errorf("MAIL before AUTH: %v", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "agent", "wrong")); smtpCode(err) != 535 {
		t.Errorf("wrong password: %v", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "agent", "s3cret-pass")); err != nil {
		t.Fatalf("AUTH PLAIN: %v", err)
	}
	if err := c.Mail("agent@example.com", nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"someone@gmail.com", "4915112345678@other.example", "shop@" + mailDomain, "12@" + mailDomain} {
		if err := c.Rcpt(bad, nil); smtpCode(err) != 550 || smtpEnhanced(err) != "5.1.1" {
			t.Errorf("RCPT %s: %v", bad, err)
		}
	}
	c2 := mailClient(t, d, pool)
	if err := c2.Auth(sasl.NewLoginClient("agent", "s3cret-pass")); err != nil {
		t.Errorf("AUTH LOGIN: %v", err)
	}

	// Without TLS, AUTH is not offered: passwords never travel in clear.
	plain, err := gosmtp.Dial(d.app.SMTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Auth(sasl.NewPlainClient("", "agent", "s3cret-pass")); err == nil {
		t.Error("AUTH accepted without TLS")
	}
}

// Mail → WhatsApp: text to each recipient (+ optional), the From address
// chooses the business number, a number not owned is 550 5.7.1, a repeated
// Message-ID is not sent twice, a reply threads to the customer's message.
func TestSMTPMailToWhatsApp(t *testing.T) {
	d, pool := smtpDaemon(t)
	wamid := d.inject(customer, "Can you send me the invoice?")
	d.inject("+4915100000002", "hi")
	c := mailClient(t, d, pool)
	if err := c.Auth(sasl.NewPlainClient("", "agent", "s3cret-pass")); err != nil {
		t.Fatal(err)
	}
	to := []string{strings.TrimPrefix(customer, "+") + "@" + mailDomain, "+4915100000002@" + mailDomain}
	msg := "From: Support <agent@example.com>\nTo: Anna <4915112345678@wa.example.com>\nSubject: Re: Your invoice\n" +
		"Message-ID: <mail-1@example.com>\nIn-Reply-To: " + mailMessageID(wamid) + "\nContent-Type: text/plain; charset=utf-8\n\n" +
		"Hello Anna, here it is. Grüße 😀\n\nOn Mon, Anna wrote:\n> Can you send me the invoice?\n"
	if err := sendMail(c, "agent@example.com", to, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := waitSandbox(t, d, func(ms []sandboxMessage) bool { return len(ms) == 2 })
	for _, m := range got {
		if m.Type != "text" || m.Text != "Hello Anna, here it is. Grüße 😀" {
			t.Errorf("sandbox got %+v", m)
		}
		if m.To == customer && !strings.Contains(string(m.Request), wamid) {
			t.Errorf("reply not threaded to %s: %s", wamid, m.Request)
		}
	}
	// The same Message-ID again: nothing new is sent.
	if err := sendMail(c, "agent@example.com", to[:1], msg); err != nil {
		t.Fatalf("resend: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(sandboxMessages(t, d.sandbox, "")); n != 2 {
		t.Errorf("a repeated Message-ID was sent again (%d messages)", n)
	}
	// From a number the user does not own.
	foreign := "From: +15559990000@wa.example.com\nMessage-ID: <mail-2@example.com>\n\nhi\n"
	if err := sendMail(c, "agent@example.com", to[:1], foreign); smtpCode(err) != 550 || smtpEnhanced(err) != "5.7.1" {
		t.Errorf("foreign From number: %v", err)
	}
}

func mailMessageID(wamid string) string { return "<" + wamid + "@" + mailDomain + ">" }

// Attachments become media by type; over a limit 552 5.3.4, an
// unsupported type 554 5.6.1 — both before the 250, with nothing sent.
func TestSMTPAttachments(t *testing.T) {
	d, pool := smtpDaemon(t)
	d.inject(customer, "hi")
	c := mailClient(t, d, pool)
	if err := c.Auth(sasl.NewPlainClient("", "agent", "s3cret-pass")); err != nil {
		t.Fatal(err)
	}
	to := []string{"4915112345678@" + mailDomain}
	attach := func(id, ctype, name string, size int) string {
		body := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", size)))
		var lines []string
		for len(body) > 76 {
			lines, body = append(lines, body[:76]), body[76:]
		}
		lines = append(lines, body)
		return "Message-ID: <" + id + "@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b1\n\n" +
			"--b1\nContent-Type: text/plain\n\nSee attached.\n--b1\nContent-Type: " + ctype + "; name=\"" + name + "\"\n" +
			"Content-Disposition: attachment; filename=\"" + name + "\"\nContent-Transfer-Encoding: base64\n\n" +
			strings.Join(lines, "\n") + "\n--b1--\n"
	}
	if err := sendMail(c, "agent@example.com", to, attach("zip", "application/zip", "a.zip", 100)); smtpCode(err) != 554 || smtpEnhanced(err) != "5.6.1" {
		t.Errorf("zip: %v", err)
	}
	if err := sendMail(c, "agent@example.com", to, attach("big", "image/png", "big.png", 5<<20+1)); smtpCode(err) != 552 || smtpEnhanced(err) != "5.3.4" {
		t.Errorf("6 MiB image: %v", err)
	}
	if n := len(sandboxMessages(t, d.sandbox, "")); n != 0 {
		t.Fatalf("refused mail reached WhatsApp: %d", n)
	}
	if err := sendMail(c, "agent@example.com", to, attach("pdf", "application/pdf", "invoice.pdf", 50000)); err != nil {
		t.Fatalf("pdf: %v", err)
	}
	got := waitSandbox(t, d, func(ms []sandboxMessage) bool { return len(ms) == 2 })
	var text, doc bool
	for _, m := range got {
		text = text || (m.Type == "text" && m.Text == "See attached.")
		doc = doc || (m.Type == "document" && strings.Contains(string(m.Request), `"filename":"invoice.pdf"`))
	}
	if !text || !doc {
		t.Errorf("sandbox got %+v", got)
	}
	// The client retries the same mail: nothing is sent and no file is
	// stored again.
	files := func() int {
		n := 0
		filepath.WalkDir(d.cfg.MediaPath(), func(_ string, e fs.DirEntry, _ error) error {
			if e != nil && !e.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	before := files()
	if err := sendMail(c, "agent@example.com", to, attach("pdf", "application/pdf", "invoice.pdf", 50000)); err != nil {
		t.Fatalf("pdf again: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(sandboxMessages(t, d.sandbox, "")); n != 2 || files() != before || before == 0 {
		t.Errorf("a repeated mail: %d messages sent, %d files stored (%d before)", n, files(), before)
	}
}

// Bad input gets a clear reply and sends nothing: broken MIME (554 5.6.0),
// a mail with nothing to send (554 5.6.0), and with long_text = "refuse"
// a text over 4,096 characters (552 5.3.4).
func TestSMTPBadInput(t *testing.T) {
	cfg := testConfig(t)
	cert, key, pool := selfSigned(t)
	cfg.Mail.Domain = mailDomain
	cfg.Mail.Users = []config.MailUser{{Username: "agent", Password: "s3cret-pass", Numbers: []string{business}}}
	cfg.SMTP.Listen, cfg.SMTP.CertFile, cfg.SMTP.KeyFile = "127.0.0.1:0", cert, key
	cfg.SMTP.LongText = "refuse"
	d := startDaemon(t, cfg)
	d.inject(customer, "hi")
	c := mailClient(t, d, pool)
	if err := c.Auth(sasl.NewPlainClient("", "agent", "s3cret-pass")); err != nil {
		t.Fatal(err)
	}
	to := []string{"4915112345678@" + mailDomain}
	broken := "Message-ID: <broken@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b1\n\n" +
		"--b1\nContent-Type: image/png; name=a.png\nContent-Transfer-Encoding: base64\n\n!!!not base64!!!\n--b1--\n"
	if err := sendMail(c, "agent@example.com", to, broken); smtpCode(err) != 554 || smtpEnhanced(err) != "5.6.0" {
		t.Errorf("broken MIME: %v", err)
	}
	empty := "Message-ID: <empty@example.com>\nSubject: nothing\n\n   \n"
	if err := sendMail(c, "agent@example.com", to, empty); smtpCode(err) != 554 {
		t.Errorf("empty mail: %v", err)
	}
	long := "Message-ID: <long@example.com>\n\n" + strings.Repeat(strings.Repeat("word ", 15)+"\n", 70)
	if err := sendMail(c, "agent@example.com", to, long); smtpCode(err) != 552 || smtpEnhanced(err) != "5.3.4" {
		t.Errorf("long text with long_text = refuse: %v", err)
	}
	if n := len(sandboxMessages(t, d.sandbox, "")); n != 0 {
		t.Errorf("refused mail reached WhatsApp: %d messages", n)
	}
}
