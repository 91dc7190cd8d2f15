package mailconv

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Bounce describes a message that finally failed on WhatsApp, for a
// delivery status notification to its sender.
type Bounce struct {
	// To is the sender of the original mail, who gets the bounce; From is
	// the bounce's sender (default "Mail Delivery System"
	// <MAILER-DAEMON@Domain>). Domain is the mail domain; required.
	To, From, Domain string
	// Recipient is the WhatsApp number ("+4915112345678") or BSUID the
	// original mail was for.
	Recipient string
	// OriginalMessageID and Subject are the original mail's (the id with
	// or without angle brackets); OriginalDate its Date (default Arrival).
	OriginalMessageID, Subject string
	OriginalDate               time.Time
	// Reason is the failure reason (bridge.Reason, e.g. "window_closed"),
	// Detail the text explaining it.
	Reason, Detail string
	// Status is the RFC 3463 status code (default "5.0.0"); Action the
	// RFC 3464 action (default "failed").
	Status, Action string
	// Arrival is when wabridge accepted the original mail.
	Arrival time.Time
	// Date is the bounce's own date; default time.Now().
	Date time.Time
}

// RenderBounce writes an RFC 3464 delivery status notification: a
// multipart/report; report-type=delivery-status with a readable
// text/plain part naming the recipient and the reason, a
// message/delivery-status part (Reporting-MTA: dns; Domain, Arrival-Date,
// then Final-Recipient: rfc822; <number>@Domain, Action, Status,
// Diagnostic-Code: x-whatsapp; <reason>: <detail>), and a
// text/rfc822-headers part with the original's From (b.To), To, Subject,
// Message-ID and Date. It is In-Reply-To the original, and marked
// Auto-Submitted. Deterministic for the same Bounce.
func RenderBounce(b Bounce) ([]byte, error) {
	if strings.TrimSpace(b.Domain) == "" {
		return nil, errors.New("mailconv: RenderBounce: Domain is required")
	}
	domain := cleanDomain(b.Domain)
	if b.Status == "" {
		b.Status = "5.0.0"
	}
	if b.Action == "" {
		b.Action = "failed"
	}
	if b.Reason == "" {
		b.Reason = "failed"
	}
	if b.Date.IsZero() {
		b.Date = time.Now()
	}
	if b.Arrival.IsZero() {
		b.Arrival = b.Date
	}
	if b.OriginalDate.IsZero() {
		b.OriginalDate = b.Arrival
	}
	from := formatAddress("Mail Delivery System", "MAILER-DAEMON@"+domain)
	if strings.TrimSpace(b.From) != "" {
		a, err := mail.ParseAddress(b.From)
		if err != nil {
			return nil, fmt.Errorf("mailconv: RenderBounce: From: %w", err)
		}
		from = formatAddress(a.Name, a.Address)
	}
	var to string
	if strings.TrimSpace(b.To) != "" {
		a, err := mail.ParseAddress(b.To)
		if err != nil {
			return nil, fmt.Errorf("mailconv: RenderBounce: To: %w", err)
		}
		to = formatAddress(a.Name, a.Address)
	}
	recipient := localPartOr(b.Recipient) + "@" + domain
	shown := oneLine(b.Recipient)
	if shown == "" {
		shown = recipient
	}
	origID := ""
	if id := oneLine(b.OriginalMessageID); id != "" {
		origID = "<" + strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">") + ">"
	}
	sum := sha256.Sum256([]byte(origID + "\x00" + recipient + "\x00" + b.Status + "\x00" + b.Reason + "\x00" + b.Arrival.UTC().Format(time.RFC3339Nano)))
	msgID := "<bounce." + hex.EncodeToString(sum[:12]) + "@" + domain + ">"

	// The readable part.
	var t strings.Builder
	fmt.Fprintf(&t, "Your message to %s could not be delivered on WhatsApp.\n\n", shown)
	if s := oneLine(b.Subject); s != "" {
		fmt.Fprintf(&t, "Subject: %s\n", s)
	}
	fmt.Fprintf(&t, "Reason: %s\n", oneLine(b.Reason))
	if d := strings.TrimSpace(normalizeNewlines(b.Detail)); d != "" {
		fmt.Fprintf(&t, "Detail: %s\n", d)
	}
	if b.Action != "failed" {
		fmt.Fprintf(&t, "Action: %s\n", oneLine(b.Action))
	}
	t.WriteString("\nThe message was not sent. The delivery report and the original headers are attached.\n")
	human := textPart(t.String())
	human.fields = []field{{"Content-Description", "Notification"}}

	// The machine-readable part: ASCII only (RFC 3464 fields).
	diag := asciiOnly(oneLine(b.Reason))
	if d := asciiOnly(oneLine(b.Detail)); d != "" {
		diag += ": " + d
	}
	var ds strings.Builder
	ds.WriteString(foldField("Reporting-MTA", "dns; "+domain))
	ds.WriteString(foldField("Arrival-Date", b.Arrival.Format(time.RFC1123Z)))
	ds.WriteString("\r\n")
	ds.WriteString(foldField("Final-Recipient", "rfc822; "+recipient))
	ds.WriteString(foldField("Action", asciiOnly(oneLine(b.Action))))
	ds.WriteString(foldField("Status", asciiOnly(oneLine(b.Status))))
	ds.WriteString(foldField("Diagnostic-Code", "x-whatsapp; "+diag))
	status := &mimePart{ctype: "message/delivery-status", cte: "7bit", body: []byte(ds.String()),
		fields: []field{{"Content-Description", "Delivery report"}}}

	// The original's headers.
	var oh strings.Builder
	if to != "" {
		oh.WriteString(foldField("From", to))
	}
	oh.WriteString(foldField("To", "<"+recipient+">"))
	if s := oneLine(b.Subject); s != "" {
		oh.WriteString(foldField("Subject", encodeText(s)))
	}
	if origID != "" {
		oh.WriteString(foldField("Message-ID", origID))
	}
	oh.WriteString(foldField("Date", b.OriginalDate.Format(time.RFC1123Z)))
	headers := &mimePart{ctype: "text/rfc822-headers", cte: "7bit", body: []byte(oh.String()),
		fields: []field{{"Content-Description", "Original headers"}}}

	root := &mimePart{
		ctype:  "multipart/report",
		params: map[string]string{"report-type": "delivery-status"},
		parts:  []*mimePart{human, status, headers},
	}
	fields := []field{
		{"Date", b.Date.Format(time.RFC1123Z)},
		{"From", from},
	}
	if to != "" {
		fields = append(fields, field{"To", to})
	}
	subject := "Undelivered WhatsApp message to " + shown
	if s := oneLine(b.Subject); s != "" {
		subject += ": " + s
	}
	fields = append(fields,
		field{"Subject", encodeText(subject)},
		field{"Message-ID", msgID},
	)
	if origID != "" {
		fields = append(fields, field{"In-Reply-To", origID}, field{"References", origID})
	}
	fields = append(fields, field{"Auto-Submitted", "auto-replied"})
	return writeMessage(fields, root, msgID)
}

// asciiOnly replaces what is not printable ASCII with "?".
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
