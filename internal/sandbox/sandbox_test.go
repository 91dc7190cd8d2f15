package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"no token":       func(c *Config) { c.AccessToken = "" },
		"no secret":      func(c *Config) { c.AppSecret = "" },
		"no waba":        func(c *Config) { c.WABAID = "" },
		"no numbers":     func(c *Config) { c.Numbers = nil },
		"bad number":     func(c *Config) { c.Numbers = []Number{{PhoneNumberID: "1", BusinessNumber: "15550100001"}} },
		"dup number id":  func(c *Config) { c.Numbers = []Number{{"1", "+15550100001"}, {"1", "+15550100002"}} },
		"negative delay": func(c *Config) { c.StatusDelay = -1 },
		"bad category":   func(c *Config) { c.Templates = []Template{{Name: "x", Language: "en", Category: "PROMO", Body: "b"}} },
		"positional gap": func(c *Config) {
			c.Templates = []Template{{Name: "x", Language: "en", Category: "UTILITY", Body: "{{1}} {{3}}"}}
		},
		"named uppercase": func(c *Config) {
			c.Templates = []Template{{Name: "x", Language: "en", Category: "UTILITY", ParameterFormat: "NAMED", Body: "{{Name}}"}}
		},
	} {
		cfg := testConfig()
		mutate(&cfg)
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
	if _, err := New(testConfig(), nil); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
}

func TestAuth(t *testing.T) {
	h := start(t, nil)
	body := text(customer, "hi", "")
	for _, tok := range []string{"", "wrong-token"} {
		var e graphErr
		code := h.do("POST", "/v24.0/"+testPNID+"/messages", tok, body, &e)
		if code != http.StatusUnauthorized || e.Error.Code != 190 || e.Error.Type != "OAuthException" {
			t.Errorf("token %q: HTTP %d %+v, want 401 code 190 OAuthException", tok, code, e.Error)
		}
	}
	var e graphErr
	if code := h.do("GET", "/v21.0/"+testWABA+"/message_templates", "nope", nil, &e); code != 401 || e.Error.Code != 190 {
		t.Errorf("listing with a bad token: HTTP %d code %d", code, e.Error.Code)
	}
	// Unknown phone_number_id → code 100, HTTP 400.
	if code := h.do("POST", "/v24.0/999999/messages", testToken, body, &e); code != 400 || e.Error.Code != 100 {
		t.Errorf("unknown phone number id: HTTP %d code %d", code, e.Error.Code)
	}
	if code := h.do("GET", "/v24.0/999999/message_templates", testToken, nil, &e); code != 400 || e.Error.Code != 100 {
		t.Errorf("unknown waba id: HTTP %d code %d", code, e.Error.Code)
	}
	// Versionless paths and the access_token query parameter work too.
	var list struct{ Data []json.RawMessage }
	if code := h.do("GET", "/"+testWABA+"/message_templates?access_token="+testToken, "", nil, &list); code != 200 || len(list.Data) == 0 {
		t.Errorf("versionless listing with access_token: HTTP %d, %d templates", code, len(list.Data))
	}
	if st := h.stats(); st.Sends != 0 {
		t.Errorf("refused sends were counted: %+v", st)
	}
}

func TestSendTextStatusesInOrder(t *testing.T) {
	h := start(t, nil)
	h.inbound(map[string]any{"from": customer, "text": "hello"}) // opens the window

	const cb = "msg-0001"
	var r sendResp
	if code := h.do("POST", "/v24.0/"+testPNID+"/messages", testToken, text("+49 151 1234-5678", "Hi there", cb), &r); code != 200 {
		t.Fatalf("send: HTTP %d", code)
	}
	if r.MessagingProduct != "whatsapp" || len(r.Contacts) != 1 || r.Contacts[0].Input != "+49 151 1234-5678" ||
		r.Contacts[0].WaID != "4915112345678" || len(r.Messages) != 1 || !strings.HasPrefix(r.Messages[0].ID, "wamid.") ||
		r.Messages[0].MessageStatus != "" {
		t.Fatalf("unexpected send answer: %+v", r)
	}
	wamid := r.Messages[0].ID

	got := h.rc.waitStatuses(t, wamid, 3)
	var order []string
	for _, st := range got {
		order = append(order, st.Status)
		if st.BizOpaque != cb {
			t.Errorf("%s: biz_opaque_callback_data %q, want %q", st.Status, st.BizOpaque, cb)
		}
		if st.RecipientID != "4915112345678" || st.Timestamp == "" || len(st.Errors) != 0 || st.Conversation != nil {
			t.Errorf("%s: unexpected status %+v", st.Status, st)
		}
	}
	if !slices.Equal(order, []string{"sent", "delivered", "read"}) {
		t.Fatalf("statuses %v, want sent, delivered, read", order)
	}
	if p := got[0].Pricing; p == nil || p.PricingModel != "PMP" || p.Category != "service" {
		t.Errorf("sent: pricing %+v, want PMP service", p)
	}
	waitFor(t, "record status read", func() bool {
		ms := h.messages("?callback=" + cb)
		return len(ms) == 1 && ms[0].Status == "read"
	})
	m := h.messages("?callback=" + cb)[0]
	if m.Wamid != wamid || m.From != testBiz || m.To != customer || m.Type != "text" || m.Text != "Hi there" ||
		m.Template != nil || m.PhoneNumberID != testPNID || m.ReceivedAt.IsZero() || !strings.Contains(string(m.Request), `"Hi there"`) {
		t.Errorf("unexpected record %+v", m)
	}
	if st := h.stats(); st.Sends != 1 {
		t.Errorf("stats %+v, want 1 send", st)
	}
}

