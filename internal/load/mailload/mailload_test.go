package mailload

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/wabridge/wabridge/internal/load"
)

// result parses the RESULT line of a report.
func result(t *testing.T, out string) load.Report {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if js, ok := strings.CutPrefix(line, "RESULT "); ok {
			var r load.Report
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				t.Fatalf("RESULT line: %v", err)
			}
			return r
		}
	}
	t.Fatalf("no RESULT line in:\n%s", out)
	return load.Report{}
}

// smtpBackend accepts every message from an authenticated session, refuses
// recipients starting with "refuse" (550) and drops the connection on
// every dropEvery-th message.
type smtpBackend struct {
	accepted  atomic.Int64
	sessions  atomic.Int64
	dropEvery int64
	mu        sync.Mutex
	sizes     []int
	rcpts     map[string]bool
}

type smtpTestSession struct {
	b      *smtpBackend
	authed bool
	conn   *smtp.Conn
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.sessions.Add(1)
	return &smtpTestSession{b: b, conn: c}, nil
}

func (s *smtpTestSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpTestSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "agent" || pass != "pw" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *smtpTestSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return &smtp.SMTPError{Code: 530, Message: "auth first"}
	}
	return nil
}
func (s *smtpTestSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "refuse") {
		return &smtp.SMTPError{Code: 550, Message: "no such user"}
	}
	s.b.mu.Lock()
	s.b.rcpts[to] = true
	s.b.mu.Unlock()
	return nil
}
func (s *smtpTestSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	n := s.b.accepted.Add(1)
	if s.b.dropEvery > 0 && n%s.b.dropEvery == 0 {
		s.conn.Conn().Close()
		return errors.New("dropped")
	}
	_, body, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	s.b.mu.Lock()
	s.b.sizes = append(s.b.sizes, len(body))
	s.b.mu.Unlock()
	return nil
}
func (s *smtpTestSession) Reset()        {}
func (s *smtpTestSession) Logout() error { return nil }

