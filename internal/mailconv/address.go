package mailconv

import (
	"mime"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wabridge/wabridge/bridge"
)

// MessageIDFor returns the Message-ID a WhatsApp message id (wamid) has in
// the mailbox: "<" + id + "@" + domain + ">", stable for the same input.
// Characters a msg-id may not hold (and "%") are percent-encoded, so
// WAMIDFromMessageID can give the wamid back; wamids as Meta writes them
// ("wamid.HBgN…==") are kept as they are. Domain is lower-cased.
func MessageIDFor(wamid, domain string) string {
	return "<" + idLeft(wamid) + "@" + cleanDomain(domain) + ">"
}

// WAMIDFromMessageID is the inverse of MessageIDFor: the wamid behind a
// Message-ID (with or without angle brackets) on domain (compared without
// case), and whether it is one of ours.
func WAMIDFromMessageID(msgID, domain string) (string, bool) {
	id := strings.TrimSpace(msgID)
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	at := strings.LastIndexByte(id, '@')
	if at <= 0 || !strings.EqualFold(id[at+1:], cleanDomain(domain)) {
		return "", false
	}
	w, err := url.PathUnescape(id[:at])
	if err != nil {
		return "", false
	}
	return w, true
}

// idLeft encodes s as the left part of a msg-id (RFC 5322 dot-atom-text).
func idLeft(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		dotOK := c == '.' && i > 0 && i < len(s)-1 && s[i-1] != '.'
		if c < utf8.RuneSelf && (isAtext(c) || dotOK) && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// cleanDomain lower-cases a mail domain and keeps the characters a domain
// may have; "" becomes "localhost".
func cleanDomain(d string) string {
	d = strings.Trim(strings.ToLower(strings.TrimSpace(d)), ".")
	var b strings.Builder
	for i := 0; i < len(d); i++ {
		if c := d[i]; c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "localhost"
	}
	return b.String()
}

// LocalPart returns the mail local part that stands for a WhatsApp
// identity: a phone number's digits ("+49 151 1234" → "491511234"), or a
// BSUID lower-cased with its dots ("US.1349…" → "us.1349…").
func LocalPart(id string) string {
	if bridge.IsBSUID(id) {
		return strings.ToLower(id)
	}
	var b strings.Builder
	for _, r := range id {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// CustomerAddress is the mail address of a WhatsApp customer on domain:
// the phone's digits when the phone is known, else the lower-cased BSUID
// ("unknown" when neither is).
func CustomerAddress(c bridge.Customer, domain string) string {
	local := ""
	if c.Phone != "" {
		local = LocalPart(c.Phone)
	}
	if local == "" && c.BSUID != "" {
		local = LocalPart(c.BSUID)
	}
	if local == "" {
		local = "unknown"
	}
	return local + "@" + cleanDomain(domain)
}

// oneLine makes s safe for a header: control characters and line breaks
// become spaces, runs of spaces collapse, invalid UTF-8 is replaced.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// encodeText encodes an unstructured header value (Subject): as is when
// printable ASCII without "=?", else as UTF-8 encoded words (Q, or B when
// shorter), split to stay within line limits.
func encodeText(s string) string {
	s = oneLine(s)
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii && !strings.Contains(s, "=?") {
		return s
	}
	if ascii {
		// mime's encoders leave ASCII alone; encode the "=?" words only.
		words := strings.Split(s, " ")
		for i, w := range words {
			if strings.Contains(w, "=?") {
				words[i] = "=?utf-8?q?" + strings.NewReplacer("=", "=3D", "?", "=3F", "_", "=5F").Replace(w) + "?="
			}
		}
		return strings.Join(words, " ")
	}
	q := mime.QEncoding.Encode("utf-8", s)
	b := mime.BEncoding.Encode("utf-8", s)
	if len(b) < len(q) {
		return b
	}
	return q
}

// formatAddress formats a name and address for a From or To header, the
// name quoted or RFC 2047 encoded as needed.
func formatAddress(name, addr string) string {
	name = oneLine(name)
	if name == "" {
		return "<" + addr + ">"
	}
	ascii := true
	for _, r := range name {
		if r >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii && !strings.Contains(name, "=?") {
		return quoteName(name) + " <" + addr + ">"
	}
	// Encoded words may not hold specials in a phrase; B-encoding holds anything.
	return mime.BEncoding.Encode("utf-8", name) + " <" + addr + ">"
}

func quoteName(name string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(name); i++ {
		if name[i] == '"' || name[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(name[i])
	}
	b.WriteByte('"')
	return b.String()
}
