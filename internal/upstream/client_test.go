package upstream

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
