package httpd

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wabridge/wabridge/adapters/whatsapp"
	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/metrics"
	"github.com/wabridge/wabridge/internal/store"
)

const (
	testBusiness      = "+15550783881" // the number of Meta's documentation examples
	testBusiness2     = "+15550100002"
	testPhoneNumberID = "106540352242922"
	testAppSecret     = "test-app-secret"
	testVerifyToken   = "verify-me"
	testTokenA        = "token-a"
	testTokenB        = "token-b"
	testCustomer      = "+4915112345678"
	testBSUID         = "US.13491208655302741918"
	testMaxBody       = 64 << 10
)

// recordingSender is a bridge.Sender that records what it is asked to send
// and answers "wamid.N".
type recordingSender struct {
	mu   sync.Mutex
	sent []*bridge.Message
}

func (s *recordingSender) Send(_ context.Context, m *bridge.Message) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *m
	s.sent = append(s.sent, &c)
	return fmt.Sprintf("wamid.%d", len(s.sent)), nil
}

func (s *recordingSender) messages() []*bridge.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*bridge.Message(nil), s.sent...)
}

// harness is a real server (fasthttp on 127.0.0.1:0) over a real SQLite
// store, a real bridge with a recording sender, the real parser and metrics.
type harness struct {
	t       *testing.T
	srv     *Server
	base    string
	store   *store.SQLite
	bridge  *bridge.Bridge
	sender  *recordingSender
	metrics *metrics.Metrics
	ready   atomic.Pointer[error]
	client  *http.Client
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, store.SQLiteConfig{Path: filepath.Join(t.TempDir(), "wabridge.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, store: st, sender: &recordingSender{}, metrics: metrics.New(),
		client: &http.Client{Timeout: 10 * time.Second}}
	h.bridge, err = bridge.New(bridge.Config{
		BusinessNumbers: []string{testBusiness, testBusiness2},
		PollInterval:    10 * time.Millisecond,
	}, st, h.sender, nil, bridge.WithObserver(h.metrics))
	if err != nil {
		t.Fatal(err)
	}
	parser := whatsapp.NewParser([]whatsapp.Number{{PhoneNumberID: testPhoneNumberID, BusinessNumber: testBusiness}})
	h.srv, err = New(Config{
		Listen:       "127.0.0.1:0",
		MaxBodyBytes: testMaxBody,
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
		Tokens:       []string{testTokenA, testTokenB},
		AppSecret:    testAppSecret,
		VerifyToken:  testVerifyToken,
	}, Deps{
		Bridge: h.bridge, Parser: parser, Metrics: h.metrics,
		Ready: func(context.Context) error {
			if e := h.ready.Load(); e != nil {
				return *e
			}
			return nil
		},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.srv.Shutdown(c); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	h.base = "http://" + h.srv.Addr()
	return h
}

// run starts the bridge's outbox loop until the test ends.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.bridge.Run(ctx); err != nil {
			h.t.Errorf("bridge.Run: %v", err)
		}
	}()
	h.t.Cleanup(func() { cancel(); <-done })
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.code, bytes.TrimSpace(r.body)) }

// apiError is the JSON shape of every API error.
type apiError struct {
	Error struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// errorOf decodes an error body strictly: exactly {"error":{reason,message,field?}}.
func (h *harness) errorOf(r response) apiError {
	h.t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		h.t.Errorf("error response Content-Type %q, want application/json (%s)", ct, r)
	}
	var e apiError
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		h.t.Fatalf("error body is not the API error shape: %v (%s)", err, r)
	}
	if e.Error.Reason == "" || e.Error.Message == "" {
		h.t.Errorf("error body without reason or message: %s", r)
	}
	return e
}

func (h *harness) do(method, path string, body []byte, header map[string]string) response {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{code: res.StatusCode, header: res.Header, body: b}
}

var auth = map[string]string{"Authorization": "Bearer " + testTokenA}

func (h *harness) get(path string) response { return h.do(http.MethodGet, path, nil, auth) }

func (h *harness) post(body string) response {
	return h.do(http.MethodPost, "/api/v1/messages", []byte(body),
		map[string]string{"Authorization": "Bearer " + testTokenA, "Content-Type": "application/json"})
}

// send posts body and wants 202 with an id and a Location header.
func (h *harness) send(body string) bridge.MessageID {
	h.t.Helper()
	r := h.post(body)
	if r.code != http.StatusAccepted {
		h.t.Fatalf("POST %s: %s, want 202", body, r)
	}
	return h.idOf(r)
}

func (h *harness) idOf(r response) bridge.MessageID {
	h.t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || v.ID == "" {
		h.t.Fatalf("no id in %s: %v", r, err)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/messages/"+v.ID {
		h.t.Errorf("Location %q for id %s", loc, v.ID)
	}
	return bridge.MessageID(v.ID)
}

func (h *harness) stored(id string) *bridge.Message {
	h.t.Helper()
	m, err := h.bridge.Message(context.Background(), id)
	if err != nil {
		h.t.Fatalf("message %s: %v", id, err)
	}
	return m
}

// sign is Meta's X-Hub-Signature-256 over the exact body.
func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (h *harness) webhook(body []byte, signature string) response {
	h.t.Helper()
	hdr := map[string]string{"Content-Type": "application/json"}
	if signature != "" {
		hdr["X-Hub-Signature-256"] = signature
	}
	return h.do(http.MethodPost, "/webhooks/whatsapp", body, hdr)
}

func (h *harness) signedWebhook(body []byte) response {
	h.t.Helper()
	return h.webhook(body, sign(testAppSecret, body))
}

// envelope wraps one "messages" change value as Meta delivers it.
func envelope(value string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":` +
		`{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"` +
		testPhoneNumberID + `"},` + value + `}}]}]}`)
}

