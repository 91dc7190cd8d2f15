package smtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/mailbox"
	"github.com/wabridge/wabridge/internal/mailconv"
)

// session is one SMTP connection's state.
type session struct {
	srv  *Server
	conn *gosmtp.Conn
	user *mailbox.User
	from string
	rcpt []string // E.164 customers
}

var _ gosmtp.AuthSession = (*session)(nil)

func (s *Server) newSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	return &session{srv: s, conn: c}, nil
}

func smtpErr(code int, enhanced gosmtp.EnhancedCode, msg string) *gosmtp.SMTPError {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: msg}
}

var (
	errAuthRequired = smtpErr(530, gosmtp.EnhancedCode{5, 7, 0}, "Authentication required")
	errBadAuth      = smtpErr(535, gosmtp.EnhancedCode{5, 7, 8}, "Authentication credentials invalid")
)

// AuthMechanisms implements gosmtp.AuthSession: PLAIN and LOGIN (go-smtp
// offers them only over TLS unless insecure auth is allowed).
func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

// Auth implements gosmtp.AuthSession.
func (ss *session) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		u := ss.srv.cfg.Mailboxes.Login("smtp", username, password)
		if u == nil {
			time.Sleep(time.Second) // slow down guessing
			return errBadAuth
		}
		ss.user = u
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return errBadAuth
			}
			return check(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{auth: check}, nil
	}
	return nil, gosmtp.ErrAuthUnknownMechanism
}

// Mail implements gosmtp.Session: only an authenticated user may send
// (go-smtp does not enforce it).
func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.user == nil {
		return errAuthRequired
	}
	ss.from = from
	return nil
}

// Rcpt implements gosmtp.Session: the recipient must be a phone number at
// the mail domain (checked now, not after DATA: no relay).
func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if ss.user == nil {
		return errAuthRequired
	}
	local, domain, ok := strings.Cut(to, "@")
	phone := bridge.NormalizePhone(local)
	if !ok || !strings.EqualFold(domain, ss.srv.cfg.Domain) || phone == "" || strings.ContainsAny(local, " ()-.") {
		return smtpErr(550, gosmtp.EnhancedCode{5, 1, 1},
			fmt.Sprintf("Recipients must be a WhatsApp number in international form at %s, e.g. 4915112345678@%s", ss.srv.cfg.Domain, ss.srv.cfg.Domain))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := ss.srv.bridge.OptedOut(ctx, bridge.Customer{Phone: phone}); err != nil {
		return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "Temporary failure; try again")
	} else if out {
		return smtpErr(550, gosmtp.EnhancedCode{5, 7, 1}, fmt.Sprintf("%s opted out of messages (STOP)", phone))
	}
	ss.rcpt = append(ss.rcpt, phone)
	return nil
}

// Reset implements gosmtp.Session.
func (ss *session) Reset() { ss.from, ss.rcpt = "", nil }

// Logout implements gosmtp.Session.
func (ss *session) Logout() error { return nil }

