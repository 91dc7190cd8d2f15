// Package webhookload is wabload's webhook scenario: signed webhooks
// posted to the daemon over N keep-alive connections, at a rate (open
// loop) or flat out, each with distinct event ids so every event is new
// and must be committed before the 200; and the "noop" server, a fasthttp
// handler that does nothing, as the ceiling the webhook front door is
// compared with.
package webhookload

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/wabridge/wabridge/adapters/twilio"
	"github.com/wabridge/wabridge/internal/config"
	"github.com/wabridge/wabridge/internal/httpd"
	"github.com/wabridge/wabridge/internal/load"
)

// Kinds of webhook bodies.
const (
	KindMetaStatus    = "meta-status"    // one "delivered" status per event (distinct wamids)
	KindMetaMessage   = "meta-message"   // one inbound text per event (distinct wamids and customers)
	KindTwilioStatus  = "twilio-status"  // a Twilio status callback (form)
	KindTwilioMessage = "twilio-message" // a Twilio inbound WhatsApp message (form)
)

// Config is one webhook run.
type Config struct {
	URL           string
	Kind          string
	AppSecret     string // Meta: X-Hub-Signature-256 key
	TwilioToken   string // Twilio: X-Twilio-Signature key
	PhoneNumberID string
	Business      string // E.164
	WABAID        string
	Events        int // events per webhook (Meta kinds)
	Run           load.RunConfig
	// Prefix makes ids distinct across runs against the same database.
	Prefix string
}

// Body builds webhook i: its body, content type and signature header.
func (c Config) Body(i int64) (body []byte, contentType, sigHeader, sig string) {
	switch c.Kind {
	case KindTwilioStatus, KindTwilioMessage:
		return c.twilioBody(i)
	}
	b := make([]byte, 0, 512+c.Events*256)
	digits := strings.TrimPrefix(c.Business, "+")
	b = append(b, `{"object":"whatsapp_business_account","entry":[{"id":"`...)
	b = append(b, c.WABAID...)
	b = append(b, `","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"`...)
	b = append(b, digits...)
	b = append(b, `","phone_number_id":"`...)
	b = append(b, c.PhoneNumberID...)
	b = append(b, `"},`...)
	now := strconv.FormatInt(time.Now().Unix(), 10)
	n := int64(max(1, c.Events))
	if c.Kind == KindMetaMessage {
		b = append(b, `"contacts":[`...)
		for e := range n {
			if e > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"profile":{"name":"Load"},"wa_id":"`...)
			b = appendCustomer(b, i*n+e)
			b = append(b, `"}`...)
		}
		b = append(b, `],"messages":[`...)
		for e := range n {
			if e > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"from":"`...)
			b = appendCustomer(b, i*n+e)
			b = append(b, `","id":"wamid.`...)
			b = append(b, c.Prefix...)
			b = strconv.AppendInt(b, i*n+e, 10)
			b = append(b, `","timestamp":"`...)
			b = append(b, now...)
			b = append(b, `","text":{"body":"load test message"},"type":"text"}`...)
		}
		b = append(b, `]},"field":"messages"}]}]}`...)
	} else {
		b = append(b, `"statuses":[`...)
		for e := range n {
			if e > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":"wamid.`...)
			b = append(b, c.Prefix...)
			b = strconv.AppendInt(b, i*n+e, 10)
			b = append(b, `","status":"delivered","timestamp":"`...)
			b = append(b, now...)
			b = append(b, `","recipient_id":"`...)
			b = appendCustomer(b, i*n+e)
			b = append(b, `","conversation":{"id":"c1","origin":{"type":"utility"}},"pricing":{"billable":true,"pricing_model":"PMP","category":"utility","type":"regular"}}`...)
		}
		b = append(b, `]},"field":"messages"}]}]}`...)
	}
	mac := hmac.New(sha256.New, []byte(c.AppSecret))
	mac.Write(b)
	return b, "application/json", "X-Hub-Signature-256", "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// appendCustomer appends customer i's digits (49151 + 8 digits).
func appendCustomer(b []byte, i int64) []byte {
	s := strconv.FormatInt(10000000+i%90000000, 10)
	return append(append(b, "49151"...), s...)
}

// twilioBody is a Twilio form webhook with a distinct MessageSid ("SM" +
// 32 hex digits: the run's prefix, then i), signed as Twilio signs.
func (c Config) twilioBody(i int64) ([]byte, string, string, string) {
	sid := fmt.Sprintf("SM%08x%024x", crc32.ChecksumIEEE([]byte(c.Prefix)), i)
	customer := "+" + string(appendCustomer(nil, i))
	v := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {config.SandboxTwilioAccountSID},
		"ApiVersion": {"2010-04-01"}}
	if c.Kind == KindTwilioStatus {
		v.Set("MessageStatus", "delivered")
		v.Set("SmsStatus", "delivered")
		v.Set("From", "whatsapp:"+c.Business)
		v.Set("To", "whatsapp:"+customer)
		v.Set("ChannelPrefix", "whatsapp")
	} else {
		v.Set("SmsMessageSid", sid)
		v.Set("SmsStatus", "received")
		v.Set("From", "whatsapp:"+customer)
		v.Set("To", "whatsapp:"+c.Business)
		v.Set("Body", "load test message")
		v.Set("NumMedia", "0")
		v.Set("ProfileName", "Load")
		v.Set("WaId", strings.TrimPrefix(customer, "+"))
	}
	return []byte(v.Encode()), "application/x-www-form-urlencoded", twilio.SignatureHeader, twilio.Sign(c.TwilioToken, c.URL, v)
}

