package twilio

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the expectations of testdata/webhooks/*.golden")

// goldenNow is the reception time of every golden webhook (Twilio's
// webhooks carry none).
var goldenNow = time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)

// goldenWebhook is one testdata/webhooks file (see internal/golden; the
// first header line is "# source: <Twilio doc URL>"): its form parameters
// one "name=value" a line as they appear in the body (percent-encoded).
type goldenWebhook struct {
	golden.File
	lines  []string
	params url.Values
}

func readGolden(t testing.TB, path string) goldenWebhook {
	t.Helper()
	g := goldenWebhook{File: golden.Read(t, path)}
	for _, l := range g.Input {
		if strings.TrimSpace(l) != "" {
			g.lines = append(g.lines, l)
		}
	}
	var err error
	if g.params, err = url.ParseQuery(strings.Join(g.lines, "&")); err != nil {
		t.Fatalf("%s: parameters: %v", path, err)
	}
	return g
}

func goldenFiles(t testing.TB) []string { t.Helper(); return golden.Files(t) }

// TestGoldenWebhooks parses every documented parameter set and compares the
// events with the file's expectation. Run with -update to rewrite
// expectations, then review the diff by eye.
func TestGoldenWebhooks(t *testing.T) {
	for _, path := range goldenFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g := readGolden(t, path)
			events, err := parseAt(g.params, goldenNow)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			checkEventInvariants(t, events)
			g.Check(t, golden.Render(t, events), *update, strings.Join(g.lines, "\n"))
		})
	}
}

// TestGoldenSources: every golden file is listed, with its source, in
// testdata/webhooks/README.md.
func TestGoldenSources(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("testdata", "webhooks", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range goldenFiles(t) {
		if !bytes.Contains(readme, []byte(filepath.Base(path))) {
			t.Errorf("%s is not described in testdata/webhooks/README.md", filepath.Base(path))
		}
	}
}

// checkEventInvariants holds for every parse result: exactly one member per
// event, identities present, raw JSON kept and valid, WAMIDs unique.
func checkEventInvariants(t testing.TB, events []bridge.Event) {
	t.Helper()
	wamids := map[string]bool{}
	for i, e := range events {
		n := 0
		if m := e.Inbound; m != nil {
			n++
			if m.WAMID == "" || m.Customer.IsZero() || !json.Valid(m.Content.Raw) || m.Direction != bridge.Inbound || m.Kind == "" {
				t.Errorf("event %d: inbound without wamid, customer, kind or raw: %+v", i, m)
			}
			if m.Customer.BSUID != "" && !bridge.IsBSUID(m.Customer.BSUID) {
				t.Errorf("event %d: BSUID %q is not one", i, m.Customer.BSUID)
			}
			if m.Kind.IsMedia() != (m.Content.Media != nil) {
				t.Errorf("event %d: kind %s with media %v", i, m.Kind, m.Content.Media)
			}
			if wamids[m.WAMID] {
				t.Errorf("event %d: wamid %s twice", i, m.WAMID)
			}
			wamids[m.WAMID] = true
		}
		if s := e.Status; s != nil {
			n++
			if s.WAMID == "" || s.RawStatus == "" || !json.Valid(s.Raw) {
				t.Errorf("event %d: status without wamid, status or raw: %+v", i, s)
			}
			if s.Action != 0 && s.Status != bridge.StatusFailed {
				t.Errorf("event %d: action %s on a %q status", i, s.Action, s.Status)
			}
		}
		if o := e.Other; o != nil {
			n++
			if o.Key == "" || !json.Valid(o.Raw) {
				t.Errorf("event %d: other without key or raw: %+v", i, o)
			}
		}
		if n != 1 {
			t.Errorf("event %d has %d members set", i, n)
		}
	}
}
