// Package jsonlite writes and reads the plainest JSON strings by hand, for
// hot paths whose documents are small and fixed: a string encoding/json
// would write without escapes is copied between quotes, and anything else
// is for the caller to hand to encoding/json, so results never differ.
package jsonlite

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// Plain reports whether encoding/json writes s as its bytes between
// quotes, and decodes those bytes back to s: valid UTF-8 without control
// characters, quotes, backslashes, the HTML characters it escapes (<, >,
// &), U+2028 or U+2029.
func Plain(s string) bool {
	var seen uint8
	for i := 0; i < len(s); i++ {
		seen |= class[s[i]]
	}
	switch {
	case seen == 0:
		return true
	case seen&escaped != 0:
		return false
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += n
	}
	return true
}

// class marks the bytes Plain looks at: escaped ones, and the bytes of
// multi-byte UTF-8 sequences (then the runes are checked).
const (
	escaped   = 1
	multiByte = 2
)

var class = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = escaped
	}
	for _, c := range `"\<>&` {
		t[c] = escaped
	}
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = multiByte
	}
	return t
}()

// AppendString appends s quoted when it is Plain; false (b unchanged)
// otherwise.
func AppendString(b []byte, s string) ([]byte, bool) {
	if !Plain(s) {
		return b, false
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// QuotedEnd returns the index just past the string that opens at b[i]
// when it has no escapes or control characters; false otherwise (or when
// b[i] is not a quote).
func QuotedEnd(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20, c == '\\':
			return i, false
		}
	}
	return i, false
}

// ReadString reads the string that opens at b[i] when it is Plain: the
// string and the index just past it.
func ReadString(b []byte, i int) (string, int, bool) {
	j, ok := QuotedEnd(b, i)
	if !ok {
		return "", i, false
	}
	s := string(b[i+1 : j-1])
	return s, j, Plain(s)
}

// EachMember reads the object at b[i], calling f with each member's name
// (unquoted, without escapes) and the index of its value; f returns the
// index just past the value, or false for a member it does not take. It
// returns the index just past the object.
func EachMember(b []byte, i int, f func(key []byte, i int) (int, bool)) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return i, false
	}
	i++
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		j, ok := QuotedEnd(b, i)
		if !ok || j >= len(b) || b[j] != ':' {
			return i, false
		}
		if i, ok = f(b[i+1:j-1], j+1); !ok || i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// EachElement reads the array at b[i], calling f with the index of each
// element; f returns the index just past it. It returns the index just
// past the array.
func EachElement(b []byte, i int, f func(i int) (int, bool)) (int, bool) {
	if i >= len(b) || b[i] != '[' {
		return i, false
	}
	i++
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = f(i); !ok || i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// ReadBool reads true or false at b[i].
func ReadBool(b []byte, i int) (bool, int, bool) {
	switch {
	case bytes.HasPrefix(b[i:], []byte("true")):
		return true, i + 4, true
	case bytes.HasPrefix(b[i:], []byte("false")):
		return false, i + 5, true
	}
	return false, i, false
}

// Writer appends a small JSON document whose strings are all Plain: a
// string that is not stops it (OK false) and the caller then hands the
// value to encoding/json. Member names and punctuation are the caller's,
// passed with each value as written (`,"name":`).
type Writer struct {
	B  []byte
	OK bool
}

// NewWriter starts a document in b.
func NewWriter(b []byte) Writer { return Writer{B: b, OK: true} }

// Raw appends s as it is: names, punctuation, numbers written elsewhere.
func (w *Writer) Raw(s string) {
	if w.OK {
		w.B = append(w.B, s...)
	}
}

// String appends key and s quoted.
func (w *Writer) String(key, s string) {
	if w.OK {
		w.B = append(w.B, key...)
		w.B, w.OK = AppendString(w.B, s)
	}
}

// OptString is String for a member encoding/json omits when empty.
func (w *Writer) OptString(key, s string) {
	if s != "" {
		w.String(key, s)
	}
}

// Int appends key and v.
func (w *Writer) Int(key string, v int64) {
	if w.OK {
		w.B = strconv.AppendInt(append(w.B, key...), v, 10)
	}
}

// OptInt is Int for a member encoding/json omits when zero.
func (w *Writer) OptInt(key string, v int64) {
	if v != 0 {
		w.Int(key, v)
	}
}

// Fail stops the document: the value has something only encoding/json writes.
func (w *Writer) Fail() { w.OK = false }
