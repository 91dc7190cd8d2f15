package test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wabridge/wabridge/adapters/twilio"
	"github.com/wabridge/wabridge/internal/config"
)

// twilioConfig is testConfig with Twilio as the WhatsApp provider and the
// Twilio simulator as Twilio.
func twilioConfig(t *testing.T) *config.Config {
	cfg := testConfig(t)
	cfg.WhatsApp.Provider = "twilio"
	cfg.Sandbox.TwilioListen = "127.0.0.1:0"
	cfg.Twilio.AccountSID = config.SandboxTwilioAccountSID
	cfg.Twilio.AuthToken = config.SandboxTwilioAuthToken
	return cfg
}

// twilioDaemon starts a daemon on Twilio; d.sandbox is the simulator.
func twilioDaemon(t *testing.T, cfg *config.Config) *daemon {
	t.Helper()
	d := startDaemon(t, cfg)
	d.sandbox = d.app.TwilioSandboxURL()
	if d.sandbox == "" {
		t.Fatal("the Twilio simulator is not running")
	}
	return d
}

type twilioSimMessage struct {
	SID              string            `json:"sid"`
	Direction        string            `json:"direction"`
	Channel          string            `json:"channel"`
	From             string            `json:"from"`
	To               string            `json:"to"`
	Body             string            `json:"body"`
	ContentSID       string            `json:"content_sid"`
	ContentVariables map[string]string `json:"content_variables"`
	Rendered         string            `json:"rendered"`
	MediaURLs        []string          `json:"media_urls"`
	Media            []struct {
		ContentType string `json:"content_type"`
		Size        int64  `json:"size"`
		SHA256      string `json:"sha256"`
	} `json:"media"`
	StatusCallback string `json:"status_callback"`
	Status         string `json:"status"`
	ErrorCode      int    `json:"error_code"`
}

func twilioSent(t *testing.T, sim, query string) []twilioSimMessage {
	t.Helper()
	var out struct {
		Messages []twilioSimMessage `json:"messages"`
	}
	if code := do(t, "GET", sim+"/sandbox/v1/messages"+query, "", nil, &out); code != 200 {
		t.Fatalf("twilio simulator messages: HTTP %d", code)
	}
	return out.Messages
}

