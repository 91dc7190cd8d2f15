package mailconv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wabridge/wabridge/bridge"
)

// RenderOptions tell Render where the mail lives.
type RenderOptions struct {
	// Domain is the mail domain ("wa.example.com"); required.
	Domain string
	// To is the mailbox owner's address ("support@example.com" or
	// "Support <support@example.com>"), the To of an inbound message.
	// Optional.
	To string
	// OpenFile opens a stored media file (bridge.FileStore.Open); required
	// to render a media message whose file is stored. A bridge.ErrNotFound
	// from it becomes a note in the mail; other errors fail Render.
	OpenFile func(fileID string) (io.ReadCloser, *bridge.File, error)
	// DisableMapLink leaves the OpenStreetMap link out of locations.
	DisableMapLink bool
	// MessageID, when set, is used as the Message-ID instead of the one
	// derived from the wamid (for example the Message-ID of the mail an
	// outbound message was submitted as). With or without angle brackets.
	MessageID string
}

// Subjects are cut to this many characters of the message text.
const subjectSnippet = 60

// Render writes m as an RFC 5322 mail for the IMAP mailbox.
//
// An inbound message is from "Profile Name" <digits@Domain> (the
// customer's phone digits, or the lower-cased BSUID) to opt.To; an
// outbound one (a Sent copy) from <business digits@Domain> to the customer. Date is
// m.Timestamp (else m.CreatedAt); Message-ID is MessageIDFor(m.WAMID)
// (m.ID while no wamid is known); In-Reply-To and References point at the
// message replied to (m.Content.Context) or reacted to. The subject is
// readable ("WhatsApp from Anna: <first 60 characters>", "Photo from
// Anna", …) and headers are RFC 2047 encoded where not ASCII.
//
// The body is text/plain; charset=utf-8 (7bit, or quoted-printable when
// needed). Media are multipart/mixed with the caption and the file as an
// attachment (a note instead when the file is not stored); contacts carry
// a text/vcard attachment; locations a geo: URI and a map link.
//
// Render is deterministic: the same message and files give the same bytes
// (boundaries are derived from the message), so IMAP sizes stay stable.
func Render(m *bridge.Message, opt RenderOptions) ([]byte, error) {
	if m == nil {
		return nil, errors.New("mailconv: Render: no message")
	}
	if strings.TrimSpace(opt.Domain) == "" {
		return nil, errors.New("mailconv: Render: RenderOptions.Domain is required")
	}
	var owner *mail.Address
	if strings.TrimSpace(opt.To) != "" {
		a, err := mail.ParseAddress(opt.To)
		if err != nil {
			return nil, fmt.Errorf("mailconv: Render: RenderOptions.To: %w", err)
		}
		owner = a
	}

	r := renderer{m: m, opt: opt, name: customerName(m)}
	body, err := r.body()
	if err != nil {
		return nil, err
	}

	customer := formatAddress(oneLine(m.ProfileName), CustomerAddress(m.Customer, opt.Domain))
	var from, to string
	if m.Direction == bridge.Outbound {
		from = formatAddress("", localPartOr(m.Business)+"@"+cleanDomain(opt.Domain))
		to = customer
	} else {
		from = customer
		if owner != nil {
			to = formatAddress(owner.Name, owner.Address)
		}
	}

	date := m.Timestamp
	if date.IsZero() {
		date = m.CreatedAt
	}
	if date.IsZero() {
		date = time.Unix(0, 0).UTC()
	}

	msgID := MessageIDFor(m.WAMID, opt.Domain)
	if m.WAMID == "" {
		msgID = MessageIDFor(string(m.ID), opt.Domain)
	}
	if id := strings.TrimSpace(opt.MessageID); id != "" {
		msgID = "<" + strings.TrimSuffix(strings.TrimPrefix(oneLine(id), "<"), ">") + ">"
	}

	fields := []field{
		{"Date", date.Format(time.RFC1123Z)},
		{"From", from},
	}
	if to != "" {
		fields = append(fields, field{"To", to})
	}
	fields = append(fields, field{"Subject", encodeText(r.subject())}, field{"Message-ID", msgID})
	if parent := r.parentWAMID(); parent != "" {
		pid := MessageIDFor(parent, opt.Domain)
		fields = append(fields, field{"In-Reply-To", pid}, field{"References", pid})
	}
	return writeMessage(fields, body, msgID)
}

// localPartOr is LocalPart, or "unknown" when id gives nothing.
func localPartOr(id string) string {
	if l := LocalPart(id); l != "" {
		return l
	}
	return "unknown"
}

