package twiliosim

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSignatureKnownVectors(t *testing.T) {
	const u = "https://mycompany.com/myapp.php?foo=1&bar=2"
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		// twilio-python tests/unit/test_request_validator.py (token "12345").
		{"twilio-python", url.Values{
			"CallSid": {"CA1234567890ABCDE"}, "Digits": {"1234"}, "From": {"+14158675309"},
			"To": {"+18005551212"}, "Caller": {"+14158675309"},
		}, "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
		// Twilio's security docs example: same URL and token, Caller/From
		// +12349013030 (the brief paired these parameters with the
		// twilio-python signature above; they give this one).
		{"docs page", url.Values{
			"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
			"From": {"+12349013030"}, "To": {"+18005551212"},
		}, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
		// twilio-python: repeated keys contribute each value, sorted.
		{"duplicate keys", url.Values{
			"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"5678", "1234"},
		}, "IK+Dwps556ElfBT0I3Rgjkr1wJU="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := refSignature("12345", u, tc.form); got != tc.want {
				t.Fatalf("reference implementation: %q, want %q", got, tc.want)
			}
			if got := signature("12345", u, tc.form); got != tc.want {
				t.Fatalf("signature: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	s := newTestServer(t, nil)
	path := "/2010-04-01/Accounts/" + testAccount + "/Messages.json"
	form := url.Values{"To": {"+15557770001"}, "From": {bizNumber}, "Body": {"x"}}
	for _, tc := range []struct {
		name, user, pass string
		account          string
		wantHTTP         int
		wantCode         float64
	}{
		{"no credentials", "", "", testAccount, 401, 20003},
		{"wrong token", testAccount, "nope", testAccount, 401, 20003},
		{"unknown user", "ACffffffffffffffffffffffffffffffff", testToken, testAccount, 401, 20003},
		{"wrong key secret", testKeySid, "nope", testAccount, 401, 20003},
		{"api key", testKeySid, testKeySecret, testAccount, 201, 0},
		{"auth token", testAccount, testToken, testAccount, 201, 0},
		{"subaccount in path", testAccount, testToken, testSubaccount, 201, 0},
		{"foreign account in path", testAccount, testToken, "AC99999999999999999999999999999999", 404, 20404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := strings.Replace(path, testAccount, tc.account, 1)
			code, body := call(t, http.MethodPost, s.URL()+p, tc.user, tc.pass, form)
			if code != tc.wantHTTP {
				t.Fatalf("HTTP %d, want %d (%v)", code, tc.wantHTTP, body)
			}
			if tc.wantCode != 0 {
				if body["code"] != tc.wantCode || body["status"] != float64(tc.wantHTTP) ||
					body["more_info"] != "https://www.twilio.com/docs/errors/"+strconv.Itoa(int(tc.wantCode)) {
					t.Fatalf("error body %v", body)
				}
				return
			}
			if body["account_sid"] != tc.account {
				t.Fatalf("account_sid %v, want %s", body["account_sid"], tc.account)
			}
		})
	}
	// A message of the subaccount is not visible under the main account.
	_, m := call(t, http.MethodPost, s.URL()+"/2010-04-01/Accounts/"+testSubaccount+"/Messages.json", testAccount, testToken, form)
	sid := m["sid"].(string)
	if code, _ := call(t, http.MethodGet, s.URL()+"/2010-04-01/Accounts/"+testAccount+"/Messages/"+sid+".json", testAccount, testToken, nil); code != 404 {
		t.Fatalf("GET under other account: %d, want 404", code)
	}
	if code, _ := call(t, http.MethodGet, s.URL()+"/2010-04-01/Accounts/"+testSubaccount+"/Messages/"+sid+".json", "", "", nil); code != 401 {
		t.Fatalf("GET without auth: %d, want 401", code)
	}
}

func TestSendValidation(t *testing.T) {
	s := newTestServer(t, nil)
	wa := func(n string) string { return "whatsapp:" + n }
	hx := contentSid("order_update", "en", 0)
	long := strings.Repeat("a", 1601)
	media := []string{}
	for range 11 {
		media = append(media, "http://example.invalid/x.jpg")
	}
	for _, tc := range []struct {
		name string
		form url.Values
		code float64
	}{
		{"To missing", url.Values{"From": {bizNumber}, "Body": {"x"}}, 21604},
		{"To not a number", url.Values{"To": {"hello"}, "From": {bizNumber}, "Body": {"x"}}, 21211},
		{"To without plus", url.Values{"To": {"15557770000"}, "From": {bizNumber}, "Body": {"x"}}, 21211},
		{"WhatsApp To not a number", url.Values{"To": {wa("12")}, "From": {wa(bizNumber)}, "Body": {"x"}}, 21211},
		{"From and service missing", url.Values{"To": {customer}, "Body": {"x"}}, 21603},
		{"From malformed", url.Values{"To": {customer}, "From": {"+1-555"}, "Body": {"x"}}, 21212},
		{"SMS From not ours", url.Values{"To": {customer}, "From": {"+15550009999"}, "Body": {"x"}}, 21606},
		{"WhatsApp From not a WhatsApp sender", url.Values{"To": {wa(customer)}, "From": {wa(smsOnlyNumber)}, "Body": {"x"}}, 63007},
		{"channels differ", url.Values{"To": {wa(customer)}, "From": {bizNumber}, "Body": {"x"}}, 21910},
		{"service sid malformed", url.Values{"To": {customer}, "MessagingServiceSid": {"MG123"}, "Body": {"x"}}, 21705},
		{"service unknown", url.Values{"To": {customer}, "MessagingServiceSid": {"MG22222222222222222222222222222222"}, "Body": {"x"}}, 21701},
		{"nothing to send", url.Values{"To": {customer}, "From": {bizNumber}}, 21602},
		{"body too long", url.Values{"To": {customer}, "From": {bizNumber}, "Body": {long}}, 21617},
		{"too many media", url.Values{"To": {customer}, "From": {bizNumber}, "MediaUrl": media}, 21623},
		{"bad status callback", url.Values{"To": {customer}, "From": {bizNumber}, "Body": {"x"}, "StatusCallback": {"not a url"}}, 21609},
		{"variables without content", url.Values{"To": {wa(customer)}, "From": {wa(bizNumber)}, "Body": {"x"}, "ContentVariables": {`{"1":"a"}`}}, 21654},
		{"content sid unknown", url.Values{"To": {wa(customer)}, "From": {wa(bizNumber)}, "ContentSid": {"HX00000000000000000000000000000000"}}, 21655},
		{"content sid malformed", url.Values{"To": {wa(customer)}, "From": {wa(bizNumber)}, "ContentSid": {"HXnope"}}, 21655},
		{"variables not JSON", url.Values{"To": {wa(customer)}, "From": {wa(bizNumber)}, "ContentSid": {hx}, "ContentVariables": {"1=a"}}, 21656},
		{"variables not an object", url.Values{"To": {wa(customer)}, "From": {wa(bizNumber)}, "ContentSid": {hx}, "ContentVariables": {`["a"]`}}, 21656},
		{"variable null", url.Values{"To": {wa(customer)}, "From": {wa(bizNumber)}, "ContentSid": {hx}, "ContentVariables": {`{"1":null}`}}, 21656},
		{"variable empty", url.Values{"To": {wa(customer)}, "From": {wa(bizNumber)}, "ContentSid": {hx}, "ContentVariables": {`{"1":""}`}}, 21656},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := send(t, s, tc.form)
			if code != http.StatusBadRequest || body["code"] != tc.code || body["status"] != float64(400) {
				t.Fatalf("HTTP %d %v, want 400 code %v", code, body, tc.code)
			}
			if body["message"] == "" || !strings.HasPrefix(body["more_info"].(string), "https://www.twilio.com/docs/errors/") {
				t.Fatalf("error body %v", body)
			}
		})
	}
	// Nothing was recorded.
	if _, m := control(t, s, http.MethodGet, "/sandbox/v1/messages", nil); len(m["messages"].([]any)) != 0 {
		t.Fatalf("rejected sends were recorded: %v", m)
	}
	// Accepted edge cases: 1600 characters, an alphanumeric SMS sender.
	if code, body := send(t, s, url.Values{"To": {customer}, "From": {bizNumber}, "Body": {long[:1600]}}); code != 201 {
		t.Fatalf("1600 chars: %d %v", code, body)
	}
	if code, body := send(t, s, url.Values{"To": {customer}, "From": {"WABridge"}, "Body": {"x"}}); code != 201 {
		t.Fatalf("alphanumeric sender: %d %v", code, body)
	}
}

func TestMessageResource(t *testing.T) {
	s := newTestServer(t, nil)
	code, m := send(t, s, url.Values{"To": {customer}, "From": {bizNumber}, "Body": {"hello"}})
	if code != 201 {
		t.Fatalf("send: %d %v", code, m)
	}
	sid := m["sid"].(string)
	if !validSid(sid, "SM") {
		t.Fatalf("sid %q", sid)
	}
	want := map[string]any{
		"status": "queued", "account_sid": testAccount, "api_version": "2010-04-01", "body": "hello",
		"direction": "outbound-api", "from": bizNumber, "to": customer, "num_media": "0", "num_segments": "1",
		"error_code": nil, "error_message": nil, "price": nil, "messaging_service_sid": nil,
		"uri": "/2010-04-01/Accounts/" + testAccount + "/Messages/" + sid + ".json",
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	if _, err := time.Parse(time.RFC1123Z, m["date_created"].(string)); err != nil {
		t.Errorf("date_created %q is not RFC 2822: %v", m["date_created"], err)
	}
	sub := m["subresource_uris"].(map[string]any)
	if sub["media"] != "/2010-04-01/Accounts/"+testAccount+"/Messages/"+sid+"/Media.json" {
		t.Errorf("subresource_uris %v", sub)
	}
	got := waitStatus(t, s, sid, "delivered")
	if got["date_sent"] == nil {
		t.Errorf("date_sent missing after sent: %v", got)
	}
	if code, _ := call(t, http.MethodGet, s.URL()+"/2010-04-01/Accounts/"+testAccount+"/Messages/SM00000000000000000000000000000000.json", testAccount, testToken, nil); code != 404 {
		t.Fatalf("unknown sid: %d", code)
	}
}

func TestWhatsAppStatusCallbacks(t *testing.T) {
	s := newTestServer(t, nil)
	h := newHook(t)
	openWindow(t, s, customer)
	cb := h.srv.URL + "/status?tenant=7&x=a%20b"
	code, m := send(t, s, url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "Body": {"hi there"}, "StatusCallback": {cb}})
	if code != 201 {
		t.Fatalf("send: %d %v", code, m)
	}
	sid := m["sid"].(string)
	reqs := h.wait(3)
	if got := statuses(reqs, sid); strings.Join(got, ",") != "sent,delivered,read" {
		t.Fatalf("statuses %v", got)
	}
	for _, r := range reqs {
		f := r.Form
		if r.URL != cb {
			t.Errorf("posted to %s, want %s", r.URL, cb)
		}
		checks := map[string]string{
			"MessageSid": sid, "SmsSid": sid, "AccountSid": testAccount, "From": "whatsapp:" + bizNumber,
			"To": "whatsapp:" + customer, "ApiVersion": "2010-04-01", "ChannelPrefix": "whatsapp",
			"ChannelToAddress": customer, "SmsStatus": f.Get("MessageStatus"),
		}
		for k, v := range checks {
			if f.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, f.Get(k), v)
			}
		}
		if !validSid(f.Get("ChannelInstallSid"), "XE") || f.Has("ErrorCode") {
			t.Errorf("callback %v", f)
		}
		if r.Header.Get("I-Twilio-Idempotency-Token") == "" {
			t.Errorf("no idempotency token")
		}
	}
	waitStatus(t, s, sid, "read")
	if got := h.settle(30 * time.Millisecond); len(got) != 3 {
		t.Fatalf("%d callbacks, want 3", len(got))
	}
}

