package mailbox

import (
	"slices"
	"strings"
	"testing"
)

func TestDeliveryKeywords(t *testing.T) {
	for _, tc := range []struct {
		name     string
		flags    []string
		statuses []string
		want     string
	}{
		{"no statuses: flags unchanged", []string{FlagSeen, KeywordDelivered}, nil, `\Seen $Delivered`},
		{"no statuses, no flags", nil, nil, ``},
		{"queued", []string{FlagSeen}, []string{"queued"}, `\Seen`},
		{"sent", []string{FlagSeen}, []string{"sent", "sent"}, `\Seen`},
		{"queued and delivered", []string{FlagSeen}, []string{"queued", "delivered"}, `\Seen`},
		{"all delivered", []string{FlagSeen}, []string{"delivered", "delivered"}, `\Seen $Delivered`},
		{"delivered and read", []string{FlagSeen}, []string{"delivered", "read"}, `\Seen $Delivered`},
		{"all read", []string{FlagSeen}, []string{"read", "read"}, `\Seen $Delivered $Read`},
		{"read and played", nil, []string{"read", "played"}, `$Delivered $Read`},
		{"any failed", []string{FlagSeen}, []string{"read", "failed", "delivered"}, `\Seen $Failed`},
		{"failed first", nil, []string{"failed", "read"}, `$Failed`},
		{"other flags kept", []string{FlagFlagged, "$Label1", FlagSeen}, []string{"delivered"}, `\Flagged $Label1 \Seen $Delivered`},
		{"old keywords replaced by read", []string{FlagSeen, KeywordDelivered}, []string{"read"}, `\Seen $Delivered $Read`},
		{"old keywords replaced by failed", []string{KeywordDelivered, FlagSeen, KeywordRead}, []string{"failed"}, `\Seen $Failed`},
		{"old keywords dropped while on its way", []string{KeywordFailed, FlagSeen}, []string{"sent"}, `\Seen`},
		{"old keywords matched case-insensitively", []string{"$delivered", "$READ"}, []string{"delivered"}, `$Delivered`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.flags)
			got := strings.Join(DeliveryKeywords(tc.flags, tc.statuses), " ")
			if got != tc.want {
				t.Errorf("DeliveryKeywords(%q, %q) = %q, want %q", tc.flags, tc.statuses, got, tc.want)
			}
			if !slices.Equal(in, tc.flags) {
				t.Errorf("the input flags were changed: %q → %q", in, tc.flags)
			}
		})
	}
}

func TestCanonicalFlag(t *testing.T) {
	for in, want := range map[string]string{
		`\seen`: `\Seen`, `\SEEN`: `\Seen`, `\Seen`: `\Seen`, `\answered`: `\Answered`,
		`\FLAGGED`: `\Flagged`, `\deleted`: `\Deleted`, `\dRaFt`: `\Draft`,
		"$Delivered": "$Delivered", "$delivered": "$delivered", "Junk": "Junk", `\Recent`: `\Recent`,
	} {
		if got := CanonicalFlag(in); got != want {
			t.Errorf("CanonicalFlag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFlagSetsAreCaseInsensitive(t *testing.T) {
	flags := []string{FlagSeen, "$Label1"}
	if !HasFlag(flags, `\SEEN`) || !HasFlag(flags, "$label1") || HasFlag(flags, FlagDeleted) {
		t.Errorf("HasFlag on %q", flags)
	}

	got := AddFlags(flags, []string{`\seen`, `\flagged`, "$LABEL1", "$New", `\FLAGGED`})
	if want := []string{FlagSeen, "$Label1", FlagFlagged, "$New"}; !slices.Equal(got, want) {
		t.Errorf("AddFlags = %q, want %q", got, want)
	}
	if want := []string{FlagSeen, "$Label1"}; !slices.Equal(flags, want) {
		t.Errorf("AddFlags changed its input: %q", flags)
	}

	got = RemoveFlags([]string{FlagSeen, FlagFlagged, "$Label1"}, []string{`\SEEN`, "$label1", `\Draft`})
	if want := []string{FlagFlagged}; !slices.Equal(got, want) {
		t.Errorf("RemoveFlags = %q, want %q", got, want)
	}
	if got := RemoveFlags(nil, []string{FlagSeen}); len(got) != 0 {
		t.Errorf("RemoveFlags(nil) = %q", got)
	}

	got = SetFlags([]string{`\seen`, `\SEEN`, "$x", "$X", `\deleted`})
	if want := []string{FlagSeen, "$x", FlagDeleted}; !slices.Equal(got, want) {
		t.Errorf("SetFlags = %q, want %q", got, want)
	}
	if got := SetFlags(nil); len(got) != 0 {
		t.Errorf("SetFlags(nil) = %q", got)
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"inbox":          "INBOX",
		"INBOX":          "INBOX",
		"Inbox":          "INBOX",
		"INBOX/":         "INBOX",
		"inbox//":        "INBOX",
		"Inbox/Sub":      "INBOX/Sub",
		"inbox/a/B":      "INBOX/a/B",
		"InboxSub":       "InboxSub",
		"Sent":           "Sent",
		"sent":           "sent", // only INBOX is case-insensitive
		"Archive/2026/":  "Archive/2026",
		"Archive/inbox":  "Archive/inbox",
		"/":              "",
		"":               "",
		"INBOX.Sub":      "INBOX.Sub",
		"inboxes/x":      "inboxes/x",
		"Inbox/Sub/Sub2": "INBOX/Sub/Sub2",
	} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}
