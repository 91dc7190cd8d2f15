package httpd

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/wabridge/wabridge/bridge"
)

// Behaviours fixed after review: each request and the answer it must get.
func TestRequestEdgeCases(t *testing.T) {
	s, _ := memServer(t)
	cases := []struct {
		name, body string
		code       int
		field      string
	}{
		{"trailing bracket", `{"to":"+4915112345678","text":"hi"}]`, 400, ""},
		{"trailing object", `{"to":"+4915112345678","text":"hi"} {}`, 400, ""},
		{"null media is absent", `{"to":"+4915112345678","text":"hi","media":null}`, 202, ""},
		{"null template is absent", `{"to":"+4915112345678","text":"hi","template":null}`, 202, ""},
		{"national number with dots is no BSUID", `{"to":"030.1234.567","text":"hi"}`, 400, "to"},
		{"markup is no BSUID", `{"to":"a.b<script>","text":"hi"}`, 400, "to"},
		{"parent BSUID", `{"to":"US.ENT.13491208655302741918","text":"hi"}`, 202, ""},
		{"body not an object", `[]`, 400, ""},
		{"template not an object", `{"to":"+4915112345678","template":"x"}`, 400, "template"},
		{"nested unknown field has its path", `{"to":"+4915112345678","template":{"name":"a","language":"en","nme":1}}`, 400, "template.nme"},
		{"empty positional parameter", `{"to":"+4915112345678","template":{"name":"a","language":"en","params":["","x"]}}`, 400, "template.params[0]"},
		{"empty named parameter", `{"to":"+4915112345678","template":{"name":"a","language":"en","params":{"":"x"}}}`, 400, "template.params"},
		{"empty text header", `{"to":"+4915112345678","template":{"name":"a","language":"en","header":{"type":"text"}}}`, 400, "template.header.text"},
		{"header with id and link", `{"to":"+4915112345678","template":{"name":"a","language":"en","header":{"type":"image","id":"1","link":"https://x/y.png"}}}`, 400, "template.header"},
		{"negative button index", `{"to":"+4915112345678","template":{"name":"a","language":"en","buttons":[{"sub_type":"url","index":-1,"payload":"x"}]}}`, 400, "template.buttons[0].index"},
		{"button without payload", `{"to":"+4915112345678","template":{"name":"a","language":"en","buttons":[{"sub_type":"quick_reply","index":0}]}}`, 400, "template.buttons[0].payload"},
	}
	for _, c := range cases {
		ctx := serveInMemory(s, fasthttp.MethodPost, "/api/v1/messages", []byte(c.body))
		var e errorBody
		_ = json.Unmarshal(ctx.Response.Body(), &e)
		if ctx.Response.StatusCode() != c.code || (c.code == 400 && e.Error.Field != c.field) {
			t.Errorf("%s: %d %s, want %d field %q", c.name, ctx.Response.StatusCode(), ctx.Response.Body(), c.code, c.field)
		}
	}
}

// Wamids are base64 and may hold '/', '+' and '='; escaped in a URL they
// still find their message. The auth scheme is case-insensitive.
func TestEscapedWAMIDAndBearerCase(t *testing.T) {
	s, st := memServer(t)
	st.put(&bridge.Message{ID: "01escapedwamid000000000000", Direction: bridge.Inbound, WAMID: "wamid.HBg/AB+cd==",
		Business: testBusiness, Customer: bridge.Customer{Phone: testCustomer}, Kind: bridge.KindText, Status: bridge.StatusReceived})
	ctx := serveInMemory(s, fasthttp.MethodGet, "/api/v1/messages/"+url.PathEscape("wamid.HBg/AB+cd=="), nil)
	if ctx.Response.StatusCode() != 200 {
		t.Errorf("escaped wamid: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	ctx = serveInMemory(s, fasthttp.MethodGet, "/api/v1/conversations/%2B4915112345678", nil)
	if ctx.Response.StatusCode() != 200 {
		t.Errorf("escaped number: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	ctx = serveInMemory(s, fasthttp.MethodGet, "/api/v1/messages/%zz", nil)
	if ctx.Response.StatusCode() != 400 {
		t.Errorf("bad escape: %d", ctx.Response.StatusCode())
	}

	var req fasthttp.Request
	req.SetRequestURI("/api/v1/conversations/+4915112345678")
	req.Header.Set("Authorization", "bearer "+testTokenA)
	c := new(fasthttp.RequestCtx)
	c.Init(&req, nil, nil)
	s.srv.Handler(c)
	if c.Response.StatusCode() != 200 {
		t.Errorf("lower-case scheme: %d", c.Response.StatusCode())
	}
}

// Shutdown straight after Start leaves nothing listening.
func TestShutdownRightAfterStart(t *testing.T) {
	for range 20 {
		s, _ := memServer(t)
		s.cfg.Listen = "127.0.0.1:0"
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		addr := s.Addr()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Fatalf("%s still accepts connections after Shutdown", addr)
		}
	}
}