func TestNoAutoReadAndSettings(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.NoAutoRead = true })
	h := newHook(t)
	openWindow(t, s, customer)
	_, m := send(t, s, url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "Body": {"a"}, "StatusCallback": {h.url}})
	h.wait(2)
	if got := statuses(h.settle(40*time.Millisecond), m["sid"].(string)); strings.Join(got, ",") != "sent,delivered" {
		t.Fatalf("statuses %v", got)
	}
	code, set := control(t, s, http.MethodPost, "/sandbox/v1/settings", map[string]any{"no_auto_read": false, "status_delay": "1ms", "latency": "2ms"})
	if code != 200 || set["no_auto_read"] != false || set["status_delay"] != "1ms" || set["latency"] != "2ms" {
		t.Fatalf("settings: %d %v", code, set)
	}
	_, m2 := send(t, s, url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "Body": {"b"}, "StatusCallback": {h.url}})
	waitStatus(t, s, m2["sid"].(string), "read")
	if code, _ := control(t, s, http.MethodPost, "/sandbox/v1/settings", map[string]any{"status_delay": "-1s"}); code != 400 {
		t.Fatalf("negative delay accepted: %d", code)
	}
}

func TestWindowRule(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Window = 300 * time.Millisecond })
	h := newHook(t)
	wa := url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "Body": {"freeform"}, "StatusCallback": {h.url}}

	// Closed: failed 63016, straight from queued.
	_, m := send(t, s, wa)
	sid := m["sid"].(string)
	reqs := h.wait(1)
	f := reqs[0].Form
	if f.Get("MessageStatus") != "failed" || f.Get("ErrorCode") != "63016" || f.Get("ErrorMessage") == "" {
		t.Fatalf("callback %v", f)
	}
	got := waitStatus(t, s, sid, "failed")
	if got["error_code"] != float64(63016) {
		t.Fatalf("resource %v", got)
	}
	if _, w := control(t, s, http.MethodGet, "/sandbox/v1/windows?business="+url.QueryEscape(bizNumber)+"&customer="+url.QueryEscape(customer), nil); w["open"] != false {
		t.Fatalf("window %v", w)
	}

	// An approved template is fine outside the window.
	_, m = send(t, s, url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "ContentSid": {contentSid("hello_world", "en", 0)}})
	waitStatus(t, s, m["sid"].(string), "read")

	// Inbound opens the window …
	openWindow(t, s, customer)
	_, w := control(t, s, http.MethodGet, "/sandbox/v1/windows?business="+url.QueryEscape(bizNumber)+"&customer="+url.QueryEscape(customer), nil)
	if w["open"] != true || w["expires_at"] == nil {
		t.Fatalf("window %v", w)
	}
	_, m = send(t, s, wa)
	waitStatus(t, s, m["sid"].(string), "read")
	// … only for that customer …
	other := url.Values{"To": {"whatsapp:+15557770123"}, "From": {"whatsapp:" + bizNumber}, "Body": {"x"}}
	_, m = send(t, s, other)
	waitStatus(t, s, m["sid"].(string), "failed")
	// … and only for Window.
	time.Sleep(350 * time.Millisecond)
	_, m = send(t, s, wa)
	waitStatus(t, s, m["sid"].(string), "failed")
}

