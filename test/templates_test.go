package test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
)

func sandboxStats(t *testing.T, d *daemon) map[string]any {
	t.Helper()
	var st map[string]any
	if code := do(t, "GET", d.sandbox+"/sandbox/v1/stats", "", nil, &st); code != 200 {
		t.Fatalf("sandbox stats: HTTP %d", code)
	}
	return st
}

// Plain text outside the window goes out as the one approved template it
// fits, with the parameters captured from it; the message's record says
// so. 1,000 such sends inside the TTL cause one template listing.
func TestTemplateResolutionREST(t *testing.T) {
	cfg := testConfig(t)
	cfg.Outbox.Workers = 16
	d := startDaemon(t, cfg)
	id := d.send(map[string]any{"to": "+4915100000001", "text": "Your order 12345 has shipped and arrives on Monday."})
	m := d.waitStatus(id, "read")
	got := sandboxMessages(t, d.sandbox, "?callback="+id)
	if len(got) != 1 || got[0].Type != "template" || got[0].Template == nil || got[0].Template.Name != "order_update" ||
		got[0].Template.Language != "en_US" || strings.Join(got[0].Template.Params, "|") != "12345|Monday" {
		t.Fatalf("sandbox got %+v", got)
	}
	if s := m.Send; s == nil || s.How != "template_matched" || s.Template != "order_update" || s.Category != "UTILITY" ||
		strings.Join(s.Params, "|") != "12345|Monday" {
		t.Errorf("send record %+v", m.Send)
	}

	// GET /api/v1/templates: the cache, its age, the listings made.
	var list struct {
		AgeSeconds float64 `json:"age_seconds"`
		Valid      bool    `json:"valid"`
		Listings   int     `json:"listings"`
		Templates  []struct{ Name, Language, Status, Category, Body string }
	}
	if code := do(t, "GET", d.base+"/api/v1/templates", apiToken, nil, &list); code != 200 || !list.Valid || len(list.Templates) == 0 {
		t.Fatalf("GET templates: %d %+v", code, list)
	}

	// 1,000 sends within the TTL: no further listing.
	before := sandboxStats(t, d)["template_list_calls"]
	var wg sync.WaitGroup
	ids := make(chan string, 1000)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 1000; i += 8 {
				ids <- d.send(map[string]any{"to": fmt.Sprintf("+49151%08d", i), "text": fmt.Sprintf("Your order %d has shipped and arrives on Friday.", i)})
			}
		}()
	}
	wg.Wait()
	close(ids)
	waitOutboxEmpty(t, d.base) // every one decided and sent
	if after := sandboxStats(t, d)["template_list_calls"]; after != before {
		t.Errorf("template listings went from %v to %v during 1,000 sends", before, after)
	}
}

// A template paused by Meta (its status webhook) is no longer used: the
// cache is dropped at once; a marketing template to a US number is refused.
func TestTemplatePausedAndUSMarketing(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	id := d.send(map[string]any{"to": "+4915100000001", "text": "Your order 1 has shipped and arrives on Monday."})
	d.waitStatus(id, "read")
	if code := do(t, "POST", d.sandbox+"/sandbox/v1/templates/status", "", map[string]any{
		"name": "order_update", "language": "en_US", "status": "PAUSED", "reason": "LOW_QUALITY"}, nil); code != 200 {
		t.Fatalf("pause: HTTP %d", code)
	}
	var m apiMessage
	waitFor(t, "the paused template to be refused", func() bool {
		id := d.send(map[string]any{"to": "+4915100000002", "text": "Your order 2 has shipped and arrives on Monday."})
		m = d.waitFinal(id)
		return m.Status == "failed"
	})
	if m.Error == nil || m.Error.Reason != "no_template" {
		t.Errorf("paused template: %+v %+v", m.Error, m.Send)
	}

	// MARKETING to +1 202 (US): refused before sending; to Canada: sent.
	for to, want := range map[string]string{"+12025550123": "failed", "+14165550123": "read"} {
		id := d.send(map[string]any{"to": to, "template": map[string]any{"name": "welcome_named", "language": "en_US",
			"params": map[string]string{"first_name": "Ann", "shop": "Acme"}}})
		m := d.waitFinal(id)
		if m.Status != want {
			t.Errorf("marketing to %s: %s %+v", to, m.Status, m.Error)
		}
		if want == "failed" && (m.Error == nil || m.Error.Reason != "us_marketing_blocked" || m.Send == nil || m.Send.Category != "MARKETING") {
			t.Errorf("marketing to %s: %+v %+v", to, m.Error, m.Send)
		}
	}
}

