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

// TestEachMemberAndElement: the readers take compact objects and arrays
// and refuse what they leave to encoding/json (whitespace, a member the
// callback does not take, a truncated value).
func TestEachMemberAndElement(t *testing.T) {
	readObj := func(in string) (map[string]string, int, bool) {
		got := map[string]string{}
		b := []byte(in)
		i, ok := EachMember(b, 0, func(key []byte, i int) (int, bool) {
			if string(key) == "skip" {
				return i, false
			}
			v, j, ok := ReadString(b, i)
			got[string(key)] = v
			return j, ok
		})
		return got, i, ok
	}
	for _, c := range []struct {
		in   string
		want int // index past the object; -1: refused
	}{
		{`{}`, 2}, {`{"a":"1","b":"2"}x`, 17}, {`{"a":"1","a":"2"}`, 17},
		{`{ "a":"1"}`, -1}, {`{"a": "1"}`, -1}, {`{"skip":"1"}`, -1}, {`{"a":"1",}`, -1}, {`{"a":"1"`, -1}, {`["a"]`, -1}, {``, -1},
	} {
		got, i, ok := readObj(c.in)
		if ok != (c.want >= 0) || (ok && i != c.want) {
			t.Errorf("EachMember(%s) = %v, %d, %v; want end %d", c.in, got, i, ok, c.want)
		}
	}
	if got, _, _ := readObj(`{"a":"1","a":"2"}`); got["a"] != "2" {
		t.Errorf("a repeated member: %q, want the last", got["a"])
	}
	var n int
	count := func(in string) (int, bool) {
		n = 0
		b := []byte(in)
		return EachElement(b, 0, func(i int) (int, bool) {
			n++
			_, j, ok := ReadBool(b, i)
			return j, ok
		})
	}
	if i, ok := count(`[true,false,true]`); !ok || i != 17 || n != 3 {
		t.Errorf("EachElement: %d, %v, %d elements", i, ok, n)
	}
	for _, in := range []string{`[]`, `[true]`} {
		if _, ok := count(in); !ok {
			t.Errorf("EachElement(%s) refused", in)
		}
	}
	for _, in := range []string{`[true,]`, `[true false]`, `[tru]`, `[ true]`, `{}`, `[true`} {
		if _, ok := count(in); ok {
			t.Errorf("EachElement(%s) accepted", in)
		}
	}
}

// TestWriter: members are written as given, empty optional ones left out,
// and a string encoding/json would escape (or Fail) stops the document.
func TestWriter(t *testing.T) {
	w := NewWriter(nil)
	w.String(`{"a":`, "x")
	w.OptString(`,"b":`, "")
	w.OptInt(`,"c":`, 0)
	w.Int(`,"d":`, -7)
	w.OptInt(`,"e":`, 3)
	w.Raw(`}`)
	if !w.OK || string(w.B) != `{"a":"x","d":-7,"e":3}` {
		t.Errorf("got %s, %v", w.B, w.OK)
	}
	w = NewWriter(nil)
	w.String(`{"a":`, "<x>")
	w.Raw(`}`)
	if w.OK {
		t.Errorf("a string needing escapes written: %s", w.B)
	}
	w = NewWriter(nil)
	w.Fail()
	w.String(`{"a":`, "x")
	if w.OK || len(w.B) != 0 {
		t.Errorf("written after Fail: %s", w.B)
	}
}
