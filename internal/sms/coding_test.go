package sms

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/warthog618/sms/encoding/gsm7"
	"github.com/warthog618/sms/encoding/ucs2"
)

// gsmDefaultAlphabet is the 3GPP TS 23.038 §6.2.1 default alphabet in septet
// order 0x00..0x7F, written out independently of warthog618, without 0x1B
// (the escape).
const gsmDefaultAlphabet = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ" + /* 0x1B ESC */ "ÆæßÉ" +
	" !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmnopqrstuvwxyzäöñüà"

func gsmDefaultSeptets() []byte {
	var b []byte
	for i := range 0x80 {
		if i != 0x1B {
			b = append(b, byte(i))
		}
	}
	return b
}

func h(s string) []byte { // "00 48" style hex for readable vectors
	var b []byte
	for f := range strings.FieldsSeq(s) {
		var v byte
		for _, c := range f {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'A' && c <= 'F':
				v |= byte(c-'A') + 10
			case c >= 'a' && c <= 'f':
				v |= byte(c-'a') + 10
			}
		}
		b = append(b, v)
	}
	return b
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		coding  Coding
		want    []byte // nil: not checked
		septets int    // GSM only: len(want) expected
	}{
		{name: "empty", text: "", coding: CodingDefault, want: []byte{}},
		{name: "ascii", text: "Hello, World!", coding: CodingDefault, want: []byte("Hello, World!")},
		{name: "gsm default alphabet (23.038 §6.2.1)", text: gsmDefaultAlphabet, coding: CodingDefault, want: gsmDefaultSeptets()},
		// 23.038 §6.2.1.1 extension table: each costs ESC + code.
		{name: "extension chars", text: "€[]{}~\\^|\f", coding: CodingDefault,
			want: h("1B 65 1B 3C 1B 3E 1B 28 1B 29 1B 3D 1B 2F 1B 14 1B 40 1B 0A")},
		{name: "euro price", text: "Preis: 5€", coding: CodingDefault, want: append([]byte("Preis: 5"), 0x1B, 0x65), septets: 10},
		{name: "german umlauts", text: "Grüße aus München: ÄÖÜäöüß", coding: CodingDefault, septets: 26},
		{name: "greek capitals in GSM", text: "ΔΦΓΛΩΠΨΣΘΞ", coding: CodingDefault,
			want: h("10 12 13 14 15 16 17 18 19 1A")},
		// Greek Alpha and Beta look like A and B but are not in the alphabet.
		{name: "greek lookalikes", text: "ΑΒ", coding: CodingUCS2, want: h("03 91 03 92")},
		{name: "lowercase c cedilla", text: "ç", coding: CodingUCS2, want: h("00 E7")},
		{name: "emoji surrogate pair", text: "Hi 😀", coding: CodingUCS2, want: h("00 48 00 69 00 20 D8 3D DE 00")},
		{name: "cjk", text: "你好", coding: CodingUCS2, want: h("4F 60 59 7D")},
		{name: "cjk and emoji", text: "日本🇯🇵", coding: CodingUCS2, want: h("65 E5 67 2C D8 3C DD EF D8 3C DD F5")},
		{name: "escape char forces ucs2", text: "a\x1bb", coding: CodingUCS2, want: h("00 61 00 1B 00 62")},
		{name: "cyrillic", text: "Привет", coding: CodingUCS2},
		{name: "max BMP and beyond", text: "\uFFFD\U0010FFFF", coding: CodingUCS2, want: h("FF FD DB FF DF FF")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, b := Encode(tc.text)
			if c != tc.coding {
				t.Fatalf("Encode coding = %v, want %v", c, tc.coding)
			}
			if tc.want != nil && !bytes.Equal(b, tc.want) {
				t.Fatalf("Encode = % X, want % X", b, tc.want)
			}
			if tc.septets != 0 && len(b) != tc.septets {
				t.Fatalf("septets = %d, want %d", len(b), tc.septets)
			}
			// Cross-check against warthog618's encoders.
			if c == CodingDefault && tc.text != "" {
				ref, err := gsm7.Encode([]byte(tc.text))
				if err != nil || !bytes.Equal(ref, b) {
					t.Fatalf("gsm7.Encode = % X, %v; ours % X", ref, err, b)
				}
			}
			if c == CodingUCS2 {
				if ref := ucs2.Encode([]rune(tc.text)); !bytes.Equal(ref, b) {
					t.Fatalf("ucs2.Encode = % X; ours % X", ref, b)
				}
			}
			got, err := Decode(c, b, CodingDefault)
			if err != nil || got != tc.text {
				t.Fatalf("Decode = %q, %v; want %q", got, err, tc.text)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		c    Coding
		b    []byte
		dc0  Coding
		want string
		err  error
	}{
		{name: "gsm plain", c: 0, b: []byte("abc"), want: "abc"},
		{name: "gsm @ is 0x00", c: 0, b: h("00 41"), want: "@A"},
		{name: "gsm euro", c: 0, b: h("1B 65"), want: "€"},
		// 23.038 §6.2.1.1: an undefined extension code shows the main-table char.
		{name: "unknown escape shows main char", c: 0, b: h("1B 41 1B 61"), want: "Aa"},
		// 23.038 §6.2.1.1 note 1: SS2 (ESC ESC) shows a space.
		{name: "ESC ESC is a space", c: 0, b: h("61 1B 1B 62"), want: "a b"},
		{name: "ESC CR2 is CR", c: 0, b: h("1B 0D"), want: "\r"},
		{name: "ESC FF is form feed", c: 0, b: h("1B 0A"), want: "\f"},
		{name: "gsm lone trailing ESC", c: 0, b: h("61 1B"), err: ErrDanglingEscape},
		{name: "gsm ESC ESC ESC", c: 0, b: h("1B 1B 1B"), err: ErrDanglingEscape},
		{name: "gsm octet above 0x7F", c: 0, b: h("61 80"), err: ErrInvalidSeptet},
		{name: "gsm escaped octet above 0x7F", c: 0, b: h("1B E5"), err: ErrInvalidSeptet},
		{name: "gsm empty", c: 0, b: nil, want: ""},
		{name: "dc0 IA5", c: 0, dc0: CodingIA5, b: []byte("plain"), want: "plain"},
		{name: "dc0 IA5 rejects 0x80", c: 0, dc0: CodingIA5, b: h("41 80"), err: ErrNonASCII},
		{name: "dc0 Latin-1", c: 0, dc0: CodingLatin1, b: h("63 61 66 E9"), want: "café"},
		{name: "dc0 UCS2 not allowed", c: 0, dc0: CodingUCS2, b: h("00 41"), err: ErrUnsupportedCoding},
		{name: "IA5", c: 1, b: []byte("Hello {~}"), want: "Hello {~}"},
		{name: "IA5 > 0x7F", c: 1, b: h("48 FF"), err: ErrNonASCII},
		{name: "Latin-1 full range", c: 3, b: h("A3 A9 C4 D6 DC DF E4 F6 FC FF"), want: "£©ÄÖÜßäöüÿ"},
		{name: "Latin-1 C1 control", c: 3, b: h("80"), want: "\u0080"},
		{name: "UCS2 BMP", c: 8, b: h("00 48 00 E9 4F 60"), want: "Hé你"},
		{name: "UCS2 pair", c: 8, b: h("D8 3D DE 00"), want: "😀"},
		{name: "UCS2 odd length", c: 8, b: h("00 48 00"), err: ErrOddLength},
		{name: "UCS2 lone high at end", c: 8, b: h("00 48 D8 3D"), err: ErrLoneSurrogate},
		{name: "UCS2 high then BMP", c: 8, b: h("D8 3D 00 41"), err: ErrLoneSurrogate},
		{name: "UCS2 high then high", c: 8, b: h("D8 3D D8 3D"), err: ErrLoneSurrogate},
		{name: "UCS2 lone low", c: 8, b: h("DE 00 00 41"), err: ErrLoneSurrogate},
		{name: "binary 2", c: 2, b: h("01 02"), err: ErrUnsupportedCoding},
		{name: "binary 4", c: 4, b: h("01 02"), err: ErrUnsupportedCoding},
		{name: "JIS 5", c: 5, b: h("01 02"), err: ErrUnsupportedCoding},
		{name: "Cyrillic 6", c: 6, b: h("01 02"), err: ErrUnsupportedCoding},
		{name: "class 0xF0", c: 0xF0, b: h("41"), err: ErrUnsupportedCoding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.c, tc.b, tc.dc0)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Decode = %q, %v; want error %v", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Decode = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// National language tables, 3GPP TS 23.038 Annex A.2.1 / A.3.1 (Turkish).
func TestDecodeNational(t *testing.T) {
	tests := []struct {
		name            string
		locking, single byte
		b               []byte
		want            string
	}{
		{name: "turkish single shift", single: 1, b: h("1B 47 1B 49 1B 53 1B 63 1B 67 1B 69 1B 73 1B 65"), want: "ĞİŞçğış€"},
		{name: "turkish locking shift", locking: 1, b: h("04 07 0B 0C 1C 1D 40 60"), want: "€ıĞğŞşİç"},
		{name: "turkish locking, default ext", locking: 1, b: h("1B 3C 1B 47"), want: "[G"},
		{name: "portuguese single shift", single: 3, b: h("1B 05 1B 09 1B 0B 1B 0E"), want: "êçÔÁ"},
		{name: "unknown NLI falls back", locking: 99, single: 99, b: h("00 1B 65"), want: "@€"},
		{name: "default", b: h("1B 47"), want: "G"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeNational(CodingDefault, tc.b, CodingDefault, tc.locking, tc.single)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("DecodeNational = %q, want %q", got, tc.want)
			}
		})
	}
	// Non-GSM codings ignore the identifiers.
	if got, err := DecodeNational(CodingUCS2, h("00 41"), CodingDefault, 1, 1); err != nil || got != "A" {
		t.Fatalf("UCS2 with shift = %q, %v", got, err)
	}
}

func TestDecodeErrorDetail(t *testing.T) {
	_, err := Decode(5, nil, CodingDefault)
	if err == nil || !strings.Contains(err.Error(), "5") {
		t.Fatalf("err = %v", err)
	}
}

func TestCodingString(t *testing.T) {
	for c, want := range map[Coding]string{0: "default", 1: "IA5", 2: "binary(2)", 3: "Latin-1", 4: "binary(4)", 8: "UCS-2", 6: "data_coding(6)"} {
		if got := c.String(); got != want {
			t.Errorf("Coding(%d).String() = %q, want %q", c, got, want)
		}
	}
}

func TestEncodeInvalidUTF8(t *testing.T) {
	c, b := Encode("a\xffb")
	if c != CodingUCS2 || !bytes.Equal(b, h("00 61 FF FD 00 62")) {
		t.Fatalf("Encode = %v % X", c, b)
	}
}

// Run with -race: the lazily built national tables must be safe to share.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for nli := range 14 {
				if _, err := DecodeNational(CodingDefault, h("41 1B 65 1B 47"), CodingDefault, byte((nli+g)%14), byte(nli)); err != nil {
					t.Error(err)
				}
				Split("Grüße 😀 €")
			}
		}()
	}
	for range 8 {
		<-done
	}
}
