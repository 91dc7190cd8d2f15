package imap

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/textproto"
	"strings"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	msgtextproto "github.com/emersion/go-message/textproto"

	"github.com/wabridge/wabridge/internal/mailbox"
)

// Search implements imapserver.Session: flags, dates, sizes and numbers
// from memory; headers and text from the stored message, read only when
// the criteria need them.
func (ss *session) Search(kind imapserver.NumKind, criteria *goimap.SearchCriteria, options *goimap.SearchOptions) (*goimap.SearchData, error) {
	items := ss.items(goimap.SeqSet{{Start: 1, Stop: 0}})
	ss.staticCriteria(criteria)
	var (
		data   goimap.SearchData
		seqSet goimap.SeqSet
		uidSet goimap.UIDSet
	)
	c, cancel := ctx()
	defer cancel()
	var m candidate
	for _, it := range items {
		m = candidate{item: it, mbox: ss.mbox, ctx: c}
		if !m.match(criteria) {
			continue
		}
		uidSet.AddNum(goimap.UID(it.msg.UID))
		num := it.seq
		if kind == imapserver.NumKindSeq {
			seqSet.AddNum(it.seq)
		} else {
			num = it.msg.UID
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		if num > data.Max {
			data.Max = num
		}
		data.Count++
	}
	if kind == imapserver.NumKindSeq {
		data.All = seqSet
	} else {
		data.All = uidSet
	}
	if options.ReturnSave {
		ss.searchRes = uidSet
	}
	return &data, nil
}

// staticCriteria resolves "*" and "$" in the criteria's number sets.
func (ss *session) staticCriteria(criteria *goimap.SearchCriteria) {
	ss.mbox.Snapshot(func(_ mailbox.Info, msgs []*mailbox.Message) {
		var seqs []goimap.SeqSet
		for _, set := range criteria.SeqNum {
			switch s := ss.static(set, msgs).(type) {
			case goimap.SeqSet:
				seqs = append(seqs, s)
			case goimap.UIDSet:
				criteria.UID = append(criteria.UID, s)
			}
		}
		criteria.SeqNum = seqs
		for i, set := range criteria.UID {
			criteria.UID[i] = ss.static(set, msgs).(goimap.UIDSet)
		}
	})
	for i := range criteria.Not {
		ss.staticCriteria(&criteria.Not[i])
	}
	for i := range criteria.Or {
		ss.staticCriteria(&criteria.Or[i][0])
		ss.staticCriteria(&criteria.Or[i][1])
	}
}

// candidate is a message under test, its body read at most once.
type candidate struct {
	item
	mbox *mailbox.Mailbox
	ctx  context.Context
	body []byte
	read bool
}

// header is the message's header, from the header block (the mailbox's
// header cache) unless the body was read already.
func (m *candidate) header() gomessage.Header {
	raw := m.body
	if !m.read {
		raw, _ = m.mbox.Header(m.ctx, m.msg.UID)
	}
	h, err := msgtextproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		// A header that does not parse fails the same way on the whole
		// message (FuzzHeaderBlock), where entity() gives an empty one.
		return gomessage.Header{}
	}
	return gomessage.Header{Header: h}
}

func (m *candidate) bytes() []byte {
	if !m.read {
		m.read = true
		m.body, _ = m.mbox.Body(m.ctx, m.msg.UID)
	}
	return m.body
}

func (m *candidate) entity() *gomessage.Entity {
	e, _ := gomessage.Read(bytes.NewReader(m.bytes()))
	if e == nil {
		e, _ = gomessage.New(gomessage.Header{}, bytes.NewReader(nil))
	}
	return e
}

func (m *candidate) match(c *goimap.SearchCriteria) bool {
	for _, set := range c.SeqNum {
		if !set.Contains(m.seq) {
			return false
		}
	}
	for _, set := range c.UID {
		if !set.Contains(goimap.UID(m.msg.UID)) {
			return false
		}
	}
	if !matchDate(m.msg.Date, c.Since, c.Before) {
		return false
	}
	for _, f := range c.Flag {
		if !mailbox.HasFlag(m.msg.Flags, string(f)) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if mailbox.HasFlag(m.msg.Flags, string(f)) {
			return false
		}
	}
	if c.Larger != 0 && m.msg.Size <= c.Larger {
		return false
	}
	if c.Smaller != 0 && m.msg.Size >= c.Smaller {
		return false
	}
	if len(c.Header) > 0 || !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		h := mail.Header{Header: m.header()}
		for _, f := range c.Header {
			if !matchFields(h.FieldsByKey(f.Key), f.Value) {
				return false
			}
		}
		if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
			t, err := h.Date()
			if err != nil || !matchDate(t, c.SentSince, c.SentBefore) {
				return false
			}
		}
	}
	for _, text := range c.Text {
		if !matchEntity(m.entity(), text, true) {
			return false
		}
	}
	for _, text := range c.Body {
		if !matchEntity(m.entity(), text, false) {
			return false
		}
	}
	for i := range c.Not {
		if m.match(&c.Not[i]) {
			return false
		}
	}
	for i := range c.Or {
		if !m.match(&c.Or[i][0]) && !m.match(&c.Or[i][1]) {
			return false
		}
	}
	return true
}

// matchDate compares days, ignoring time zones (RFC 3501 6.4.4).
func matchDate(t, since, before time.Time) bool {
	if since.IsZero() && before.IsZero() {
		return true
	}
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && t.Before(since) {
		return false
	}
	return before.IsZero() || t.Before(before)
}

func matchFields(fields gomessage.HeaderFields, pattern string) bool {
	if pattern == "" {
		return fields.Len() > 0
	}
	pattern = strings.ToLower(pattern)
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		if strings.Contains(strings.ToLower(v), pattern) {
			return true
		}
	}
	return false
}

// matchEntity looks for pattern (case-insensitively) in the decoded text
// parts, and with includeHeader in the header fields too.
func matchEntity(e *gomessage.Entity, pattern string, includeHeader bool) bool {
	if pattern == "" {
		return true
	}
	if includeHeader && matchFields(e.Header.Fields(), pattern) {
		return true
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			part, err := mr.NextPart()
			if err != nil {
				return false
			}
			if matchEntity(part, pattern, includeHeader) {
				return true
			}
		}
	}
	t, _, err := e.Header.ContentType()
	if err != nil && t == "" {
		t = "text/plain"
	}
	if !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return false
	}
	buf, err := io.ReadAll(io.LimitReader(e.Body, 16<<20))
	if err != nil {
		return false
	}
	return bytes.Contains(bytes.ToLower(buf), bytes.ToLower([]byte(pattern)))
}

// headerMessageID returns a mail's Message-ID without angle brackets.
func headerMessageID(raw []byte) string {
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return ""
	}
	return strings.Trim(strings.TrimSpace(h.Get("Message-ID")), "<>")
}
