package mailbox

import (
	"strings"
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

func TestStripBcc(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{
			name: "CRLF",
			in:   "From: a@x\r\nBcc: secret@x\r\nTo: b@x\r\nSubject: hi\r\n\r\nbody\r\n",
			want: "From: a@x\r\nTo: b@x\r\nSubject: hi\r\n\r\nbody\r\n",
		},
		{
			name: "LF",
			in:   "From: a@x\nBcc: secret@x\nTo: b@x\n\nbody\n",
			want: "From: a@x\nTo: b@x\n\nbody\n",
		},
		{
			name: "folded Bcc, CRLF",
			in:   "From: a@x\r\nBcc: one@x,\r\n two@x,\r\n\tthree@x\r\nTo: b@x\r\n\r\nbody\r\n",
			want: "From: a@x\r\nTo: b@x\r\n\r\nbody\r\n",
		},
		{
			name: "folded Bcc, LF",
			in:   "BCC: one@x,\n two@x\nFrom: a@x\n\nbody\n",
			want: "From: a@x\n\nbody\n",
		},
		{
			name: "folded other fields kept",
			in:   "Subject: a long\r\n subject\r\nbcc: x@x\r\nTo: b@x,\r\n c@x\r\n\r\nbody\r\n",
			want: "Subject: a long\r\n subject\r\nTo: b@x,\r\n c@x\r\n\r\nbody\r\n",
		},
		{
			name: "several Bcc fields",
			in:   "Bcc: one@x\r\nFrom: a@x\r\nbcc: two@x\r\n\r\nbody\r\n",
			want: "From: a@x\r\n\r\nbody\r\n",
		},
		{
			name: "Bcc is the last field, CRLF",
			in:   "From: a@x\r\nTo: b@x\r\nBcc: secret@x\r\n\r\nbody\r\n",
			want: "From: a@x\r\nTo: b@x\r\n\r\nbody\r\n",
		},
		{
			name: "folded Bcc is the last field, LF",
			in:   "From: a@x\nBcc: one@x,\n two@x\n\nbody\n",
			want: "From: a@x\n\nbody\n",
		},
		{
			name: "empty Bcc",
			in:   "From: a@x\r\nBcc:\r\nTo: b@x\r\n\r\nbody\r\n",
			want: "From: a@x\r\nTo: b@x\r\n\r\nbody\r\n",
		},
		{
			name: "header only, no empty line",
			in:   "From: a@x\r\nBcc: s@x\r\nSubject: s\r\n",
			want: "From: a@x\r\nSubject: s\r\n",
		},
		{
			name: "no Bcc",
			in:   "From: a@x\r\nTo: b@x\r\n\r\nbody\r\n",
			want: "From: a@x\r\nTo: b@x\r\n\r\nbody\r\n",
		},
		{
			name: "Bcc only in the body",
			in:   "From: a@x\r\nTo: b@x\r\n\r\nBcc: not a header\r\n bcc: indented\r\n",
			want: "From: a@x\r\nTo: b@x\r\n\r\nBcc: not a header\r\n bcc: indented\r\n",
		},
		{
			name: "Bcc in the header and the body",
			in:   "Bcc: x@x\nTo: b@x\n\nBcc: stays\n",
			want: "To: b@x\n\nBcc: stays\n",
		},
		{
			name: "field names merely containing bcc",
			in:   "X-Bcc-Note: kept\r\nSubject: about bcc: stuff\r\n\r\nbody\r\n",
			want: "X-Bcc-Note: kept\r\nSubject: about bcc: stuff\r\n\r\nbody\r\n",
		},
		{
			name: "LF header, CRLF pair later in the body",
			in:   "From: a@x\nBcc: s@x\n\nBcc: stays\nline\r\n\r\nend\n",
			want: "From: a@x\n\nBcc: stays\nline\r\n\r\nend\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(stripBcc([]byte(tc.in))); got != tc.want {
				t.Errorf("stripBcc:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestMailKey(t *testing.T) {
	for _, tc := range []struct {
		key, want string
	}{
		{"offer-1@example.com|+4915100000099|0", "offer-1@example.com|+4915100000099"},
		{"offer-1@example.com|+4915100000099|12", "offer-1@example.com|+4915100000099"},
		{"", "msgid"},
		{"no-separator", "msgid"},
	} {
		m := &bridge.Message{ID: "msgid", IdempotencyKey: tc.key}
		if got := mailKey(m); got != tc.want {
			t.Errorf("mailKey(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestBounceStatusIsPermanent(t *testing.T) {
	for _, r := range []bridge.Reason{bridge.ReasonNotOnWhatsApp, bridge.ReasonOptedOut, bridge.ReasonMediaTooLarge,
		bridge.ReasonMediaUnsupported, bridge.ReasonExpired, bridge.ReasonInvalid, bridge.ReasonUpstreamError, ""} {
		if s := bounceStatus(r); !strings.HasPrefix(s, "5.") || strings.Count(s, ".") != 2 {
			t.Errorf("bounceStatus(%q) = %q", r, s)
		}
	}
}
