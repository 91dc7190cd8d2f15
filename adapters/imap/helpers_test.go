package imap

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/mailbox"
	"github.com/wabridge/wabridge/internal/store"
)

const (
	testUser     = "agent"
	testPassword = "pw"
	testNumber   = "+15550100001"
	testCustomer = "+4915112345678"
	testDomain   = "wa.example.com"
)

// waitTimeout bounds every wait for something asynchronous; generous,
// so that a slow machine never fails a test that is right.
const waitTimeout = 20 * time.Second

// testServer is a store, a mailbox service with one user and an IMAP
// server on 127.0.0.1:0 over them.
type testServer struct {
	t    *testing.T
	path string
	cfg  Config
	st   *store.SQLite
	svc  *mailbox.Service
	srv  *Server
	// headerCache is the mailbox service's HeaderCacheBytes (1 MiB, as
	// a daemon has one).
	headerCache int64
}

// startServer opens a store in a temp dir and starts the server with
// AllowInsecureAuth (loopback only); edit may change the configuration.
func startServer(t *testing.T, edit ...func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{t: t, path: filepath.Join(t.TempDir(), "w.db"), headerCache: 1 << 20}
	ts.cfg = Config{Listen: "127.0.0.1:0", AllowInsecureAuth: true, FailedLoginDelay: time.Millisecond}
	for _, e := range edit {
		e(&ts.cfg)
	}
	ts.open()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) open() {
	t := ts.t
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), store.SQLiteConfig{Path: ts.path})
	if err != nil {
		t.Fatal(err)
	}
	users, err := mailbox.NewUsers([]mailbox.User{{Username: testUser, Password: testPassword, Numbers: []string{testNumber}}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := mailbox.New(st, mailbox.Config{Domain: testDomain, Users: users, HeaderCacheBytes: ts.headerCache})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(ts.cfg, svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ts.st, ts.svc, ts.srv = st, svc, srv
}

// stop shuts the server down and closes the store (idempotent).
func (ts *testServer) stop() {
	if ts.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		ts.t.Errorf("shutdown: %v", err)
	}
	if err := ts.st.Close(); err != nil {
		ts.t.Errorf("close store: %v", err)
	}
	ts.srv, ts.st, ts.svc = nil, nil, nil
}

// restart stops everything and opens the same store again; the plain
// listener gets a new port.
func (ts *testServer) restart() {
	ts.t.Helper()
	ts.stop()
	ts.open()
}

func (ts *testServer) addr() string { return ts.srv.Addr() }

// client dials without TLS and logs in; h, if given, gets unilateral data.
func (ts *testServer) client(h *imapclient.UnilateralDataHandler) *imapclient.Client {
	t := ts.t
	t.Helper()
	c, err := imapclient.DialInsecure(ts.addr(), &imapclient.Options{UnilateralDataHandler: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	return c
}

func (ts *testServer) mailbox(name string) *mailbox.Mailbox {
	ts.t.Helper()
	mb, err := ts.svc.Mailbox(context.Background(), testUser, name)
	if err != nil {
		ts.t.Fatalf("mailbox %s: %v", name, err)
	}
	return mb
}

// put appends a message directly through the mailbox service.
func (ts *testServer) put(name, body string, date time.Time, flags ...string) uint32 {
	ts.t.Helper()
	a, err := ts.mailbox(name).Append(context.Background(), mailbox.NewMessage{Body: []byte(body), Date: date, Flags: flags}, false)
	if err != nil {
		ts.t.Fatal(err)
	}
	return a.UID
}

// deliver hands a customer's WhatsApp text to the service, as the bridge
// does for an inbound message.
func (ts *testServer) deliver(text string) *bridge.Message {
	ts.t.Helper()
	now := time.Now()
	m := &bridge.Message{ID: bridge.NewID(now), Direction: bridge.Inbound, Business: testNumber,
		Customer: bridge.Customer{Phone: testCustomer}, Kind: bridge.KindText, Content: bridge.Content{Text: text},
		WAMID: "wamid." + string(bridge.NewID(now)), Channel: bridge.ChannelWhatsApp, Status: bridge.StatusReceived,
		ProfileName: "Anna", Timestamp: now, CreatedAt: now, UpdatedAt: now}
	if err := ts.svc.Deliver(context.Background(), m); err != nil {
		ts.t.Fatal(err)
	}
	return m
}

// storedFlags are a message's flags as the service holds them.
func (ts *testServer) storedFlags(name string, uid uint32) string {
	ts.t.Helper()
	var out string
	found := false
	ts.mailbox(name).Snapshot(func(_ mailbox.Info, msgs []*mailbox.Message) {
		for _, m := range msgs {
			if m.UID == uid {
				out, found = strings.Join(m.Flags, " "), true
			}
		}
	})
	if !found {
		ts.t.Fatalf("no UID %d in %s", uid, name)
	}
	return out
}

func testMail(subject, date, extra, body string) string {
	return "From: Anna <anna@example.com>\r\nTo: agent@" + testDomain + "\r\nSubject: " + subject +
		"\r\nDate: " + date + "\r\n" + extra + "\r\n" + body
}

func fetch(t *testing.T, c *imapclient.Client, set goimap.NumSet, opts *goimap.FetchOptions) []*imapclient.FetchMessageBuffer {
	t.Helper()
	msgs, err := c.Fetch(set, opts).Collect()
	if err != nil {
		t.Fatalf("FETCH %v: %v", set, err)
	}
	return msgs
}

func flagString(flags []goimap.Flag) string {
	s := make([]string, len(flags))
	for i, f := range flags {
		s[i] = string(f)
	}
	return strings.Join(s, " ")
}

func hasFlag(flags []goimap.Flag, f goimap.Flag) bool {
	for _, x := range flags {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}

func imapCode(err error) goimap.ResponseCode {
	var ie *goimap.Error
	if errors.As(err, &ie) {
		return ie.Code
	}
	return ""
}

func isNo(err error) bool {
	var ie *goimap.Error
	return errors.As(err, &ie) && ie.Type == goimap.StatusResponseTypeNo
}

func appendMsg(t *testing.T, c *imapclient.Client, name, body string, opts *goimap.AppendOptions) (*goimap.AppendData, error) {
	t.Helper()
	cmd := c.Append(name, int64(len(body)), opts)
	// A refused APPEND fails the write or close of the literal, too.
	_, werr := cmd.Write([]byte(body))
	cerr := cmd.Close()
	ad, err := cmd.Wait()
	for _, e := range []error{werr, cerr} {
		if err == nil {
			err = e
		}
	}
	return ad, err
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// events collects a client's unilateral data. imapclient calls the
// FETCH handler in a goroutine of its own, so FETCHes are kept as a set
// per sequence number, not in order.
type events struct {
	mu       sync.Mutex
	exists   []uint32
	expunges []uint32
	flags    map[uint32]map[string]bool // flag sets seen, by sequence number
}

func (e *events) handler() *imapclient.UnilateralDataHandler {
	e.flags = map[uint32]map[string]bool{}
	return &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) {
			e.mu.Lock()
			e.expunges = append(e.expunges, seq)
			e.mu.Unlock()
		},
		Mailbox: func(data *imapclient.UnilateralDataMailbox) {
			if data.NumMessages != nil {
				e.mu.Lock()
				e.exists = append(e.exists, *data.NumMessages)
				e.mu.Unlock()
			}
		},
		Fetch: func(msg *imapclient.FetchMessageData) {
			buf, err := msg.Collect()
			if err != nil || buf == nil {
				return
			}
			e.mu.Lock()
			if e.flags[buf.SeqNum] == nil {
				e.flags[buf.SeqNum] = map[string]bool{}
			}
			e.flags[buf.SeqNum][flagString(buf.Flags)] = true
			e.mu.Unlock()
		},
	}
}

func (e *events) snapshot() (exists, expunges []uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]uint32(nil), e.exists...), append([]uint32(nil), e.expunges...)
}

// sawFlags reports whether a FETCH FLAGS of seq with exactly flags came.
func (e *events) sawFlags(seq uint32, flags string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.flags[seq][flags]
}

// rawConn speaks IMAP line by line, for what imapclient cannot send
// (SEARCH RETURN (SAVE)) or hides (the order of responses).
type rawConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	n    int
}

func (ts *testServer) raw() *rawConn {
	t := ts.t
	t.Helper()
	conn, err := net.DialTimeout("tcp", ts.addr(), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rc := &rawConn{t: t, conn: conn, r: bufio.NewReader(conn)}
	if greeting := rc.line(); !strings.HasPrefix(greeting, "* OK") {
		t.Fatalf("greeting %q", greeting)
	}
	if resp := rc.cmd(fmt.Sprintf("LOGIN %s %s", testUser, testPassword)); !strings.Contains(resp[len(resp)-1], "OK") {
		t.Fatalf("LOGIN: %q", resp)
	}
	return rc
}

func (rc *rawConn) line() string {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	l, err := rc.r.ReadString('\n')
	if err != nil {
		rc.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// cmd sends one command and returns every response line up to and
// including the tagged one (literals are not expected).
func (rc *rawConn) cmd(command string) []string {
	rc.t.Helper()
	rc.n++
	tag := fmt.Sprintf("T%d", rc.n)
	if _, err := fmt.Fprintf(rc.conn, "%s %s\r\n", tag, command); err != nil {
		rc.t.Fatal(err)
	}
	var out []string
	for {
		l := rc.line()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into a temp
// dir and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