// waitFinal waits for read, delivered-and-settled or failed.
func (d *daemon) waitFinal(id string) apiMessage {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := d.message(id)
		if m.Status == "read" || m.Status == "failed" {
			return m
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("message %s never final: %+v", id, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Template submission: examples are required (refused locally otherwise);
// the sandbox approves after its review delay and the status webhook makes
// the new template usable.
func TestTemplateSubmission(t *testing.T) {
	cfg := testConfig(t)
	d := startDaemon(t, cfg)
	var e apiError
	noExample := map[string]any{"name": "pickup_ready", "language": "en_US", "category": "UTILITY",
		"components": []map[string]any{{"type": "BODY", "text": "Your parcel {{1}} is ready."}}}
	if code := do(t, "POST", d.base+"/api/v1/templates", apiToken, noExample, &e); code != 400 || !strings.Contains(e.Error.Message, "example") {
		t.Errorf("no example: %d %+v", code, e)
	}
	ok := map[string]any{"name": "pickup_ready", "language": "en_US", "category": "UTILITY",
		"components": []map[string]any{{"type": "BODY", "text": "Your parcel {{1}} is ready.",
			"example": map[string]any{"body_text": [][]string{{"A-17"}}}}}}
	var created struct{ ID, Status string }
	if code := do(t, "POST", d.base+"/api/v1/templates", apiToken, ok, &created); code != 201 || created.Status != "PENDING" || created.ID == "" {
		t.Fatalf("create: %d %+v", code, created)
	}
	waitFor(t, "the approved template to be used", func() bool {
		id := d.send(map[string]any{"to": "+4915100000003", "text": "Your parcel B-9 is ready."})
		m := d.waitFinal(id)
		return m.Status == "read" && m.Send != nil && m.Send.Template == "pickup_ready"
	})
	// A rejected one: its status and the reason from Meta's webhook show
	// in the list.
	rej := map[string]any{"name": "reject_this", "language": "en_US", "category": "MARKETING",
		"components": []map[string]any{{"type": "BODY", "text": "Buy now!"}}}
	if code := do(t, "POST", d.base+"/api/v1/templates", apiToken, rej, &created); code != 201 {
		t.Fatalf("create: %d", code)
	}
	waitFor(t, "the rejection in the list", func() bool {
		var list struct {
			Templates []struct {
				Name, Status   string
				RejectedReason string `json:"rejected_reason"`
			}
		}
		do(t, "GET", d.base+"/api/v1/templates", apiToken, nil, &list)
		for _, tp := range list.Templates {
			if tp.Name == "reject_this" && tp.Status == "REJECTED" && tp.RejectedReason == "INVALID_FORMAT" {
				return true
			}
		}
		// The list is the cache: a read after the webhook refreshes it.
		d.waitFinal(d.send(map[string]any{"to": "+4915100000003", "template": map[string]any{"name": "hello_world", "language": "en_US"}}))
		return false
	})
	// POST /api/v1/templates/invalidate: the next send lists again.
	before := sandboxStats(t, d)["template_list_calls"].(float64)
	if code := do(t, "POST", d.base+"/api/v1/templates/invalidate", apiToken, nil, nil); code != 200 {
		t.Fatalf("invalidate: %d", code)
	}
	d.waitFinal(d.send(map[string]any{"to": "+4915100000003", "text": "Your parcel C-1 is ready."}))
	if after := sandboxStats(t, d)["template_list_calls"].(float64); after != before+1 {
		t.Errorf("listings %v → %v after an invalidation and a send", before, after)
	}
}

// SMTP: plain text outside the window resolves like any edge; an explicit
// template by headers goes out with its parameters.
func TestTemplatesBySMTP(t *testing.T) {
	d, pool := mailDaemon(t)
	c := mailClient(t, d, pool)
	if err := c.Auth(sasl.NewPlainClient("", "agent", "s3cret-pass")); err != nil {
		t.Fatal(err)
	}
	if err := sendMail(c, "agent@example.com", []string{"4915100000004@" + mailDomain},
		"Subject: x\nMessage-ID: <tpl-1@example.com>\n\nYour order 777 has shipped and arrives on Sunday.\n"); err != nil {
		t.Fatal(err)
	}
	explicit := "Subject: x\nMessage-ID: <tpl-2@example.com>\nX-WhatsApp-Template: order_update\nX-WhatsApp-Language: de_DE\n" +
		"X-WhatsApp-Param: 888\nX-WhatsApp-Param: Dienstag\n\nignored\n"
	if err := sendMail(c, "agent@example.com", []string{"4915100000005@" + mailDomain}, explicit); err != nil {
		t.Fatal(err)
	}
	got := waitSandbox(t, d, func(ms []sandboxMessage) bool { return len(ms) == 2 })
	want := map[string]string{"+4915100000004": "order_update/en_US/777|Sunday", "+4915100000005": "order_update/de_DE/888|Dienstag"}
	for _, m := range got {
		if m.Template == nil || m.Template.Name+"/"+m.Template.Language+"/"+strings.Join(m.Template.Params, "|") != want[m.To] {
			t.Errorf("to %s: %+v", m.To, m.Template)
		}
	}
}

// The number's quality rating and messaging limit come from the Graph
// API, show in GET /api/v1/status and /metrics, and follow Meta's
// phone_number_quality_update webhook at once.
func TestNumberQuality(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	type status struct {
		Numbers []struct {
			Number, Error  string
			QualityRating  string `json:"quality_rating"`
			MessagingLimit string `json:"messaging_limit"`
		}
	}
	read := func() status {
		var st status
		if code := do(t, "GET", d.base+"/api/v1/status", apiToken, nil, &st); code != 200 {
			t.Fatalf("status: HTTP %d", code)
		}
		return st
	}
	waitFor(t, "the first reading", func() bool {
		st := read()
		return len(st.Numbers) > 0 && st.Numbers[0].QualityRating == "GREEN" && st.Numbers[0].MessagingLimit == "TIER_250"
	})
	if code := do(t, "POST", d.sandbox+"/sandbox/v1/account", "", map[string]any{"quality_rating": "YELLOW", "messaging_limit": "TIER_2K"}, nil); code != 200 {
		t.Fatalf("sandbox account: HTTP %d", code)
	}
	waitFor(t, "the webhook to refresh the reading", func() bool {
		st := read()
		return st.Numbers[0].QualityRating == "YELLOW" && st.Numbers[0].MessagingLimit == "TIER_2K"
	})
	if got := metricLines(t, d.base, `wabridge_number_quality{number="`+business+`",rating="YELLOW"}`); got != `wabridge_number_quality{number="`+business+`",rating="YELLOW"} 1` {
		t.Errorf("metric: %s", got)
	}
	if got := metricLines(t, d.base, "wabridge_number_messaging_limit"); !strings.HasSuffix(got, " 2000") {
		t.Errorf("metric: %s", got)
	}
}

// REST "variables": business-style names mapped by [templates] variables.
func TestTemplateVariablesREST(t *testing.T) {
	cfg := testConfig(t)
	cfg.Templates.Variables = []string{"Order Number=1", "{Delivery Day}=2"}
	d := startDaemon(t, cfg)
	id := d.send(map[string]any{"to": "+4915100000301", "template": map[string]any{"name": "order_update", "language": "en_US",
		"variables": map[string]string{"order number": "A-1", "Delivery Day": "Tuesday"}}})
	d.waitStatus(id, "read")
	got := sandboxMessages(t, d.sandbox, "?callback="+id)
	if len(got) != 1 || got[0].Template == nil || strings.Join(got[0].Template.Params, "|") != "A-1|Tuesday" {
		t.Errorf("sandbox got %+v", got)
	}
	var e apiError
	if code := do(t, "POST", d.base+"/api/v1/messages", apiToken, map[string]any{"to": "+4915100000301", "template": map[string]any{
		"name": "order_update", "language": "en_US", "variables": map[string]string{"Shoe Size": "9"}}}, &e); code != 400 || e.Error.Field != "template.variables" {
		t.Errorf("unknown variable: %d %+v", code, e)
	}
}
