package twilio

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// params builds parameters from "name=value" pairs (not encoded).
func params(pairs ...string) url.Values {
	v := url.Values{}
	for _, p := range pairs {
		name, value, _ := strings.Cut(p, "=")
		v.Add(name, value)
	}
	return v
}

func parseOne(t *testing.T, p url.Values) bridge.Event {
	t.Helper()
	events, err := parseAt(p, goldenNow)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	checkEventInvariants(t, events)
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	return events[0]
}

func inbound(t *testing.T, pairs ...string) *bridge.Message {
	t.Helper()
	e := parseOne(t, params(pairs...))
	if e.Inbound == nil {
		t.Fatalf("not inbound: %+v", e)
	}
	return e.Inbound
}

func status(t *testing.T, pairs ...string) *bridge.StatusUpdate {
	t.Helper()
	e := parseOne(t, params(pairs...))
	if e.Status == nil {
		t.Fatalf("not a status: %+v", e)
	}
	return e.Status
}

func TestParseNotMessage(t *testing.T) {
	for _, p := range []url.Values{nil, {}, params("Body=hi", "From=whatsapp:+14155550100"), params("MessageSid=", "SmsStatus=received")} {
		events, err := parseAt(p, goldenNow)
		if !errors.Is(err, ErrNotMessage) || events != nil {
			t.Errorf("%v: %v, %v; want ErrNotMessage", p, events, err)
		}
	}
}

func TestParseSidFallbacks(t *testing.T) {
	for _, name := range []string{"MessageSid", "SmsMessageSid", "SmsSid"} {
		m := inbound(t, name+"=SM1", "SmsStatus=received", "From=whatsapp:+14155550100", "Body=hi")
		if m.WAMID != "SM1" {
			t.Errorf("%s: wamid %q", name, m.WAMID)
		}
	}
}

func TestParseStatusMapping(t *testing.T) {
	cases := map[string]bridge.Status{
		"queued":              bridge.StatusQueued,
		"accepted":            bridge.StatusQueued,
		"sending":             "",
		"scheduled":           "",
		"sent":                bridge.StatusSent,
		"delivered":           bridge.StatusDelivered,
		"read":                bridge.StatusRead,
		"failed":              bridge.StatusFailed,
		"undelivered":         bridge.StatusFailed,
		"canceled":            "",
		"partially_delivered": "",
		"something_new":       "",
	}
	for word, want := range cases {
		su := status(t, "MessageSid=SM1", "MessageStatus="+word, "To=whatsapp:+14155550100", "From=whatsapp:+14155238886")
		if su.Status != want || su.RawStatus != word || su.WAMID != "SM1" {
			t.Errorf("%s: status %q raw %q wamid %q, want %q", word, su.Status, su.RawStatus, su.WAMID, want)
		}
		if su.Key() != "SM1/"+word {
			t.Errorf("%s: key %q", word, su.Key())
		}
		if !su.Timestamp.Equal(goldenNow) {
			t.Errorf("%s: timestamp %v", word, su.Timestamp)
		}
		if su.Recipient.Phone != "+14155550100" || su.Business != "+14155238886" {
			t.Errorf("%s: recipient %+v business %q", word, su.Recipient, su.Business)
		}
	}
	// SmsStatus alone (older callbacks) is read too.
	if su := status(t, "SmsSid=SM2", "SmsStatus=delivered"); su.Status != bridge.StatusDelivered {
		t.Errorf("SmsStatus only: %q", su.Status)
	}
}

