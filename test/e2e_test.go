package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wabridge/wabridge/internal/config"
)

const customer = "+4915112345678"

func statuses(m apiMessage) string {
	var s []string
	for _, h := range m.History {
		s = append(s, h.Status)
	}
	return strings.Join(s, ",")
}

// Send → sent, delivered, read: the history shows each step once, and the
// sandbox received exactly one message carrying our id.
func TestSendThroughSandboxReachesRead(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	d.inject(customer, "Hi, is my order on its way?")
	id := d.send(map[string]any{"to": customer, "text": "Yes, it ships today."})
	m := d.waitStatus(id, "read")
	if got := statuses(m); got != "queued,sent,delivered,read" {
		t.Errorf("history = %s", got)
	}
	if m.Channel != "whatsapp" || m.From != business || m.To != customer || m.WAMID == "" {
		t.Errorf("message = %+v", m)
	}
	got := sandboxMessages(t, d.sandbox, "?callback="+id)
	if len(got) != 1 || got[0].Text != "Yes, it ships today." || got[0].WAMID != m.WAMID {
		t.Errorf("sandbox got %+v", got)
	}
	// The message is reachable by its wamid too.
	if byWAMID := d.message(m.WAMID); byWAMID.ID != id {
		t.Errorf("lookup by wamid gave %s", byWAMID.ID)
	}
}

// An injected reply opens the 24-hour window, with the remaining time.
func TestInboundOpensWindow(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	var w struct {
		Number      string  `json:"number"`
		WindowOpen  bool    `json:"window_open"`
		ExpiresAt   *string `json:"expires_at"`
		SecondsLeft int     `json:"seconds_left"`
	}
	do(t, "GET", d.base+"/api/v1/conversations/"+customer+"?from="+business, apiToken, nil, &w)
	if w.WindowOpen || w.ExpiresAt != nil || w.SecondsLeft != 0 {
		t.Errorf("before any message: %+v", w)
	}
	wamid := d.inject(customer, "hello")
	do(t, "GET", d.base+"/api/v1/conversations/"+customer+"?from="+business, apiToken, nil, &w)
	if !w.WindowOpen || w.ExpiresAt == nil || w.SecondsLeft < 23*3600 || w.SecondsLeft > 24*3600 || w.Number != customer {
		t.Errorf("after inbound: %+v", w)
	}
	var in apiMessage
	do(t, "GET", d.base+"/api/v1/messages/"+wamid, apiToken, nil, &in)
	if in.Status != "received" || in.From != customer || in.To != business {
		t.Errorf("inbound record %+v", in)
	}
}

// Freeform text to a customer who never wrote, that fits no approved
// template, fails with no_template (issue 2 had window_closed; issue 6
// resolves templates first) and is never attempted; a template to the
// same customer goes through.
func TestWindowClosedFreeformFailsTemplateSends(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	id := d.send(map[string]any{"to": "+4915100000001", "text": "out of the blue"})
	m := d.waitStatus(id, "failed")
	if m.Error == nil || m.Error.Reason != "no_template" || m.Send == nil || m.Send.How != "none" || m.Send.Why == "" {
		t.Errorf("error = %+v, send = %+v", m.Error, m.Send)
	}
	if n := len(sandboxMessages(t, d.sandbox, "?callback="+id)); n != 0 {
		t.Errorf("sandbox received %d copies of a message that fits no template", n)
	}
	tid := d.send(map[string]any{"to": "+4915100000001", "template": map[string]any{
		"name": "order_update", "language": "en_US", "params": []string{"12345", "Monday"}}})
	d.waitStatus(tid, "read")
	got := sandboxMessages(t, d.sandbox, "?callback="+tid)
	if len(got) != 1 || got[0].Template == nil || got[0].Template.Name != "order_update" ||
		strings.Join(got[0].Template.Params, "|") != "12345|Monday" {
		t.Errorf("sandbox got %+v", got)
	}
}

