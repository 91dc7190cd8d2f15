package sandbox

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// settings posts to /sandbox/v1/settings and requires HTTP 200.
func (h *harness) settings(body map[string]any) map[string]any {
	h.t.Helper()
	var cur map[string]any
	if code := h.do("POST", "/sandbox/v1/settings", "", body, &cur); code != 200 {
		h.t.Fatalf("settings %v: HTTP %d %v", body, code, cur)
	}
	return cur
}

func helloWorld(to string) map[string]any { return template(to, "hello_world", "en_US") }

// customerN is a distinct customer number per n.
func customerN(n int) string { return fmt.Sprintf("+49151%08d", n) }

func TestLoadKnobDefaultsAndValidation(t *testing.T) {
	h := start(t, nil)
	cur := h.settings(nil)
	want := map[string]any{"latency": "0s", "error_rate": 0.0, "error_code": 131000.0, "error_seed": 0.0,
		"statuses": "all", "status_batch": 1.0, "keep_messages": 0.0}
	for k, v := range want {
		if cur[k] != v {
			t.Errorf("default %s = %v, want %v", k, cur[k], v)
		}
	}
	for _, bad := range []map[string]any{
		{"latency": "soon"}, {"latency": "-1s"}, {"error_rate": 1.5}, {"error_rate": -0.1},
		{"error_code": 0}, {"statuses": "some"}, {"status_batch": 0}, {"keep_messages": -1},
		{"error_rate": 0.5, "statuses": "bogus"},
	} {
		var e map[string]any
		if code := h.do("POST", "/sandbox/v1/settings", "", bad, &e); code != 400 {
			t.Errorf("settings %v: HTTP %d, want 400", bad, code)
		}
	}
	if cur := h.settings(nil); cur["error_rate"] != 0.0 || cur["statuses"] != "all" {
		t.Errorf("a refused change changed settings: %v", cur)
	}

	base := testConfig()
	for name, mutate := range map[string]func(*Config){
		"ErrorRate": func(c *Config) { c.ErrorRate = 2 }, "Statuses": func(c *Config) { c.Statuses = "x" },
		"StatusBatch": func(c *Config) { c.StatusBatch = -1 }, "Latency": func(c *Config) { c.Latency = -time.Second },
		"WebhookWorkers": func(c *Config) { c.WebhookWorkers = -1 }, "KeepMessages": func(c *Config) { c.KeepMessages = -1 },
	} {
		c := base
		mutate(&c)
		if _, err := New(c, nil); err == nil {
			t.Errorf("New accepted a bad %s", name)
		}
	}
}

func TestLatencyKnob(t *testing.T) {
	h := start(t, func(c *Config) { c.Latency = 120 * time.Millisecond })
	timed := func(f func()) time.Duration {
		t0 := time.Now()
		f()
		return time.Since(t0)
	}
	if d := timed(func() { h.send(helloWorld(customer)) }); d < 120*time.Millisecond {
		t.Errorf("send with Config.Latency 120ms took %v", d)
	}
	h.settings(map[string]any{"latency": "250ms"})
	if d := timed(func() { h.do("GET", "/v24.0/"+testWABA+"/message_templates", testToken, nil, nil) }); d < 250*time.Millisecond {
		t.Errorf("template list with latency 250ms took %v", d)
	}
	if d := timed(func() { h.sendErr(map[string]any{"messaging_product": "whatsapp"}, 400, 100) }); d < 250*time.Millisecond {
		t.Errorf("refused send with latency 250ms took %v", d)
	}
	if d := timed(func() { h.stats() }); d > 200*time.Millisecond {
		t.Errorf("the control API must not be delayed; took %v", d)
	}
	h.settings(map[string]any{"latency": "0s"})
	if d := timed(func() { h.send(helloWorld(customer)) }); d > 100*time.Millisecond {
		t.Errorf("send without latency took %v", d)
	}
	h.settings(map[string]any{"latency": "250ms"})
	h.do("POST", "/sandbox/v1/reset", "", nil, nil)
	if d := timed(func() { h.send(helloWorld(customer)) }); d < 120*time.Millisecond || d > 240*time.Millisecond {
		t.Errorf("after reset the Config latency (120ms) applies; send took %v", d)
	}
}

// sendOutcomes sends n template messages one by one and returns which failed.
func sendOutcomes(h *harness, n, wantHTTP, wantCode int) []bool {
	h.t.Helper()
	out := make([]bool, n)
	for i := range out {
		var e graphErr
		code := h.do("POST", "/v24.0/"+testPNID+"/messages", testToken, helloWorld(customerN(i)), &e)
		switch code {
		case 200:
		case wantHTTP:
			if e.Error.Code != wantCode || e.Error.FBTraceID == "" || e.Error.ErrorData.Details == "" {
				h.t.Fatalf("injected error: %+v", e)
			}
			out[i] = true
		default:
			h.t.Fatalf("send %d: HTTP %d %+v", i, code, e)
		}
	}
	return out
}

