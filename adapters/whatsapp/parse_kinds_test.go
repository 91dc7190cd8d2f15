package whatsapp

import (
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

// inbound parses one message object and returns its Inbound event.
func inbound(t *testing.T, msg string) *bridge.Message {
	t.Helper()
	events := mustParse(t, NewParser(nil), wrap(`{"messages":[`+msg+`]}`))
	if len(events) != 1 || events[0].Inbound == nil {
		t.Fatalf("events = %+v", events)
	}
	return events[0].Inbound
}

func TestParseInteractiveReplies(t *testing.T) {
	cases := []struct {
		interactive string
		want        *bridge.InteractiveReply
	}{
		{`{"type":"button_reply","button_reply":{"id":"b1","title":"Yes"}}`,
			&bridge.InteractiveReply{Type: "button_reply", ID: "b1", Title: "Yes"}},
		{`{"type":"list_reply","list_reply":{"id":"r1","title":"One","description":"First"}}`,
			&bridge.InteractiveReply{Type: "list_reply", ID: "r1", Title: "One", Description: "First"}},
		{`{"type":"nfm_reply","nfm_reply":{"name":"flow","body":"Sent","response_json":"{\"flow_token\":\"t\"}"}}`,
			&bridge.InteractiveReply{Type: "nfm_reply", Title: "Sent", Body: `{"flow_token":"t"}`}},
		// Types wabridge does not read, or malformed members: raw only.
		{`{"type":"call_permission_reply","call_permission_reply":{"response":"accept"}}`, nil},
		{`{"type":"button_reply","button_reply":"x"}`, nil},
		{`{"type":"list_reply"}`, nil},
		{`{"button_reply":{"id":"b1"}}`, nil},
	}
	for _, tc := range cases {
		m := inbound(t, `{"from":"16505551234","id":"wamid.I","timestamp":"1","type":"interactive","interactive":`+tc.interactive+`}`)
		if m.Kind != bridge.KindInteractive || len(m.Content.Interactive) == 0 {
			t.Errorf("%s: kind %s, interactive %s", tc.interactive, m.Kind, m.Content.Interactive)
		}
		got := m.Content.Reply
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("%s: reply %+v, want %+v", tc.interactive, got, tc.want)
		}
	}
	// Not an object at all: no reply, no panic.
	if m := inbound(t, `{"from":"16505551234","id":"wamid.I","type":"interactive","interactive":"x"}`); m.Content.Reply != nil {
		t.Errorf("reply %+v", m.Content.Reply)
	}
}

func TestParseSystemVariants(t *testing.T) {
	cases := []struct {
		system string
		want   bridge.System
	}{
		// Meta's documented form (system.golden has the full example).
		{`{"body":"User A changed from 1 to 2","wa_id":"12195555358","type":"user_changed_number"}`,
			bridge.System{Type: "user_changed_number", Body: "User A changed from 1 to 2", WaID: "12195555358"}},
		// Older payloads named the new id new_wa_id (FACTS.md b4).
		{`{"body":"changed","new_wa_id":"12195555358","type":"user_changed_number"}`,
			bridge.System{Type: "user_changed_number", Body: "changed", WaID: "12195555358"}},
		// BSUID era: a user id change. Meta's system reference does not yet
		// document this type (FACTS.md b4 [U]); the shape follows the BSUID
		// guide's user_id naming and is read generically.
		{`{"body":"User A changed their user ID","user_id":"US.13491208655302741918","type":"user_changed_user_id"}`,
			bridge.System{Type: "user_changed_user_id", Body: "User A changed their user ID", UserID: "US.13491208655302741918"}},
		{`{"type":"customer_identity_changed","identity":{"acknowledged":true,"hash":"Sjvjlx8G6Z0="}}`,
			bridge.System{Type: "customer_identity_changed"}},
	}
	for _, tc := range cases {
		m := inbound(t, `{"from":"16505551234","id":"wamid.S","timestamp":"1750269342","type":"system","system":`+tc.system+`}`)
		if m.Kind != bridge.KindSystem || m.Content.System == nil || *m.Content.System != tc.want {
			t.Errorf("%s: kind %s, system %+v", tc.system, m.Kind, m.Content.System)
		}
	}
}

func TestParseMediaFields(t *testing.T) {
	m := inbound(t, `{"from":"16505551234","id":"wamid.D","type":"document","document":{"caption":"Invoice","filename":"inv.pdf","mime_type":"application/pdf","sha256":"abc","id":"42","url":"https://lookaside.fbsbx.com/x"}}`)
	want := bridge.Media{ID: "42", URL: "https://lookaside.fbsbx.com/x", MIMEType: "application/pdf", SHA256: "abc", Caption: "Invoice", Filename: "inv.pdf"}
	if m.Kind != bridge.KindDocument || m.Content.Media == nil || *m.Content.Media != want {
		t.Errorf("document %+v", m.Content.Media)
	}
	m = inbound(t, `{"from":"16505551234","id":"wamid.S","type":"sticker","sticker":{"mime_type":"image/webp","sha256":"x","id":"7","animated":true}}`)
	if m.Content.Media == nil || !m.Content.Media.Animated {
		t.Errorf("sticker %+v", m.Content.Media)
	}
	m = inbound(t, `{"from":"16505551234","id":"wamid.A","type":"audio","audio":{"mime_type":"audio/ogg; codecs=opus","sha256":"x","id":"8","voice":true}}`)
	if m.Content.Media == nil || !m.Content.Media.Voice || m.Content.Media.MIMEType != "audio/ogg; codecs=opus" {
		t.Errorf("audio %+v", m.Content.Media)
	}
}

// TestParseUnmodelledTypes: documented types wabridge does not model are
// kept raw as KindUnknown; unsupported messages carry their errors.
func TestParseUnmodelledTypes(t *testing.T) {
	for _, typ := range []string{"order", "request_welcome", "revoke", "edit", "ephemeral", "brand_new_type"} {
		m := inbound(t, `{"from":"16505551234","id":"wamid.U","type":"`+typ+`","`+typ+`":{"a":1}}`)
		if m.Kind != bridge.KindUnknown || len(m.Content.Raw) == 0 {
			t.Errorf("%s: kind %s raw %s", typ, m.Kind, m.Content.Raw)
		}
	}
	m := inbound(t, `{"from":"16505551234","id":"wamid.X","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}],"unsupported":{"type":"poll"}}`)
	if m.Kind != bridge.KindUnsupported || len(m.Content.Errors) != 1 || m.Content.Errors[0].Code != 131051 || m.Content.Errors[0].Details == "" {
		t.Errorf("unsupported: %s %+v", m.Kind, m.Content.Errors)
	}
}
