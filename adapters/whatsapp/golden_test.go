package whatsapp

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

var update = flag.Bool("update", false, "rewrite the expectations of testdata/webhooks/*.golden")

// goldenSep separates a golden file's payload from its expected result.
const goldenSep = "----------"

// goldenNumbers is the business number of Meta's documentation examples.
var goldenNumbers = []Number{{PhoneNumberID: "106540352242922", BusinessNumber: "+15550783881"}}

// golden is one testdata/webhooks file: "# …" header lines (the first is
// "# source: <Meta doc URL>"), the payload, goldenSep, the expected events.
type golden struct {
	path     string
	header   []string
	payload  []byte
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
	var payload, expected []string
	seen := false
	for ; i < len(lines); i++ {
		switch {
		case lines[i] == goldenSep:
			seen = true
		case seen:
			expected = append(expected, lines[i])
		default:
			payload = append(payload, lines[i])
		}
	}
	if !seen {
		t.Fatalf("%s: no %q line", path, goldenSep)
	}
	g.payload = []byte(strings.Join(payload, "\n"))
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
			got := renderEvents(t, events)
			if *update {
				var b bytes.Buffer
				b.WriteString(strings.Join(g.header, "\n") + "\n")
				b.Write(bytes.TrimSpace(g.payload))
				b.WriteString("\n" + goldenSep + "\n")
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