func TestTemplateSends(t *testing.T) {
	s := newTestServer(t, nil)
	h := newHook(t)
	hx := contentSid("order_update", "en", 0)
	code, m := send(t, s, url.Values{
		"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "ContentSid": {hx},
		"ContentVariables": {`{"1":"A-17"}`}, "StatusCallback": {h.url},
	})
	if code != 201 {
		t.Fatalf("send: %d %v", code, m)
	}
	want := "Your order A-17 is on its way and will arrive tomorrow."
	if m["body"] != want {
		t.Fatalf("body %q, want %q", m["body"], want)
	}
	sid := m["sid"].(string)
	waitStatus(t, s, sid, "read")
	_, list := control(t, s, http.MethodGet, "/sandbox/v1/messages?sid="+sid, nil)
	rec := list["messages"].([]any)[0].(map[string]any)
	if rec["rendered"] != want || rec["content_sid"] != hx || rec["content_variables"].(map[string]any)["1"] != "A-17" {
		t.Fatalf("record %v", rec)
	}

	// Not approved: fails outside the window with 63027, works inside it.
	for _, st := range []string{"paused", "rejected", "pending"} {
		if code, c := control(t, s, http.MethodPost, "/sandbox/v1/content/status", map[string]any{"name": "order_update", "language": "en", "status": st}); code != 200 || c["approval_requests"].(map[string]any)["status"] != st {
			t.Fatalf("content/status: %d %v", code, c)
		}
		_, m = send(t, s, url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "ContentSid": {hx}})
		got := waitStatus(t, s, m["sid"].(string), "failed")
		if got["error_code"] != float64(63027) {
			t.Fatalf("%s: %v", st, got)
		}
	}
	openWindow(t, s, customer)
	_, m = send(t, s, url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "ContentSid": {hx}})
	waitStatus(t, s, m["sid"].(string), "read")

	// Created content without defaults: a missing variable fails 63028.
	code, c := jsonCall(t, http.MethodPost, s.URL()+"/v1/Content", map[string]any{
		"friendly_name": "no_defaults", "language": "en",
		"types": map[string]any{"twilio/text": map[string]any{"body": "Hi {{1}}, code {{2}}"}},
	})
	if code != 201 {
		t.Fatalf("create: %d %v", code, c)
	}
	_, m = send(t, s, url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "ContentSid": {c["sid"].(string)}, "ContentVariables": {`{"1":"Ann"}`}})
	if got := waitStatus(t, s, m["sid"].(string), "failed"); got["error_code"] != float64(63028) {
		t.Fatalf("missing variable: %v", got)
	}
	_, m = send(t, s, url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "ContentSid": {c["sid"].(string)}, "ContentVariables": {`{"1":"Ann","2":7}`}})
	if m["body"] != "Hi Ann, code 7" {
		t.Fatalf("body %v", m["body"])
	}
	waitStatus(t, s, m["sid"].(string), "read")
}

