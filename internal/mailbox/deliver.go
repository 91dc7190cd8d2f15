package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-message/charset"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/mailconv"
)

var (
	_ bridge.InboundConsumer = (*Service)(nil)
	_ bridge.StatusReporter  = (*Service)(nil)
)

// OriginPrefix marks messages submitted by mail: their origin is
// "smtp:<lower-cased user name>".
const OriginPrefix = "smtp:"

// errMediaPending retries an inbound delivery until its file is fetched.
var errMediaPending = errors.New("mailbox: media not fetched yet")

// Wants implements bridge.InboundConsumer: a customer message to a
// business number some mail user lists.
func (s *Service) Wants(business string) bool { return len(s.cfg.Users.ForNumber(business)) > 0 }

// Deliver implements bridge.InboundConsumer: the message, rendered as a
// mail, goes into the INBOX of every user listing its business number,
// once (keyed by the message id). A media message waits until its file
// is fetched or has finally failed, so the mail carries the attachment.
func (s *Service) Deliver(ctx context.Context, m *bridge.Message) error {
	if md := m.Content.Media; m.Kind.IsMedia() && md != nil && md.FileID == "" && md.FetchError == "" {
		return errMediaPending
	}
	for _, u := range s.cfg.Users.ForNumber(m.Business) {
		body, err := mailconv.Render(m, mailconv.RenderOptions{
			Domain:         s.cfg.Domain,
			To:             u.Address(s.cfg.Domain),
			OpenFile:       s.openFile(ctx),
			DisableMapLink: s.cfg.DisableMapLink,
		})
		if err != nil {
			return fmt.Errorf("mailbox: render %s: %w", m.ID, err)
		}
		inbox, err := s.Mailbox(ctx, u.Key(), Inbox)
		if err != nil {
			return err
		}
		date := m.Timestamp
		if date.IsZero() {
			date = m.CreatedAt
		}
		a, err := inbox.Append(ctx, NewMessage{
			Key:       "in:" + string(m.ID),
			MessageID: strings.Trim(mailconv.MessageIDFor(m.WAMID, s.cfg.Domain), "<>"),
			Date:      date,
			Body:      body,
		}, false)
		if err != nil {
			return err
		}
		s.delivered("inbox", a)
	}
	return nil
}

func (s *Service) openFile(ctx context.Context) func(string) (io.ReadCloser, *bridge.File, error) {
	if s.cfg.OpenFile == nil {
		return nil
	}
	return func(id string) (io.ReadCloser, *bridge.File, error) { return s.cfg.OpenFile(ctx, id) }
}

// Owns implements bridge.StatusReporter: messages submitted by mail.
func (s *Service) Owns(origin string) bool { return strings.HasPrefix(origin, OriginPrefix) }

var (
	_ bridge.StatusFilter = (*Service)(nil)
	_ bridge.StatusOnly   = (*Service)(nil)
)

// ReportsFromStatus implements bridge.StatusOnly: delivery keywords and
// bounces are made from the message's status, addresses, times and
// idempotency key, never its content, send record or history.
func (*Service) ReportsFromStatus() {}

// Reports implements bridge.StatusFilter: a message that was only sent
// (or queued) changes no delivery keyword and bounces nothing.
func (s *Service) Reports(m *bridge.Message) bool {
	return m.Status != bridge.StatusSent && m.Status != bridge.StatusQueued
}

// Report implements bridge.StatusReporter: the Sent copy of the mail the
// message came from gets its delivery keywords recomputed, and a final
// failure puts one bounce per (mail, recipient) into the sender's INBOX.
func (s *Service) Report(ctx context.Context, m *bridge.Message) error {
	if err := s.updateDelivery(ctx, string(m.ID)); err != nil {
		return err
	}
	if m.Status == bridge.StatusFailed {
		return s.bounce(ctx, m)
	}
	return nil
}

// updateDelivery recomputes the keywords of the Sent copies linked to a
// WhatsApp message. Its write is ticketed in each of their mailboxes (see
// Mailbox.issued), so memory and store change in the same order without a
// lock held across the commit, and a concurrent STORE composes with it.
func (s *Service) updateDelivery(ctx context.Context, messageID string) error {
	linked, err := s.store.MailLinked(ctx, messageID)
	if err != nil || len(linked) == 0 {
		return err
	}
	var boxes []*Mailbox
	for _, l := range linked {
		if mb := s.byID(l.MailboxID); mb != nil && !slices.Contains(boxes, mb) {
			boxes = append(boxes, mb)
		}
	}
	// Tickets are taken with every box locked (in id order), so the
	// tickets of any two writes are in the same order in every box.
	sort.Slice(boxes, func(i, j int) bool { return boxes[i].info.ID < boxes[j].info.ID })
	tickets := make([]uint64, len(boxes))
	for i, mb := range boxes {
		mb.mu.Lock()
		tickets[i] = mb.ticketLocked()
	}
	wait := s.store.MailUpdateDeliveryQueued(ctx, messageID, DeliveryKeywords)
	for _, mb := range boxes {
		mb.mu.Unlock()
	}
	changes, err := wait()
	for i, mb := range boxes {
		mb.applyInTurn(tickets[i], func() {
			for _, c := range changes {
				if err == nil && c.MailboxID == mb.info.ID {
					mb.applyLocked([]FlagChange{c}, nil)
				}
			}
		})
		// A copy in a mailbox whose user is not loaded: the store has it.
	}
	return err
}

