package test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

const (
	crashToken     = "crash-api-token"
	crashAppSecret = "crash-app-secret"
	crashPNID      = "200000000000002"
	crashBusiness  = "+15550200002"
)

// Kill -9 the daemon in the middle of a burst of 1,000 REST sends and
// 1,000 webhook posts, with the daemon and the sandbox as separate
// processes. After a restart every send that got a 202 reaches the sandbox
// exactly once, and every webhook that got a 200 is stored exactly once.
func TestCrashDuringBurstLosesNothingSendsNothingTwice(t *testing.T) {
	ce := startCrashEnv(t, "")
	base, sandboxURL, dbPath := ce.base, ce.sandbox, ce.db

	const n = 1000
	var (
		mu         sync.Mutex
		acceptedID = map[int]string{} // item → id from the 202 (or the 200 of a retry)
		ackedHooks []string
		accepted   atomic.Int64
		acked      atomic.Int64
	)
	bc := newBurstClient(t)
	post, retry, refusedNow := bc.post, bc.retry, &bc.refused
	var wg sync.WaitGroup
	sends := make(chan int, n)
	hooks := make(chan int, n)
	for i := range n {
		sends <- i
		hooks <- i
	}
	close(sends)
	close(hooks)
	for range 8 {
		wg.Add(2)
		go func() { // REST sends: templates, so the window does not matter
			defer wg.Done()
			for i := range sends {
				body := fmt.Sprintf(`{"to":"+49151%08d","idempotency_key":"burst-%d","template":{"name":"order_update","language":"en_US","params":["%d","Monday"]}}`, i, i, i)
				retry(func() bool {
					code, data := post(base+"/api/v1/messages", "application/json", []byte(body), map[string]string{"Authorization": "Bearer " + crashToken})
					var out struct{ ID string }
					if (code != http.StatusAccepted && code != http.StatusOK) || json.Unmarshal(data, &out) != nil || out.ID == "" {
						return false
					}
					mu.Lock()
					acceptedID[i] = out.ID
					mu.Unlock()
					accepted.Add(1)
					return true
				})
			}
		}()
		go func() { // signed inbound webhooks, as Meta posts them
			defer wg.Done()
			for i := range hooks {
				wamid := fmt.Sprintf("wamid.crash.%04d", i)
				body := []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"200000000000001","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550200002","phone_number_id":"%s"},"contacts":[{"profile":{"name":"Burst %d"},"wa_id":"4917%08d"}],"messages":[{"from":"4917%08d","id":"%s","timestamp":"%d","text":{"body":"burst %d"},"type":"text"}]},"field":"messages"}]}]}`,
					crashPNID, i, i, i, wamid, time.Now().Unix(), i))
				mac := hmac.New(sha256.New, []byte(crashAppSecret))
				mac.Write(body)
				sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
				retry(func() bool {
					if code, _ := post(base+"/webhooks/whatsapp", "application/json", body, map[string]string{"X-Hub-Signature-256": sig}); code != http.StatusOK {
						return false
					}
					mu.Lock()
					ackedHooks = append(ackedHooks, wamid)
					mu.Unlock()
					acked.Add(1)
					return true
				})
			}
		}()
	}
	// Kill in the middle of the burst.
	ce.killWhen(t, func() bool { return accepted.Load() >= n/3 && acked.Load() >= n/3 })
	atKill := len(sandboxMessages(t, sandboxURL, ""))
	acceptedAtKill, ackedAtKill := accepted.Load(), acked.Load()
	time.Sleep(300 * time.Millisecond) // the daemon stays down for a moment

	// Restart on the same database; the sandbox kept running and is
	// re-delivering the status webhooks the dead daemon missed.
	ce.restart(t)
	daemon2 := ce.daemon
	wg.Wait()
	t.Logf("killed mid-burst after %d sends accepted, %d webhooks acknowledged, %d sends at the sandbox; %d requests failed while down and were repeated",
		acceptedAtKill, ackedAtKill, atKill, refusedNow.Load())
	if acceptedAtKill >= n || ackedAtKill >= n || refusedNow.Load() == 0 {
		t.Fatalf("the kill did not interrupt the burst")
	}
	if len(acceptedID) != n || len(ackedHooks) != n {
		t.Fatalf("after restart: %d of %d sends accepted, %d of %d webhooks acknowledged", len(acceptedID), n, len(ackedHooks), n)
	}
	waitOutboxEmpty(t, base)

	// Exactly once at "WhatsApp": every accepted id once, nothing else.
	var perID []string
	for _, m := range sandboxMessages(t, sandboxURL, "") {
		perID = append(perID, m.CallbackData)
	}
	checkSentOnce(t, "the sandbox", acceptedID, perID)
	reconciled := metricLines(t, base, "wabridge_send_reconciled_total")
	if code := daemon2.terminate(30 * time.Second); code != 0 {
		t.Errorf("daemon exit code %d after SIGTERM", code)
	}
	checkStoredOnce(t, dbPath, ackedHooks)
	t.Logf("verified: %d sends exactly once at the sandbox, %d webhooks stored once; unknown sends settled: %s",
		len(acceptedID), len(ackedHooks), reconciled)
}

// checkSentOnce compares the ids the upstream received (one per message
// it got, in any order) with the accepted sends: each exactly once,
// nothing else.
func checkSentOnce(t *testing.T, upstream string, accepted map[int]string, got []string) {
	t.Helper()
	perID := map[string]int{}
	for _, id := range got {
		perID[id]++
	}
	var missing, doubled int
	for _, id := range accepted {
		switch perID[id] {
		case 0:
			missing++
		case 1:
		default:
			doubled++
		}
	}
	if missing > 0 || doubled > 0 || len(got) != len(accepted) {
		t.Errorf("after restart: %d accepted sends never reached %s, %d reached it more than once; it holds %d messages for %d sends",
			missing, upstream, doubled, len(got), len(accepted))
	}
}

// checkStoredOnce opens the stopped daemon's database and checks that
// every acknowledged webhook's message (by provider id) is stored once.
func checkStoredOnce(t *testing.T, dbPath string, ids []string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var lost int
	for _, id := range ids {
		var c int
		if err := db.QueryRow(`SELECT COUNT(*) FROM messages WHERE wamid = ?`, id).Scan(&c); err != nil {
			t.Fatal(err)
		}
		if c != 1 {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged webhooks are not stored exactly once", lost, len(ids))
	}
}

// burstClient posts as real clients do during a crash test: a request
// that got no answer is repeated until it gets one (the REST client with
// the same idempotency key, the provider with the same webhook); refused
// counts the attempts that failed while the daemon was down.
type burstClient struct {
	t       *testing.T
	client  *http.Client
	refused atomic.Int64
}

func newBurstClient(t *testing.T) *burstClient {
	return &burstClient{t: t, client: &http.Client{Timeout: 10 * time.Second}}
}

// post sends one request; code 0 when it got no answer.
func (bc *burstClient) post(url, ctype string, body []byte, hdr map[string]string) (int, []byte) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := bc.client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// retry repeats try until it reports success (at most 90 s).
func (bc *burstClient) retry(try func() bool) {
	for deadline := time.Now().Add(90 * time.Second); !try(); {
		bc.refused.Add(1)
		if time.Now().After(deadline) {
			bc.t.Error("a request never succeeded")
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metricLines returns the /metrics lines of one metric family, joined.
func metricLines(t *testing.T, base, name string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, name) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

// crashEnv is a daemon binary and a sandbox binary as separate processes,
// sharing one config file, for the crash tests.
type crashEnv struct {
	cfg, db, base, sandbox string
	daemon                 *proc
}

// startCrashEnv writes the config (plus extra TOML), starts the sandbox and
// the daemon, and waits until both answer.
func startCrashEnv(t *testing.T, extra string) *crashEnv {
	t.Helper()
	dir := t.TempDir()
	httpPort, sandboxPort := freePort(t), freePort(t)
	ce := &crashEnv{
		db:      filepath.Join(dir, "wabridge.db"),
		base:    fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		sandbox: fmt.Sprintf("http://127.0.0.1:%d", sandboxPort),
	}
	ce.cfg = writeFile(t, filepath.Join(dir, "wabridge.toml"), fmt.Sprintf(`
