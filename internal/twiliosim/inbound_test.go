package twiliosim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestInboundWebhookWithRetries(t *testing.T) {
	h := newHook(t)
	s := newTestServer(t, func(c *Config) { c.WebhookURL = h.srv.URL + "/inbound?src=twilio" })
	h.mu.Lock()
	h.fail = 2
	h.mu.Unlock()

	code, body := control(t, s, http.MethodPost, "/sandbox/v1/inbound", map[string]any{
		"from": customer, "to": bizNumber, "text": "Hello there", "profile_name": "Ann", "bsuid": "US.1234567890",
	})
	if code != 200 || !validSid(body["sid"].(string), "SM") {
		t.Fatalf("inbound: %d %v", code, body)
	}
	sid := body["sid"].(string)
	reqs := h.wait(1)
	f := reqs[0].Form
	want := map[string]string{
		"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": testAccount,
		"From": "whatsapp:" + customer, "To": "whatsapp:" + bizNumber, "Body": "Hello there",
		"NumMedia": "0", "NumSegments": "1", "ProfileName": "Ann", "WaId": strings.TrimPrefix(customer, "+"),
		"MessageType": "text", "ExternalUserId": "US.1234567890", "SmsStatus": "received", "ApiVersion": "2010-04-01",
		"MessagingServiceSid": testService,
	}
	for k, v := range want {
		if f.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, f.Get(k), v)
		}
	}
	if reqs[0].URL != h.srv.URL+"/inbound?src=twilio" {
		t.Errorf("posted to %s", reqs[0].URL)
	}
	h.mu.Lock()
	seen := h.seen
	h.mu.Unlock()
	if seen != 3 {
		t.Fatalf("%d attempts, want 3", seen)
	}
	waitStats(t, s, map[string]float64{"callbacks_failed": 2, "callbacks_delivered": 1})
	_, list := control(t, s, http.MethodGet, "/sandbox/v1/messages?direction=inbound", nil)
	if msgs := list["messages"].([]any); len(msgs) != 1 || msgs[0].(map[string]any)["status"] != "received" {
		t.Fatalf("inbound records %v", list)
	}
	_, out := control(t, s, http.MethodGet, "/sandbox/v1/messages?direction=outbound", nil)
	if len(out["messages"].([]any)) != 0 {
		t.Fatalf("outbound records %v", out)
	}
}

func TestInboundIdempotencyTokenStableAcrossRetries(t *testing.T) {
	var fails atomic.Int32
	fails.Store(1)
	rec := make(chan string, 4)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec <- r.Header.Get("I-Twilio-Idempotency-Token")
		if fails.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(target.Close)
	s := newTestServer(t, nil)
	s.SetWebhookURL(target.URL)
	openWindow(t, s, customer)
	var tokens []string
	for range 2 {
		select {
		case tok := <-rec:
			tokens = append(tokens, tok)
		case <-time.After(5 * time.Second):
			t.Fatal("no webhook")
		}
	}
	if tokens[0] == "" || tokens[0] != tokens[1] {
		t.Fatalf("tokens %q", tokens)
	}
}

func TestInboundParkedUntilWebhookURL(t *testing.T) {
	s := newTestServer(t, nil)
	openWindow(t, s, customer)
	h := newHook(t)
	time.Sleep(20 * time.Millisecond)
	s.SetWebhookURL(h.url)
	if f := h.wait(1)[0].Form; f.Get("Body") != "hi" {
		t.Fatalf("parked webhook %v", f)
	}
}

func TestInboundKinds(t *testing.T) {
	h := newHook(t)
	s := newTestServer(t, func(c *Config) { c.WebhookURL = h.url })
	_, m := send(t, s, url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "ContentSid": {contentSid("appointment_reminder", "en", 0)}})
	orig := m["sid"].(string)

	inject := func(v map[string]any) url.Values {
		t.Helper()
		h.mu.Lock()
		n := len(h.reqs)
		h.mu.Unlock()
		if code, body := control(t, s, http.MethodPost, "/sandbox/v1/inbound", v); code != 200 {
			t.Fatalf("inbound %v: %d %v", v, code, body)
		}
		return h.wait(n + 1)[n].Form
	}
	f := inject(map[string]any{"from": customer, "to": bizNumber, "button": map[string]string{"text": "Confirm", "payload": "confirm"}, "reply_to": orig})
	if f.Get("MessageType") != "button" || f.Get("ButtonText") != "Confirm" || f.Get("ButtonPayload") != "confirm" || f.Get("Body") != "Confirm" ||
		f.Get("OriginalRepliedMessageSid") != orig || f.Get("OriginalRepliedMessageSender") != "whatsapp:"+bizNumber {
		t.Fatalf("button reply %v", f)
	}
	f = inject(map[string]any{"from": customer, "to": bizNumber, "location": map[string]any{"latitude": 52.52, "longitude": 13.405, "name": "Office", "address": "Main St 1"}})
	if f.Get("MessageType") != "location" || f.Get("Latitude") != "52.52" || f.Get("Longitude") != "13.405" || f.Get("Label") != "Office" || f.Get("Address") != "Main St 1" {
		t.Fatalf("location %v", f)
	}
	f = inject(map[string]any{"from": customer, "to": smsOnlyNumber, "channel": "sms", "text": "plain sms"})
	if f.Get("From") != customer || f.Get("To") != smsOnlyNumber || f.Has("WaId") || f.Has("MessagingServiceSid") || f.Get("Body") != "plain sms" {
		t.Fatalf("sms inbound %v", f)
	}
	for _, bad := range []map[string]any{
		{"from": "nope", "to": bizNumber, "text": "x"},
		{"from": customer, "to": "+15550009999", "text": "x"},
		{"from": customer, "to": smsOnlyNumber, "text": "x"}, // not a WhatsApp sender
		{"from": customer, "to": bizNumber},
		{"from": customer, "to": bizNumber, "text": "x", "channel": "fax"},
		{"from": customer, "to": bizNumber, "text": "x", "reply_to": "SM00000000000000000000000000000000"},
	} {
		if code, _ := control(t, s, http.MethodPost, "/sandbox/v1/inbound", bad); code != 400 {
			t.Errorf("%v: %d, want 400", bad, code)
		}
	}
}

