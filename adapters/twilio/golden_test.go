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
)

var update = flag.Bool("update", false, "rewrite the expectations of testdata/webhooks/*.golden")

// goldenSep separates a golden file's parameters from its expected result.
const goldenSep = "----------"

// goldenNow is the reception time of every golden webhook (Twilio's
// webhooks carry none).
var goldenNow = time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)

// golden is one testdata/webhooks file: "# …" header lines (the first is
// "# source: <Twilio doc URL>"), the form parameters one "name=value" a line
// as they appear in the body (percent-encoded), goldenSep, the expected events.
type golden struct {
	path     string
	header   []string
	lines    []string
	params   url.Values
	expected []byte
}

func readGolden(t testing.TB, path string) golden {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g := golden{path: path}
	lines := strings.Split(string(data), "\n")
	i := 0
	for ; i < len(lines) && strings.HasPrefix(lines[i], "#"); i++ {
		g.header = append(g.header, lines[i])
	}
	if len(g.header) == 0 || !strings.HasPrefix(g.header[0], "# source: https://") {
		t.Fatalf("%s: first line must be \"# source: <URL>\"", path)
	}
	var expected []string
	seen := false
	for ; i < len(lines); i++ {
		switch {
		case lines[i] == goldenSep:
			seen = true
		case seen:
			expected = append(expected, lines[i])
		case strings.TrimSpace(lines[i]) != "":
			g.lines = append(g.lines, lines[i])
		}
	}
	if !seen {
		t.Fatalf("%s: no %q line", path, goldenSep)
	}
	g.params, err = url.ParseQuery(strings.Join(g.lines, "&"))
	if err != nil {
		t.Fatalf("%s: parameters: %v", path, err)
	}
	g.expected = []byte(strings.TrimSpace(strings.Join(expected, "\n")))
	return g
}

func goldenFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "webhooks", "*.golden"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	return files
}

// goldenEvent names the event members for readable expectations.
type goldenEvent struct {
	Inbound *bridge.Message      `json:"inbound,omitempty"`
	Status  *bridge.StatusUpdate `json:"status,omitempty"`
	Other   *bridge.RawEvent     `json:"other,omitempty"`
}

func renderEvents(t testing.TB, events []bridge.Event) []byte {
	t.Helper()
	out := make([]goldenEvent, 0, len(events))
	for _, e := range events {
		out = append(out, goldenEvent(e))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b.Bytes())
}

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
			got := renderEvents(t, events)
			if *update {
				var b bytes.Buffer
				b.WriteString(strings.Join(g.header, "\n") + "\n")
				b.WriteString(strings.Join(g.lines, "\n") + "\n")
				b.WriteString(goldenSep + "\n")
				b.Write(got)
				b.WriteString("\n")
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !bytes.Equal(got, g.expected) {
				t.Errorf("events differ from %s (run with -update and review)\n--- got\n%s\n--- want\n%s", path, got, g.expected)
			}
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
