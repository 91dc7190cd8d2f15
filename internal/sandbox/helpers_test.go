package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test fixtures. The tests decode everything with their own types so that a
// wrong JSON shape on the wire is caught.
const (
	testToken  = "test-access-token"
	testSecret = "test-app-secret"
	testWABA   = "102290129340398"
	testPNID   = "106540352242922"
	testBiz    = "+15550100001"
	testPNID2  = "106540352242923"
	testBiz2   = "+15550100002"
	customer   = "+4915112345678"
	blocked    = "+4915199999999"
)

// hookEnvelope mirrors Meta's webhook JSON.
type hookEnvelope struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				MessagingProduct string `json:"messaging_product"`
				Metadata         struct {
					DisplayPhoneNumber string `json:"display_phone_number"`
					PhoneNumberID      string `json:"phone_number_id"`
				} `json:"metadata"`
				Contacts []struct {
					Profile struct {
						Name string `json:"name"`
					} `json:"profile"`
					WaID string `json:"wa_id"`
				} `json:"contacts"`
				Messages []hookMessage `json:"messages"`
				Statuses []hookStatus  `json:"statuses"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type hookMessage struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Text      *struct {
		Body string `json:"body"`
	} `json:"text"`
	Context *struct {
		From string `json:"from"`
		ID   string `json:"id"`
	} `json:"context"`
}

type hookStatus struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Timestamp   string `json:"timestamp"`
	RecipientID string `json:"recipient_id"`
	BizOpaque   string `json:"biz_opaque_callback_data"`
	Pricing     *struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Type         string `json:"type"`
		Category     string `json:"category"`
	} `json:"pricing"`
	Conversation json.RawMessage `json:"conversation"`
	Errors       []struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
		Href string `json:"href"`
	} `json:"errors"`
}

// receiver is a webhook endpoint that verifies X-Hub-Signature-256 and
// records every accepted envelope. The first failFirst requests get HTTP 500.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	failFirst int
	requests  int
	hooks     []hookEnvelope
	bodies    [][]byte // raw bodies of the accepted webhooks, same order as hooks
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	t.Helper()
	rc := &receiver{t: t, failFirst: failFirst}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		rc.t.Errorf("webhook: got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	}
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if got := r.Header.Get("X-Hub-Signature-256"); !hmac.Equal([]byte(got), []byte(want)) {
		rc.t.Errorf("webhook: bad signature %q, want %q", got, want)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if rc.requests <= rc.failFirst {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var env hookEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		rc.t.Errorf("webhook: bad JSON: %v", err)
		return
	}
	rc.hooks = append(rc.hooks, env)
	rc.bodies = append(rc.bodies, body)
	w.WriteHeader(http.StatusOK)
}

// statuses returns the status webhooks received for wamid, in arrival order.
func (rc *receiver) statuses(wamid string) []hookStatus {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hookStatus
	for _, h := range rc.hooks {
		for _, e := range h.Entry {
			for _, c := range e.Changes {
				for _, st := range c.Value.Statuses {
					if st.ID == wamid {
						out = append(out, st)
					}
				}
			}
		}
	}
	return out
}

// inbound returns the received envelopes carrying the inbound message wamid.
func (rc *receiver) inbound(wamid string) []hookEnvelope {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hookEnvelope
	for _, h := range rc.hooks {
		for _, e := range h.Entry {
			for _, c := range e.Changes {
				for _, m := range c.Value.Messages {
					if m.ID == wamid {
						out = append(out, h)
					}
				}
			}
		}
	}
	return out
}

func (rc *receiver) waitStatuses(t *testing.T, wamid string, n int) []hookStatus {
	t.Helper()
	var got []hookStatus
	waitFor(t, "status webhooks for "+wamid, func() bool {
		got = rc.statuses(wamid)
		return len(got) >= n
	})
	return got
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func testConfig() Config {
	return Config{
		Listen:              "127.0.0.1:0",
		AppSecret:           testSecret,
		AccessToken:         testToken,
		WABAID:              testWABA,
		Numbers:             []Number{{PhoneNumberID: testPNID, BusinessNumber: testBiz}, {PhoneNumberID: testPNID2, BusinessNumber: testBiz2}},
		NotOnWhatsApp:       []string{blocked},
		StatusDelay:         20 * time.Millisecond,
		WebhookRetryInitial: 5 * time.Millisecond,
		WebhookRetryMax:     20 * time.Millisecond,
	}
}

// harness is a started sandbox with a webhook receiver.
type harness struct {
	t   *testing.T
	s   *Server
	rc  *receiver
	url string
}

func start(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	rc := newReceiver(t, 0)
	cfg := testConfig()
	cfg.WebhookURL = rc.srv.URL
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &harness{t: t, s: s, rc: rc, url: s.URL()}
}

// do sends a request and decodes the JSON answer into out (when non-nil).
func (h *harness) do(method, path, token string, body any, out any) int {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = h.url + path
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		h.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// graphErr mirrors Meta's error JSON.
type graphErr struct {
	Error struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		ErrorData struct {
			MessagingProduct string `json:"messaging_product"`
			Details          string `json:"details"`
		} `json:"error_data"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

