package sms

import (
	"errors"
	"testing"
	"time"
)

// Formats from SMPP 3.4 §7.1.1.
func TestParseSMPPTime(t *testing.T) {
	now := time.Date(2024, 3, 5, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		s    string
		want time.Time
	}{
		{"empty", "", time.Time{}},
		{"absolute +2h", "240305140712308+", time.Date(2024, 3, 5, 12, 7, 12, 300e6, time.UTC)},
		{"absolute -1h", "240305140712304-", time.Date(2024, 3, 5, 15, 7, 12, 300e6, time.UTC)},
		{"absolute UTC", "240229235959900+", time.Date(2024, 2, 29, 23, 59, 59, 900e6, time.UTC)},
		{"absolute +5:45 crosses midnight", "240101010000023+", time.Date(2023, 12, 31, 19, 15, 0, 0, time.UTC)},
		{"absolute -12h", "991231235959948-", time.Date(2100, 1, 1, 11, 59, 59, 900e6, time.UTC)},
		{"relative 1d2h3m4s", "000001020304000R", time.Date(2024, 3, 6, 13, 3, 4, 0, time.UTC)},
		{"relative 1 year 2 months", "010200000000000R", time.Date(2025, 5, 5, 11, 0, 0, 0, time.UTC)},
		{"relative 48 hours", "000000480000000R", time.Date(2024, 3, 7, 11, 0, 0, 0, time.UTC)},
		{"relative zero", "000000000000000R", time.Date(2024, 3, 5, 11, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSMPPTime(tc.s, now)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) || (!got.IsZero() && got.Location() != time.UTC) {
				t.Fatalf("ParseSMPPTime(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func TestParseSMPPTimeErrors(t *testing.T) {
	for _, s := range []string{
		"24030514071230+",   // 15 chars
		"2403051407123080+", // 17 chars
		"24030514071230 8+", // space
		"2403051407123a8+",  // letter in nn
		"24O305140712308+",  // letter O
		"240305140712308X",
		"240305140712308 ",
		"241305140712308+", // month 13
		"240005140712308+", // month 0
		"240300140712308+", // day 0
		"240332140712308+", // day 32
		"240230140712308+", // 30 February
		"230229140712308+", // 29 February 2023
		"240305240712308+", // hour 24
		"240305146012308+", // minute 60
		"240305140760308+", // second 60
		"240305140712349+", // offset 49 quarter hours
		"-00001020304000R",
		"240305140712308+\x00",
	} {
		if got, err := ParseSMPPTime(s, time.Now()); !errors.Is(err, ErrBadSMPPTime) {
			t.Errorf("ParseSMPPTime(%q) = %v, %v; want ErrBadSMPPTime", s, got, err)
		}
	}
}

func TestFormatSMPPTime(t *testing.T) {
	in := time.Date(2024, 3, 5, 14, 7, 12, 345e6, time.FixedZone("X", 2*3600))
	if got := FormatSMPPTime(in); got != "240305120712300+" {
		t.Fatalf("FormatSMPPTime = %q", got)
	}
	back, err := ParseSMPPTime(FormatSMPPTime(in), time.Time{})
	if err != nil || !back.Equal(in.Truncate(100*time.Millisecond)) {
		t.Fatalf("round trip = %v, %v", back, err)
	}
}
