// Package golden reads, renders and checks the golden webhook files of the
// provider adapters' tests (adapters/whatsapp, adapters/twilio). A file is
// "# …" header lines, the first "# source: <documentation URL>"; the
// webhook as received (a JSON body, or form parameters one a line); a
// Sep line; and the events the adapter must make of it, as indented JSON.
package golden

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

// Sep separates a golden file's webhook from its expected events.
const Sep = "----------"

// File is one golden file.
type File struct {
	Path     string
	Header   []string // the "# …" lines
	Input    []string // the lines between the header and Sep, as written
	Expected []byte   // the expected events, trimmed
}

// Files lists testdata/webhooks/*.golden (at least one).
func Files(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "webhooks", "*.golden"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	return files
}

// Read reads a golden file; it fails the test when the source line or Sep
// is missing.
func Read(t testing.TB, path string) File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := File{Path: path}
	lines := strings.Split(string(data), "\n")
	i := 0
	for ; i < len(lines) && strings.HasPrefix(lines[i], "#"); i++ {
		f.Header = append(f.Header, lines[i])
	}
	if len(f.Header) == 0 || !strings.HasPrefix(f.Header[0], "# source: https://") {
		t.Fatalf("%s: first line must be \"# source: <URL>\"", path)
	}
	var expected []string
	seen := false
	for ; i < len(lines); i++ {
		switch {
		case lines[i] == Sep:
			seen = true
		case seen:
			expected = append(expected, lines[i])
		default:
			f.Input = append(f.Input, lines[i])
		}
	}
	if !seen {
		t.Fatalf("%s: no %q line", path, Sep)
	}
	f.Expected = []byte(strings.TrimSpace(strings.Join(expected, "\n")))
	return f
}

// event names the event members for readable expectations.
type event struct {
	Inbound *bridge.Message      `json:"inbound,omitempty"`
	Status  *bridge.StatusUpdate `json:"status,omitempty"`
	Other   *bridge.RawEvent     `json:"other,omitempty"`
}

// Render is events as the expectation is written: indented JSON.
func Render(t testing.TB, events []bridge.Event) []byte {
	t.Helper()
	out := make([]event, 0, len(events))
	for _, e := range events {
		out = append(out, event(e))
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

// Check compares got (from Render) with the file's expectation; with
// update it rewrites the expectation instead (the header and input kept,
// input as rewrite gives it), for review by eye.
func (f File) Check(t *testing.T, got []byte, update bool, input string) {
	t.Helper()
	if update {
		var b bytes.Buffer
		b.WriteString(strings.Join(f.Header, "\n") + "\n")
		b.WriteString(input + "\n")
		b.WriteString(Sep + "\n")
		b.Write(got)
		b.WriteString("\n")
		if err := os.WriteFile(f.Path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, f.Expected) {
		t.Errorf("events differ from %s (run with -update and review)\n--- got\n%s\n--- want\n%s", f.Path, got, f.Expected)
	}
}