// inboundText is a text message from the customer (digits, as Meta writes them).
func inboundText(wamid, fromDigits, text string, at time.Time) []byte {
	return envelope(fmt.Sprintf(`"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":%q}],`+
		`"messages":[{"from":%q,"id":%q,"timestamp":"%d","type":"text","text":{"body":%q}}]`,
		fromDigits, fromDigits, wamid, at.Unix(), text))
}

// inboundFromBSUID is a text message from a customer who hides the phone number.
func inboundFromBSUID(wamid, bsuid string, at time.Time) []byte {
	return envelope(fmt.Sprintf(`"contacts":[{"profile":{"name":"Sheena","username":"sheena"},"user_id":%q}],`+
		`"messages":[{"from_user_id":%q,"id":%q,"timestamp":"%d","type":"text","text":{"body":"hi"}}]`,
		bsuid, bsuid, wamid, at.Unix()))
}

// statusWebhook reports status of wamid, echoing our id as callback data.
func statusWebhook(wamid, status, recipientDigits, callback string, at time.Time) []byte {
	return envelope(fmt.Sprintf(`"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":%q,`+
		`"biz_opaque_callback_data":%q,"pricing":{"billable":true,"pricing_model":"PMP","category":"utility"}}]`,
		wamid, status, at.Unix(), recipientDigits, callback))
}

// metricValue reads one sample from /metrics: name{labels} value. The
// labels are given in Prometheus' (sorted) order. -1 when absent.
func (h *harness) metricValue(series string) float64 {
	h.t.Helper()
	r := h.do(http.MethodGet, "/metrics", nil, nil)
	if r.code != http.StatusOK {
		h.t.Fatalf("/metrics: %s", r)
	}
	for line := range strings.SplitSeq(string(r.body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				h.t.Fatalf("metric line %q: %v", line, err)
			}
			return v
		}
	}
	return -1
}

func TestNewRequiresDeps(t *testing.T) {
	m := metrics.New()
	b, err := bridge.New(bridge.Config{BusinessNumbers: []string{testBusiness}}, &memStore{}, &recordingSender{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := whatsapp.NewParser(nil)
	full := Deps{Bridge: b, Parser: p, Metrics: m}
	good := Config{Tokens: []string{"t"}, AppSecret: "s"}
	cases := []struct {
		name string
		cfg  Config
		deps Deps
	}{
		{"no bridge", good, Deps{Parser: p, Metrics: m}},
		{"no parser", good, Deps{Bridge: b, Metrics: m}},
		{"no metrics", good, Deps{Bridge: b, Parser: p}},
		{"no tokens", Config{AppSecret: "s"}, full},
		{"no app secret", Config{Tokens: []string{"t"}}, full},
	}
	for _, c := range cases {
		if _, err := New(c.cfg, c.deps, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%s: New succeeded", c.name)
		}
	}
	if _, err := New(good, full, slog.New(slog.DiscardHandler)); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestBearerAuth(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name   string
		header string // "" sends none
		ok     bool
	}{
		{"missing", "", false},
		{"basic scheme", "Basic dG9rZW4tYTo=", false},
		{"token scheme", "Token " + testTokenA, false},
		{"bare token", testTokenA, false},
		{"scheme only", "Bearer ", false},
		{"scheme without space", "Bearer" + testTokenA, false},
		{"wrong token", "Bearer token-c", false},
		{"token prefix", "Bearer token-", false},
		{"token with suffix", "Bearer " + testTokenA + "x", false},
		{"first token", "Bearer " + testTokenA, true},
		{"second token", "Bearer " + testTokenB, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{}
			if c.header != "" {
				hdr["Authorization"] = c.header
			}
			// Every /api/v1 route is behind the same check.
			for _, rq := range []struct{ method, path, body string }{
				{http.MethodGet, "/api/v1/messages/nope", ""},
				{http.MethodGet, "/api/v1/conversations/" + testCustomer, ""},
				{http.MethodPost, "/api/v1/messages", `{"to":"` + testCustomer + `","template":{"name":"hello_world","language":"en_US"}}`},
			} {
				var body []byte
				if rq.body != "" {
					body = []byte(rq.body)
				}
				h.t = t
				r := h.do(rq.method, rq.path, body, hdr)
				if !c.ok {
					if r.code != http.StatusUnauthorized {
						t.Fatalf("%s %s: %s, want 401", rq.method, rq.path, r)
					}
					if e := h.errorOf(r); e.Error.Reason != "unauthorized" {
						t.Errorf("reason %q", e.Error.Reason)
					}
					if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
						t.Errorf("WWW-Authenticate %q", got)
					}
					continue
				}
				if r.code == http.StatusUnauthorized {
					t.Fatalf("%s %s refused a configured token: %s", rq.method, rq.path, r)
				}
			}
		})
	}
	h.t = t
	if got := h.metricValue(`wabridge_api_requests_total{code="401",route="send"}`); got != 9 {
		t.Errorf("401s counted on route send: %v, want 9", got)
	}
}