// Errors end as failed with the right reason and code: an unknown template
// is refused before sending (issue 6: only templates the catalogue lists
// as approved are sent; before, Meta's 132001 came back), a wrong parameter
// count is Meta's 132000 (synchronous), not on WhatsApp its 131026 (in a
// failed status webhook).
func TestUpstreamFailuresAreClassified(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sandbox.NotOnWhatsApp = []string{"+4915100000009"}
	d := startDaemon(t, cfg)
	cases := []struct {
		body   map[string]any
		reason string
		code   int
	}{
		{map[string]any{"to": customer, "template": map[string]any{"name": "no_such_template", "language": "en_US"}}, "template_error", 0},
		{map[string]any{"to": customer, "template": map[string]any{"name": "order_update", "language": "en_US", "params": []string{"1"}}}, "template_error", 132000},
		{map[string]any{"to": "+4915100000009", "template": map[string]any{"name": "hello_world", "language": "en_US"}}, "not_on_whatsapp", 131026},
	}
	for _, c := range cases {
		id := d.send(c.body)
		m := d.waitStatus(id, "failed")
		if m.Error == nil || m.Error.Reason != c.reason || m.Error.Code != c.code {
			t.Errorf("%v: error %+v, want %s %d", c.body, m.Error, c.reason, c.code)
		}
	}
	resp, err := http.Get(d.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, c := range cases {
		want := fmt.Sprintf(`wabridge_message_failures_total{code="%d",reason="%s"} `, c.code, c.reason)
		if !strings.Contains(string(raw), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A repeated idempotency_key returns the original id with 200 and sends nothing more.
func TestIdempotencyKeyOverREST(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	body := map[string]any{"to": customer, "idempotency_key": "order-12345-shipped",
		"template": map[string]any{"name": "hello_world", "language": "en_US"}}
	var first, second struct{ ID string }
	if code := do(t, "POST", d.base+"/api/v1/messages", apiToken, body, &first); code != 202 {
		t.Fatalf("first: %d", code)
	}
	d.waitStatus(first.ID, "read")
	if code := do(t, "POST", d.base+"/api/v1/messages", apiToken, body, &second); code != 200 || second.ID != first.ID {
		t.Fatalf("repeat: %d %s (want 200 %s)", code, second.ID, first.ID)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(sandboxMessages(t, d.sandbox, "?callback="+first.ID)); n != 1 {
		t.Errorf("sandbox got %d copies", n)
	}
}

// Bad requests get clear JSON errors naming the field, and change nothing.
func TestRESTErrors(t *testing.T) {
	cfg := testConfig(t)
	cfg.HTTP.MaxBodyBytes = config.Size(64 << 10)
	d := startDaemon(t, cfg)
	cases := []struct {
		name, token string
		body        any
		code        int
		field       string
	}{
		{"no token", "", map[string]any{"to": customer, "text": "x"}, 401, ""},
		{"wrong token", "nope", map[string]any{"to": customer, "text": "x"}, 401, ""},
		{"unknown field", apiToken, map[string]any{"to": customer, "txt": "x"}, 400, "txt"},
		{"bad number", apiToken, map[string]any{"to": "12", "text": "x"}, 400, "to"},
		{"missing to", apiToken, map[string]any{"text": "x"}, 400, "to"},
		{"wrong type", apiToken, map[string]any{"to": 49151, "text": "x"}, 400, "to"},
		{"two bodies", apiToken, map[string]any{"to": customer, "text": "x", "template": map[string]any{"name": "a", "language": "en"}}, 400, ""},
		{"unknown from", apiToken, map[string]any{"to": customer, "from": "+15559999999", "text": "x"}, 400, "from"},
		{"too long", apiToken, map[string]any{"to": customer, "text": strings.Repeat("a", 4097)}, 400, "text"},
		{"template no name", apiToken, map[string]any{"to": customer, "template": map[string]any{"language": "en_US"}}, 400, "template.name"},
		{"params shape", apiToken, map[string]any{"to": customer, "template": map[string]any{"name": "x", "language": "en_US", "params": 5}}, 400, "template.params"},
		{"reply_to unknown", apiToken, map[string]any{"to": customer, "text": "x", "reply_to": "wamid.nope"}, 400, "reply_to"},
		{"malformed", apiToken, `{"to":`, 400, ""},
		{"empty", apiToken, ``, 400, ""},
	}
	for _, c := range cases {
		var e apiError
		code := do(t, "POST", d.base+"/api/v1/messages", c.token, c.body, &e)
		if code != c.code || e.Error.Field != c.field || e.Error.Message == "" {
			t.Errorf("%s: HTTP %d field %q (%+v), want %d %q", c.name, code, e.Error.Field, e.Error, c.code, c.field)
		}
	}
	big := fmt.Sprintf(`{"to":"%s","text":"%s"}`, customer, strings.Repeat("a", 70<<10))
	if code := do(t, "POST", d.base+"/api/v1/messages", apiToken, big, nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: HTTP %d, want 413", code)
	}
	if code := do(t, "GET", d.base+"/api/v1/messages/01nonexistent", apiToken, nil, nil); code != 404 {
		t.Errorf("unknown id: HTTP %d", code)
	}
	if code := do(t, "GET", d.base+"/api/v1/messages/x", "", nil, nil); code != 401 {
		t.Errorf("GET without token: HTTP %d", code)
	}
	if code := do(t, "GET", d.base+"/api/v1/conversations/abc", apiToken, nil, nil); code != 400 {
		t.Errorf("bad conversation number: HTTP %d", code)
	}
	if n := len(sandboxMessages(t, d.sandbox, "")); n != 0 {
		t.Errorf("refused requests reached WhatsApp: %d", n)
	}
}

// Webhooks: unsigned or wrongly signed → 401 and nothing stored; the GET
// handshake echoes the challenge only for the right verify token; a
// re-delivered webhook is stored once.
func TestWebhookSecurityAndIdempotency(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	url := d.base + "/webhooks/whatsapp"
	body := inboundWebhook(config.SandboxPhoneNumberID, "4915112345678", "wamid.e2e.sig", "signed hello")
	if code := postWebhook(t, url, body, ""); code != 401 {
		t.Errorf("unsigned: %d", code)
	}
	if code := postWebhook(t, url, body, "sha256=00"); code != 401 {
		t.Errorf("bad signature: %d", code)
	}
	wrong := sign(append([]byte(" "), body...))
	if code := postWebhook(t, url, body, wrong); code != 401 {
		t.Errorf("signature of other bytes: %d", code)
	}
	if code := do(t, "GET", d.base+"/api/v1/messages/wamid.e2e.sig", apiToken, nil, nil); code != 404 {
		t.Fatalf("unsigned webhook was stored (%d)", code)
	}
	if code := postWebhook(t, url, []byte(`{"object":`), sign([]byte(`{"object":`))); code != 400 {
		t.Errorf("malformed JSON: %d", code)
	}
	for range 3 {
		if code := postWebhook(t, url, body, sign(body)); code != 200 {
			t.Fatalf("signed: %d", code)
		}
	}
	var m apiMessage
	if code := do(t, "GET", d.base+"/api/v1/messages/wamid.e2e.sig", apiToken, nil, &m); code != 200 || m.Status != "received" {
		t.Errorf("stored inbound: %d %+v", code, m)
	}
	resp, err := http.Get(d.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(raw)
	for _, want := range []string{
		`wabridge_webhook_events_total{provider="meta",result="new",type="message"} 1`,
		`wabridge_webhook_events_total{provider="meta",result="duplicate",type="any"} 2`,
		`wabridge_webhook_requests_total{provider="meta",result="bad_signature"} 3`,
		"wabridge_store_commits_total", "wabridge_store_fsyncs_total", "wabridge_outbox_depth",
		`wabridge_store_commit_duration_seconds_bucket{le="0.0001"}`, "wabridge_store_commit_duration_seconds_count",
		`wabridge_store_transaction_duration_seconds_bucket{le="+Inf"}`,
		`wabridge_store_write_operations_total{operation="ingest"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Subscription handshake.
	q := "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token="
	resp, err = http.Get(url + q + config.SandboxVerifyToken)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := resp.Body.Read(buf)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(buf[:n]) != "1158201444" {
		t.Errorf("handshake: %d %q", resp.StatusCode, buf[:n])
	}
	resp, err = http.Get(url + q + "wrong")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("handshake with wrong token: %d", resp.StatusCode)
	}
}

// State survives a restart of the daemon on the same database.
func TestRestartKeepsState(t *testing.T) {
	cfg := testConfig(t)
	d := startDaemon(t, cfg)
	d.inject(customer, "hi")
	id := d.send(map[string]any{"to": customer, "text": "before restart"})
	d.waitStatus(id, "read")
	d.stop()

	cfg2 := *cfg
	d2 := startDaemon(t, &cfg2)
	m := d2.message(id)
	if m.Status != "read" || statuses(m) != "queued,sent,delivered,read" {
		t.Errorf("after restart: %+v", m)
	}
	var w struct {
		WindowOpen bool `json:"window_open"`
	}
	do(t, "GET", d2.base+"/api/v1/conversations/"+customer, apiToken, nil, &w)
	if !w.WindowOpen {
		t.Error("window lost across restart")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	for _, p := range []string{"/healthz", "/readyz"} {
		if code := do(t, "GET", d.base+p, "", nil, nil); code != 200 {
			t.Errorf("%s: %d", p, code)
		}
	}
}

// reply_to (a wamid or our id) makes the send a WhatsApp reply: the
// sandbox receives context.message_id of the customer's message.
func TestReplyToSendsContext(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	wamid := d.inject(customer, "Which colour is it?")
	id := d.send(map[string]any{"to": customer, "text": "Blue.", "reply_to": wamid})
	d.waitStatus(id, "read")
	got := sandboxMessages(t, d.sandbox, "?callback="+id)
	if len(got) != 1 {
		t.Fatalf("sandbox got %d messages", len(got))
	}
	var req struct {
		Context struct {
			MessageID string `json:"message_id"`
		} `json:"context"`
	}
	if err := json.Unmarshal(got[0].Request, &req); err != nil || req.Context.MessageID != wamid {
		t.Errorf("context = %+v (%v), want %s", req.Context, err, wamid)
	}
}

// Message bodies older than [store] retention are purged by the daemon's
// background job; the record and its status stay.
func TestRetentionPurgesBodies(t *testing.T) {
	cfg := testConfig(t)
	cfg.Store.Retention = config.Duration(time.Second)
	d := startDaemon(t, cfg)
	wamid := d.inject(customer, "a private message")
	deadline := time.Now().Add(15 * time.Second)
	for {
		var m struct {
			Text   string `json:"text"`
			Status string `json:"status"`
		}
		do(t, "GET", d.base+"/api/v1/messages/"+wamid, apiToken, nil, &m)
		if m.Text == "" && m.Status == "received" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("body not purged: %+v", m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