// Data implements gosmtp.Session: the mail becomes WhatsApp messages to
// every recipient — its text, then each attachment — committed before the
// 250. Every refusal (limits, types, sender number) comes before anything
// is committed. A repeated Message-ID to the same recipient is not sent
// again (idempotency keys).
func (ss *session) Data(r io.Reader) error {
	if ss.user == nil {
		return errAuthRequired
	}
	// The raw mail is kept for the Sent copy (go-smtp has bounded it by
	// max_message_bytes).
	raw := &bytes.Buffer{}
	r = io.TeeReader(r, raw)
	p, err := mailconv.Parse(r, mailconv.Options{Subject: ss.srv.cfg.Subject})
	_, _ = io.Copy(io.Discard, r) // what Parse did not read (an epilogue) belongs to the copy too
	var tooLarge *mailconv.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return smtpErr(552, gosmtp.EnhancedCode{5, 3, 4}, "Message too large for WhatsApp")
	case err != nil:
		return smtpErr(554, gosmtp.EnhancedCode{5, 6, 0}, "Malformed message: "+err.Error())
	}
	business, serr := ss.business(p)
	if serr != nil {
		return serr
	}
	tpl, serr := ss.templateFromMail(p)
	if serr != nil {
		return serr
	}
	texts := []string{}
	if tpl != nil {
		texts = nil // the template is the message; the text gave its parameters
	} else if strings.TrimSpace(p.Text) != "" {
		texts = mailconv.SplitText(p.Text, bridge.MaxTextLength)
		if len(texts) > 1 && ss.srv.cfg.LongText == "refuse" {
			return smtpErr(552, gosmtp.EnhancedCode{5, 3, 4},
				fmt.Sprintf("Text over WhatsApp's %d characters", bridge.MaxTextLength))
		}
	}
	for _, a := range p.Attachments {
		if err := mailconv.CheckAttachment(a); err != nil {
			return refusalFor(err)
		}
	}
	if tpl == nil && len(texts) == 0 && len(p.Attachments) == 0 {
		return smtpErr(554, gosmtp.EnhancedCode{5, 6, 0}, "The message has no text and no attachment to send")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	origin := mailbox.OriginPrefix + ss.user.Key()
	// Store the attachments once for all recipients — unless this
	// Message-ID was already submitted with them (a client's retry): then
	// the stored files are reused and nothing new is written.
	fileIDs := make([]string, len(p.Attachments))
	for i, a := range p.Attachments {
		if id := ss.storedAttachment(ctx, p.MessageID, origin, len(texts)+i); id != "" {
			fileIDs[i] = id
			continue
		}
		id, err := ss.storeAttachment(ctx, a)
		if err != nil {
			ss.srv.log.Error("store attachment", "err", err)
			return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "Temporary failure storing an attachment; try again")
		}
		fileIDs[i] = id
	}
	var ids []bridge.MessageID
	for _, to := range ss.rcpt {
		reply := ss.replyContext(ctx, p, to)
		n := 0
		submit := func(m *bridge.Message) error {
			m.Business, m.Customer, m.Origin = business, bridge.Customer{Phone: to}, origin
			if p.MessageID != "" {
				m.IdempotencyKey = fmt.Sprintf("%s|%s|%d", p.MessageID, to, n)
			}
			if n == 0 && reply != "" {
				m.Content.Context = &bridge.Context{WAMID: reply}
			}
			n++
			id, _, err := ss.srv.bridge.Submit(ctx, m)
			ids = append(ids, id)
			return err
		}
		if tpl != nil {
			t := *tpl
			if err := submit(&bridge.Message{Kind: bridge.KindTemplate, Content: bridge.Content{Template: &t}}); err != nil {
				return ss.submitFailed(err)
			}
		}
		for _, text := range texts {
			if err := submit(&bridge.Message{Kind: bridge.KindText, Content: bridge.Content{Text: text}}); err != nil {
				return ss.submitFailed(err)
			}
		}
		for i, a := range p.Attachments {
			md := &bridge.Media{FileID: fileIDs[i]}
			if a.Kind == bridge.KindDocument {
				md.Filename = a.Filename
			}
			if err := submit(&bridge.Message{Kind: a.Kind, Content: bridge.Content{Media: md}}); err != nil {
				return ss.submitFailed(err)
			}
		}
	}
	// Before the 250: a client that gets no answer resends, and both the
	// messages and the Sent copy are deduplicated by Message-ID.
	if _, err := ss.srv.cfg.Mailboxes.SaveSent(ctx, ss.user, raw.Bytes(), p.MessageID, ids); err != nil {
		ss.srv.log.Error("store Sent copy", "err", err)
		return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "Temporary failure; try again")
	}
	return nil
}

// friendlyLine is a "Name: value" line of a template mail's text.
var friendlyLine = regexp.MustCompile(`^\s*\{?([^:{}]{1,64}?)\}?\s*:\s*(.*?)\s*$`)

// templateFromMail reads an explicit template selection: X-WhatsApp-Template
// ("name" or "name@de_DE"), X-WhatsApp-Language, parameters from
// X-WhatsApp-Param (repeated, in order) or X-WhatsApp-Param-<name>, and
// "Name: value" lines of the text whose names [templates] variables maps.
// nil when the mail selects none.
func (ss *session) templateFromMail(p *mailconv.Parsed) (*bridge.Template, *gosmtp.SMTPError) {
	name := p.Header("X-WhatsApp-Template")
	if name == "" {
		return nil, nil
	}
	t := &bridge.Template{Name: name, Language: p.Header("X-WhatsApp-Language")}
	if n, l, ok := strings.Cut(name, "@"); ok {
		t.Name, t.Language = n, l
	}
	if t.Language == "" {
		t.Language = ss.srv.cfg.TemplateLanguage
	}
	positional := map[int]string{}
	named := map[string]string{}
	set := func(param, value string) {
		if n, err := strconv.Atoi(param); err == nil && n > 0 {
			positional[n] = value
		} else {
			named[param] = value
		}
	}
	for i, v := range p.HeaderValues("X-WhatsApp-Param") {
		positional[i+1] = strings.TrimSpace(v)
	}
	for _, kv := range p.HeaderPrefixed("X-WhatsApp-Param-") {
		set(strings.ToLower(kv[0]), kv[1])
	}
	for _, line := range strings.Split(p.Text, "\n") {
		m := friendlyLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if param, ok := ss.srv.cfg.TemplateVariables[strings.ToLower(strings.TrimSpace(m[1]))]; ok {
			set(param, m[2])
		}
	}
	if len(named) > 0 && len(positional) > 0 {
		return nil, smtpErr(554, gosmtp.EnhancedCode{5, 6, 0}, "Template parameters are both numbered and named")
	}
	for i := 1; i <= len(positional); i++ {
		v, ok := positional[i]
		if !ok {
			return nil, smtpErr(554, gosmtp.EnhancedCode{5, 6, 0}, fmt.Sprintf("Template parameter %d is missing", i))
		}
		t.Params = append(t.Params, v)
	}
	if len(named) > 0 {
		t.NamedParams = named
	}
	return t, nil
}