func TestSendValidation(t *testing.T) {
	h := newHarness(t)
	const to = `"to":"` + testCustomer + `"`
	tpl := func(extra string) string {
		return `{` + to + `,"template":{"name":"order_update","language":"en_US"` + extra + `}}`
	}
	cases := []struct {
		name   string
		body   string
		code   int
		field  string // expected error.field (4xx only)
		reason string // expected error.reason; "invalid" when empty
	}{
		{"text", `{` + to + `,"text":"Hello"}`, 202, "", ""},
		{"text formatted number", `{"to":"+49 151 1234-5678","text":"Hello"}`, 202, "", ""},
		{"text from second number", `{` + to + `,"from":"` + testBusiness2 + `","text":"Hello"}`, 202, "", ""},
		{"BSUID recipient", `{"to":"` + testBSUID + `","text":"Hello"}`, 202, "", ""},
		{"template no params", tpl(``), 202, "", ""},
		{"template params list", tpl(`,"params":["Jo","42"]`), 202, "", ""},
		{"template params object", tpl(`,"params":{"first_name":"Jo","order":"42"}`), 202, "", ""},
		{"template params null", tpl(`,"params":null`), 202, "", ""},
		{"template media header by id", tpl(`,"header":{"type":"image","id":"1234"}`), 202, "", ""},
		{"template document header by link", tpl(`,"header":{"type":"document","link":"https://example.com/a.pdf","filename":"a.pdf"}`), 202, "", ""},
		{"template text header", tpl(`,"header":{"type":"text","text":"Hi"}`), 202, "", ""},
		{"template buttons", tpl(`,"buttons":[{"sub_type":"quick_reply","index":0,"payload":"yes"},{"sub_type":"url","index":1,"payload":"x/1"},{"sub_type":"copy_code","index":2,"payload":"C0DE"}]`), 202, "", ""},

		{"empty body", ``, 400, "", ""},
		{"whitespace body", " \n ", 400, "", ""},
		{"not JSON", `hello`, 400, "", ""},
		{"truncated JSON", `{` + to + `,"text":"Hel`, 400, "", ""},
		{"trailing data", `{` + to + `,"text":"Hello"} {"x":1}`, 400, "", ""},
		{"unknown field", `{` + to + `,"text":"Hello","bogus":1}`, 400, "bogus", ""},
		{"unknown field typo", `{"too":"` + testCustomer + `","text":"Hello"}`, 400, "too", ""},
		{"wrong type to", `{"to":4915112345678,"text":"Hello"}`, 400, "to", ""},
		{"wrong type text", `{` + to + `,"text":["Hello"]}`, 400, "text", ""},
		{"wrong type preview_url", `{` + to + `,"text":"Hello","preview_url":"yes"}`, 400, "preview_url", ""},
		{"wrong type template name", `{` + to + `,"template":{"name":7,"language":"en"}}`, 400, "template.name", ""},
		{"wrong type button index", tpl(`,"buttons":[{"sub_type":"url","index":"0","payload":"x"}]`), 400, "template.buttons.index", ""},
		{"missing to", `{"text":"Hello"}`, 400, "to", ""},
		{"bad E.164 letters", `{"to":"+49abc","text":"Hello"}`, 400, "to", ""},
		{"bad E.164 too short", `{"to":"+4912","text":"Hello"}`, 400, "to", ""},
		{"bad E.164 too long", `{"to":"+4915112345678901","text":"Hello"}`, 400, "to", ""},
		{"bad E.164 leading zero", `{"to":"015112345678","text":"Hello"}`, 400, "to", ""},
		{"bad from", `{` + to + `,"from":"sales","text":"Hello"}`, 400, "from", ""},
		{"from not configured", `{` + to + `,"from":"+15550109999","text":"Hello"}`, 400, "from", ""},
		{"idempotency key too long", `{` + to + `,"text":"Hello","idempotency_key":"` + strings.Repeat("k", 201) + `"}`, 400, "idempotency_key", ""},
		{"no body kind", `{` + to + `}`, 400, "", ""},
		{"two bodies", `{` + to + `,"text":"Hello","template":{"name":"a","language":"en"}}`, 400, "", ""},
		{"text and media", `{` + to + `,"text":"Hello","media":{"type":"image","id":"1"}}`, 400, "", ""},
		{"empty text", `{` + to + `,"text":""}`, 400, "text", ""},
		{"text too long", `{` + to + `,"text":"` + strings.Repeat("é", bridge.MaxTextLength+1) + `"}`, 400, "text", ""},
		{"text at limit", `{` + to + `,"text":"` + strings.Repeat("é", bridge.MaxTextLength) + `"}`, 202, "", ""},
		{"template without name", `{` + to + `,"template":{"language":"en"}}`, 400, "template.name", ""},
		{"template without language", `{` + to + `,"template":{"name":"a"}}`, 400, "template.language", ""},
		{"template params string", tpl(`,"params":"Jo"`), 400, "template.params", ""},
		{"template params numbers", tpl(`,"params":[1,2]`), 400, "template.params", ""},
		{"template params nested", tpl(`,"params":{"a":{"b":"c"}}`), 400, "template.params", ""},
		{"template media header without id or link", tpl(`,"header":{"type":"image"}`), 400, "template.header", ""},
		{"template video header without id or link", tpl(`,"header":{"type":"video","filename":"v.mp4"}`), 400, "template.header", ""},
		{"template header bad type", tpl(`,"header":{"type":"audio","id":"1"}`), 400, "template.header.type", ""},
		{"template header no type", tpl(`,"header":{"text":"Hi"}`), 400, "template.header.type", ""},
		{"template bad button sub_type", tpl(`,"buttons":[{"sub_type":"call","index":0,"payload":"x"}]`), 400, "template.buttons[0].sub_type", ""},
		{"template second button bad", tpl(`,"buttons":[{"sub_type":"url","index":0,"payload":"x"},{"sub_type":"","index":1,"payload":"y"}]`), 400, "template.buttons[1].sub_type", ""},
		// Issue 3: every type is sent now; these were 422 before it.
		{"media with Meta's field name", `{` + to + `,"media":{"type":"image","link":"https://example.com/a.jpg"}}`, 400, "media.link", ""},
		{"media url", `{` + to + `,"media":{"type":"image","url":"https://example.com/a.jpg"}}`, 202, "", ""},
		{"media bad type", `{` + to + `,"media":{"type":"gif","url":"https://example.com/a.gif"}}`, 400, "media.type", ""},
		{"location", `{` + to + `,"location":{"latitude":52.5,"longitude":13.4}}`, 202, "", ""},
		{"location out of range", `{` + to + `,"location":{"latitude":95,"longitude":13.4}}`, 400, "location", ""},
		{"contacts", `{` + to + `,"contacts":[{"name":{"formatted_name":"Jo"}}]}`, 202, "", ""},
		{"interactive without body", `{` + to + `,"interactive":{"type":"button"}}`, 400, "interactive.body.text", ""},
		{"reaction to unknown message", `{` + to + `,"reaction":{"message_id":"wamid.x","emoji":"👍"}}`, 400, "reaction.message_id", ""},
		{"reply_to unknown", `{` + to + `,"text":"Hello","reply_to":"wamid.unknown"}`, 400, "reply_to", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			r := h.post(c.body)
			if r.code != c.code {
				t.Fatalf("%s, want %d", r, c.code)
			}
			if c.code == 202 {
				m := h.stored(string(h.idOf(r)))
				if m.Status != bridge.StatusQueued || m.Direction != bridge.Outbound || m.Origin != "api" {
					t.Errorf("stored %+v", m)
				}
				return
			}
			e := h.errorOf(r)
			want := c.reason
			if want == "" {
				want = "invalid"
			}
			if e.Error.Reason != want || e.Error.Field != c.field {
				t.Errorf("reason %q field %q (%s), want %q %q", e.Error.Reason, e.Error.Field, e.Error.Message, want, c.field)
			}
		})
	}
}

