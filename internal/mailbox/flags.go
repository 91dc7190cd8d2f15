package mailbox

import (
	"slices"
	"strings"
)

// System flags, and the keywords wabridge sets on Sent copies.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`

	// KeywordDelivered: every WhatsApp message of the mail was delivered.
	KeywordDelivered = "$Delivered"
	// KeywordRead: every WhatsApp message of the mail was read (or played).
	KeywordRead = "$Read"
	// KeywordFailed: a WhatsApp message of the mail finally failed.
	KeywordFailed = "$Failed"
)

var systemFlags = []string{FlagSeen, FlagAnswered, FlagFlagged, FlagDeleted, FlagDraft}

// CanonicalFlag spells system flags the standard way (`\seen` → `\Seen`)
// and keeps keywords as they are.
func CanonicalFlag(f string) string {
	for _, s := range systemFlags {
		if strings.EqualFold(f, s) {
			return s
		}
	}
	return f
}

// HasFlag reports whether flags holds f (case-insensitively).
func HasFlag(flags []string, f string) bool {
	return slices.ContainsFunc(flags, func(x string) bool { return strings.EqualFold(x, f) })
}

// AddFlags returns flags with every flag of add it lacks.
func AddFlags(flags, add []string) []string {
	out := slices.Clone(flags)
	for _, f := range add {
		if !HasFlag(out, f) {
			out = append(out, CanonicalFlag(f))
		}
	}
	return out
}

// RemoveFlags returns flags without those in del.
func RemoveFlags(flags, del []string) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if !HasFlag(del, f) {
			out = append(out, f)
		}
	}
	return out
}

// SetFlags returns set canonicalised and without repeats.
func SetFlags(set []string) []string { return AddFlags(nil, set) }

var deliveryKeywords = []string{KeywordDelivered, KeywordRead, KeywordFailed}

// DeliveryKeywords is the KeywordFunc of Sent copies: $Failed when any of
// the mail's WhatsApp messages failed; else $Read (with $Delivered) when
// all were read or played; else $Delivered when all were delivered; else
// none (still on its way). Other flags are kept.
func DeliveryKeywords(flags, statuses []string) []string {
	out := RemoveFlags(flags, deliveryKeywords)
	if len(statuses) == 0 {
		return flags
	}
	read, delivered := 0, 0
	for _, s := range statuses {
		switch s {
		case "failed":
			return append(out, KeywordFailed)
		case "read", "played":
			read++
			delivered++
		case "delivered":
			delivered++
		}
	}
	switch {
	case read == len(statuses):
		out = append(out, KeywordDelivered, KeywordRead)
	case delivered == len(statuses):
		out = append(out, KeywordDelivered)
	}
	return out
}
