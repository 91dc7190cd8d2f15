package webhookload

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/wabridge/wabridge/adapters/twilio"
	"github.com/wabridge/wabridge/adapters/whatsapp"
	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/config"
	"github.com/wabridge/wabridge/internal/load"
)

// sandboxConfig is what "wabload webhook" sends by default: the identity
// of the daemon's embedded sandbox.
func sandboxConfig(kind string, events int, u string) Config {
	return Config{URL: u, Kind: kind, AppSecret: config.SandboxAppSecret, TwilioToken: config.SandboxTwilioAuthToken,
		PhoneNumberID: config.SandboxPhoneNumberID, Business: config.SandboxBusinessNumber, WABAID: config.SandboxWABAID,
		Events: events, Prefix: "t1."}
}

// metaEvents verifies webhook i's signature as the daemon does and parses
// it with the daemon's parser.
func metaEvents(t *testing.T, c Config, i int64) []bridge.Event {
	t.Helper()
	body, ctype, hdr, sig := c.Body(i)
	if ctype != "application/json" || hdr != "X-Hub-Signature-256" {
		t.Fatalf("webhook %d: content type %q, signature header %q", i, ctype, hdr)
	}
	if !whatsapp.NewVerifier(config.SandboxAppSecret).Verify(body, sig) {
		t.Fatalf("webhook %d: the daemon would refuse its signature %q", i, sig)
	}
	p := whatsapp.NewParser([]whatsapp.Number{{PhoneNumberID: config.SandboxPhoneNumberID, BusinessNumber: config.SandboxBusinessNumber}})
	evs, err := p.Parse(body)
	if err != nil {
		t.Fatalf("webhook %d does not parse: %v\n%s", i, err, body)
	}
	return evs
}

// TestMetaBodiesAreNewSignedEvents: every Meta webhook the load tool sends
// passes the daemon's signature check and parser, carries the events asked
// for, and no two events share an id (each is new to the daemon, so each
// is committed before its 200).
func TestMetaBodiesAreNewSignedEvents(t *testing.T) {
	for _, kind := range []string{KindMetaStatus, KindMetaMessage} {
		for _, n := range []int{1, 3} {
			c := sandboxConfig(kind, n, "http://127.0.0.1:1/webhooks/whatsapp")
			ids := map[string]bool{}
			for i := range int64(40) {
				evs := metaEvents(t, c, i)
				if len(evs) != n {
					t.Fatalf("%s, %d per webhook: webhook %d has %d events", kind, n, i, len(evs))
				}
				for _, ev := range evs {
					var id, phone, business string
					switch {
					case kind == KindMetaStatus && ev.Status != nil:
						if ev.Status.Status != bridge.StatusDelivered {
							t.Errorf("status %q, want delivered", ev.Status.Status)
						}
						id, phone, business = ev.Status.WAMID, ev.Status.Recipient.Phone, ev.Status.Business
					case kind == KindMetaMessage && ev.Inbound != nil:
						if ev.Inbound.Content.Text != "load test message" {
							t.Errorf("inbound text %q", ev.Inbound.Content.Text)
						}
						id, phone, business = ev.Inbound.WAMID, ev.Inbound.Customer.Phone, ev.Inbound.Business
					default:
						t.Fatalf("%s: webhook %d gave %+v", kind, i, ev)
					}
					if !strings.HasPrefix(id, "wamid.t1.") || ids[id] {
						t.Fatalf("%s: id %q (from the run's prefix, used once?)", kind, id)
					}
					ids[id] = true
					if !strings.HasPrefix(phone, "+49151") || business != config.SandboxBusinessNumber {
						t.Errorf("%s: customer %q, business %q", kind, phone, business)
					}
				}
			}
		}
	}
}