// The request's content arrives in the stored message as given.
func TestSendStoresContent(t *testing.T) {
	h := newHarness(t)
	to := `"to":"+49 (151) 1234-5678"`

	m := h.stored(string(h.send(`{` + to + `,"text":"Hello https://example.com","preview_url":true}`)))
	if m.Kind != bridge.KindText || m.Content.Text != "Hello https://example.com" || !m.Content.PreviewURL ||
		m.Customer.Phone != testCustomer || m.Business != testBusiness {
		t.Errorf("text: %+v", m)
	}

	m = h.stored(string(h.send(`{"to":"` + testBSUID + `","from":"` + testBusiness2 + `","text":"Hi"}`)))
	if m.Customer != (bridge.Customer{BSUID: testBSUID}) || m.Business != testBusiness2 {
		t.Errorf("BSUID: customer %+v business %s", m.Customer, m.Business)
	}

	m = h.stored(string(h.send(`{` + to + `,"template":{"name":"order","language":"de","params":["Jo","42"],` +
		`"header":{"type":"document","link":"https://example.com/a.pdf","filename":"a.pdf"},` +
		`"buttons":[{"sub_type":"url","index":1,"payload":"o/42"}]}}`)))
	want := &bridge.Template{Name: "order", Language: "de", Params: []string{"Jo", "42"},
		HeaderMedia: &bridge.TemplateMedia{Type: "document", Link: "https://example.com/a.pdf", Filename: "a.pdf"},
		Buttons:     []bridge.TemplateButton{{SubType: "url", Index: 1, Payload: "o/42"}}}
	if m.Kind != bridge.KindTemplate || !templatesEqual(m.Content.Template, want) {
		t.Errorf("template list: %+v", m.Content.Template)
	}

	m = h.stored(string(h.send(`{` + to + `,"template":{"name":"order","language":"de","params":{"first_name":"Jo"},` +
		`"header":{"type":"text","text":"Hi"}}}`)))
	want = &bridge.Template{Name: "order", Language: "de", NamedParams: map[string]string{"first_name": "Jo"}, HeaderText: "Hi"}
	if !templatesEqual(m.Content.Template, want) {
		t.Errorf("template object: %+v", m.Content.Template)
	}
}

func templatesEqual(a, b *bridge.Template) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestSendIdempotency(t *testing.T) {
	h := newHarness(t)
	body := `{"to":"` + testCustomer + `","text":"Hello","idempotency_key":"order-42"}`
	first := h.post(body)
	if first.code != http.StatusAccepted {
		t.Fatalf("first: %s", first)
	}
	id := h.idOf(first)
	for range 2 {
		again := h.post(body)
		if again.code != http.StatusOK {
			t.Fatalf("repeat: %s, want 200", again)
		}
		if got := h.idOf(again); got != id {
			t.Errorf("repeat id %s, want %s", got, id)
		}
	}
	// The key names the request: different content with the same key is
	// still the original message.
	if r := h.post(`{"to":"` + testCustomer + `","text":"Other","idempotency_key":"order-42"}`); r.code != 200 || h.idOf(r) != id {
		t.Errorf("same key, other content: %s", r)
	}
	// Another key is another message.
	if other := h.send(`{"to":"` + testCustomer + `","text":"Hello","idempotency_key":"order-43"}`); other == id {
		t.Error("a new key returned the old id")
	}
	if n, err := h.store.OutboxDepth(context.Background()); err != nil || n != 2 {
		t.Errorf("outbox depth %d (%v), want 2: a repeat must queue nothing", n, err)
	}
	if got := h.metricValue(`wabridge_api_requests_total{code="200",route="send"}`); got != 3 {
		t.Errorf("200s on send: %v", got)
	}
}

