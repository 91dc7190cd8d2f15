package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"
)

// inboundRequest is the body of POST /sandbox/v1/inbound (see control.go for
// the per-type fields). Unknown fields are refused so typos surface.
type inboundRequest struct {
	From string `json:"from"` // customer, E.164 (required)
	To   string `json:"to"`   // business number: E.164, digits or phone_number_id; default the first
	Name string `json:"name"` // profile name; default "Sandbox Customer"
	Type string `json:"type"` // default "text"

	Text string `json:"text"` // text body

	Caption  string        `json:"caption"`  // image, video, document
	Filename string        `json:"filename"` // document
	MediaID  string        `json:"media_id"` // media from POST /sandbox/v1/media
	Media    *inboundMedia `json:"media"`    // or generate it here (default: 1 KiB of the type's usual MIME)
	Voice    bool          `json:"voice"`    // audio: a voice recording
	Animated bool          `json:"animated"` // sticker

	Latitude     *float64 `json:"latitude"` // location (required with longitude)
	Longitude    *float64 `json:"longitude"`
	LocationName string   `json:"location_name"`
	Address      string   `json:"address"`
	LocationURL  string   `json:"location_url"`

	Contacts json.RawMessage `json:"contacts"` // contacts: the array, passed through

	Payload    string `json:"payload"`     // button: template quick-reply payload (default: button_text)
	ButtonText string `json:"button_text"` // button: its label (required)

	Reply *inboundReply `json:"reply"` // interactive

	Emoji      *string `json:"emoji"`       // reaction; omitted or "" = reaction removed
	ReactionTo string  `json:"reaction_to"` // reaction: wamid reacted to (default: last send to the customer)

	Context             string          `json:"context"` // wamid replied to; button/interactive default: last send to the customer
	Forwarded           bool            `json:"forwarded"`
	FrequentlyForwarded bool            `json:"frequently_forwarded"`
	Referral            json.RawMessage `json:"referral"` // Click-to-WhatsApp referral object, passed through

	System          map[string]any  `json:"system"`           // system: fields of the system object
	UnsupportedType string          `json:"unsupported_type"` // unsupported: unsupported.type (default "unknown")
	RawMessage      json.RawMessage `json:"raw_message"`      // a complete messages[] item, posted as is
}

type inboundMedia struct {
	MimeType string `json:"mime_type"`
	Size     *int64 `json:"size"`
	Filename string `json:"filename"`
	Seed     string `json:"seed"`
}

type inboundReply struct {
	Type        string `json:"type"` // button_reply (default) or list_reply
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"` // list_reply only
}

// defaultInboundMIME is the MIME type of generated inbound media per type.
var defaultInboundMIME = map[string]string{
	"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg",
	"document": "application/pdf", "sticker": "image/webp",
}

const defaultInboundMediaSize = 1024

// badInbound is a 400 of the control API.
type badInbound string