// customerName is how a customer is named in subjects and text: the
// profile name, else the phone, else the BSUID.
func customerName(m *bridge.Message) string {
	if n := oneLine(m.ProfileName); n != "" {
		return n
	}
	if m.Customer.Phone != "" {
		return oneLine(m.Customer.Phone)
	}
	if m.Customer.BSUID != "" {
		return oneLine(m.Customer.BSUID)
	}
	return "unknown"
}

type renderer struct {
	m    *bridge.Message
	opt  RenderOptions
	name string
}

func (r *renderer) outbound() bool { return r.m.Direction == bridge.Outbound }

// parentWAMID is the wamid the message answers: its context, or for a
// reaction the message reacted to.
func (r *renderer) parentWAMID() string {
	c := r.m.Content
	if c.Context != nil && c.Context.WAMID != "" {
		return c.Context.WAMID
	}
	if r.m.Kind == bridge.KindReaction && c.Reaction != nil {
		return c.Reaction.MessageID
	}
	return ""
}

// mediaWords names media kinds in subjects, notes and file names.
var mediaWords = map[bridge.Kind]string{
	bridge.KindImage: "photo", bridge.KindVideo: "video", bridge.KindAudio: "audio",
	bridge.KindDocument: "document", bridge.KindSticker: "sticker",
}

func (r *renderer) mediaWord() string {
	if r.m.Kind == bridge.KindAudio && r.m.Content.Media != nil && r.m.Content.Media.Voice {
		return "voice message"
	}
	if w, ok := mediaWords[r.m.Kind]; ok {
		return w
	}
	return "file"
}

// subject is the readable subject, before encoding.
func (r *renderer) subject() string {
	c := r.m.Content
	dir := " from "
	if r.outbound() {
		dir = " to "
	}
	who := dir + r.name
	withText := func(prefix, text string) string {
		if s := snippet(text, subjectSnippet); s != "" {
			return prefix + ": " + s
		}
		return prefix
	}
	switch k := r.m.Kind; {
	case k == bridge.KindText:
		return withText("WhatsApp"+who, c.Text)
	case k.IsMedia():
		word := upperFirst(r.mediaWord())
		text := ""
		if c.Media != nil {
			text = c.Media.Caption
			if k == bridge.KindDocument && c.Media.Filename != "" && text == "" {
				text = c.Media.Filename
			}
		}
		return withText(word+who, text)
	case k == bridge.KindLocation:
		text := ""
		if c.Location != nil {
			text = c.Location.Name
		}
		return withText("Location"+who, text)
	case k == bridge.KindContacts:
		if n := len(readContacts(c.Contacts)); n > 1 {
			return "Contact cards" + who
		}
		return "Contact card" + who
	case k == bridge.KindButton:
		if c.Button != nil {
			return withText("WhatsApp"+who, "Tapped: "+c.Button.Text)
		}
	case k == bridge.KindInteractive && c.Reply != nil:
		first, _, _ := strings.Cut(interactiveReplyText(c.Reply), "\n")
		return withText("WhatsApp"+who, strings.TrimSuffix(first, ":"))
	case k == bridge.KindReaction:
		if c.Reaction != nil && c.Reaction.Emoji != "" {
			return "Reaction" + who + ": " + oneLine(c.Reaction.Emoji)
		}
		return "Reaction removed" + strings.Replace(who, " from ", " by ", 1)
	case k == bridge.KindSystem:
		if c.System != nil {
			return withText("WhatsApp notice", systemText(c.System))
		}
		return "WhatsApp notice"
	case k == bridge.KindTemplate && c.Template != nil:
		return withText("WhatsApp template"+who, c.Template.Name)
	}
	return "WhatsApp message" + who
}

