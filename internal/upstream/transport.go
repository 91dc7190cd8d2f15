package upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"
)

// Transport is an HTTP/1.1 client transport that runs each exchange on the
// calling goroutine over a pool of keep-alive connections. net/http's
// Transport gives every connection a reading and a writing goroutine and
// hands each request to both: at thousands of small API calls a second
// those hand-offs cost more CPU than the exchange itself.
//
// It serves requests to http and https URLs without a proxy whose body is
// absent or replayable (GetBody) and at most maxFastBody bytes; every other
// request (a proxy from Proxy, a streamed upload) goes to Fallback, which
// also speaks HTTP/2. A request's context bounds it (deadline and
// cancellation). An idle connection the peer has closed is found with one
// non-blocking peek before it is reused; a request on a reused connection
// that fails anyway is sent again on a new one only when it is idempotent
// (GET, HEAD, OPTIONS) — as net/http does, a POST is never sent twice.
type Transport struct {
	// Fallback serves what Transport does not (required).
	Fallback http.RoundTripper
	// Proxy returns the proxy for a request (nil: none), as
	// http.Transport.Proxy; a request with a proxy goes to Fallback.
	Proxy func(*http.Request) (*url.URL, error)
	// TLSClientConfig is cloned for each TLS connection (nil: defaults).
	TLSClientConfig *tls.Config
	// MaxIdlePerHost bounds the idle connections kept per host.
	MaxIdlePerHost int
	// IdleTimeout closes a connection idle for longer (0: 90 s).
	IdleTimeout time.Duration

	dialer net.Dialer
	mu     sync.Mutex
	idle   map[string][]*persistConn
}

// maxFastBody is the largest request body Transport sends itself.
const maxFastBody = 1 << 20

// persistConn is one keep-alive connection.
type persistConn struct {
	conn   net.Conn
	raw    net.Conn // the TCP connection under TLS (conn itself without)
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

func (pc *persistConn) close() { _ = pc.conn.Close() }

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.serves(req) {
		return t.Fallback.RoundTrip(req)
	}
	if t.Proxy != nil {
		if u, err := t.Proxy(req); err != nil || u != nil {
			return t.Fallback.RoundTrip(req)
		}
	}
	ctx := req.Context()
	key := req.URL.Scheme + "://" + canonicalAddr(req.URL)
	for attempt := 0; ; attempt++ {
		pc, reused, err := t.conn(ctx, key, req.URL)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := t.exchange(ctx, pc, req)
		if err == nil {
			t.wrapBody(key, pc, resp)
			return resp, nil
		}
		pc.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !reused || attempt > 0 || !idempotent(req.Method) {
			return nil, err
		}
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			r2 := *req
			r2.Body = body
			req = &r2
		}
	}
}

// serves reports whether req is one Transport sends itself.
func (t *Transport) serves(req *http.Request) bool {
	if req.URL == nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" {
		return false
	}
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	return req.GetBody != nil && req.ContentLength >= 0 && req.ContentLength <= maxFastBody
}

func idempotent(method string) bool {
	switch method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// aLongTimeAgo is a deadline that has passed: setting it interrupts an I/O
// in progress.
var aLongTimeAgo = time.Unix(1, 0)

// exchange writes req on pc and reads the head of its answer.
func (t *Transport) exchange(ctx context.Context, pc *persistConn, req *http.Request) (*http.Response, error) {
	deadline, _ := ctx.Deadline()
	if err := pc.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(aLongTimeAgo) })
	defer stop()
	if err := req.Write(pc.bw); err != nil {
		return nil, t.ctxErr(ctx, err)
	}
	if err := pc.bw.Flush(); err != nil {
		return nil, t.ctxErr(ctx, err)
	}
	resp, err := http.ReadResponse(pc.br, req)
	if err != nil {
		return nil, t.ctxErr(ctx, err)
	}
	return resp, nil
}

// ctxErr prefers the context's error to the I/O error it caused.
func (t *Transport) ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if _, ok := ctx.Deadline(); ok {
			return context.DeadlineExceeded
		}
	}
	return err
}