// handleInbound injects a customer message: it records it, opens or
// refreshes the customer-service window (any user message does; a system
// message does not) and posts the messages webhook.
func (s *Server) handleInbound(w http.ResponseWriter, r *http.Request) {
	raw, tooLarge, err := readBody(r)
	if tooLarge {
		controlError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request bodies are limited to %d bytes", maxBodyBytes))
		return
	}
	var req inboundRequest
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		err = dec.Decode(&req)
	}
	if err != nil {
		controlError(w, http.StatusBadRequest, "body must be a JSON object with the documented fields: "+err.Error())
		return
	}
	if req.From == "" {
		controlError(w, http.StatusBadRequest, "from is required")
		return
	}
	customer, ok := normalizePhone(req.From)
	if !ok {
		controlError(w, http.StatusBadRequest, "from must be a phone number with 8 to 15 digits")
		return
	}
	num := s.numbers[0]
	if req.To != "" {
		if num = s.numberFor(req.To); num == nil {
			controlError(w, http.StatusBadRequest, "unknown business number "+req.To)
			return
		}
	}
	if req.Name == "" {
		req.Name = "Sandbox Customer"
	}
	now := time.Now()
	rec := &record{
		Direction: "inbound", PhoneNumberID: num.PhoneNumberID,
		From: "+" + customer, To: num.BusinessNumber, ProfileName: req.Name,
		Status: "received", ReceivedAt: now, Request: json.RawMessage(raw), customer: customer,
	}
	var msg any
	if len(req.RawMessage) > 0 {
		msg, err = s.rawInbound(&req, rec, customer)
	} else {
		msg, err = s.buildInbound(r, &req, rec, num, customer, now)
	}
	if err != nil {
		controlError(w, http.StatusBadRequest, err.Error())
		return
	}
	value := changeValue{Messages: []any{msg}}
	if rec.Type != "system" { // system messages carry no contacts[]
		contact := contactJSON{WaID: customer}
		contact.Profile.Name = req.Name
		value.Contacts = []contactJSON{contact}
	}
	body := s.webhookBody(num, value)

	s.ensureWorkers()
	s.mu.Lock()
	if rec.Type != "system" {
		s.windows[windowKey{num.PhoneNumberID, customer}] = now
	}
	s.messages = append(s.messages, rec)
	s.byWamid[rec.Wamid] = rec
	s.stats.Inbound++
	s.enqueueLocked(body, "inbound "+rec.Type)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"wamid": rec.Wamid})
}

func (e badInbound) Error() string { return string(e) }

// rawInbound takes raw_message as the messages[] item, unchanged.
func (s *Server) rawInbound(req *inboundRequest, rec *record, customer string) (any, error) {
	var m map[string]json.RawMessage
	if json.Unmarshal(req.RawMessage, &m) != nil {
		return nil, badInbound("raw_message must be a JSON object (one messages[] item)")
	}
	var typ, id string
	_ = json.Unmarshal(m["type"], &typ)
	_ = json.Unmarshal(m["id"], &id)
	if typ == "" {
		return nil, badInbound("raw_message needs a type")
	}
	if id == "" {
		id = newWamid(customer) // recorded only; the message is posted as given
	}
	rec.Wamid, rec.Type = id, typ
	var t struct {
		Body string `json:"body"`
	}
	if typ == "text" && json.Unmarshal(m["text"], &t) == nil {
		rec.Text = t.Body
	}
	return req.RawMessage, nil
}

// lastOutbound is the wamid of the latest send from num to customer, or "".
func (s *Server) lastOutbound(num *Number, customer string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		if m.Direction == "outbound" && m.PhoneNumberID == num.PhoneNumberID && m.customer == customer {
			return m.Wamid
		}
	}
	return ""
}