func TestSendReplyTo(t *testing.T) {
	h := newHarness(t)
	const inWAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
	if r := h.signedWebhook(inboundText(inWAMID, "4915112345678", "Does it come in blue?", time.Now())); r.code != 200 {
		t.Fatalf("webhook: %s", r)
	}
	in := h.stored(inWAMID)

	// By wamid and by our id of the inbound message: both resolve to the wamid.
	for _, ref := range []string{inWAMID, string(in.ID)} {
		id := h.send(`{"to":"` + testCustomer + `","text":"Yes","reply_to":"` + ref + `"}`)
		m := h.stored(string(id))
		if m.Content.Context == nil || m.Content.Context.WAMID != inWAMID {
			t.Errorf("reply_to %s: context %+v", ref, m.Content.Context)
		}
	}

	// An outbound message without a wamid yet cannot be replied to.
	out := h.send(`{"to":"` + testCustomer + `","text":"first"}`)
	r := h.post(`{"to":"` + testCustomer + `","text":"second","reply_to":"` + string(out) + `"}`)
	if r.code != 400 || h.errorOf(r).Error.Field != "reply_to" {
		t.Errorf("reply to a message without wamid: %s", r)
	}

	// The context goes to the provider.
	h.run()
	waitFor(t, func() bool { return len(h.sender.messages()) == 3 })
	replies := 0
	for _, m := range h.sender.messages() {
		if m.Content.Context != nil && m.Content.Context.WAMID == inWAMID {
			replies++
		}
	}
	if replies != 2 {
		t.Errorf("%d sends carried the reply context, want 2", replies)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type messageJSON struct {
	ID        string `json:"id"`
	Direction string `json:"direction"`
	Type      string `json:"type"`
	To        string `json:"to"`
	From      string `json:"from"`
	Channel   string `json:"channel"`
	Status    string `json:"status"`
	WAMID     string `json:"wamid"`
	Text      string `json:"text"`
	Template  *struct {
		Name string `json:"name"`
	} `json:"template"`
	Error *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"error"`
	History []struct {
		Status string    `json:"status"`
		At     time.Time `json:"at"`
		Code   int       `json:"code"`
	} `json:"history"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (h *harness) getMessage(ref string) messageJSON {
	h.t.Helper()
	r := h.get("/api/v1/messages/" + ref)
	if r.code != http.StatusOK {
		h.t.Fatalf("GET %s: %s", ref, r)
	}
	var v messageJSON
	if err := json.Unmarshal(r.body, &v); err != nil {
		h.t.Fatalf("GET %s: %v", ref, err)
	}
	return v
}

func TestGetMessage(t *testing.T) {
	h := newHarness(t)
	h.run()
	id := h.send(`{"to":"` + testCustomer + `","template":{"name":"hello_world","language":"en_US"}}`)

	// Once sent: the provider's wamid, still queued (acceptance is not
	// delivery), one history entry.
	waitFor(t, func() bool { return h.stored(string(id)).WAMID != "" })
	v := h.getMessage(string(id))
	if v.ID != string(id) || v.Direction != "outbound" || v.Type != "template" || v.To != testCustomer ||
		v.From != testBusiness || v.Channel != "whatsapp" || v.Status != "queued" || v.WAMID != "wamid.1" ||
		v.Template == nil || v.Template.Name != "hello_world" || v.Error != nil || len(v.History) != 1 {
		t.Fatalf("after send: %+v", v)
	}

	// Status webhooks echoing our id move it on; out of order and repeated.
	now := time.Now().Truncate(time.Second)
	for i, st := range []string{"delivered", "sent", "delivered", "read"} {
		body := statusWebhook("wamid.1", st, "4915112345678", string(id), now.Add(time.Duration(i)*time.Second))
		if r := h.signedWebhook(body); r.code != 200 {
			t.Fatalf("status %s: %s", st, r)
		}
	}
	for _, ref := range []string{string(id), "wamid.1"} {
		v := h.getMessage(ref)
		if v.ID != string(id) || v.Status != "read" {
			t.Errorf("GET %s: id %s status %s", ref, v.ID, v.Status)
		}
		var got []string
		for _, e := range v.History {
			got = append(got, e.Status)
			if e.At.IsZero() {
				t.Errorf("history entry without time: %+v", e)
			}
		}
		if want := "queued delivered sent read"; strings.Join(got, " ") != want {
			t.Errorf("GET %s: history %v, want %s (the duplicate delivered is stored once)", ref, got, want)
		}
	}

	// An inbound message, by its wamid.
	const inWAMID = "wamid.inbound.1"
	if r := h.signedWebhook(inboundText(inWAMID, "4915112345678", "Thanks!", now)); r.code != 200 {
		t.Fatal(r)
	}
	v = h.getMessage(inWAMID)
	if v.Direction != "inbound" || v.Type != "text" || v.Text != "Thanks!" || v.From != testCustomer ||
		v.To != testBusiness || v.Status != "received" || v.WAMID != inWAMID || len(v.History) != 1 {
		t.Errorf("inbound: %+v", v)
	}

	// A failed message carries its error.
	fid := h.send(`{"to":"` + testCustomer + `","template":{"name":"hello_world","language":"en_US"}}`)
	waitFor(t, func() bool { return h.stored(string(fid)).WAMID != "" })
	fw := h.stored(string(fid)).WAMID
	failed := envelope(fmt.Sprintf(`"statuses":[{"id":%q,"status":"failed","timestamp":"%d","recipient_id":"4915112345678",`+
		`"biz_opaque_callback_data":%q,"errors":[{"code":131026,"title":"Message undeliverable","error_data":{"details":"not on WhatsApp"}}]}]`,
		fw, now.Unix(), fid))
	if r := h.signedWebhook(failed); r.code != 200 {
		t.Fatal(r)
	}
	v = h.getMessage(string(fid))
	if v.Status != "failed" || v.Error == nil || v.Error.Code != 131026 || v.Error.Reason == "" ||
		len(v.History) != 2 || v.History[1].Code != 131026 {
		t.Errorf("failed: %+v", v)
	}
}

func TestGetMessageNotFound(t *testing.T) {
	h := newHarness(t)
	for _, ref := range []string{"01hzzzzzzzzzzzzzzzzzzzzzzz", "wamid.nope", "%20"} {
		r := h.get("/api/v1/messages/" + ref)
		if r.code != http.StatusNotFound {
			t.Fatalf("GET %s: %s", ref, r)
		}
		if e := h.errorOf(r); e.Error.Reason != "not_found" || e.Error.Field != "id" {
			t.Errorf("GET %s: %+v", ref, e)
		}
	}
	if got := h.metricValue(`wabridge_api_requests_total{code="404",route="message"}`); got != 3 {
		t.Errorf("404s on route message: %v", got)
	}
}

type windowJSON struct {
	Number        string  `json:"number"`
	From          string  `json:"from"`
	WindowOpen    bool    `json:"window_open"`
	ExpiresAt     *string `json:"expires_at"`
	SecondsLeft   int64   `json:"seconds_left"`
	LastInboundAt string  `json:"last_inbound_at"`
}

func (h *harness) window(path string) windowJSON {
	h.t.Helper()
	r := h.get(path)
	if r.code != http.StatusOK {
		h.t.Fatalf("GET %s: %s", path, r)
	}
	var w windowJSON
	if err := json.Unmarshal(r.body, &w); err != nil {
		h.t.Fatal(err)
	}
	return w
}

func TestConversations(t *testing.T) {
	h := newHarness(t)
	const path = "/api/v1/conversations/"

	w := h.window(path + testCustomer)
	if w.WindowOpen || w.ExpiresAt != nil || w.SecondsLeft != 0 || w.Number != testCustomer || w.From != testBusiness ||
		w.LastInboundAt != "" {
		t.Errorf("no inbound yet: %+v", w)
	}

	at := time.Now().Add(-time.Hour)
	if r := h.signedWebhook(inboundText("wamid.c1", "4915112345678", "hi", at)); r.code != 200 {
		t.Fatal(r)
	}
	for _, p := range []string{path + testCustomer, path + "4915112345678", path + "+49-151-12345678",
		path + testCustomer + "?from=" + testBusiness} {
		w = h.window(p)
		if !w.WindowOpen || w.Number != testCustomer || w.From != testBusiness || w.ExpiresAt == nil {
			t.Fatalf("GET %s after inbound: %+v", p, w)
		}
		if left := time.Duration(w.SecondsLeft) * time.Second; left < 22*time.Hour || left > 23*time.Hour {
			t.Errorf("GET %s: %s left, want about 23h", p, left)
		}
		exp, err := time.Parse(time.RFC3339, *w.ExpiresAt)
		if err != nil || exp.Sub(at.Add(24*time.Hour)).Abs() > time.Second {
			t.Errorf("expires_at %s (%v), want %s", *w.ExpiresAt, err, at.Add(24*time.Hour).UTC())
		}
		if last, err := time.Parse(time.RFC3339, w.LastInboundAt); err != nil || last.Sub(at).Abs() > time.Second {
			t.Errorf("last_inbound_at %s (%v)", w.LastInboundAt, err)
		}
	}
	// The window belongs to the business number written to.
	if w := h.window(path + testCustomer + "?from=" + testBusiness2); w.WindowOpen || w.From != testBusiness2 {
		t.Errorf("other business: %+v", w)
	}
	// A window that closed.
	if r := h.signedWebhook(inboundText("wamid.c2", "4915199999999", "old", time.Now().Add(-25*time.Hour))); r.code != 200 {
		t.Fatal(r)
	}
	if w := h.window(path + "+4915199999999"); w.WindowOpen || w.SecondsLeft != 0 || w.ExpiresAt == nil {
		t.Errorf("expired window: %+v", w)
	}
	// A customer known only by BSUID.
	if r := h.signedWebhook(inboundFromBSUID("wamid.c3", testBSUID, time.Now())); r.code != 200 {
		t.Fatal(r)
	}
	if w := h.window(path + testBSUID); !w.WindowOpen || w.Number != testBSUID {
		t.Errorf("BSUID window: %+v", w)
	}

	for _, c := range []struct{ path, field string }{
		{path + "hello", "number"},
		{path + "12", "number"},
		{path + "%2B49abc", "number"},
		{path + testCustomer + "?from=sales", "from"},
		{path + testCustomer + "?from=%2B12", "from"},
	} {
		r := h.get(c.path)
		if r.code != http.StatusBadRequest {
			t.Errorf("GET %s: %s, want 400", c.path, r)
			continue
		}
		if e := h.errorOf(r); e.Error.Field != c.field || e.Error.Reason != "invalid" {
			t.Errorf("GET %s: %+v", c.path, e)
		}
	}
}

func TestWebhookHandshake(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		query string
		code  int
		body  string
	}{
		{"hub.mode=subscribe&hub.verify_token=" + testVerifyToken + "&hub.challenge=1158201444", 200, "1158201444"},
		{"hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444", 403, ""},
		{"hub.mode=subscribe&hub.challenge=1158201444", 403, ""},
		{"hub.mode=unsubscribe&hub.verify_token=" + testVerifyToken + "&hub.challenge=1", 403, ""},
		{"", 403, ""},
	}
	for _, c := range cases {
		r := h.do(http.MethodGet, "/webhooks/whatsapp?"+c.query, nil, nil)
		if r.code != c.code || (c.code == 200 && string(r.body) != c.body) {
			t.Errorf("?%s: %s, want %d %s", c.query, r, c.code, c.body)
		}
	}
}

func TestWebhookSignatureAndParsing(t *testing.T) {
	h := newHarness(t)
	const wamid = "wamid.w1"
	body := inboundText(wamid, "4915112345678", "hello", time.Now())
	notStored := func(what string) {
		t.Helper()
		if _, err := h.bridge.Message(context.Background(), wamid); !errors.Is(err, bridge.ErrNotFound) {
			t.Fatalf("%s: message stored (%v)", what, err)
		}
	}

	for _, c := range []struct{ name, sig string }{
		{"unsigned", ""},
		{"other secret", sign("other-secret", body)},
		{"other body", sign(testAppSecret, append([]byte(" "), body...))},
		{"sha1 prefix", "sha1=" + strings.TrimPrefix(sign(testAppSecret, body), "sha256=")},
		{"truncated", sign(testAppSecret, body)[:40]},
	} {
		r := h.webhook(body, c.sig)
		if r.code != http.StatusUnauthorized {
			t.Fatalf("%s: %s, want 401", c.name, r)
		}
		if e := h.errorOf(r); e.Error.Reason != "unauthorized" || e.Error.Field != "X-Hub-Signature-256" {
			t.Errorf("%s: %+v", c.name, e)
		}
		notStored(c.name)
	}
	if got := h.metricValue(`wabridge_webhook_requests_total{provider="meta",result="bad_signature"}`); got != 5 {
		t.Errorf("bad_signature count %v, want 5", got)
	}

	for _, bad := range []string{`{"object":`, `not json`, `[]`} {
		r := h.signedWebhook([]byte(bad))
		if r.code != http.StatusBadRequest || h.errorOf(r).Error.Reason != "invalid" {
			t.Errorf("%s: %s, want 400", bad, r)
		}
	}
	if got := h.metricValue(`wabridge_webhook_requests_total{provider="meta",result="bad_request"}`); got != 3 {
		t.Errorf("bad_request count %v, want 3", got)
	}
	// A signed envelope for another Meta product is authentic but not ours:
	// kept raw once and acknowledged, so Meta does not re-deliver it for days.
	page := []byte(`{"object":"page","entry":[]}`)
	for range 2 {
		if r := h.signedWebhook(page); r.code != http.StatusOK {
			t.Errorf("other object: %s, want 200", r)
		}
	}
	if got := h.metricValue(`wabridge_webhook_events_total{provider="meta",result="new",type="other"}`); got != 1 {
		t.Errorf("other object stored %v times, want 1", got)
	}

	r := h.signedWebhook(body)
	if r.code != http.StatusOK || string(r.body) != "ok\n" {
		t.Fatalf("signed: %s", r)
	}
	m := h.stored(wamid)
	if m.Direction != bridge.Inbound || m.Content.Text != "hello" || m.Customer.Phone != testCustomer ||
		m.Business != testBusiness || m.ProfileName != "Sheena Nelson" {
		t.Errorf("stored %+v", m)
	}

	// Meta re-delivers: same body, 200 again, stored once, counted as duplicate.
	if r := h.signedWebhook(body); r.code != http.StatusOK {
		t.Fatalf("re-delivery: %s", r)
	}
	for series, want := range map[string]float64{
		`wabridge_webhook_requests_total{provider="meta",result="ok"}`:                      4, // 2 + the other-object pair
		`wabridge_webhook_events_total{provider="meta",result="new",type="message"}`:        1,
		`wabridge_webhook_events_total{provider="meta",result="duplicate",type="any"}`:      2, // + the repeated other object
		`wabridge_messages_total{channel="whatsapp",direction="inbound",status="received"}`: 1,
	} {
		if got := h.metricValue(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}

	// A status for a message we do not know (yet) is kept, and answered 200.
	if r := h.signedWebhook(statusWebhook("wamid.unknown", "sent", "4915112345678", "", time.Now())); r.code != 200 {
		t.Errorf("unknown status: %s", r)
	}
	// Empty object with no entries: nothing to store, still 200.
	if r := h.signedWebhook([]byte(`{"object":"whatsapp_business_account","entry":[]}`)); r.code != 200 {
		t.Errorf("no entries: %s", r)
	}
}

func TestWebhookBodyLimit(t *testing.T) {
	h := newHarness(t)
	// A valid, signed webhook padded with JSON whitespace past the limit.
	body := inboundText("wamid.big", "4915112345678", "big", time.Now())
	body = append(body, bytes.Repeat([]byte(" "), testMaxBody+1-len(body))...)
	r := h.signedWebhook(body)
	if r.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d bytes: %s, want 413", len(body), r)
	}
	if e := h.errorOf(r); e.Error.Reason != "too_large" {
		t.Errorf("%+v", e)
	}
	if _, err := h.bridge.Message(context.Background(), "wamid.big"); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("oversized webhook stored: %v", err)
	}
	// At the limit it is taken (on a new connection: the server closed the old one).
	h.client.CloseIdleConnections()
	body = body[:testMaxBody]
	if r := h.signedWebhook(body); r.code != http.StatusOK {
		t.Errorf("%d bytes: %s, want 200", len(body), r)
	}
	// The API has the same limit.
	big := []byte(`{"to":"` + testCustomer + `","text":"` + strings.Repeat("a", testMaxBody) + `"}`)
	if r := h.do(http.MethodPost, "/api/v1/messages", big, auth); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("API: %s, want 413", r)
	}
}

