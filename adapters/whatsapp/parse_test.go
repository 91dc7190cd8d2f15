package whatsapp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

func mustParse(t *testing.T, p *Parser, body string) []bridge.Event {
	t.Helper()
	events, err := p.Parse([]byte(body))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checkEventInvariants(t, events)
	return events
}

// wrap puts one messages value into an envelope.
func wrap(value string) string {
	return `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":` + value + `}]}]}`
}

func TestParseErrors(t *testing.T) {
	p := NewParser(nil)
	// Not JSON, or JSON that is not an object: not a webhook envelope at all.
	for _, body := range []string{``, `{`, `{"object":`, "\xff", `[]`, `"x"`, `null`} {
		if _, err := p.Parse([]byte(body)); !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("Parse(%q) = %v, want ErrInvalidJSON", body, err)
		}
	}
	// An object for another product (or none named).
	for _, body := range []string{`{}`, `{"object":"page","entry":[]}`, `{"object":1}`} {
		if _, err := p.Parse([]byte(body)); !errors.Is(err, ErrWrongObject) {
			t.Errorf("Parse(%q) = %v, want ErrWrongObject", body, err)
		}
	}
}

// TestParseTolerates: odd shapes below the envelope never fail the delivery.
func TestParseTolerates(t *testing.T) {
	p := NewParser(nil)
	for _, body := range []string{
		`{"object":"whatsapp_business_account"}`,
		`{"object":"whatsapp_business_account","entry":5}`,
		`{"object":"whatsapp_business_account","entry":[5,"x",null,{"changes":{}}]}`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[1,{"field":5}]}]}`,
		wrap(`{"messages":5,"statuses":{"a":1},"contacts":"x","metadata":[]}`),
		wrap(`{"messages":[1,null,{"id":5}],"statuses":[[],{"status":"sent"}]}`),
	} {
		mustParse(t, p, body)
	}
}

func TestParseMalformedItemsKept(t *testing.T) {
	p := NewParser(nil)
	events := mustParse(t, p, wrap(`{"messages":[{"from":"491511","type":"text"},{"id":"wamid.A","type":"text"},"x"],"statuses":[{"id":"wamid.B"},7]}`))
	want := []string{"malformed_message", "malformed_message", "malformed_message", "malformed_status", "malformed_status"}
	if len(events) != len(want) {
		t.Fatalf("got %d events, want %d", len(events), len(want))
	}
	for i, e := range events {
		if e.Other == nil || e.Other.Field != "messages" || e.Other.Type != want[i] {
			t.Errorf("event %d = %+v, want Other %s", i, e, want[i])
		}
	}
	if events := mustParse(t, p, wrap(`"x"`)); len(events) != 1 || events[0].Other.Type != "malformed_value" {
		t.Errorf("malformed value: %+v", events)
	}
	if events := mustParse(t, p, wrap(`{"messaging_product":"whatsapp"}`)); len(events) != 1 || events[0].Other.Type != "unrecognized" {
		t.Errorf("empty value: %+v", events)
	}
}

func TestParseTimestampForms(t *testing.T) {
	p := NewParser(nil)
	want := time.Unix(1749416383, 0).UTC()
	for _, ts := range []string{`"1749416383"`, `1749416383`, `1749416383.0`} {
		events := mustParse(t, p, wrap(`{"messages":[{"from":"16505551234","id":"wamid.A","timestamp":`+ts+`,"type":"text","text":{"body":"hi"}}]}`))
		if got := events[0].Inbound.Timestamp; !got.Equal(want) {
			t.Errorf("timestamp %s → %v, want %v", ts, got, want)
		}
	}
	for _, ts := range []string{`"soon"`, `-5`, `1e300`, `null`, `{}`} {
		events := mustParse(t, p, wrap(`{"messages":[{"from":"16505551234","id":"wamid.A","timestamp":`+ts+`,"type":"text"}]}`))
		if got := events[0].Inbound.Timestamp; !got.IsZero() {
			t.Errorf("timestamp %s → %v, want zero", ts, got)
		}
	}
}

func TestParseBusinessResolution(t *testing.T) {
	p := NewParser([]Number{{PhoneNumberID: "111", BusinessNumber: "+49 30 1234567"}})
	body := func(id, display string) string {
		return wrap(`{"metadata":{"display_phone_number":"` + display + `","phone_number_id":"` + id + `"},"messages":[{"from":"16505551234","id":"wamid.A","type":"text"}]}`)
	}
	cases := []struct{ id, display, want string }{
		{"111", "15550783881", "+49301234567"}, // configured id wins
		{"222", "15550783881", "+15550783881"}, // fallback: display digits
		{"222", "+1 555-078-3881", "+15550783881"},
		{"", "", ""},
	}
	for _, c := range cases {
		if got := mustParse(t, p, body(c.id, c.display))[0].Inbound.Business; got != c.want {
			t.Errorf("business(%q,%q) = %q, want %q", c.id, c.display, got, c.want)
		}
	}
}

func TestParseContactsMatching(t *testing.T) {
	p := NewParser(nil)
	events := mustParse(t, p, wrap(`{
		"contacts":[{"profile":{"name":"Other"},"wa_id":"1999","user_id":"US.9"},{"profile":{"name":"Sheena"},"wa_id":"16505551234","user_id":"US.1"}],
		"messages":[
			{"from":"16505551234","id":"wamid.A","type":"text"},
			{"from_user_id":"US.9","id":"wamid.B","type":"text"},
			{"from":"17775550000","id":"wamid.C","type":"text"}]}`))
	checks := []struct {
		phone, bsuid, name string
	}{
		{"+16505551234", "US.1", "Sheena"}, // BSUID taken from the contact
		{"", "US.9", "Other"},              // no phone: matched by user_id
		{"+17775550000", "", ""},           // no matching contact: no name
	}
	for i, c := range checks {
		m := events[i].Inbound
		if m.Customer.Phone != c.phone || m.Customer.BSUID != c.bsuid || m.ProfileName != c.name {
			t.Errorf("message %d: %+v %q, want %+v", i, m.Customer, m.ProfileName, c)
		}
	}
}

func TestParseUnknownTypeKeepsRaw(t *testing.T) {
	p := NewParser(nil)
	m := mustParse(t, p, wrap(`{"messages":[{"from":"16505551234","id":"wamid.A","type":"order","order":{"catalog_id":"1"}}]}`))[0].Inbound
	if m.Kind != bridge.KindUnknown || !strings.Contains(string(m.Content.Raw), `"catalog_id":"1"`) {
		t.Errorf("order: kind %q raw %s", m.Kind, m.Content.Raw)
	}
}

func TestParseStatusDetails(t *testing.T) {
	p := NewParser(nil)
	events := mustParse(t, p, wrap(`{"statuses":[
		{"id":"wamid.A","status":"played","timestamp":"1750030073","recipient_id":"16505551234","biz_opaque_callback_data":"msg-1"},
		{"id":"wamid.B","status":"deleted","timestamp":"1750030073","recipient_id":"16505551234"},
		{"id":"wamid.C","status":"failed","recipient_id":"16505551234","errors":[{"code":"131047","title":"Re-engagement message"}]},
		{"id":"wamid.D","status":"failed","recipient_id":"16505551234"},
		{"id":"wamid.E","status":"read","recipient_id":"120363025555555555","recipient_type":"group","recipient_participant_id":"16505551234"}]}`))
	a := events[0].Status
	if a.Status != bridge.StatusRead || a.RawStatus != "played" || a.CallbackData != "msg-1" || a.Key() != "wamid.A/played" {
		t.Errorf("played: %+v", a)
	}
	if b := events[1].Status; b.Status != "" || b.RawStatus != "deleted" {
		t.Errorf("unknown word: %+v", b)
	}
	if c := events[2].Status; c.Status != bridge.StatusFailed || c.Action != bridge.ActionTemplateOrFallback ||
		c.Reason != bridge.ReasonWindowClosed || c.Errors[0].Code != 131047 {
		t.Errorf("failed: %+v", c)
	}
	if d := events[3].Status; d.Action != 0 || d.Reason != "" {
		t.Errorf("failed without errors: %+v", d)
	}
	if e := events[4].Status; e.Recipient.Phone != "+16505551234" {
		t.Errorf("group: %+v", e.Recipient)
	}
}

// TestParseOtherKeys: re-deliveries (even re-indented) get the same key;
// different values get different keys.
func TestParseOtherKeys(t *testing.T) {
	p := NewParser(nil)
	tpl := func(v string) string {
		return `{"object":"whatsapp_business_account","entry":[{"id":"1","time":1751247548,"changes":[{"field":"message_template_status_update","value":` + v + `}]}]}`
	}
	a := mustParse(t, p, tpl(`{"event":"APPROVED","message_template_id":1}`))[0].Other
	b := mustParse(t, p, tpl("{ \"event\" : \"APPROVED\",\n \"message_template_id\" : 1 }"))[0].Other
	c := mustParse(t, p, tpl(`{"event":"PAUSED","message_template_id":1}`))[0].Other
	if a.Key != b.Key || a.Key == c.Key || !strings.HasPrefix(a.Key, "message_template_status_update:") {
		t.Errorf("keys: %q %q %q", a.Key, b.Key, c.Key)
	}
	if a.Type != "APPROVED" || a.Field != "message_template_status_update" {
		t.Errorf("other: %+v", a)
	}
	if d := mustParse(t, p, tpl(`null`))[0].Other; string(d.Raw) != "null" || d.Key == "" {
		t.Errorf("null value: %+v", d)
	}
}