// buildInbound makes the messages[] item of a typed inbound request and fills rec.
func (s *Server) buildInbound(r *http.Request, req *inboundRequest, rec *record, num *Number, customer string, now time.Time) (any, error) {
	if req.Type == "" {
		req.Type = "text"
	}
	bizDigits := strings.TrimPrefix(num.BusinessNumber, "+")
	rec.Wamid, rec.Type = newWamid(customer), req.Type
	msg := &inboundJSON{From: customer, ID: rec.Wamid, Timestamp: unixString(now), Type: req.Type}

	// context: reply and/or forward
	ctxID := req.Context
	switch req.Type {
	case "button", "interactive":
		if ctxID == "" {
			if ctxID = s.lastOutbound(num, customer); ctxID == "" {
				return nil, badInbound(req.Type + " replies need context (the wamid of the message replied to); nothing was sent to this customer yet")
			}
		}
	}
	if ctxID != "" || req.Forwarded || req.FrequentlyForwarded {
		msg.Context = &contextJSON{Forwarded: req.Forwarded, FrequentlyForwarded: req.FrequentlyForwarded}
		if ctxID != "" {
			msg.Context.From, msg.Context.ID = bizDigits, ctxID
			rec.ContextID = ctxID
		}
	}
	if len(req.Referral) > 0 {
		var obj map[string]json.RawMessage
		if json.Unmarshal(req.Referral, &obj) != nil {
			return nil, badInbound("referral must be a JSON object")
		}
		msg.Referral = req.Referral
	}

	switch req.Type {
	case "text":
		if req.Text == "" {
			return nil, badInbound("text is required")
		}
		msg.Text = &textBody{Body: req.Text}
		rec.Text = req.Text
	case "image", "video", "audio", "document", "sticker":
		mj, err := s.inboundMediaJSON(r, req, rec, num, now)
		if err != nil {
			return nil, err
		}
		switch req.Type {
		case "image":
			msg.Image = mj
		case "video":
			msg.Video = mj
		case "audio":
			msg.Audio = mj
		case "document":
			msg.Document = mj
		case "sticker":
			msg.Sticker = mj
		}
	case "location":
		if req.Latitude == nil || req.Longitude == nil {
			return nil, badInbound("latitude and longitude are required")
		}
		if *req.Latitude < -90 || *req.Latitude > 90 || *req.Longitude < -180 || *req.Longitude > 180 {
			return nil, badInbound("latitude must be within ±90 and longitude within ±180")
		}
		msg.Location = &locationInfo{Latitude: *req.Latitude, Longitude: *req.Longitude,
			Name: req.LocationName, Address: req.Address, URL: req.LocationURL}
		rec.Location, rec.Text = msg.Location, req.LocationName
	case "contacts":
		var cs []map[string]json.RawMessage
		if json.Unmarshal(req.Contacts, &cs) != nil || len(cs) == 0 {
			return nil, badInbound("contacts must be a non-empty array of contact objects")
		}
		msg.Contacts, rec.Contacts = req.Contacts, req.Contacts
	case "button":
		if req.ButtonText == "" {
			return nil, badInbound("button_text is required")
		}
		b := &buttonInfo{Payload: req.Payload, Text: req.ButtonText}
		if b.Payload == "" {
			b.Payload = req.ButtonText
		}
		msg.Button, rec.Button, rec.Text = b, b, b.Text
	case "interactive":
		rp := req.Reply
		if rp == nil || rp.ID == "" || rp.Title == "" {
			return nil, badInbound("reply {type, id, title} is required")
		}
		in := &interactiveJSON{Type: rp.Type}
		switch rp.Type {
		case "", "button_reply":
			if rp.Description != "" {
				return nil, badInbound("reply.description is only for list_reply")
			}
			in.Type = "button_reply"
			in.ButtonReply = &replyJSON{ID: rp.ID, Title: rp.Title}
		case "list_reply":
			in.ListReply = &replyJSON{ID: rp.ID, Title: rp.Title, Description: rp.Description}
		default:
			return nil, badInbound("reply.type must be button_reply or list_reply")
		}
		msg.Interactive = in
		rec.Interactive, _ = json.Marshal(in)
		rec.Text = rp.Title
	case "reaction":
		target := req.ReactionTo
		if target == "" {
			if target = s.lastOutbound(num, customer); target == "" {
				return nil, badInbound("reaction_to (the wamid reacted to) is required; nothing was sent to this customer yet")
			}
		}
		rj := &reactionJSON{MessageID: target}
		if req.Emoji != nil {
			rj.Emoji = *req.Emoji
		}
		msg.Reaction = rj
		rec.Reaction, rec.Text = &reactionInfo{MessageID: rj.MessageID, Emoji: rj.Emoji}, rj.Emoji
	case "system":
		sys := maps.Clone(req.System)
		if sys == nil {
			sys = map[string]any{}
		}
		typ, _ := sys["type"].(string)
		if typ == "" {
			typ = "user_changed_number"
			sys["type"] = typ
		}
		if typ == "user_changed_number" {
			newID, _ := sys["wa_id"].(string)
			d, ok := normalizePhone(newID)
			if !ok {
				return nil, badInbound("system.wa_id (the customer's new number) is required for user_changed_number")
			}
			sys["wa_id"] = d
			if _, ok := sys["body"]; !ok {
				sys["body"] = fmt.Sprintf("User %s changed from %s to %s", req.Name, customer, d)
			}
		}
		msg.System = sys
		rec.System, _ = json.Marshal(sys)
		rec.Text, _ = sys["body"].(string)
	case "unsupported":
		e := messageError{Code: 131051, Title: "Message type unknown", Message: "Message type unknown"}
		e.ErrorData.Details = "Message type is currently not supported."
		ut := req.UnsupportedType
		if ut == "" {
			ut = "unknown"
		}
		msg.Errors = []messageError{e}
		msg.Unsupported = &unsupportedJSON{Type: ut}
		rec.ErrorCode = 131051
	default:
		return nil, badInbound(fmt.Sprintf("inbound type %q is not supported (text, image, video, audio, document, sticker, location, contacts, button, interactive, reaction, system, unsupported, or raw_message)", req.Type))
	}
	return msg, nil
}

