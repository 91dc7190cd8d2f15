package twilio

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzValidate: Validate and ValidateJSON never panic; Validate accepts a
// signature Sign made and refuses it under another token.
func FuzzValidate(f *testing.F) {
	f.Add(exampleToken, exampleURL, "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212", docsSignature)
	f.Add(exampleToken, "https://user:pass@mycompany.com:1234/x?bodySHA256=00", "Digits=1&Digits=1&Digits=2", "kvajT1Ptam85bY51eRf/AJRuM3w=")
	f.Add("t", "http://[::1]:80/p#f", "a=%zz", "")
	f.Add("", "://", "", "=")
	f.Fuzz(func(t *testing.T, token, rawURL, body, signature string) {
		p, _ := url.ParseQuery(body)
		_ = Validate(token, rawURL, p, signature)
		_ = ValidateJSON(token, rawURL, []byte(body), signature)
		if token == "" {
			if Validate(token, rawURL, p, Sign(token, rawURL, p)) {
				t.Fatal("empty token validated")
			}
			return
		}
		sig := Sign(token, rawURL, p)
		if !Validate(token, rawURL, p, sig) {
			t.Fatalf("own signature rejected: %q %q", rawURL, body)
		}
		if Validate(token+"x", rawURL, p, sig) {
			t.Fatalf("accepted under another token: %q %q", rawURL, body)
		}
		// A JSON body signed the way Twilio does it validates: a URL whose
		// query carries the body's hash (appending it may not get it there:
		// after a '#' it lands in the fragment, and a query may already
		// name another bodySHA256 — those must not validate).
		u := rawURL
		if !strings.Contains(u, "?") {
			u += "?"
		} else {
			u += "&"
		}
		hash := BodySHA256([]byte(body))
		u += "bodySHA256=" + hash
		got, ok := bodySHA256Param(u)
		if valid := ValidateJSON(token, u, []byte(body), Sign(token, u, nil)); ok && got == hash && !valid {
			t.Fatalf("own JSON signature rejected: %q", u)
		} else if valid && got != hash {
			t.Fatalf("JSON body validated against another hash %q: %q", got, u)
		}
	})
}

// FuzzParseWebhook: ParseWebhook never panics, fails only with
// ErrNotMessage, and every event it returns is well formed and marshals.
// Seeded with every golden parameter set.
func FuzzParseWebhook(f *testing.F) {
	for _, path := range goldenFiles(f) {
		f.Add(readGolden(f, path).params.Encode())
	}
	f.Add("MessageSid=SM1&SmsStatus=received&From=whatsapp:US.1&NumMedia=99&MediaUrl0=x&MediaUrl9=y&Latitude=1e999&Longitude=-0")
	f.Add("SmsSid=SM1&MessageStatus=failed&ErrorCode=99999999999999999999&To=whatsapp:")
	f.Add("MessageSid=SM1&Body=%ff%fe&From=%2B1&ButtonText=&ExternalUserId=whatsapp:ID.1&ReferralBody=%00")
	f.Fuzz(func(t *testing.T, body string) {
		p, _ := url.ParseQuery(body)
		events, err := parseAt(p, goldenNow)
		if err != nil {
			if err != ErrNotMessage || events != nil {
				t.Fatalf("events %v with error %v", events, err)
			}
			return
		}
		if len(events) == 0 {
			t.Fatal("no events and no error")
		}
		checkEventInvariants(t, events)
		for _, e := range events {
			if _, err := json.Marshal(e); err != nil {
				t.Fatalf("event does not marshal: %v", err)
			}
		}
	})
}
