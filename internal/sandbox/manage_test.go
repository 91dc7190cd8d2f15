package sandbox

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// accountChange is one entry[].changes[] item of a non-"messages" webhook.
type accountChange struct {
	Object  string
	EntryID string
	Time    json.Number
	Field   string
	Value   map[string]any // decoded with UseNumber
}

// changes returns the received changes of field, in arrival order. The
// receiver has already verified every body's signature.
func (rc *receiver) changes(t *testing.T, field string) []accountChange {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []accountChange
	for _, body := range rc.bodies {
		var env struct {
			Object string `json:"object"`
			Entry  []struct {
				ID      string      `json:"id"`
				Time    json.Number `json:"time"`
				Changes []struct {
					Field string         `json:"field"`
					Value map[string]any `json:"value"`
				} `json:"changes"`
			} `json:"entry"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&env); err != nil {
			t.Fatalf("webhook body %s: %v", body, err)
		}
		for _, e := range env.Entry {
			for _, c := range e.Changes {
				if c.Field == field {
					out = append(out, accountChange{Object: env.Object, EntryID: e.ID, Time: e.Time, Field: c.Field, Value: c.Value})
				}
			}
		}
	}
	return out
}

// waitChanges waits until at least n changes of field arrived and returns them.
func (rc *receiver) waitChanges(t *testing.T, field string, n int) []accountChange {
	t.Helper()
	var got []accountChange
	waitFor(t, "webhooks "+field, func() bool {
		got = rc.changes(t, field)
		return len(got) >= n
	})
	return got
}

// pick returns the change whose value has key = want. Webhooks are
// delivered concurrently (as Meta's are), so their order is not asserted.
func pick(t *testing.T, cs []accountChange, key, want string) accountChange {
	t.Helper()
	for _, c := range cs {
		if v, _ := c.Value[key].(string); v == want {
			return c
		}
	}
	t.Fatalf("no change with %s = %s among %+v", key, want, cs)
	return accountChange{}
}

// checkEnvelope checks the account-level envelope Meta uses.
func checkEnvelope(t *testing.T, c accountChange) {
	t.Helper()
	if c.Object != "whatsapp_business_account" || c.EntryID != testWABA {
		t.Errorf("envelope object %q entry.id %q", c.Object, c.EntryID)
	}
	if n, err := c.Time.Int64(); err != nil || n < time.Now().Add(-time.Hour).Unix() {
		t.Errorf("entry.time %q", c.Time)
	}
	if _, ok := c.Value["messaging_product"]; ok {
		t.Errorf("%s value carries messaging_product: %v", c.Field, c.Value)
	}
}

// wantValue compares selected value fields (numbers as their JSON text).
func wantValue(t *testing.T, what string, v map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := v[k]
		if n, isNum := got.(json.Number); isNum {
			got = string(n)
		}
		if !ok || got != w {
			t.Errorf("%s: %s = %v (present %v), want %v; value %v", what, k, got, ok, w, v)
		}
	}
}

type createResp struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Category string `json:"category"`
}

// tplErr mirrors Graph's template management error.
type tplErr struct {
	Error struct {
		Message        string `json:"message"`
		Type           string `json:"type"`
		Code           int    `json:"code"`
		Subcode        int    `json:"error_subcode"`
		IsTransient    *bool  `json:"is_transient"`
		ErrorUserTitle string `json:"error_user_title"`
		ErrorUserMsg   string `json:"error_user_msg"`
		ErrorData      struct {
			Details string `json:"details"`
		} `json:"error_data"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

func (h *harness) createTemplate(body any) createResp {
	h.t.Helper()
	var raw json.RawMessage
	if code := h.do("POST", "/v24.0/"+testWABA+"/message_templates", testToken, body, &raw); code != 200 {
		h.t.Fatalf("create template: HTTP %d %s", code, raw)
	}
	var r createResp
	if err := json.Unmarshal(raw, &r); err != nil || r.ID == "" || r.Status != "PENDING" || r.Category == "" {
		h.t.Fatalf("create template: answer %s", raw)
	}
	return r
}

type ctlTemplate struct {
	ID           string           `json:"id"`
	Name         string           `json:"name"`
	Language     string           `json:"language"`
	Status       string           `json:"status"`
	Category     string           `json:"category"`
	Reason       string           `json:"reason"`
	QualityScore string           `json:"quality_score"`
	LastEvent    string           `json:"last_event"`
	Source       string           `json:"source"`
	Components   []map[string]any `json:"components"`
}

func (h *harness) ctlTemplates() map[string]ctlTemplate {
	h.t.Helper()
	var r struct {
		Templates []ctlTemplate `json:"templates"`
	}
	if code := h.do("GET", "/sandbox/v1/templates", "", nil, &r); code != 200 {
		h.t.Fatalf("GET /sandbox/v1/templates: HTTP %d", code)
	}
	out := map[string]ctlTemplate{}
	for _, t := range r.Templates {
		out[t.Name+"/"+t.Language] = t
	}
	return out
}

// listed returns the Graph listing entry name/lang, if any.
func (h *harness) listed(name, lang string) (status, id string) {
	h.t.Helper()
	var p struct {
		Data []struct {
			Name, Language, Status, ID string
		} `json:"data"`
	}
	h.do("GET", "/v24.0/"+testWABA+"/message_templates?limit=100&name="+url.QueryEscape(name), testToken, nil, &p)
	for _, d := range p.Data {
		if d.Name == name && d.Language == lang {
			return d.Status, d.ID
		}
	}
	return "", ""
}

// fullStats decodes every counter.
func (h *harness) fullStats() map[string]int {
	h.t.Helper()
	var st map[string]int
	if code := h.do("GET", "/sandbox/v1/stats", "", nil, &st); code != 200 {
		h.t.Fatalf("stats: HTTP %d", code)
	}
	return st
}

func fastReview(c *Config) { c.TemplateReviewDelay = 10 * time.Millisecond }

func TestTemplateCreateApprovedAndSent(t *testing.T) {
	h := start(t, fastReview)
	body := map[string]any{
		"name": "seasonal_promotion", "language": "en_US", "category": "marketing",
		"components": []any{
			map[string]any{"type": "HEADER", "format": "TEXT", "text": "Our {{1}} is on!", "example": map[string]any{"header_text": []string{"Summer Sale"}}},
			map[string]any{"type": "BODY", "text": "Shop now through {{1}} and use code {{2}} to get {{3}} off.",
				"example": map[string]any{"body_text": [][]string{{"the end of August", "25OFF", "25%"}}}},
			map[string]any{"type": "FOOTER", "text": "Reply STOP to opt out"},
			map[string]any{"type": "BUTTONS", "buttons": []any{
				map[string]any{"type": "QUICK_REPLY", "text": "Unsubscribe"},
				map[string]any{"type": "URL", "text": "Shop", "url": "https://shop.example/{{1}}", "example": []string{"https://shop.example/summer"}},
				map[string]any{"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550051310"},
			}},
		},
	}
	r := h.createTemplate(body)
	if r.Category != "MARKETING" {
		t.Errorf("category %q", r.Category)
	}

	// The review approves it and says so with a signed webhook.
	c := h.rc.waitChanges(t, "message_template_status_update", 1)[0]
	checkEnvelope(t, c)
	wantValue(t, "status webhook", c.Value, map[string]any{
		"event": "APPROVED", "message_template_id": r.ID, "message_template_name": "seasonal_promotion",
		"message_template_language": "en_US", "reason": "NONE", "message_template_category": "MARKETING",
	})
	if _, isNum := c.Value["message_template_id"].(json.Number); !isNum {
		t.Errorf("message_template_id is not a JSON number: %T", c.Value["message_template_id"])
	}
	for _, k := range []string{"rejection_info", "disable_info", "other_info"} {
		if _, ok := c.Value[k]; ok {
			t.Errorf("approval carries %s", k)
		}
	}
	if st, id := h.listed("seasonal_promotion", "en_US"); st != "APPROVED" || id != r.ID {
		t.Errorf("listing: status %q id %q, want APPROVED %s", st, id, r.ID)
	}
	ct := h.ctlTemplates()["seasonal_promotion/en_US"]
	if ct.Status != "APPROVED" || ct.Source != "api" || ct.LastEvent != "APPROVED" || ct.QualityScore != "UNKNOWN" || ct.Reason != "NONE" {
		t.Errorf("control listing %+v", ct)
	}
	if ct := h.ctlTemplates()["order_update/en_US"]; ct.Source != "config" || ct.QualityScore != "GREEN" || ct.LastEvent != "" {
		t.Errorf("configured template in control listing %+v", ct)
	}

	// It can be sent now (to a non-US number), with the examples' shape.
	h.send(template(customer, "seasonal_promotion", "en_US",
		map[string]any{"type": "header", "parameters": []map[string]any{{"type": "text", "text": "Winter Sale"}}},
		bodyParams("January", "WIN10", "10%"),
		map[string]any{"type": "button", "sub_type": "url", "index": 1, "parameters": []map[string]any{{"type": "text", "text": "winter"}}}))
	if ms := h.messages("?to=" + customer); len(ms) != 1 || ms[0].Text != "Shop now through January and use code WIN10 to get 10% off." {
		t.Errorf("records %+v", ms)
	}
	h.sendErr(template(customer, "seasonal_promotion", "en_US", bodyParams("a")), 400, 132000)

	st := h.fullStats()
	if st["template_create_calls"] != 1 || st["sends"] != 1 {
		t.Errorf("stats %v", st)
	}
}

func TestTemplateCreatePendingUntilReviewed(t *testing.T) {
	h := start(t, func(c *Config) { c.TemplateReviewDelay = time.Hour })
	h.createTemplate(map[string]any{"name": "slow_review", "language": "de", "category": "UTILITY",
		"components": []any{map[string]any{"type": "BODY", "text": "Hallo."}}})
	if st, _ := h.listed("slow_review", "de"); st != "PENDING" {
		t.Errorf("listing status %q, want PENDING", st)
	}
	var p struct {
		Data []struct{ Name string } `json:"data"`
	}
	h.do("GET", "/v24.0/"+testWABA+"/message_templates?status=PENDING", testToken, nil, &p)
	if len(p.Data) != 1 || p.Data[0].Name != "slow_review" {
		t.Errorf("status=PENDING filter: %+v", p.Data)
	}
	e := h.sendErr(template(customer, "slow_review", "de"), 400, 132001)
	if !strings.Contains(e.Error.ErrorData.Details, "PENDING") {
		t.Errorf("details %q", e.Error.ErrorData.Details)
	}
	// The control API can decide before the reviewer does.
	var ct ctlTemplate
	if code := h.do("POST", "/sandbox/v1/templates/status", "", map[string]any{"name": "slow_review", "language": "de", "status": "APPROVED"}, &ct); code != 200 || ct.Status != "APPROVED" {
		t.Fatalf("control approve: HTTP %d %+v", code, ct)
	}
	h.send(template(customer, "slow_review", "de"))
	wantValue(t, "control approval", h.rc.waitChanges(t, "message_template_status_update", 1)[0].Value,
		map[string]any{"event": "APPROVED", "message_template_name": "slow_review", "message_template_language": "de"})
}

func TestTemplateCreateRejectRule(t *testing.T) {
	h := start(t, fastReview)
	r := h.createTemplate(map[string]any{"name": "promo_reject_me", "language": "en_US", "category": "MARKETING",
		"components": []any{map[string]any{"type": "BODY", "text": "Buy now!"}}})
	c := h.rc.waitChanges(t, "message_template_status_update", 1)[0]
	checkEnvelope(t, c)
	wantValue(t, "rejection", c.Value, map[string]any{"event": "REJECTED", "reason": "INVALID_FORMAT",
		"message_template_id": r.ID, "message_template_name": "promo_reject_me"})
	if ri, _ := c.Value["rejection_info"].(map[string]any); ri == nil || ri["reason"] == "" || ri["recommendation"] == "" {
		t.Errorf("rejection_info %v", c.Value["rejection_info"])
	}
	if st, _ := h.listed("promo_reject_me", "en_US"); st != "REJECTED" {
		t.Errorf("listing status %q", st)
	}
	h.sendErr(template(customer, "promo_reject_me", "en_US"), 400, 132001)
	if ct := h.ctlTemplates()["promo_reject_me/en_US"]; ct.Reason != "INVALID_FORMAT" {
		t.Errorf("control listing %+v", ct)
	}
}

func TestTemplateCreateValidation(t *testing.T) {
	h := start(t, func(c *Config) { c.TemplateReviewDelay = time.Hour })
	body := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{"name": "valid_name", "language": "en_US", "category": "UTILITY",
			"components": []any{map[string]any{"type": "BODY", "text": "Order {{1}} shipped.", "example": map[string]any{"body_text": [][]string{{"A-1"}}}}}}
		if mut != nil {
			mut(m)
		}
		return m
	}
	comps := func(c ...any) func(m map[string]any) { return func(m map[string]any) { m["components"] = c } }
	bodyC := map[string]any{"type": "BODY", "text": "Hello."}
	cases := []struct {
		name    string
		body    any
		subcode int
		msgHas  string // in error_user_msg, message or error_data.details
	}{
		{"no name", body(func(m map[string]any) { delete(m, "name") }), 0, "name is required"},
		{"uppercase name", body(func(m map[string]any) { m["name"] = "Order_Update" }), 0, "lowercase"},
		{"name with dash", body(func(m map[string]any) { m["name"] = "order-update" }), 0, "lowercase"},
		{"name too long", body(func(m map[string]any) { m["name"] = strings.Repeat("a", 513) }), 0, "512"},
		{"no language", body(func(m map[string]any) { delete(m, "language") }), 0, "language is required"},
		{"bad language", body(func(m map[string]any) { m["language"] = "english" }), 0, "language code"},
		{"bad category", body(func(m map[string]any) { m["category"] = "PROMOTION" }), 0, "category must be one of"},
		{"no components", body(func(m map[string]any) { delete(m, "components") }), 0, "components is required"},
		{"no body", body(comps(map[string]any{"type": "FOOTER", "text": "x"})), 0, "type BODY"},
		{"two bodies", body(comps(bodyC, bodyC)), 0, "more than one"},
		{"unknown component", body(comps(bodyC, map[string]any{"type": "CAROUSEL"})), 0, "must be one of"},
		{"body example missing", body(comps(map[string]any{"type": "BODY", "text": "Order {{1}} shipped."})), 0, "(example.body_text)"},
		{"body example short", body(comps(map[string]any{"type": "BODY", "text": "{{1}} and {{2}}", "example": map[string]any{"body_text": [][]string{{"a"}}}})), 0, "(example.body_text)"},
		{"body example flat", body(comps(map[string]any{"type": "BODY", "text": "Hi {{1}}", "example": map[string]any{"body_text": []string{"a"}}})), 0, "(example.body_text)"},
		{"positional gap", body(comps(map[string]any{"type": "BODY", "text": "{{1}} {{3}}", "example": map[string]any{"body_text": [][]string{{"a", "b"}}}})), 0, "positional"},
		{"named example missing", body(func(m map[string]any) {
			m["parameter_format"] = "NAMED"
			m["components"] = []any{map[string]any{"type": "BODY", "text": "Hi {{first_name}}",
				"example": map[string]any{"body_text_named_params": []any{map[string]any{"param_name": "last_name", "example": "X"}}}}}
		}), 0, "(example.body_text_named_params)"},
		{"named placeholder uppercase", body(func(m map[string]any) {
			m["parameter_format"] = "named"
			m["components"] = []any{map[string]any{"type": "BODY", "text": "Hi {{Name}}",
				"example": map[string]any{"body_text_named_params": []any{map[string]any{"param_name": "Name", "example": "X"}}}}}
		}), 0, "lowercase"},
		{"bad parameter_format", body(func(m map[string]any) { m["parameter_format"] = "KEYWORD" }), 0, "parameter_format"},
		{"header example missing", body(comps(bodyC, map[string]any{"type": "HEADER", "format": "TEXT", "text": "Hi {{1}}"})), 0, "(example.header_text)"},
		{"media header without handle", body(comps(bodyC, map[string]any{"type": "HEADER", "format": "IMAGE"})), 0, "(example.header_handle)"},
		{"location header", body(comps(bodyC, map[string]any{"type": "HEADER", "format": "LOCATION"})), 0, "must be one of"},
		{"url button example missing", body(comps(bodyC, map[string]any{"type": "BUTTONS", "buttons": []any{
			map[string]any{"type": "URL", "text": "Go", "url": "https://x.example/{{1}}"}}})), 0, "(example.buttons[0].example)"},
		{"url variable not at the end", body(comps(bodyC, map[string]any{"type": "BUTTONS", "buttons": []any{
			map[string]any{"type": "URL", "text": "Go", "url": "https://x.example/{{1}}/x", "example": []string{"https://x.example/a/x"}}}})), 0, "may only end in {{1}}"},
		{"copy code example missing", body(comps(bodyC, map[string]any{"type": "BUTTONS", "buttons": []any{
			map[string]any{"type": "COPY_CODE"}}})), 0, "(example.buttons[0].example)"},
		{"otp outside authentication", body(comps(bodyC, map[string]any{"type": "BUTTONS", "buttons": []any{
			map[string]any{"type": "OTP", "otp_type": "COPY_CODE"}}})), 0, "AUTHENTICATION"},
		{"footer variable", body(comps(bodyC, map[string]any{"type": "FOOTER", "text": "Bye {{1}}"})), 0, "footer"},
		{"body too long", body(comps(map[string]any{"type": "BODY", "text": strings.Repeat("x", 1025)})), 0, "1024"},
		{"duplicate", body(func(m map[string]any) {
			m["name"] = "order_update"
			m["components"] = []any{bodyC}
		}), 2388024, "already"},
		{"not JSON", "{nope", 0, "invalid request body"},
	}
	calls := len(cases)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e tplErr
			code := h.do("POST", "/v24.0/"+testWABA+"/message_templates", testToken, tc.body, &e)
			if code != 400 || e.Error.Code != 100 || e.Error.Subcode != tc.subcode || e.Error.FBTraceID == "" || e.Error.Type != "OAuthException" {
				t.Fatalf("HTTP %d %+v", code, e.Error)
			}
			if !strings.Contains(e.Error.ErrorUserMsg+" "+e.Error.Message+" "+e.Error.ErrorData.Details, tc.msgHas) {
				t.Errorf("error %+v lacks %q", e.Error, tc.msgHas)
			}
			if e.Error.ErrorUserMsg != "" && (e.Error.Message != "(#100) Invalid parameter" || e.Error.IsTransient == nil || *e.Error.IsTransient) {
				t.Errorf("template error shape %+v", e.Error)
			}
			if tc.subcode == 2388024 && e.Error.ErrorUserTitle != "Message template already exists" {
				t.Errorf("duplicate title %q", e.Error.ErrorUserTitle)
			}
		})
	}
	// The same name in another language is a new template, not a duplicate.
	h.createTemplate(map[string]any{"name": "order_update", "language": "fr", "category": "UTILITY", "components": []any{bodyC}})
	var e tplErr
	if code := h.do("POST", "/v24.0/"+testWABA+"/message_templates", testToken,
		map[string]any{"name": "order_update", "language": "fr", "category": "UTILITY", "components": []any{bodyC}}, &e); code != 400 || e.Error.Subcode != 2388024 {
		t.Errorf("second create: HTTP %d %+v", code, e.Error)
	}
	// Auth is checked first; wrong WABA id is an unknown object.
	if code := h.do("POST", "/v24.0/"+testWABA+"/message_templates", "wrong", body(nil), &e); code != 401 || e.Error.Code != 190 {
		t.Errorf("bad token: HTTP %d %+v", code, e.Error)
	}
	if code := h.do("POST", "/v24.0/999/message_templates", testToken, body(nil), &e); code != 400 || e.Error.Code != 100 || e.Error.Subcode != 33 {
		t.Errorf("unknown WABA: HTTP %d %+v", code, e.Error)
	}
	if st, want := h.fullStats(), calls+2; st["template_create_calls"] != want {
		t.Errorf("template_create_calls %d, want %d (every authenticated call to the WABA)", st["template_create_calls"], want)
	}
	if _, ok := h.ctlTemplates()["valid_name/en_US"]; ok {
		t.Error("a refused template was stored")
	}
}

