package whatsapp

import (
	"github.com/wabridge/wabridge/bridge"
)

// inboundEvent turns one value.messages[] item into an Inbound event. The
// sender is Customer{Phone: "+"+from, BSUID: from_user_id or the matching
// contact's user_id}; a message without id or without any sender becomes an
// Other event ("malformed_message"). Content.Raw always holds the message JSON.
func inboundEvent(raw jv, business string, contacts []contactInfo) bridge.Event {
	var m fields
	if !m.read(raw, messageKeys) {
		return otherEvent("messages", "malformed_message", raw)
	}
	from, userID := m.get("from").str(), m.get("from_user_id").str()
	contact := matchContact(contacts, from, userID)
	if userID == "" {
		userID = contact.userID
	}
	msg := &bridge.Message{
		Direction:   bridge.Inbound,
		Business:    business,
		Customer:    bridge.Customer{Phone: plusDigits(from), BSUID: userID},
		WAMID:       m.get("id").str(),
		Channel:     bridge.ChannelWhatsApp,
		Status:      bridge.StatusReceived,
		ProfileName: contact.name,
		Timestamp:   m.get("timestamp").unixTime(),
	}
	if msg.WAMID == "" || msg.Customer.IsZero() {
		return otherEvent("messages", "malformed_message", raw)
	}
	c := &msg.Content
	c.Raw = compact(raw.b)
	c.Context = parseContext(m.get("context"))
	c.Referral = compact(m.get("referral").b)
	c.Errors = parseErrors(m.get("errors"))
	msg.Kind = fillContent(m.get("type").str(), &m, c)
	return bridge.Event{Inbound: msg}
}

// messageKeys are the members of a message the parser reads: the common
// ones, then the member of each type fillContent knows.
var messageKeys = []string{
	"id", "from", "from_user_id", "timestamp", "type", "context", "referral", "errors",
	"text", "image", "video", "audio", "document", "sticker", "location",
	"contacts", "interactive", "button", "reaction", "system",
}

// fillContent fills c for Meta's message type typ and returns its bridge
// kind. Types not listed become KindUnknown (their JSON is in Content.Raw);
// "unsupported" carries its reason in Content.Errors.
func fillContent(typ string, m *fields, c *bridge.Content) bridge.Kind {
	switch typ {
	case "text":
		c.Text = m.get("text").member("body").str()
		return bridge.KindText
	case "image":
		fillMedia(m.get(typ), c)
		return bridge.KindImage
	case "video":
		fillMedia(m.get(typ), c)
		return bridge.KindVideo
	case "audio":
		fillMedia(m.get(typ), c)
		return bridge.KindAudio
	case "document":
		fillMedia(m.get(typ), c)
		return bridge.KindDocument
	case "sticker":
		fillMedia(m.get(typ), c)
		return bridge.KindSticker
	case "location":
		fillLocation(m.get("location"), c)
		return bridge.KindLocation
	case "contacts":
		c.Contacts = compact(m.get("contacts").b)
		return bridge.KindContacts
	case "interactive":
		fillInteractive(m.get("interactive"), c)
		return bridge.KindInteractive
	case "button":
		fillButton(m.get("button"), c)
		return bridge.KindButton
	case "reaction":
		fillReaction(m.get("reaction"), c)
		return bridge.KindReaction
	case "system":
		fillSystem(m.get("system"), c)
		return bridge.KindSystem
	case "unsupported":
		return bridge.KindUnsupported
	}
	return bridge.KindUnknown
}

var (
	mediaKeys    = []string{"id", "url", "mime_type", "sha256", "caption", "filename", "voice", "animated"}
	locationKeys = []string{"latitude", "longitude", "name", "address", "url"}
	systemKeys   = []string{"type", "body", "wa_id", "new_wa_id", "user_id"}
	contextKeys  = []string{"id", "from", "forwarded", "frequently_forwarded"}
)

