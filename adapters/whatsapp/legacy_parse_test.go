package whatsapp

// The parser as it was before the single-pass rewrite (parse.go,
// parse_message.go and parse_status.go of that time, identifiers prefixed
// with "legacy"): every level decoded into map[string]json.RawMessage by
// the lenient accessors of loose.go. Kept as the reference for the
// differential tests and fuzz target in parse_diff_test.go; do not change
// it to make a difference disappear.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/wabridge/wabridge/bridge"
)

// legacyParse is Parse as it was. Its documentation then:
//
// Parse reads one webhook delivery (the exact body Meta POSTed, after
// VerifySignature) and returns its events in payload order, iterating every
// entry and change of a batched delivery.
//
// Field "messages": value.messages[] become Inbound events, value.statuses[]
// Status events, value.errors[] one Other event (Type "errors", Raw the whole
// value). Every other field (message_template_status_update, account_update,
// …) becomes an Other event whose Type is the value's "event" when it has
// one. Items that cannot be read (no id, no sender, wrong shape) become Other
// events with Type "malformed_message", "malformed_status" or
// "malformed_value" rather than being dropped. Other events carry Key =
// field + ":" + SHA-256 of the compact raw JSON, so re-deliveries store once.
//
// Parse fails only with ErrInvalidJSON or ErrWrongObject (wrapped).
func (p *Parser) legacyParse(body []byte) ([]bridge.Event, error) {
	if !json.Valid(body) {
		return nil, ErrInvalidJSON
	}
	env, ok := asObject(body)
	if !ok {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrInvalidJSON)
	}
	if obj := env.str("object"); obj != webhookObject {
		return nil, fmt.Errorf("%w: got %q", ErrWrongObject, obj)
	}
	var events []bridge.Event
	for _, rawEntry := range env.arr("entry") {
		entry, ok := asObject(rawEntry)
		if !ok {
			continue
		}
		for _, rawChange := range entry.arr("changes") {
			change, ok := asObject(rawChange)
			if !ok {
				continue
			}
			events = append(events, p.legacyChange(change.str("field"), change["value"])...)
		}
	}
	return events, nil
}

// change turns one entry[].changes[] item into events.
func (p *Parser) legacyChange(field string, value json.RawMessage) []bridge.Event {
	if field != "messages" {
		typ := ""
		if v, ok := asObject(value); ok {
			typ = v.str("event")
		}
		return []bridge.Event{legacyOtherEvent(field, typ, value)}
	}
	v, ok := asObject(value)
	if !ok {
		return []bridge.Event{legacyOtherEvent(field, "malformed_value", value)}
	}
	meta := v.obj("metadata")
	business := p.businessFor(meta.str("phone_number_id"), meta.str("display_phone_number"))
	contacts := legacyParseContacts(v.arr("contacts"))

	var events []bridge.Event
	for _, raw := range v.arr("messages") {
		events = append(events, legacyInboundEvent(raw, business, contacts))
	}
	for _, raw := range v.arr("statuses") {
		events = append(events, legacyStatusEvent(raw, business, contacts))
	}
	if len(v.arr("errors")) > 0 {
		events = append(events, legacyOtherEvent(field, "errors", value))
	}
	if len(events) == 0 {
		events = append(events, legacyOtherEvent(field, "unrecognized", value))
	}
	return events
}

// legacyOtherEvent keeps an item wabridge does not act on, with an idempotency key.
func legacyOtherEvent(field, typ string, raw json.RawMessage) bridge.Event {
	return bridge.Event{Other: &bridge.RawEvent{
		Field: field,
		Type:  typ,
		Key:   legacyHashKey(field, raw),
		Raw:   legacyRawOrNull(raw),
	}}
}

// legacyRawOrNull is legacyCompact(raw), or JSON null for an absent value (RawEvent.Raw
// must be valid JSON).
func legacyRawOrNull(raw json.RawMessage) json.RawMessage {
	if c := legacyCompact(raw); c != nil {
		return c
	}
	return json.RawMessage("null")
}

// legacyContactInfo is one value.contacts[] item: who a message is from (or a
// status is about).
type legacyContactInfo struct {
	waID, userID, name string
}

func legacyParseContacts(raws []json.RawMessage) []legacyContactInfo {
	var out []legacyContactInfo
	for _, raw := range raws {
		c, ok := asObject(raw)
		if !ok {
			continue
		}
		out = append(out, legacyContactInfo{
			waID:   c.str("wa_id"),
			userID: c.str("user_id"),
			name:   c.obj("profile").str("name"),
		})
	}
	return out
}

