package sms

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzParseUDH(f *testing.F) {
	for _, s := range []string{
		"05 00 03 CC 03 01 68 69",
		"06 08 04 12 34 02 02 00 41",
		"0B 05 04 0B 84 23 F0 00 03 A1 02 01 CA FE",
		"08 24 01 01 00 03 07 02 02 61",
		"05 00 03 01 02 03",
		"05 00 04 01 02 01 00",
		"00",
		"",
	} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, rest, err := ParseUDH(b)
		if err != nil {
			return
		}
		hl := int(b[0])
		if 1+hl+len(rest) != len(b) || !bytes.Equal(rest, b[1+hl:]) {
			t.Fatalf("UDHL %d, %d octets, rest %d", hl, len(b), len(rest))
		}
		sum := 0
		var first *Concat
		for _, ie := range u.IEs {
			sum += 2 + len(ie.Data)
			if first == nil && (ie.ID == IEIConcat8 || ie.ID == IEIConcat16) {
				c, err := parseConcat(ie.ID, ie.Data)
				if err != nil {
					t.Fatalf("accepted malformed concat IE: %v", err)
				}
				first = &c
			}
		}
		if sum != hl {
			t.Fatalf("IEs cover %d octets, UDHL %d", sum, hl)
		}
		if (first == nil) != (u.Concat == nil) || first != nil && *first != *u.Concat {
			t.Fatalf("Concat %+v, first concat IE %+v", u.Concat, first)
		}
		if c := u.Concat; c != nil {
			if c.Total == 0 || c.Seq == 0 || c.Seq > c.Total {
				t.Fatalf("Concat %+v", *c)
			}
			// Rebuilding the header from the parsed values parses the same.
			u2, _, err := ParseUDH(ConcatUDH(c.Ref, c.Total, c.Seq, c.Ref16))
			if err != nil || *u2.Concat != *c {
				t.Fatalf("ConcatUDH round trip: %+v, %v", u2.Concat, err)
			}
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add(byte(0), []byte("Hello"), byte(0))
	f.Add(byte(0), h("1B 65 1B 1B 1B 41"), byte(0))
	f.Add(byte(0), h("61 1B"), byte(0))
	f.Add(byte(0), h("41 80"), byte(1))
	f.Add(byte(3), h("63 61 66 E9"), byte(0))
	f.Add(byte(8), h("00 48 D8 3D DE 00"), byte(0))
	f.Add(byte(8), h("D8 3D 00 41"), byte(0))
	f.Add(byte(8), h("00"), byte(0))
	f.Add(byte(2), h("01 02"), byte(0))
	f.Fuzz(func(t *testing.T, c byte, b []byte, dc0 byte) {
		s, err := Decode(Coding(c), b, Coding(dc0))
		if err != nil {
			if s != "" {
				t.Fatalf("error %v with text %q", err, s)
			}
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q", s)
		}
		if Coding(c) == CodingUCS2 {
			// Strict UTF-16BE: re-encoding gives the same octets and text.
			u := encodeUCS2(s)
			if !bytes.Equal(u, b) {
				t.Fatalf("encodeUCS2(%q) = % X, input % X", s, u, b)
			}
			if back, err := Decode(CodingUCS2, u, CodingDefault); err != nil || back != s {
				t.Fatalf("UCS-2 round trip %q -> %q, %v", s, back, err)
			}
		}
		// Whatever Encode picks decodes back to the same text.
		ec, eb := Encode(s)
		if back, err := Decode(ec, eb, CodingDefault); err != nil || back != s {
			t.Fatalf("Encode/Decode round trip %q -> %v %q, %v", s, ec, back, err)
		}
		// And so do the parts of Split.
		sc, parts := Split(s)
		var sb strings.Builder
		for _, p := range parts {
			ps, err := Decode(sc, p, CodingDefault)
			if err != nil {
				t.Fatalf("part % X: %v", p, err)
			}
			sb.WriteString(ps)
		}
		if sb.String() != s {
			t.Fatalf("Split round trip %q -> %q", s, sb.String())
		}
	})
}

func FuzzParseReceipt(f *testing.F) {
	for _, s := range []string{
		"id:1234567890 sub:001 dlvrd:001 submit date:0610191018 done date:0610191018 stat:DELIVRD err:000 text:Hello",
		"id:7220d5b4-2b64-4c1e-9d4b-3e9a1f7e2c11 sub:001 dlvrd:001 submit date:240305140712 done date:240305140815 stat:DELIVRD err:000 Text:Hi",
		"stat:DELIVRD id:abc err:0 text:x",
		"id:1 stat:DELIVRD text:stat:FAILED id:2",
		"id:abc,submit_date:2403051407,stat:delivrd",
		"id: sub:001 stat:REJECTD",
		"Hello world",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := ParseReceipt(s)
		if ok != (r.ID != "" || r.Stat != "") {
			t.Fatalf("ok %v for %+v", ok, r)
		}
		for _, w := range []string{r.ID, r.Stat, r.Err} {
			if strings.ContainsAny(w, " \t\n\r\v\f,;") {
				t.Fatalf("field %q has a separator", w)
			}
		}
		if !ok {
			return
		}
		// What we parsed, we can write and read back (dates to the minute).
		r2, ok2 := ParseReceipt(FormatReceipt(r))
		wantStat := r.Stat
		if wantStat == "" {
			wantStat = StatUnknown
		}
		if !ok2 || r2.ID != r.ID || r2.Stat != wantStat || r2.Submit != r.Submit.Truncate(time.Minute) || r2.Done != r.Done.Truncate(time.Minute) {
			t.Fatalf("round trip of %+v gave %+v, %v (%q)", r, r2, ok2, FormatReceipt(r))
		}
	})
}
