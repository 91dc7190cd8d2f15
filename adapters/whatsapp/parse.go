package whatsapp

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wabridge/wabridge/bridge"
)

// Errors returned by Parse. Everything else in a delivery is tolerated.
var (
	// ErrInvalidJSON: the body is not JSON, or not a JSON object.
	ErrInvalidJSON = errors.New("whatsapp: webhook body is not valid JSON")
	// ErrWrongObject: the body is not a WhatsApp Business Account webhook.
	ErrWrongObject = errors.New("whatsapp: webhook object is not whatsapp_business_account")
)

// webhookObject is the envelope's "object" for WhatsApp webhooks.
const webhookObject = "whatsapp_business_account"

// Parser turns webhook deliveries into bridge events. It is safe for
// concurrent use.
type Parser struct {
	business map[string]string // phone number id → E.164 business number
}

// NewParser returns a parser that maps phone_number_id to business numbers;
// unknown ids fall back to "+" and the digits of display_phone_number.
func NewParser(numbers []Number) *Parser {
	p := &Parser{business: make(map[string]string, len(numbers))}
	for _, n := range numbers {
		biz := bridge.NormalizePhone(n.BusinessNumber)
		if biz == "" {
			biz = n.BusinessNumber
		}
		p.business[n.PhoneNumberID] = biz
	}
	return p
}

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
func (p *Parser) Parse(body []byte) ([]bridge.Event, error) {
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
			events = append(events, p.change(change.str("field"), change["value"])...)
		}
	}
	return events, nil
}

// change turns one entry[].changes[] item into events.
func (p *Parser) change(field string, value json.RawMessage) []bridge.Event {
	if field != "messages" {
		typ := ""
		if v, ok := asObject(value); ok {
			typ = v.str("event")
		}
		return []bridge.Event{otherEvent(field, typ, value)}
	}
	v, ok := asObject(value)
	if !ok {
		return []bridge.Event{otherEvent(field, "malformed_value", value)}
	}
	meta := v.obj("metadata")
	business := p.businessFor(meta.str("phone_number_id"), meta.str("display_phone_number"))
	contacts := parseContacts(v.arr("contacts"))

	var events []bridge.Event
	for _, raw := range v.arr("messages") {
		events = append(events, inboundEvent(raw, business, contacts))
	}
	for _, raw := range v.arr("statuses") {
		events = append(events, statusEvent(raw, business, contacts))
	}
	if len(v.arr("errors")) > 0 {
		events = append(events, otherEvent(field, "errors", value))
	}
	if len(events) == 0 {
		events = append(events, otherEvent(field, "unrecognized", value))
	}
	return events
}

// businessFor resolves the business number a change is about.
func (p *Parser) businessFor(phoneNumberID, display string) string {
	if biz, ok := p.business[phoneNumberID]; ok && phoneNumberID != "" {
		return biz
	}
	return allDigits(display)
}

// otherEvent keeps an item wabridge does not act on, with an idempotency key.
func otherEvent(field, typ string, raw json.RawMessage) bridge.Event {
	return bridge.Event{Other: &bridge.RawEvent{
		Field: field,
		Type:  typ,
		Key:   hashKey(field, raw),
		Raw:   rawOrNull(raw),
	}}
}

// rawOrNull is compact(raw), or JSON null for an absent value (RawEvent.Raw
// must be valid JSON).
func rawOrNull(raw json.RawMessage) json.RawMessage {
	if c := compact(raw); c != nil {
		return c
	}
	return json.RawMessage("null")
}

// contactInfo is one value.contacts[] item: who a message is from (or a
// status is about).
type contactInfo struct {
	waID, userID, name string
}

func parseContacts(raws []json.RawMessage) []contactInfo {
	var out []contactInfo
	for _, raw := range raws {
		c, ok := asObject(raw)
		if !ok {
			continue
		}
		out = append(out, contactInfo{
			waID:   c.str("wa_id"),
			userID: c.str("user_id"),
			name:   c.obj("profile").str("name"),
		})
	}
	return out
}

// matchContact finds the contact with wa_id == waID or user_id == userID.
func matchContact(contacts []contactInfo, waID, userID string) contactInfo {
	for _, c := range contacts {
		if (waID != "" && c.waID == waID) || (userID != "" && c.userID == userID) {
			return c
		}
	}
	return contactInfo{}
}

// parseErrors reads an errors[] array: {code,title,message,error_data{details}}.
func parseErrors(raws []json.RawMessage) []bridge.UpstreamError {
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
