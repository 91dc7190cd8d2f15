package sms

// Segment sizes (3GPP TS 23.040 §9.2.3.24.1; 140-octet user data). The
// multipart sizes leave room for the 6-octet concatenation UDH with an
// 8-bit reference (ConcatUDH with ref16 false); a 16-bit reference header is
// one octet longer and leaves 152 septets / 66 UTF-16 units.
const (
	GSMSingle  = 160 // septets in a single GSM 03.38 message
	GSMPart    = 153 // septets per part of a concatenated GSM 03.38 message
	UCS2Single = 70  // UTF-16 units in a single UCS-2 message
	UCS2Part   = 67  // UTF-16 units per part of a concatenated UCS-2 message
)

// Split encodes text (see Encode) and splits it into SMS segments: a text of
// up to 160 septets (GSM) or 70 UTF-16 units (UCS-2) is one part; a longer
// one is cut into parts of at most 153 septets / 67 units. A GSM escape
// sequence (ESC + code) or a UTF-16 surrogate pair is never cut: it moves
// whole to the next part, which leaves the previous part one short.
//
// It returns the coding and the parts' payloads without any UDH; there is
// always at least one part (the empty text gives one empty part). Decoding
// each part and concatenating the results gives the text back. The parts
// share one backing array but have capped capacity, so appending to one
// never overwrites another. Split does not limit the number of parts; a
// concatenation header counts at most 255.
func Split(text string) (Coding, [][]byte) {
	c, b := Encode(text)
	if c == CodingUCS2 {
		return c, splitUnits(b, 2*UCS2Single, 2*UCS2Part, 2, func(b []byte, n int) bool {
			hi := b[n-2] // first octet of the last unit: a high surrogate is 0xD8..0xDB
			return hi >= 0xD8 && hi < 0xDC
		})
	}
	return c, splitUnits(b, GSMSingle, GSMPart, 1, func(b []byte, n int) bool {
		// Encode emits 0x1B only as the first octet of an escape sequence
		// (no extension code is 0x1B), so a trailing 0x1B is a cut escape.
		return b[n-1] == gsmEsc
	})
}

// splitUnits cuts b into one part if len(b) <= single, else into parts of
// at most part octets. unit is the octets per code unit (1 for septets, 2
// for UTF-16) and cut(b, n) reports that b[:n] would end inside a two-unit
// sequence, in which case the part ends one unit earlier.
func splitUnits(b []byte, single, part, unit int, cut func(b []byte, n int) bool) [][]byte {
	if len(b) <= single {
		return [][]byte{b[:len(b):len(b)]}
	}
	parts := make([][]byte, 0, len(b)/(part-unit)+1)
	for len(b) > 0 {
		n := min(part, len(b))
		if n < len(b) && cut(b, n) {
			n -= unit
		}
		parts = append(parts, b[:n:n])
		b = b[n:]
	}
	return parts
}
