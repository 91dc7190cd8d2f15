package jsonlite

import (
	"encoding/json"
	"testing"
)

// TestAgainstEncodingJSON: a string is Plain exactly when encoding/json
// writes it as its bytes between quotes and reads those bytes back as it.
func TestAgainstEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "acme", "4915112345678", "wamid.HBgLMTY1", "مرحبا", "😀", "a b",
		`q"uote`, `back\slash`, "<b>", "a&b", "tab\t", "nl\n", "\x7f", "bad\xff", "\u2028", "\u2029", "\ufffd", "\xed\xa0\x80"} {
		checkString(t, s)
	}
}

func checkString(t *testing.T, s string) {
	t.Helper()
	enc, _ := json.Marshal(s)
	plain := string(enc) == `"`+s+`"`
	if got := Plain(s); got != plain {
		t.Errorf("Plain(%q) = %v, encoding/json writes %s", s, got, enc)
	}
	b, ok := AppendString([]byte("x"), s)
	if ok != plain || (ok && string(b) != "x"+string(enc)) || (!ok && string(b) != "x") {
		t.Errorf("AppendString(%q) = %q, %v", s, b, ok)
	}
	got, end, ok := ReadString(append(enc, ','), 0)
	if ok != plain || (ok && (got != s || end != len(enc))) {
		t.Errorf("ReadString(%s) = %q, %d, %v", enc, got, end, ok)
	}
}

func FuzzPlain(f *testing.F) {
	for _, s := range []string{"acme", "bad\xff", "<", "\u2028", "مرحبا"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkString(t, s)
		// ReadString of any bytes never claims more than a decoder would.
		if v, _, ok := ReadString([]byte(s), 0); ok {
			end, _ := QuotedEnd([]byte(s), 0)
			var want string
			if err := json.Unmarshal([]byte(s[:end]), &want); err != nil || want != v {
				t.Fatalf("ReadString(%q) = %q; encoding/json %q, %v", s, v, want, err)
			}
		}
	})
}
