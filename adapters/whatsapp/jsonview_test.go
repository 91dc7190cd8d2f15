package whatsapp

import "testing"

// scanString steps over strings of 0 to 40 plain characters followed by
// each kind of stop, ending where a byte-by-byte walk ends.
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
			if got, want := scanString(s, 0), scanStringByByte(s, 0); got != want {
				t.Errorf("%q: scanString %d, want %d", s, got, want)
			}
		}
	}
}

// scanStringByByte is scanString without the four-byte steps.
func scanStringByByte(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i <= 4 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return -1
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}