func TestParseStatusErrors(t *testing.T) {
	su := status(t, "MessageSid=SM1", "MessageStatus=undelivered", "ErrorCode=63016", "ErrorMessage=outside window")
	if len(su.Errors) != 1 || su.Errors[0].Code != 63016 || su.Errors[0].Message != "outside window" {
		t.Errorf("errors %+v", su.Errors)
	}
	if su.Action != bridge.ActionTemplateOrFallback || su.Reason != bridge.ReasonWindowClosed {
		t.Errorf("classified %s/%s", su.Action, su.Reason)
	}
	// 21610: the customer opted out.
	su = status(t, "MessageSid=SM1", "MessageStatus=failed", "ErrorCode=21610")
	if su.Action != bridge.ActionPermanent || su.Reason != bridge.ReasonOptedOut {
		t.Errorf("21610: %s/%s", su.Action, su.Reason)
	}
	// Unknown code: permanent upstream error.
	su = status(t, "MessageSid=SM1", "MessageStatus=failed", "ErrorCode=12345")
	if su.Action != bridge.ActionPermanent || su.Reason != bridge.ReasonUpstreamError {
		t.Errorf("unknown code: %s/%s", su.Action, su.Reason)
	}
	// Failed without a code: no classification, as in the Meta adapter.
	su = status(t, "MessageSid=SM1", "MessageStatus=failed")
	if su.Errors != nil || su.Action != 0 || su.Reason != "" {
		t.Errorf("no code: %+v %s/%s", su.Errors, su.Action, su.Reason)
	}
	// A message without a code is kept; ErrorCode 0 or junk is no code.
	su = status(t, "MessageSid=SM1", "MessageStatus=failed", "ErrorCode=abc", "ErrorMessage=boom")
	if len(su.Errors) != 1 || su.Errors[0].Code != 0 || su.Errors[0].Message != "boom" || su.Action != 0 {
		t.Errorf("junk code: %+v %s", su.Errors, su.Action)
	}
	su = status(t, "MessageSid=SM1", "MessageStatus=delivered", "ErrorCode=0")
	if su.Errors != nil || su.Action != 0 {
		t.Errorf("code 0: %+v", su.Errors)
	}
	// An error code on a non-failed status is kept, not classified.
	su = status(t, "MessageSid=SM1", "MessageStatus=sent", "ErrorCode=63018")
	if len(su.Errors) != 1 || su.Action != 0 {
		t.Errorf("sent with code: %+v %s", su.Errors, su.Action)
	}
}

func TestParseStatusToBSUID(t *testing.T) {
	su := status(t, "MessageSid=SM1", "MessageStatus=delivered",
		"To=whatsapp:US.13491208655302741918", "From=whatsapp:+14155238886")
	if su.Recipient.BSUID != "US.13491208655302741918" || su.Recipient.Phone != "" {
		t.Errorf("recipient %+v", su.Recipient)
	}
}

func TestParseInboundIdentity(t *testing.T) {
	cases := []struct {
		name  string
		pairs []string
		want  bridge.Customer
	}{
		{"phone", []string{"From=whatsapp:+14155550100"}, bridge.Customer{Phone: "+14155550100"}},
		{"phone and bsuid", []string{"From=whatsapp:+14155550100", "ExternalUserId=whatsapp:US.1234567"},
			bridge.Customer{Phone: "+14155550100", BSUID: "US.1234567"}},
		{"bsuid only", []string{"From=whatsapp:US.1234567", "ExternalUserId=whatsapp:US.1234567"},
			bridge.Customer{BSUID: "US.1234567"}},
		{"parent bsuid", []string{"From=whatsapp:US.ENT.99"}, bridge.Customer{BSUID: "US.ENT.99"}},
		{"ExternalUserId without prefix", []string{"From=whatsapp:+14155550100", "ExternalUserId=ID.4566546130240823"},
			bridge.Customer{Phone: "+14155550100", BSUID: "ID.4566546130240823"}},
		{"ExternalUserId not a BSUID", []string{"From=whatsapp:+14155550100", "ExternalUserId=whatsapp:nope"},
			bridge.Customer{Phone: "+14155550100"}},
		{"WaId when From is not a phone", []string{"From=whatsapp:someone", "WaId=14155550100"},
			bridge.Customer{Phone: "+14155550100"}},
		{"From wins over WaId", []string{"From=whatsapp:+14155550100", "WaId=14155550199"},
			bridge.Customer{Phone: "+14155550100"}},
		{"sms sender", []string{"From=+14155550100"}, bridge.Customer{Phone: "+14155550100"}},
		{"spaces", []string{"From= whatsapp:+1 415 555 0100 "}, bridge.Customer{Phone: "+14155550100"}},
		{"upper-case prefix", []string{"From=WhatsApp:+14155550100"}, bridge.Customer{Phone: "+14155550100"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := inbound(t, append([]string{"MessageSid=SM1", "SmsStatus=received", "Body=hi"}, c.pairs...)...)
			if m.Customer != c.want {
				t.Errorf("customer %+v, want %+v", m.Customer, c.want)
			}
		})
	}
}

