package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Send validation for every message type of POST /{phone_number_id}/messages.
//
// Codes follow Meta: a missing required field or an unknown/invalid
// parameter is (#100); a value out of its documented range (too long, too
// many buttons/rows, duplicate ids) is (#131009) "Parameter value is not
// valid". Problems with uploaded media (MIME type, size) are not refused
// synchronously: the send is accepted and a failed status (131053) follows,
// as Meta reports media problems asynchronously.

const (
	maxCaption        = 1024
	maxButtonBody     = 1024
	maxListBody       = 4096
	maxHeaderText     = 60
	maxFooterText     = 60
	maxReplyButtons   = 3
	maxButtonTitle    = 20
	maxButtonID       = 256
	maxListButton     = 20
	maxListSections   = 10
	maxListRows       = 10
	maxSectionTitle   = 24
	maxRowTitle       = 24
	maxRowDescription = 72
	maxRowID          = 200
	maxCTADisplayText = 20
)

// sendInfo is what a valid send resolved to, for the record and the statuses.
type sendInfo struct {
	use         *templateUse
	text        string
	media       *mediaInfo
	mediaErr    *statusErr // uploaded media violating the type's rules → failed 131053
	location    *locationInfo
	contacts    json.RawMessage
	interactive json.RawMessage
	reaction    *reactionInfo
}

// runes is the length Meta counts: characters, not bytes.
func runes(s string) int { return utf8.RuneCountInString(s) }

// tooLong is (#131009) for a value over its limit.
func tooLong(param string, limit int, v string) *graphError {
	return errParamValue(fmt.Sprintf("Param %s must be at most %d characters long (got %d).", param, limit, runes(v)))
}

// validateSend applies Meta's request validation to a send (not mark-read);
// raw is the request body, for the object named by the type.
func (s *Server) validateSend(req *sendRequest, raw []byte) (*sendInfo, *graphError) {
	if req.To == "" {
		return nil, errRequired("to")
	}
	if _, ok := normalizePhone(req.To); !ok {
		return nil, errInvalidParam("Invalid parameter: to must be a phone number with 8 to 15 digits")
	}
	if req.RecipientType != "" && req.RecipientType != "individual" {
		return nil, &graphError{code: 100, message: fmt.Sprintf("(#100) Param recipient_type must be one of {INDIVIDUAL} - got %q.", req.RecipientType)}
	}
	if runes(req.BizOpaque) > maxCallbackData {
		return nil, &graphError{code: 100, message: fmt.Sprintf("(#100) Param biz_opaque_callback_data must be at most %d characters long.", maxCallbackData)}
	}
	if req.Context != nil && req.Context.MessageID == "" {
		return nil, errRequired("context['message_id']")
	}
	if req.Type == "" {
		req.Type = "text"
	}
	switch req.Type {
	case "text":
		if req.Text == nil || req.Text.Body == "" {
			return nil, errRequired("text['body']")
		}
		if runes(req.Text.Body) > maxTextBody {
			return nil, &graphError{code: 100, message: fmt.Sprintf("(#100) Param text['body'] must be at most %d characters long.", maxTextBody)}
		}
		return &sendInfo{text: req.Text.Body}, nil
	case "template":
		use, e := s.validateTemplate(req.Template)
		if e != nil {
			return nil, e
		}
		return &sendInfo{use: use}, nil
	case "image", "video", "audio", "document", "sticker", "location", "contacts", "interactive", "reaction":
	default:
		return nil, &graphError{code: 100, message: fmt.Sprintf("(#100) Param type must be one of {AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, VIDEO} - got %q.", req.Type)}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, errInvalidParam("the request body is not a JSON object")
	}
	obj, ok := fields[req.Type]
	if !ok || string(obj) == "null" {
		return nil, errRequired(req.Type)
	}
	switch req.Type {
	case "location":
		return validateLocation(obj)
	case "contacts":
		return validateContacts(obj)
	case "interactive":
		return s.validateInteractive(obj)
	case "reaction":
		return validateReaction(obj)
	}
	return s.validateMedia(req.Type, obj)
}