type sendResp struct {
	MessagingProduct string `json:"messaging_product"`
	Contacts         []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
}

// send posts a message request and requires HTTP 200; it returns the wamid.
func (h *harness) send(body any) string {
	h.t.Helper()
	var r sendResp
	var raw json.RawMessage
	if code := h.do("POST", "/v24.0/"+testPNID+"/messages", testToken, body, &raw); code != 200 {
		h.t.Fatalf("send: HTTP %d: %s", code, raw)
	}
	if err := json.Unmarshal(raw, &r); err != nil || len(r.Messages) != 1 || !strings.HasPrefix(r.Messages[0].ID, "wamid.") {
		h.t.Fatalf("send: unexpected answer %s", raw)
	}
	return r.Messages[0].ID
}

// sendErr posts a message request and requires a Graph error with code.
func (h *harness) sendErr(body any, wantHTTP, wantCode int) graphErr {
	h.t.Helper()
	var e graphErr
	if code := h.do("POST", "/v24.0/"+testPNID+"/messages", testToken, body, &e); code != wantHTTP || e.Error.Code != wantCode {
		h.t.Fatalf("send: got HTTP %d code %d (%q, %q), want HTTP %d code %d", code, e.Error.Code, e.Error.Message, e.Error.ErrorData.Details, wantHTTP, wantCode)
	}
	if e.Error.FBTraceID == "" || e.Error.Type == "" || e.Error.Message == "" {
		h.t.Errorf("error shape incomplete: %+v", e)
	}
	return e
}

// inbound injects a customer message and returns its wamid.
func (h *harness) inbound(body map[string]any) string {
	h.t.Helper()
	var r struct {
		Wamid string `json:"wamid"`
		Error string `json:"error"`
	}
	if code := h.do("POST", "/sandbox/v1/inbound", "", body, &r); code != 200 || !strings.HasPrefix(r.Wamid, "wamid.") {
		h.t.Fatalf("inbound: HTTP %d %+v", code, r)
	}
	return r.Wamid
}

type ctlMessage struct {
	Wamid         string `json:"wamid"`
	Direction     string `json:"direction"`
	PhoneNumberID string `json:"phone_number_id"`
	From          string `json:"from"`
	To            string `json:"to"`
	Type          string `json:"type"`
	Text          string `json:"text"`
	Template      *struct {
		Name     string   `json:"name"`
		Language string   `json:"language"`
		Params   []string `json:"params"`
	} `json:"template"`
	CallbackData string          `json:"callback_data"`
	Status       string          `json:"status"`
	ErrorCode    int             `json:"error_code"`
	ReadMarked   bool            `json:"read_marked"`
	ReceivedAt   time.Time       `json:"received_at"`
	Request      json.RawMessage `json:"request"`
}

func (h *harness) messages(query string) []ctlMessage {
	h.t.Helper()
	var r struct {
		Messages []ctlMessage `json:"messages"`
	}
	if code := h.do("GET", "/sandbox/v1/messages"+query, "", nil, &r); code != 200 {
		h.t.Fatalf("messages: HTTP %d", code)
	}
	return r.Messages
}

type ctlStats struct {
	Sends             int `json:"sends"`
	TemplateListCalls int `json:"template_list_calls"`
	WebhooksSent      int `json:"webhooks_sent"`
	WebhooksDelivered int `json:"webhooks_delivered"`
	WebhooksPending   int `json:"webhooks_pending"`
	WebhookFailures   int `json:"webhook_failures"`
	MarkRead          int `json:"mark_read"`
}

func (h *harness) stats() ctlStats {
	h.t.Helper()
	var st ctlStats
	if code := h.do("GET", "/sandbox/v1/stats", "", nil, &st); code != 200 {
		h.t.Fatalf("stats: HTTP %d", code)
	}
	return st
}

func text(to, body, callback string) map[string]any {
	m := map[string]any{"messaging_product": "whatsapp", "to": to, "type": "text", "text": map[string]any{"body": body}}
	if callback != "" {
		m["biz_opaque_callback_data"] = callback
	}
	return m
}

func template(to, name, lang string, components ...map[string]any) map[string]any {
	t := map[string]any{"name": name, "language": map[string]any{"code": lang}}
	if components != nil {
		t["components"] = components
	}
	return map[string]any{"messaging_product": "whatsapp", "to": to, "type": "template", "template": t}
}

func bodyParams(values ...string) map[string]any {
	var ps []map[string]any
	for _, v := range values {
		ps = append(ps, map[string]any{"type": "text", "text": v})
	}
	return map[string]any{"type": "body", "parameters": ps}
}