func TestParseInboundWithoutSender(t *testing.T) {
	for _, from := range []string{"", "whatsapp:", "whatsapp:abc"} {
		e := parseOne(t, params("MessageSid=SM1", "SmsStatus=received", "Body=hi", "From="+from))
		if e.Other == nil || e.Other.Type != "malformed_message" || e.Other.Field != "twilio" {
			t.Errorf("From %q: %+v", from, e)
		}
	}
}

func TestParseInboundFields(t *testing.T) {
	m := inbound(t, "MessageSid=SM1", "SmsStatus=received", "Body=hi", "From=whatsapp:+14155550100",
		"To=whatsapp:+14155238886", "ProfileName=Ana", "Forwarded=true", "FrequentlyForwarded=true")
	if m.Direction != bridge.Inbound || m.Status != bridge.StatusReceived || m.Channel != bridge.ChannelWhatsApp {
		t.Errorf("direction %s status %s channel %s", m.Direction, m.Status, m.Channel)
	}
	if m.Business != "+14155238886" || m.ProfileName != "Ana" || m.Kind != bridge.KindText || m.Content.Text != "hi" {
		t.Errorf("%+v", m)
	}
	if c := m.Content.Context; c == nil || !c.Forwarded || !c.FrequentlyForwarded || c.WAMID != "" {
		t.Errorf("context %+v", m.Content.Context)
	}
	if !m.Timestamp.Equal(goldenNow) {
		t.Errorf("timestamp %v", m.Timestamp)
	}
	var raw map[string]string
	if err := json.Unmarshal(m.Content.Raw, &raw); err != nil || raw["ProfileName"] != "Ana" {
		t.Errorf("raw %s: %v", m.Content.Raw, err)
	}
}

func TestParseInboundMessageStatusReceived(t *testing.T) {
	m := inbound(t, "MessageSid=SM1", "MessageStatus=received", "From=whatsapp:+14155550100", "Body=hi")
	if m.Kind != bridge.KindText {
		t.Errorf("kind %s", m.Kind)
	}
	// No status at all, but a message: inbound.
	m = inbound(t, "MessageSid=SM1", "From=whatsapp:+14155550100", "NumMedia=0", "Body=hi")
	if m.Kind != bridge.KindText {
		t.Errorf("kind %s", m.Kind)
	}
}

func TestParseUnrecognized(t *testing.T) {
	e := parseOne(t, params("MessageSid=SM1", "AccountSid=AC1"))
	if e.Other == nil || e.Other.Type != "unrecognized" || !strings.HasPrefix(e.Other.Key, "twilio:") {
		t.Fatalf("%+v", e)
	}
	// Same parameters, same key; other parameters, other key.
	again := parseOne(t, params("AccountSid=AC1", "MessageSid=SM1"))
	other := parseOne(t, params("MessageSid=SM2", "AccountSid=AC1"))
	if again.Other.Key != e.Other.Key || other.Other.Key == e.Other.Key {
		t.Errorf("keys %s %s %s", e.Other.Key, again.Other.Key, other.Other.Key)
	}
}

