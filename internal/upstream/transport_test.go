package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter counts the connections a test server accepted.
type connCounter struct{ n atomic.Int64 }

func (c *connCounter) track(srv *httptest.Server) {
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.n.Add(1)
		}
	}
}

// fallbackRecorder is a Fallback that records what it was given.
type fallbackRecorder struct {
	calls atomic.Int64
	next  http.RoundTripper
}

func (f *fallbackRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	return f.next.RoundTrip(req)
}

func newTransport(fb http.RoundTripper) (*Transport, *fallbackRecorder) {
	if fb == nil {
		fb = http.DefaultTransport.(*http.Transport).Clone()
	}
	rec := &fallbackRecorder{next: fb}
	return &Transport{Fallback: rec, MaxIdlePerHost: 4}, rec
}

func get(t *testing.T, c *http.Client, method, u, body string) string {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

func TestTransportKeepsConnectionsAlive(t *testing.T) {
	var conns connCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	}))
	conns.track(srv)
	srv.Start()
	defer srv.Close()
	tr, fb := newTransport(nil)
	c := &http.Client{Transport: tr}
	for i := range 10 {
		if got := get(t, c, http.MethodPost, srv.URL+"/send", fmt.Sprint(i)); got != fmt.Sprintf("200 POST /send %d", i) {
			t.Fatalf("answer %q", got)
		}
		if got := get(t, c, http.MethodGet, srv.URL+"/chunked", ""); got != "200 GET /chunked " {
			t.Fatalf("chunked answer %q", got)
		}
	}
	if n := conns.n.Load(); n != 1 {
		t.Errorf("%d connections for 20 sequential requests, want 1", n)
	}
	if n := fb.calls.Load(); n != 0 {
		t.Errorf("fallback used %d times", n)
	}
}

func TestTransportSpeaksTLS(t *testing.T) {
	var conns connCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %v", r.Proto, r.TLS != nil)
	}))
	conns.track(srv)
	srv.StartTLS()
	defer srv.Close()
	tr, _ := newTransport(nil)
	tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	c := &http.Client{Transport: tr}
	for range 3 {
		if got := get(t, c, http.MethodGet, srv.URL, ""); got != "200 HTTP/1.1 true" {
			t.Fatalf("answer %q", got)
		}
	}
	if n := conns.n.Load(); n != 1 {
		t.Errorf("%d TLS connections, want 1", n)
	}
	// A certificate nobody vouches for is refused.
	bare, _ := newTransport(nil)
	if _, err := (&http.Client{Transport: bare}).Get(srv.URL); err == nil {
		t.Error("an unverified certificate was accepted")
	}
}

// A connection the server closed while it sat idle is not used again: the
// next request, a POST, goes out once on a new connection.
func TestTransportDropsConnectionsTheServerClosed(t *testing.T) {
	var conns connCounter
	var posts atomic.Int64
	closed := make(chan struct{}, 4)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		io.WriteString(w, "ok")
	}))
	conns.track(srv)
	state := srv.Config.ConnState
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		state(c, s)
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()
	tr, _ := newTransport(nil)
	c := &http.Client{Transport: tr}
	get(t, c, http.MethodPost, srv.URL, "one")
	srv.CloseClientConnections()
	<-closed
	time.Sleep(10 * time.Millisecond) // the FIN crosses loopback
	if got := get(t, c, http.MethodPost, srv.URL, "two"); got != "200 ok" {
		t.Fatalf("answer %q", got)
	}
	if conns.n.Load() != 2 || posts.Load() != 2 {
		t.Errorf("%d connections, %d posts; want 2 and 2", conns.n.Load(), posts.Load())
	}
}

// flakyServer answers the first request of each connection and, on its
// first connection, reads the second request and hangs up without an
// answer (a connection lost while the request was in flight).
func flakyServer(t *testing.T) (addr string, requests *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	requests = &atomic.Int64{}
	var first atomic.Bool
	first.Store(true)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			flaky := first.Swap(false)
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					requests.Add(1)
					if flaky && i == 1 {
						return
					}
					io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	return ln.Addr().String(), requests
}