func TestTemplateCreateNamedAuthAndForm(t *testing.T) {
	h := start(t, fastReview)
	h.createTemplate(map[string]any{"name": "named_hi", "language": "en_US", "category": "UTILITY", "parameter_format": "NAMED",
		"components": []any{
			map[string]any{"type": "HEADER", "format": "TEXT", "text": "For {{shop}}",
				"example": map[string]any{"header_text_named_params": []any{map[string]any{"param_name": "shop", "example": "Acme"}}}},
			map[string]any{"type": "BODY", "text": "Hi {{first_name}}, order {{order_id}} is ready.",
				"example": map[string]any{"body_text_named_params": []any{
					map[string]any{"param_name": "first_name", "example": "Pablo"},
					map[string]any{"param_name": "order_id", "example": "860198-230332"}}}},
			map[string]any{"type": "BUTTONS", "buttons": []any{map[string]any{"type": "COPY_CODE", "example": "SAVE20"}}},
		}})
	h.createTemplate(map[string]any{"name": "otp_code", "language": "en_US", "category": "AUTHENTICATION",
		"components": []any{
			map[string]any{"type": "BODY", "add_security_recommendation": true},
			map[string]any{"type": "FOOTER", "code_expiration_minutes": 5},
			map[string]any{"type": "BUTTONS", "buttons": []any{map[string]any{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}}},
		}})
	// Graph also takes form fields with components as JSON text.
	form := url.Values{"name": {"form_made"}, "language": {"en_US"}, "category": {"UTILITY"},
		"components": {`[{"type":"BODY","text":"Ticket {{1}}","example":{"body_text":[["T-1"]]}}]`}}
	code, _, raw := h.rawDo("POST", h.url+"/v24.0/"+testWABA+"/message_templates", testToken, "application/x-www-form-urlencoded", []byte(form.Encode()))
	var fr createResp
	if err := json.Unmarshal(raw, &fr); code != 200 || err != nil || fr.Status != "PENDING" {
		t.Fatalf("form create: HTTP %d %s", code, raw)
	}
	h.rc.waitChanges(t, "message_template_status_update", 3)

	h.send(template(customer, "named_hi", "en_US",
		map[string]any{"type": "header", "parameters": []map[string]any{{"type": "text", "parameter_name": "shop", "text": "Lucky Shrub"}}},
		map[string]any{"type": "body", "parameters": []map[string]any{
			{"type": "text", "parameter_name": "order_id", "text": "42"}, {"type": "text", "parameter_name": "first_name", "text": "Jo"}}},
		map[string]any{"type": "button", "sub_type": "copy_code", "index": 0, "parameters": []map[string]any{{"type": "coupon_code", "coupon_code": "JO10"}}}))
	h.send(template(customer, "otp_code", "en_US", bodyParams("123456"),
		map[string]any{"type": "button", "sub_type": "url", "index": "0", "parameters": []map[string]any{{"type": "text", "text": "123456"}}}))
	h.sendErr(template(customer, "otp_code", "en_US", bodyParams("123456")), 400, 131008) // the code button needs the code too
	h.send(template(customer, "form_made", "en_US", bodyParams("T-9")))
	ms := h.messages("?to=" + customer)
	if len(ms) != 3 || ms[0].Text != "Hi Jo, order 42 is ready." ||
		ms[1].Text != "*123456* is your verification code. For your security, do not share this code." || ms[2].Text != "Ticket T-9" {
		for _, m := range ms {
			t.Logf("%s: %q", m.Template.Name, m.Text)
		}
		t.Errorf("records wrong")
	}
	// The listing shows the authentication template as Graph does.
	ct := h.ctlTemplates()["otp_code/en_US"]
	b, _ := json.Marshal(ct.Components)
	for _, want := range []string{`"text":"This code expires in 5 minutes."`, `"type":"URL"`, `otp_type=COPY_CODE`, `"text":"*{{1}}* is your verification code. For your security, do not share this code."`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("otp_code components %s lack %s", b, want)
		}
	}
}