// Run posts the webhooks and returns the report (latency "webhook": POST
// to 200, from the due time in open loop).
func Run(ctx context.Context, c Config, d *load.Daemon) (load.Report, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return load.Report{}, fmt.Errorf("webhookload: bad URL %q", c.URL)
	}
	client := &fasthttp.HostClient{Addr: u.Host, MaxConns: max(1, c.Run.Concurrency), IsTLS: u.Scheme == "https",
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, MaxIdemponentCallAttempts: 1}
	rec := load.NewRecorder()
	op := func(ctx context.Context, i int64, start time.Time) string {
		body, ctype, hdr, sig := c.Body(i)
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(c.URL)
		req.Header.SetMethod("POST")
		req.Header.SetContentType(ctype)
		req.Header.Set(hdr, sig)
		req.SetBodyRaw(body)
		if err := client.Do(req, resp); err != nil {
			return "transport"
		}
		if code := resp.StatusCode(); code != 200 {
			return "http_" + strconv.Itoa(code)
		}
		return ""
	}
	d.Start()
	n, elapsed := load.Run(ctx, c.Run, op, rec)
	s := rec.Summary()
	r := load.Report{Scenario: "webhook " + c.Kind, Ops: s.Count, Elapsed: elapsed,
		Latency: map[string]load.Summary{"webhook": s}}
	r.Throughput = float64(s.Count) / elapsed.Seconds()
	r.Settings = map[string]string{"url": c.URL, "connections": strconv.Itoa(c.Run.Concurrency),
		"rate": rateString(c.Run.Rate), "events_per_webhook": strconv.Itoa(max(1, c.Events)), "attempted": strconv.FormatInt(n, 10)}
	if c.Events > 1 {
		r.Notes = append(r.Notes, fmt.Sprintf("events/s = %.0f", r.Throughput*float64(c.Events)))
	}
	d.Finish(&r)
	if r.CPU > 0 && c.Events > 1 {
		r.Notes = append(r.Notes, fmt.Sprintf("daemon cpu per event %s", r.CPUPerOp/time.Duration(c.Events)))
	}
	return r, nil
}

func rateString(r float64) string {
	if r <= 0 {
		return "flat out"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s (open loop)"
}

// settingsFlag collects -settings k=v.
type settingsFlag map[string]string

func (s settingsFlag) String() string { return "" }
func (s settingsFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want key=value, got %q", v)
	}
	s[k] = val
	return nil
}

// Main is "wabload webhook".
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wabload webhook", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := Config{}
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080/webhooks/whatsapp", "webhook URL (…/webhooks/whatsapp or …/webhooks/twilio)")
	fs.StringVar(&c.Kind, "kind", KindMetaStatus, "meta-status, meta-message, twilio-status or twilio-message")
	fs.StringVar(&c.AppSecret, "app-secret", config.SandboxAppSecret, "Meta app secret")
	fs.StringVar(&c.TwilioToken, "twilio-token", config.SandboxTwilioAuthToken, "Twilio auth token")
	fs.StringVar(&c.PhoneNumberID, "phone-number-id", config.SandboxPhoneNumberID, "Meta phone number id")
	fs.StringVar(&c.Business, "business", config.SandboxBusinessNumber, "business number")
	fs.StringVar(&c.WABAID, "waba-id", config.SandboxWABAID, "WABA id")
	fs.IntVar(&c.Events, "events", 1, "events per webhook (Meta kinds)")
	fs.IntVar(&c.Run.Concurrency, "connections", 256, "connections (and workers)")
	fs.Float64Var(&c.Run.Rate, "rate", 0, "webhooks per second, open loop (0: flat out)")
	fs.DurationVar(&c.Run.Duration, "duration", 10*time.Second, "run time")
	fs.Int64Var(&c.Run.Count, "count", 0, "stop after this many webhooks (0: duration only)")
	fs.StringVar(&c.Prefix, "prefix", strconv.FormatInt(time.Now().UnixNano()%1e9, 36)+".", "id prefix (distinct per run)")
	pid := fs.Int("pid", 0, "daemon pid: report its CPU time and RSS")
	settings := settingsFlag{}
	fs.Var(settings, "settings", "key=value printed with the results (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := Run(ctx, c, &load.Daemon{PID: *pid})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for k, v := range settings {
		r.Settings[k] = v
	}
	r.Print(stdout)
	if r.Latency["webhook"].ErrorCount() > 0 {
		return 1
	}
	return 0
}

// NoopMain is "wabload noop": a fasthttp server answering 200 "ok" to
// every request after reading its body — the ceiling of the HTTP front
// door on this machine.
func NoopMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wabload noop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "listen address")
	guarded := fs.Bool("guarded", false, "serve with wabridge's connection settings (read, write and idle timeouts, streamed bodies with a size limit): a diagnostic of what they cost, not the ceiling")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok\n") }, Name: "noop"}
	if *guarded {
		srv.Handler = func(ctx *fasthttp.RequestCtx) {
			_, _ = io.Copy(io.Discard, ctx.RequestBodyStream())
			ctx.SetBodyString("ok\n")
		}
		d := config.Default().HTTP // the daemon's defaults, as app passes them to httpd
		srv.StreamRequestBody = true
		srv.MaxRequestBodySize = int(d.MaxBodyBytes.Bytes())
		srv.ReadTimeout, srv.WriteTimeout = d.ReadTimeout.D(), d.WriteTimeout.D()
		srv.IdleTimeout = httpd.IdleTimeout
	}
	fmt.Fprintf(stdout, "noop server on %s\n", *listen)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(*listen) }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		fmt.Fprintln(stderr, err)
		return 1
	case <-ctx.Done():
		_ = srv.Shutdown()
		return 0
	}
}