func TestTransportRetriesOnlyIdempotentRequests(t *testing.T) {
	addr, requests := flakyServer(t)
	tr, _ := newTransport(nil)
	c := &http.Client{Transport: tr}
	get(t, c, http.MethodGet, "http://"+addr+"/", "")
	// The connection is lost with the GET in flight: sent again.
	if got := get(t, c, http.MethodGet, "http://"+addr+"/", ""); got != "200 ok" {
		t.Fatalf("GET: %q", got)
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("server read %d requests, want 3 (the lost GET sent again)", n)
	}

	addr, requests = flakyServer(t)
	get(t, c, http.MethodPost, "http://"+addr+"/", "a")
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader("b"))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("a POST lost in flight was sent again")
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("server read %d requests, want 2 (the POST once)", n)
	}
}

func TestTransportAnswerNotReusedWhenUnread(t *testing.T) {
	var conns connCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, strings.Repeat("x", 1000))
	}))
	conns.track(srv)
	srv.Start()
	defer srv.Close()
	tr, _ := newTransport(nil)
	c := &http.Client{Transport: tr}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	resp.Body.Close() // 990 bytes unread: the connection cannot carry another answer
	get(t, c, http.MethodGet, srv.URL+"/close", "")
	get(t, c, http.MethodGet, srv.URL, "")
	if n := conns.n.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (after an unread body and after Connection: close)", n)
	}
}

func TestTransportHonoursTheContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	tr, _ := newTransport(nil)
	c := &http.Client{Transport: tr}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("x"))
	if _, err := c.Do(req); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("past its deadline: %v, want context.DeadlineExceeded", err)
	}
}

func TestTransportLeavesProxiesAndStreamsToFallback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d", len(b))
	}))
	defer srv.Close()
	tr, fb := newTransport(nil)
	c := &http.Client{Transport: tr}

	// A body of unknown length (a streamed upload).
	pr, pw := io.Pipe()
	go func() { pw.Write([]byte("streamed")); pw.Close() }()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, pr)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "8" || fb.calls.Load() != 1 {
		t.Errorf("streamed body: answer %q, fallback calls %d", b, fb.calls.Load())
	}
	// A body above the limit.
	get(t, c, http.MethodPost, srv.URL, strings.Repeat("x", maxFastBody+1))
	if fb.calls.Load() != 2 {
		t.Errorf("large body: fallback calls %d, want 2", fb.calls.Load())
	}
	// A proxy.
	proxied := &fallbackRecorder{next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 204, Body: http.NoBody, Request: r}, nil
	})}
	ptr := &Transport{Fallback: proxied, Proxy: func(*http.Request) (*url.URL, error) {
		return url.Parse("http://proxy.invalid:3128")
	}}
	if got := get(t, &http.Client{Transport: ptr}, http.MethodGet, srv.URL, ""); got != "204 " || proxied.calls.Load() != 1 {
		t.Errorf("with a proxy: %q, fallback calls %d", got, proxied.calls.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportConcurrentUse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer srv.Close()
	tr, _ := newTransport(nil)
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				want := fmt.Sprintf("%d-%d", g, i)
				if got := get(t, c, http.MethodPost, srv.URL, want); got != "200 "+want {
					t.Errorf("got %q want %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	tr.mu.Lock()
	idle := 0
	for _, l := range tr.idle {
		idle += len(l)
	}
	tr.mu.Unlock()
	if idle > tr.MaxIdlePerHost {
		t.Errorf("%d idle connections kept, at most %d allowed", idle, tr.MaxIdlePerHost)
	}
	tr.CloseIdleConnections()
}

// Connections idle past IdleTimeout are closed when another is returned,
// and never used again.
func TestTransportClosesStaleIdleConnections(t *testing.T) {
	var conns connCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	conns.track(srv)
	srv.Start()
	defer srv.Close()
	tr, _ := newTransport(nil)
	tr.IdleTimeout = 50 * time.Millisecond
	c := &http.Client{Transport: tr}
	get(t, c, http.MethodGet, srv.URL, "")
	time.Sleep(80 * time.Millisecond)
	get(t, c, http.MethodGet, srv.URL, "") // the idle one is too old: a new connection
	if n := conns.n.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (the stale one not reused)", n)
	}
	// Two answers held open (two connections); the first returned goes
	// stale before the second is returned, which closes it.
	respA, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	respB, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(respA.Body)
	respA.Body.Close()
	time.Sleep(80 * time.Millisecond)
	io.ReadAll(respB.Body)
	respB.Body.Close()
	tr.mu.Lock()
	idle := len(tr.idle["http://"+srv.Listener.Addr().String()])
	tr.mu.Unlock()
	if idle != 1 {
		t.Errorf("%d idle connections kept, want 1 (the stale one closed)", idle)
	}
}
