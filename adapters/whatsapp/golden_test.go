package whatsapp

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the expectations of testdata/webhooks/*.golden")

// goldenNumbers is the business number of Meta's documentation examples.
var goldenNumbers = []Number{{PhoneNumberID: "106540352242922", BusinessNumber: "+15550783881"}}

// goldenWebhook is one testdata/webhooks file (see internal/golden; the
// first header line is "# source: <Meta doc URL>") with its JSON body.
type goldenWebhook struct {
	golden.File
	payload []byte
}

func readGolden(t testing.TB, path string) goldenWebhook {
	t.Helper()
	f := golden.Read(t, path)
	return goldenWebhook{File: f, payload: []byte(strings.Join(f.Input, "\n"))}
}

func goldenFiles(t testing.TB) []string { t.Helper(); return golden.Files(t) }

// TestGoldenWebhooks parses every documented payload and compares the events
// with the file's expectation. Run with -update to rewrite expectations, then
// review the diff by eye.
func TestGoldenWebhooks(t *testing.T) {
	p := NewParser(goldenNumbers)
	for _, path := range goldenFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g := readGolden(t, path)
			events, err := p.Parse(g.payload)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkEventInvariants(t, events)
			g.Check(t, golden.Render(t, events), *update, string(bytes.TrimSpace(g.payload)))
		})
	}
}

// checkEventInvariants holds for every parse result: exactly one member per
// event, identities present, raw JSON kept and valid.
func checkEventInvariants(t testing.TB, events []bridge.Event) {
	t.Helper()
	for i, e := range events {
		n := 0
		if e.Inbound != nil {
			n++
			m := e.Inbound
			if m.WAMID == "" || m.Customer.IsZero() || !json.Valid(m.Content.Raw) {
				t.Errorf("event %d: inbound without wamid, customer or raw: %+v", i, m)
			}
		}
		if e.Status != nil {
			n++
			if e.Status.WAMID == "" || e.Status.RawStatus == "" || !json.Valid(e.Status.Raw) {
				t.Errorf("event %d: status without wamid, status or raw: %+v", i, e.Status)
			}
		}
		if e.Other != nil {
			n++
			if e.Other.Key == "" || !json.Valid(e.Other.Raw) {
				t.Errorf("event %d: other without key or raw: %+v", i, e.Other)
			}
		}
		if n != 1 {
			t.Errorf("event %d has %d members set", i, n)
		}
	}
}
