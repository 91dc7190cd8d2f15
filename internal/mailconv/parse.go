// Package mailconv converts between mail and WhatsApp messages. It is the
// pure conversion layer under the SMTP and IMAP servers: Parse turns a
// submitted mail into the text and attachments to send on WhatsApp,
// Render turns a WhatsApp message into an RFC 5322 mail for the mailbox,
// RenderBounce writes an RFC 3464 delivery status notification. Nothing
// here does I/O besides reading the readers it is given.
package mailconv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	message "github.com/emersion/go-message"
	"github.com/emersion/go-message/charset" // registers every charset go-message can decode
	gomail "github.com/emersion/go-message/mail"

	"github.com/wabridge/wabridge/bridge"
)

// Subject modes for Options.Subject.
const (
	// SubjectIgnore sends the body only (the default).
	SubjectIgnore = "ignore"
	// SubjectPrepend sends "*Subject*\n\nbody" (WhatsApp's bold). The
	// subject of a reply ("Re: …" with In-Reply-To or References) is not
	// prepended: it is the subject of the conversation, not news.
	SubjectPrepend = "prepend"
	// SubjectOnlyIfNoBody sends the subject when the body is empty.
	SubjectOnlyIfNoBody = "only-if-no-body"
)

// DefaultMaxAttachmentBytes is the default of Options.MaxAttachmentBytes.
const DefaultMaxAttachmentBytes = 100 * bridge.MiB

// Limits on the MIME tree Parse follows; a deeper or larger tree is
// a *MalformedError.
const (
	maxDepth = 32
	maxParts = 1000
)

// Options tune Parse. The zero value is usable.
type Options struct {
	// MaxTextLength is the longest WhatsApp text, in characters, that
	// Parsed.TextParts splits at; default bridge.MaxTextLength (4096).
	// Parse itself never splits.
	MaxTextLength int
	// Subject is SubjectIgnore (""), SubjectPrepend or SubjectOnlyIfNoBody.
	Subject string
	// MaxAttachmentBytes bounds the decoded bytes Parse holds in memory for
	// all attachments and text parts together; over it Parse returns a
	// *TooLargeError. Default DefaultMaxAttachmentBytes (100 MiB).
	MaxAttachmentBytes int64
}

// Parsed is what a mail carries for WhatsApp.
type Parsed struct {
	// MessageID is the mail's Message-ID and InReplyTo the first id of
	// In-Reply-To, both in angle brackets as MessageIDFor writes them
	// ("<id@host>"); References lists the References ids the same way.
	MessageID, InReplyTo string
	References           []string
	// From is the first address of the From header; FromName its display
	// name, RFC 2047 decoded.
	From, FromName string
	// Subject is the decoded, unfolded subject.
	Subject string
	// Date is the Date header; zero when missing or unreadable.
	Date time.Time
	// Text is the body to send, valid UTF-8 with "\n" line ends: the
	// text/plain parts (else the HTML ones, converted to readable text),
	// with quoted reply history and signature removed (StripReply) and the
	// subject applied as Options.Subject says. It may be longer than
	// WhatsApp allows; see TextParts.
	Text string
	// Attachments are the parts with Content-Disposition: attachment, and
	// the inline non-text parts with a file name, in mail order.
	Attachments []Attachment
	// WhatsAppFrom is the X-WhatsApp-From header (the business number to
	// send from), trimmed; "" if absent.
	WhatsAppFrom string

	header  message.Header
	maxText int
}

// Header returns the first value of the named top-level header field,
// unfolded, as it appears in the mail (encoded words are not decoded);
// "" when absent. Names are case-insensitive.
func (p *Parsed) Header(name string) string {
	return strings.TrimSpace(p.header.Get(name))
}

// HeaderValues returns every value of the named top-level header field,
// in mail order.
func (p *Parsed) HeaderValues(name string) []string {
	return p.header.Values(name)
}