func TestWindowClosedFails131047(t *testing.T) {
	h := start(t, nil)
	wamid := h.send(text(customer, "anyone there?", "cb-closed"))
	got := h.rc.waitStatuses(t, wamid, 1)
	st := got[0]
	if st.Status != "failed" || len(st.Errors) != 1 || st.BizOpaque != "cb-closed" {
		t.Fatalf("unexpected status %+v", st)
	}
	e := st.Errors[0]
	if e.Code != 131047 || e.Title != "Re-engagement message" || e.Message != "Re-engagement message" ||
		!strings.Contains(e.ErrorData.Details, "24 hours") || !strings.HasPrefix(e.Href, "https://developers.facebook.com/") {
		t.Errorf("unexpected error %+v", e)
	}
	waitFor(t, "record failed", func() bool {
		m := h.messages("?to=" + customer)
		return len(m) == 1 && m[0].Status == "failed" && m[0].ErrorCode == 131047
	})

	// A window on another business number does not count.
	h.inbound(map[string]any{"from": customer, "to": testBiz2, "text": "hi 2"})
	wamid = h.send(text(customer, "still closed here", ""))
	if st := h.rc.waitStatuses(t, wamid, 1)[0]; st.Status != "failed" || st.Errors[0].Code != 131047 {
		t.Errorf("window of another number opened this one: %+v", st)
	}
	// Templates may be sent with the window closed.
	wamid = h.send(template(customer, "hello_world", "en_US"))
	if st := h.rc.waitStatuses(t, wamid, 1)[0]; st.Status != "sent" || st.Pricing == nil || st.Pricing.Category != "utility" || !st.Pricing.Billable {
		t.Errorf("template outside the window: %+v", st)
	}
}

func TestNotOnWhatsApp131026(t *testing.T) {
	h := start(t, nil)
	wamid := h.send(template(blocked, "order_update", "en_US", bodyParams("A-1", "Monday")))
	st := h.rc.waitStatuses(t, wamid, 1)[0]
	if st.Status != "failed" || len(st.Errors) != 1 || st.Errors[0].Code != 131026 || st.Errors[0].Title != "Message undeliverable" {
		t.Fatalf("unexpected status %+v", st)
	}
}