// TestTwilioBodiesAreNewSignedEvents: the same for Twilio's form webhooks,
// signed over the URL they are posted to.
func TestTwilioBodiesAreNewSignedEvents(t *testing.T) {
	const u = "http://127.0.0.1:1/webhooks/twilio"
	for _, kind := range []string{KindTwilioStatus, KindTwilioMessage} {
		c := sandboxConfig(kind, 1, u)
		sids := map[string]bool{}
		for i := range int64(40) {
			body, ctype, hdr, sig := c.Body(i)
			form, err := url.ParseQuery(string(body))
			if err != nil || ctype != "application/x-www-form-urlencoded" || hdr != twilio.SignatureHeader {
				t.Fatalf("%s %d: %v, %q, %q", kind, i, err, ctype, hdr)
			}
			if !twilio.Validate(config.SandboxTwilioAuthToken, u, form, sig) {
				t.Fatalf("%s %d: the daemon would refuse its signature", kind, i)
			}
			if twilio.Validate(config.SandboxTwilioAuthToken, u+"x", form, sig) {
				t.Fatalf("%s %d: the signature does not cover the URL", kind, i)
			}
			evs, err := twilio.ParseWebhook(form)
			if err != nil || len(evs) != 1 {
				t.Fatalf("%s %d: %d events, %v", kind, i, len(evs), err)
			}
			sid := form.Get("MessageSid")
			if len(sid) != 34 || !strings.HasPrefix(sid, "SM") || sids[sid] {
				t.Fatalf("%s %d: MessageSid %q (34 characters, used once?)", kind, i, sid)
			}
			sids[sid] = true
			if ev := evs[0]; (kind == KindTwilioStatus) != (ev.Status != nil) || (kind == KindTwilioMessage) != (ev.Inbound != nil) {
				t.Fatalf("%s %d: %+v", kind, i, ev)
			}
		}
	}
}

// serve answers on a loopback port: 401 for a webhook whose signature the
// daemon would refuse, 500 for every fifth, 200 for the rest. It returns
// the webhook URL.
func serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	v := whatsapp.NewVerifier(config.SandboxAppSecret)
	var n atomic.Int64
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		switch {
		case !v.Verify(ctx.PostBody(), string(ctx.Request.Header.Peek("X-Hub-Signature-256"))):
			ctx.SetStatusCode(401)
		case n.Add(1)%5 == 0:
			ctx.SetStatusCode(500)
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String() + "/webhooks/whatsapp"
}

// TestRunCountsAnswersAndErrors: a 200 is an operation, anything else an
// error by kind; the report's ops and throughput count only the 200s.
func TestRunCountsAnswersAndErrors(t *testing.T) {
	c := sandboxConfig(KindMetaStatus, 1, serve(t))
	c.Run = load.RunConfig{Concurrency: 4, Count: 50, Duration: time.Minute}
	r, err := Run(context.Background(), c, &load.Daemon{})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Latency["webhook"]
	if r.Ops != 40 || s.Count != 40 || s.Errors["http_500"] != 10 || s.ErrorCount() != 10 || r.Settings["attempted"] != "50" {
		t.Errorf("ops %d, summary %+v, settings %v: want 40 answered, 10 × http_500, 50 attempted", r.Ops, s, r.Settings)
	}
	if r.Throughput <= 0 || r.Scenario != "webhook meta-status" {
		t.Errorf("report %+v", r)
	}

	// Nothing listening: every webhook is a transport error.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String() + "/webhooks/whatsapp"
	ln.Close()
	c = sandboxConfig(KindMetaStatus, 1, closed)
	c.Run = load.RunConfig{Concurrency: 2, Count: 6, Duration: time.Minute}
	r, _ = Run(context.Background(), c, &load.Daemon{})
	if s := r.Latency["webhook"]; s.Count != 0 || s.Errors["transport"] != 6 {
		t.Errorf("against a closed port: %+v, want 6 transport errors", s)
	}
	if _, err := Run(context.Background(), sandboxConfig(KindMetaStatus, 1, "no url"), &load.Daemon{}); err == nil {
		t.Error("a URL without a host was taken")
	}
}

// TestMainExitCodes: 0 when every webhook was answered 200, 1 when any
// failed, 2 for bad flags; the report ends with its RESULT line, with the
// -settings given.
func TestMainExitCodes(t *testing.T) {
	u := serve(t)
	var out, errb bytes.Buffer
	if code := Main([]string{"-url", u, "-connections", "2", "-count", "4", "-settings", "server=test"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, want 0 (4 webhooks, the server's first 500 is the fifth):\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "RESULT {") || !strings.Contains(out.String(), `"server":"test"`) {
		t.Errorf("report:\n%s", out.String())
	}
	out.Reset()
	if code := Main([]string{"-url", u, "-connections", "1", "-count", "10"}, &out, &errb); code != 1 {
		t.Errorf("exit %d with 500s among the answers, want 1:\n%s", code, out.String())
	}
	if code := Main([]string{"-connections", "x"}, &out, &errb); code != 2 {
		t.Errorf("exit %d for a bad flag, want 2", code)
	}
}