// mailKey is the (Message-ID, recipient) a message was submitted for, from
// its idempotency key "<Message-ID>|<recipient>|<n>"; else its id.
func mailKey(m *bridge.Message) string {
	if i := strings.LastIndexByte(m.IdempotencyKey, '|'); i > 0 {
		return m.IdempotencyKey[:i]
	}
	return string(m.ID)
}

// bounceStatus is the RFC 3463 status for a failure reason.
func bounceStatus(r bridge.Reason) string {
	switch r {
	case bridge.ReasonNotOnWhatsApp:
		return "5.1.1"
	case bridge.ReasonOptedOut:
		return "5.7.1"
	case bridge.ReasonMediaTooLarge:
		return "5.3.4"
	case bridge.ReasonMediaUnsupported:
		return "5.6.1"
	case bridge.ReasonExpired:
		return "5.4.7"
	case bridge.ReasonInvalid:
		return "5.6.0"
	}
	return "5.0.0"
}

func (s *Service) bounce(ctx context.Context, m *bridge.Message) error {
	u := s.cfg.Users.Lookup(strings.TrimPrefix(m.Origin, OriginPrefix))
	if u == nil {
		s.log.Warn("no mail user for a bounce; dropped", "message_id", m.ID, "origin", m.Origin)
		return nil
	}
	b := mailconv.Bounce{
		To:        u.Address(s.cfg.Domain),
		Domain:    s.cfg.Domain,
		Recipient: m.Customer.Phone,
		Reason:    string(m.Reason),
		Detail:    m.ErrorMessage,
		Status:    bounceStatus(m.Reason),
		Arrival:   m.CreatedAt,
		Date:      m.UpdatedAt,
	}
	if b.Recipient == "" {
		b.Recipient = m.Customer.BSUID
	}
	if key := mailKey(m); key != string(m.ID) {
		b.OriginalMessageID, _, _ = strings.Cut(key, "|")
	}
	// The original's subject and date from its Sent copy, when there is one.
	if copies, err := s.store.MailLinked(ctx, string(m.ID)); err == nil && len(copies) > 0 {
		if body, err := s.store.MailBody(ctx, copies[0].MailboxID, copies[0].UID); err == nil {
			if msg, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(body))); err == nil {
				b.Subject = decodeHeader(msg.Header.Get("Subject"))
				if d, err := msg.Header.Date(); err == nil {
					b.OriginalDate = d
				}
			}
		}
	}
	body, err := mailconv.RenderBounce(b)
	if err != nil {
		return err
	}
	inbox, err := s.Mailbox(ctx, u.Key(), Inbox)
	if err != nil {
		return err
	}
	a, err := inbox.Append(ctx, NewMessage{Key: "bounce:" + mailKey(m), Date: b.Date, Body: body}, false)
	if err != nil {
		return err
	}
	s.delivered("bounce", a)
	return nil
}

func (s *Service) delivered(kind string, a Appended) {
	if !a.Existed {
		s.cfg.Metrics.Delivered(kind)
	}
}

func decodeHeader(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// SaveSent stores the Sent copy of a submitted mail — raw as the user
// sent it, minus any Bcc — linked to the WhatsApp messages it became, so
// its keywords follow their delivery. Idempotent per Message-ID; a mail
// without one gets one added. Returns the Message-ID used.
func (s *Service) SaveSent(ctx context.Context, user *User, raw []byte, messageID string, links []bridge.MessageID) (string, error) {
	raw = stripBcc(raw)
	messageID = strings.Trim(strings.TrimSpace(messageID), "<>")
	if messageID == "" {
		var r [12]byte
		_, _ = rand.Read(r[:])
		messageID = "sent." + hex.EncodeToString(r[:]) + "@" + s.cfg.Domain
		raw = append([]byte("Message-ID: <"+messageID+">\r\n"), raw...)
	}
	sent, err := s.Mailbox(ctx, user.Key(), Sent)
	if err != nil {
		return "", err
	}
	ids := make([]string, len(links))
	for i, l := range links {
		ids[i] = string(l)
	}
	a, err := sent.Append(ctx, NewMessage{
		Key:       "sent:" + messageID,
		MessageID: messageID,
		Flags:     []string{FlagSeen},
		Date:      time.Now(),
		Body:      raw,
		Links:     ids,
	}, true)
	if err != nil {
		return "", err
	}
	s.delivered("sent", a)
	return messageID, nil
}

// stripBcc removes Bcc header fields (with their continuation lines)
// from the header of raw.
func stripBcc(raw []byte) []byte {
	// The header ends at the first empty line, whichever line ending it
	// uses; end is just past the last field's line ending (the message's
	// end when there is no body).
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if lf := bytes.Index(raw, []byte("\n\n")); lf >= 0 && (end < 0 || lf < end) {
		end = lf + 1
	} else if end >= 0 {
		end += 2
	} else {
		end = len(raw) // a header without a body
	}
	if !bytes.Contains(bytes.ToLower(raw[:end]), []byte("bcc:")) {
		return raw
	}
	var out bytes.Buffer
	skipping := false
	for _, line := range bytes.SplitAfter(raw[:end], []byte("\n")) {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if !skipping {
				out.Write(line)
			}
			continue
		}
		skipping = len(line) >= 4 && bytes.EqualFold(line[:4], []byte("bcc:"))
		if !skipping {
			out.Write(line)
		}
	}
	out.Write(raw[end:])
	return out.Bytes()
}

var wordDecoder = mime.WordDecoder{CharsetReader: charset.Reader}