func TestTemplateSends(t *testing.T) {
	h := start(t, func(c *Config) {
		c.Templates = append(DefaultTemplates(),
			Template{Name: "promo_img", Language: "en_US", Category: "MARKETING", HeaderFormat: "IMAGE", Body: "Sale!"},
			Template{Name: "greet_hdr", Language: "en_US", Category: "UTILITY", HeaderFormat: "TEXT", HeaderText: "Hi {{1}}", Body: "Welcome."},
			Template{Name: "track", Language: "en_US", Category: "UTILITY", Body: "Track {{1}}",
				Buttons: []Button{{Type: "QUICK_REPLY", Text: "Stop"}, {Type: "URL", Text: "Track", URL: "https://example.com/t/{{1}}"}}},
			Template{Name: "paused_one", Language: "en_US", Category: "UTILITY", Status: "PAUSED", Body: "x"},
			Template{Name: "rejected_one", Language: "en_US", Category: "UTILITY", Status: "REJECTED", Body: "x"},
		)
	})

	// Successful sends.
	var r sendResp
	if code := h.do("POST", "/v24.0/"+testPNID+"/messages", testToken, template(customer, "order_update", "en_US", bodyParams("A-17", "Friday")), &r); code != 200 || r.Messages[0].MessageStatus != "accepted" {
		t.Fatalf("positional send: HTTP %d %+v", code, r)
	}
	named := map[string]any{"type": "body", "parameters": []map[string]any{
		{"type": "text", "parameter_name": "shop", "text": "Acme"},
		{"type": "text", "parameter_name": "first_name", "text": "Jo"},
	}}
	h.send(template(customer, "welcome_named", "en_US", named))
	h.send(template(customer, "order_update", "de_DE", bodyParams("B-2", "Montag")))
	h.send(template(customer, "promo_img", "en_US", map[string]any{"type": "header", "parameters": []map[string]any{{"type": "image", "image": map[string]any{"link": "https://example.com/a.jpg"}}}}))
	h.send(template(customer, "greet_hdr", "en_US", map[string]any{"type": "HEADER", "parameters": []map[string]any{{"type": "text", "text": "Jo"}}}))
	h.send(template(customer, "track", "en_US", bodyParams("Z9"),
		map[string]any{"type": "button", "sub_type": "url", "index": "1", "parameters": []map[string]any{{"type": "text", "text": "Z9"}}}))

	ms := h.messages("?to=" + customer)
	if len(ms) != 6 {
		t.Fatalf("%d records, want 6", len(ms))
	}
	if m := ms[0]; m.Template == nil || m.Template.Name != "order_update" || m.Template.Language != "en_US" ||
		!slices.Equal(m.Template.Params, []string{"A-17", "Friday"}) || m.Text != "Your order A-17 has shipped and arrives on Friday." {
		t.Errorf("positional record %+v %+v", m, m.Template)
	}
	if m := ms[1]; m.Text != "Hi Jo, welcome to Acme!" || !slices.Equal(m.Template.Params, []string{"Jo", "Acme"}) {
		t.Errorf("named record text %q params %v", m.Text, m.Template.Params)
	}

	// Refusals.
	for _, tc := range []struct {
		name     string
		body     map[string]any
		wantCode int
	}{
		{"unknown name", template(customer, "nope", "en_US"), 132001},
		{"unknown language", template(customer, "order_update", "fr_FR", bodyParams("a", "b")), 132001},
		{"rejected", template(customer, "rejected_one", "en_US"), 132001},
		{"paused", template(customer, "paused_one", "en_US"), 132015},
		{"too few params", template(customer, "order_update", "en_US", bodyParams("a")), 132000},
		{"too many params", template(customer, "order_update", "en_US", bodyParams("a", "b", "c")), 132000},
		{"no params", template(customer, "order_update", "en_US"), 132000},
		{"params for a static body", template(customer, "hello_world", "en_US", bodyParams("x")), 132000},
		{"params for a static header", template(customer, "hello_world", "en_US", map[string]any{"type": "header", "parameters": []map[string]any{{"type": "text", "text": "x"}}}), 132000},
		{"footer params", template(customer, "hello_world", "en_US", map[string]any{"type": "footer", "parameters": []map[string]any{{"type": "text", "text": "x"}}}), 132000},
		{"named wrong name", template(customer, "welcome_named", "en_US", map[string]any{"type": "body", "parameters": []map[string]any{
			{"type": "text", "parameter_name": "first_name", "text": "Jo"}, {"type": "text", "parameter_name": "store", "text": "Acme"}}}), 132000},
		{"named count", template(customer, "welcome_named", "en_US", map[string]any{"type": "body", "parameters": []map[string]any{
			{"type": "text", "parameter_name": "first_name", "text": "Jo"}}}), 132000},
		{"media header missing", template(customer, "promo_img", "en_US"), 132012},
		{"media header wrong type", template(customer, "promo_img", "en_US", map[string]any{"type": "header", "parameters": []map[string]any{{"type": "video", "video": map[string]any{"id": "1"}}}}), 132012},
		{"text header missing", template(customer, "greet_hdr", "en_US"), 132000},
		{"url button missing", template(customer, "track", "en_US", bodyParams("Z9")), 131008},
		{"button for static part", template(customer, "order_update", "en_US", bodyParams("a", "b"),
			map[string]any{"type": "button", "sub_type": "url", "index": 0, "parameters": []map[string]any{{"type": "text", "text": "x"}}}), 132000},
		{"no template object", map[string]any{"messaging_product": "whatsapp", "to": customer, "type": "template"}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := h.sendErr(tc.body, 400, tc.wantCode)
			if tc.wantCode == 132001 && !strings.Contains(e.Error.Message, "Template name does not exist in the translation") {
				t.Errorf("message %q", e.Error.Message)
			}
			if tc.wantCode == 132000 && !strings.Contains(e.Error.Message, "Number of parameters does not match the expected number of params") {
				t.Errorf("message %q", e.Error.Message)
			}
			if tc.wantCode != 100 && e.Error.ErrorData.MessagingProduct != "whatsapp" {
				t.Errorf("error_data %+v", e.Error.ErrorData)
			}
		})
	}
	if n := len(h.messages("")); n != 6 {
		t.Errorf("refused sends were recorded: %d records", n)
	}
}