// inboundMediaJSON resolves or generates the media of an inbound media
// message, registers it under the receiving number and issues its URL.
func (s *Server) inboundMediaJSON(r *http.Request, req *inboundRequest, rec *record, num *Number, now time.Time) (*mediaJSON, error) {
	kind := req.Type
	if req.Caption != "" && kind != "image" && kind != "video" && kind != "document" {
		return nil, badInbound("caption is only for image, video and document")
	}
	if req.Voice && kind != "audio" {
		return nil, badInbound("voice is only for audio")
	}
	if req.Animated && kind != "sticker" {
		return nil, badInbound("animated is only for sticker")
	}
	var m *mediaObj
	switch {
	case req.MediaID != "" && req.Media != nil:
		return nil, badInbound("give media_id or media, not both")
	case req.MediaID != "":
		if m = s.lookupMedia(req.MediaID); m == nil {
			return nil, badInbound("unknown media_id " + req.MediaID)
		}
	default:
		g := inboundMedia{}
		if req.Media != nil {
			g = *req.Media
		}
		if g.MimeType == "" {
			g.MimeType = defaultInboundMIME[kind]
			if kind == "audio" && req.Voice {
				g.MimeType = "audio/ogg; codecs=opus"
			}
		}
		size := int64(defaultInboundMediaSize)
		if g.Size != nil {
			size = *g.Size
		}
		if size < 0 || size > maxGeneratedBytes {
			return nil, badInbound(fmt.Sprintf("media.size must be 0 to %d bytes", int64(maxGeneratedBytes)))
		}
		if g.Filename == "" && kind == "document" {
			g.Filename = req.Filename
		}
		m = newGeneratedMedia(num.PhoneNumberID, g.MimeType, g.Filename, size, g.Seed)
	}
	s.mu.Lock()
	s.media[m.id] = m
	u := s.issueURLLocked(s.mediaBase(r), m.id, now)
	s.mu.Unlock()

	mj := &mediaJSON{MimeType: m.mimeType, SHA256: m.sha256B64(), ID: m.id, URL: u}
	info := m.info()
	switch kind {
	case "image", "video":
		mj.Caption = req.Caption
	case "document":
		mj.Caption = req.Caption
		mj.Filename = req.Filename
		if mj.Filename == "" {
			mj.Filename = m.filename
		}
		info.Filename = mj.Filename
	case "audio":
		v := req.Voice
		mj.Voice = &v
		info.Voice = v
	case "sticker":
		a := req.Animated
		mj.Animated = &a
		info.Animated = a
	}
	info.Caption = mj.Caption
	rec.Media, rec.Text = info, mj.Caption
	return mj, nil
}
