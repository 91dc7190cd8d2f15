package upstream

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// More concurrent calls than http.DefaultTransport keeps idle (two per
// host): a second round must reuse the first round's connections.
func TestNewHTTPClientKeepsAConnectionPerConcurrentCall(t *testing.T) {
	const conns = 16
	var dialed atomic.Int64
	var mu sync.Mutex
	gate := sync.NewCond(&mu)
	inside := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hold every request until all of the round are in flight, so
		// the round needs conns connections at once.
		mu.Lock()
		inside++
		if inside%conns == 0 {
			gate.Broadcast()
		}
		for inside%conns != 0 {
			gate.Wait()
		}
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := NewHTTPClient(conns)
	round := func() {
		var wg sync.WaitGroup
		for range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := c.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
		wg.Wait()
	}
	round()
	first := dialed.Load()
	if first != conns {
		t.Fatalf("first round dialed %d connections, want %d", first, conns)
	}
	round()
	if again := dialed.Load() - first; again != 0 {
		t.Fatalf("second round dialed %d new connections, want 0 (idle connections were dropped)", again)
	}
}

// Do reads the answer up to the limit and keeps its status and headers.
func TestDoReadsUpToTheLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	reply, err := Do(srv.Client(), req, 10)
	if err != nil {
		t.Fatal(err)
	}
	if reply.OK() || reply.Status != http.StatusTooManyRequests || reply.Header.Get("Retry-After") != "7" || len(reply.Body) != 10 {
		t.Fatalf("reply %d %v %q", reply.Status, reply.Header, reply.Body)
	}
	req, _ = http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
	if _, err := Do(srv.Client(), req, 10); err == nil {
		t.Fatal("a refused connection gave no error")
	}
}