func TestParseInboundKinds(t *testing.T) {
	base := []string{"MessageSid=SM1", "SmsStatus=received", "From=whatsapp:+14155550100"}
	cases := []struct {
		name  string
		pairs []string
		kind  bridge.Kind
	}{
		{"text", []string{"Body=hi"}, bridge.KindText},
		{"empty", []string{"Body=", "NumMedia=0"}, bridge.KindUnknown},
		{"image", []string{"NumMedia=1", "MediaUrl0=https://api.twilio.com/m", "MediaContentType0=image/jpeg"}, bridge.KindImage},
		{"video", []string{"NumMedia=1", "MediaUrl0=https://api.twilio.com/m", "MediaContentType0=video/mp4"}, bridge.KindVideo},
		{"audio", []string{"NumMedia=1", "MediaUrl0=https://api.twilio.com/m", "MediaContentType0=audio/ogg"}, bridge.KindAudio},
		{"document", []string{"NumMedia=1", "MediaUrl0=https://api.twilio.com/m", "MediaContentType0=application/pdf"}, bridge.KindDocument},
		{"vcard", []string{"NumMedia=1", "MediaUrl0=https://api.twilio.com/m", "MediaContentType0=text/vcard", "MessageType=contacts"}, bridge.KindDocument},
		{"no type", []string{"NumMedia=1", "MediaUrl0=https://api.twilio.com/m"}, bridge.KindDocument},
		{"upper-case type", []string{"NumMedia=1", "MediaUrl0=https://api.twilio.com/m", "MediaContentType0=IMAGE/PNG"}, bridge.KindImage},
		{"sticker", []string{"NumMedia=1", "MediaUrl0=https://api.twilio.com/m", "MediaContentType0=image/webp", "MessageType=sticker"}, bridge.KindSticker},
		{"media count without url, body", []string{"NumMedia=1", "Body=hi"}, bridge.KindText},
		{"media count without url", []string{"NumMedia=1"}, bridge.KindUnknown},
		{"location", []string{"Latitude=52.3", "Longitude=4.75"}, bridge.KindLocation},
		{"bad location", []string{"Latitude=north", "Longitude=4.75", "Body=x"}, bridge.KindText},
		{"location out of range", []string{"Latitude=91", "Longitude=4.75"}, bridge.KindUnknown},
		{"location NaN", []string{"Latitude=NaN", "Longitude=4.75"}, bridge.KindUnknown},
		{"button", []string{"ButtonPayload=p1", "ButtonText=Yes", "Body=Yes"}, bridge.KindButton},
		{"button text only", []string{"ButtonText=Yes"}, bridge.KindButton},
		{"button payload only", []string{"ButtonPayload=p1", "Body=Yes"}, bridge.KindButton},
		{"negative media", []string{"NumMedia=-3", "Body=hi"}, bridge.KindText},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := inbound(t, append(append([]string{}, base...), c.pairs...)...)
			if m.Kind != c.kind {
				t.Errorf("kind %s, want %s", m.Kind, c.kind)
			}
		})
	}
}

func TestParseInboundButton(t *testing.T) {
	m := inbound(t, "MessageSid=SM1", "SmsStatus=received", "From=whatsapp:+14155550100",
		"ButtonPayload=p1", "Body=Yes please")
	if m.Content.Button == nil || m.Content.Button.Payload != "p1" || m.Content.Button.Text != "Yes please" {
		t.Errorf("button %+v", m.Content.Button)
	}
	if m.Content.Text != "" {
		t.Errorf("text %q beside a button", m.Content.Text)
	}
}