func TestControlTemplateStatus(t *testing.T) {
	h := start(t, nil)
	set := func(body map[string]any) (int, ctlTemplate) {
		var ct ctlTemplate
		return h.do("POST", "/sandbox/v1/templates/status", "", body, &ct), ct
	}
	send := template(customer, "order_update", "en_US", bodyParams("A-1", "Monday"))
	h.send(send)
	id := h.ctlTemplates()["order_update/en_US"].ID

	steps := []struct {
		status, reason string
		other          map[string]any
		wantStored     string
		wantSendCode   int // 0: the send succeeds
		check          func(v map[string]any)
	}{
		{"PAUSED", "", nil, "PAUSED", 132015, func(v map[string]any) {
			if oi, _ := v["other_info"].(map[string]any); oi == nil || oi["title"] != "FIRST_PAUSE" || oi["description"] == "" {
				t.Errorf("pause other_info %v", v["other_info"])
			}
		}},
		{"REINSTATED", "", nil, "APPROVED", 0, nil},
		{"FLAGGED", "", nil, "APPROVED", 0, nil},
		{"PAUSED", "", map[string]any{"title": "SECOND_PAUSE", "description": "Paused again."}, "PAUSED", 132015, func(v map[string]any) {
			if oi, _ := v["other_info"].(map[string]any); oi == nil || oi["title"] != "SECOND_PAUSE" || oi["description"] != "Paused again." {
				t.Errorf("given other_info %v", v["other_info"])
			}
		}},
		{"DISABLED", "", nil, "DISABLED", 132016, func(v map[string]any) {
			if di, _ := v["disable_info"].(map[string]any); di == nil || di["disable_date"] == nil {
				t.Errorf("disable_info %v", v["disable_info"])
			} else if _, isNum := di["disable_date"].(json.Number); !isNum {
				t.Errorf("disable_date %T", di["disable_date"])
			}
		}},
		{"REJECTED", "abusive_content", nil, "REJECTED", 132001, func(v map[string]any) {
			if _, ok := v["rejection_info"]; ok {
				t.Errorf("rejection_info for ABUSIVE_CONTENT: %v", v)
			}
		}},
		{"PENDING", "", nil, "PENDING", 132001, nil},
		{"approved", "", nil, "APPROVED", 0, nil},
	}
	for i, st := range steps {
		body := map[string]any{"name": "order_update", "language": "en_US", "status": st.status}
		if st.reason != "" {
			body["reason"] = st.reason
		}
		if st.other != nil {
			body["other_info"] = st.other
		}
		code, ct := set(body)
		event := strings.ToUpper(st.status)
		if code != 200 || ct.Status != st.wantStored || ct.LastEvent != event {
			t.Fatalf("step %d %s: HTTP %d %+v", i, st.status, code, ct)
		}
		c := h.rc.waitChanges(t, "message_template_status_update", i+1)[i]
		checkEnvelope(t, c)
		reason := "NONE"
		if st.reason != "" {
			reason = strings.ToUpper(st.reason)
		}
		wantValue(t, st.status, c.Value, map[string]any{"event": event, "reason": reason, "message_template_id": id,
			"message_template_name": "order_update", "message_template_language": "en_US", "message_template_category": "UTILITY"})
		if st.check != nil {
			st.check(c.Value)
		}
		if st.wantSendCode == 0 {
			h.send(send)
		} else {
			h.sendErr(send, 400, st.wantSendCode)
		}
		if got, _ := h.listed("order_update", "en_US"); got != st.wantStored {
			t.Errorf("step %d: listing status %q, want %q", i, got, st.wantStored)
		}
	}
	// The German translation was never touched.
	h.send(template(customer, "order_update", "de_DE", bodyParams("B-2", "Montag")))

	for _, bad := range []struct {
		body map[string]any
		code int
	}{
		{map[string]any{"name": "order_update", "language": "en_US", "status": "ARCHIVED"}, 400},
		{map[string]any{"name": "order_update", "status": "PAUSED"}, 400},
		{map[string]any{"name": "nope", "language": "en_US", "status": "PAUSED"}, 404},
		{map[string]any{"name": "order_update", "language": "en_US", "status": "PAUSED", "colour": "red"}, 400},
	} {
		var e map[string]any
		if code := h.do("POST", "/sandbox/v1/templates/status", "", bad.body, &e); code != bad.code || e["error"] == nil {
			t.Errorf("%v: HTTP %d %v", bad.body, code, e)
		}
	}
	var e map[string]any
	if code := h.do("GET", "/sandbox/v1/templates/status", "", nil, &e); code != 405 {
		t.Errorf("GET status: HTTP %d", code)
	}
}

