package sms

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// Header layouts from 3GPP TS 23.040 §9.2.3.24 (.1 concatenation 8-bit,
// .4/.5 port addressing, .8 16-bit concatenation, .15/.16 language shifts).
func TestParseUDH(t *testing.T) {
	tests := []struct {
		name   string
		b      []byte
		concat *Concat
		ids    []byte
		rest   []byte
		shiftL byte
		shiftS byte
	}{
		{name: "8-bit ref", b: h("05 00 03 CC 03 01 68 69"),
			concat: &Concat{Ref: 0xCC, Total: 3, Seq: 1}, ids: []byte{0x00}, rest: []byte("hi")},
		{name: "16-bit ref", b: h("06 08 04 12 34 02 02 00 41"),
			concat: &Concat{Ref: 0x1234, Total: 2, Seq: 2, Ref16: true}, ids: []byte{0x08}, rest: h("00 41")},
		{name: "port addressing before concat (Jasmin #612)", b: h("0B 05 04 0B 84 23 F0 00 03 A1 02 01 CA FE"),
			concat: &Concat{Ref: 0xA1, Total: 2, Seq: 1}, ids: []byte{0x05, 0x00}, rest: h("CA FE")},
		{name: "single shift before concat", b: h("08 24 01 01 00 03 07 02 02 61"),
			concat: &Concat{Ref: 7, Total: 2, Seq: 2}, ids: []byte{0x24, 0x00}, rest: []byte("a"), shiftS: 1},
		{name: "locking and single shift, no concat", b: h("06 25 01 01 24 01 03 61"),
			ids: []byte{0x25, 0x24}, rest: []byte("a"), shiftL: 1, shiftS: 3},
		{name: "first concat wins", b: h("0B 08 04 00 09 03 03 00 03 05 02 01"),
			concat: &Concat{Ref: 9, Total: 3, Seq: 3, Ref16: true}, ids: []byte{0x08, 0x00}, rest: []byte{}},
		{name: "empty header", b: h("00 61"), rest: []byte("a")},
		{name: "header only", b: h("05 00 03 01 01 01"), concat: &Concat{Ref: 1, Total: 1, Seq: 1}, ids: []byte{0}, rest: []byte{}},
		{name: "zero-length unknown IE", b: h("02 70 00 61"), ids: []byte{0x70}, rest: []byte("a")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, rest, err := ParseUDH(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(u.Concat, tc.concat) {
				t.Fatalf("Concat = %+v, want %+v", u.Concat, tc.concat)
			}
			var ids []byte
			for _, ie := range u.IEs {
				ids = append(ids, ie.ID)
			}
			if !bytes.Equal(ids, tc.ids) {
				t.Fatalf("IE ids = % X, want % X", ids, tc.ids)
			}
			if !bytes.Equal(rest, tc.rest) {
				t.Fatalf("rest = % X, want % X", rest, tc.rest)
			}
			if l, s := u.Shift(); l != tc.shiftL || s != tc.shiftS {
				t.Fatalf("Shift = %d,%d want %d,%d", l, s, tc.shiftL, tc.shiftS)
			}
		})
	}
}

func TestParseUDHPortData(t *testing.T) {
	u, _, err := ParseUDH(h("0B 05 04 0B 84 23 F0 00 03 A1 02 01"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(u.IEs[0].Data, h("0B 84 23 F0")) || !bytes.Equal(u.IEs[1].Data, h("A1 02 01")) {
		t.Fatalf("IEs = %+v", u.IEs)
	}
}

func TestParseUDHErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"UDHL beyond data", h("05 00 03 01 02")},
		{"UDHL beyond data by far", h("FF 00")},
		{"IE header truncated", h("01 00")},
		{"IE header truncated after IE", h("06 00 03 01 02 01 24")},
		{"IE runs past header", h("05 00 04 01 02 01 00")},
		{"IE runs past header, data after", h("03 24 05 01 61 62 63 64")},
		{"8-bit concat too short", h("04 00 02 01 01")},
		{"8-bit concat too long", h("06 00 04 00 01 01 01")},
		{"16-bit concat too short", h("05 08 03 01 01 01")},
		{"total 0", h("05 00 03 01 00 00")},
		{"seq 0", h("05 00 03 01 02 00")},
		{"seq > total", h("05 00 03 01 02 03")},
		{"16-bit seq > total", h("06 08 04 00 01 02 03")},
		{"second concat malformed", h("0A 00 03 01 02 01 08 03 00 01 02")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, rest, err := ParseUDH(tc.b)
			if !errors.Is(err, ErrBadUDH) {
				t.Fatalf("ParseUDH = %+v, % X, %v; want ErrBadUDH", u, rest, err)
			}
		})
	}
}

