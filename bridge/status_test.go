package bridge

import (
	"errors"
	"testing"
	"time"
)

func TestAdvance(t *testing.T) {
	tests := []struct {
		cur, obs, want Status
	}{
		{StatusQueued, StatusSent, StatusSent},
		{StatusQueued, StatusDelivered, StatusDelivered},
		{StatusQueued, StatusRead, StatusRead}, // read without delivered (collapsed)
		{StatusSent, StatusDelivered, StatusDelivered},
		{StatusDelivered, StatusRead, StatusRead},
		{StatusRead, StatusDelivered, StatusRead}, // late delivered never moves back
		{StatusRead, StatusSent, StatusRead},
		{StatusDelivered, StatusSent, StatusDelivered},
		{StatusSent, StatusSent, StatusSent}, // duplicate
		{StatusQueued, StatusFailed, StatusFailed},
		{StatusSent, StatusFailed, StatusFailed},
		{StatusDelivered, StatusFailed, StatusDelivered}, // failure after delivery keeps the delivery
		{StatusRead, StatusFailed, StatusRead},
		{StatusFailed, StatusDelivered, StatusFailed}, // failed is final; delivery goes to history only
		{StatusFailed, StatusRead, StatusFailed},
		{StatusFailed, StatusSent, StatusFailed},
	}
	for _, tt := range tests {
		if got := Advance(tt.cur, tt.obs); got != tt.want {
			t.Errorf("Advance(%s, %s) = %s, want %s", tt.cur, tt.obs, got, tt.want)
		}
	}
}

func TestParseStatus(t *testing.T) {
	for word, want := range map[string]Status{
		"sent": StatusSent, "delivered": StatusDelivered, "read": StatusRead,
		"played": StatusRead, "failed": StatusFailed,
	} {
		got, ok := ParseStatus(word)
		if !ok || got != want {
			t.Errorf("ParseStatus(%q) = %s, %v", word, got, ok)
		}
	}
	if _, ok := ParseStatus("deleted"); ok {
		t.Error("unknown status word accepted")
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := Backoff(time.Second, 10*time.Second, i+1); got != w {
			t.Errorf("Backoff attempt %d = %s, want %s", i+1, got, w)
		}
	}
}

func TestNewIDSortableAndUnique(t *testing.T) {
	seen := map[MessageID]bool{}
	prev := MessageID("")
	base := time.Unix(1_800_000_000, 0)
	for i := range 1000 {
		id := NewID(base.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 26 {
			t.Fatalf("id %q has length %d", id, len(id))
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		if id <= prev {
			t.Fatalf("id %q not after %q", id, prev)
		}
		seen[id], prev = true, id
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"+4915112345678":    "+4915112345678",
		"4915112345678":     "+4915112345678",
		"+1 (555) 010-0001": "+15550100001",
		"+49 151 1234 5678": "+4915112345678",
		"12345":             "",
		"+0123456789":       "",
		"abc":               "",
		"+1234567890123456": "",
		"":                  "",
	} {
		if got := NormalizePhone(in); got != want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestActionTextRoundTrip(t *testing.T) {
	for a := ActionRetry; a <= ActionTemplateInvalid; a++ {
		b, _ := a.MarshalText()
		var back Action
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Errorf("%s: round trip gave %v, %v", a, back, err)
		}
	}
	var z Action
	if err := z.UnmarshalText([]byte("nonsense")); err == nil {
		t.Error("unknown action accepted")
	}
}

// Every limit of Meta's media rules, at and just past the boundary.
func TestCheckMediaLimits(t *testing.T) {
	tests := []struct {
		kind     Kind
		mime     string
		size     int64
		animated bool
		caption  string
		want     Reason // "" = accepted
	}{
		{KindImage, "image/jpeg", 5 * MiB, false, "", ""},
		{KindImage, "image/png", 5*MiB + 1, false, "", ReasonMediaTooLarge},
		{KindImage, "image/gif", 10, false, "", ReasonMediaUnsupported},
		{KindVideo, "video/mp4", 16 * MiB, false, "", ""},
		{KindVideo, "video/3gpp", 16*MiB + 1, false, "", ReasonMediaTooLarge},
		{KindVideo, "video/quicktime", 10, false, "", ReasonMediaUnsupported},
		{KindAudio, "audio/ogg; codecs=opus", 16 * MiB, false, "", ""},
		{KindAudio, "audio/mpeg", 16*MiB + 1, false, "", ReasonMediaTooLarge},
		{KindAudio, "audio/wav", 10, false, "", ReasonMediaUnsupported},
		{KindAudio, "audio/aac", 10, false, "a caption", ReasonInvalid},
		{KindDocument, "application/pdf", 100 * MiB, false, "", ""},
		{KindDocument, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 100*MiB + 1, false, "", ReasonMediaTooLarge},
		{KindDocument, "application/zip", 10, false, "", ReasonMediaUnsupported},
		{KindSticker, "image/webp", 100 * KiB, false, "", ""},
		{KindSticker, "image/webp", 100*KiB + 1, false, "", ReasonMediaTooLarge},
		{KindSticker, "image/webp", 500 * KiB, true, "", ""},
		{KindSticker, "image/webp", 500*KiB + 1, true, "", ReasonMediaTooLarge},
		{KindSticker, "image/png", 10, false, "", ReasonMediaUnsupported},
		{KindImage, "", 0, false, string(make([]rune, 1024)), ""},
		{KindImage, "", 0, false, string(make([]rune, 1025)), ReasonInvalid},
		{KindText, "text/plain", 10, false, "", ReasonInvalid},
	}
	for _, tt := range tests {
		err := CheckMedia(tt.kind, tt.mime, tt.size, tt.animated, tt.caption)
		var re *RefusedError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %s %d: refused: %v", tt.kind, tt.mime, tt.size, err)
		case tt.want != "" && (!errors.As(err, &re) || re.Reason != tt.want):
			t.Errorf("%s %s %d: %v, want %s", tt.kind, tt.mime, tt.size, err, tt.want)
		}
	}
}
