package sms

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/warthog618/sms/encoding/gsm7/charset"
)

const (
	gsmEsc    = 0x1B // escape to the extension (single-shift) table
	gsmCR2    = 0x0D // extension-table control "CR2": no character of its own
	noRune    = -1   // table slot with no character
	encExt    = 0x100
	encMain   = 0x200
	encLowLen = 0x400 // runes below this are looked up in an array
)

// gsmSet is one GSM 03.38 character set: a main (locking-shift) table and an
// extension (single-shift) table, indexed by septet. Built once from the
// warthog618 charset maps and read-only afterwards.
//
// Slot 0x1B of both tables is always noRune: in the main table it is the
// escape, in the extension table it is SS2, which decodes as a space.
// Extension slot 0x0D (CR2) is noRune too, so it decodes through the main
// table as CR (warthog618 maps it to LF, which 23.038 does not say).
type gsmSet struct {
	main [128]rune
	ext  [128]rune
}

func newGSMSet(main, ext charset.Decoder) *gsmSet {
	s := &gsmSet{}
	for i := range s.main {
		s.main[i], s.ext[i] = noRune, noRune
	}
	for k, r := range main {
		if k < 0x80 && k != gsmEsc {
			s.main[k] = r
		}
	}
	for k, r := range ext {
		if k < 0x80 && k != gsmEsc && k != gsmCR2 {
			s.ext[k] = r
		}
	}
	return s
}

// gsmEncoder maps a rune to encMain|septet or encExt|code (0 = not
// encodable) for the default alphabet and extension table.
type gsmEncoder struct {
	low  [encLowLen]uint16
	high map[rune]uint16
}

func newGSMEncoder(s *gsmSet) *gsmEncoder {
	e := &gsmEncoder{high: make(map[rune]uint16)}
	put := func(r rune, v uint16) {
		if r < encLowLen {
			if e.low[r] == 0 {
				e.low[r] = v
			}
		} else if _, ok := e.high[r]; !ok {
			e.high[r] = v
		}
	}
	// Main table first so a character in both tables costs one septet.
	for k, r := range s.main {
		if r != noRune {
			put(r, encMain|uint16(k))
		}
	}
	for k, r := range s.ext {
		if r != noRune {
			put(r, encExt|uint16(k))
		}
	}
	return e
}

func (e *gsmEncoder) lookup(r rune) uint16 {
	if r >= 0 && r < encLowLen {
		return e.low[r]
	}
	return e.high[r]
}

// The default tables are built during package initialisation (before any
// goroutine can call in, which also keeps warthog618's lazily-filled maps
// race-free) and never written again.
var (
	gsmDefault        = newGSMSet(charset.DefaultDecoder(), charset.DefaultExtDecoder())
	gsmDefaultEncoder = newGSMEncoder(gsmDefault)
)

// gsmNational holds, per National Language Identifier, the locking-shift
// (main) and single-shift (extension) tables. Built on first use.
var gsmNational = sync.OnceValue(func() *[charset.End][2]*gsmSet {
	var t [charset.End][2]*gsmSet
	for nli := charset.Start; nli < charset.End; nli++ {
		lock := newGSMSet(charset.NewDecoder(nli), nil)
		shift := newGSMSet(nil, charset.NewExtDecoder(nli))
		t[nli] = [2]*gsmSet{lock, shift}
	}
	return &t
})

// gsmTables returns the main and extension tables for the given National
// Language Identifiers; 0 or unknown identifiers give the default tables.
func gsmTables(locking, single byte) (main, ext *[128]rune) {
	main, ext = &gsmDefault.main, &gsmDefault.ext
	if locking == 0 && single == 0 {
		return main, ext
	}
	nat := gsmNational()
	if int(locking) >= charset.Start && int(locking) < charset.End {
		main = &nat[locking][0].main
	}
	if int(single) >= charset.Start && int(single) < charset.End {
		ext = &nat[single][1].ext
	}
	return main, ext
}

// decodeGSM decodes unpacked GSM 03.38 septets; see Decode for the rules.
func decodeGSM(b []byte, locking, single byte) (string, error) {
	main, ext := gsmTables(locking, single)
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/2)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 0x80 {
			return "", fmt.Errorf("%w: 0x%02x at offset %d", ErrInvalidSeptet, c, i)
		}
		if c == gsmEsc {
			i++
			if i == len(b) {
				return "", fmt.Errorf("%w at offset %d", ErrDanglingEscape, i-1)
			}
			c = b[i]
			if c >= 0x80 {
				return "", fmt.Errorf("%w: 0x%02x at offset %d", ErrInvalidSeptet, c, i)
			}
			if c == gsmEsc { // SS2: 23.038 says display a space
				sb.WriteByte(' ')
				continue
			}
			if r := ext[c]; r != noRune {
				sb.WriteRune(r)
				continue
			}
			// Unknown escape: 23.038 §6.2.1.1 says show the main-table character.
		}
		r := main[c]
		if r == noRune {
			r = ' '
		}
		sb.WriteRune(r)
	}
	return sb.String(), nil
}

// encodeGSM encodes text as unpacked GSM 03.38 septets with the default
// tables; ok is false when some character is not representable.
func encodeGSM(text string) (b []byte, ok bool) {
	e := gsmDefaultEncoder
	n := 0
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError {
				return nil, false
			}
		}
		i += size
		v := e.lookup(r)
		switch {
		case v == 0:
			return nil, false
		case v&encExt != 0:
			n += 2
		default:
			n++
		}
	}
	b = make([]byte, 0, n)
	for _, r := range text {
		v := e.lookup(r)
		if v&encExt != 0 {
			b = append(b, gsmEsc)
		}
		b = append(b, byte(v))
	}
	return b, true
}