func TestErrorRateKnob(t *testing.T) {
	h := start(t, func(c *Config) { c.StatusDelay = time.Hour })
	h.settings(map[string]any{"error_rate": 0.25, "error_seed": 7})
	const n = 800
	first := sendOutcomes(h, n, 500, 131000)
	failed := 0
	for _, f := range first {
		if f {
			failed++
		}
	}
	if failed < n*18/100 || failed > n*32/100 {
		t.Errorf("error_rate 0.25: %d of %d sends failed", failed, n)
	}
	var st struct {
		Sends          int `json:"sends"`
		RejectedSends  int `json:"rejected_sends"`
		InjectedErrors int `json:"injected_errors"`
	}
	h.do("GET", "/sandbox/v1/stats", "", nil, &st)
	if st.InjectedErrors != failed || st.RejectedSends != failed || st.Sends != n-failed {
		t.Errorf("stats %+v, want %d injected of %d", st, failed, n)
	}
	if got := len(h.messages("")); got != n-failed {
		t.Errorf("%d sends recorded, want %d (failed ones are not)", got, n-failed)
	}

	// The same seed fails the same sends again, from the start of the sequence.
	h.settings(map[string]any{"error_seed": 7})
	again := sendOutcomes(h, n, 500, 131000)
	for i := range first {
		if first[i] != again[i] {
			t.Fatalf("send %d: failed=%v, with the same seed failed=%v", i, first[i], again[i])
		}
	}
	// Another code answers with Meta's HTTP status for it.
	h.settings(map[string]any{"error_rate": 1, "error_code": 130429})
	if e := h.sendErr(helloWorld(customer), 400, 130429); e.Error.Message != "(#130429) Rate limit hit" {
		t.Errorf("130429 message %q", e.Error.Message)
	}
	// Invalid sends keep their validation error.
	h.sendErr(map[string]any{"messaging_product": "whatsapp", "to": customer, "type": "text"}, 400, 100)
	h.settings(map[string]any{"error_rate": 0})
	h.send(helloWorld(customer))
}

func TestStatusesKnob(t *testing.T) {
	h := start(t, func(c *Config) { c.StatusDelay = 5 * time.Millisecond })
	for _, tc := range []struct {
		statuses string
		want     []string
	}{
		{"all", []string{"sent", "delivered", "read"}},
		{"delivered", []string{"sent", "delivered"}},
		{"sent", []string{"sent"}},
		{"none", nil},
	} {
		h.settings(map[string]any{"statuses": tc.statuses})
		wamid := h.send(helloWorld(customer))
		failedWamid := h.send(text(customer, "outside the window", "")) // 131047
		if tc.want != nil {
			h.rc.waitStatuses(t, wamid, len(tc.want))
			h.rc.waitStatuses(t, failedWamid, 1)
		}
		time.Sleep(60 * time.Millisecond) // nothing more may follow
		var got []string
		for _, st := range h.rc.statuses(wamid) {
			got = append(got, st.Status)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("statuses=%s: got %v, want %v", tc.statuses, got, tc.want)
		}
		failed := h.rc.statuses(failedWamid)
		if tc.want == nil && len(failed) != 0 || tc.want != nil && (len(failed) != 1 || failed[0].Status != "failed") {
			t.Errorf("statuses=%s: failed send got %+v", tc.statuses, failed)
		}
	}
}