// wrapBody returns pc to the pool once resp's body has been read to its end
// (and closes it otherwise); the body keeps the request's context.
func (t *Transport) wrapBody(key string, pc *persistConn, resp *http.Response) {
	ctx := resp.Request.Context()
	b := &body{rc: resp.Body, t: t, key: key, pc: pc, keep: !resp.Close}
	b.stop = context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(aLongTimeAgo) })
	resp.Body = b
}

// body is an answer's body on a pooled connection.
type body struct {
	rc   io.ReadCloser
	t    *Transport
	key  string
	pc   *persistConn
	keep bool
	stop func() bool
	done bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

func (b *body) Close() error {
	if !b.done {
		// Unread bytes would be the next answer's start: not reusable.
		b.finish(false)
	}
	return nil
}

func (b *body) finish(atEOF bool) {
	b.done = true
	stopped := b.stop()
	_ = b.rc.Close()
	if atEOF && b.keep && stopped {
		b.t.put(b.key, b.pc)
		return
	}
	b.pc.close()
}

// conn returns an idle connection to key that is still open, or a new one.
func (t *Transport) conn(ctx context.Context, key string, u *url.URL) (*persistConn, bool, error) {
	if pc := t.takeIdle(key); pc != nil {
		return pc, true, nil
	}
	pc, err := t.dial(ctx, u)
	return pc, false, err
}

func (t *Transport) takeIdle(key string) *persistConn {
	timeout := t.idleTimeout()
	now := time.Now()
	for {
		t.mu.Lock()
		list := t.idle[key]
		if len(list) == 0 {
			t.mu.Unlock()
			return nil
		}
		pc := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[key] = list[:len(list)-1]
		t.mu.Unlock()
		if now.Sub(pc.idleAt) < timeout && open(pc.raw) {
			return pc
		}
		pc.close()
	}
}

// open reports whether the peer has neither closed c nor sent anything on
// it while it was idle (a TLS alert, a stray byte): one non-blocking peek.
func open(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = n < 0 && (rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && alive
}

// put returns pc to key's idle list (the most recently used last, taken
// first) and closes the connections at the list's bottom that have been
// idle longer than IdleTimeout, so a pool that shrank after a burst does
// not keep them open.
func (t *Transport) put(key string, pc *persistConn) {
	max := t.MaxIdlePerHost
	if max <= 0 {
		max = DefaultConns
	}
	_ = pc.conn.SetDeadline(time.Time{})
	pc.idleAt = time.Now()
	var stale []*persistConn
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*persistConn{}
	}
	list := t.idle[key]
	n := 0
	for n < len(list) && pc.idleAt.Sub(list[n].idleAt) >= t.idleTimeout() {
		n++
	}
	if n > 0 {
		stale = append(stale, list[:n]...)
		list = append(list[:0], list[n:]...)
	}
	if len(list) < max {
		list = append(list, pc)
		pc = nil
	}
	t.idle[key] = list
	t.mu.Unlock()
	for _, s := range stale {
		s.close()
	}
	if pc != nil {
		pc.close()
	}
}

func (t *Transport) idleTimeout() time.Duration {
	if t.IdleTimeout <= 0 {
		return 90 * time.Second
	}
	return t.IdleTimeout
}

func (t *Transport) dial(ctx context.Context, u *url.URL) (*persistConn, error) {
	addr := canonicalAddr(u)
	raw, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn := raw
	if u.Scheme == "https" {
		cfg := &tls.Config{}
		if t.TLSClientConfig != nil {
			cfg = t.TLSClientConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		conn = tc
	}
	return &persistConn{conn: conn, raw: raw, br: bufio.NewReaderSize(conn, 4<<10), bw: bufio.NewWriterSize(conn, 4<<10)}, nil
}

// CloseIdleConnections closes the idle connections (and Fallback's).
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, list := range idle {
		for _, pc := range list {
			pc.close()
		}
	}
	if c, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// canonicalAddr is u's host:port with the scheme's default port.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}
