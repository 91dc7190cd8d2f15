package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

const testToken = "EAAG-secret-token"

// recorded is one request the fake Graph server saw.
type recorded struct {
	method, path, query, auth, contentType, body string
}

// fakeGraph is an httptest server that records requests and answers with
// the handler under test.
type fakeGraph struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
}

func newFakeGraph(t *testing.T, handler func(w http.ResponseWriter, r *http.Request, n int)) *fakeGraph {
	t.Helper()
	f := &fakeGraph{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, recorded{r.Method, r.URL.Path, r.URL.RawQuery,
			r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(body)})
		n := len(f.requests)
		f.mu.Unlock()
		handler(w, r, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGraph) reqs() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

type observation struct {
	op   string
	code int
	err  error
}

func newTestClient(t *testing.T, url string, timeout time.Duration, obs *[]observation) *Client {
	t.Helper()
	c, err := NewClient(Config{
		GraphURL:    url,
		WABAID:      "102290129340398",
		AccessToken: testToken,
		Numbers:     []Number{{PhoneNumberID: "106540352242922", BusinessNumber: "+15550100001"}},
		Timeout:     timeout,
		Observe: func(op string, d time.Duration, code int, err error) {
			if obs != nil {
				*obs = append(*obs, observation{op, code, err})
			}
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func reply(status int, body string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const okReply = `{"messaging_product":"whatsapp","contacts":[{"input":"+4915112345678","wa_id":"4915112345678"}],"messages":[{"id":"wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"}]}`

func TestSendText(t *testing.T) {
	var obs []observation
	f := newFakeGraph(t, reply(200, okReply))
	c := newTestClient(t, f.URL, 0, &obs)
	wamid, err := c.Send(context.Background(), textMsg())
	if err != nil {
		t.Fatal(err)
	}
	if wamid != "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA" {
		t.Errorf("wamid = %q", wamid)
	}
	r := f.reqs()[0]
	want := `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+4915112345678","type":"text","biz_opaque_callback_data":"msg-1","text":{"body":"Hello","preview_url":false}}`
	if r.method != "POST" || r.path != "/v24.0/106540352242922/messages" || r.auth != "Bearer "+testToken ||
		r.contentType != "application/json" || r.body != want {
		t.Errorf("request = %+v", r)
	}
	if len(obs) != 1 || obs[0].op != "send" || obs[0].code != 0 || obs[0].err != nil {
		t.Errorf("observations = %+v", obs)
	}
}

// TestSendTemplates checks the template bodies as they reach the server.
func TestSendTemplates(t *testing.T) {
	f := newFakeGraph(t, reply(200, okReply))
	c := newTestClient(t, f.URL, 0, nil)
	cases := []struct {
		tpl  *bridge.Template
		want string // the "template" member
	}{
		{&bridge.Template{Name: "coupon", Language: "en", Params: []string{"SUMMER20", "10"}},
			`"template":{"name":"coupon","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"SUMMER20"},{"type":"text","text":"10"}]}]}`},
		{&bridge.Template{Name: "order", Language: "en_US", NamedParams: map[string]string{"order_number": "SKBUP2", "first_name": "Jessica"}},
			`"template":{"name":"order","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","parameter_name":"first_name","text":"Jessica"},{"type":"text","parameter_name":"order_number","text":"SKBUP2"}]}]}`},
		{&bridge.Template{Name: "promo", Language: "en_US", HeaderMedia: &bridge.TemplateMedia{Type: "image", ID: "1339522734477770"}},
			`"template":{"name":"promo","language":{"code":"en_US"},"components":[{"type":"header","parameters":[{"type":"image","image":{"id":"1339522734477770"}}]}]}`},
		{&bridge.Template{Name: "lto", Language: "en_US", Buttons: []bridge.TemplateButton{{SubType: "url", Index: 1, Payload: "n3mtql"}}},
			`"template":{"name":"lto","language":{"code":"en_US"},"components":[{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"n3mtql"}]}]}`},
		{&bridge.Template{Name: "coupon_code", Language: "en_US", Buttons: []bridge.TemplateButton{{SubType: "copy_code", Index: 0, Payload: "CARIBE25"}}},
			`"template":{"name":"coupon_code","language":{"code":"en_US"},"components":[{"type":"button","sub_type":"copy_code","index":"0","parameters":[{"type":"coupon_code","coupon_code":"CARIBE25"}]}]}`},
	}
	for i, tc := range cases {
		if _, err := c.Send(context.Background(), tplMsg(tc.tpl)); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		body := f.reqs()[i].body
		if !strings.Contains(body, `"type":"template","biz_opaque_callback_data":"msg-1",`+tc.want+`}`) {
			t.Errorf("%d: body %s\nwant template %s", i, body, tc.want)
		}
	}
}

func TestSendUnknownBusiness(t *testing.T) {
	f := newFakeGraph(t, reply(200, okReply))
	c := newTestClient(t, f.URL, 0, nil)
	m := textMsg()
	m.Business = "+15550100999"
	_, err := c.Send(context.Background(), m)
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Action != bridge.ActionPermanent || se.Reason != bridge.ReasonInvalid {
		t.Errorf("err = %v", err)
	}
	if len(f.reqs()) != 0 {
		t.Error("request sent for an unknown business")
	}
	if _, err := c.Send(context.Background(), nil); err == nil {
		t.Error("nil message accepted")
	}
}

// TestSendErrors: Meta's error JSON and bare failures are classified.
func TestSendErrors(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		code       int
		action     bridge.Action
		reason     bridge.Reason
		retryAfter time.Duration
	}{
		{"window closed", 400, nil,
			`{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"AbCdEf"}}`,
			131047, bridge.ActionTemplateOrFallback, bridge.ReasonWindowClosed, 0},
		{"not on whatsapp", 400, nil, `{"error":{"message":"Message undeliverable","code":131026}}`,
			131026, bridge.ActionFallback, bridge.ReasonNotOnWhatsApp, 0},
		{"opted out", 400, nil, `{"error":{"message":"User stopped marketing","code":131050}}`,
			131050, bridge.ActionPermanent, bridge.ReasonOptedOut, 0},
		{"template param mismatch", 400, nil, `{"error":{"message":"(#132000) Number of parameters does not match","code":132000,"error_subcode":2494073}}`,
			132000, bridge.ActionTemplateInvalid, bridge.ReasonTemplateError, 0},
		{"token expired", 401, nil, `{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"error_subcode":463}}`,
			190, bridge.ActionFallback, bridge.ReasonAccountError, 0},
		{"throughput with Retry-After", 400, map[string]string{"Retry-After": "7"}, `{"error":{"message":"Rate limit hit","code":130429}}`,
			130429, bridge.ActionRetry, bridge.ReasonUpstreamError, 7 * time.Second},
		{"unknown code on 500", 500, nil, `{"error":{"message":"boom","code":987654}}`,
			987654, bridge.ActionRetry, bridge.ReasonUpstreamError, 0},
		{"unknown code on 400", 400, nil, `{"error":{"message":"odd","code":987654}}`,
			987654, bridge.ActionPermanent, bridge.ReasonUpstreamError, 0},
		{"5xx without body", 502, nil, ``, 0, bridge.ActionRetry, bridge.ReasonUpstreamError, 0},
		{"5xx with HTML", 503, map[string]string{"Retry-After": "120"}, `<html>down</html>`, 0, bridge.ActionRetry, bridge.ReasonUpstreamError, 2 * time.Minute},
		{"429 without body", 429, nil, ``, 0, bridge.ActionRetry, bridge.ReasonUpstreamError, 0},
		{"404 without body", 404, nil, ``, 0, bridge.ActionPermanent, bridge.ReasonUpstreamError, 0},
		{"200 without id", 200, nil, `{"messages":[]}`, 0, bridge.ActionPermanent, bridge.ReasonUpstreamError, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var obs []observation
			f := newFakeGraph(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			c := newTestClient(t, f.URL, 0, &obs)
			_, err := c.Send(context.Background(), textMsg())
			var se *bridge.SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *bridge.SendError", err)
			}
			if se.Code != tc.code || se.Action != tc.action || se.Reason != tc.reason || se.RetryAfter != tc.retryAfter {
				t.Errorf("SendError = %+v", se)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("token in error: %v", err)
			}
			if len(obs) != 1 || obs[0].code != tc.code {
				t.Errorf("observations = %+v", obs)
			}
		})
	}
}

func TestSendTimeoutRetries(t *testing.T) {
	release := make(chan struct{})
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	var obs []observation
	c := newTestClient(t, f.URL, 50*time.Millisecond, &obs)
	_, err := c.Send(context.Background(), textMsg())
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Action != bridge.ActionRetry || se.Reason != bridge.ReasonUpstreamError {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if len(obs) != 1 || obs[0].err == nil {
		t.Errorf("observations = %+v", obs)
	}
}

func TestSendTransportErrorRetries(t *testing.T) {
	f := newFakeGraph(t, reply(200, okReply))
	url := f.URL
	f.Close() // connection refused from now on
	c := newTestClient(t, url, time.Second, nil)
	_, err := c.Send(context.Background(), textMsg())
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Action != bridge.ActionRetry || se.Err == nil {
		t.Fatalf("err = %v", err)
	}
}

// The Graph host reads a send and drops the connection without an answer
// (on a kept-alive connection, where a GET would be sent again): the send
// is a retryable failure for the outbox, whose reconcile window settles it,
// and was posted exactly once.
func TestSendConnectionCutIsRetryableAndNotResent(t *testing.T) {
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			reply(200, okReply)(w, r, n)
			return
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	c := newTestClient(t, f.URL, time.Second, nil)
	if _, err := c.Send(context.Background(), textMsg()); err != nil {
		t.Fatal(err)
	}
	_, err := c.Send(context.Background(), textMsg())
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Action != bridge.ActionRetry || se.Reason != bridge.ReasonUpstreamError {
		t.Fatalf("err = %v, want a retryable upstream error", err)
	}
	if n := len(f.reqs()); n != 2 {
		t.Errorf("the Graph host saw %d requests, want 2 (the cut send not sent again)", n)
	}
}

func TestRedactsToken(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1", time.Second, nil)
	se := c.transportError(fmt.Errorf("dial with %s failed", testToken))
	if strings.Contains(se.Error(), testToken) || !strings.Contains(se.Error(), "[redacted]") {
		t.Errorf("error = %q", se.Error())
	}
}

func TestMarkRead(t *testing.T) {
	var obs []observation
	f := newFakeGraph(t, reply(200, `{"success":true}`))
	c := newTestClient(t, f.URL, 0, &obs)
	if err := c.MarkRead(context.Background(), "+1 555 010 0001", "wamid.IN"); err != nil {
		t.Fatal(err)
	}
	r := f.reqs()[0]
	if r.method != "POST" || r.path != "/v24.0/106540352242922/messages" || r.auth != "Bearer "+testToken ||
		r.body != `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN"}` {
		t.Errorf("request = %+v", r)
	}
	if len(obs) != 1 || obs[0].op != "mark_read" {
		t.Errorf("observations = %+v", obs)
	}
	if err := c.MarkRead(context.Background(), "+15550100999", "wamid.IN"); err == nil {
		t.Error("unknown business accepted")
	}
	if err := c.MarkRead(context.Background(), "+15550100001", ""); err == nil {
		t.Error("empty wamid accepted")
	}
}

func TestListTemplatesFollowsPages(t *testing.T) {
	pages := []string{
		`{"data":[{"name":"hello_world","parameter_format":"POSITIONAL","components":[{"type":"BODY","text":"Hello World"}],"language":"en_US","status":"APPROVED","category":"UTILITY","id":"1"}],
		  "paging":{"cursors":{"before":"B1","after":"A1"},"next":"https://graph.facebook.com/v24.0/102290129340398/message_templates?access_token=leak&after=A1"}}`,
		`{"data":[{"name":"order_confirmation","parameter_format":"NAMED","language":"en_US","status":"APPROVED","category":"UTILITY","id":"2"},
		          {"name":"promo","language":"de","status":"PAUSED","category":"MARKETING","id":"3"}],
		  "paging":{"cursors":{"before":"B2"},"next":"https://graph.facebook.com/v24.0/102290129340398/message_templates?after=A2"}}`,
		`{"data":[{"name":"last","language":"fr","status":"REJECTED","category":"MARKETING","id":"4"}],"paging":{"cursors":{"before":"B3","after":"A3"}}}`,
	}
	var obs []observation
	f := newFakeGraph(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		io.WriteString(w, pages[n-1])
	})
	c := newTestClient(t, f.URL, 0, &obs)
	got, err := c.ListTemplates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tpl := range got {
		names = append(names, tpl.ID+":"+tpl.Name+":"+tpl.Language+":"+tpl.Status+":"+tpl.Category+":"+tpl.ParameterFormat)
	}
	want := "1:hello_world:en_US:APPROVED:UTILITY:POSITIONAL 2:order_confirmation:en_US:APPROVED:UTILITY:NAMED 3:promo:de:PAUSED:MARKETING: 4:last:fr:REJECTED:MARKETING:"
	if strings.Join(names, " ") != want {
		t.Errorf("templates = %v", names)
	}
	if string(got[0].Components) != `[{"type":"BODY","text":"Hello World"}]` {
		t.Errorf("components = %s", got[0].Components)
	}
	reqs := f.reqs()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, after := range []string{"", "A1", "A2"} {
		r := reqs[i]
		if r.method != "GET" || r.path != "/v24.0/102290129340398/message_templates" || r.auth != "Bearer "+testToken ||
			strings.Contains(r.query, "access_token") || !strings.Contains(r.query, "fields=") {
			t.Errorf("request %d = %+v", i, r)
		}
		if has := strings.Contains(r.query, "after="+after); after != "" && !has || after == "" && strings.Contains(r.query, "after=") {
			t.Errorf("request %d query %q, want after=%q", i, r.query, after)
		}
	}
	if len(obs) != 3 || obs[0].op != "list_templates" {
		t.Errorf("observations = %+v", obs)
	}
}

func TestListTemplatesErrors(t *testing.T) {
	f := newFakeGraph(t, reply(400, `{"error":{"message":"Application request limit reached","code":80007}}`))
	c := newTestClient(t, f.URL, 0, nil)
	_, err := c.ListTemplates(context.Background())
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Action != bridge.ActionRetry || se.Code != 80007 {
		t.Errorf("err = %v", err)
	}
	c2, _ := NewClient(Config{AccessToken: "x"}, nil)
	if _, err := c2.ListTemplates(context.Background()); err == nil {
		t.Error("ListTemplates without WABA id")
	}
}

func TestNewClient(t *testing.T) {
	bad := []Config{
		{},
		{AccessToken: "x", GraphURL: "ftp://graph"},
		{AccessToken: "x", GraphURL: "::"},
		{AccessToken: "x", APIVersion: "v24.0/x"},
		{AccessToken: "x", Numbers: []Number{{PhoneNumberID: "", BusinessNumber: "+15550100001"}}},
		{AccessToken: "x", Numbers: []Number{{PhoneNumberID: "1", BusinessNumber: "nope"}}},
		{AccessToken: "x", Numbers: []Number{{PhoneNumberID: "1", BusinessNumber: "+15550100001"}, {PhoneNumberID: "2", BusinessNumber: "+1 555 010 0001"}}},
	}
	for i, cfg := range bad {
		if _, err := NewClient(cfg, nil); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	c, err := NewClient(Config{AccessToken: "x", GraphURL: "https://graph.example/", Numbers: []Number{{PhoneNumberID: "106", BusinessNumber: "+15550100001"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.base != "https://graph.example/v24.0" || c.timeout != DefaultTimeout {
		t.Errorf("defaults: %q %v", c.base, c.timeout)
	}
	if id, ok := c.PhoneNumberID("+1 (555) 010-0001"); !ok || id != "106" {
		t.Errorf("PhoneNumberID = %q, %v", id, ok)
	}
	if _, ok := c.PhoneNumberID("+15550100002"); ok {
		t.Error("unknown number found")
	}
}

func TestSendReplyID(t *testing.T) {
	for _, tc := range []struct{ reply, want string }{
		{okReply, "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"},
		// Meta's example reply (Send messages, "Response"), with message_status.
		{sendReplySeeds[1], "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"},
		{`{"messages":[{"id":"a"},{"id":"b"}]}`, "a"},
		{`{"messages":[{"id":5}]}`, ""},
		{`{"messages":[]}`, ""},
		{`{"messages":[{"id":"a"}]`, ""},
		{`{"error":{"code":131000}}`, ""},
	} {
		if got := sendReplyID([]byte(tc.reply)); got != tc.want {
			t.Errorf("sendReplyID(%s) = %q, want %q", tc.reply, got, tc.want)
		}
	}
}

func BenchmarkSendReplyID(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if sendReplyID([]byte(okReply)) == "" {
			b.Fatal("no id")
		}
	}
}