// TestStatusBatching sends many messages concurrently with batching on and
// checks that statuses share webhooks, none is lost or duplicated and each
// message's statuses arrive in order.
func TestStatusBatching(t *testing.T) {
	h := start(t, func(c *Config) {
		c.StatusDelay = 2 * time.Millisecond
		c.WebhookWorkers = 4
	})
	// Concurrent sends can leave a dialled but unused connection in the
	// client's idle pool; the server's Shutdown waits 5s for such "new"
	// connections unless the client closes them (runs before Close).
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	h.settings(map[string]any{"status_batch": 7})
	const n = 300
	wamids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			num := testPNID
			if i%3 == 0 {
				num = testPNID2
			}
			var r sendResp
			if code := h.do("POST", "/v24.0/"+num+"/messages", testToken, helloWorld(customerN(i)), &r); code != 200 {
				t.Errorf("send %d: HTTP %d", i, code)
				return
			}
			wamids[i] = r.Messages[0].ID
		})
	}
	wg.Wait()
	waitFor(t, "all statuses", func() bool {
		h.rc.mu.Lock()
		defer h.rc.mu.Unlock()
		c := 0
		for _, env := range h.rc.hooks {
			c += len(env.Entry[0].Changes[0].Value.Statuses)
		}
		return c >= 3*n
	})
	time.Sleep(30 * time.Millisecond)

	h.rc.mu.Lock()
	posts, multi, maxBatch, total := len(h.rc.hooks), 0, 0, 0
	for _, env := range h.rc.hooks {
		if len(env.Entry) != 1 || len(env.Entry[0].Changes) != 1 {
			t.Fatalf("status webhook with %d entries", len(env.Entry))
		}
		v := env.Entry[0].Changes[0].Value
		total += len(v.Statuses)
		maxBatch = max(maxBatch, len(v.Statuses))
		if len(v.Statuses) > 1 {
			multi++
		}
	}
	h.rc.mu.Unlock()
	if total != 3*n {
		t.Errorf("%d statuses delivered, want %d", total, 3*n)
	}
	if maxBatch > 7 || multi == 0 || posts >= 3*n {
		t.Errorf("%d posts for %d statuses, %d with several, largest %d (limit 7)", posts, total, multi, maxBatch)
	}
	for i, w := range wamids {
		var got []string
		for _, st := range h.rc.statuses(w) {
			got = append(got, st.Status)
		}
		if fmt.Sprint(got) != "[sent delivered read]" {
			t.Errorf("message %d (%s): statuses %v", i, w, got)
		}
	}
	// Statuses of a webhook belong to the number in its metadata.
	h.rc.mu.Lock()
	for _, env := range h.rc.hooks {
		v := env.Entry[0].Changes[0].Value
		for _, st := range v.Statuses {
			for i, w := range wamids {
				if w == st.ID && (i%3 == 0) != (v.Metadata.PhoneNumberID == testPNID2) {
					t.Errorf("status of message %d posted with metadata of %s", i, v.Metadata.PhoneNumberID)
				}
			}
		}
	}
	h.rc.mu.Unlock()
	if st := h.stats(); st.WebhooksPending != 0 || st.WebhooksDelivered != posts {
		t.Errorf("stats %+v, want %d delivered, none pending", st, posts)
	}
}

// TestStatusBatchFlushedByDelay: a batch that never fills is posted
// status_delay after its first status.
func TestStatusBatchFlushedByDelay(t *testing.T) {
	h := start(t, func(c *Config) {
		c.StatusDelay = 30 * time.Millisecond
		c.StatusBatch = 100
		c.Statuses = StatusesSent
	})
	wamid := h.send(helloWorld(customer))
	t0 := time.Now()
	got := h.rc.waitStatuses(t, wamid, 1)
	if d := time.Since(t0); d < 40*time.Millisecond || got[0].Status != "sent" {
		t.Errorf("got %v after %v, want sent after about 60ms", got, d)
	}
}

func TestKeepMessages(t *testing.T) {
	h := start(t, func(c *Config) { c.StatusDelay = time.Hour })
	h.settings(map[string]any{"keep_messages": 10})
	var last string
	for i := range 45 {
		last = h.send(helloWorld(customerN(i)))
	}
	msgs := h.messages("")
	if len(msgs) < 10 || len(msgs) >= 20 || msgs[len(msgs)-1].Wamid != last {
		t.Errorf("keep_messages 10: %d records kept, last %s", len(msgs), msgs[len(msgs)-1].Wamid)
	}
}

func TestInjectedErrorTable(t *testing.T) {
	for code, status := range map[int]int{131000: 500, 130429: 400, 131016: 503, 133004: 503, 131056: 400, 999999: 400} {
		e := injectedGraphError(code)
		if e.status != status || e.code != code || e.message == "" || e.details == "" {
			t.Errorf("code %d: %+v", code, e)
		}
	}
	if http.StatusText(injectedGraphError(DefaultErrorCode).status) != "Internal Server Error" {
		t.Error("default error is not HTTP 500")
	}
}

// WebhookWorkers bounds the deliveries in flight: with a receiver that
// answers slowly, several are in flight at once, never more than
// configured.
func TestWebhookWorkersBoundDeliveriesInFlight(t *testing.T) {
	for _, workers := range []int{3, 8} {
		t.Run(strconv.Itoa(workers), func(t *testing.T) {
			var cur, peak, answered atomic.Int32
			slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := cur.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(20 * time.Millisecond)
				cur.Add(-1)
				answered.Add(1)
			}))
			t.Cleanup(slow.Close)
			h := start(t, func(c *Config) {
				c.StatusDelay = time.Millisecond
				c.WebhookWorkers = workers
				c.WebhookURL = slow.URL
			})
			t.Cleanup(http.DefaultClient.CloseIdleConnections)
			h.settings(map[string]any{"statuses": "delivered"})
			const n = 40
			for i := range n {
				if code := h.do("POST", "/v24.0/"+testPNID+"/messages", testToken, helloWorld(customerN(i)), nil); code != 200 {
					t.Fatalf("send %d: HTTP %d", i, code)
				}
			}
			waitFor(t, "every status delivered", func() bool { return answered.Load() >= n })
			if p := peak.Load(); p > int32(workers) || p < 2 {
				t.Errorf("%d deliveries in flight at most, want 2..%d", p, workers)
			}
		})
	}
}
