package test

import (
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// Kill -9 the daemon during 500 SMTP submissions from 4 connections, with
// the daemon and the sandbox as separate processes. Clients retry what got
// no answer (as MTAs do, with the same Message-ID). Every mail that got a
// 250 reaches WhatsApp, and none is sent twice.
func TestSMTPCrashDuringSubmissions(t *testing.T) {
	smtpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	imapAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cert, key, pool := selfSigned(t)
	ce := startCrashEnv(t, fmt.Sprintf(`
[mail]
domain = "wa.example.com"
[[mail.users]]
username = "agent"
password = "s3cret-pass"
numbers = [%q]
[smtp]
listen = %q
cert_file = %q
key_file = %q
[imap]
listen = %q
cert_file = %q
key_file = %q
`, crashBusiness, smtpAddr, cert, key, imapAddr, cert, key))
	base, sandboxURL := ce.base, ce.sandbox
	ce.openWindow(t)

	const total = 500
	var (
		mu       sync.Mutex
		accepted = map[int]bool{}
		acks     atomic.Int64
		restart  = make(chan struct{})
	)
	connect := func() *gosmtp.Client {
		for deadline := time.Now().Add(30 * time.Second); ; {
			c, err := gosmtp.DialStartTLS(smtpAddr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
			if err == nil {
				if err = c.Auth(sasl.NewPlainClient("", "agent", "s3cret-pass")); err == nil {
					return c
				}
				c.Close()
			}
			if time.Now().After(deadline) {
				t.Errorf("connect: %v", err)
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	work := make(chan int, total)
	for i := range total {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := connect()
			for i := range work {
				msg := fmt.Sprintf("From: agent@example.com\nMessage-ID: <crash-%d@example.com>\nSubject: n\n\nmail number %04d\n", i, i)
				for {
					err := sendMail(c, "agent@example.com", []string{strings.TrimPrefix(customer, "+") + "@wa.example.com"}, msg)
					if err == nil {
						mu.Lock()
						accepted[i] = true
						mu.Unlock()
						acks.Add(1)
						break
					}
					if code := smtpCode(err); code >= 500 {
						t.Errorf("mail %d refused: %v", i, err)
						return
					}
					// No answer (or 4xx): the daemon died; retry the same mail.
					c.Close()
					<-restart
					if c = connect(); c == nil {
						return
					}
				}
			}
			c.Quit()
		}()
	}
	atKill := ce.killAndResume(t, &acks, int64(total/3), restart, &wg)
	if t.Failed() {
		return
	}
	t.Logf("killed after %d mails got 250; %d in all", atKill, len(accepted))
	if len(accepted) != total {
		t.Fatalf("%d of %d mails accepted", len(accepted), total)
	}
	waitOutboxEmpty(t, base)
	count := map[string]int{}
	for _, m := range sandboxMessages(t, sandboxURL, "") {
		count[m.Text]++
	}
	for i := range total {
		if n := count[fmt.Sprintf("mail number %04d", i)]; n != 1 {
			t.Errorf("mail %d reached WhatsApp %d times", i, n)
		}
	}
	// Every accepted mail has exactly one Sent copy.
	c := imapClient(t, imapAddr, pool, nil)
	sent := readMailbox(t, c, "Sent")
	copies := map[string]int{}
	for _, m := range sent.msgs {
		if i := strings.Index(m, "Message-ID: <crash-"); i >= 0 {
			copies[m[i+13:i+13+strings.Index(m[i+13:], ">")]]++
		}
	}
	for i := range total {
		if n := copies[fmt.Sprintf("crash-%d@example.com", i)]; n != 1 {
			t.Errorf("mail %d has %d Sent copies", i, n)
		}
	}
}