func TestFailuresAndSMS(t *testing.T) {
	s := newTestServer(t, nil)
	h := newHook(t)
	_, m := send(t, s, url.Values{"To": {"whatsapp:" + notOnWANumber}, "From": {"whatsapp:" + bizNumber}, "ContentSid": {contentSid("hello_world", "en", 0)}, "StatusCallback": {h.url}})
	if got := waitStatus(t, s, m["sid"].(string), "failed"); got["error_code"] != float64(63003) {
		t.Fatalf("not on WhatsApp: %v", got)
	}

	_, m = send(t, s, url.Values{"To": {undeliverable}, "From": {bizNumber}, "Body": {"x"}, "StatusCallback": {h.url}})
	sid := m["sid"].(string)
	waitStatus(t, s, sid, "undelivered")
	reqs := h.wait(3)
	if got := statuses(reqs, sid); strings.Join(got, ",") != "sent,undelivered" {
		t.Fatalf("sms statuses %v", got)
	}
	last := reqs[len(reqs)-1].Form
	if last.Get("ErrorCode") != "30003" || last.Has("ChannelPrefix") {
		t.Fatalf("sms callback %v", last)
	}

	_, m = send(t, s, url.Values{"To": {customer}, "From": {smsOnlyNumber}, "Body": {"x"}, "StatusCallback": {h.url}})
	waitStatus(t, s, m["sid"].(string), "delivered")

	for _, tc := range []struct {
		body string
		want string
	}{
		{strings.Repeat("a", 160), "1"},
		{strings.Repeat("a", 161), "2"},
		{strings.Repeat("a", 306), "2"},
		{strings.Repeat("a", 307), "3"},
		{strings.Repeat("é", 160), "1"}, // é is GSM-7
		{strings.Repeat("ж", 70), "1"},
		{strings.Repeat("ж", 71), "2"},
		{strings.Repeat("€", 80), "1"}, // extension table: 2 septets each
		{strings.Repeat("€", 81), "2"},
	} {
		_, m := send(t, s, url.Values{"To": {customer}, "From": {bizNumber}, "Body": {tc.body}})
		if m["num_segments"] != tc.want {
			t.Errorf("%d×%q: num_segments %v, want %s", len([]rune(tc.body)), []rune(tc.body)[0], m["num_segments"], tc.want)
		}
	}

	_, st := control(t, s, http.MethodGet, "/sandbox/v1/stats", nil)
	if st["messages"].(float64) < 12 || st["whatsapp_messages"] != float64(1) || st["sms_messages"].(float64) < 11 {
		t.Fatalf("stats %v", st)
	}
}

