package sms

import (
	"errors"
	"fmt"
	"strconv"
)

// Coding is an SMPP data_coding value (SMPP 3.4 §5.2.19).
type Coding byte

// data_coding values this package knows by name.
const (
	CodingDefault Coding = 0 // SMSC default alphabet; what it means is per account (see Decode's dc0)
	CodingIA5     Coding = 1 // IA5 (CCITT T.50) / ASCII
	CodingBinary  Coding = 2 // 8-bit binary
	CodingLatin1  Coding = 3 // ISO-8859-1
	CodingBinary2 Coding = 4 // 8-bit binary (the 23.038 "8-bit data" value)
	CodingUCS2    Coding = 8 // UCS-2, carried as UTF-16BE
)

// String returns a short name for the coding, or its number.
func (c Coding) String() string {
	switch c {
	case CodingDefault:
		return "default"
	case CodingIA5:
		return "IA5"
	case CodingBinary, CodingBinary2:
		return "binary(" + strconv.Itoa(int(c)) + ")"
	case CodingLatin1:
		return "Latin-1"
	case CodingUCS2:
		return "UCS-2"
	}
	return "data_coding(" + strconv.Itoa(int(c)) + ")"
}

// Errors returned by Decode. They are wrapped with detail (offset, value);
// test them with errors.Is.
var (
	// ErrUnsupportedCoding: the data_coding (or the account's meaning of
	// data_coding 0) is not a text coding this package decodes.
	ErrUnsupportedCoding = errors.New("sms: unsupported data_coding")
	// ErrInvalidSeptet: a GSM 03.38 octet above 0x7F (SMPP carries one septet per octet).
	ErrInvalidSeptet = errors.New("sms: invalid GSM 03.38 septet")
	// ErrDanglingEscape: GSM 03.38 text ends with a lone escape (0x1B).
	ErrDanglingEscape = errors.New("sms: GSM 03.38 text ends with a lone escape")
	// ErrNonASCII: an IA5 octet above 0x7F.
	ErrNonASCII = errors.New("sms: IA5 octet above 0x7F")
	// ErrOddLength: UCS-2 data with an odd number of octets.
	ErrOddLength = errors.New("sms: UCS-2 data has odd length")
	// ErrLoneSurrogate: UCS-2 data with a UTF-16 surrogate that is not part of a valid pair.
	ErrLoneSurrogate = errors.New("sms: UCS-2 data has a lone surrogate")
)

// Decode turns short_message / message_payload bytes (after any UDH) into
// UTF-8 text.
//
// dc0 says what data_coding 0 means for the account: CodingDefault means
// GSM 03.38 (unpacked, one septet per octet as SMPP carries it), or
// CodingIA5, or CodingLatin1; any other dc0 makes data_coding 0 fail with
// ErrUnsupportedCoding.
//
// Supported codings:
//   - 0: per dc0. GSM 03.38 uses the default alphabet and its extension
//     table (3GPP TS 23.038 §6.2.1). Per 23.038 §6.2.1.1, an escape followed
//     by a code the extension table does not define decodes as that code's
//     character in the main table, and ESC ESC (SS2, reserved) decodes as a
//     space; ESC CR2 (0x1B 0x0D, a control) therefore decodes as CR. A
//     trailing lone ESC is ErrDanglingEscape, an octet above 0x7F is
//     ErrInvalidSeptet.
//   - 1: IA5/ASCII; an octet above 0x7F is ErrNonASCII.
//   - 3: Latin-1 (every octet maps to the code point of the same value).
//   - 8: UCS-2 read as UTF-16BE, surrogate pairs included; an odd length is
//     ErrOddLength, a surrogate not in a valid pair is ErrLoneSurrogate.
//
// Everything else (2 and 4 binary, 5 JIS, 6 Cyrillic, ...) is
// ErrUnsupportedCoding. The result is always valid UTF-8.
func Decode(c Coding, b []byte, dc0 Coding) (string, error) {
	return DecodeNational(c, b, dc0, 0, 0)
}

// DecodeNational is Decode with 3GPP TS 23.038 §6.2.1.2 national language
// tables for GSM 03.38 text: locking and single are National Language
// Identifiers (23.038 §6.2.1.2.4) for the locking-shift (main) table and the
// single-shift (extension) table, as carried in UDH IEs 0x25 and 0x24 (see
// UDH.Shift); 0 or an unknown identifier selects the default table. Codes a
// national locking table leaves undefined decode as a space. The
// identifiers are ignored when the data is not GSM 03.38.
func DecodeNational(c Coding, b []byte, dc0 Coding, locking, single byte) (string, error) {
	if c == CodingDefault {
		switch dc0 {
		case CodingDefault:
			return decodeGSM(b, locking, single)
		case CodingIA5, CodingLatin1:
			c = dc0
		default:
			return "", fmt.Errorf("%w: data_coding 0 configured as %d", ErrUnsupportedCoding, byte(dc0))
		}
	}
	switch c {
	case CodingIA5:
		return decodeIA5(b)
	case CodingLatin1:
		return decodeLatin1(b), nil
	case CodingUCS2:
		return decodeUCS2(b)
	}
	return "", fmt.Errorf("%w: %d", ErrUnsupportedCoding, byte(c))
}

// Encode picks the coding for text to send as SMS: GSM 03.38
// (CodingDefault) when every character is in the default alphabet or its
// extension table, else UCS-2. It returns the coding and the whole encoded
// text: for GSM one septet per octet with escapes included (an extension
// character costs two septets, ESC + code); for UCS-2 UTF-16BE with
// surrogate pairs for characters beyond the BMP.
//
// Decode(coding, b, CodingDefault) gives text back for any valid UTF-8 text;
// invalid UTF-8 sequences are sent as U+FFFD. The empty text encodes as GSM
// with no octets. The escape character U+001B itself is not encodable in GSM
// and forces UCS-2.
func Encode(text string) (Coding, []byte) {
	if b, ok := encodeGSM(text); ok {
		return CodingDefault, b
	}
	return CodingUCS2, encodeUCS2(text)
}

// decodeIA5 accepts 7-bit ASCII only.
func decodeIA5(b []byte) (string, error) {
	for i, c := range b {
		if c > 0x7F {
			return "", fmt.Errorf("%w: 0x%02x at offset %d", ErrNonASCII, c, i)
		}
	}
	return string(b), nil
}

// decodeLatin1 maps each octet to the code point of the same value.
func decodeLatin1(b []byte) string {
	n := len(b)
	for _, c := range b {
		if c >= 0x80 {
			n++
		}
	}
	out := make([]byte, 0, n)
	for _, c := range b {
		if c < 0x80 {
			out = append(out, c)
		} else {
			out = append(out, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return string(out)
}