// twilioInject makes a customer write through the simulator and waits
// until the daemon stored the message; it returns the MessageSid.
func (d *daemon) twilioInject(body map[string]any) string {
	d.t.Helper()
	if body["to"] == nil {
		body["to"] = business
	}
	var out struct {
		SID string `json:"sid"`
	}
	if code := do(d.t, "POST", d.sandbox+"/sandbox/v1/inbound", "", body, &out); code != 200 || out.SID == "" {
		d.t.Fatalf("inject: HTTP %d %+v", code, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var m apiMessage
		if do(d.t, "GET", d.base+"/api/v1/messages/"+out.SID, apiToken, nil, &m) == 200 {
			return out.SID
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("inbound %s never stored", out.SID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Inside the window a text goes out through Twilio's Messages API from
// whatsapp:+business and the signed status callbacks move it to read.
func TestTwilioFreeformReachesRead(t *testing.T) {
	d := twilioDaemon(t, twilioConfig(t))
	sid := d.twilioInject(map[string]any{"from": customer, "text": "Is my order on its way?", "profile_name": "Kerry"})
	in := d.message(sid)
	if in.Status != "received" || in.From != customer || in.To != business || in.Channel != "whatsapp" {
		t.Errorf("inbound = %+v", in)
	}
	id := d.send(map[string]any{"to": customer, "text": "Yes, it ships today."})
	m := d.waitStatus(id, "read")
	if got := statuses(m); got != "queued,sent,delivered,read" {
		t.Errorf("history = %s", got)
	}
	got := twilioSent(t, d.sandbox, "?sid="+m.WAMID)
	if len(got) != 1 || got[0].Body != "Yes, it ships today." || got[0].From != "whatsapp:"+business ||
		got[0].To != "whatsapp:"+customer || got[0].ContentSID != "" || !strings.Contains(got[0].StatusCallback, "/webhooks/twilio?wabridge_id="+id) {
		t.Errorf("twilio got %+v", got)
	}
	if !strings.HasPrefix(m.WAMID, "SM") {
		t.Errorf("provider id %q is not a MessageSid", m.WAMID)
	}
}

// Outside the window plain text that fits an approved Content template is
// sent as ContentSid + ContentVariables, never as Body (Twilio: 63016);
// text that fits none fails no_template without a request.
func TestTwilioClosedWindowUsesContentTemplates(t *testing.T) {
	cfg := twilioConfig(t)
	cfg.Sandbox.AutoRead = false // the messages stay delivered
	d := twilioDaemon(t, cfg)
	const stranger = "+4915100000001"
	id := d.send(map[string]any{"to": stranger, "text": "Your order 12345 is on its way and will arrive Monday."})
	m := d.waitStatus(id, "delivered")
	if m.Send == nil || m.Send.How != "template_matched" || m.Send.Template != "order_update" ||
		strings.Join(m.Send.Params, "|") != "12345|Monday" {
		t.Errorf("send record = %+v", m.Send)
	}
	got := twilioSent(t, d.sandbox, "?sid="+m.WAMID)
	if len(got) != 1 || !strings.HasPrefix(got[0].ContentSID, "HX") || got[0].Body != "" ||
		got[0].ContentVariables["1"] != "12345" || got[0].ContentVariables["2"] != "Monday" ||
		got[0].Rendered != "Your order 12345 is on its way and will arrive Monday." {
		t.Errorf("twilio got %+v", got)
	}
	id = d.send(map[string]any{"to": stranger, "text": "out of the blue"})
	m = d.waitStatus(id, "failed")
	if m.Error == nil || m.Error.Reason != "no_template" {
		t.Errorf("no template: %+v", m.Error)
	}
	// An explicit template by name goes the same way.
	id = d.send(map[string]any{"to": stranger, "template": map[string]any{"name": "order_update", "language": "en", "params": []string{"777", "today"}}})
	m = d.waitStatus(id, "delivered")
	if got := twilioSent(t, d.sandbox, "?sid="+m.WAMID); len(got) != 1 || got[0].ContentVariables["1"] != "777" {
		t.Errorf("explicit template: %+v", got)
	}
	var list struct {
		Templates []struct {
			ID, Name, Language, Status string
		} `json:"templates"`
	}
	do(t, "GET", d.base+"/api/v1/templates", apiToken, nil, &list)
	found := false
	for _, tp := range list.Templates {
		found = found || tp.Name == "order_update" && tp.Status == "APPROVED" && strings.HasPrefix(tp.ID, "HX")
	}
	if !found {
		t.Errorf("catalogue = %+v", list.Templates)
	}
}

// Failures in Twilio's status callbacks are classified: 63003 (not on
// WhatsApp) without an SMS route fails not_on_whatsapp.
func TestTwilioFailureCallbacksAreClassified(t *testing.T) {
	cfg := twilioConfig(t)
	cfg.Sandbox.NotOnWhatsApp = []string{"+4915100000009"}
	d := twilioDaemon(t, cfg)
	id := d.send(map[string]any{"to": "+4915100000009", "template": map[string]any{"name": "hello_world", "language": "en"}})
	m := d.waitStatus(id, "failed")
	if m.Error == nil || m.Error.Reason != "not_on_whatsapp" || m.Error.Code != 63003 {
		t.Errorf("error = %+v", m.Error)
	}
}

// Not on WhatsApp with a Twilio SMS route: the message moves to SMS, goes
// out from the route's number without the whatsapp: prefix, and the SMS
// status callback (with ?route=) delivers it.
func TestTwilioFallbackToTwilioSMS(t *testing.T) {
	cfg := twilioConfig(t)
	cfg.Sandbox.NotOnWhatsApp = []string{"+4915100000009"}
	cfg.SMS.Routes = []config.SMSRoute{{Name: "twsms", Type: "twilio", From: "+15550100077"}}
	d := twilioDaemon(t, cfg)
	id := d.send(map[string]any{"to": "+4915100000009", "template": map[string]any{"name": "order_update", "language": "en", "params": []string{"9", "Friday"}}})
	m := d.waitStatus(id, "delivered")
	if m.Channel != "sms" {
		t.Errorf("channel = %s", m.Channel)
	}
	var sms []twilioSimMessage
	for _, x := range twilioSent(t, d.sandbox, "?to=%2B4915100000009") {
		if x.Channel == "sms" {
			sms = append(sms, x)
		}
	}
	if len(sms) != 1 || sms[0].From != "+15550100077" || sms[0].To != "+4915100000009" ||
		sms[0].Body != "Your order 9 is on its way and will arrive Friday." || !strings.Contains(sms[0].StatusCallback, "route=twsms") {
		t.Errorf("sms = %+v", sms)
	}
	// A customer's SMS to the route's number is stored as an SMS MO.
	var out struct {
		SID string `json:"sid"`
	}
	do(t, "POST", d.sandbox+"/sandbox/v1/inbound", "", map[string]any{"from": "+4915100000009", "to": "+15550100077", "channel": "sms", "text": "thanks"}, &out)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var in apiMessage
		if do(t, "GET", d.base+"/api/v1/messages/"+out.SID, apiToken, nil, &in) == 200 {
			if in.Channel != "sms" || in.From != "+4915100000009" {
				t.Errorf("SMS MO = %+v", in)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SMS MO %s never stored", out.SID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Media both ways: an inbound image is fetched from Twilio with basic auth
// and stored; an uploaded file is sent as a signed /media/ link that
// Twilio fetches (same bytes), and the link refuses tampering.
func TestTwilioMedia(t *testing.T) {
	d := twilioDaemon(t, twilioConfig(t))
	sid := d.twilioInject(map[string]any{"from": customer, "text": "photo of the parcel",
		"media": map[string]any{"mime_type": "image/jpeg", "size": 20000, "seed": "7"}})
	var in mediaMessage
	deadline := time.Now().Add(10 * time.Second)
	for {
		do(t, "GET", d.base+"/api/v1/messages/"+sid, apiToken, nil, &in)
		if in.Media != nil && in.Media.State != "" && in.Media.State != "pending" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("inbound media never fetched: %+v", in.Media)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if in.Media.State != "stored" || in.Media.Size != 20000 || in.Media.MIMEType != "image/jpeg" || in.Media.Caption != "photo of the parcel" {
		t.Errorf("inbound media = %+v", in.Media)
	}

	up, code := d.upload("image/png", "receipt.png", 30000)
	if code != http.StatusCreated {
		t.Fatalf("upload: HTTP %d", code)
	}
	id := d.send(map[string]any{"to": customer, "media": map[string]any{"type": "image", "file_id": up.ID, "caption": "Your receipt"}})
	m := d.waitStatus(id, "read")
	got := twilioSent(t, d.sandbox, "?sid="+m.WAMID)
	if len(got) != 1 || len(got[0].MediaURLs) != 1 || len(got[0].Media) != 1 || got[0].Media[0].SHA256 != patternSHA(30000) ||
		got[0].Body != "Your receipt" || !strings.Contains(got[0].MediaURLs[0], "/media/") {
		t.Fatalf("twilio got %+v", got)
	}
	link := got[0].MediaURLs[0]
	for _, bad := range []string{
		strings.Replace(link, "sig=", "sig=0", 1),
		strings.Replace(link, up.ID, up.ID+"x", 1),
		link[:strings.Index(link, "?")],
	} {
		resp, err := http.Get(bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("tampered link %s: HTTP %d, want 404", bad, resp.StatusCode)
		}
	}
}

// /webhooks/twilio: a missing or wrong X-Twilio-Signature is refused with
// 403 and stores nothing; a correctly signed webhook is stored once even
// when Twilio posts it twice.
func TestTwilioWebhookSignature(t *testing.T) {
	d := twilioDaemon(t, twilioConfig(t))
	u := d.base + "/webhooks/twilio"
	form := url.Values{
		"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "SmsStatus": {"received"}, "AccountSid": {config.SandboxTwilioAccountSID},
		"From": {"whatsapp:" + customer}, "To": {"whatsapp:" + business}, "Body": {"hello"}, "NumMedia": {"0"},
		"WaId": {strings.TrimPrefix(customer, "+")}, "ProfileName": {"Kerry"},
	}
	post := func(sig string) int {
		req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set(twilio.SignatureHeader, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := twilio.Sign(config.SandboxTwilioAuthToken, u, form)
	if c := post(""); c != http.StatusForbidden {
		t.Errorf("unsigned: HTTP %d", c)
	}
	if c := post(twilio.Sign("another-token", u, form)); c != http.StatusForbidden {
		t.Errorf("wrong token: HTTP %d", c)
	}
	if c := post(twilio.Sign(config.SandboxTwilioAuthToken, u+"?x=1", form)); c != http.StatusForbidden {
		t.Errorf("signed for another URL: HTTP %d", c)
	}
	var m apiMessage
	if c := do(t, "GET", d.base+"/api/v1/messages/SM0123456789abcdef0123456789abcdef", apiToken, nil, &m); c != http.StatusNotFound {
		t.Fatalf("a refused webhook was stored (HTTP %d)", c)
	}
	for range 2 {
		if c := post(good); c != http.StatusOK {
			t.Fatalf("signed: HTTP %d", c)
		}
	}
	if c := do(t, "GET", d.base+"/api/v1/messages/SM0123456789abcdef0123456789abcdef", apiToken, nil, &m); c != 200 || m.From != customer {
		t.Errorf("signed webhook: HTTP %d %+v", c, m)
	}
	if got := metricLines(t, d.base, "wabridge_webhook_events_total"); !strings.Contains(got, `provider="twilio",result="new",type="message"} 1`) ||
		!strings.Contains(got, `provider="twilio",result="duplicate",type="any"} 1`) {
		t.Errorf("the same webhook twice: %s", got)
	}
	// A JSON body is checked with bodySHA256 in the URL.
	body := []byte(`{"event":"x"}`)
	ju := u + "?bodySHA256=" + twilio.BodySHA256(body)
	req, _ := http.NewRequest("POST", ju, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(twilio.SignatureHeader, twilio.Sign(config.SandboxTwilioAuthToken, ju, nil))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("signed JSON: HTTP %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", ju, bytes.NewReader([]byte(`{"event":"y"}`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(twilio.SignatureHeader, twilio.Sign(config.SandboxTwilioAuthToken, ju, nil))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("JSON body changed after signing: HTTP %d", resp.StatusCode)
	}
}

// An API key authenticates the REST calls, messages go to a subaccount and
// through a Messaging Service; the subaccount's own token signs webhooks.
func TestTwilioAPIKeySubaccountMessagingService(t *testing.T) {
	cfg := twilioConfig(t)
	cfg.Twilio.APIKeySID = "SK00000000000000000000000000000007"
	cfg.Twilio.APIKeySecret = "api-key-secret"
	cfg.Twilio.SubaccountSID = "AC00000000000000000000000000000042"
	cfg.Twilio.SubaccountAuthToken = "subaccount-token"
	cfg.Twilio.MessagingServiceSID = "MG00000000000000000000000000000003"
	d := twilioDaemon(t, cfg)
	d.twilioInject(map[string]any{"from": customer, "text": "hi"})
	id := d.send(map[string]any{"to": customer, "text": "Through the service."})
	m := d.waitStatus(id, "read")
	var out struct {
		Messages []struct {
			AccountSID          string `json:"account_sid"`
			MessagingServiceSID string `json:"messaging_service_sid"`
			From                string `json:"from"`
		} `json:"messages"`
	}
	do(t, "GET", d.sandbox+"/sandbox/v1/messages?sid="+m.WAMID, "", nil, &out)
	if len(out.Messages) != 1 || out.Messages[0].AccountSID != cfg.Twilio.SubaccountSID ||
		out.Messages[0].MessagingServiceSID != cfg.Twilio.MessagingServiceSID {
		t.Errorf("twilio got %+v", out.Messages)
	}
	// A webhook signed with the subaccount's token is accepted too.
	u := d.base + "/webhooks/twilio"
	form := url.Values{"MessageSid": {"SM00000000000000000000000000000abc"}, "SmsStatus": {"received"},
		"From": {"whatsapp:" + customer}, "To": {"whatsapp:" + business}, "Body": {"sub"}}
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, twilio.Sign("subaccount-token", u, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("subaccount-signed webhook: HTTP %d", resp.StatusCode)
	}
}
