package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

const (
	testAccount    = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testSubaccount = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	testToken      = "tw-secret-auth-token-7f3a"
	testService    = "MGcccccccccccccccccccccccccccccccc"
	testBusiness   = "+14155238886"
	testSid        = "SM1f0e8ae6ade43cb3c0ce4525424e404f"
)

// request is what the fake Twilio saw.
type request struct {
	method, path, query, user, pass string
	form                            url.Values
}

// fakeTwilio records requests and answers with handle.
type fakeTwilio struct {
	*httptest.Server
	mu     sync.Mutex
	seen   []request
	handle func(w http.ResponseWriter, r *http.Request)
}

func newFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *fakeTwilio {
	t.Helper()
	f := &fakeTwilio{handle: handle}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		user, pass, _ := r.BasicAuth()
		f.mu.Lock()
		f.seen = append(f.seen, request{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, user: user, pass: pass, form: r.PostForm})
		f.mu.Unlock()
		f.handle(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTwilio) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.seen...)
}

// created answers like Twilio's Messages create (201 with the resource).
func created(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"sid":"`+testSid+`","status":"queued","account_sid":"`+testAccount+`","api_version":"2010-04-01"}`)
}

// testLogger routes client logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newTestClient(t *testing.T, apiURL string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		APIURL:     apiURL,
		ContentURL: apiURL,
		AccountSID: testAccount,
		AuthToken:  testToken,
		Numbers:    []string{testBusiness},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewClientConfig(t *testing.T) {
	bad := map[string]Config{
		"no account":          {AuthToken: "x"},
		"bad account":         {AccountSID: "SK" + testAccount[2:], AuthToken: "x"},
		"no secret":           {AccountSID: testAccount},
		"token and key":       {AccountSID: testAccount, AuthToken: "x", APIKeySID: "SK" + testAccount[2:], APIKeySecret: "y"},
		"key without secret":  {AccountSID: testAccount, APIKeySID: "SK" + testAccount[2:]},
		"bad key":             {AccountSID: testAccount, APIKeySID: "KS" + testAccount[2:], APIKeySecret: "y"},
		"bad subaccount":      {AccountSID: testAccount, AuthToken: "x", SubaccountSID: "AC1"},
		"bad service":         {AccountSID: testAccount, AuthToken: "x", MessagingServiceSID: "MG1"},
		"bad api url":         {AccountSID: testAccount, AuthToken: "x", APIURL: "ftp://x"},
		"bad content url":     {AccountSID: testAccount, AuthToken: "x", ContentURL: "https://"},
		"bad number":          {AccountSID: testAccount, AuthToken: "x", Numbers: []string{"abc"}},
		"duplicate number":    {AccountSID: testAccount, AuthToken: "x", Numbers: []string{"+14155238886", "14155238886"}},
		"bad status callback": {AccountSID: testAccount, AuthToken: "x", StatusCallback: "/twilio"},
		"bad media host":      {AccountSID: testAccount, AuthToken: "x", MediaHosts: []string{"https://cdn/"}},
	}
	for name, cfg := range bad {
		if _, err := NewClient(cfg, nil); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), cfg.AuthToken) && cfg.AuthToken != "" && cfg.AuthToken != "x" {
			t.Errorf("%s: error shows the token", name)
		}
	}
	c, err := NewClient(Config{AccountSID: testAccount, AuthToken: "x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.apiBase != DefaultAPIURL || c.contentBase != DefaultContentURL || c.timeout != DefaultTimeout || c.mediaTO != DefaultMediaTimeout {
		t.Errorf("defaults: %q %q %v %v", c.apiBase, c.contentBase, c.timeout, c.mediaTO)
	}
	for _, h := range DefaultMediaHosts {
		if ok, _ := c.media.Match(h, "443"); !ok {
			t.Errorf("default media host %s not allowed", h)
		}
	}
	if ok, _ := c.media.Match("api.twilio.com", "443"); !ok {
		t.Error("API host not allowed for media")
	}
}

// TestSendKinds: the exact form posted for every kind Send supports.
func TestSendKinds(t *testing.T) {
	customer := bridge.Customer{Phone: "+4915112345678"}
	base := func(extra url.Values) url.Values {
		v := url.Values{"To": {"whatsapp:+4915112345678"}, "From": {"whatsapp:" + testBusiness},
			"StatusCallback": {"https://bridge.example/twilio/status?" + CallbackIDParam + "=msg-1"}}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	cases := []struct {
		name    string
		msg     bridge.Message
		content Config // unused fields; MessagingServiceSID switches the sender
		want    url.Values
	}{
		{name: "text", msg: bridge.Message{Kind: bridge.KindText, Content: bridge.Content{Text: "Hello there"}},
			want: base(url.Values{"Body": {"Hello there"}})},
		{name: "image by link with caption", msg: bridge.Message{Kind: bridge.KindImage, Content: bridge.Content{Media: &bridge.Media{URL: "https://files.example/cat.jpg", Caption: "A cat"}}},
			want: base(url.Values{"MediaUrl": {"https://files.example/cat.jpg"}, "Body": {"A cat"}})},
		{name: "document by uploaded id", msg: bridge.Message{Kind: bridge.KindDocument, Content: bridge.Content{Media: &bridge.Media{ID: "https://bridge.example/media/f1?sig=abc", Filename: "a.pdf"}}},
			want: base(url.Values{"MediaUrl": {"https://bridge.example/media/f1?sig=abc"}})},
		{name: "video", msg: bridge.Message{Kind: bridge.KindVideo, Content: bridge.Content{Media: &bridge.Media{URL: "https://files.example/v.mp4", Caption: "clip"}}},
			want: base(url.Values{"MediaUrl": {"https://files.example/v.mp4"}, "Body": {"clip"}})},
		{name: "audio", msg: bridge.Message{Kind: bridge.KindAudio, Content: bridge.Content{Media: &bridge.Media{URL: "https://files.example/a.ogg"}}},
			want: base(url.Values{"MediaUrl": {"https://files.example/a.ogg"}})},
		{name: "sticker", msg: bridge.Message{Kind: bridge.KindSticker, Content: bridge.Content{Media: &bridge.Media{URL: "https://files.example/s.webp"}}},
			want: base(url.Values{"MediaUrl": {"https://files.example/s.webp"}})},
		{name: "location", msg: bridge.Message{Kind: bridge.KindLocation, Content: bridge.Content{Location: &bridge.Location{Latitude: 37.78789, Longitude: -122.391664, Name: "Twilio HQ", Address: "375 Beale St"}}},
			want: base(url.Values{"Body": {"Twilio HQ\n375 Beale St"}, "PersistentAction": {"geo:37.78789,-122.391664|Twilio HQ"}})},
		{name: "location without names", msg: bridge.Message{Kind: bridge.KindLocation, Content: bridge.Content{Location: &bridge.Location{Latitude: 1.5, Longitude: 2}}},
			want: base(url.Values{"Body": {"1.5,2"}, "PersistentAction": {"geo:1.5,2"}})},
		{name: "BSUID-only customer", msg: bridge.Message{Customer: bridge.Customer{BSUID: "US.13491208655302741918"}, Kind: bridge.KindText, Content: bridge.Content{Text: "hi"}},
			want: url.Values{"To": {"whatsapp:US.13491208655302741918"}, "From": {"whatsapp:" + testBusiness}, "Body": {"hi"},
				"StatusCallback": {"https://bridge.example/twilio/status?" + CallbackIDParam + "=msg-1"}}},
		{name: "messaging service", content: Config{MessagingServiceSID: testService}, msg: bridge.Message{Kind: bridge.KindText, Content: bridge.Content{Text: "hi"}},
			want: url.Values{"To": {"whatsapp:+4915112345678"}, "MessagingServiceSid": {testService}, "Body": {"hi"},
				"StatusCallback": {"https://bridge.example/twilio/status?" + CallbackIDParam + "=msg-1"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, created)
			c := newTestClient(t, srv.URL, func(cfg *Config) {
				cfg.StatusCallback = "https://bridge.example/twilio/status"
				cfg.MessagingServiceSID = tc.content.MessagingServiceSID
			})
			m := tc.msg
			m.ID, m.Business = "msg-1", "+1 415 523 8886"
			if m.Customer.IsZero() {
				m.Customer = customer
			}
			sid, err := c.Send(context.Background(), &m)
			if err != nil || sid != testSid {
				t.Fatalf("Send = %q, %v", sid, err)
			}
			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if r.method != "POST" || r.path != "/2010-04-01/Accounts/"+testAccount+"/Messages.json" || r.user != testAccount || r.pass != testToken {
				t.Errorf("request %s %s as %s:%s", r.method, r.path, r.user, r.pass)
			}
			if !reflect.DeepEqual(r.form, tc.want) {
				t.Errorf("form\n got %v\nwant %v", r.form, tc.want)
			}
		})
	}
}

// TestSendSubaccountAndAPIKey: a subaccount's Messages URL, authenticated
// with the parent's API key.
func TestSendSubaccountAndAPIKey(t *testing.T) {
	srv := newFake(t, created)
	key := "SK" + strings.Repeat("d", 32)
	c := newTestClient(t, srv.URL, func(cfg *Config) {
		cfg.AuthToken, cfg.APIKeySID, cfg.APIKeySecret, cfg.SubaccountSID = "", key, "key-secret", testSubaccount
	})
	m := &bridge.Message{Business: testBusiness, Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindText, Content: bridge.Content{Text: "x"}}
	if _, err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	r := srv.requests()[0]
	if r.path != "/2010-04-01/Accounts/"+testSubaccount+"/Messages.json" || r.user != key || r.pass != "key-secret" {
		t.Errorf("%s as %s:%s", r.path, r.user, r.pass)
	}
	if _, ok := r.form["StatusCallback"]; ok {
		t.Error("StatusCallback sent without one configured")
	}
}

// TestSendRefusals: what Send refuses before any request.
func TestSendRefusals(t *testing.T) {
	srv := newFake(t, created)
	c := newTestClient(t, srv.URL, nil)
	cust := bridge.Customer{Phone: "+4915112345678"}
	cases := map[string]*bridge.Message{
		"nil":              nil,
		"unknown business": {Business: "+14155550000", Customer: cust, Kind: bridge.KindText, Content: bridge.Content{Text: "x"}},
		"no customer":      {Business: testBusiness, Kind: bridge.KindText, Content: bridge.Content{Text: "x"}},
		"empty text":       {Business: testBusiness, Customer: cust, Kind: bridge.KindText},
		"contacts":         {Business: testBusiness, Customer: cust, Kind: bridge.KindContacts, Content: bridge.Content{Contacts: json.RawMessage(`[{}]`)}},
		"interactive":      {Business: testBusiness, Customer: cust, Kind: bridge.KindInteractive, Content: bridge.Content{Interactive: json.RawMessage(`{}`)}},
		"reaction":         {Business: testBusiness, Customer: cust, Kind: bridge.KindReaction, Content: bridge.Content{Reaction: &bridge.Reaction{MessageID: "SM1", Emoji: "👍"}}},
		"media without url": {Business: testBusiness, Customer: cust, Kind: bridge.KindImage,
			Content: bridge.Content{Media: &bridge.Media{ID: "1003383421387256"}}},
		"template without template": {Business: testBusiness, Customer: cust, Kind: bridge.KindTemplate},
	}
	for name, m := range cases {
		_, err := c.Send(context.Background(), m)
		se := bridge.AsSendError(err)
		if err == nil || se.Action != bridge.ActionPermanent || se.Reason != bridge.ReasonInvalid {
			t.Errorf("%s: %v", name, err)
		}
		if name == "contacts" && !strings.Contains(err.Error(), "not supported by Twilio's Messages API without a Content template") {
			t.Errorf("contacts: title %q", err)
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// TestSendErrors: REST replies are classified. Bodies follow Twilio's
// error JSON ({code, message, more_info, status}; twilio-python
// TwilioRestException, https://www.twilio.com/docs/usage/twilios-response)
// with messages from Twilio's error dictionary
// (https://www.twilio.com/docs/api/errors/<code>).
func TestSendErrors(t *testing.T) {
	twErr := func(status, code int, msg string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if status == 429 {
				w.Header().Set("Retry-After", "7")
			}
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg,
				"more_info": "https://www.twilio.com/docs/errors/" + itoa(code), "status": status})
		}
	}
	plain := func(status int) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }
	}
	cases := []struct {
		name   string
		h      func(w http.ResponseWriter, r *http.Request)
		action bridge.Action
		reason bridge.Reason
		code   int
		retry  time.Duration
	}{
		{"21211 invalid To", twErr(400, 21211, "The 'To' number +1555 is not a valid phone number."), bridge.ActionPermanent, bridge.ReasonInvalid, 21211, 0},
		{"21610 unsubscribed", twErr(400, 21610, "Attempt to send to unsubscribed recipient"), bridge.ActionPermanent, bridge.ReasonOptedOut, 21610, 0},
		{"63016 outside window", twErr(400, 63016, "Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, please use a Message Template."), bridge.ActionTemplateOrFallback, bridge.ReasonWindowClosed, 63016, 0},
		{"63007 no channel", twErr(400, 63007, "Twilio could not find a Channel with the specified From address"), bridge.ActionFallback, bridge.ReasonAccountError, 63007, 0},
		{"21655 content sid", twErr(400, 21655, "The ContentSid is Invalid"), bridge.ActionTemplateInvalid, bridge.ReasonTemplateError, 21655, 0},
		{"21656 content variables", twErr(400, 21656, "The ContentVariables Parameter is invalid"), bridge.ActionPermanent, bridge.ReasonInvalid, 21656, 0},
		{"20003 authenticate", twErr(401, 20003, "Authenticate"), bridge.ActionFallback, bridge.ReasonAccountError, 20003, 0},
		{"401 without code", plain(401), bridge.ActionFallback, bridge.ReasonAccountError, 20003, 0},
		{"429 too many requests", twErr(429, 20429, "Too Many Requests"), bridge.ActionRetry, bridge.ReasonUpstreamError, 20429, 7 * time.Second},
		{"500 with code", twErr(500, 20500, "Internal Server Error"), bridge.ActionRetry, bridge.ReasonUpstreamError, 20500, 0},
		{"503 plain", plain(503), bridge.ActionRetry, bridge.ReasonUpstreamError, 0, 0},
		{"403 plain", plain(403), bridge.ActionFallback, bridge.ReasonAccountError, 0, 0},
		{"404 plain", plain(404), bridge.ActionPermanent, bridge.ReasonUpstreamError, 0, 0},
		{"unlisted code", twErr(400, 21601, "Phone number is not a valid SMS-capable inbound phone number"), bridge.ActionPermanent, bridge.ReasonUpstreamError, 21601, 0},
		{"201 without sid", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			io.WriteString(w, `{"status":"queued"}`)
		},
			bridge.ActionPermanent, bridge.ReasonUpstreamError, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, tc.h)
			var obsCode int
			c := newTestClient(t, srv.URL, func(cfg *Config) {
				cfg.Observe = func(op string, _ time.Duration, code int, _ error) {
					if op == "send" {
						obsCode = code
					}
				}
			})
			m := &bridge.Message{Business: testBusiness, Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindText, Content: bridge.Content{Text: "x"}}
			_, err := c.Send(context.Background(), m)
			var se *bridge.SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v", err)
			}
			if se.Action != tc.action || se.Reason != tc.reason || se.Code != tc.code || se.RetryAfter != tc.retry {
				t.Errorf("got %s/%s code %d retry %v, want %s/%s code %d retry %v", se.Action, se.Reason, se.Code, se.RetryAfter, tc.action, tc.reason, tc.code, tc.retry)
			}
			if tc.code != 0 && tc.name != "401 without code" && obsCode != tc.code {
				t.Errorf("observed code %d", obsCode)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestSendTransportError: a refused connection is retried with Err set;
// the secret appears in no error.
func TestSendTransportError(t *testing.T) {
	srv := newFake(t, created)
	srv.Close()
	c := newTestClient(t, srv.URL, nil)
	m := &bridge.Message{Business: testBusiness, Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindText, Content: bridge.Content{Text: "x"}}
	_, err := c.Send(context.Background(), m)
	se := bridge.AsSendError(err)
	if se.Action != bridge.ActionRetry || se.Err == nil {
		t.Fatalf("err = %#v", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error shows the token: %v", err)
	}
	// A timeout keeps context.DeadlineExceeded for errors.Is.
	slow := newFake(t, func(w http.ResponseWriter, r *http.Request) { time.Sleep(200 * time.Millisecond); created(w, r) })
	c = newTestClient(t, slow.URL, func(cfg *Config) { cfg.Timeout = 20 * time.Millisecond })
	_, err = c.Send(context.Background(), m)
	if se := bridge.AsSendError(err); se.Action != bridge.ActionRetry || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
}

// TestRedaction: the secret is scrubbed from Twilio's messages and from
// transport errors.
func TestRedaction(t *testing.T) {
	srv := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		io.WriteString(w, `{"code":20003,"message":"bad credentials `+testToken+`","status":400}`)
	})
	c := newTestClient(t, srv.URL, nil)
	m := &bridge.Message{Business: testBusiness, Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindText, Content: bridge.Content{Text: "x"}}
	_, err := c.Send(context.Background(), m)
	if err == nil || strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("reply error: %v", err)
	}
	se := c.transportError(errors.New("dial with " + testToken + " failed"))
	if strings.Contains(se.Error(), testToken) || !strings.Contains(se.Error(), "[redacted]") {
		t.Errorf("transport error: %v", se)
	}
}

func TestStatusCallbackKeepsQuery(t *testing.T) {
	c := &Client{}
	got := c.statusCallback("https://b.example/tw?x=1", "m 1")
	u, _ := url.Parse(got)
	if u.Query().Get("x") != "1" || u.Query().Get(CallbackIDParam) != "m 1" {
		t.Errorf("%s", got)
	}
	if c.statusCallback("", "m") != "" || c.statusCallback("https://b/x", "") != "https://b/x" {
		t.Error("empty cases")
	}
}
