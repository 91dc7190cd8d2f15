package smpp

import (
	"encoding/json"
	"testing"

	"github.com/linxGnu/gosmpp/pdu"

	"github.com/wabridge/wabridge/bridge"
)

func TestRenderText(t *testing.T) {
	tests := []struct {
		m    bridge.Message
		want string
	}{
		{bridge.Message{Kind: bridge.KindText, Content: bridge.Content{Text: "hi"}}, "hi"},
		{bridge.Message{Kind: bridge.KindImage, Content: bridge.Content{Media: &bridge.Media{Caption: "the damage"}}}, "[image] the damage"},
		{bridge.Message{Kind: bridge.KindDocument, Content: bridge.Content{Media: &bridge.Media{Filename: "a.pdf"}}}, "[document: a.pdf]"},
		{bridge.Message{Kind: bridge.KindAudio, Content: bridge.Content{Media: &bridge.Media{Voice: true}}}, "[voice message]"},
		{bridge.Message{Kind: bridge.KindLocation, Content: bridge.Content{Location: &bridge.Location{Latitude: 1.5, Longitude: -2.25, Name: "Dock 4"}}},
			"[location] Dock 4 https://maps.google.com/?q=1.500000,-2.250000"},
		{bridge.Message{Kind: bridge.KindContacts, Content: bridge.Content{Contacts: json.RawMessage(
			`[{"name":{"formatted_name":"Anna Muster"},"phones":[{"phone":"+49 151 1234 5678"}]}]`)}}, "[contact] Anna Muster +49 151 1234 5678"},
		{bridge.Message{Kind: bridge.KindButton, Content: bridge.Content{Button: &bridge.ButtonReply{Text: "Stop promotions"}}}, "Stop promotions"},
		{bridge.Message{Kind: bridge.KindInteractive, Content: bridge.Content{Reply: &bridge.InteractiveReply{Title: "09:00", Description: "Morning"}}}, "09:00 (Morning)"},
		{bridge.Message{Kind: bridge.KindReaction, Content: bridge.Content{Reaction: &bridge.Reaction{Emoji: "👍"}}}, "[reacted 👍]"},
		{bridge.Message{Kind: bridge.KindReaction, Content: bridge.Content{Reaction: &bridge.Reaction{}}}, "[removed a reaction]"},
		{bridge.Message{Kind: bridge.KindUnknown}, "[unknown message]"},
	}
	for _, tt := range tests {
		if got := renderText(&tt.m); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.m.Kind, got, tt.want)
		}
	}
}

// A customer known only by a business-scoped user id has no number: the
// reply goes to SMPP with the id as an alphanumeric source_addr only when
// the account allows it and the id fits; otherwise it is skipped for SMPP.
func TestReplyFromBSUIDCustomer(t *testing.T) {
	m := &bridge.Message{Business: "+15550100001", Customer: bridge.Customer{BSUID: "US.1349120865530274"}, Kind: bridge.KindText,
		Content: bridge.Content{Text: "hi"}}
	if _, err := moPDUs(&account{Account: Account{LongMO: "payload"}}, m); err == nil {
		t.Error("sent without a number though the account does not allow alphanumeric sources")
	}
	pdus, err := moPDUs(&account{Account: Account{LongMO: "payload", AlphanumericSource: true}}, m)
	if err != nil || len(pdus) != 1 {
		t.Fatalf("allowed: %v", err)
	}
	d := pdus[0].(*pdu.DeliverSM)
	if d.SourceAddr.Ton() != tonAlphanumeric || d.SourceAddr.Address() != "US.1349120865530274" {
		t.Errorf("source %d %q", d.SourceAddr.Ton(), d.SourceAddr.Address())
	}
	m.Customer.BSUID = "US.13491208655302741918" // 23 characters: no room in source_addr
	if _, err := moPDUs(&account{Account: Account{LongMO: "payload", AlphanumericSource: true}}, m); err == nil {
		t.Error("an id longer than source_addr allows was sent")
	}
}

// ServiceType reads the service_type a submission stored with its message,
// and skips decoding when the data cannot hold one.
func TestServiceType(t *testing.T) {
	data := func(md meta) []byte {
		b, err := json.Marshal(md)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name   string
		origin string
		data   []byte
		want   string
	}{
		{"pinned", "smpp:acme", data(meta{SystemID: "acme", Dest: "+15550100001", ServiceType: "ORD"}), "ORD"},
		{"none", "smpp:acme", data(meta{SystemID: "acme", Dest: "+15550100001", Text: "hello"}), ""},
		{"key's text in the text", "smpp:acme", data(meta{SystemID: "acme", Text: `say "svc"`}), ""},
		{"text is the key", "smpp:acme", data(meta{SystemID: "acme", Text: "svc"}), ""},
		{"text is the key, pinned too", "smpp:acme", data(meta{SystemID: "acme", Text: "svc", ServiceType: "CMT"}), "CMT"},
		{"other origin", "smtp:mail", data(meta{ServiceType: "ORD"}), ""},
		{"no data", "smpp:acme", nil, ""},
		{"not json", "smpp:acme", []byte(`{"svc":`), ""},
	} {
		if got := ServiceType(&bridge.Message{Origin: c.origin, OriginData: c.data}); got != c.want {
			t.Errorf("%s: ServiceType = %q, want %q", c.name, got, c.want)
		}
	}
}