// snippet is the first n characters of s on one line, cut after a whole
// word where one ends in the second half, "…" marking the cut.
func snippet(s string, n int) string {
	s = oneLine(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := string([]rune(s)[:n])
	if next := []rune(s)[n]; next != ' ' {
		if i := strings.LastIndexByte(cut, ' '); i >= len(cut)/2 {
			cut = cut[:i]
		}
	}
	return strings.TrimRight(cut, " ,;:") + "…"
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r >= 'a' && r <= 'z' {
		return string(r-'a'+'A') + s[n:]
	}
	return s
}

func systemText(s *bridge.System) string {
	if strings.TrimSpace(s.Body) != "" {
		return s.Body
	}
	return "System notice: " + s.Type
}

// body builds the MIME body for the message's kind.
func (r *renderer) body() (*mimePart, error) {
	c := r.m.Content
	var text string
	switch k := r.m.Kind; {
	case k == bridge.KindText:
		text = c.Text
	case k.IsMedia():
		return r.media()
	case k == bridge.KindLocation:
		text = r.location()
	case k == bridge.KindContacts:
		return r.contacts(), nil
	case k == bridge.KindButton && c.Button != nil:
		text = "Tapped: " + c.Button.Text
	case k == bridge.KindInteractive && c.Reply != nil:
		text = interactiveReplyText(c.Reply)
	case k == bridge.KindInteractive && len(c.Interactive) > 0:
		text = interactiveText(c.Interactive)
	case k == bridge.KindReaction && c.Reaction != nil:
		if c.Reaction.Emoji == "" {
			text = "Removed a reaction"
		} else {
			text = "Reacted " + c.Reaction.Emoji + " to your message"
			if r.outbound() {
				text = "Reacted " + c.Reaction.Emoji + " to " + r.name + "'s message"
			}
		}
	case k == bridge.KindSystem && c.System != nil:
		text = systemText(c.System)
	case k == bridge.KindTemplate && c.Template != nil:
		text = templateText(c.Template)
	default:
		text = r.unknownText()
	}
	return textPart(r.forwarded() + normalizeNewlines(text)), nil
}

// forwarded is the note on a forwarded message, with its blank line.
func (r *renderer) forwarded() string {
	ctx := r.m.Content.Context
	switch {
	case ctx == nil:
		return ""
	case ctx.FrequentlyForwarded:
		return "[Forwarded many times]\n\n"
	case ctx.Forwarded:
		return "[Forwarded]\n\n"
	}
	return ""
}

func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ToValidUTF8(s, "\uFFFD")
}

func (r *renderer) unknownText() string {
	kind := string(r.m.Kind)
	var raw struct {
		Type string `json:"type"`
	}
	if len(r.m.Content.Raw) > 0 && json.Unmarshal(r.m.Content.Raw, &raw) == nil && raw.Type != "" {
		kind = raw.Type
	}
	if kind == "" {
		kind = "unknown"
	}
	text := "[A WhatsApp message of a type this gateway does not show: " + oneLine(kind) + "]"
	for _, e := range r.m.Content.Errors {
		what := oneLine(e.Title)
		if d := oneLine(e.Details); d != "" {
			what += " — " + d
		}
		if what != "" {
			text += "\nWhatsApp says: " + what
		}
	}
	return text
}

func interactiveReplyText(rep *bridge.InteractiveReply) string {
	if rep.Type == "nfm_reply" || (rep.Title == "" && rep.Body != "") {
		return "Sent a form:\n" + rep.Body
	}
	text := "Chose: " + rep.Title
	if rep.Description != "" {
		text += " (" + rep.Description + ")"
	}
	return text
}

// interactiveText shows an outbound interactive message: its body and
// its buttons or list rows.
func interactiveText(raw json.RawMessage) string {
	var iv struct {
		Type string `json:"type"`
		Body struct {
			Text string `json:"text"`
		} `json:"body"`
		Action struct {
			Buttons []struct {
				Reply struct {
					Title string `json:"title"`
				} `json:"reply"`
			} `json:"buttons"`
			Sections []struct {
				Rows []struct {
					Title string `json:"title"`
				} `json:"rows"`
			} `json:"sections"`
		} `json:"action"`
	}
	if json.Unmarshal(raw, &iv) != nil {
		return "[An interactive message]"
	}
	var b strings.Builder
	b.WriteString(iv.Body.Text)
	var opts []string
	for _, bt := range iv.Action.Buttons {
		opts = append(opts, bt.Reply.Title)
	}
	for _, s := range iv.Action.Sections {
		for _, row := range s.Rows {
			opts = append(opts, row.Title)
		}
	}
	if len(opts) > 0 {
		b.WriteString("\n")
		for _, o := range opts {
			b.WriteString("\n• " + o)
		}
	}
	return b.String()
}

func templateText(t *bridge.Template) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[Template %s (%s)]", t.Name, t.Language)
	for i, p := range t.Params {
		fmt.Fprintf(&b, "\n{{%d}} %s", i+1, p)
	}
	keys := make([]string, 0, len(t.NamedParams))
	for k := range t.NamedParams {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n{{%s}} %s", k, t.NamedParams[k])
	}
	return b.String()
}