func TestSendValidation(t *testing.T) {
	h := start(t, nil)
	long := strings.Repeat("ä", 4097)
	for _, tc := range []struct {
		name string
		body any
		http int
		code int
	}{
		{"no messaging_product", map[string]any{"to": customer, "text": map[string]any{"body": "x"}}, 400, 100},
		{"wrong messaging_product", map[string]any{"messaging_product": "sms", "to": customer, "text": map[string]any{"body": "x"}}, 400, 100},
		{"no to", map[string]any{"messaging_product": "whatsapp", "text": map[string]any{"body": "x"}}, 400, 100},
		{"short to", text("+12345", "x", ""), 400, 100},
		{"letters in to", text("+49151abc45678", "x", ""), 400, 100},
		{"no body", map[string]any{"messaging_product": "whatsapp", "to": customer, "text": map[string]any{}}, 400, 100},
		{"body too long", text(customer, long, ""), 400, 100},
		{"unknown type", map[string]any{"messaging_product": "whatsapp", "to": customer, "type": "hologram"}, 400, 100},
		{"image without object", map[string]any{"messaging_product": "whatsapp", "to": customer, "type": "image"}, 400, 100},
		{"image without id or link", map[string]any{"messaging_product": "whatsapp", "to": customer, "type": "image", "image": map[string]any{"caption": "c"}}, 400, 100},
		{"not JSON", "{nope", 400, 100},
		{"too large", `{"messaging_product":"whatsapp","to":"` + customer + `","text":{"body":"` + strings.Repeat("x", 5<<20) + `"}}`, 413, 100},
	} {
		t.Run(tc.name, func(t *testing.T) { h.sendErr(tc.body, tc.http, tc.code) })
	}
	// Exactly 4096 characters (not bytes) is fine, and type defaults to text.
	h.send(map[string]any{"messaging_product": "whatsapp", "to": customer, "text": map[string]any{"body": strings.Repeat("ä", 4096)}})
	// Other types get light validation.
	h.send(map[string]any{"messaging_product": "whatsapp", "to": customer, "type": "image", "image": map[string]any{"link": "https://example.com/i.png", "caption": "look"}})
	h.send(map[string]any{"messaging_product": "whatsapp", "to": customer, "type": "location", "location": map[string]any{"latitude": 1, "longitude": 2}})
	ms := h.messages("")
	if len(ms) != 3 || ms[0].Type != "text" || ms[1].Type != "image" || ms[1].Text != "look" || ms[2].Type != "location" {
		t.Errorf("unexpected records: %d", len(ms))
		for _, m := range ms {
			t.Logf("type %s text %.20q", m.Type, m.Text)
		}
	}
}

func TestReactionGetsOnlySent(t *testing.T) {
	h := start(t, func(c *Config) { c.StatusDelay = time.Millisecond })
	in := h.inbound(map[string]any{"from": customer, "text": "hi"})
	wamid := h.send(map[string]any{"messaging_product": "whatsapp", "to": customer, "type": "reaction",
		"reaction": map[string]any{"message_id": in, "emoji": "👍"}})
	h.rc.waitStatuses(t, wamid, 1)
	// A text sent after the reaction gets all three statuses; once they are
	// in, the reaction's later statuses would have been too.
	later := h.send(text(customer, "after", ""))
	h.rc.waitStatuses(t, later, 3)
	if got := h.rc.statuses(wamid); len(got) != 1 || got[0].Status != "sent" {
		t.Errorf("reaction statuses %+v, want only sent", got)
	}
}

