package whatsapp

import (
	"encoding/json"
	"testing"
)

// scanString steps over strings of 0 to 40 plain characters followed by
// each kind of stop, ending where encoding/json says the string ends.
func TestScanStringEveryLength(t *testing.T) {
	for n := 0; n <= 40; n++ {
		for _, tail := range []string{`"`, `\"x"`, `\u00e9"`, "\x01\"", `\q"`, ``} {
			s := make([]byte, 0, n+8)
			s = append(s, '"')
			for i := 0; i < n; i++ {
				s = append(s, 'a'+byte(i%26))
				if i%2 == 1 {
					s = append(s, 0xc3, 0xa9) // é: bytes from 0x80 are plain
				}
			}
			s = append(s, tail...)
			if got, want := scanString(s, 0), jsonStringEnd(s); got != want {
				t.Errorf("%q: scanString %d, want %d", s, got, want)
			}
		}
	}
}

// jsonStringEnd is where encoding/json says the string literal at the start
// of b ends: the shortest prefix that is a valid JSON value, -1 if none.
func jsonStringEnd(b []byte) int {
	for k := 2; k <= len(b); k++ {
		if json.Valid(b[:k]) {
			return k
		}
	}
	return -1
}