func startSMTP(t *testing.T, b *smtpBackend) string {
	t.Helper()
	b.rcpts = map[string]bool{}
	srv := smtp.NewServer(b)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestSMTPCountSizeAndRecipients(t *testing.T) {
	b := &smtpBackend{}
	addr := startSMTP(t, b)
	var out, errOut bytes.Buffer
	code := SMTPMain([]string{"-addr", addr, "-user", "agent", "-password", "pw", "-sessions", "4",
		"-count", "200", "-size", "300", "-to-domain", "wa.test", "-to-base", "+4915100000000",
		"-text", "Your order %s has shipped and arrives on Monday.", "-settings", "peer=test"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	r := result(t, out.String())
	if r.Ops != 200 || b.accepted.Load() != 200 {
		t.Fatalf("ops %d, server accepted %d, want 200", r.Ops, b.accepted.Load())
	}
	if got := b.sessions.Load(); got != 4 {
		t.Errorf("sessions %d, want 4 (one connection each)", got)
	}
	if len(b.rcpts) != 200 || !b.rcpts["4915100000000@wa.test"] || !b.rcpts["4915100000199@wa.test"] {
		t.Errorf("recipients: %d distinct, want 4915100000000..199@wa.test", len(b.rcpts))
	}
	for _, n := range b.sizes {
		if n != 300 {
			t.Fatalf("body of %d bytes, want 300", n)
		}
	}
	if r.Settings["peer"] != "test" || r.Latency["message"].Count != 200 || r.Latency["message"].P50 <= 0 {
		t.Errorf("report: %+v", r)
	}
}

func TestSMTPReconnectAfterDrop(t *testing.T) {
	b := &smtpBackend{dropEvery: 30}
	addr := startSMTP(t, b)
	var out, errOut bytes.Buffer
	code := SMTPMain([]string{"-addr", addr, "-user", "agent", "-password", "pw", "-sessions", "2",
		"-count", "100", "-to-domain", "wa.test", "-recipients", "10"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	s := result(t, out.String()).Latency["message"]
	if s.Errors["conn_dropped"] != 3 || s.Count != 97 {
		t.Errorf("count %d errors %v, want 97 and 3 conn_dropped", s.Count, s.Errors)
	}
	if n := b.sessions.Load(); n < 4 || n > 5 {
		t.Errorf("sessions %d, want 2 + a reconnection per drop", n)
	}
	if len(b.rcpts) != 10 {
		t.Errorf("%d recipients, want 10 (-recipients cycles)", len(b.rcpts))
	}
	// A wrong password fails at connect.
	out.Reset()
	errOut.Reset()
	if code := SMTPMain([]string{"-addr", addr, "-user", "agent", "-password", "bad", "-count", "1"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "AUTH") {
		t.Errorf("wrong password: exit %d, %s", code, errOut.String())
	}
}

func TestSMTPRefusedRecipients(t *testing.T) {
	b := &smtpBackend{}
	addr := startSMTP(t, b)
	// The server refuses recipients starting "refuse" at RCPT (wabload's
	// recipients are digits, so drive a session by hand).
	s := &smtpSession{first: &firstErrors{}}
	cfg := smtpConfig{addr: addr, user: "agent", password: "pw", helo: "t", timeout: 5 * time.Second, from: "a@b"}
	if kind := s.send(cfg, "refuse1@wa.test", []byte("Subject: x\r\n\r\nhi\r\n")); kind != "smtp_550" {
		t.Errorf("kind %q, want smtp_550", kind)
	}
	if kind := s.send(cfg, "1@wa.test", []byte("Subject: x\r\n\r\nhi\r\n")); kind != "" {
		t.Errorf("after a refusal the session sends again: kind %q", kind)
	}
	s.quit()
	if n := b.sessions.Load(); n != 1 {
		t.Errorf("sessions %d, want 1 (the refusal kept its session)", n)
	}
}

func TestMakeBody(t *testing.T) {
	b := makeBody("Your order %s has shipped and arrives on Monday.", 100)
	if len(b) != 100 || !strings.HasPrefix(string(b), "Your order 0123") || !strings.HasSuffix(string(b), "Monday.\r\n") {
		t.Errorf("%d %q", len(b), b)
	}
	if b := makeBody("", 1000); len(b) != 1000 {
		t.Errorf("plain body %d bytes", len(b))
	}
}

// startIMAP is go-imap's in-memory server with user agent/pw and an INBOX.
func startIMAP(t *testing.T) string {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("agent", "pw")
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       nopLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

func TestIMAPCommandLoadSeedAndPush(t *testing.T) {
	addr := startIMAP(t)
	var out, errOut bytes.Buffer
	code := IMAPMain([]string{"-addr", addr, "-user", "agent", "-password", "pw", "-clients", "4",
		"-seed", "30", "-duration", "1s", "-idle-clients", "2", "-push-rate", "10"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	r := result(t, out.String())
	if r.Ops == 0 || r.Throughput <= 0 {
		t.Fatalf("no commands: %+v", r)
	}
	for _, c := range imapCommands {
		if s := r.Latency[c]; s.Count == 0 || s.ErrorCount() != 0 {
			t.Errorf("%s: %+v", c, s)
		}
	}
	push := r.Latency["idle_push"]
	if push.Count < 10 || push.ErrorCount() != 0 {
		t.Errorf("idle_push %+v: want about 2 idlers × 10 pushes, none missing", push)
	}
	if r.Settings["push_via"] != "append" || !strings.Contains(errOut.String(), "now 30 messages") {
		t.Errorf("settings %v, stderr %s", r.Settings, errOut.String())
	}

	// Seeding again finds the messages there.
	out.Reset()
	errOut.Reset()
	IMAPMain([]string{"-addr", addr, "-user", "agent", "-password", "pw", "-clients", "1", "-seed", "30",
		"-duration", "200ms", "-idle-clients", "0", "-mix", "fetch"}, &out, &errOut)
	if !strings.Contains(errOut.String(), "messages already") {
		t.Errorf("second seed: %s", errOut.String())
	}
	if r := result(t, out.String()); r.Latency["fetch"].Count == 0 || r.Latency["noop"].Count != 0 {
		t.Errorf("-mix fetch: %+v", r.Latency)
	}
}

func TestIMAPIdleOnly(t *testing.T) {
	addr := startIMAP(t)
	var out, errOut bytes.Buffer
	code := IMAPMain([]string{"-addr", addr, "-user", "agent", "-password", "pw", "-idle-only",
		"-clients", "50", "-duration", "300ms"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	r := result(t, out.String())
	if r.Scenario != "imap_idle" || r.Ops != 50 || r.Settings["held"] != "50" {
		t.Errorf("report: %+v", r)
	}
	// A wrong password: nothing held, exit 1.
	out.Reset()
	if code := IMAPMain([]string{"-addr", addr, "-user", "agent", "-password", "bad", "-idle-only",
		"-clients", "3", "-duration", "10ms"}, &out, &errOut); code != 1 {
		t.Errorf("wrong password: exit %d", code)
	}
}

func TestWebhookSignature(t *testing.T) {
	// HMAC-SHA256("sandbox-app-secret", "{}"), as Meta signs.
	if got := sign("sandbox-app-secret", []byte("{}")); !strings.HasPrefix(got, "sha256=") || len(got) != 7+64 {
		t.Errorf("signature %q", got)
	}
	p := newWebhookPoster("http://x", "s", "100000000000002", "+15550100001", "100000000000001")
	var v struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Metadata struct {
						PhoneNumberID string `json:"phone_number_id"`
						Display       string `json:"display_phone_number"`
					} `json:"metadata"`
					Messages []struct{ ID, From, Type string } `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(p.body("seed", 7), &v); err != nil {
		t.Fatal(err)
	}
	val := v.Entry[0].Changes[0].Value
	if val.Metadata.PhoneNumberID != "100000000000002" || val.Metadata.Display != "15550100001" ||
		val.Messages[0].From != "4915200000007" || val.Messages[0].Type != "text" || !strings.Contains(val.Messages[0].ID, ".seed.7") {
		t.Errorf("webhook: %+v", val)
	}
}

func TestProcTree(t *testing.T) {
	pids, err := descendants(1)
	if err != nil || len(pids) == 0 || pids[0] != 1 {
		t.Fatalf("descendants(1) = %v, %v", pids, err)
	}
	s, err := sampleTree(1)
	if err != nil || s.Procs == 0 {
		t.Errorf("sampleTree(1) = %+v, %v", s, err)
	}
}
