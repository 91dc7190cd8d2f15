package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wabridge/wabridge/adapters/twilio"
)

const (
	crashTwilioSID   = "AC0123456789abcdef0123456789abcdef"
	crashTwilioToken = "crash-twilio-token"
)

// startTwilioCrashEnv is startCrashEnv with Twilio as the provider: the
// Twilio simulator runs as its own process (wabridge sandbox), the daemon
// talks to it as to api.twilio.com and content.twilio.com.
func startTwilioCrashEnv(t *testing.T) *crashEnv {
	t.Helper()
	dir := t.TempDir()
	httpPort, simPort := freePort(t), freePort(t)
	ce := &crashEnv{
		db:      filepath.Join(dir, "wabridge.db"),
		base:    fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		sandbox: fmt.Sprintf("http://127.0.0.1:%d", simPort),
	}
	ce.cfg = writeFile(t, filepath.Join(dir, "wabridge.toml"), fmt.Sprintf(`
[store]
path = %q

[http]
listen = "127.0.0.1:%d"
public_url = %q

[api]
tokens = [%q]

[whatsapp]
provider = "twilio"
business_number = %q

[twilio]
account_sid = %q
auth_token = %q
api_url = %q
content_url = %q

[templates]
languages = ["en"]

[outbox]
pair_interval = "0s"
number_rate = 0
workers = 8
reconcile_window = "6s"
poll_interval = "50ms"
backoff_initial = "100ms"

[sandbox]
enabled = false       # runs as its own process: wabridge sandbox -config this file
twilio_listen = "127.0.0.1:%d"
status_delay = "20ms"
webhook_retry_initial = "100ms"
webhook_retry_max = "1s"
`, ce.db, httpPort, ce.base, crashToken, crashBusiness, crashTwilioSID, crashTwilioToken, ce.sandbox, ce.sandbox, simPort))
	startProc(t, "twilio-sim", "sandbox", "-config", ce.cfg)
	waitHTTP(t, ce.sandbox+"/sandbox/v1/stats")
	ce.daemon = startProc(t, "daemon1", "serve", "-config", ce.cfg)
	waitHTTP(t, ce.base+"/readyz")
	return ce
}

// Kill -9 the daemon in the middle of 400 REST sends through Twilio and 400
// signed Twilio inbound webhooks. After a restart every send that got a
// 202 reached Twilio exactly once (sends whose reply the crash lost are
// settled by the status callbacks carrying our id), and every webhook that
// got a 200 is stored exactly once.
func TestTwilioCrashLosesNothingSendsNothingTwice(t *testing.T) {
	ce := startTwilioCrashEnv(t)
	const n = 400
	var (
		mu         sync.Mutex
		acceptedID = map[int]string{}
		ackedSIDs  []string
		accepted   atomic.Int64
		acked      atomic.Int64
	)
	bc := newBurstClient(t)
	post, retry, refusedNow := bc.post, bc.retry, &bc.refused
	hookURL := ce.base + "/webhooks/twilio"
	var wg sync.WaitGroup
	sends, hooks := make(chan int, n), make(chan int, n)
	for i := range n {
		sends <- i
		hooks <- i
	}
	close(sends)
	close(hooks)
	for range 6 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range sends {
				body := fmt.Sprintf(`{"to":"+49151%08d","idempotency_key":"tw-%d","template":{"name":"order_update","language":"en","params":["%d","Monday"]}}`, i, i, i)
				retry(func() bool {
					code, data := post(ce.base+"/api/v1/messages", "application/json", []byte(body), map[string]string{"Authorization": "Bearer " + crashToken})
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
		go func() {
			defer wg.Done()
			for i := range hooks {
				sid := fmt.Sprintf("SM%032x", 0xc0ffee00+i)
				form := url.Values{"MessageSid": {sid}, "SmsMessageSid": {sid}, "SmsSid": {sid}, "SmsStatus": {"received"},
					"AccountSid": {crashTwilioSID}, "From": {fmt.Sprintf("whatsapp:+4917%08d", i)}, "To": {"whatsapp:" + crashBusiness},
					"Body": {fmt.Sprintf("burst %d", i)}, "NumMedia": {"0"}, "WaId": {fmt.Sprintf("4917%08d", i)}, "ApiVersion": {"2010-04-01"}}
				sig := twilio.Sign(crashTwilioToken, hookURL, form)
				retry(func() bool {
					if code, _ := post(hookURL, "application/x-www-form-urlencoded", []byte(form.Encode()), map[string]string{twilio.SignatureHeader: sig}); code != http.StatusOK {
						return false
					}
					mu.Lock()
					ackedSIDs = append(ackedSIDs, sid)
					mu.Unlock()
					acked.Add(1)
					return true
				})
			}
		}()
	}
	ce.killWhen(t, func() bool { return accepted.Load() >= n/3 && acked.Load() >= n/3 })
	acceptedAtKill, ackedAtKill := accepted.Load(), acked.Load()
	time.Sleep(300 * time.Millisecond)
	ce.restart(t)
	daemon2 := ce.daemon
	wg.Wait()
	t.Logf("killed after %d sends accepted, %d webhooks acknowledged; %d requests failed while down and were repeated",
		acceptedAtKill, ackedAtKill, refusedNow.Load())
	if acceptedAtKill >= n || ackedAtKill >= n || refusedNow.Load() == 0 {
		t.Fatalf("the kill did not interrupt the burst")
	}
	if len(acceptedID) != n || len(ackedSIDs) != n {
		t.Fatalf("after restart: %d of %d sends accepted, %d of %d webhooks acknowledged", len(acceptedID), n, len(ackedSIDs), n)
	}
	waitOutboxEmpty(t, ce.base)

	// Exactly once at Twilio, counted by the id in each StatusCallback.
	var perID []string
	for _, m := range twilioSent(t, ce.sandbox, "?direction=outbound") {
		u, err := url.Parse(m.StatusCallback)
		if err != nil {
			t.Fatalf("status callback %q: %v", m.StatusCallback, err)
		}
		perID = append(perID, u.Query().Get(twilio.CallbackIDParam))
	}
	checkSentOnce(t, "Twilio", acceptedID, perID)
	reconciled := metricLines(t, ce.base, "wabridge_send_reconciled_total")
	if code := daemon2.terminate(30 * time.Second); code != 0 {
		t.Errorf("daemon exit code %d after SIGTERM", code)
	}
	checkStoredOnce(t, ce.db, ackedSIDs)
	t.Logf("verified: %d sends exactly once at Twilio, %d webhooks stored once; unknown sends settled: %s",
		len(acceptedID), len(ackedSIDs), strings.TrimSpace(reconciled))
}