// A body without Content-Length (chunked) is read up to the limit; one with
// it is read in one piece of that length. Both kinds are verified and stored
// alike; a chunked body over the limit is refused like a declared one.
func TestWebhookChunkedBody(t *testing.T) {
	h := newHarness(t)
	send := func(body []byte) response {
		t.Helper()
		// A reader http.NewRequest cannot size: sent chunked.
		req, err := http.NewRequest(http.MethodPost, h.base+"/webhooks/whatsapp", io.MultiReader(bytes.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.TransferEncoding = []string{"chunked"}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sign(testAppSecret, body))
		res, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return response{code: res.StatusCode, header: res.Header, body: b}
	}
	if r := send(inboundText("wamid.chunked", "4915112345678", "in pieces", time.Now())); r.code != http.StatusOK {
		t.Fatalf("chunked webhook: %s", r)
	}
	if _, err := h.bridge.Message(context.Background(), "wamid.chunked"); err != nil {
		t.Errorf("chunked webhook not stored: %v", err)
	}
	if r := h.signedWebhook(inboundText("wamid.sized", "4915112345678", "in one", time.Now())); r.code != http.StatusOK {
		t.Fatalf("sized webhook: %s", r)
	}
	if _, err := h.bridge.Message(context.Background(), "wamid.sized"); err != nil {
		t.Errorf("sized webhook not stored: %v", err)
	}
	big := inboundText("wamid.chunkedbig", "4915112345678", "big", time.Now())
	big = append(big, bytes.Repeat([]byte(" "), testMaxBody+1-len(big))...)
	h.client.CloseIdleConnections()
	if r := send(big); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked %d bytes: %s, want 413", len(big), r)
	}
	if _, err := h.bridge.Message(context.Background(), "wamid.chunkedbig"); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("oversized chunked webhook stored: %v", err)
	}
}

