package twiliosim

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testAccount    = "AC0123456789abcdef0123456789abcdef"
	testSubaccount = "ACfedcba9876543210fedcba9876543210"
	testToken      = "test-auth-token"
	testKeySid     = "SK00000000000000000000000000000001"
	testKeySecret  = "key-secret"
	testService    = "MG11111111111111111111111111111111"
	bizNumber      = "+15550001111"
	smsOnlyNumber  = "+15550002222"
	customer       = "+15557770000"
	notOnWANumber  = "+15557770999"
	undeliverable  = "+15557770888"
)

// newTestServer starts a simulator with fast timings; mutate adjusts the config.
func newTestServer(t *testing.T, mutate func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		AccountSID:           testAccount,
		AuthToken:            testToken,
		APIKeys:              map[string]string{testKeySid: testKeySecret},
		SubaccountSIDs:       []string{testSubaccount},
		WhatsAppSenders:      []string{bizNumber},
		SMSSenders:           []string{bizNumber, smsOnlyNumber, "WABRIDGE"},
		MessagingServices:    map[string][]string{testService: {bizNumber}},
		NotOnWhatsApp:        []string{notOnWANumber},
		SMSUndeliverable:     []string{undeliverable},
		StatusDelay:          5 * time.Millisecond,
		ContentReviewDelay:   50 * time.Millisecond,
		CallbackRetryInitial: 10 * time.Millisecond,
		CallbackRetryMax:     40 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// refSignature is an independent implementation of Twilio's published
// request-validation algorithm: take the full URL, append each POST
// parameter name and value sorted by name, HMAC-SHA1 with the auth token,
// Base64.
func refSignature(token, fullURL string, form url.Values) string {
	names := make([]string, 0, len(form))
	for n := range form {
		names = append(names, n)
	}
	sort.Strings(names)
	data := fullURL
	for _, n := range names {
		vals := append([]string(nil), form[n]...)
		sort.Strings(vals)
		for _, v := range vals {
			data += n + v
		}
	}
	mac := hmac.New(sha1.New, []byte(token))
	io.WriteString(mac, data)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// hookReq is one webhook the test server received.
type hookReq struct {
	URL    string
	Form   url.Values
	Header http.Header
}

// hook is a webhook target that verifies X-Twilio-Signature on everything
// it receives and can fail the next N requests.
type hook struct {
	t    *testing.T
	srv  *httptest.Server
	url  string // srv.URL + "/hook": the simulator signs the URL as given
	mu   sync.Mutex
	reqs []hookReq
	fail int // answer 500 to this many upcoming requests
	seen int // every request, failed ones included
}

func newHook(t *testing.T) *hook {
	h := &hook{t: t}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("hook: parse form: %v", err)
		}
		full := "http://" + r.Host + r.URL.RequestURI()
		want := refSignature(testToken, full, r.PostForm)
		if got := r.Header.Get("X-Twilio-Signature"); got != want {
			t.Errorf("hook: X-Twilio-Signature = %q, want %q (url %s)", got, want, full)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			t.Errorf("hook: Content-Type = %q", ct)
		}
		h.mu.Lock()
		h.seen++
		if h.fail > 0 {
			h.fail--
			h.mu.Unlock()
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		h.reqs = append(h.reqs, hookReq{URL: full, Form: r.PostForm, Header: r.Header.Clone()})
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	h.url = h.srv.URL + "/hook"
	return h
}

// wait returns the first n accepted webhooks, failing the test after 5s.
func (h *hook) wait(n int) []hookReq {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		if len(h.reqs) >= n {
			out := append([]hookReq(nil), h.reqs...)
			h.mu.Unlock()
			return out
		}
		got := len(h.reqs)
		h.mu.Unlock()
		if time.Now().After(deadline) {
			h.t.Fatalf("hook: got %d webhooks, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits a little and returns everything received.
func (h *hook) settle(d time.Duration) []hookReq {
	time.Sleep(d)
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookReq(nil), h.reqs...)
}

// call makes a REST request with basic auth (user "" = none).
func call(t *testing.T, method, u, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %s", req.Method, req.URL, b)
		}
	}
	return resp.StatusCode, m
}

// send posts a message as the main account.
func send(t *testing.T, s *Server, form url.Values) (int, map[string]any) {
	t.Helper()
	return call(t, http.MethodPost, s.URL()+"/2010-04-01/Accounts/"+testAccount+"/Messages.json", testAccount, testToken, form)
}

// control posts JSON to the control API.
func control(t *testing.T, s *Server, method, path string, v any) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if v != nil {
		b, _ := json.Marshal(v)
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, s.URL()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// jsonCall sends a JSON body with basic auth (Content API).
func jsonCall(t *testing.T, method, u string, v any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(v)
	req, err := http.NewRequest(method, u, strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testAccount, testToken)
	return do(t, req)
}

// openWindow injects an inbound WhatsApp message from cust to bizNumber.
func openWindow(t *testing.T, s *Server, cust string) {
	t.Helper()
	if code, body := control(t, s, http.MethodPost, "/sandbox/v1/inbound", map[string]any{"from": cust, "to": bizNumber, "text": "hi"}); code != http.StatusOK {
		t.Fatalf("inbound: %d %v", code, body)
	}
}

// statuses lists MessageStatus of the webhooks for sid.
func statuses(reqs []hookReq, sid string) []string {
	var out []string
	for _, r := range reqs {
		if r.Form.Get("MessageSid") == sid {
			out = append(out, r.Form.Get("MessageStatus"))
		}
	}
	return out
}

// waitStatus polls GET Message until its status is want.
func waitStatus(t *testing.T, s *Server, sid, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, m := call(t, http.MethodGet, s.URL()+"/2010-04-01/Accounts/"+testAccount+"/Messages/"+sid+".json", testAccount, testToken, nil)
		if code != http.StatusOK {
			t.Fatalf("GET message: %d %v", code, m)
		}
		if m["status"] == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s status %v, want %s", sid, m["status"], want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitStats polls the counters until every key has its wanted value.
func waitStats(t *testing.T, s *Server, want map[string]float64) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, st := control(t, s, http.MethodGet, "/sandbox/v1/stats", nil)
		ok := true
		for k, v := range want {
			if st[k] != v {
				ok = false
			}
		}
		if ok {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %v, want %v", st, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