// fillMedia reads image/video/audio/document/sticker objects:
// {id, url?, mime_type, sha256, caption?, filename?, voice?, animated?}.
func fillMedia(raw jv, c *bridge.Content) {
	var o fields
	if !o.read(raw, mediaKeys) {
		return
	}
	c.Media = &bridge.Media{
		ID:       o.get("id").str(),
		URL:      o.get("url").str(),
		MIMEType: o.get("mime_type").str(),
		SHA256:   o.get("sha256").str(),
		Caption:  o.get("caption").str(),
		Filename: o.get("filename").str(),
		Voice:    o.get("voice").boolean(),
		Animated: o.get("animated").boolean(),
	}
}

func fillLocation(raw jv, c *bridge.Content) {
	var o fields
	if !o.read(raw, locationKeys) {
		return
	}
	c.Location = &bridge.Location{
		Latitude:  o.get("latitude").num(),
		Longitude: o.get("longitude").num(),
		Name:      o.get("name").str(),
		Address:   o.get("address").str(),
		URL:       o.get("url").str(),
	}
}

// fillInteractive keeps the interactive object raw and reads the customer's
// answer into Reply (webhooks/reference/messages/interactive; flows:
// flows/guides/flowswebhooks):
//
//	button_reply {id, title}               → Reply{Type, ID, Title}
//	list_reply   {id, title, description}  → Reply{Type, ID, Title, Description}
//	nfm_reply    {name, body, response_json} → Reply{Type, Title: body ("Sent"),
//	                                            Body: response_json, as sent}
//
// Other interactive types leave Reply nil; Interactive and Raw keep them.
func fillInteractive(raw jv, c *bridge.Content) {
	c.Interactive = compact(raw.b)
	typ := raw.member("type").str()
	switch typ {
	case "button_reply", "list_reply":
		a := raw.member(typ)
		if !a.isObject() {
			return
		}
		c.Reply = &bridge.InteractiveReply{
			Type:        typ,
			ID:          a.member("id").str(),
			Title:       a.member("title").str(),
			Description: a.member("description").str(),
		}
	case "nfm_reply":
		a := raw.member(typ)
		if !a.isObject() {
			return
		}
		c.Reply = &bridge.InteractiveReply{
			Type:  typ,
			Title: a.member("body").str(),
			Body:  a.member("response_json").str(),
		}
	}
}

func fillButton(raw jv, c *bridge.Content) {
	if raw.isObject() {
		c.Button = &bridge.ButtonReply{Text: raw.member("text").str(), Payload: raw.member("payload").str()}
	}
}

func fillReaction(raw jv, c *bridge.Content) {
	if raw.isObject() {
		c.Reaction = &bridge.Reaction{MessageID: raw.member("message_id").str(), Emoji: raw.member("emoji").str()}
	}
}

// fillSystem reads system{type, body, wa_id, user_id}: user_changed_number
// carries the new wa_id (older payloads named it new_wa_id); BSUID-era
// notices carry the user_id. Other members stay in Raw.
func fillSystem(raw jv, c *bridge.Content) {
	var o fields
	if !o.read(raw, systemKeys) {
		return
	}
	waID := o.get("wa_id").str()
	if waID == "" {
		waID = o.get("new_wa_id").str()
	}
	c.System = &bridge.System{
		Type:   o.get("type").str(),
		Body:   o.get("body").str(),
		WaID:   waID,
		UserID: o.get("user_id").str(),
	}
}

// parseContext reads context{id, from, forwarded, frequently_forwarded};
// nil when none is set. From is kept as Meta writes it (digits, no plus).
func parseContext(raw jv) *bridge.Context {
	var o fields
	o.read(raw, contextKeys)
	ctx := bridge.Context{
		WAMID:               o.get("id").str(),
		From:                o.get("from").str(),
		Forwarded:           o.get("forwarded").boolean(),
		FrequentlyForwarded: o.get("frequently_forwarded").boolean(),
	}
	if ctx == (bridge.Context{}) {
		return nil
	}
	return &ctx
}
