package whatsapp

import (
	"encoding/json"

	"github.com/wabridge/wabridge/bridge"
)

// inboundEvent turns one value.messages[] item into an Inbound event. The
// sender is Customer{Phone: "+"+from, BSUID: from_user_id or the matching
// contact's user_id}; a message without id or without any sender becomes an
// Other event ("malformed_message"). Content.Raw always holds the message JSON.
func inboundEvent(raw json.RawMessage, business string, contacts []contactInfo) bridge.Event {
	m, ok := asObject(raw)
	if !ok {
		return otherEvent("messages", "malformed_message", raw)
	}
	from, userID := m.str("from"), m.str("from_user_id")
	contact := matchContact(contacts, from, userID)
	if userID == "" {
		userID = contact.userID
	}
	msg := &bridge.Message{
		Direction:   bridge.Inbound,
		Business:    business,
		Customer:    bridge.Customer{Phone: plusDigits(from), BSUID: userID},
		WAMID:       m.str("id"),
		Channel:     bridge.ChannelWhatsApp,
		Status:      bridge.StatusReceived,
		ProfileName: contact.name,
		Timestamp:   m.unixTime("timestamp"),
	}
	if msg.WAMID == "" || msg.Customer.IsZero() {
		return otherEvent("messages", "malformed_message", raw)
	}
	c := &msg.Content
	c.Raw = compact(raw)
	c.Context = parseContext(m.obj("context"))
	c.Referral = compact(m["referral"])
	c.Errors = parseErrors(m.arr("errors"))
	msg.Kind = fillContent(m.str("type"), m, c)
	return bridge.Event{Inbound: msg}
}

// contentFiller copies one message type's member into Content.
type contentFiller func(m object, typ string, c *bridge.Content)

// fillers maps Meta's message types to bridge kinds and their content. Types
// not listed become KindUnknown (their JSON is in Content.Raw).
var fillers = map[string]struct {
	kind bridge.Kind
	fill contentFiller
}{
	"text":        {bridge.KindText, fillText},
	"image":       {bridge.KindImage, fillMedia},
	"video":       {bridge.KindVideo, fillMedia},
	"audio":       {bridge.KindAudio, fillMedia},
	"document":    {bridge.KindDocument, fillMedia},
	"sticker":     {bridge.KindSticker, fillMedia},
	"location":    {bridge.KindLocation, fillLocation},
	"contacts":    {bridge.KindContacts, fillContacts},
	"interactive": {bridge.KindInteractive, fillInteractive},
	"button":      {bridge.KindButton, fillButton},
	"reaction":    {bridge.KindReaction, fillReaction},
	"system":      {bridge.KindSystem, fillSystem},
	"unsupported": {bridge.KindUnsupported, nil}, // the reason is in Content.Errors
}

// fillContent fills c for message type typ and returns the kind.
func fillContent(typ string, m object, c *bridge.Content) bridge.Kind {
	f, ok := fillers[typ]
	if !ok {
		return bridge.KindUnknown
	}
	if f.fill != nil {
		f.fill(m, typ, c)
	}
	return f.kind
}

func fillText(m object, _ string, c *bridge.Content) {
	c.Text = m.obj("text").str("body")
}

// fillMedia reads image/video/audio/document/sticker objects:
// {id, url?, mime_type, sha256, caption?, filename?, voice?, animated?}.
func fillMedia(m object, typ string, c *bridge.Content) {
	o, ok := asObject(m[typ])
	if !ok {
		return
	}
	c.Media = &bridge.Media{
		ID:       o.str("id"),
		URL:      o.str("url"),
		MIMEType: o.str("mime_type"),
		SHA256:   o.str("sha256"),
		Caption:  o.str("caption"),
		Filename: o.str("filename"),
		Voice:    o.boolean("voice"),
		Animated: o.boolean("animated"),
	}
}

func fillLocation(m object, _ string, c *bridge.Content) {
	o, ok := asObject(m["location"])
	if !ok {
		return
	}
	c.Location = &bridge.Location{
		Latitude:  o.num("latitude"),
		Longitude: o.num("longitude"),
		Name:      o.str("name"),
		Address:   o.str("address"),
		URL:       o.str("url"),
	}
}

func fillContacts(m object, _ string, c *bridge.Content) {
	c.Contacts = compact(m["contacts"])
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
func fillInteractive(m object, _ string, c *bridge.Content) {
	c.Interactive = compact(m["interactive"])
	o, ok := asObject(m["interactive"])
	if !ok {
		return
	}
	typ := o.str("type")
	a, ok := asObject(o[typ])
	if !ok {
		return
	}
	switch typ {
	case "button_reply", "list_reply":
		c.Reply = &bridge.InteractiveReply{
			Type:        typ,
			ID:          a.str("id"),
			Title:       a.str("title"),
			Description: a.str("description"),
		}
	case "nfm_reply":
		c.Reply = &bridge.InteractiveReply{
			Type:  typ,
			Title: a.str("body"),
			Body:  a.str("response_json"),
		}
	}
}

func fillButton(m object, _ string, c *bridge.Content) {
	if o, ok := asObject(m["button"]); ok {
		c.Button = &bridge.ButtonReply{Text: o.str("text"), Payload: o.str("payload")}
	}
}

func fillReaction(m object, _ string, c *bridge.Content) {
	if o, ok := asObject(m["reaction"]); ok {
		c.Reaction = &bridge.Reaction{MessageID: o.str("message_id"), Emoji: o.str("emoji")}
	}
}

// fillSystem reads system{type, body, wa_id, user_id}: user_changed_number
// carries the new wa_id (older payloads named it new_wa_id); BSUID-era
// notices carry the user_id. Other members stay in Raw.
func fillSystem(m object, _ string, c *bridge.Content) {
	if o, ok := asObject(m["system"]); ok {
		c.System = &bridge.System{
			Type:   o.str("type"),
			Body:   o.str("body"),
			WaID:   firstOf(o.str("wa_id"), o.str("new_wa_id")),
			UserID: o.str("user_id"),
		}
	}
}

// firstOf returns the first non-empty string.
func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// parseContext reads context{id, from, forwarded, frequently_forwarded};
// nil when none is set. From is kept as Meta writes it (digits, no plus).
func parseContext(o object) *bridge.Context {
	ctx := &bridge.Context{
		WAMID:               o.str("id"),
		From:                o.str("from"),
		Forwarded:           o.boolean("forwarded"),
		FrequentlyForwarded: o.boolean("frequently_forwarded"),
	}
	if *ctx == (bridge.Context{}) {
		return nil
	}
	return ctx
}
