package twiliosim

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// message is one outbound (API) or inbound (control API) message.
type message struct {
	Sid                 string
	AccountSid          string
	Direction           string // outbound-api | inbound
	Channel             string // whatsapp | sms
	From, To            string // as on the wire ("whatsapp:+…" or "+…")
	Body                string
	ContentSid          string
	ContentVariables    map[string]string
	Rendered            string
	MediaURLs           []string
	Media               []mediaInfo // what was fetched from MediaURLs
	MessagingServiceSid string
	StatusCallback      string
	PersistentAction    []string
	Status              string
	ErrorCode           int
	ErrorMessage        string
	NumSegments         int
	Created, Updated    time.Time
	Sent                time.Time

	inbound []*inboundMedia // media of an inbound message (served by the Media endpoint)
}

// mediaInfo describes one fetched MediaUrl.
type mediaInfo struct {
	URL         string `json:"url,omitempty"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// messageJSON is the Message resource as the 2010-04-01 API renders it.
type messageJSON struct {
	AccountSid          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSid *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	Sid                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

// rfc2822 is the date format of the 2010-04-01 API.
const rfc2822 = "Mon, 02 Jan 2006 15:04:05 -0700"

func (m *message) json() messageJSON {
	uri := "/" + apiVersion + "/Accounts/" + m.AccountSid + "/Messages/" + m.Sid
	j := messageJSON{
		AccountSid: m.AccountSid, APIVersion: apiVersion, Body: m.Body,
		DateCreated: m.Created.UTC().Format(rfc2822), DateUpdated: m.Updated.UTC().Format(rfc2822),
		Direction: m.Direction, NumMedia: strconv.Itoa(m.numMedia()), NumSegments: strconv.Itoa(m.NumSegments),
		PriceUnit: "USD", Sid: m.Sid, Status: m.Status, To: m.To, URI: uri + ".json",
		SubresourceURIs: map[string]string{"media": uri + "/Media.json"},
	}
	if m.Rendered != "" {
		j.Body = m.Rendered
	}
	if !m.Sent.IsZero() {
		d := m.Sent.UTC().Format(rfc2822)
		j.DateSent = &d
	}
	if m.ErrorCode != 0 {
		code, msg := m.ErrorCode, m.ErrorMessage
		j.ErrorCode, j.ErrorMessage = &code, &msg
	}
	// With a Messaging Service and no From, Twilio answers from: null while
	// the message is "accepted" (the sender is chosen later).
	if m.Status != "accepted" {
		f := m.From
		j.From = &f
	}
	if m.MessagingServiceSid != "" {
		ms := m.MessagingServiceSid
		j.MessagingServiceSid = &ms
	}
	return j
}

func (m *message) numMedia() int {
	if m.Direction == directionInbound {
		return len(m.inbound)
	}
	return len(m.MediaURLs)
}

// --- routing of the 2010-04-01 API -------------------------------------------

// serveAPI handles /2010-04-01/Accounts/{AccountSid}/Messages….
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if !s.requireAuth(w, r) {
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"+apiVersion+"/"), "/")
	notFound := func() {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
	}
	if len(parts) < 3 || parts[0] != "Accounts" || !s.accounts[parts[1]] {
		notFound()
		return
	}
	account := parts[1]
	switch {
	case len(parts) == 3 && parts[2] == "Messages.json" && r.Method == http.MethodPost:
		s.createMessage(w, r, account)
	case len(parts) == 4 && parts[2] == "Messages" && strings.HasSuffix(parts[3], ".json") && r.Method == http.MethodGet:
		s.fetchMessage(w, account, strings.TrimSuffix(parts[3], ".json"), notFound)
	case len(parts) == 6 && parts[2] == "Messages" && parts[4] == "Media" && r.Method == http.MethodGet:
		s.serveInboundMedia(w, r, account, parts[3], parts[5], notFound)
	default:
		notFound()
	}
}

func (s *Server) fetchMessage(w http.ResponseWriter, account, sid string, notFound func()) {
	s.mu.Lock()
	m := s.bySid[sid]
	var j messageJSON
	if m != nil && m.AccountSid == account {
		j = m.json()
	}
	s.mu.Unlock()
	if m == nil || m.AccountSid != account {
		notFound()
		return
	}
	writeJSON(w, http.StatusOK, j)
}

// --- create ------------------------------------------------------------------

// sendRequest is a validated POST …/Messages.json.
type sendRequest struct {
	channel       string
	to, from      string // wire form
	toDigits      string
	fromKey       string // sender digits (or alphanumeric id)
	service       string
	body          string
	mediaURLs     []string
	contentSid    string
	contentVars   map[string]string
	callback      string
	persistent    []string
	renderContent *content
}

type validationError struct {
	code int
	msg  string
}

func badRequest(code int, format string, a ...any) *validationError {
	return &validationError{code: code, msg: fmt.Sprintf(format, a...)}
}

// validateSend checks the form like Twilio does, in Twilio's order as far as
// it is known: To, sender, body/content, sizes, content sid and variables.
// Called with s.mu held (it reads the content catalogue).
func (s *Server) validateSendLocked(f url.Values) (*sendRequest, *validationError) {
	req := &sendRequest{
		to: strings.TrimSpace(f.Get("To")), from: strings.TrimSpace(f.Get("From")),
		service: strings.TrimSpace(f.Get("MessagingServiceSid")), body: f.Get("Body"),
		mediaURLs: f["MediaUrl"], contentSid: strings.TrimSpace(f.Get("ContentSid")),
		callback: strings.TrimSpace(f.Get("StatusCallback")), persistent: f["PersistentAction"],
	}
	if req.to == "" {
		return nil, badRequest(codeToRequired, "A 'To' phone number is required.")
	}
	req.channel = channelSMS
	toAddr := req.to
	if strings.HasPrefix(req.to, whatsappPrefix) {
		req.channel = channelWhatsApp
		toAddr = strings.TrimPrefix(req.to, whatsappPrefix)
	}
	d, ok := e164Digits(toAddr)
	if !ok {
		return nil, badRequest(codeInvalidTo, "The 'To' number %s is not a valid phone number.", req.to)
	}
	req.toDigits = d

	if req.from == "" && req.service == "" {
		return nil, badRequest(codeFromRequired, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
	}
	if req.service != "" {
		if !validSid(req.service, "MG") {
			return nil, badRequest(codeServiceInvalid, "The Messaging Service Sid %s is invalid.", req.service)
		}
		senders, ok := s.services[req.service]
		if !ok {
			return nil, badRequest(codeServiceMissing, "The Messaging Service Sid %s does not exist", req.service)
		}
		if req.from == "" {
			if vErr := s.pickServiceSender(req, senders); vErr != nil {
				return nil, vErr
			}
		}
	}
	if req.fromKey == "" {
		if vErr := s.checkFrom(req); vErr != nil {
			return nil, vErr
		}
	}

	if req.body == "" && len(req.mediaURLs) == 0 && req.contentSid == "" {
		return nil, badRequest(codeBodyRequired, "A text message body or media urls must be specified.")
	}
	if utf8.RuneCountInString(req.body) > maxBodyChars {
		return nil, badRequest(codeBodyTooLong, "The concatenated message body exceeds the %d character limit.", maxBodyChars)
	}
	if len(req.mediaURLs) > maxMediaURLs {
		return nil, badRequest(codeMediaTooMany, "Too many media urls: at most %d are allowed.", maxMediaURLs)
	}
	if req.callback != "" {
		p, err := url.Parse(req.callback)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || len(req.callback) > 4000 {
			return nil, badRequest(codeInvalidCallback, "The StatusCallback URL %s is not a valid URL.", req.callback)
		}
	}

	rawVars, hasVars := f["ContentVariables"]
	if hasVars && req.contentSid == "" {
		return nil, badRequest(codeContentSidNeeded, "A ContentSid must be specified if ContentVariables are provided in the request.")
	}
	if req.contentSid != "" {
		c := s.contentBy[req.contentSid]
		if c == nil || !validSid(req.contentSid, "HX") {
			return nil, badRequest(codeContentSid, "The ContentSid %s is invalid.", req.contentSid)
		}
		req.renderContent = c
		if hasVars {
			vars, vErr := parseContentVariables(rawVars[0])
			if vErr != nil {
				return nil, vErr
			}
			req.contentVars = vars
		}
	}
	return req, nil
}

// pickServiceSender chooses the first service sender fit for the channel.
func (s *Server) pickServiceSender(req *sendRequest, senders []string) *validationError {
	for _, n := range senders {
		n = strings.TrimPrefix(n, whatsappPrefix)
		if req.channel == channelWhatsApp {
			if d, ok := e164Digits(n); ok && s.waSenders[d] {
				req.from, req.fromKey = whatsappPrefix+n, d
				return nil
			}
			continue
		}
		if k, ok := senderKey(n); ok && s.smsSenders[k] {
			req.from, req.fromKey = n, k
			return nil
		}
	}
	if req.channel == channelWhatsApp {
		return badRequest(codeNoFromChannel, "Twilio could not find a Channel with the specified From address: the Messaging Service %s has no WhatsApp sender", req.service)
	}
	return badRequest(codeFromNotOurs, "The Messaging Service %s has no sender for this destination", req.service)
}

// checkFrom validates an explicit From for the channel of To.
func (s *Server) checkFrom(req *sendRequest) *validationError {
	fromWA := strings.HasPrefix(req.from, whatsappPrefix)
	if fromWA != (req.channel == channelWhatsApp) {
		return badRequest(codeChannelMismatch, "Invalid 'From' and 'To' pair. 'From' and 'To' should be of the same channel")
	}
	if fromWA {
		d, ok := e164Digits(strings.TrimPrefix(req.from, whatsappPrefix))
		if !ok || !s.waSenders[d] {
			return badRequest(codeNoFromChannel, "Twilio could not find a Channel with the specified From address")
		}
		req.fromKey = d
		return nil
	}
	k, ok := senderKey(req.from)
	if !ok {
		return badRequest(codeInvalidFrom, "The 'From' number %s is not a valid phone number, shortcode, or alphanumeric sender ID.", req.from)
	}
	if !s.smsSenders[k] {
		return badRequest(codeFromNotOurs, "The 'From' phone number provided (%s) is not a valid message-capable Twilio phone number for this destination/account.", req.from)
	}
	req.fromKey = k
	return nil
}

// parseContentVariables accepts a JSON object of string (or number/bool)
// values; null or empty values are invalid, as Twilio's 21656 page says.
func parseContentVariables(raw string) (map[string]string, *validationError) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(raw), &obj); err != nil || obj == nil {
		return nil, badRequest(codeContentVariables, "The ContentVariables Parameter is invalid.")
	}
	vars := make(map[string]string, len(obj))
	for k, v := range obj {
		var sv string
		switch t := v.(type) {
		case string:
			sv = t
		case float64:
			sv = strconv.FormatFloat(t, 'f', -1, 64)
		case bool:
			sv = strconv.FormatBool(t)
		default:
			return nil, badRequest(codeContentVariables, "The ContentVariables Parameter is invalid: %q is not a string.", k)
		}
		if sv == "" {
			return nil, badRequest(codeContentVariables, "The ContentVariables Parameter is invalid: %q is empty.", k)
		}
		vars[k] = sv
	}
	return vars, nil
}

// createMessage handles POST …/Messages.json.
func (s *Server) createMessage(w http.ResponseWriter, r *http.Request, account string) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "Invalid form body: "+err.Error())
		return
	}
	now := time.Now()
	s.mu.Lock()
	req, vErr := s.validateSendLocked(r.PostForm)
	if vErr != nil {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, vErr.code, vErr.msg)
		return
	}
	m := &message{
		Sid: newSid("SM"), AccountSid: account, Direction: directionOutAPI, Channel: req.channel,
		From: req.from, To: req.to, Body: req.body, ContentSid: req.contentSid, ContentVariables: req.contentVars,
		MediaURLs: slices.Clone(req.mediaURLs), MessagingServiceSid: req.service, StatusCallback: req.callback,
		PersistentAction: req.persistent, Status: "queued", Created: now, Updated: now, NumSegments: 1,
	}
	if len(req.mediaURLs) > 0 {
		m.Sid = newSid("MM")
	}
	if req.service != "" && r.PostForm.Get("From") == "" {
		m.Status = "accepted"
	}
	var missing []string
	if c := req.renderContent; c != nil {
		m.Rendered, missing = c.render(req.contentVars)
	}
	if m.Channel == channelSMS {
		m.NumSegments = segments(m.Body + m.Rendered)
	}
	plan := s.planLocked(m, req, missing, now)
	s.messages = append(s.messages, m)
	s.bySid[m.Sid] = m
	s.stats.Messages++
	if m.Channel == channelWhatsApp {
		s.stats.WhatsAppMessages++
	} else {
		s.stats.SMSMessages++
	}
	j := m.json()
	epoch := s.epoch
	s.mu.Unlock()

	s.runStatuses(m, plan, epoch)
	writeJSON(w, http.StatusCreated, j)
}

// statusStep is one planned status change.
type statusStep struct {
	status string
	code   int
}

// planLocked decides the status sequence of m (after the immediate
// "queued"/"accepted" answer). MediaUrl fetch failures override it later.
func (s *Server) planLocked(m *message, req *sendRequest, missing []string, now time.Time) []statusStep {
	var plan []statusStep
	if m.Status == "accepted" {
		// A Messaging Service queues the message after choosing the sender;
		// whether Twilio posts a "queued" callback then is not confirmed.
		plan = append(plan, statusStep{status: "queued"})
	}
	fail := func(code int) []statusStep { return append(plan, statusStep{"failed", code}) }
	if m.Channel == channelSMS {
		if s.smsUndeliv[req.toDigits] {
			return append(plan, statusStep{status: "sent"}, statusStep{"undelivered", codeUndelivered})
		}
		return append(plan, statusStep{status: "sent"}, statusStep{status: "delivered"})
	}
	if s.notOnWA[req.toDigits] {
		return fail(codeNoToAddress)
	}
	open := s.windowOpenLocked(windowKey{req.fromKey, req.toDigits}, now)
	if c := req.renderContent; c != nil {
		// An approved template may open a conversation; other content is
		// sent as a session message, which needs the window.
		if c.status != approvalApproved && !open {
			return fail(codeTemplateMissing)
		}
		if len(missing) > 0 {
			return fail(codeParamCountInvalid)
		}
	} else if !open {
		return fail(codeOutsideWindow)
	}
	plan = append(plan, statusStep{status: "sent"}, statusStep{status: "delivered"})
	if !s.settings.NoAutoRead {
		plan = append(plan, statusStep{status: "read"})
	}
	return plan
}

// windowOpenLocked reports whether the customer wrote to the business
// number on WhatsApp within Window.
func (s *Server) windowOpenLocked(k windowKey, now time.Time) bool {
	last, ok := s.windows[k]
	return ok && now.Before(last.Add(s.cfg.Window))
}

// segments estimates SMS segments: GSM-7 160 (153 per part), else UCS-2 70
// (67 per part, counted in UTF-16 units).
func segments(text string) int {
	gsm := true
	units := 0
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			units++
		case strings.ContainsRune(gsmExtended, r):
			units += 2
		default:
			gsm = false
		}
	}
	single, multi := 160, 153
	if !gsm {
		units = 0
		for _, r := range text {
			units += utf16Len(r)
		}
		single, multi = 70, 67
	}
	if units <= single {
		return 1
	}
	return (units + multi - 1) / multi
}

func utf16Len(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtended = "^{}\\[~]|€\f"
)

// mediaTypeOf normalises a Content-Type header to its media type.
func mediaTypeOf(h string) string {
	mt, _, err := mime.ParseMediaType(h)
	if err != nil {
		return h
	}
	return mt
}