func TestControlTemplateQualityAndCategory(t *testing.T) {
	h := start(t, nil)
	var ct ctlTemplate
	if code := h.do("POST", "/sandbox/v1/templates/quality", "", map[string]any{"name": "welcome_named", "language": "en_US", "score": "yellow"}, &ct); code != 200 || ct.QualityScore != "YELLOW" {
		t.Fatalf("quality: HTTP %d %+v", code, ct)
	}
	h.do("POST", "/sandbox/v1/templates/quality", "", map[string]any{"name": "welcome_named", "language": "en_US", "score": "RED"}, &ct)
	q := h.rc.waitChanges(t, "message_template_quality_update", 2)
	q1, q2 := pick(t, q, "new_quality_score", "YELLOW"), pick(t, q, "new_quality_score", "RED")
	checkEnvelope(t, q1)
	wantValue(t, "quality 1", q1.Value, map[string]any{"previous_quality_score": "GREEN", "new_quality_score": "YELLOW",
		"message_template_id": ct.ID, "message_template_name": "welcome_named", "message_template_language": "en_US"})
	wantValue(t, "quality 2", q2.Value, map[string]any{"previous_quality_score": "YELLOW", "new_quality_score": "RED"})
	var e map[string]any
	if code := h.do("POST", "/sandbox/v1/templates/quality", "", map[string]any{"name": "welcome_named", "language": "en_US", "score": "BLUE"}, &e); code != 400 {
		t.Errorf("bad score: HTTP %d", code)
	}

	// An impending change only announces; a completed one changes pricing.
	if code := h.do("POST", "/sandbox/v1/templates/category", "", map[string]any{"name": "order_update", "language": "en_US", "category": "MARKETING", "impending": true}, &ct); code != 200 || ct.Category != "UTILITY" {
		t.Fatalf("impending: HTTP %d %+v", code, ct)
	}
	if code := h.do("POST", "/sandbox/v1/templates/category", "", map[string]any{"name": "order_update", "language": "en_US", "category": "MARKETING"}, &ct); code != 200 || ct.Category != "MARKETING" {
		t.Fatalf("category: HTTP %d %+v", code, ct)
	}
	cs := h.rc.waitChanges(t, "template_category_update", 2)
	impending, done := pick(t, cs, "new_category", "UTILITY"), pick(t, cs, "new_category", "MARKETING")
	checkEnvelope(t, impending)
	checkEnvelope(t, done)
	wantValue(t, "impending", impending.Value, map[string]any{"message_template_id": ct.ID, "message_template_name": "order_update",
		"message_template_language": "en_US", "correct_category": "MARKETING", "new_category": "UTILITY"})
	if _, ok := impending.Value["category_update_timestamp"].(json.Number); !ok {
		t.Errorf("impending without category_update_timestamp: %v", impending.Value)
	}
	wantValue(t, "completed", done.Value, map[string]any{"message_template_id": ct.ID, "previous_category": "UTILITY", "new_category": "MARKETING"})
	for _, k := range []string{"correct_category", "category_update_timestamp"} {
		if _, ok := done.Value[k]; ok {
			t.Errorf("completed change carries %s: %v", k, done.Value)
		}
	}
	wamid := h.send(template(customer, "order_update", "en_US", bodyParams("A", "B")))
	if st := h.rc.waitStatuses(t, wamid, 1)[0]; st.Pricing == nil || st.Pricing.Category != "marketing" {
		t.Errorf("pricing after the category change: %+v", st.Pricing)
	}
	if st, _ := h.listed("order_update", "en_US"); st != "APPROVED" {
		t.Errorf("status %q", st)
	}
	var p struct {
		Data []struct{ Name, Language string } `json:"data"`
	}
	h.do("GET", "/v24.0/"+testWABA+"/message_templates?category=MARKETING", testToken, nil, &p)
	if len(p.Data) != 2 {
		t.Errorf("MARKETING filter after the change: %+v", p.Data)
	}
	if code := h.do("POST", "/sandbox/v1/templates/category", "", map[string]any{"name": "order_update", "language": "en_US", "category": "SERVICE"}, &e); code != 400 {
		t.Errorf("bad category: HTTP %d", code)
	}
}

