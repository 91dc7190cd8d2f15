package whatsapp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

// BenchmarkVerifySignature: HMAC-SHA256 over the raw body plus the
// constant-time compare, for a typical and a large webhook.
func BenchmarkVerifySignature(b *testing.B) {
	const secret = "0123456789abcdef0123456789abcdef"
	for _, size := range []int{1 << 10, 16 << 10} {
		body := bytes.Repeat([]byte(`{"a":1}`), size/7+1)[:size]
		header := sign(secret, body)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if !VerifySignature(secret, body, header) {
					b.Fatal("signature refused")
				}
			}
		})
		// As the server checks: one Verifier for the app secret.
		v := NewVerifier(secret)
		b.Run(fmt.Sprintf("Verifier/%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if !v.Verify(body, header) {
					b.Fatal("signature refused")
				}
			}
		})
	}
}

// benchParse parses one golden payload per iteration and checks the
// expected number of events once.
func benchParse(b *testing.B, file string, wantEvents int) {
	g := readGolden(b, filepath.Join("testdata", "webhooks", file))
	p := NewParser(goldenNumbers)
	events, err := p.Parse(g.payload)
	if err != nil || len(events) != wantEvents {
		b.Fatalf("%s: %d events, %v; want %d", file, len(events), err, wantEvents)
	}
	// Meta sends bodies compact; the golden files are indented for reading.
	var compacted bytes.Buffer
	if err := json.Compact(&compacted, g.payload); err != nil {
		b.Fatal(err)
	}
	for _, body := range []struct {
		name    string
		payload []byte
	}{{"compact", compacted.Bytes()}, {"indented", g.payload}} {
		b.Run(body.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body.payload)))
			for b.Loop() {
				if _, err := p.Parse(body.payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseStatusWebhook(b *testing.B) { benchParse(b, "status-delivered.golden", 1) }

func BenchmarkParseInboundTextWebhook(b *testing.B) { benchParse(b, "text.golden", 1) }

// BenchmarkParseBatched: two entries, three changes (a message, a status,
// a template status update).
func BenchmarkParseBatched(b *testing.B) { benchParse(b, "batched.golden", 3) }

// BenchmarkBuildTemplateBody: the send body of a template with a media
// header, positional body parameters and two buttons.
func BenchmarkBuildTemplateBody(b *testing.B) {
	msgs := map[string]*bridge.Message{
		"positional": tplMsg(&bridge.Template{
			Name: "order_update", Language: "en_US",
			Params:      []string{"Jo", "#42", "Tuesday"},
			HeaderMedia: &bridge.TemplateMedia{Type: "document", Link: "https://example.com/invoice-42.pdf", Filename: "invoice-42.pdf"},
			Buttons: []bridge.TemplateButton{
				{SubType: "quick_reply", Index: 0, Payload: "STOP"},
				{SubType: "url", Index: 1, Payload: "orders/42"},
			},
		}),
		"named": tplMsg(&bridge.Template{
			Name: "order_update", Language: "en_US",
			NamedParams: map[string]string{"first_name": "Jo", "order": "#42", "day": "Tuesday"},
			HeaderText:  "Your order",
		}),
	}
	for _, name := range []string{"positional", "named"} {
		m := msgs[name]
		b.Run(name, func(b *testing.B) {
			if _, err := BuildMessageBody(m); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := BuildMessageBody(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