// mediaSendReq is the object of a media send (and of interactive media headers).
type mediaSendReq struct {
	ID       string  `json:"id"`
	Link     string  `json:"link"`
	Caption  *string `json:"caption"`
	Filename string  `json:"filename"`
}

func (s *Server) validateMedia(kind string, obj json.RawMessage) (*sendInfo, *graphError) {
	var m mediaSendReq
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, errInvalidParam(fmt.Sprintf("Param %s must be an object with id or link: %v", kind, err))
	}
	if m.Caption != nil && *m.Caption != "" {
		switch kind {
		case "audio", "sticker":
			return nil, errInvalidParam(fmt.Sprintf("Param %s['caption'] is not supported: %s messages have no caption", kind, kind))
		}
		if runes(*m.Caption) > maxCaption {
			return nil, tooLong(kind+"['caption']", maxCaption, *m.Caption)
		}
	}
	info, mediaErr, e := s.resolveMediaRef(kind, kind, m)
	if e != nil {
		return nil, e
	}
	if m.Caption != nil {
		info.Caption = *m.Caption
	}
	if kind == "document" && m.Filename != "" {
		info.Filename = m.Filename
	}
	return &sendInfo{media: info, mediaErr: mediaErr, text: info.Caption}, nil
}

// resolveMediaRef checks an {id|link} reference used as kind (image, video,
// audio, document, sticker). A link is recorded, never fetched; an id must
// be known (else #100) and its MIME type and size are checked against the
// kind's rules (violation → mediaErr, reported later as a failed status).
func (s *Server) resolveMediaRef(kind, param string, m mediaSendReq) (*mediaInfo, *statusErr, *graphError) {
	switch {
	case m.ID == "" && m.Link == "":
		return nil, nil, errInvalidParam(fmt.Sprintf("Param %s must contain either id or link", param))
	case m.ID != "" && m.Link != "":
		return nil, nil, errInvalidParam(fmt.Sprintf("Param %s must contain either id or link, not both", param))
	case m.Link != "":
		u, err := url.Parse(m.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, nil, errInvalidParam(fmt.Sprintf("Param %s['link'] must be an http(s) URL - got %q", param, m.Link))
		}
		return &mediaInfo{Link: m.Link}, nil, nil
	}
	obj := s.lookupMedia(m.ID)
	if obj == nil {
		return nil, nil, errInvalidParam(fmt.Sprintf("Param %s['id'] is not a valid media id: %s", param, m.ID))
	}
	return obj.info(), checkMediaFor(kind, obj), nil
}

// coordinate parses a latitude/longitude given as a JSON number or a numeric
// string (Meta documents them as strings, its examples use numbers).
func coordinate(raw json.RawMessage) (float64, bool) {
	raw = bytes.TrimSpace(raw)
	var str string
	if json.Unmarshal(raw, &str) == nil {
		f, err := strconv.ParseFloat(strings.TrimSpace(str), 64)
		return f, err == nil
	}
	var f float64
	return f, json.Unmarshal(raw, &f) == nil
}