type phoneNode struct {
	ID                    string `json:"id"`
	QualityRating         string `json:"quality_rating"`
	MessagingLimitTier    string `json:"messaging_limit_tier"`
	BusinessManagerLimit  string `json:"whatsapp_business_manager_messaging_limit"`
	DisplayPhoneNumber    string `json:"display_phone_number"`
	VerifiedName          string `json:"verified_name"`
	CodeVerificationState string `json:"code_verification_status"`
	Status                string `json:"status"`
	Throughput            *struct {
		Level string `json:"level"`
	} `json:"throughput"`
}

const healthFields = "?fields=quality_rating,messaging_limit_tier,whatsapp_business_manager_messaging_limit,throughput,display_phone_number,verified_name"

func (h *harness) phone(pnid, query string) (phoneNode, map[string]any) {
	h.t.Helper()
	var raw json.RawMessage
	if code := h.do("GET", "/v24.0/"+pnid+query, testToken, nil, &raw); code != 200 {
		h.t.Fatalf("GET %s%s: HTTP %d %s", pnid, query, code, raw)
	}
	var n phoneNode
	var m map[string]any
	_ = json.Unmarshal(raw, &n)
	_ = json.Unmarshal(raw, &m)
	return n, m
}

func TestPhoneNumberHealth(t *testing.T) {
	h := start(t, nil)
	n, m := h.phone(testPNID, healthFields)
	if n.ID != testPNID || n.QualityRating != "GREEN" || n.MessagingLimitTier != "TIER_250" || n.BusinessManagerLimit != "TIER_250" ||
		n.Throughput == nil || n.Throughput.Level != "STANDARD" || n.DisplayPhoneNumber != testBiz || n.VerifiedName == "" || len(m) != 7 {
		t.Errorf("defaults %v", m)
	}
	// Without fields: Graph's default set; nested field syntax is accepted.
	if _, m := h.phone(testPNID, ""); len(m) != 7 || m["code_verification_status"] != "VERIFIED" || m["platform_type"] != "CLOUD_API" {
		t.Errorf("default fields %v", m)
	}
	if _, m := h.phone(testPNID, "?fields=throughput{level},status"); len(m) != 3 || m["status"] != "CONNECTED" {
		t.Errorf("nested fields %v", m)
	}
	var e graphErr
	if code := h.do("GET", "/v24.0/"+testPNID+"?fields=quality_rating,colour", testToken, nil, &e); code != 400 || e.Error.Code != 100 ||
		!strings.Contains(e.Error.Message, "nonexisting field (colour)") {
		t.Errorf("unknown field: HTTP %d %+v", code, e.Error)
	}

	type acct struct {
		PhoneNumberID  string  `json:"phone_number_id"`
		QualityRating  string  `json:"quality_rating"`
		MessagingLimit string  `json:"messaging_limit"`
		WebhookEvent   *string `json:"webhook_event"`
		Error          string  `json:"error"`
	}
	post := func(body map[string]any) (int, acct) {
		var a acct
		return h.do("POST", "/sandbox/v1/account", "", body, &a), a
	}

	// Quality drops: FLAGGED.
	if code, a := post(map[string]any{"quality_rating": "RED"}); code != 200 || a.PhoneNumberID != testPNID || a.QualityRating != "RED" ||
		a.MessagingLimit != "TIER_250" || a.WebhookEvent == nil || *a.WebhookEvent != "FLAGGED" {
		t.Fatalf("flag: HTTP %d %+v", code, a)
	}
	c := h.rc.waitChanges(t, "phone_number_quality_update", 1)[0]
	checkEnvelope(t, c)
	wantValue(t, "flagged", c.Value, map[string]any{"display_phone_number": strings.TrimPrefix(testBiz, "+"), "event": "FLAGGED",
		"current_limit": "TIER_250", "max_daily_conversations_per_business": "TIER_250"})
	if _, ok := c.Value["old_limit"]; ok {
		t.Errorf("old_limit without a limit change: %v", c.Value)
	}
	if n, _ := h.phone(testPNID, healthFields+",status"); n.QualityRating != "RED" || n.Status != "FLAGGED" {
		t.Errorf("after flag %+v", n)
	}
	if n, _ := h.phone(testPNID2, healthFields); n.QualityRating != "GREEN" {
		t.Errorf("the other number's quality changed: %+v", n)
	}

	// The limit rises (portfolio-wide): UPGRADE with old_limit.
	if code, a := post(map[string]any{"phone_number_id": testBiz2, "messaging_limit": "TIER_2K"}); code != 200 || a.PhoneNumberID != testPNID2 || *a.WebhookEvent != "UPGRADE" {
		t.Fatalf("upgrade: HTTP %d %+v", code, a)
	}
	c = pick(t, h.rc.waitChanges(t, "phone_number_quality_update", 2), "event", "UPGRADE")
	wantValue(t, "upgrade", c.Value, map[string]any{"display_phone_number": strings.TrimPrefix(testBiz2, "+"), "event": "UPGRADE",
		"old_limit": "TIER_250", "current_limit": "TIER_2K", "max_daily_conversations_per_business": "TIER_2K"})
	for _, pnid := range []string{testPNID, testPNID2} {
		if n, _ := h.phone(pnid, healthFields); n.BusinessManagerLimit != "TIER_2K" || n.MessagingLimitTier != "TIER_1K" {
			t.Errorf("%s after upgrade %+v", pnid, n)
		}
	}
	// Quality recovers: UNFLAGGED; an explicit event wins; no change sends nothing.
	if _, a := post(map[string]any{"quality_rating": "GREEN"}); *a.WebhookEvent != "UNFLAGGED" {
		t.Errorf("unflag %+v", a)
	}
	if _, a := post(map[string]any{"messaging_limit": "TIER_UNLIMITED", "event": "THROUGHPUT_UPGRADE"}); *a.WebhookEvent != "THROUGHPUT_UPGRADE" {
		t.Errorf("explicit event %+v", a)
	}
	if _, a := post(map[string]any{}); a.WebhookEvent != nil || a.QualityRating != "GREEN" || a.MessagingLimit != "TIER_UNLIMITED" {
		t.Errorf("no change %+v", a)
	}
	cs := h.rc.waitChanges(t, "phone_number_quality_update", 4)
	// Wait for a later webhook to be sure the no-change call sent none.
	h.do("POST", "/sandbox/v1/templates/quality", "", map[string]any{"name": "hello_world", "language": "en_US", "score": "RED"}, nil)
	h.rc.waitChanges(t, "message_template_quality_update", 1)
	if cs = h.rc.changes(t, "phone_number_quality_update"); len(cs) != 4 {
		t.Errorf("%d phone webhooks, want 4", len(cs))
	}
	wantValue(t, "unflagged", pick(t, cs, "event", "UNFLAGGED").Value, map[string]any{"current_limit": "TIER_2K"})
	wantValue(t, "throughput", pick(t, cs, "event", "THROUGHPUT_UPGRADE").Value, map[string]any{"old_limit": "TIER_2K", "current_limit": "TIER_UNLIMITED"})

	for _, bad := range []map[string]any{
		{"quality_rating": "PURPLE"}, {"messaging_limit": "TIER_1M"}, {"event": "EXPLODED"}, {"phone_number_id": "+4900000000"}, {"tier": "x"},
	} {
		if code, a := post(bad); code != 400 || a.Error == "" {
			t.Errorf("%v: HTTP %d %+v", bad, code, a)
		}
	}
	if st := h.fullStats(); st["phone_number_calls"] != 8 {
		t.Errorf("phone_number_calls %d, want 8", st["phone_number_calls"])
	}
	// The WABA's phone number listing shows the health too.
	var list struct {
		Data []phoneNode `json:"data"`
	}
	h.do("GET", "/v24.0/"+testWABA+"/phone_numbers?fields=quality_rating,whatsapp_business_manager_messaging_limit", testToken, nil, &list)
	if len(list.Data) != 2 || list.Data[0].QualityRating != "GREEN" || list.Data[1].BusinessManagerLimit != "TIER_UNLIMITED" {
		t.Errorf("phone_numbers %+v", list.Data)
	}
}

