package test

import (
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/wabridge/wabridge/internal/config"
)

// STOP opts a customer out: one confirmation goes out, then every message
// is refused — REST 409, SMTP 550 5.7.1 at RCPT, SMPP accepted and
// receipted REJECTD — until START; imported records and the query API.
func TestOptOutAndIn(t *testing.T) {
	smpp := smppConfig(t).SMPP
	d, pool := mailDaemon(t, func(c *config.Config) { c.SMPP = smpp })
	d.inject(customer, "Stop!")
	waitFor(t, "the opt-out", func() bool {
		var c struct {
			OptedOut        bool `json:"opted_out"`
			Source, Keyword string
		}
		do(t, "GET", d.base+"/api/v1/consent/"+customer, apiToken, nil, &c)
		return c.OptedOut && c.Source == "keyword" && c.Keyword == "STOP"
	})
	got := waitSandbox(t, d, func(ms []sandboxMessage) bool { return len(ms) == 1 })
	if got[0].To != customer || !strings.Contains(got[0].Text, "unsubscribed") {
		t.Errorf("confirmation: %+v", got[0])
	}

	// REST: 409.
	var e apiError
	if code := do(t, "POST", d.base+"/api/v1/messages", apiToken, map[string]any{"to": customer, "text": "hi"}, &e); code != 409 || e.Error.Reason != "opted_out" {
		t.Errorf("REST send: %d %+v", code, e)
	}
	// SMTP: 550 5.7.1 at RCPT.
	c := mailClient(t, d, pool)
	if err := c.Auth(sasl.NewPlainClient("", "agent", "s3cret-pass")); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("agent@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(strings.TrimPrefix(customer, "+")+"@"+mailDomain, nil); smtpCode(err) != 550 || smtpEnhanced(err) != "5.7.1" {
		t.Errorf("RCPT: %v", err)
	}
	c.Reset()
	// SMPP: accepted, then a REJECTD receipt; nothing reaches WhatsApp.
	es, err := bindESME(t, smppAddr(t, d), "acme", "secret1", pdu.Transceiver)
	if err != nil {
		t.Fatal(err)
	}
	resp := es.submit(submitOpts{to: customer, text: "Your order 1 ships", rd: 1})
	if resp.CommandStatus != data.ESME_ROK {
		t.Fatalf("submit_sm: %s", resp.CommandStatus)
	}
	es.waitDelivers("a REJECTD receipt", func(ds []*pdu.DeliverSM) bool {
		for _, r := range ds {
			if strings.Contains(receiptText(r), "stat:REJECTD") {
				return true
			}
		}
		return false
	})
	if n := len(sandboxMessages(t, d.sandbox, "")); n != 1 {
		t.Errorf("the sandbox got %d messages; only the confirmation should have gone", n)
	}

	// START opts in again (with its confirmation); sends work.
	d.inject(customer, "start")
	waitSandbox(t, d, func(ms []sandboxMessage) bool {
		return len(ms) == 2 && strings.Contains(ms[1].Text, "subscribed again")
	})
	id := d.send(map[string]any{"to": customer, "text": "welcome back"})
	d.waitStatus(id, "read")

	// Import: an older record is skipped, a newer one applies.
	var out struct{ Applied, Skipped int }
	body := map[string]any{"records": []map[string]any{
		{"number": customer, "opted_out": true, "at": "2020-01-01T00:00:00Z"},
		{"number": "+4915100000077", "opted_out": true, "source": "crm"},
	}}
	if code := do(t, "POST", d.base+"/api/v1/consent", apiToken, body, &out); code != 200 || out.Applied != 1 || out.Skipped != 1 {
		t.Errorf("import: %d %+v", code, out)
	}
	if code := do(t, "POST", d.base+"/api/v1/messages", apiToken, map[string]any{"to": "+4915100000077", "text": "hi"}, &e); code != 409 {
		t.Errorf("send to an imported opt-out: %d", code)
	}
	if code := do(t, "POST", d.base+"/api/v1/consent", apiToken, map[string]any{"records": []map[string]any{{"number": "nope"}}}, &e); code != 400 {
		t.Errorf("bad import: %d", code)
	}
}

// The messaging-limit tier: with a limit of 2, a third customer messaged
// outside the window in 24 hours is refused tier_limit; the first two may
// be messaged again; a customer inside their window does not count.
func TestMessagingLimitTier(t *testing.T) {
	cfg := testConfig(t)
	cfg.Compliance.MessagingLimit = 2
	d := startDaemon(t, cfg)
	tplTo := func(to string) apiMessage {
		id := d.send(map[string]any{"to": to, "template": map[string]any{"name": "order_update", "language": "en_US", "params": []string{"1", "Monday"}}})
		return d.waitFinal(id)
	}
	for _, to := range []string{"+4915100000201", "+4915100000202"} {
		if m := tplTo(to); m.Status != "read" {
			t.Fatalf("to %s: %+v", to, m)
		}
	}
	m := tplTo("+4915100000203")
	if m.Status != "failed" || m.Error == nil || m.Error.Reason != "tier_limit" || m.Send == nil || m.Send.Why == "" {
		t.Errorf("third customer: %+v %+v", m.Error, m.Send)
	}
	if m := tplTo("+4915100000201"); m.Status != "read" {
		t.Errorf("first customer again: %+v", m.Error)
	}
	d.inject("+4915100000204", "hello")
	id := d.send(map[string]any{"to": "+4915100000204", "text": "inside the window"})
	if m := d.waitFinal(id); m.Status != "read" {
		t.Errorf("inside the window: %+v", m.Error)
	}
}