func validateLocation(obj json.RawMessage) (*sendInfo, *graphError) {
	var l struct {
		Latitude  json.RawMessage `json:"latitude"`
		Longitude json.RawMessage `json:"longitude"`
		Name      string          `json:"name"`
		Address   string          `json:"address"`
	}
	if err := json.Unmarshal(obj, &l); err != nil {
		return nil, errInvalidParam("Param location must be an object: " + err.Error())
	}
	info := &locationInfo{Name: l.Name, Address: l.Address}
	for _, c := range []struct {
		name string
		raw  json.RawMessage
		max  float64
		dst  *float64
	}{{"latitude", l.Latitude, 90, &info.Latitude}, {"longitude", l.Longitude, 180, &info.Longitude}} {
		if len(c.raw) == 0 || string(c.raw) == "null" {
			return nil, errRequired("location['" + c.name + "']")
		}
		v, ok := coordinate(c.raw)
		if !ok {
			return nil, errInvalidParam(fmt.Sprintf("Param location['%s'] must be a number - got %s", c.name, c.raw))
		}
		if v < -c.max || v > c.max {
			return nil, errInvalidParam(fmt.Sprintf("Param location['%s'] must be between %g and %g - got %g", c.name, -c.max, c.max, v))
		}
		*c.dst = v
	}
	return &sendInfo{location: info, text: l.Name}, nil
}

func validateContacts(obj json.RawMessage) (*sendInfo, *graphError) {
	var cs []map[string]json.RawMessage
	if err := json.Unmarshal(obj, &cs); err != nil {
		return nil, errInvalidParam("Param contacts must be an array of contact objects: " + err.Error())
	}
	if len(cs) == 0 {
		return nil, errInvalidParam("Param contacts must contain at least one contact")
	}
	for i, c := range cs {
		var name struct {
			FormattedName string `json:"formatted_name"`
		}
		if raw, ok := c["name"]; !ok || json.Unmarshal(raw, &name) != nil || strings.TrimSpace(name.FormattedName) == "" {
			return nil, errRequired(fmt.Sprintf("contacts[%d]['name']['formatted_name']", i))
		}
		for _, list := range []string{"phones", "emails", "urls", "addresses"} {
			if raw, ok := c[list]; ok {
				var items []json.RawMessage
				if json.Unmarshal(raw, &items) != nil {
					return nil, errInvalidParam(fmt.Sprintf("Param contacts[%d]['%s'] must be an array", i, list))
				}
			}
		}
	}
	return &sendInfo{contacts: obj}, nil
}

func validateReaction(obj json.RawMessage) (*sendInfo, *graphError) {
	var r struct {
		MessageID string  `json:"message_id"`
		Emoji     *string `json:"emoji"`
	}
	if err := json.Unmarshal(obj, &r); err != nil {
		return nil, errInvalidParam("Param reaction must be an object: " + err.Error())
	}
	if r.MessageID == "" {
		return nil, errRequired("reaction['message_id']")
	}
	if r.Emoji == nil {
		return nil, errRequired("reaction['emoji']")
	}
	return &sendInfo{reaction: &reactionInfo{MessageID: r.MessageID, Emoji: *r.Emoji}, text: *r.Emoji}, nil
}