// media renders a media message: caption (or a line saying what was
// sent) and the file, or a note when the file is not stored.
func (r *renderer) media() (*mimePart, error) {
	md := r.m.Content.Media
	if md == nil {
		md = &bridge.Media{}
	}
	word := r.mediaWord()
	text := normalizeNewlines(md.Caption)
	if strings.TrimSpace(text) == "" {
		verb := r.name + " sent "
		if r.outbound() {
			verb = "Sent "
		}
		text = verb + article(word) + " " + word
		if md.Filename != "" {
			text += " (" + oneLine(md.Filename) + ")"
		}
		text += "."
	}
	text = r.forwarded() + text

	note := func(why string) *mimePart {
		return textPart(text + "\n\n[the " + word + " could not be downloaded: " + oneLine(why) + "]")
	}
	switch {
	case md.FetchError != "":
		return note(md.FetchError), nil
	case md.FileID == "":
		return note("it is not stored (yet)"), nil
	case r.opt.OpenFile == nil:
		return nil, errors.New("mailconv: Render: RenderOptions.OpenFile is required for media messages")
	}
	rc, f, err := r.opt.OpenFile(md.FileID)
	if errors.Is(err, bridge.ErrNotFound) {
		return note("the stored file is gone"), nil
	}
	if err != nil {
		return nil, fmt.Errorf("mailconv: Render: open file %s: %w", md.FileID, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("mailconv: Render: read file %s: %w", md.FileID, err)
	}
	mimeType := md.MIMEType
	name := md.Filename
	if f != nil {
		if mimeType == "" {
			mimeType = f.MIMEType
		}
		if name == "" {
			name = f.Filename
		}
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	if name == "" {
		name = strings.ReplaceAll(word, " ", "-") + typeExts[bridge.BaseMIME(mimeType)]
	}
	return &mimePart{ctype: "multipart/mixed", parts: []*mimePart{textPart(text), filePart(mimeType, name, data)}}, nil
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// location renders a place: name, address, a geo: URI and a map link.
func (r *renderer) location() string {
	l := r.m.Content.Location
	if l == nil {
		return "[A location without coordinates]"
	}
	var lines []string
	if s := oneLine(l.Name); s != "" {
		lines = append(lines, s)
	}
	if s := strings.TrimSpace(normalizeNewlines(l.Address)); s != "" {
		lines = append(lines, s)
	}
	if len(lines) > 0 {
		lines = append(lines, "")
	}
	lat := strconv.FormatFloat(l.Latitude, 'f', -1, 64)
	lon := strconv.FormatFloat(l.Longitude, 'f', -1, 64)
	lines = append(lines, "geo:"+lat+","+lon)
	if !r.opt.DisableMapLink {
		lines = append(lines, "https://www.openstreetmap.org/?mlat="+lat+"&mlon="+lon+"#map=17/"+lat+"/"+lon)
	}
	if u := oneLine(l.URL); u != "" {
		lines = append(lines, u)
	}
	return strings.Join(lines, "\n")
}

// contacts renders contact cards: a short list and a text/vcard file.
func (r *renderer) contacts() *mimePart {
	cards := readContacts(r.m.Content.Contacts)
	if len(cards) == 0 {
		return textPart(r.forwarded() + "[Contact cards this gateway could not read]")
	}
	var b strings.Builder
	b.WriteString(r.forwarded())
	who := r.name + " shared "
	if r.outbound() {
		who = "Shared "
	}
	if len(cards) == 1 {
		b.WriteString(who + "a contact card:\n")
	} else {
		fmt.Fprintf(&b, "%s%d contact cards:\n", who, len(cards))
	}
	for _, c := range cards {
		b.WriteString("\n• " + c.displayName())
		if len(c.Phones) > 0 && c.Phones[0].Phone != "" {
			b.WriteString(", " + oneLine(c.Phones[0].Phone))
		} else if len(c.Emails) > 0 && c.Emails[0].Email != "" {
			b.WriteString(", " + oneLine(c.Emails[0].Email))
		}
	}
	name := "contacts.vcf"
	if len(cards) == 1 {
		name = cards[0].displayName() + ".vcf"
	}
	vcf := filePart("text/vcard; charset=utf-8", name, []byte(VCards(cards)))
	vcf.cte = "" // readable: 7bit or quoted-printable
	return &mimePart{ctype: "multipart/mixed", parts: []*mimePart{textPart(b.String()), vcf}}
}
