package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestFastPathMatchesNetHTTP sends the same requests to the listener
// (fasthttp: the fast path for sends, serveNetHTTP for the rest) and to
// Handler() under net/http's server, and wants the same answers: status,
// content type, WWW-Authenticate and the JSON body (ids aside).
func TestFastPathMatchesNetHTTP(t *testing.T) {
	h := start(t, nil)
	ref := httptest.NewServer(h.s.Handler())
	t.Cleanup(ref.Close)

	sendBody := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	textSend := sendBody(text(customer, "hello", "cb-1"))
	cases := []struct {
		name, method, path, auth, body string
	}{
		{"text send", "POST", "/v24.0/" + testPNID + "/messages", "Bearer " + testToken, textSend},
		{"no version", "POST", "/" + testPNID + "/messages", "Bearer " + testToken, textSend},
		{"trailing slash", "POST", "/v24.0/" + testPNID + "/messages/", "Bearer " + testToken, textSend},
		{"OAuth scheme", "POST", "/v24.0/" + testPNID + "/messages", "OAuth " + testToken, textSend},
		{"template send", "POST", "/v24.0/" + testPNID + "/messages", "Bearer " + testToken,
			sendBody(template(customer, "order_update", "en_US", bodyParams("1", "2")))},
		{"unknown template", "POST", "/v24.0/" + testPNID + "/messages", "Bearer " + testToken,
			sendBody(template(customer, "no_such", "en_US"))},
		{"not JSON", "POST", "/v24.0/" + testPNID + "/messages", "Bearer " + testToken, "{not json"},
		{"empty body", "POST", "/v24.0/" + testPNID + "/messages", "Bearer " + testToken, ""},
		{"no messaging_product", "POST", "/v24.0/" + testPNID + "/messages", "Bearer " + testToken, `{"to":"` + customer + `","type":"text","text":{"body":"x"}}`},
		{"mark read of nothing", "POST", "/v24.0/" + testPNID + "/messages", "Bearer " + testToken, `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.none"}`},
		{"too large", "POST", "/v24.0/" + testPNID + "/messages", "Bearer " + testToken, `{"x":"` + strings.Repeat("a", maxBodyBytes) + `"}`},
		{"bad token", "POST", "/v24.0/" + testPNID + "/messages", "Bearer wrong", textSend},
		{"no token", "POST", "/v24.0/" + testPNID + "/messages", "", textSend},
		{"token in the query", "POST", "/v24.0/" + testPNID + "/messages?access_token=" + testToken, "", textSend},
		{"unknown number", "POST", "/v24.0/999/messages", "Bearer " + testToken, textSend},
		{"version only", "POST", "/v24.0/messages", "Bearer " + testToken, textSend},
		{"escaped id", "POST", "/v24.0/" + testPNID[:1] + "%" + strings.ToUpper(hexByte(testPNID[1])) + testPNID[2:] + "/messages", "Bearer " + testToken, textSend},
		{"GET messages", "GET", "/v24.0/" + testPNID + "/messages", "Bearer " + testToken, ""},
		{"phone number", "GET", "/v24.0/" + testPNID, "Bearer " + testToken, ""},
		{"control stats", "GET", "/sandbox/v1/stats", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fast := roundTrip(t, h.url, tc.method, tc.path, tc.auth, tc.body)
			slow := roundTrip(t, ref.URL, tc.method, tc.path, tc.auth, tc.body)
			if fast.status != slow.status || fast.contentType != slow.contentType || fast.authenticate != slow.authenticate {
				t.Errorf("listener: %d %q %q; net/http: %d %q %q", fast.status, fast.contentType, fast.authenticate,
					slow.status, slow.contentType, slow.authenticate)
			}
			if fast.body != slow.body {
				t.Errorf("listener body %s\nnet/http body %s", fast.body, slow.body)
			}
		})
	}
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

type answer struct {
	status                          int
	contentType, authenticate, body string
}

// roundTrip makes one request and returns its answer, the JSON body with
// the ids that differ between two sends blanked.
func roundTrip(t *testing.T, base, method, path, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v any
	if err := json.Unmarshal(raw, &v); err == nil {
		v = blankIDs(v, "")
		raw, _ = json.Marshal(v)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("WWW-Authenticate"), string(raw)}
}

// blankIDs replaces the values that differ between sends (wamids, trace
// ids, counters) in a decoded JSON document.
func blankIDs(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = blankIDs(e, k)
		}
	case []any:
		for i, e := range x {
			x[i] = blankIDs(e, key)
		}
	case string:
		if key == "fbtrace_id" || strings.HasPrefix(x, "wamid.") {
			return "…"
		}
	case float64:
		if key != "code" && key != "error_subcode" {
			return 0.0 // stats counters move between the two requests
		}
	}
	return v
}