// interactiveReq is the object of an interactive send.
type interactiveReq struct {
	Type   string `json:"type"`
	Header *struct {
		Type     string        `json:"type"`
		Text     string        `json:"text"`
		Image    *mediaSendReq `json:"image"`
		Video    *mediaSendReq `json:"video"`
		Document *mediaSendReq `json:"document"`
	} `json:"header"`
	Body *struct {
		Text string `json:"text"`
	} `json:"body"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Action *struct {
		Buttons []struct {
			Type  string `json:"type"`
			Reply *struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
		Button   string `json:"button"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"rows"`
		} `json:"sections"`
		Name       string          `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"action"`
}

// Interactive types Meta documents besides the three validated in depth;
// they get the generic checks only.
var otherInteractiveTypes = map[string]bool{
	"location_request_message": true, "flow": true, "product": true, "product_list": true,
	"catalog_message": true, "address_message": true, "voice_call": true, "call_permission_request": true,
}

func (s *Server) validateInteractive(obj json.RawMessage) (*sendInfo, *graphError) {
	var in interactiveReq
	if err := json.Unmarshal(obj, &in); err != nil {
		return nil, errInvalidParam("Param interactive must be an object: " + err.Error())
	}
	switch {
	case in.Type == "":
		return nil, errRequired("interactive['type']")
	case in.Type != "button" && in.Type != "list" && in.Type != "cta_url" && !otherInteractiveTypes[in.Type]:
		return nil, errInvalidParam(fmt.Sprintf("Param interactive['type'] must be one of {BUTTON, LIST, CTA_URL, FLOW, LOCATION_REQUEST_MESSAGE, PRODUCT, PRODUCT_LIST, CATALOG_MESSAGE, ADDRESS_MESSAGE} - got %q.", in.Type))
	case in.Action == nil:
		return nil, errRequired("interactive['action']")
	}
	info := &sendInfo{interactive: obj}
	if in.Body != nil {
		info.text = in.Body.Text
	}
	if otherInteractiveTypes[in.Type] {
		return info, nil
	}

	// body, footer and header, common to button, list and cta_url
	if in.Body == nil || in.Body.Text == "" {
		return nil, errRequired("interactive['body']['text']")
	}
	bodyMax := maxButtonBody
	if in.Type == "list" {
		bodyMax = maxListBody
	}
	if runes(in.Body.Text) > bodyMax {
		return nil, tooLong("interactive['body']['text']", bodyMax, in.Body.Text)
	}
	if in.Footer != nil && runes(in.Footer.Text) > maxFooterText {
		return nil, tooLong("interactive['footer']['text']", maxFooterText, in.Footer.Text)
	}
	if h := in.Header; h != nil {
		switch h.Type {
		case "":
			return nil, errRequired("interactive['header']['type']")
		case "text":
			if h.Text == "" {
				return nil, errRequired("interactive['header']['text']")
			}
			if runes(h.Text) > maxHeaderText {
				return nil, tooLong("interactive['header']['text']", maxHeaderText, h.Text)
			}
		case "image", "video", "document":
			if in.Type == "list" {
				return nil, errInvalidParam(fmt.Sprintf("Param interactive['header']['type'] must be TEXT for list messages - got %q", h.Type))
			}
			ref := map[string]*mediaSendReq{"image": h.Image, "video": h.Video, "document": h.Document}[h.Type]
			param := "interactive['header']['" + h.Type + "']"
			if ref == nil {
				return nil, errRequired(param)
			}
			mi, mediaErr, e := s.resolveMediaRef(h.Type, param, *ref)
			if e != nil {
				return nil, e
			}
			info.media, info.mediaErr = mi, mediaErr
		default:
			return nil, errInvalidParam(fmt.Sprintf("Param interactive['header']['type'] must be one of {TEXT, IMAGE, VIDEO, DOCUMENT} - got %q", h.Type))
		}
	}

	a := in.Action
	switch in.Type {
	case "button":
		if len(a.Buttons) == 0 {
			return nil, errRequired("interactive['action']['buttons']")
		}
		if len(a.Buttons) > maxReplyButtons {
			return nil, errParamValue(fmt.Sprintf("Param interactive['action']['buttons'] must have at most %d buttons (got %d).", maxReplyButtons, len(a.Buttons)))
		}
		ids, titles := map[string]bool{}, map[string]bool{}
		for i, b := range a.Buttons {
			p := fmt.Sprintf("interactive['action']['buttons'][%d]", i)
			switch {
			case b.Type == "":
				return nil, errRequired(p + "['type']")
			case b.Type != "reply":
				return nil, errInvalidParam(fmt.Sprintf("Param %s['type'] must be one of {REPLY} - got %q", p, b.Type))
			case b.Reply == nil:
				return nil, errRequired(p + "['reply']")
			case b.Reply.ID == "":
				return nil, errRequired(p + "['reply']['id']")
			case b.Reply.Title == "":
				return nil, errRequired(p + "['reply']['title']")
			case runes(b.Reply.ID) > maxButtonID:
				return nil, tooLong(p+"['reply']['id']", maxButtonID, b.Reply.ID)
			case runes(b.Reply.Title) > maxButtonTitle:
				return nil, tooLong(p+"['reply']['title']", maxButtonTitle, b.Reply.Title)
			case ids[b.Reply.ID]:
				return nil, errParamValue(fmt.Sprintf("Param %s['reply']['id'] duplicates another button id (%q); button ids must be unique.", p, b.Reply.ID))
			case titles[b.Reply.Title]:
				return nil, errParamValue(fmt.Sprintf("Param %s['reply']['title'] duplicates another button title (%q); button titles must be unique.", p, b.Reply.Title))
			}
			ids[b.Reply.ID], titles[b.Reply.Title] = true, true
		}
	case "list":
		switch {
		case a.Button == "":
			return nil, errRequired("interactive['action']['button']")
		case runes(a.Button) > maxListButton:
			return nil, tooLong("interactive['action']['button']", maxListButton, a.Button)
		case len(a.Sections) == 0:
			return nil, errRequired("interactive['action']['sections']")
		case len(a.Sections) > maxListSections:
			return nil, errParamValue(fmt.Sprintf("Param interactive['action']['sections'] must have at most %d sections (got %d).", maxListSections, len(a.Sections)))
		}
		rows := 0
		ids := map[string]bool{}
		for i, sec := range a.Sections {
			p := fmt.Sprintf("interactive['action']['sections'][%d]", i)
			if sec.Title == "" && len(a.Sections) > 1 {
				return nil, errRequired(p + "['title']")
			}
			if runes(sec.Title) > maxSectionTitle {
				return nil, tooLong(p+"['title']", maxSectionTitle, sec.Title)
			}
			if len(sec.Rows) == 0 {
				return nil, errRequired(p + "['rows']")
			}
			for j, row := range sec.Rows {
				rp := fmt.Sprintf("%s['rows'][%d]", p, j)
				switch {
				case row.ID == "":
					return nil, errRequired(rp + "['id']")
				case row.Title == "":
					return nil, errRequired(rp + "['title']")
				case runes(row.ID) > maxRowID:
					return nil, tooLong(rp+"['id']", maxRowID, row.ID)
				case runes(row.Title) > maxRowTitle:
					return nil, tooLong(rp+"['title']", maxRowTitle, row.Title)
				case runes(row.Description) > maxRowDescription:
					return nil, tooLong(rp+"['description']", maxRowDescription, row.Description)
				case ids[row.ID]:
					return nil, errParamValue(fmt.Sprintf("Param %s['id'] duplicates another row id (%q); row ids must be unique.", rp, row.ID))
				}
				ids[row.ID] = true
			}
			rows += len(sec.Rows)
		}
		if rows > maxListRows {
			return nil, errParamValue(fmt.Sprintf("Param interactive['action']['sections'] must have at most %d rows in total (got %d).", maxListRows, rows))
		}
	case "cta_url":
		if a.Name != "cta_url" {
			if a.Name == "" {
				return nil, errRequired("interactive['action']['name']")
			}
			return nil, errInvalidParam(fmt.Sprintf("Param interactive['action']['name'] must be cta_url - got %q", a.Name))
		}
		var p struct {
			DisplayText string `json:"display_text"`
			URL         string `json:"url"`
		}
		if len(a.Parameters) == 0 || json.Unmarshal(a.Parameters, &p) != nil {
			return nil, errRequired("interactive['action']['parameters']")
		}
		switch {
		case p.DisplayText == "":
			return nil, errRequired("interactive['action']['parameters']['display_text']")
		case p.URL == "":
			return nil, errRequired("interactive['action']['parameters']['url']")
		case runes(p.DisplayText) > maxCTADisplayText:
			return nil, tooLong("interactive['action']['parameters']['display_text']", maxCTADisplayText, p.DisplayText)
		}
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errParamValue(fmt.Sprintf("Param interactive['action']['parameters']['url'] must be an http(s) URL - got %q", p.URL))
		}
	}
	return info, nil
}