func TestPlanStatuses(t *testing.T) {
	s, err := New(func() Config { c := testConfig(); c.NoAutoRead = true; return c }(), nil)
	if err != nil {
		t.Fatal(err)
	}
	names := func(p []statusStep) (out []string) {
		for _, st := range p {
			out = append(out, st.status)
		}
		return out
	}
	if got := names(s.planStatuses("text", "4915112345678", true, "")); !slices.Equal(got, []string{"sent", "delivered"}) {
		t.Errorf("NoAutoRead plan %v", got)
	}
	if got := names(s.planStatuses("template", "4915199999999", true, "UTILITY")); !slices.Equal(got, []string{"failed"}) {
		t.Errorf("not on WhatsApp plan %v", got)
	}
	if got := s.planStatuses("template", "12125550123", false, "MARKETING"); len(got) != 1 || got[0].status != "failed" || got[0].err.Code != 131049 {
		t.Errorf("US marketing plan %+v", got)
	}
	if got := names(s.planStatuses("template", "12125550123", false, "UTILITY")); !slices.Equal(got, []string{"sent", "delivered"}) {
		t.Errorf("US utility plan %v", got)
	}
}

func TestTemplateListingPaging(t *testing.T) {
	h := start(t, nil)
	type page struct {
		Data []struct {
			Name            string           `json:"name"`
			ParameterFormat string           `json:"parameter_format"`
			Components      []map[string]any `json:"components"`
			Language        string           `json:"language"`
			Status          string           `json:"status"`
			Category        string           `json:"category"`
			ID              string           `json:"id"`
		} `json:"data"`
		Paging struct {
			Cursors struct {
				Before string `json:"before"`
				After  string `json:"after"`
			} `json:"cursors"`
			Next string `json:"next"`
		} `json:"paging"`
	}
	next := h.url + "/v24.0/" + testWABA + "/message_templates?limit=1"
	var seen []string
	pages := 0
	for next != "" {
		var p page
		if code := h.do("GET", next, testToken, nil, &p); code != 200 {
			t.Fatalf("page %d: HTTP %d", pages, code)
		}
		pages++
		if len(p.Data) != 1 || p.Paging.Cursors.After == "" || p.Paging.Cursors.Before == "" {
			t.Fatalf("page %d: %+v", pages, p)
		}
		d := p.Data[0]
		seen = append(seen, d.Name+"/"+d.Language)
		if d.ID == "" || d.Status != "APPROVED" || d.ParameterFormat == "" || d.Category == "" || len(d.Components) == 0 {
			t.Errorf("incomplete template %+v", d)
		}
		if d.Name == "welcome_named" {
			b, _ := json.Marshal(d.Components)
			if !strings.Contains(string(b), `"body_text_named_params":[{"example":"sample_first_name","param_name":"first_name"}`) || d.ParameterFormat != "NAMED" {
				t.Errorf("named template components %s", b)
			}
		}
		if d.Name == "hello_world" {
			b, _ := json.Marshal(d.Components)
			for _, want := range []string{`"type":"HEADER"`, `"format":"TEXT"`, `"text":"Hello World"`, `"type":"FOOTER"`} {
				if !strings.Contains(string(b), want) {
					t.Errorf("hello_world components %s lack %s", b, want)
				}
			}
		}
		if p.Paging.Next != "" {
			u, err := url.Parse(p.Paging.Next)
			if err != nil || u.Query().Get("limit") != "1" || u.Query().Get("after") != p.Paging.Cursors.After {
				t.Fatalf("bad next URL %q", p.Paging.Next)
			}
		}
		next = p.Paging.Next
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	want := []string{"hello_world/en_US", "order_update/en_US", "welcome_named/en_US", "order_update/de_DE"}
	if !slices.Equal(seen, want) {
		t.Errorf("listed %v, want %v", seen, want)
	}
	if st := h.stats(); st.TemplateListCalls != pages {
		t.Errorf("template_list_calls %d, want %d", st.TemplateListCalls, pages)
	}

	// Default limit returns everything on one page without next; filters work.
	var p page
	h.do("GET", "/v24.0/"+testWABA+"/message_templates", testToken, nil, &p)
	if len(p.Data) != 4 || p.Paging.Next != "" {
		t.Errorf("default page: %d templates, next %q", len(p.Data), p.Paging.Next)
	}
	h.do("GET", "/v24.0/"+testWABA+"/message_templates?name=order_update&status=APPROVED", testToken, nil, &p)
	if len(p.Data) != 2 {
		t.Errorf("name filter: %d templates", len(p.Data))
	}
	h.do("GET", "/v24.0/"+testWABA+"/message_templates?status=REJECTED", testToken, nil, &p)
	if len(p.Data) != 0 {
		t.Errorf("status filter: %d templates", len(p.Data))
	}
}

func TestWebhookRedelivery(t *testing.T) {
	rc := newReceiver(t, 2) // the first two attempts get HTTP 500
	h := start(t, func(c *Config) { c.WebhookURL = rc.srv.URL })
	wamid := h.inbound(map[string]any{"from": customer, "text": "retry me"})
	waitFor(t, "re-delivered inbound webhook", func() bool { return len(rc.inbound(wamid)) == 1 })
	waitFor(t, "stats to settle", func() bool {
		st := h.stats()
		return st.WebhooksPending == 0 && st.WebhooksDelivered == 1
	})
	if st := h.stats(); st.WebhookFailures != 2 || st.WebhooksSent != 3 {
		t.Errorf("stats %+v, want 2 failures and 3 attempts", st)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	rc := newReceiver(t, 1<<30) // always 500
	h := start(t, func(c *Config) {
		c.WebhookURL = rc.srv.URL
		c.WebhookRetryFor = 30 * time.Millisecond
	})
	h.inbound(map[string]any{"from": customer, "text": "lost"})
	waitFor(t, "give up", func() bool { st := h.stats(); return st.WebhooksPending == 0 && st.WebhookFailures >= 2 })
	if st := h.stats(); st.WebhooksDelivered != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestWebhookURLSetLater(t *testing.T) {
	h := start(t, func(c *Config) { c.WebhookURL = "" })
	wamid := h.inbound(map[string]any{"from": customer, "text": "early"})
	waitFor(t, "parked webhook", func() bool { return h.stats().WebhooksPending == 1 })
	h.s.SetWebhookURL(h.rc.srv.URL)
	waitFor(t, "delivery after SetWebhookURL", func() bool { return len(h.rc.inbound(wamid)) == 1 })
}

func TestMarkRead(t *testing.T) {
	h := start(t, nil)
	in := h.inbound(map[string]any{"from": customer, "text": "read me"})
	var ok struct {
		Success bool `json:"success"`
	}
	req := map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": in}
	if code := h.do("POST", "/v24.0/"+testPNID+"/messages", testToken, req, &ok); code != 200 || !ok.Success {
		t.Fatalf("mark read: HTTP %d %+v", code, ok)
	}
	ms := h.messages("?direction=inbound")
	if len(ms) != 1 || ms[0].Wamid != in || !ms[0].ReadMarked || ms[0].Direction != "inbound" || ms[0].From != customer || ms[0].To != testBiz {
		t.Errorf("inbound records %+v", ms)
	}
	if st := h.stats(); st.MarkRead != 1 || st.Sends != 0 {
		t.Errorf("stats %+v", st)
	}
	if n := len(h.messages("")); n != 0 {
		t.Errorf("inbound message listed among sends: %d", n)
	}
	h.sendErr(map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.unknown"}, 400, 100)
	// A message of another business number cannot be marked through this one.
	other := h.inbound(map[string]any{"from": customer, "to": testBiz2, "text": "x"})
	h.sendErr(map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": other}, 400, 100)
	if code := h.do("POST", "/v24.0/"+testPNID2+"/messages", testToken, map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": other}, &ok); code != 200 {
		t.Errorf("mark read on the right number: HTTP %d", code)
	}
}

// A send body that is not a JSON object, and fields of the wrong type, are
// (#100) with Meta's wording; "status" of any value is the mark-read form.
func TestSendBodyShapes(t *testing.T) {
	h := start(t, nil)
	for _, tc := range []struct{ body, want string }{
		{`{nope`, "not a JSON object"},
		{`[1, 2]`, "not a JSON object"},
		{`"text"`, "not a JSON object"},
		{`{"messaging_product": "whatsapp", "to": 5}`, "invalid request body"},
		{`{"messaging_product": "whatsapp", "status": 5, "message_id": "wamid.x"}`, "invalid request body"},
		{`{"messaging_product": "whatsapp", "status": "", "message_id": "wamid.x"}`, "Param status must be one of {READ}"},
		{`{"messaging_product": "whatsapp", "to": "+4915112345678", "type": "image"}`, "image"},
	} {
		var e graphErr
		if code := h.do("POST", "/v24.0/"+testPNID+"/messages", testToken, tc.body, &e); code != 400 || e.Error.Code != 100 ||
			!strings.Contains(e.Error.Message+" "+e.Error.ErrorData.Details, tc.want) {
			t.Errorf("%s: HTTP %d %+v, want 400 (#100) mentioning %q", tc.body, code, e.Error, tc.want)
		}
	}
	if st := h.stats(); st.Sends != 0 || st.MarkRead != 0 {
		t.Errorf("stats %+v after bad bodies", st)
	}
}

func TestInboundWebhook(t *testing.T) {
	h := start(t, nil)
	out := h.send(template(customer, "hello_world", "en_US"))
	in := h.inbound(map[string]any{"from": "+49 151 12345678", "to": testBiz2, "name": "Jo Doe", "text": "hello", "context": out})
	waitFor(t, "inbound webhook", func() bool { return len(h.rc.inbound(in)) == 1 })
	env := h.rc.inbound(in)[0]
	if env.Object != "whatsapp_business_account" || len(env.Entry) != 1 || env.Entry[0].ID != testWABA || len(env.Entry[0].Changes) != 1 {
		t.Fatalf("envelope %+v", env)
	}
	c := env.Entry[0].Changes[0]
	v := c.Value
	if c.Field != "messages" || v.MessagingProduct != "whatsapp" || v.Metadata.DisplayPhoneNumber != "15550100002" || v.Metadata.PhoneNumberID != testPNID2 {
		t.Errorf("change %+v", c)
	}
	if len(v.Contacts) != 1 || v.Contacts[0].Profile.Name != "Jo Doe" || v.Contacts[0].WaID != "4915112345678" {
		t.Errorf("contacts %+v", v.Contacts)
	}
	if len(v.Messages) != 1 || len(v.Statuses) != 0 {
		t.Fatalf("value %+v", v)
	}
	m := v.Messages[0]
	if m.From != "4915112345678" || m.Type != "text" || m.Text == nil || m.Text.Body != "hello" || m.Timestamp == "" ||
		m.Context == nil || m.Context.ID != out || m.Context.From != "15550100002" {
		t.Errorf("message %+v", m)
	}

	var w struct {
		Open      bool    `json:"open"`
		ExpiresAt *string `json:"expires_at"`
	}
	h.do("GET", "/sandbox/v1/windows?business="+url.QueryEscape(testBiz2)+"&customer="+url.QueryEscape(customer), "", nil, &w)
	if !w.Open || w.ExpiresAt == nil {
		t.Errorf("window after inbound: %+v", w)
	}
	h.do("GET", "/sandbox/v1/windows?business="+testPNID+"&customer=4915112345678", "", nil, &w)
	if w.Open || w.ExpiresAt != nil {
		t.Errorf("window of the other number: %+v", w)
	}

	for _, bad := range []map[string]any{
		{"text": "no from"},
		{"from": customer},
		{"from": customer, "text": "x", "to": "+15559999999"},
		{"from": "abc", "text": "x"},
		{"from": customer, "type": "hologram"},
	} {
		var e struct {
			Error string `json:"error"`
		}
		if code := h.do("POST", "/sandbox/v1/inbound", "", bad, &e); code != 400 || e.Error == "" {
			t.Errorf("inbound %v: HTTP %d %+v", bad, code, e)
		}
	}
}

func TestMessagesFiltersAndReset(t *testing.T) {
	h := start(t, nil)
	other := "+4917600000001"
	h.send(template(customer, "hello_world", "en_US"))
	m2 := template(customer, "order_update", "en_US", bodyParams("1", "2"))
	m2["biz_opaque_callback_data"] = "cb-2"
	w2 := h.send(m2)
	h.send(template(other, "hello_world", "en_US"))

	if n := len(h.messages("")); n != 3 {
		t.Errorf("all: %d", n)
	}
	for _, q := range []string{"?to=" + url.QueryEscape(customer), "?to=4915112345678"} {
		if n := len(h.messages(q)); n != 2 {
			t.Errorf("%s: %d, want 2", q, n)
		}
	}
	if ms := h.messages("?callback=cb-2"); len(ms) != 1 || ms[0].Wamid != w2 {
		t.Errorf("callback filter: %+v", ms)
	}
	if ms := h.messages("?to=" + url.QueryEscape(other) + "&callback=cb-2"); len(ms) != 0 {
		t.Errorf("combined filter: %+v", ms)
	}
	// Every accepted send appears exactly once.
	seen := map[string]bool{}
	for _, m := range h.messages("") {
		if seen[m.Wamid] {
			t.Errorf("duplicate %s", m.Wamid)
		}
		seen[m.Wamid] = true
	}

	var ok map[string]any
	if code := h.do("POST", "/sandbox/v1/reset", "", nil, &ok); code != 200 {
		t.Fatalf("reset: HTTP %d", code)
	}
	if n := len(h.messages("")); n != 0 {
		t.Errorf("after reset: %d messages", n)
	}
	if st := h.stats(); st != (ctlStats{}) {
		t.Errorf("after reset: %+v", st)
	}
	// The catalogue survives.
	h.send(template(customer, "hello_world", "en_US"))
	if code := h.do("GET", "/sandbox/v1/nope", "", nil, &ok); code != 404 {
		t.Errorf("unknown control endpoint: HTTP %d", code)
	}
	if code := h.do("POST", "/sandbox/v1/messages", "", nil, &ok); code != 405 {
		t.Errorf("wrong method: HTTP %d", code)
	}
}

// TestHandlerWithoutStart mounts Handler in httptest: webhook workers start lazily.
func TestHandlerWithoutStart(t *testing.T) {
	rc := newReceiver(t, 0)
	cfg := testConfig()
	cfg.WebhookURL = rc.srv.URL
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	h := &harness{t: t, s: s, rc: rc, url: ts.URL}
	in := h.inbound(map[string]any{"from": customer, "text": "hi"})
	waitFor(t, "inbound webhook", func() bool { return len(rc.inbound(in)) == 1 })
	if s.Addr() != "" || s.URL() != "" {
		t.Errorf("Addr/URL before Start: %q %q", s.Addr(), s.URL())
	}
}

func TestStartClose(t *testing.T) {
	s, err := New(testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") || s.URL() != "http://"+s.Addr() {
		t.Errorf("Addr %q URL %q", s.Addr(), s.URL())
	}
	addr := s.URL()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get(addr + "/sandbox/v1/stats"); err == nil {
		t.Error("still serving after Close")
	}
}

// A delivery in flight to a receiver that never answers does not hold up
// Close: its connection is cut (the attempt's own timeout is 10 s, longer
// than Close is given here).
func TestCloseCutsDeliveryInFlight(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	defer close(release)
	cfg := testConfig()
	cfg.WebhookURL = hung.URL
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: s, url: s.URL()}
	h.inbound(map[string]any{"from": customer, "text": "never answered"})
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the webhook never reached the receiver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close with a delivery in flight: %v", err)
	}
}

// An answer longer than a webhook answer may be (64 KiB) fails the attempt,
// like any answer that is not a plain 2xx; the next attempt is delivered.
func TestWebhookAnswerTooLongIsAFailure(t *testing.T) {
	var calls atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			_, _ = w.Write(bytes.Repeat([]byte("x"), maxWebhookAnswer+1))
		}
	}))
	defer rc.Close()
	h := start(t, func(c *Config) { c.WebhookURL = rc.URL })
	h.inbound(map[string]any{"from": customer, "text": "long answer"})
	waitFor(t, "delivery on the second attempt", func() bool { st := h.stats(); return st.WebhooksDelivered == 1 })
	if st := h.stats(); st.WebhookFailures != 1 || st.WebhooksSent != 2 {
		t.Errorf("stats %+v, want 1 failure in 2 attempts", st)
	}
}

