package twilio

import (
	"net/url"
	"strings"
	"testing"
)

// benchWebhook is what the webhook route does per Twilio webhook: parse
// the form body, check X-Twilio-Signature, turn it into events.
func benchWebhook(b *testing.B, file string) {
	g := readGolden(b, "testdata/webhooks/"+file)
	body := strings.Join(g.lines, "&")
	const u = "https://wa.example.com/webhooks/twilio"
	sig := Sign("bench-token", u, g.params)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		params, err := url.ParseQuery(body)
		if err != nil {
			b.Fatal(err)
		}
		if !Validate("bench-token", u, params, sig) {
			b.Fatal("signature")
		}
		if _, err := ParseWebhook(params); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWebhookStatus(b *testing.B)  { benchWebhook(b, "status-delivered.golden") }
func BenchmarkWebhookInbound(b *testing.B) { benchWebhook(b, "inbound-text.golden") }