func TestParseInboundMedia(t *testing.T) {
	p := params("MessageSid=MM1", "SmsStatus=received", "From=+14155550100", "To=+14155238886", "Body=look",
		"NumMedia=3",
		"MediaUrl0=https://api.twilio.com/a", "MediaContentType0=image/png",
		"MediaUrl2=https://api.twilio.com/c", "MediaContentType2=video/mp4",
		"OriginalRepliedMessageSid=SM0")
	events, err := parseAt(p, goldenNow)
	if err != nil {
		t.Fatal(err)
	}
	checkEventInvariants(t, events)
	if len(events) != 2 {
		t.Fatalf("%d events, want 2 (item 1 has no URL)", len(events))
	}
	a, b := events[0].Inbound, events[1].Inbound
	if a.WAMID != "MM1" || b.WAMID != "MM1/1" {
		t.Errorf("wamids %s %s", a.WAMID, b.WAMID)
	}
	if a.Content.Media.Caption != "look" || b.Content.Media.Caption != "" {
		t.Errorf("captions %q %q", a.Content.Media.Caption, b.Content.Media.Caption)
	}
	if a.Content.Media.URL != "https://api.twilio.com/a" || a.Content.Media.ID != a.Content.Media.URL || a.Content.Media.MIMEType != "image/png" {
		t.Errorf("media %+v", a.Content.Media)
	}
	if b.Kind != bridge.KindVideo || b.Content.Media.URL != "https://api.twilio.com/c" {
		t.Errorf("second %s %+v", b.Kind, b.Content.Media)
	}
	if a.Channel != bridge.ChannelSMS {
		t.Errorf("channel %s", a.Channel)
	}
	if a.Content.Context == b.Content.Context || b.Content.Context.WAMID != "SM0" {
		t.Errorf("contexts shared or lost: %p %p", a.Content.Context, b.Content.Context)
	}
	// NumMedia is bounded.
	var pairs []string
	pairs = append(pairs, "MessageSid=MM2", "SmsStatus=received", "From=+14155550100", "NumMedia=1000000")
	for i := range 20 {
		n := string(rune('0' + i%10))
		if i >= 10 {
			n = "1" + n
		}
		pairs = append(pairs, "MediaUrl"+n+"=https://api.twilio.com/"+n)
	}
	events, _ = parseAt(params(pairs...), goldenNow)
	if len(events) != maxMedia {
		t.Errorf("%d events for NumMedia 1000000, want %d", len(events), maxMedia)
	}
}

func TestParseInboundLocation(t *testing.T) {
	m := inbound(t, "MessageSid=SM1", "SmsStatus=received", "From=whatsapp:+14155550100",
		"Latitude=-33.8688", "Longitude=151.2093", "Label=Opera House", "Address=Bennelong Point")
	want := bridge.Location{Latitude: -33.8688, Longitude: 151.2093, Name: "Opera House", Address: "Bennelong Point"}
	if m.Content.Location == nil || *m.Content.Location != want {
		t.Errorf("location %+v", m.Content.Location)
	}
}

func TestParseInboundReferral(t *testing.T) {
	m := inbound(t, "MessageSid=SM1", "SmsStatus=received", "From=whatsapp:+14155550100", "Body=Hi",
		"ReferralNumMedia=0", "ReferralSourceType=ad", "ReferralSourceId=120226305854810726",
		"ReferralSourceUrl=https://fb.me/3cr4Wqqkv", "ReferralHeadline=Chat with us", "ReferralCtwaClid=ARAkLkA")
	var ref map[string]string
	if err := json.Unmarshal(m.Content.Referral, &ref); err != nil {
		t.Fatalf("referral %s: %v", m.Content.Referral, err)
	}
	if ref["ReferralSourceId"] != "120226305854810726" || ref["ReferralCtwaClid"] != "ARAkLkA" || ref["ReferralNumMedia"] != "0" {
		t.Errorf("referral %v", ref)
	}
	// ReferralNumMedia=0 alone is not a referral.
	m = inbound(t, "MessageSid=SM1", "SmsStatus=received", "From=whatsapp:+14155550100", "Body=Hi", "ReferralNumMedia=0")
	if m.Content.Referral != nil {
		t.Errorf("referral %s", m.Content.Referral)
	}
}

func TestParseRawRepeatedKeys(t *testing.T) {
	m := inbound(t, "MessageSid=SM1", "SmsStatus=received", "From=whatsapp:+14155550100", "Body=a", "Body=b")
	var raw map[string]any
	if err := json.Unmarshal(m.Content.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	if got, ok := raw["Body"].([]any); !ok || len(got) != 2 {
		t.Errorf("Body in raw: %v", raw["Body"])
	}
	if m.Content.Text != "a" {
		t.Errorf("text %q", m.Content.Text)
	}
}

func TestParseWebhookUsesNow(t *testing.T) {
	before := time.Now().UTC()
	events, err := ParseWebhook(params("MessageSid=SM1", "MessageStatus=sent"))
	if err != nil || len(events) != 1 || events[0].Status == nil {
		t.Fatalf("%v %v", events, err)
	}
	ts := events[0].Status.Timestamp
	if ts.Before(before) || ts.After(time.Now().UTC()) || ts.Location() != time.UTC {
		t.Errorf("timestamp %v not now", ts)
	}
}