// TestStatusBodyMatchesEncodingJSON: the status webhook's body written by
// hand is byte for byte what json.Marshal writes, and statuses it leaves
// to json.Marshal (errors, strings needing escapes) still come out right.
func TestStatusBodyMatchesEncodingJSON(t *testing.T) {
	s := &Server{cfg: Config{WABAID: "102290129340398"}}
	num := &Number{BusinessNumber: "+15550100001", PhoneNumberID: "106540352242922"}
	free := &pricing{Billable: false, PricingModel: "PMP", Type: "free_customer_service", Category: "service"}
	sent := statusPayload{ID: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI", Status: "sent", Timestamp: "1763800000",
		RecipientID: "16505551234", Pricing: free, BizOpaque: "01JB2Z"}
	delivered := statusPayload{ID: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJ", Status: "delivered", Timestamp: "1763800001", RecipientID: "16505551234"}
	failed := delivered
	failed.Status, failed.Errors = "failed", []*statusErr{{Code: 131026, Title: "Message undeliverable", Message: "Message undeliverable"}}
	odd := delivered
	odd.BizOpaque = `<"tag">` + "\n"
	for _, v := range []changeValue{
		{}, {Statuses: []statusPayload{sent}}, {Statuses: []statusPayload{sent, delivered}},
		{Statuses: []statusPayload{delivered, failed}}, {Statuses: []statusPayload{odd}},
	} {
		got := s.webhookBody(num, v)
		v.MessagingProduct = "whatsapp"
		v.Metadata = metadata{DisplayPhoneNumber: "15550100001", PhoneNumberID: num.PhoneNumberID}
		want, err := json.Marshal(envelope{Object: "whatsapp_business_account",
			Entry: []entry{{ID: s.cfg.WABAID, Changes: []change{{Value: v, Field: "messages"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("webhookBody\n got %s\nwant %s", got, want)
		}
	}
}