func TestMessagingService(t *testing.T) {
	s := newTestServer(t, nil)
	h := newHook(t)
	openWindow(t, s, customer)
	code, m := send(t, s, url.Values{"To": {"whatsapp:" + customer}, "MessagingServiceSid": {testService}, "Body": {"via service"}, "StatusCallback": {h.url}})
	if code != 201 || m["status"] != "accepted" || m["from"] != nil || m["messaging_service_sid"] != testService {
		t.Fatalf("send: %d %v", code, m)
	}
	sid := m["sid"].(string)
	reqs := h.wait(4)
	if got := statuses(reqs, sid); strings.Join(got, ",") != "queued,sent,delivered,read" {
		t.Fatalf("statuses %v", got)
	}
	if f := reqs[1].Form; f.Get("From") != "whatsapp:"+bizNumber || f.Get("MessagingServiceSid") != testService {
		t.Fatalf("callback %v", f)
	}
	got := waitStatus(t, s, sid, "read")
	if got["from"] != "whatsapp:"+bizNumber {
		t.Fatalf("from %v", got["from"])
	}
	// SMS through the same service picks the SMS-capable sender.
	_, m = send(t, s, url.Values{"To": {customer}, "MessagingServiceSid": {testService}, "Body": {"sms via service"}})
	if got := waitStatus(t, s, m["sid"].(string), "delivered"); got["from"] != bizNumber {
		t.Fatalf("sms from %v", got["from"])
	}
}