func TestConcatUDH(t *testing.T) {
	if got := ConcatUDH(0x12CC, 3, 1, false); !bytes.Equal(got, h("05 00 03 CC 03 01")) {
		t.Fatalf("8-bit = % X", got)
	}
	if got := ConcatUDH(0x1234, 2, 2, true); !bytes.Equal(got, h("06 08 04 12 34 02 02")) {
		t.Fatalf("16-bit = % X", got)
	}
	for _, ref16 := range []bool{false, true} {
		for _, ref := range []uint16{0, 1, 0xFF, 0x100, 0xFFFF} {
			for _, ts := range [][2]uint8{{1, 1}, {2, 1}, {2, 2}, {255, 128}, {255, 255}} {
				b := append(ConcatUDH(ref, ts[0], ts[1], ref16), "text"...)
				u, rest, err := ParseUDH(b)
				if err != nil {
					t.Fatal(err)
				}
				want := Concat{Ref: ref, Total: ts[0], Seq: ts[1], Ref16: ref16}
				if !ref16 {
					want.Ref &= 0xFF
				}
				if u.Concat == nil || *u.Concat != want || string(rest) != "text" {
					t.Fatalf("round trip %+v: got %+v rest %q", want, u.Concat, rest)
				}
			}
		}
	}
}

func TestParseSAR(t *testing.T) {
	s, err := ParseSAR(h("12 34"), h("03"), h("02"))
	if err != nil || s != (SAR{Ref: 0x1234, Total: 3, Seq: 2}) {
		t.Fatalf("ParseSAR = %+v, %v", s, err)
	}
	bad := [][3][]byte{
		{nil, h("03"), h("02")},
		{h("12 34"), nil, h("02")},
		{h("12 34"), h("03"), nil},
		{h("12"), h("03"), h("02")},
		{h("12 34"), h("00 03"), h("02")},
		{h("12 34"), h("00"), h("00")},
		{h("12 34"), h("03"), h("00")},
		{h("12 34"), h("03"), h("04")},
	}
	for _, b := range bad {
		if _, err := ParseSAR(b[0], b[1], b[2]); !errors.Is(err, ErrBadSAR) {
			t.Errorf("ParseSAR(% X, % X, % X) err = %v", b[0], b[1], b[2], err)
		}
	}
}

func TestPart(t *testing.T) {
	udh := &UDH{Concat: &Concat{Ref: 5, Total: 2, Seq: 1}}
	sar := &SAR{Ref: 0x0102, Total: 3, Seq: 3}
	tests := []struct {
		name string
		h    *UDH
		sar  *SAR
		want Concat
		ok   bool
	}{
		{"none", nil, nil, Concat{}, false},
		{"udh without concat", &UDH{IEs: []IE{{ID: 0x24, Data: []byte{1}}}}, nil, Concat{}, false},
		{"udh", udh, nil, Concat{Ref: 5, Total: 2, Seq: 1}, true},
		{"sar", nil, sar, Concat{Ref: 0x0102, Total: 3, Seq: 3, Ref16: true}, true},
		{"udh wins over sar", udh, sar, Concat{Ref: 5, Total: 2, Seq: 1}, true},
		{"udh without concat, sar", &UDH{}, sar, Concat{Ref: 0x0102, Total: 3, Seq: 3, Ref16: true}, true},
		{"total 1 is single", &UDH{Concat: &Concat{Ref: 1, Total: 1, Seq: 1}}, nil, Concat{}, false},
		{"sar total 1 is single", nil, &SAR{Ref: 1, Total: 1, Seq: 1}, Concat{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Part(tc.h, tc.sar)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("Part = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// A segmented message as the SMPP server would send it: ConcatUDH + Split,
// then parsed back the way a receiver would.
func TestSplitWithUDHRoundTrip(t *testing.T) {
	text := "Grüße! This is a long message that will need a few parts, with € and {braces} in it. "
	text += text + text
	c, parts := Split(text)
	var got string
	for i, p := range parts {
		sm := append(ConcatUDH(0x42, uint8(len(parts)), uint8(i+1), false), p...)
		u, rest, err := ParseUDH(sm)
		if err != nil {
			t.Fatal(err)
		}
		pc, ok := Part(&u, nil)
		if !ok || pc.Seq != uint8(i+1) || int(pc.Total) != len(parts) {
			t.Fatalf("part %d: %+v %v", i, pc, ok)
		}
		s, err := Decode(c, rest, CodingDefault)
		if err != nil {
			t.Fatal(err)
		}
		got += s
	}
	if got != text {
		t.Fatalf("reassembled %q", got)
	}
}