[store]
path = %q

[http]
listen = "127.0.0.1:%d"

[api]
tokens = [%q]

[whatsapp]
graph_url = %q
waba_id = "200000000000001"
access_token = "crash-access-token"
app_secret = %q
verify_token = "crash-verify-token"
phone_number_id = %q
business_number = %q

[outbox]
pair_interval = "0s"  # bursts to one customer
number_rate = 0      # and flat out
workers = 8
reconcile_window = "6s"
poll_interval = "50ms"
backoff_initial = "100ms"

[sandbox]
enabled = false       # runs as its own process: wabridge sandbox -config this file
listen = "127.0.0.1:%d"
status_delay = "20ms"
webhook_retry_initial = "100ms"
webhook_retry_max = "1s"
%s`, ce.db, httpPort, crashToken, ce.sandbox, crashAppSecret, crashPNID, crashBusiness, sandboxPort, extra))
	startProc(t, "sandbox", "sandbox", "-config", ce.cfg)
	waitHTTP(t, ce.sandbox+"/sandbox/v1/stats")
	ce.daemon = startProc(t, "daemon1", "serve", "-config", ce.cfg)
	waitHTTP(t, ce.base+"/readyz")
	return ce
}

// killWhen waits until ready() (the burst is under way), kills the daemon
// with SIGKILL and returns; restart brings up a new daemon on the same
// files and waits until it answers.
func (ce *crashEnv) killWhen(t *testing.T, ready func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ready(); {
		if time.Now().After(deadline) {
			t.Fatal("the burst stalled before the kill")
		}
		time.Sleep(time.Millisecond)
	}
	ce.daemon.kill9()
}

// killAndResume kills the daemon once acks reaches at, starts it again,
// lets the clients (waiting on restart) reconnect and finish, and waits for
// them; it returns the acknowledgements counted at the kill.
func (ce *crashEnv) killAndResume(t *testing.T, acks *atomic.Int64, at int64, restart chan struct{}, clients *sync.WaitGroup) int64 {
	t.Helper()
	ce.killWhen(t, func() bool { return acks.Load() >= at })
	atKill := acks.Load()
	ce.restart(t)
	close(restart)
	clients.Wait()
	return atKill
}

func (ce *crashEnv) restart(t *testing.T) {
	t.Helper()
	ce.daemon = startProc(t, "daemon2", "serve", "-config", ce.cfg)
	waitHTTP(t, ce.base+"/readyz")
}

// openWindow makes the customer write first (so freeform text may be
// sent) and waits until the daemon has stored it.
func (ce *crashEnv) openWindow(t *testing.T) {
	t.Helper()
	var in struct{ WAMID string }
	do(t, "POST", ce.sandbox+"/sandbox/v1/inbound", "", map[string]any{"from": customer, "to": crashBusiness, "text": "hi"}, &in)
	for deadline := time.Now().Add(10 * time.Second); do(t, "GET", ce.base+"/api/v1/messages/"+in.WAMID, crashToken, nil, nil) != 200; {
		if time.Now().After(deadline) {
			t.Fatal("inbound never stored")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitOutboxEmpty polls /metrics until no send job is left (a send waiting
// for reconciliation keeps its job, so the depth stays above zero).
func waitOutboxEmpty(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(data), "\nwabridge_outbox_depth 0\n") {
				cancel()
				return
			}
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatal("outbox never drained after restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