func TestMediaURLFetch(t *testing.T) {
	s := newTestServer(t, nil)
	h := newHook(t)
	png := []byte("\x89PNG\r\n\x1a\n fake image bytes")
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok.png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(png)
		case "/empty":
			w.Header().Set("Content-Type", "image/png")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(media.Close)
	openWindow(t, s, customer)

	code, m := send(t, s, url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "MediaUrl": {media.URL + "/ok.png"}, "Body": {"caption"}, "StatusCallback": {h.url}})
	if code != 201 || m["num_media"] != "1" || !validSid(m["sid"].(string), "MM") {
		t.Fatalf("send: %d %v", code, m)
	}
	sid := m["sid"].(string)
	waitStatus(t, s, sid, "read")
	_, list := control(t, s, http.MethodGet, "/sandbox/v1/messages?sid="+sid, nil)
	rec := list["messages"].([]any)[0].(map[string]any)
	sum := sha256.Sum256(png)
	md := rec["media"].([]any)[0].(map[string]any)
	if md["content_type"] != "image/png" || md["size"] != float64(len(png)) || md["sha256"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("media %v", md)
	}
	if urls := rec["media_urls"].([]any); len(urls) != 1 || urls[0] != media.URL+"/ok.png" {
		t.Fatalf("media_urls %v", urls)
	}

	for _, path := range []string{"/missing", "/empty"} {
		_, m = send(t, s, url.Values{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "MediaUrl": {media.URL + path}, "StatusCallback": {h.url}})
		sid := m["sid"].(string)
		if got := waitStatus(t, s, sid, "failed"); got["error_code"] != float64(63019) {
			t.Fatalf("%s: %v", path, got)
		}
		reqs := h.wait(1)
		if st := statuses(reqs, sid); len(st) == 0 {
			// the callback may lag the resource by a moment
			time.Sleep(50 * time.Millisecond)
			reqs = h.settle(0)
		}
		if st := statuses(reqs, sid); strings.Join(st, ",") != "failed" {
			t.Fatalf("%s: statuses %v", path, st)
		}
	}
	_, st := control(t, s, http.MethodGet, "/sandbox/v1/stats", nil)
	if st["media_fetches"] != float64(3) {
		t.Fatalf("stats %v", st)
	}
}

