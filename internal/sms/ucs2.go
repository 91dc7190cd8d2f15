package sms

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeUCS2 reads UTF-16BE strictly: odd lengths and surrogates outside a
// valid high+low pair are errors (warthog618's ucs2.Decode would turn them
// into U+FFFD).
func decodeUCS2(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("%w (%d octets)", ErrOddLength, len(b))
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/2)
	for i := 0; i < len(b); i += 2 {
		u := rune(b[i])<<8 | rune(b[i+1])
		switch {
		case u < 0xD800 || u >= 0xE000:
			sb.WriteRune(u)
		case u < 0xDC00 && i+3 < len(b):
			lo := rune(b[i+2])<<8 | rune(b[i+3])
			if lo < 0xDC00 || lo >= 0xE000 {
				return "", fmt.Errorf("%w: 0x%04X at offset %d", ErrLoneSurrogate, u, i)
			}
			sb.WriteRune(utf16.DecodeRune(u, lo))
			i += 2
		default:
			return "", fmt.Errorf("%w: 0x%04X at offset %d", ErrLoneSurrogate, u, i)
		}
	}
	return sb.String(), nil
}

// encodeUCS2 writes text as UTF-16BE with surrogate pairs above the BMP.
// Invalid UTF-8 is written as U+FFFD.
func encodeUCS2(text string) []byte {
	n := 0
	for _, r := range text {
		if r >= 0x10000 {
			n += 4
		} else {
			n += 2
		}
	}
	b := make([]byte, 0, n)
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		i += size
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			b = append(b, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
		} else {
			b = append(b, byte(r>>8), byte(r))
		}
	}
	return b
}