// TestFastSendTarget pins which requests the fast path takes.
func TestFastSendTarget(t *testing.T) {
	h := start(t, nil)
	for _, tc := range []struct {
		method, uri, auth string
		want              bool
	}{
		{"POST", "/v24.0/" + testPNID + "/messages", "Bearer " + testToken, true},
		{"POST", "/" + testPNID + "/messages", "Bearer " + testToken, true},
		{"POST", "/v24.0/" + testPNID + "/messages/", "bearer  " + testToken, true},
		{"POST", "/v24.0/" + testPNID + "/messages?x=1", "OAuth " + testToken, true},
		{"GET", "/v24.0/" + testPNID + "/messages", "Bearer " + testToken, false},
		{"POST", "/v24.0/" + testPNID + "/media", "Bearer " + testToken, false},
		{"POST", "/v24.0/" + testPNID + "/messages", "Bearer wrong", false},
		{"POST", "/v24.0/" + testPNID + "/messages", "", false},
		{"POST", "/v24.0/" + testPNID + "/messages?access_token=" + testToken, "", false},
		{"POST", "/v24.0/999/messages", "Bearer " + testToken, false},
		{"POST", "/v24.0/messages", "Bearer " + testToken, false},
		{"POST", "/x/" + testPNID + "/messages", "Bearer " + testToken, false},
		{"POST", "/v24.0//" + testPNID + "/messages", "Bearer " + testToken, false},
		{"POST", "/v24.0/%31" + testPNID[1:] + "/messages", "Bearer " + testToken, false},
	} {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(tc.method)
		ctx.Request.SetRequestURI(tc.uri)
		if tc.auth != "" {
			ctx.Request.Header.Set("Authorization", tc.auth)
		}
		if got := h.s.fastSendTarget(&ctx, []byte(testToken)) != nil; got != tc.want {
			t.Errorf("%s %s %q: fast path %v, want %v", tc.method, tc.uri, tc.auth, got, tc.want)
		}
	}
	// It runs for every send: no allocation.
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/v24.0/" + testPNID + "/messages")
	ctx.Request.Header.Set("Authorization", "Bearer "+testToken)
	token := []byte(testToken)
	if n := testing.AllocsPerRun(100, func() { h.s.fastSendTarget(&ctx, token) }); n != 0 {
		t.Errorf("fastSendTarget: %.0f allocations per send", n)
	}
}

// A body over the listener's own limit gets a Graph-shaped 413 and changes nothing.
func TestListenerBodyLimit(t *testing.T) {
	h := start(t, func(c *Config) { c.MaxUploadBytes = 1024 })
	body := bytes.Repeat([]byte("x"), 1024+2*uploadOverhead+1)
	req, err := http.NewRequest("POST", h.url+"/v24.0/"+testPNID+"/media", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out graphErr
		if resp.StatusCode != http.StatusRequestEntityTooLarge || json.Unmarshal(raw, &out) != nil || out.Error.Code != 100 {
			t.Errorf("HTTP %d %s, want 413 with (#100)", resp.StatusCode, raw)
		}
	} // else: the server closed the connection while the body was sent
	if n := len(h.messages("")); n != 0 {
		t.Errorf("%d messages recorded", n)
	}
}

// A media download through the listener answers HEAD and Range requests
// as net/http's server does (http.ServeContent behind both).
func TestMediaDownloadHeadAndRange(t *testing.T) {
	h := start(t, nil)
	ref := httptest.NewServer(h.s.Handler())
	t.Cleanup(ref.Close)
	pdf := []byte("%PDF-1.4 a small document for ranges")
	if code, _ := h.controlMedia("?filename=doc.pdf", "application/pdf", pdf); code != 200 {
		t.Fatalf("control media: HTTP %d", code)
	}
	code, m := h.controlMedia("?filename=doc.pdf", "application/pdf", pdf)
	if code != 200 {
		t.Fatalf("control media: HTTP %d", code)
	}
	meta := h.mediaMeta(m.ID, "?phone_number_id="+testPNID)
	path := strings.TrimPrefix(meta.URL, h.url)
	for _, tc := range []struct{ method, rng string }{{"GET", ""}, {"HEAD", ""}, {"GET", "bytes=5-9"}, {"HEAD", "bytes=5-9"}, {"GET", "bytes=900-"}} {
		var got [2]string
		for i, base := range []string{h.url, ref.URL} {
			req, err := http.NewRequest(tc.method, base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+testToken)
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got[i] = fmt.Sprintf("%d len=%s type=%q range=%q body=%q", resp.StatusCode, resp.Header.Get("Content-Length"),
				resp.Header.Get("Content-Type"), resp.Header.Get("Content-Range"), body)
		}
		if got[0] != got[1] {
			t.Errorf("%s %q: listener %s; net/http %s", tc.method, tc.rng, got[0], got[1])
		}
	}
}

// A handler that panics is answered 500 and the listener goes on serving
// (net/http's server recovered panics; fasthttp does not).
func TestListenerRecoversPanic(t *testing.T) {
	s, err := New(testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	real := s.handler
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			panic("boom")
		}
		real.ServeHTTP(w, r)
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if code, raw := get(t, s.URL()+"/boom", nil); code != http.StatusInternalServerError || !strings.Contains(raw, `"code":1`) {
		t.Errorf("panic: HTTP %d %s", code, raw)
	}
	if code, _ := get(t, s.URL()+"/sandbox/v1/stats", nil); code != http.StatusOK {
		t.Errorf("after the panic: HTTP %d", code)
	}
}

// Headers over the listener's read buffer get a Graph-shaped 431.
func TestListenerHeaderLimit(t *testing.T) {
	h := start(t, nil)
	big := func(n int) http.Header { return http.Header{"X-Big": {strings.Repeat("a", n)}} }
	if code, raw := get(t, h.url+"/sandbox/v1/stats", big(20<<10)); code != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(raw, `"code":100`) {
		t.Errorf("HTTP %d %s, want 431 with (#100)", code, raw)
	}
	// Over fasthttp's default 4 KiB, under ours.
	if code, _ := get(t, h.url+"/sandbox/v1/stats", big(8<<10)); code != http.StatusOK {
		t.Errorf("8 KiB header: HTTP %d", code)
	}
}

// get makes a GET with hdr and returns the status and body.
func get(t *testing.T, target string, hdr http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}