func TestReset(t *testing.T) {
	s := newTestServer(t, nil)
	openWindow(t, s, customer)
	control(t, s, http.MethodPost, "/sandbox/v1/content/status", map[string]any{"name": "hello_world", "status": "disabled"})
	control(t, s, http.MethodPost, "/sandbox/v1/settings", map[string]any{"status_delay": "1h"})
	send(t, s, url.Values{"To": {customer}, "From": {bizNumber}, "Body": {"x"}})
	if code, _ := control(t, s, http.MethodPost, "/sandbox/v1/reset", nil); code != 200 {
		t.Fatalf("reset: %d", code)
	}
	_, list := control(t, s, http.MethodGet, "/sandbox/v1/messages", nil)
	_, st := control(t, s, http.MethodGet, "/sandbox/v1/stats", nil)
	_, w := control(t, s, http.MethodGet, "/sandbox/v1/windows?business="+url.QueryEscape(bizNumber)+"&customer="+url.QueryEscape(customer), nil)
	if len(list["messages"].([]any)) != 0 || st["messages"] != float64(0) || w["open"] != false {
		t.Fatalf("after reset: %v %v %v", list, st, w)
	}
	_, c := call(t, http.MethodGet, s.URL()+"/v1/Content/"+contentSid("hello_world", "en", 0)+"/ApprovalRequests", testAccount, testToken, nil)
	if c["whatsapp"].(map[string]any)["status"] != "approved" {
		t.Fatalf("catalogue not restored: %v", c)
	}
	// Settings restored: a send completes quickly again.
	_, m := send(t, s, url.Values{"To": {customer}, "From": {bizNumber}, "Body": {"x"}})
	waitStatus(t, s, m["sid"].(string), "delivered")
}

func TestLatency(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Latency = 60 * time.Millisecond })
	start := time.Now()
	send(t, s, url.Values{"To": {customer}, "From": {bizNumber}, "Body": {"x"}})
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("answer after %v, want ≥ 60ms", d)
	}
	start = time.Now()
	control(t, s, http.MethodGet, "/sandbox/v1/stats", nil)
	if d := time.Since(start); d >= 60*time.Millisecond {
		t.Fatalf("control API delayed %v", d)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"bad account":  {AccountSID: "AC1", AuthToken: "x"},
		"no token":     {AccountSID: testAccount},
		"bad sender":   {AccountSID: testAccount, AuthToken: "x", WhatsAppSenders: []string{"555"}},
		"bad service":  {AccountSID: testAccount, AuthToken: "x", MessagingServices: map[string][]string{"MGx": nil}},
		"bad content":  {AccountSID: testAccount, AuthToken: "x", Contents: []Content{{Name: "a", Language: "en", Status: "weird"}}},
		"neg duration": {AccountSID: testAccount, AuthToken: "x", StatusDelay: -1},
	} {
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}