func TestInboundMediaEndpoint(t *testing.T) {
	h := newHook(t)
	s := newTestServer(t, func(c *Config) { c.WebhookURL = h.url })
	code, body := control(t, s, http.MethodPost, "/sandbox/v1/inbound", map[string]any{
		"from": customer, "to": bizNumber, "text": "photo", "media": map[string]any{"mime_type": "image/png", "size": 5000, "seed": "s1"},
	})
	if code != 200 || !validSid(body["sid"].(string), "MM") {
		t.Fatalf("inbound: %d %v", code, body)
	}
	f := h.wait(1)[0].Form
	mediaURL := f.Get("MediaUrl0")
	if f.Get("NumMedia") != "1" || f.Get("MediaContentType0") != "image/png" || f.Get("MessageType") != "image" ||
		!strings.HasPrefix(mediaURL, s.URL()+"/2010-04-01/Accounts/"+testAccount+"/Messages/"+body["sid"].(string)+"/Media/ME") {
		t.Fatalf("webhook %v", f)
	}

	get := func(user, pass string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, mediaURL, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if resp, _ := get("", ""); resp.StatusCode != 401 {
		t.Fatalf("no auth: %d", resp.StatusCode)
	}
	if resp, _ := get(testAccount, "wrong"); resp.StatusCode != 401 {
		t.Fatalf("wrong auth: %d", resp.StatusCode)
	}
	resp, b := get(testKeySid, testKeySecret)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(b, generateMedia("s1", 5000)) {
		t.Fatalf("download: %d %s %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
	if code, meta := call(t, http.MethodGet, mediaURL+".json", testAccount, testToken, nil); code != 200 || meta["content_type"] != "image/png" || meta["parent_sid"] != body["sid"] {
		t.Fatalf("media resource: %d %v", code, meta)
	}
	if code, _ := call(t, http.MethodGet, mediaURL[:len(mediaURL)-4]+"ffff", testAccount, testToken, nil); code != 404 {
		t.Fatalf("unknown media: %d", code)
	}
	_, st := control(t, s, http.MethodGet, "/sandbox/v1/stats", nil)
	if st["media_downloads"] != float64(1) {
		t.Fatalf("stats %v", st)
	}
	_, list := control(t, s, http.MethodGet, "/sandbox/v1/messages?sid="+body["sid"].(string), nil)
	md := list["messages"].([]any)[0].(map[string]any)["media"].([]any)[0].(map[string]any)
	if md["size"] != float64(5000) || md["sha256"] != sha256Hex(generateMedia("s1", 5000)) {
		t.Fatalf("recorded media %v", md)
	}
}

func TestStatusCallbackRetries(t *testing.T) {
	s := newTestServer(t, nil)
	h := newHook(t)
	h.mu.Lock()
	h.fail = 3
	h.mu.Unlock()
	_, m := send(t, s, url.Values{"To": {customer}, "From": {bizNumber}, "Body": {"x"}, "StatusCallback": {h.url}})
	reqs := h.wait(2)
	if got := statuses(reqs, m["sid"].(string)); strings.Join(got, ",") != "sent,delivered" {
		t.Fatalf("order after retries: %v", got)
	}
	waitStats(t, s, map[string]float64{"callbacks_failed": 3, "callbacks_delivered": 2})
}

func TestCloseStopsRetries(t *testing.T) {
	h := newHook(t)
	h.mu.Lock()
	h.fail = 1 << 30
	h.mu.Unlock()
	s := newTestServer(t, func(c *Config) { c.WebhookURL = h.url; c.CallbackRetryInitial = time.Hour })
	openWindow(t, s, customer)
	waitStats(t, s, map[string]float64{"callbacks_failed": 1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	if s.URL() == "" {
		t.Fatal("URL empty after Close") // URL keeps the last address
	}
}
