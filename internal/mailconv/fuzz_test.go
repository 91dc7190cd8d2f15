package mailconv

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse: Parse never panics, fails only with *MalformedError or
// *TooLargeError, and on success gives valid UTF-8 text and attachments
// whose content matches their size.
func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c.mail))
	}
	goldens, _ := filepath.Glob(filepath.Join("testdata", "render", "*.golden"))
	goldens = append(goldens, filepath.Join("testdata", "bounce.golden"))
	for _, g := range goldens {
		if b, err := os.ReadFile(g); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(strings.NewReader(string(data)), Options{Subject: SubjectPrepend, MaxAttachmentBytes: 1 << 20})
		if err != nil {
			var me *MalformedError
			var tl *TooLargeError
			if !errors.As(err, &me) && !errors.As(err, &tl) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if !utf8.ValidString(p.Text) {
			t.Fatalf("Text is not valid UTF-8: %q", p.Text)
		}
		if !utf8.ValidString(p.Subject) || !utf8.ValidString(p.FromName) {
			t.Fatalf("Subject or FromName not valid UTF-8: %q %q", p.Subject, p.FromName)
		}
		for _, a := range p.Attachments {
			if !utf8.ValidString(a.Filename) || strings.ContainsAny(a.Filename, "/\\") {
				t.Fatalf("bad file name %q", a.Filename)
			}
			r, err := a.Open()
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, r)
			if n != a.Size {
				t.Fatalf("%q: %d bytes, Size %d", a.Filename, n, a.Size)
			}
		}
		for _, piece := range p.TextParts() {
			if !utf8.ValidString(piece) || utf8.RuneCountInString(piece) > 4096 || piece == "" {
				t.Fatalf("bad piece %q", piece)
			}
		}
	})
}

// FuzzSplitText: pieces are valid UTF-8 (for valid input), non-empty,
// within max, and keep every non-space character in order.
func FuzzSplitText(f *testing.F) {
	f.Add("Hello world. This is a test.\n\nSecond paragraph 😀👍🏽🇩🇪", 7)
	f.Add("abc", 1)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if !utf8.ValidString(s) || max < 1 || max > 5000 {
			return
		}
		pieces := SplitText(s, max)
		strip := func(s string) string { return strings.Join(strings.Fields(s), "") }
		if strip(strings.Join(pieces, "")) != strip(s) {
			t.Fatalf("content changed: %q → %q", s, pieces)
		}
		for _, p := range pieces {
			if p == "" && len(pieces) > 1 || !utf8.ValidString(p) || utf8.RuneCountInString(p) > max {
				t.Fatalf("bad piece %q of %q", p, pieces)
			}
		}
	})
}
