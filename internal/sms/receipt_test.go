package sms

import (
	"testing"
	"time"
)

func date(y, mo, d, hh, mi, ss int) time.Time {
	return time.Date(y, time.Month(mo), d, hh, mi, ss, 0, time.UTC)
}

func TestFormatReceipt(t *testing.T) {
	tests := []struct {
		name string
		r    Receipt
		want string
	}{
		{
			name: "SMPP 3.4 Appendix B layout",
			r: Receipt{ID: "0123456789abcdef", Sub: 1, Dlvrd: 1, Submit: date(2024, 3, 5, 14, 7, 12), Done: date(2024, 3, 5, 14, 8, 59),
				Stat: StatDelivered, Err: "000", Text: "Hello world, this is a long message"},
			want: "id:0123456789abcdef sub:001 dlvrd:001 submit date:2403051407 done date:2403051408 stat:DELIVRD err:000 text:Hello world, this is",
		},
		{
			name: "newlines become spaces, short err padded",
			r:    Receipt{ID: "42", Submit: date(2009, 12, 31, 23, 59, 0), Done: date(2010, 1, 1, 0, 0, 0), Stat: StatUndeliverable, Err: "5", Text: "line1\nline2\r\n\tx"},
			want: "id:42 sub:000 dlvrd:000 submit date:0912312359 done date:1001010000 stat:UNDELIV err:005 text:line1 line2   x",
		},
		{
			name: "empty stat, err and text; zero dates; clamped counts",
			r:    Receipt{ID: "7220d5b4-2b64-4c1e-9d4b-3e9a1f7e2c11", Sub: 1000, Dlvrd: -1},
			want: "id:7220d5b4-2b64-4c1e-9d4b-3e9a1f7e2c11 sub:999 dlvrd:000 submit date:0000000000 done date:0000000000 stat:UNKNOWN err:000 text:",
		},
		{
			name: "20 characters, not bytes",
			r:    Receipt{ID: "1", Stat: StatDelivered, Err: "0x1F", Text: "Grüße aus München 😀😀 und mehr", Submit: date(2024, 1, 2, 3, 4, 5), Done: date(2024, 1, 2, 3, 4, 5)},
			want: "id:1 sub:000 dlvrd:000 submit date:2401020304 done date:2401020304 stat:DELIVRD err:0x1F text:Grüße aus München 😀😀",
		},
		{
			name: "long err kept",
			r:    Receipt{ID: "1", Stat: StatRejected, Err: "1234", Submit: date(2024, 1, 2, 3, 4, 5), Done: date(2024, 1, 2, 3, 4, 5)},
			want: "id:1 sub:000 dlvrd:000 submit date:2401020304 done date:2401020304 stat:REJECTD err:1234 text:",
		},
		{
			name: "date in its own location",
			r:    Receipt{ID: "1", Stat: StatDelivered, Submit: time.Date(2024, 1, 2, 3, 4, 0, 0, time.FixedZone("X", 3600)), Done: date(2024, 1, 2, 3, 4, 0)},
			want: "id:1 sub:000 dlvrd:000 submit date:2401020304 done date:2401020304 stat:DELIVRD err:000 text:",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatReceipt(tc.r); got != tc.want {
				t.Fatalf("FormatReceipt =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestParseReceipt(t *testing.T) {
	tests := []struct {
		name string
		s    string
		want Receipt
		ok   bool
	}{
		{
			name: "SMPP 3.4 Appendix B example layout",
			s:    "id:1234567890 sub:001 dlvrd:001 submit date:0610191018 done date:0610191018 stat:DELIVRD err:000 text:Hello",
			want: Receipt{ID: "1234567890", Sub: 1, Dlvrd: 1, Submit: date(2006, 10, 19, 10, 18, 0), Done: date(2006, 10, 19, 10, 18, 0), Stat: "DELIVRD", Err: "000", Text: "Hello"},
			ok:   true,
		},
		{
			name: "12-digit dates, UUID id, uppercase Text:",
			s:    "id:7220d5b4-2b64-4c1e-9d4b-3e9a1f7e2c11 sub:001 dlvrd:001 submit date:240305140712 done date:240305140815 stat:DELIVRD err:000 Text:Hi there",
			want: Receipt{ID: "7220d5b4-2b64-4c1e-9d4b-3e9a1f7e2c11", Sub: 1, Dlvrd: 1, Submit: date(2024, 3, 5, 14, 7, 12), Done: date(2024, 3, 5, 14, 8, 15), Stat: "DELIVRD", Err: "000", Text: "Hi there"},
			ok:   true,
		},
		{
			name: "missing err, empty text, hex id",
			s:    "id:5D6A7B8C sub:001 dlvrd:000 submit date:2403051407 done date:2403051409 stat:UNDELIV text:",
			want: Receipt{ID: "5D6A7B8C", Sub: 1, Submit: date(2024, 3, 5, 14, 7, 0), Done: date(2024, 3, 5, 14, 9, 0), Stat: "UNDELIV"},
			ok:   true,
		},
		{
			name: "all labels uppercase",
			s:    "ID:0A1B2C3D SUB:001 DLVRD:001 SUBMIT DATE:2403051407 DONE DATE:2403051409 STAT:DELIVRD ERR:000 TEXT:test",
			want: Receipt{ID: "0A1B2C3D", Sub: 1, Dlvrd: 1, Submit: date(2024, 3, 5, 14, 7, 0), Done: date(2024, 3, 5, 14, 9, 0), Stat: "DELIVRD", Err: "000", Text: "test"},
			ok:   true,
		},
		{
			name: "extra vendor fields",
			s:    "id:12345 sub:001 dlvrd:001 submit date:2403051407 done date:2403051409 stat:EXPIRED err:000 imsi:262011234567890 mccmnc:26201 text:abc",
			want: Receipt{ID: "12345", Sub: 1, Dlvrd: 1, Submit: date(2024, 3, 5, 14, 7, 0), Done: date(2024, 3, 5, 14, 9, 0), Stat: "EXPIRED", Err: "000", Text: "abc"},
			ok:   true,
		},
		{
			name: "Kannel-style, unpadded counts and err",
			s:    "id:c449ab9744f47b6af1879e49e75e4f40 sub:0 dlvrd:0 submit date:0610191018 done date:0610191018 stat:ACCEPTD err:0 text:This is an Acti",
			want: Receipt{ID: "c449ab9744f47b6af1879e49e75e4f40", Submit: date(2006, 10, 19, 10, 18, 0), Done: date(2006, 10, 19, 10, 18, 0), Stat: "ACCEPTD", Err: "0", Text: "This is an Acti"},
			ok:   true,
		},
		{
			name: "any order",
			s:    "stat:DELIVRD err:0 id:abc text:x done date:2403051409",
			want: Receipt{ID: "abc", Stat: "DELIVRD", Err: "0", Text: "x", Done: date(2024, 3, 5, 14, 9, 0)},
			ok:   true,
		},
		{
			name: "no text field, trailing NUL",
			s:    "id:42 sub:1 dlvrd:1 submit date:2403051407 done date:2403051409 stat:DELIVRD err:0\x00",
			want: Receipt{ID: "42", Sub: 1, Dlvrd: 1, Submit: date(2024, 3, 5, 14, 7, 0), Done: date(2024, 3, 5, 14, 9, 0), Stat: "DELIVRD", Err: "0"},
			ok:   true,
		},
		{
			name: "labels inside the text stay text",
			s:    "id:1 stat:DELIVRD text:stat:FAILED id:2",
			want: Receipt{ID: "1", Stat: "DELIVRD", Text: "stat:FAILED id:2"},
			ok:   true,
		},
		{
			name: "lowercase stat, underscore dates, comma separated",
			s:    "id:abc,submit_date:2403051407,done_date:2403051409,stat:delivrd",
			want: Receipt{ID: "abc", Submit: date(2024, 3, 5, 14, 7, 0), Done: date(2024, 3, 5, 14, 9, 0), Stat: "DELIVRD"},
			ok:   true,
		},
		{
			name: "bad dates tolerated",
			s:    "id:9 submit date:2413051407 done date:24030514 stat:DELIVRD",
			want: Receipt{ID: "9", Stat: "DELIVRD"},
			ok:   true,
		},
		{
			name: "large decimal id, non-standard stat",
			s:    "id:18446744073709551615 sub:001 dlvrd:000 submit date:2403051407 done date:2403051409 stat:FAILED err:069 text:",
			want: Receipt{ID: "18446744073709551615", Sub: 1, Submit: date(2024, 3, 5, 14, 7, 0), Done: date(2024, 3, 5, 14, 9, 0), Stat: "FAILED", Err: "069"},
			ok:   true,
		},
		{
			name: "empty id value before next label",
			s:    "id: sub:001 stat:REJECTD",
			want: Receipt{Sub: 1, Stat: "REJECTD"},
			ok:   true,
		},
		{name: "only stat", s: "stat:REJECTD", want: Receipt{Stat: "REJECTD"}, ok: true},
		{name: "plain text", s: "Hello world, see you at 10:30", ok: false},
		{name: "empty", s: "", ok: false},
		{name: "label not at a word start", s: "msgid:123 substat:DELIVRD", ok: false},
		{name: "text only", s: "text:hello", want: Receipt{Text: "hello"}, ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseReceipt(tc.s)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("ParseReceipt =\n%+v, %v\nwant\n%+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestReceiptRoundTrip(t *testing.T) {
	r := Receipt{ID: "b7f1c2", Sub: 1, Dlvrd: 1, Submit: date(2024, 3, 5, 14, 7, 0), Done: date(2024, 3, 5, 14, 9, 0), Stat: StatDelivered, Err: "000", Text: "short text"}
	got, ok := ParseReceipt(FormatReceipt(r))
	if !ok || got != r {
		t.Fatalf("round trip = %+v, %v", got, ok)
	}
}

func TestMessageState(t *testing.T) {
	tests := map[string]byte{
		StatEnroute: 1, StatDelivered: 2, StatExpired: 3, StatDeleted: 4,
		StatUndeliverable: 5, StatAccepted: 6, StatUnknown: 7, StatRejected: 8,
		"delivrd": 2, "Delivered": 2, "UNDELIVERABLE": 5, "FAILED": 5, "ACCEPTED": 6, "REJECTED": 8,
		"": 7, "SKIPPED": 7, "garbage": 7,
	}
	for stat, want := range tests {
		if got := MessageState(stat); got != want {
			t.Errorf("MessageState(%q) = %d, want %d", stat, got, want)
		}
	}
}