func TestUSMarketingBlocked(t *testing.T) {
	h := start(t, nil)
	named := func(to string) map[string]any {
		return template(to, "welcome_named", "en_US", map[string]any{"type": "body", "parameters": []map[string]any{
			{"type": "text", "parameter_name": "first_name", "text": "Jo"}, {"type": "text", "parameter_name": "shop", "text": "Acme"}}})
	}
	const us, usPR, canada, jamaica = "+1 (212) 555-0123", "+17875550123", "+14165550123", "+18765550123"

	// Accepted like any send, then failed asynchronously with 131049.
	var r sendResp
	if code := h.do("POST", "/v24.0/"+testPNID+"/messages", testToken, named(us), &r); code != 200 || r.Messages[0].MessageStatus != "accepted" {
		t.Fatalf("US marketing send: HTTP %d %+v", code, r)
	}
	st := h.rc.waitStatuses(t, r.Messages[0].ID, 1)[0]
	if st.Status != "failed" || len(st.Errors) != 1 || st.Errors[0].Code != 131049 || st.Pricing != nil ||
		st.Errors[0].Title != "This message was not delivered to maintain healthy ecosystem engagement." ||
		st.Errors[0].ErrorData.Details != "In order to maintain a healthy ecosystem engagement, the message failed to be delivered." {
		t.Errorf("US marketing status %+v", st)
	}
	if rec := h.messages("?wamid=" + url.QueryEscape(r.Messages[0].ID)); len(rec) != 1 || rec[0].ErrorCode != 131049 {
		t.Errorf("record %+v", rec)
	}
	if got := h.rc.waitStatuses(t, h.send(named(usPR)), 1); got[0].Status != "failed" { // US territory: blocked too
		t.Errorf("Puerto Rico %+v", got)
	}

	// Canada, other NANP countries, non-marketing and non-US numbers are delivered.
	for _, body := range []map[string]any{
		named(canada), named(jamaica), named(customer),
		template(us, "order_update", "en_US", bodyParams("A", "B")),
	} {
		wamid := h.send(body)
		if got := h.rc.waitStatuses(t, wamid, 2); got[0].Status != "sent" || got[1].Status != "delivered" {
			t.Errorf("%v: statuses %+v", body["to"], got)
		}
	}

	// The knob turns it off at run time, and reset restores the Config value.
	var cur map[string]any
	if code := h.do("POST", "/sandbox/v1/settings", "", map[string]any{"us_marketing_blocked": false}, &cur); code != 200 || cur["us_marketing_blocked"] != false {
		t.Fatalf("settings: HTTP %d %v", code, cur)
	}
	if got := h.rc.waitStatuses(t, h.send(named(us)), 2); got[0].Status != "sent" {
		t.Errorf("unblocked: %+v", got)
	}
	h.do("POST", "/sandbox/v1/reset", "", nil, nil)
	if got := h.rc.waitStatuses(t, h.send(named(us)), 1); got[0].Status != "failed" {
		t.Errorf("after reset: %+v", got)
	}
}

