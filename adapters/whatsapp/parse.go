package whatsapp

import (
	"bytes"
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
	d := getDoc()
	defer d.release()
	if !d.check(body) {
		return nil, ErrInvalidJSON
	}
	var env fields
	if !env.read(d.root(), envelopeKeys) {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrInvalidJSON)
	}
	if obj := env.get("object"); !obj.strIs(webhookObject) {
		return nil, fmt.Errorf("%w: got %q", ErrWrongObject, obj.str())
	}
	var events []bridge.Event
	for entries := env.get("entry").elements(); entries.next(); {
		for changes := entries.val.member("changes").elements(); changes.next(); {
			var change fields
			if !change.read(changes.val, changeKeys) {
				continue
			}
			events = p.change(events, change.get("field").str(), change.get("value"))
		}
	}
	return events, nil
}

// Members Parse reads at each level; the rest is stepped over.
var (
	envelopeKeys = []string{"object", "entry"}
	changeKeys   = []string{"field", "value"}
	valueKeys    = []string{"metadata", "contacts", "messages", "statuses", "errors"}
	metadataKeys = []string{"phone_number_id", "display_phone_number"}
	contactKeys  = []string{"wa_id", "user_id", "profile"}
	errorKeys    = []string{"code", "title", "message", "error_data"}
)

// change appends the events of one entry[].changes[] item to events.
func (p *Parser) change(events []bridge.Event, field string, value jv) []bridge.Event {
	if field != "messages" {
		return append(events, otherEvent(field, value.member("event").str(), value))
	}
	var v fields
	if !v.read(value, valueKeys) {
		return append(events, otherEvent(field, "malformed_value", value))
	}
	var meta fields
	meta.read(v.get("metadata"), metadataKeys)
	business := p.businessOf(meta.get("phone_number_id"), meta.get("display_phone_number"))
	var buf [4]contactInfo
	contacts := parseContacts(buf[:0], v.get("contacts"))

	n := len(events)
	for it := v.get("messages").elements(); it.next(); {
		events = append(events, inboundEvent(it.val, business, contacts))
	}
	for it := v.get("statuses").elements(); it.next(); {
		events = append(events, statusEvent(it.val, business, contacts))
	}
	if errs := v.get("errors").elements(); errs.next() {
		events = append(events, otherEvent(field, "errors", value))
	}
	if len(events) == n {
		events = append(events, otherEvent(field, "unrecognized", value))
	}
	return events
}

// businessOf is businessFor of the metadata's members, without copying a
// plain phone number id to look it up.
func (p *Parser) businessOf(phoneNumberID, display jv) string {
	if id := phoneNumberID.b; len(id) > 2 && id[0] == '"' && bytes.IndexByte(id, '\\') < 0 {
		if biz, ok := p.business[string(id[1:len(id)-1])]; ok {
			return biz
		}
	}
	return p.businessFor(phoneNumberID.str(), display.str())
}

// businessFor resolves the business number a change is about.
func (p *Parser) businessFor(phoneNumberID, display string) string {
	if biz, ok := p.business[phoneNumberID]; ok && phoneNumberID != "" {
		return biz
	}
	return allDigits(display)
}

// otherEvent keeps an item wabridge does not act on, with an idempotency
// key; Raw is the compact item, JSON null when absent (RawEvent.Raw must be
// valid JSON).
func otherEvent(field, typ string, raw jv) bridge.Event {
	c := compact(raw.b)
	ev := &bridge.RawEvent{Field: field, Type: typ, Key: hashKey(field, c), Raw: c}
	if c == nil {
		ev.Raw = json.RawMessage("null")
	}
	return bridge.Event{Other: ev}
}

// contactInfo is one value.contacts[] item: who a message is from (or a
// status is about). Its members stay in the body until one is matched.
type contactInfo struct {
	waID, userID, profile jv
}

// contact is a matched contact's user_id and profile name.
type contact struct {
	userID, name string
}

// parseContacts appends the contacts of a contacts[] array to out; nil when
// there are none.
func parseContacts(out []contactInfo, raw jv) []contactInfo {
	for it := raw.elements(); it.next(); {
		var c fields
		if !c.read(it.val, contactKeys) {
			continue
		}
		out = append(out, contactInfo{waID: c.get("wa_id"), userID: c.get("user_id"), profile: c.get("profile")})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// matchContact finds the contact with wa_id == waID or user_id == userID.
func matchContact(contacts []contactInfo, waID, userID string) contact {
	for _, c := range contacts {
		if (waID != "" && c.waID.strIs(waID)) || (userID != "" && c.userID.strIs(userID)) {
			return contact{userID: c.userID.str(), name: c.profile.member("name").str()}
		}
	}
	return contact{}
}

// parseErrors reads an errors[] array: {code,title,message,error_data{details}};
// nil when it holds no object.
func parseErrors(raw jv) []bridge.UpstreamError {
	var out []bridge.UpstreamError
	for it := raw.elements(); it.next(); {
		var e fields
		if !e.read(it.val, errorKeys) {
			continue
		}
		out = append(out, bridge.UpstreamError{
			Code:    e.get("code").integer(),
			Title:   e.get("title").str(),
			Message: e.get("message").str(),
			Details: e.get("error_data").member("details").str(),
		})
	}
	return out
}