// legacyMatchContact finds the contact with wa_id == waID or user_id == userID.
func legacyMatchContact(contacts []legacyContactInfo, waID, userID string) legacyContactInfo {
	for _, c := range contacts {
		if (waID != "" && c.waID == waID) || (userID != "" && c.userID == userID) {
			return c
		}
	}
	return legacyContactInfo{}
}

// legacyParseErrors reads an errors[] array: {code,title,message,error_data{details}}.
func legacyParseErrors(raws []json.RawMessage) []bridge.UpstreamError {
	var out []bridge.UpstreamError
	for _, raw := range raws {
		e, ok := asObject(raw)
		if !ok {
			continue
		}
		out = append(out, bridge.UpstreamError{
			Code:    e.integer("code"),
			Title:   e.str("title"),
			Message: e.str("message"),
			Details: e.obj("error_data").str("details"),
		})
	}
	return out
}

// legacyInboundEvent turns one value.messages[] item into an Inbound event. The
// sender is Customer{Phone: "+"+from, BSUID: from_user_id or the matching
// contact's user_id}; a message without id or without any sender becomes an
// Other event ("malformed_message"). Content.Raw always holds the message JSON.
func legacyInboundEvent(raw json.RawMessage, business string, contacts []legacyContactInfo) bridge.Event {
	m, ok := asObject(raw)
	if !ok {
		return legacyOtherEvent("messages", "malformed_message", raw)
	}
	from, userID := m.str("from"), m.str("from_user_id")
	contact := legacyMatchContact(contacts, from, userID)
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
		return legacyOtherEvent("messages", "malformed_message", raw)
	}
	c := &msg.Content
	c.Raw = legacyCompact(raw)
	c.Context = legacyParseContext(m.obj("context"))
	c.Referral = legacyCompact(m["referral"])
	c.Errors = legacyParseErrors(m.arr("errors"))
	msg.Kind = legacyFillContent(m.str("type"), m, c)
	return bridge.Event{Inbound: msg}
}

// legacyContentFiller copies one message type's member into Content.
type legacyContentFiller func(m object, typ string, c *bridge.Content)

// legacyFillers maps Meta's message types to bridge kinds and their content. Types
// not listed become KindUnknown (their JSON is in Content.Raw).
var legacyFillers = map[string]struct {
	kind bridge.Kind
	fill legacyContentFiller
}{
	"text":        {bridge.KindText, legacyFillText},
	"image":       {bridge.KindImage, legacyFillMedia},
	"video":       {bridge.KindVideo, legacyFillMedia},
	"audio":       {bridge.KindAudio, legacyFillMedia},
	"document":    {bridge.KindDocument, legacyFillMedia},
	"sticker":     {bridge.KindSticker, legacyFillMedia},
	"location":    {bridge.KindLocation, legacyFillLocation},
	"contacts":    {bridge.KindContacts, legacyFillContacts},
	"interactive": {bridge.KindInteractive, legacyFillInteractive},
	"button":      {bridge.KindButton, legacyFillButton},
	"reaction":    {bridge.KindReaction, legacyFillReaction},
	"system":      {bridge.KindSystem, legacyFillSystem},
	"unsupported": {bridge.KindUnsupported, nil}, // the reason is in Content.Errors
}

// legacyFillContent fills c for message type typ and returns the kind.
func legacyFillContent(typ string, m object, c *bridge.Content) bridge.Kind {
	f, ok := legacyFillers[typ]
	if !ok {
		return bridge.KindUnknown
	}
	if f.fill != nil {
		f.fill(m, typ, c)
	}
	return f.kind
}

func legacyFillText(m object, _ string, c *bridge.Content) {
	c.Text = m.obj("text").str("body")
}