// business picks the sending number: the From address's digits at the
// mail domain, or the X-WhatsApp-From header, or the user's first number.
// A number the user does not own is refused.
func (ss *session) business(p *mailconv.Parsed) (string, *gosmtp.SMTPError) {
	want := ""
	if v := strings.TrimSpace(p.WhatsAppFrom); v != "" {
		want = v
	} else if local, domain, ok := strings.Cut(p.From, "@"); ok && strings.EqualFold(domain, ss.srv.cfg.Domain) {
		want = local
	}
	if want == "" {
		return ss.user.Numbers[0], nil
	}
	if n := bridge.NormalizePhone(want); ss.user.Owns(n) {
		return n, nil
	}
	return "", smtpErr(550, gosmtp.EnhancedCode{5, 7, 1}, fmt.Sprintf("You may not send from %s", want))
}

// replyContext finds the WhatsApp message a reply answers: In-Reply-To or
// References naming a customer's message (to this recipient) in the mailbox.
func (ss *session) replyContext(ctx context.Context, p *mailconv.Parsed, to string) string {
	ids := append([]string{p.InReplyTo}, p.References...)
	for i := len(ids) - 1; i >= 0; i-- {
		wamid, ok := mailconv.WAMIDFromMessageID(ids[i], ss.srv.cfg.Domain)
		if !ok {
			continue
		}
		if m, err := ss.srv.bridge.Message(ctx, wamid); err == nil && m.Direction == bridge.Inbound && m.Customer.Phone == to {
			return m.WAMID
		}
	}
	return ""
}

// storedAttachment returns the file of attachment message n of an
// earlier submission of the same Message-ID, when every recipient has it.
func (ss *session) storedAttachment(ctx context.Context, messageID, origin string, n int) string {
	if messageID == "" {
		return ""
	}
	file := ""
	for _, to := range ss.rcpt {
		m, err := ss.srv.bridge.MessageByKey(ctx, origin, fmt.Sprintf("%s|%s|%d", messageID, to, n))
		if err != nil || m.Content.Media == nil || m.Content.Media.FileID == "" ||
			(file != "" && m.Content.Media.FileID != file) {
			return ""
		}
		file = m.Content.Media.FileID
	}
	return file
}

func (ss *session) storeAttachment(ctx context.Context, a mailconv.Attachment) (string, error) {
	r, err := a.Open()
	if err != nil {
		return "", err
	}
	w, err := ss.srv.files.Create(ctx)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return "", err
	}
	f, err := w.Commit(ctx, bridge.File{MIMEType: a.MIMEType, Filename: a.Filename})
	if err != nil {
		return "", err
	}
	return f.ID, nil
}

// refusalFor maps a bridge refusal to its SMTP reply.
func refusalFor(err error) *gosmtp.SMTPError {
	var re *bridge.RefusedError
	if !errors.As(err, &re) {
		return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "Temporary failure; try again")
	}
	switch re.Reason {
	case bridge.ReasonMediaTooLarge:
		return smtpErr(552, gosmtp.EnhancedCode{5, 3, 4}, re.Msg)
	case bridge.ReasonMediaUnsupported:
		return smtpErr(554, gosmtp.EnhancedCode{5, 6, 1}, re.Msg)
	}
	return smtpErr(554, gosmtp.EnhancedCode{5, 6, 0}, re.Msg)
}

func (ss *session) submitFailed(err error) error {
	var re *bridge.RefusedError
	if errors.As(err, &re) {
		return refusalFor(err)
	}
	ss.srv.log.Error("submit from mail failed", "err", err)
	// What was committed stays; the retry is deduplicated by Message-ID.
	return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "Temporary failure; try again")
}

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login):
// "Username:", then "Password:".
type loginServer struct {
	step int
	user string
	auth func(username, password string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(resp) == 0 {
			return []byte("Username:"), false, nil
		}
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.auth(l.user, string(resp))
	}
	return nil, false, errors.New("smtp: unexpected AUTH LOGIN response")
}