// Webhook bodies are read into recycled buffers: bodies of one length
// with different contents, one after another and concurrently, each store
// their own message (nothing an event keeps aliases a buffer).
func TestWebhookBodyBuffersRecycled(t *testing.T) {
	h := newHarness(t)
	const n = 16
	text := func(i int) string { return fmt.Sprintf("body %02d %s", i, strings.Repeat(string(rune('a'+i)), 40)) }
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := inboundText(fmt.Sprintf("wamid.recycled%02d", i), "4915112345678", text(i), time.Now())
			if r := h.signedWebhook(body); r.code != http.StatusOK {
				t.Errorf("webhook %d: %s", i, r)
			}
		}()
		if i%2 == 0 {
			wg.Wait() // half one after another, half side by side
		}
	}
	wg.Wait()
	for i := range n {
		m := h.stored(fmt.Sprintf("wamid.recycled%02d", i))
		if m.Content.Text != text(i) || !bytes.Contains(m.Content.Raw, []byte(text(i))) {
			t.Errorf("message %d: text %q, raw %s", i, m.Content.Text, m.Content.Raw)
		}
	}
}

// A body shorter than its Content-Length (the client stops sending and
// half-closes) is refused with 400 and nothing is stored: a small one
// (cut within what the server reads ahead) and one near the limit (cut
// while the handler reads it).
func TestWebhookTruncatedBody(t *testing.T) {
	h := newHarness(t)
	for _, size := range []int{0, testMaxBody - 100} {
		wamid := fmt.Sprintf("wamid.cut%d", size)
		body := inboundText(wamid, "4915112345678", "cut short", time.Now())
		if len(body) < size {
			body = append(body, bytes.Repeat([]byte(" "), size-len(body))...)
		}
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /webhooks/whatsapp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
			"X-Hub-Signature-256: %s\r\nContent-Length: %d\r\n\r\n%s", sign(testAppSecret, body), len(body), body[:len(body)/2])
		conn.(*net.TCPConn).CloseWrite()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		answer, _ := io.ReadAll(conn)
		conn.Close()
		if !bytes.HasPrefix(answer, []byte("HTTP/1.1 400")) {
			t.Errorf("%d bytes cut in half: answered %q", len(body), answer)
		}
		if _, err := h.bridge.Message(context.Background(), wamid); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("%d bytes cut in half: stored (%v)", len(body), err)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	h := newHarness(t)
	if r := h.do(http.MethodGet, "/healthz", nil, nil); r.code != 200 || string(r.body) != "ok\n" {
		t.Errorf("/healthz: %s", r)
	}
	if r := h.do(http.MethodGet, "/readyz", nil, nil); r.code != 200 || string(r.body) != "ok\n" {
		t.Errorf("/readyz: %s", r)
	}
	notReady := errors.New("store unreachable")
	h.ready.Store(&notReady)
	if r := h.do(http.MethodGet, "/readyz", nil, nil); r.code != http.StatusServiceUnavailable {
		t.Errorf("/readyz not ready: %s, want 503", r)
	}
	// Liveness does not depend on readiness.
	if r := h.do(http.MethodGet, "/healthz", nil, nil); r.code != 200 {
		t.Errorf("/healthz while not ready: %s", r)
	}
	h.ready.Store(nil)
	if r := h.do(http.MethodGet, "/readyz", nil, nil); r.code != 200 {
		t.Errorf("/readyz ready again: %s", r)
	}
}

