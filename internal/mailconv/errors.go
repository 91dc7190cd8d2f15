package mailconv

import (
	"fmt"
	"strings"
)

// MalformedError reports a message whose MIME structure or encoding cannot
// be read: a missing or broken multipart boundary, bad base64, an
// unreadable header, nesting deeper than this package follows. The SMTP
// layer answers it with a permanent 5xx (the message cannot become better
// by being sent again).
type MalformedError struct {
	// Part is the MIME part's position, as IMAP numbers it ("1", "2.1");
	// empty for the message header or the whole message.
	Part string
	Err  error
}

func (e *MalformedError) Error() string {
	if e.Part != "" {
		return fmt.Sprintf("mailconv: malformed message: part %s: %v", e.Part, e.Err)
	}
	return fmt.Sprintf("mailconv: malformed message: %v", e.Err)
}

func (e *MalformedError) Unwrap() error { return e.Err }

// TooLargeError reports that the decoded parts of a message are over
// Options.MaxAttachmentBytes, the memory Parse may use to hold them.
type TooLargeError struct {
	// Filename is the attachment being read when the limit was crossed;
	// empty when it was the message text.
	Filename string
	// Size is the decoded size, in bytes, of all parts held up to and
	// including the one named; Limit is the limit it crossed.
	Size, Limit int64
}

func (e *TooLargeError) Error() string {
	what := "the message text"
	if e.Filename != "" {
		what = fmt.Sprintf("attachment %q", e.Filename)
	}
	return fmt.Sprintf("mailconv: message too large: %d bytes with %s; the limit is %d", e.Size, what, e.Limit)
}

// partName formats a part path as IMAP numbers it (1-based, dotted).
func partName(path []int) string {
	var b strings.Builder
	for i, n := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		fmt.Fprint(&b, n+1)
	}
	return b.String()
}