// HeaderPrefixed returns the top-level header fields whose name starts
// with prefix (case-insensitively), as [name without the prefix, decoded
// value] pairs in mail order.
func (p *Parsed) HeaderPrefixed(prefix string) [][2]string {
	var out [][2]string
	fields := p.header.Fields()
	for fields.Next() {
		k := fields.Key()
		if len(k) <= len(prefix) || !strings.EqualFold(k[:len(prefix)], prefix) {
			continue
		}
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		out = append(out, [2]string{k[len(prefix):], strings.TrimSpace(v)})
	}
	return out
}

// TextParts splits Text into WhatsApp messages of at most
// Options.MaxTextLength characters with SplitText; nil for an empty Text.
func (p *Parsed) TextParts() []string {
	return SplitText(p.Text, p.maxText)
}

// Parse reads a mail (RFC 5322 with MIME) from r. It walks the whole MIME
// tree, decodes transfer encodings and charsets, and holds attachments in
// memory (bounded by opt.MaxAttachmentBytes). Errors: *MalformedError for
// structure or encoding it cannot read, *TooLargeError over the memory
// bound, a plain error for invalid options. Parse never panics on input.
func Parse(r io.Reader, opt Options) (*Parsed, error) {
	if opt.MaxTextLength <= 0 {
		opt.MaxTextLength = bridge.MaxTextLength
	}
	if opt.MaxAttachmentBytes <= 0 {
		opt.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	switch opt.Subject {
	case "":
		opt.Subject = SubjectIgnore
	case SubjectIgnore, SubjectPrepend, SubjectOnlyIfNoBody:
	default:
		return nil, fmt.Errorf("mailconv: unknown subject mode %q (want %q, %q or %q)",
			opt.Subject, SubjectIgnore, SubjectPrepend, SubjectOnlyIfNoBody)
	}

	e, err := message.Read(r)
	if e == nil {
		if err == nil {
			err = errors.New("no message")
		}
		return nil, &MalformedError{Err: err}
	}
	p := &Parsed{header: e.Header, maxText: opt.MaxTextLength}
	p.readHeader(e.Header)

	w := &walker{limit: opt.MaxAttachmentBytes}
	if err := w.entity(e, nil, err, 0); err != nil {
		return nil, err
	}
	p.Attachments = w.atts

	var segs []string
	for _, s := range w.segs {
		if t := s.String(); t != "" {
			segs = append(segs, t)
		}
	}
	body := StripReply(cleanText(strings.Join(segs, "\n\n")))
	p.Text = applySubject(opt.Subject, p, body)
	return p, nil
}

// readHeader fills the header fields of p, leniently: a field it cannot
// read is left empty rather than failing the mail.
func (p *Parsed) readHeader(h message.Header) {
	mh := gomail.Header{Header: h}
	if s, err := mh.Subject(); err == nil {
		p.Subject = s
	} else {
		p.Subject = h.Get("Subject")
	}
	p.Subject = strings.Join(strings.Fields(cleanText(toUTF8(p.Subject))), " ")

	if list, err := mh.AddressList("From"); err == nil && len(list) > 0 {
		p.From, p.FromName = list[0].Address, list[0].Name
	} else {
		p.From, p.FromName = lenientAddress(h.Get("From"))
	}
	p.From = strings.TrimSpace(toUTF8(p.From))
	p.FromName = strings.Join(strings.Fields(cleanText(toUTF8(p.FromName))), " ")

	if d, err := mh.Date(); err == nil {
		p.Date = d
	}
	if ids := msgIDs(h.Get("Message-Id")); len(ids) > 0 {
		p.MessageID = ids[0]
	}
	if ids := msgIDs(h.Get("In-Reply-To")); len(ids) > 0 {
		p.InReplyTo = ids[0]
	}
	for _, v := range h.Values("References") {
		p.References = append(p.References, msgIDs(v)...)
	}
	p.WhatsAppFrom = strings.TrimSpace(toUTF8(h.Get("X-Whatsapp-From")))
}

var angleAddr = regexp.MustCompile(`<([^<>\s]+@[^<>\s]+)>`)

// lenientAddress takes an address out of a From value net/mail refuses.
func lenientAddress(v string) (addr, name string) {
	v = strings.TrimSpace(v)
	if m := angleAddr.FindStringSubmatchIndex(v); m != nil {
		addr = v[m[2]:m[3]]
		name = strings.Trim(strings.TrimSpace(v[:m[0]]), `"' `)
		if dec, err := decodeWords(name); err == nil {
			name = dec
		}
		return addr, name
	}
	for _, f := range strings.Fields(v) {
		if strings.Contains(f, "@") {
			return strings.Trim(f, `<>"',;()`), ""
		}
	}
	return "", ""
}

func decodeWords(s string) (string, error) {
	return gomailDecoder.DecodeHeader(s)
}

// gomailDecoder decodes RFC 2047 encoded words in every charset
// go-message/charset knows.
var gomailDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

var msgIDPattern = regexp.MustCompile(`<[^<>\s]+>`)

// msgIDs reads message ids from a Message-ID, In-Reply-To or References
// value leniently: every <…> token, or bare tokens with an @ when there
// are none. They are returned in angle brackets.
func msgIDs(v string) []string {
	// RFC 5322 has no encoded words in message ids, but some mail
	// libraries (Python's email with policy.SMTP) encode a long one.
	if strings.Contains(v, "=?") {
		if d, err := gomailDecoder.DecodeHeader(v); err == nil {
			v = d
		}
	}
	v = toUTF8(v)
	var out []string
	for _, id := range msgIDPattern.FindAllString(v, -1) {
		if len(id) > 2 {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		for _, f := range strings.Fields(v) {
			f = strings.Trim(f, `<>"',;()`)
			if strings.Contains(f, "@") {
				out = append(out, "<"+f+">")
			}
		}
	}
	return out
}

var replyPrefix = regexp.MustCompile(`(?i)^\s*(re|aw|sv|vs|antw|antwort|rif|r|res|réf|ref|odp|vá|ynt|回复|答复)\s*(\[\d+\])?\s*:`)

func applySubject(mode string, p *Parsed, body string) string {
	subj := p.Subject
	switch mode {
	case SubjectPrepend:
		isReply := p.InReplyTo != "" || len(p.References) > 0
		if subj == "" || (isReply && replyPrefix.MatchString(subj)) {
			return body
		}
		if body == "" {
			return "*" + subj + "*"
		}
		return "*" + subj + "*\n\n" + body
	case SubjectOnlyIfNoBody:
		if body == "" {
			return subj
		}
	}
	return body
}

// segment is one text part of the mail, before conversion.
type segment struct {
	text string
	html bool
}

func (s segment) String() string {
	if s.html {
		return strings.TrimSpace(HTMLToText(s.text))
	}
	return strings.TrimSpace(s.text)
}

// walker collects text segments and attachments from a MIME tree.
type walker struct {
	limit, used int64
	parts       int
	segs        []segment
	atts        []Attachment
}

// entity handles one entity: the root or a part at path. eerr is the
// error go-message reported making it (unknown charset or encoding).
func (w *walker) entity(e *message.Entity, path []int, eerr error, depth int) error {
	w.parts++
	if w.parts > maxParts {
		return &MalformedError{Part: partName(path), Err: fmt.Errorf("more than %d MIME parts", maxParts)}
	}
	if depth > maxDepth {
		return &MalformedError{Part: partName(path), Err: fmt.Errorf("MIME parts nested deeper than %d", maxDepth)}
	}
	if eerr != nil && message.IsUnknownEncoding(eerr) {
		return &MalformedError{Part: partName(path), Err: eerr}
	}
	rawCharset := eerr != nil && message.IsUnknownCharset(eerr)

	t, params := contentType(e.Header)
	if strings.HasPrefix(t, "multipart/") {
		return w.multipart(e, t, path, depth)
	}

	disp, dparams, derr := e.Header.ContentDisposition()
	disp = strings.ToLower(disp)
	if derr != nil {
		disp = strings.ToLower(strings.TrimSpace(strings.SplitN(e.Header.Get("Content-Disposition"), ";", 2)[0]))
	}
	name := filenameOf(e.Header, dparams, params)

	switch t {
	case "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature":
		// The signature of a multipart/signed mail is not content.
		_, err := w.read(e.Body, path, "")
		return err
	}

	attachment := disp == "attachment" || (!strings.HasPrefix(t, "text/") && name != "")
	if !attachment && t != "text/plain" && t != "text/html" {
		if strings.HasPrefix(t, "text/") && name != "" {
			attachment = true
		} else {
			// A part that is neither text nor a file (an unnamed inline
			// image of an HTML layout): not content for WhatsApp.
			_, err := w.read(e.Body, path, "")
			return err
		}
	}
	if attachment {
		return w.attachment(e, t, name, disp, path)
	}

	b, err := w.read(e.Body, path, "")
	if err != nil {
		return err
	}
	cs := strings.ToLower(params["charset"])
	isHTML := t == "text/html"
	var text string
	switch {
	case rawCharset:
		text = toUTF8(string(b))
	case cs == "" && isHTML:
		if m := metaCharset.FindSubmatch(b); m != nil {
			text = decodeCharset(string(m[1]), string(b))
		} else {
			text = toUTF8(string(b))
		}
	case cs == "" || cs == "us-ascii":
		text = toUTF8(string(b))
	default:
		text = strings.ToValidUTF8(string(b), "\uFFFD")
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if !isHTML && strings.EqualFold(params["format"], "flowed") {
		text = unflow(text, strings.EqualFold(params["delsp"], "yes"))
	}
	w.segs = append(w.segs, segment{text: text, html: isHTML})
	return nil
}

var metaCharset = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_\-:.]+)`)

// multipart walks the parts of a multipart entity. Of a
// multipart/alternative only the plainest part's text is kept (text/plain
// before HTML); attachments are kept from every part.
func (w *walker) multipart(e *message.Entity, t string, path []int, depth int) error {
	mr := e.MultipartReader()
	if mr == nil {
		return &MalformedError{Part: partName(path), Err: errors.New("unreadable multipart")}
	}
	alternative := t == "multipart/alternative"
	var alts [][]segment
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil && part == nil {
			return &MalformedError{Part: partName(path), Err: err}
		}
		outer := w.segs
		if alternative {
			w.segs = nil
		}
		if err := w.entity(part, append(path[:len(path):len(path)], i), err, depth+1); err != nil {
			return err
		}
		if alternative {
			alts = append(alts, w.segs)
			w.segs = outer
		}
	}
	if alternative {
		w.segs = append(w.segs, pickAlternative(alts)...)
	}
	return nil
}

// pickAlternative chooses among the alternatives of a
// multipart/alternative: the first with non-empty plain text, else the
// first with any text.
func pickAlternative(alts [][]segment) []segment {
	nonEmpty := func(a []segment, plainOnly bool) bool {
		for _, s := range a {
			if (!plainOnly || !s.html) && strings.TrimSpace(s.text) != "" {
				return true
			}
		}
		return false
	}
	for _, a := range alts {
		if nonEmpty(a, true) {
			return a
		}
	}
	for _, a := range alts {
		if nonEmpty(a, false) {
			return a
		}
	}
	return nil
}

// attachment reads a file part into memory.
func (w *walker) attachment(e *message.Entity, t, name, disp string, path []int) error {
	label := name
	if label == "" {
		label = "part " + partName(path)
	}
	b, err := w.read(e.Body, path, label)
	if err != nil {
		return err
	}
	mt := attachmentType(t, name)
	cid := strings.TrimSpace(e.Header.Get("Content-Id"))
	cid = strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">")
	w.atts = append(w.atts, Attachment{
		Filename:  name,
		MIMEType:  mt,
		Kind:      KindFor(mt),
		Size:      int64(len(b)),
		Inline:    disp != "attachment",
		ContentID: toUTF8(cid),
		Open:      func() (io.Reader, error) { return bytes.NewReader(b), nil },
	})
	return nil
}

// read reads a part's decoded body within the memory bound. label names
// the part for a *TooLargeError ("" for text).
func (w *walker) read(r io.Reader, path []int, label string) ([]byte, error) {
	remaining := w.limit - w.used
	b, err := io.ReadAll(io.LimitReader(r, remaining+1))
	if err != nil {
		return nil, &MalformedError{Part: partName(path), Err: err}
	}
	if int64(len(b)) > remaining {
		n, _ := io.Copy(io.Discard, r)
		return nil, &TooLargeError{Filename: label, Size: w.used + int64(len(b)) + n, Limit: w.limit}
	}
	w.used += int64(len(b))
	return b, nil
}

// contentType returns the part's media type (lower-case; text/plain when
// missing or unreadable as RFC 2045 says) and parameters.
func contentType(h message.Header) (string, map[string]string) {
	t, params, err := h.ContentType()
	if err != nil {
		t = strings.ToLower(strings.TrimSpace(strings.SplitN(h.Get("Content-Type"), ";", 2)[0]))
		params = map[string]string{}
		if cs := rfc2231Param(h.Get("Content-Type"), "charset"); cs != "" {
			params["charset"] = cs
		}
		if b := rfc2231Param(h.Get("Content-Type"), "boundary"); b != "" {
			params["boundary"] = b
		}
	}
	if !strings.Contains(t, "/") {
		t = "text/plain"
	}
	if params == nil {
		params = map[string]string{}
	}
	return t, params
}

// filenameOf returns a part's cleaned file name: Content-Disposition's
// filename, else Content-Type's name, read leniently when the standard
// parser fails.
func filenameOf(h message.Header, dparams, tparams map[string]string) string {
	name := dparams["filename"]
	if name == "" {
		name = rfc2231Param(h.Get("Content-Disposition"), "filename")
	}
	if name == "" {
		name = tparams["name"]
	}
	if name == "" {
		name = rfc2231Param(h.Get("Content-Type"), "name")
	}
	if strings.Contains(name, "=?") {
		if dec, err := gomailDecoder.DecodeHeader(name); err == nil {
			name = dec
		}
	}
	return cleanFilename(toUTF8(name))
}

// cleanText drops control characters other than newline and tab, and the
// invisible characters HTML mail pads with (BOM, zero-width space, soft
// hyphen, combining grapheme joiner), and makes line ends "\n".
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		case r == '\uFEFF' || r == '\u200B' || r == '\u00AD' || r == '\u034F':
			return -1
		case r == utf8.RuneError:
			return r
		}
		return r
	}, s)
}

// unflow joins the soft line breaks of format=flowed text (RFC 3676):
// a line ending in a space continues on the next line of the same quote
// depth. Space-stuffing is undone; the signature separator is kept.
func unflow(s string, delsp bool) string {
	lines := strings.Split(s, "\n")
	var out []string
	var cur strings.Builder
	curDepth, open := 0, false
	flush := func() {
		if open {
			out = append(out, strings.Repeat(">", curDepth)+prefixSpace(curDepth)+cur.String())
			cur.Reset()
			open = false
		}
	}
	for _, l := range lines {
		depth := 0
		for depth < len(l) && l[depth] == '>' {
			depth++
		}
		body := l[depth:]
		body = strings.TrimPrefix(body, " ") // space-stuffing
		if open && depth != curDepth {
			flush()
		}
		soft := strings.HasSuffix(body, " ") && body != "-- "
		if soft && delsp {
			body = body[:len(body)-1]
		}
		cur.WriteString(body)
		curDepth, open = depth, true
		if !soft {
			flush()
		}
	}
	flush()
	return strings.Join(out, "\n")
}

func prefixSpace(depth int) string {
	if depth > 0 {
		return " "
	}
	return ""
}