func TestRoutingErrors(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		method, path string
		code         int
		reason       string
	}{
		{http.MethodGet, "/nope", 404, "not_found"},
		{http.MethodGet, "/api/v2/messages", 404, "not_found"},
		{http.MethodPost, "/api/v1/conversations", 404, "not_found"},
		{http.MethodDelete, "/api/v1/messages", 405, "method_not_allowed"},
		{http.MethodGet, "/api/v1/messages", 405, "method_not_allowed"},
		{http.MethodPut, "/healthz", 405, "method_not_allowed"},
		{http.MethodDelete, "/webhooks/whatsapp", 405, "method_not_allowed"},
		{http.MethodPost, "/metrics", 405, "method_not_allowed"},
	} {
		r := h.do(c.method, c.path, nil, auth)
		if r.code != c.code {
			t.Errorf("%s %s: %s, want %d", c.method, c.path, r, c.code)
			continue
		}
		if e := h.errorOf(r); e.Error.Reason != c.reason {
			t.Errorf("%s %s: %+v", c.method, c.path, e)
		}
		if c.code == 405 && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
}

// Shutdown lets the webhook in flight finish: an acknowledged webhook is
// stored, and the listener is closed afterwards.
func TestShutdown(t *testing.T) {
	h := newHarness(t)
	if r := h.signedWebhook(inboundText("wamid.s1", "4915112345678", "x", time.Now())); r.code != 200 {
		t.Fatal(r)
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(c); err != nil {
		t.Fatal(err)
	}
	h.client.CloseIdleConnections()
	if _, err := h.client.Get(h.base + "/healthz"); err == nil {
		t.Error("server still answers after Shutdown")
	}
	h.stored("wamid.s1")
}