func TestUSMarketingConfigOff(t *testing.T) {
	off := false
	h := start(t, func(c *Config) { c.USMarketingBlocked = &off })
	wamid := h.send(template("+12125550123", "welcome_named", "en_US", map[string]any{"type": "body", "parameters": []map[string]any{
		{"type": "text", "parameter_name": "first_name", "text": "Jo"}, {"type": "text", "parameter_name": "shop", "text": "Acme"}}}))
	if got := h.rc.waitStatuses(t, wamid, 2); got[0].Status != "sent" || got[1].Status != "delivered" {
		t.Errorf("statuses %+v", got)
	}
}

func TestIsUSNumber(t *testing.T) {
	for digits, want := range map[string]bool{
		"12125550123": true, "16505551234": true, "17875550123": true, "15550100001": true,
		"14165550123": false, "16045550123": false, "19055550123": false, "18095550123": false,
		"4915112345678": false, "1212555012": false, "442071234567": false,
	} {
		if got := isUSNumber(digits); got != want {
			t.Errorf("isUSNumber(%s) = %v", digits, got)
		}
	}
}

func TestResetRestoresCatalogueAndHealth(t *testing.T) {
	h := start(t, func(c *Config) { c.TemplateReviewDelay = time.Hour })
	h.createTemplate(map[string]any{"name": "temp_one", "language": "en_US", "category": "UTILITY",
		"components": []any{map[string]any{"type": "BODY", "text": "x"}}})
	h.do("POST", "/sandbox/v1/templates/status", "", map[string]any{"name": "order_update", "language": "en_US", "status": "PAUSED"}, nil)
	h.do("POST", "/sandbox/v1/templates/category", "", map[string]any{"name": "hello_world", "language": "en_US", "category": "MARKETING"}, nil)
	h.do("POST", "/sandbox/v1/account", "", map[string]any{"quality_rating": "YELLOW", "messaging_limit": "TIER_10K"}, nil)
	h.do("POST", "/sandbox/v1/reset", "", nil, nil)

	ts := h.ctlTemplates()
	if _, ok := ts["temp_one/en_US"]; ok || len(ts) != 4 || ts["order_update/en_US"].Status != "APPROVED" || ts["hello_world/en_US"].Category != "UTILITY" {
		t.Errorf("catalogue after reset %+v", ts)
	}
	if n, _ := h.phone(testPNID, healthFields); n.QualityRating != "GREEN" || n.BusinessManagerLimit != "TIER_250" {
		t.Errorf("health after reset %+v", n)
	}
	// The name is free again.
	h.createTemplate(map[string]any{"name": "temp_one", "language": "en_US", "category": "UTILITY",
		"components": []any{map[string]any{"type": "BODY", "text": "y"}}})
}

func TestNewValidatesReviewDelay(t *testing.T) {
	cfg := testConfig()
	cfg.TemplateReviewDelay = -time.Second
	if _, err := New(cfg, nil); err == nil {
		t.Error("negative TemplateReviewDelay accepted")
	}
}
