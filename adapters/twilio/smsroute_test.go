package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

func TestSMSRouteConfig(t *testing.T) {
	c := newTestClient(t, "https://api.twilio.com", nil)
	for name, cfg := range map[string]SMSRouteConfig{
		"no name":     {From: "+15005550006"},
		"no sender":   {Name: "tw"},
		"bad service": {Name: "tw", MessagingServiceSID: "MG1"},
		"bad cb":      {Name: "tw", From: "+15005550006", StatusCallback: "sms-status"},
	} {
		if _, err := c.SMSRoute(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	r, err := c.SMSRoute(SMSRouteConfig{Name: "tw", From: "1 500 555 0006"})
	if err != nil || r.Name() != "tw" || r.cfg.From != "+15005550006" {
		t.Errorf("%v %+v", err, r)
	}
}

func TestSubmitSMS(t *testing.T) {
	const cb = "https://bridge.example/twilio/sms?route=tw"
	cases := []struct {
		name string
		cfg  SMSRouteConfig
		sms  bridge.SMS
		want url.Values
	}{
		{"route From", SMSRouteConfig{Name: "tw", From: "+15005550006", StatusCallback: cb},
			bridge.SMS{ID: "m1", From: "+14155238886", To: "+49 151 12345678", Text: "Hello"},
			url.Values{"To": {"+4915112345678"}, "From": {"+15005550006"}, "Body": {"Hello"}, "StatusCallback": {cb}}},
		{"alphanumeric source allowed", SMSRouteConfig{Name: "tw", From: "+15005550006", AlphanumericSource: true},
			bridge.SMS{From: "ACME Shop", To: "+4915112345678", Text: "Hi"},
			url.Values{"To": {"+4915112345678"}, "From": {"ACME Shop"}, "Body": {"Hi"}}},
		{"alphanumeric source not allowed", SMSRouteConfig{Name: "tw", From: "+15005550006"},
			bridge.SMS{From: "ACME", To: "+4915112345678", Text: "Hi"},
			url.Values{"To": {"+4915112345678"}, "From": {"+15005550006"}, "Body": {"Hi"}}},
		{"numeric source never replaces From", SMSRouteConfig{Name: "tw", From: "+15005550006", AlphanumericSource: true},
			bridge.SMS{From: "+14155238886", To: "+4915112345678", Text: "Hi"},
			url.Values{"To": {"+4915112345678"}, "From": {"+15005550006"}, "Body": {"Hi"}}},
		{"messaging service", SMSRouteConfig{Name: "tw", MessagingServiceSID: testService},
			bridge.SMS{From: "+14155238886", To: "+4915112345678", Text: "Hi"},
			url.Values{"To": {"+4915112345678"}, "MessagingServiceSid": {testService}, "Body": {"Hi"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, created)
			c := newTestClient(t, srv.URL, func(cfg *Config) { cfg.SubaccountSID = testSubaccount })
			r, err := c.SMSRoute(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := r.SubmitSMS(context.Background(), tc.sms)
			if err != nil || !reflect.DeepEqual(ids, []string{testSid}) {
				t.Fatalf("SubmitSMS = %v, %v", ids, err)
			}
			req := srv.requests()[0]
			if req.path != "/2010-04-01/Accounts/"+testSubaccount+"/Messages.json" || req.user != testAccount {
				t.Errorf("%s as %s", req.path, req.user)
			}
			if !reflect.DeepEqual(req.form, tc.want) {
				t.Errorf("form\n got %v\nwant %v", req.form, tc.want)
			}
		})
	}
}

// TestSubmitSMSErrors: REST errors of SMS sends (bodies as in Twilio's
// error dictionary, https://www.twilio.com/docs/api/errors/<code>).
func TestSubmitSMSErrors(t *testing.T) {
	reply := func(status, code int, msg string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			if code != 0 {
				json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "more_info": "https://www.twilio.com/docs/errors/" + itoa(code), "status": status})
			}
		}
	}
	cases := []struct {
		name   string
		h      func(w http.ResponseWriter, r *http.Request)
		action bridge.Action
		reason bridge.Reason
	}{
		{"21610 opted out", reply(400, 21610, "Attempt to send to unsubscribed recipient"), bridge.ActionPermanent, bridge.ReasonOptedOut},
		{"21211 invalid", reply(400, 21211, "The 'To' number 123 is not a valid phone number."), bridge.ActionPermanent, bridge.ReasonInvalid},
		{"21408 region", reply(400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +99912345."), bridge.ActionPermanent, bridge.ReasonAccountError},
		{"429", reply(429, 20429, "Too Many Requests"), bridge.ActionRetry, bridge.ReasonUpstreamError},
		{"502", reply(502, 0, ""), bridge.ActionRetry, bridge.ReasonUpstreamError},
	}
	for _, tc := range cases {
		srv := newFake(t, tc.h)
		c := newTestClient(t, srv.URL, nil)
		r, _ := c.SMSRoute(SMSRouteConfig{Name: "tw", From: "+15005550006"})
		_, err := r.SubmitSMS(context.Background(), bridge.SMS{To: "+4915112345678", Text: "x"})
		var se *bridge.SendError
		if !errors.As(err, &se) || se.Action != tc.action || se.Reason != tc.reason {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Transport error: retried.
	srv := newFake(t, created)
	srv.Close()
	c := newTestClient(t, srv.URL, nil)
	r, _ := c.SMSRoute(SMSRouteConfig{Name: "tw", From: "+15005550006"})
	if _, err := r.SubmitSMS(context.Background(), bridge.SMS{To: "+4915112345678", Text: "x"}); bridge.AsSendError(err).Action != bridge.ActionRetry {
		t.Errorf("transport: %v", err)
	}
	// Refused before sending.
	for _, sms := range []bridge.SMS{{To: "nope", Text: "x"}, {To: "+4915112345678"}} {
		if _, err := r.SubmitSMS(context.Background(), sms); bridge.AsSendError(err).Reason != bridge.ReasonInvalid {
			t.Errorf("%+v: %v", sms, err)
		}
	}
}

// TestSMSEvents: SMS status callbacks and inbound SMS, with parameters as in
// Twilio's webhook documentation (messaging/guides/webhook-request and
// outbound-message-status-in-status-callbacks).
func TestSMSEvents(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	status := func(st, code string) url.Values {
		v := url.Values{"MessageSid": {testSid}, "SmsSid": {testSid}, "AccountSid": {testAccount},
			"From": {"+15005550006"}, "To": {"+4915112345678"}, "MessageStatus": {st}, "SmsStatus": {st}, "ApiVersion": {"2010-04-01"}}
		if code != "" {
			v.Set("ErrorCode", code)
		}
		return v
	}
	receipt := func(stat string, code int) []bridge.SMSEvent {
		return []bridge.SMSEvent{{Route: "tw", PartID: testSid, Stat: stat, ErrorCode: code, At: now}}
	}
	cases := []struct {
		name   string
		params url.Values
		want   []bridge.SMSEvent
		err    error
	}{
		{"delivered", status("delivered", ""), receipt(bridge.SMSDelivered, 0), nil},
		{"undelivered", status("undelivered", "30003"), receipt(bridge.SMSUndeliverable, 30003), nil},
		{"failed", status("failed", "30008"), receipt(bridge.SMSRejected, 30008), nil},
		{"canceled", status("canceled", ""), receipt(bridge.SMSDeleted, 0), nil},
		{"queued", status("queued", ""), receipt(bridge.SMSAccepted, 0), nil},
		{"accepted", status("accepted", ""), receipt(bridge.SMSAccepted, 0), nil},
		{"scheduled", status("scheduled", ""), receipt(bridge.SMSAccepted, 0), nil},
		{"sending", status("sending", ""), receipt(bridge.SMSEnroute, 0), nil},
		{"sent", status("sent", ""), receipt(bridge.SMSEnroute, 0), nil},
		{"unknown word", status("partially_delivered", ""), receipt(bridge.SMSUnknown, 0), nil},
		{"inbound SMS", url.Values{"MessageSid": {"SM9f0e8ae6ade43cb3c0ce4525424e4040"}, "SmsStatus": {"received"}, "From": {"+4915112345678"},
			"To": {"+15005550006"}, "Body": {"STOP please"}, "NumMedia": {"0"}, "NumSegments": {"1"}},
			[]bridge.SMSEvent{{Route: "tw", MO: &bridge.Message{Direction: bridge.Inbound, Channel: bridge.ChannelSMS, Business: "+15005550006",
				Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindText, Content: bridge.Content{Text: "STOP please"},
				WAMID: "SM9f0e8ae6ade43cb3c0ce4525424e4040", Timestamp: now}}}, nil},
		{"WhatsApp status", url.Values{"MessageSid": {testSid}, "MessageStatus": {"delivered"}, "From": {"whatsapp:+14155238886"}, "To": {"whatsapp:+4915112345678"}}, nil, ErrNotSMS},
		{"WhatsApp by ChannelPrefix", url.Values{"MessageSid": {testSid}, "MessageStatus": {"read"}, "ChannelPrefix": {"whatsapp"}, "From": {"+14155238886"}}, nil, ErrNotSMS},
		{"no sid", url.Values{"MessageStatus": {"delivered"}}, nil, ErrNotMessage},
	}
	for _, tc := range cases {
		got, err := smsEventsAt("tw", tc.params, now)
		if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
	if _, err := smsEventsAt("tw", url.Values{"MessageSid": {testSid}, "SmsStatus": {"received"}, "From": {"ACME"}, "Body": {"x"}}, now); err == nil {
		t.Error("MO from a non-number accepted")
	}
	if evs, err := SMSEvents("tw", status("delivered", "")); err != nil || evs[0].At.IsZero() {
		t.Errorf("SMSEvents: %v %v", evs, err)
	}
}

func TestIsSMS(t *testing.T) {
	for _, tc := range []struct {
		params url.Values
		want   bool
	}{
		{url.Values{"From": {"+15005550006"}, "To": {"+4915112345678"}}, true},
		{url.Values{"From": {"whatsapp:+4915112345678"}, "To": {"whatsapp:+14155238886"}}, false},
		{url.Values{"From": {"+15005550006"}, "ChannelPrefix": {"WhatsApp"}}, false},
		{url.Values{"From": {"+15005550006"}, "WaId": {"4915112345678"}}, false},
	} {
		if got := IsSMS(tc.params); got != tc.want {
			t.Errorf("IsSMS(%v) = %v", tc.params, got)
		}
	}
}

func TestIsAlphanumericSender(t *testing.T) {
	for s, want := range map[string]bool{"ACME": true, "ACME Shop": true, "Shop24": true, "123456": false, "": false,
		"TooLongSender1": false, "A-B": false, "+14155238886": false, "   ": false} {
		if got := isAlphanumericSender(s); got != want {
			t.Errorf("isAlphanumericSender(%q) = %v", s, got)
		}
	}
}