// legacyFillMedia reads image/video/audio/document/sticker objects:
// {id, url?, mime_type, sha256, caption?, filename?, voice?, animated?}.
func legacyFillMedia(m object, typ string, c *bridge.Content) {
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

func legacyFillLocation(m object, _ string, c *bridge.Content) {
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

func legacyFillContacts(m object, _ string, c *bridge.Content) {
	c.Contacts = legacyCompact(m["contacts"])
}

// legacyFillInteractive keeps the interactive object raw and reads the customer's
// answer into Reply (webhooks/reference/messages/interactive; flows:
// flows/guides/flowswebhooks):
//
//	button_reply {id, title}               → Reply{Type, ID, Title}
//	list_reply   {id, title, description}  → Reply{Type, ID, Title, Description}
//	nfm_reply    {name, body, response_json} → Reply{Type, Title: body ("Sent"),
//	                                            Body: response_json, as sent}
//
// Other interactive types leave Reply nil; Interactive and Raw keep them.
func legacyFillInteractive(m object, _ string, c *bridge.Content) {
	c.Interactive = legacyCompact(m["interactive"])
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

func legacyFillButton(m object, _ string, c *bridge.Content) {
	if o, ok := asObject(m["button"]); ok {
		c.Button = &bridge.ButtonReply{Text: o.str("text"), Payload: o.str("payload")}
	}
}

func legacyFillReaction(m object, _ string, c *bridge.Content) {
	if o, ok := asObject(m["reaction"]); ok {
		c.Reaction = &bridge.Reaction{MessageID: o.str("message_id"), Emoji: o.str("emoji")}
	}
}

// legacyFillSystem reads system{type, body, wa_id, user_id}: user_changed_number
// carries the new wa_id (older payloads named it new_wa_id); BSUID-era
// notices carry the user_id. Other members stay in Raw.
func legacyFillSystem(m object, _ string, c *bridge.Content) {
	if o, ok := asObject(m["system"]); ok {
		c.System = &bridge.System{
			Type:   o.str("type"),
			Body:   o.str("body"),
			WaID:   legacyFirstOf(o.str("wa_id"), o.str("new_wa_id")),
			UserID: o.str("user_id"),
		}
	}
}

// legacyFirstOf returns the first non-empty string.
func legacyFirstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// legacyParseContext reads context{id, from, forwarded, frequently_forwarded};
// nil when none is set. From is kept as Meta writes it (digits, no plus).
func legacyParseContext(o object) *bridge.Context {
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

// legacyStatusEvent turns one value.statuses[] item into a Status event.
//
// Recipient: recipient_id → Phone (for group messages the participant,
// recipient_participant_id), recipient_user_id → BSUID (or the user_id of
// the matching contact). Both may be missing in the BSUID era (statuses to a
// BSUID omit recipient_id; v24.0+ omits conversation). Status is
// bridge.ParseStatus(status), "" for words it does not know (RawStatus keeps
// the word). A failed status gets Action and Reason from Classify of its
// first error's code; a failed status without errors leaves them unset. An
// item without id or status becomes an Other event ("malformed_status").
func legacyStatusEvent(raw json.RawMessage, business string, contacts []legacyContactInfo) bridge.Event {
	s, ok := asObject(raw)
	if !ok {
		return legacyOtherEvent("messages", "malformed_status", raw)
	}
	su := &bridge.StatusUpdate{
		WAMID:           s.str("id"),
		RawStatus:       s.str("status"),
		Timestamp:       s.unixTime("timestamp"),
		Business:        business,
		CallbackData:    s.str("biz_opaque_callback_data"),
		Errors:          legacyParseErrors(s.arr("errors")),
		PricingCategory: s.obj("pricing").str("category"),
		Raw:             legacyCompact(raw),
	}
	if su.WAMID == "" || su.RawStatus == "" {
		return legacyOtherEvent("messages", "malformed_status", raw)
	}
	su.Status, _ = bridge.ParseStatus(su.RawStatus)

	recipientID := s.str("recipient_id")
	if s.str("recipient_type") == "group" {
		recipientID = s.str("recipient_participant_id")
	}
	su.Recipient = bridge.Customer{Phone: plusDigits(recipientID), BSUID: s.str("recipient_user_id")}
	if su.Recipient.BSUID == "" && recipientID != "" {
		su.Recipient.BSUID = legacyMatchContact(contacts, recipientID, "").userID
	}

	if su.Status == bridge.StatusFailed && len(su.Errors) > 0 {
		su.Action, su.Reason = Classify(su.Errors[0].Code)
	}
	return bridge.Event{Status: su}
}

// legacyCompact returns raw without insignificant whitespace (nil when empty
// or JSON null), so stored raw JSON and keys derived from it are stable.
func legacyCompact(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return b.Bytes()
}

// legacyHashKey is a stable idempotency key for a raw item: prefix + ":" +
// the hex SHA-256 of its compact JSON.
func legacyHashKey(prefix string, raw json.RawMessage) string {
	sum := sha256.Sum256(legacyCompact(raw))
	return prefix + ":" + hex.EncodeToString(sum[:])
}
