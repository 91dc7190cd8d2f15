package twilio

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// ErrNotMessage: the parameters are not one of Twilio's Messaging webhooks
// (no MessageSid, SmsMessageSid or SmsSid).
var ErrNotMessage = errors.New("twilio: webhook has no MessageSid")

// eventField is the RawEvent.Field of Other events from Twilio webhooks.
const eventField = "twilio"

// whatsappPrefix is how Twilio writes WhatsApp addresses ("whatsapp:+1415…").
const whatsappPrefix = "whatsapp:"

// maxMedia bounds NumMedia (Twilio allows 10 media per message).
const maxMedia = 10

// ParseWebhook reads one of Twilio's form-encoded Messaging webhooks (after
// Validate) and returns its events:
//
//   - An inbound message (SmsStatus or MessageStatus "received", or no
//     status but a Body, NumMedia, location or button) becomes one Inbound
//     event — one per media item when NumMedia > 1, see inboundEvents.
//   - A status callback (any other MessageStatus or SmsStatus word) becomes
//     one Status event, see statusEvent.
//   - Anything else with a MessageSid becomes an Other event (Field
//     "twilio", Type "unrecognized"); an inbound message without any sender
//     becomes one with Type "malformed_message".
//
// Every event keeps all the parameters as JSON (Content.Raw, Raw). Twilio's
// webhooks carry no time, so Timestamp is the time of parsing. ParseWebhook
// fails only with ErrNotMessage.
func ParseWebhook(params url.Values) ([]bridge.Event, error) {
	return parseAt(params, time.Now().UTC())
}

// parseAt is ParseWebhook with the time of reception given.
func parseAt(params url.Values, now time.Time) ([]bridge.Event, error) {
	f := form(params)
	sid := f.first("MessageSid", "SmsMessageSid", "SmsSid")
	if sid == "" {
		return nil, ErrNotMessage
	}
	raw := rawJSON(params)
	status := f.first("MessageStatus", "SmsStatus")
	switch {
	case status == "received" || status == "" && f.looksInbound():
		return inboundEvents(f, sid, raw, now), nil
	case status != "":
		return []bridge.Event{statusEvent(f, sid, status, raw, now)}, nil
	}
	return []bridge.Event{otherEvent("unrecognized", raw)}, nil
}

// inboundEvents turns an inbound message into Inbound events.
//
// Sender: From without "whatsapp:" is the customer — a phone ("+E164", or
// WaId's digits when From is not one) or, when Twilio has no phone (a user
// with a username), a BSUID ("US.1349…"); ExternalUserId (Twilio's
// "whatsapp:<BSUID>") sets the BSUID beside the phone. To is the business
// number, ProfileName the profile name, MessageSid the WAMID. Channel is
// whatsapp for "whatsapp:" addresses (or a WaId), sms otherwise.
//
// Content, by what the message carries: ButtonPayload/ButtonText → KindButton
// (Content.Button); Latitude and Longitude → KindLocation (Label is the
// name, Address the address); NumMedia > 0 → media, the kind from
// MediaContentType{N} (image/*, video/*, audio/*, anything else a
// document; MessageType "sticker" a sticker), Media.URL and Media.ID the
// MediaUrl{N} (Twilio has no other handle a download could use), the Body
// the first item's caption; a Body alone → KindText; nothing of these →
// KindUnknown. OriginalRepliedMessageSid (and OriginalRepliedMessageSender),
// Forwarded and FrequentlyForwarded make Content.Context; Referral*
// parameters (a click-to-WhatsApp ad) are kept in Content.Referral.
//
// WhatsApp sends one media item per message; a message with several (MMS)
// becomes one event per item, the first with WAMID MessageSid, item n with
// MessageSid + "/" + n, so that each is stored once.
func inboundEvents(f form, sid string, raw json.RawMessage, now time.Time) []bridge.Event {
	customer := f.customer("From")
	if customer.IsZero() {
		return []bridge.Event{otherEvent("malformed_message", raw)}
	}
	msg := bridge.Message{
		Direction:   bridge.Inbound,
		Business:    address(strip(f.get("To"))),
		Customer:    customer,
		WAMID:       sid,
		Channel:     f.channel(),
		Status:      bridge.StatusReceived,
		ProfileName: f.get("ProfileName"),
		Timestamp:   now,
	}
	msg.Content.Raw = raw
	msg.Content.Context = f.context()
	msg.Content.Referral = f.referral()

	body := f.get("Body")
	switch {
	case f.has("ButtonPayload") || f.has("ButtonText"):
		text := f.get("ButtonText")
		if text == "" {
			text = body
		}
		msg.Kind = bridge.KindButton
		msg.Content.Button = &bridge.ButtonReply{Text: text, Payload: f.get("ButtonPayload")}
	case f.location() != nil:
		msg.Kind = bridge.KindLocation
		msg.Content.Location = f.location()
	case f.numMedia() > 0:
		return mediaEvents(f, msg, body)
	case body != "":
		msg.Kind = bridge.KindText
		msg.Content.Text = body
	default:
		msg.Kind = bridge.KindUnknown
	}
	return []bridge.Event{{Inbound: &msg}}
}

// mediaEvents makes one Inbound event per media item of msg.
func mediaEvents(f form, msg bridge.Message, body string) []bridge.Event {
	var events []bridge.Event
	for i := range f.numMedia() {
		n := strconv.Itoa(i)
		link := f.get("MediaUrl" + n)
		if link == "" {
			continue
		}
		mime := f.get("MediaContentType" + n)
		m := msg
		m.Content.Context = cloneContext(msg.Content.Context)
		m.Kind = mediaKind(mime, f.get("MessageType"))
		m.Content.Media = &bridge.Media{ID: link, URL: link, MIMEType: mime}
		if len(events) == 0 {
			m.Content.Media.Caption = body
		} else {
			m.WAMID = msg.WAMID + "/" + strconv.Itoa(len(events))
		}
		events = append(events, bridge.Event{Inbound: &m})
	}
	if len(events) == 0 {
		// NumMedia without any MediaUrl: keep what there is.
		msg.Kind = bridge.KindUnknown
		if body != "" {
			msg.Kind, msg.Content.Text = bridge.KindText, body
		}
		events = append(events, bridge.Event{Inbound: &msg})
	}
	return events
}

// mediaKind is the bridge kind of a media item by its content type.
func mediaKind(mime, messageType string) bridge.Kind {
	if strings.EqualFold(messageType, "sticker") {
		return bridge.KindSticker
	}
	typ, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mime)), "/")
	switch typ {
	case "image":
		return bridge.KindImage
	case "video":
		return bridge.KindVideo
	case "audio":
		return bridge.KindAudio
	}
	return bridge.KindDocument
}

// statusEvent turns a status callback into a Status event: WAMID the
// MessageSid, RawStatus Twilio's word and Status its bridge.ParseStatus
// mapping (queued and accepted → queued; sent; delivered; read;
// failed and undelivered → failed; sending, scheduled, canceled,
// partially_delivered and unknown words → "", stored but never moving a
// message). Recipient is To (phone or BSUID, as for an inbound sender),
// Business From. ErrorCode and ErrorMessage make Errors; a failed status with
// an error code gets Action and Reason from Classify.
func statusEvent(f form, sid, status string, raw json.RawMessage, now time.Time) bridge.Event {
	su := &bridge.StatusUpdate{
		WAMID:     sid,
		RawStatus: status,
		Timestamp: now,
		Business:  address(strip(f.get("From"))),
		Recipient: f.customer("To"),
		Raw:       raw,
	}
	su.Status, _ = bridge.ParseStatus(status)
	code, hasCode := f.errorCode()
	if hasCode || f.get("ErrorMessage") != "" {
		su.Errors = []bridge.UpstreamError{{Code: code, Message: f.get("ErrorMessage")}}
	}
	if su.Status == bridge.StatusFailed && hasCode {
		su.Action, su.Reason = Classify(code)
	}
	return bridge.Event{Status: su}
}

// otherEvent keeps a webhook wabridge does not act on, with an idempotency
// key over its parameters.
func otherEvent(typ string, raw json.RawMessage) bridge.Event {
	sum := sha256.Sum256(raw)
	return bridge.Event{Other: &bridge.RawEvent{
		Field: eventField,
		Type:  typ,
		Key:   eventField + ":" + hex.EncodeToString(sum[:]),
		Raw:   raw,
	}}
}

// rawJSON is the parameters as a JSON object: a name's value as a string,
// or an array of strings when the name was sent more than once. Keys are
// sorted (encoding/json), so equal parameters give equal bytes.
func rawJSON(params url.Values) json.RawMessage {
	obj := make(map[string]any, len(params))
	for name, values := range params {
		switch len(values) {
		case 0:
		case 1:
			obj[name] = values[0]
		default:
			obj[name] = values
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// form reads webhook parameters.
type form url.Values

// get is the first value of name, trimmed.
func (f form) get(name string) string {
	if v := f[name]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// has reports whether name was sent with a non-empty value.
func (f form) has(name string) bool { return f.get(name) != "" }

// first is the value of the first of names that has one.
func (f form) first(names ...string) string {
	for _, n := range names {
		if v := f.get(n); v != "" {
			return v
		}
	}
	return ""
}

// looksInbound reports whether a webhook without status carries a message.
func (f form) looksInbound() bool {
	for _, n := range []string{"Body", "NumMedia", "Latitude", "ButtonPayload", "ButtonText"} {
		if _, ok := f[n]; ok {
			return true
		}
	}
	return false
}

// channel is whatsapp for WhatsApp webhooks, sms otherwise.
func (f form) channel() bridge.Channel {
	if hasWhatsAppPrefix(f.get("From")) || hasWhatsAppPrefix(f.get("To")) ||
		strings.EqualFold(f.get("ChannelPrefix"), "whatsapp") || f.has("WaId") {
		return bridge.ChannelWhatsApp
	}
	return bridge.ChannelSMS
}

// customer is the person behind the address parameter name (From of an
// inbound message, To of a status callback). Twilio's rule for BSUIDs: with
// a phone number, From/To hold the phone and ExternalUserId the BSUID;
// without one, From/To and ExternalUserId all hold the BSUID.
func (f form) customer(name string) bridge.Customer {
	var c bridge.Customer
	addr := strip(f.get(name))
	if bridge.IsBSUID(addr) {
		c.BSUID = addr
	} else {
		c.Phone = phone(addr)
	}
	if ext := strip(f.get("ExternalUserId")); c.BSUID == "" && bridge.IsBSUID(ext) {
		c.BSUID = ext
	}
	if waID := f.get("WaId"); name == "From" && waID != "" {
		if c.Phone == "" && !bridge.IsBSUID(waID) {
			c.Phone = phone(waID)
		}
		if c.BSUID == "" && bridge.IsBSUID(waID) {
			c.BSUID = waID
		}
	}
	return c
}

// context is the message's reply context and forwarding flags, or nil.
func (f form) context() *bridge.Context {
	ctx := &bridge.Context{
		WAMID:               f.get("OriginalRepliedMessageSid"),
		From:                address(strip(f.get("OriginalRepliedMessageSender"))),
		Forwarded:           f.boolean("Forwarded"),
		FrequentlyForwarded: f.boolean("FrequentlyForwarded"),
	}
	if *ctx == (bridge.Context{}) {
		return nil
	}
	return ctx
}

// referralKeys are the click-to-WhatsApp ad parameters that mean a referral.
var referralKeys = []string{"ReferralSourceId", "ReferralSourceUrl", "ReferralSourceType",
	"ReferralBody", "ReferralHeadline", "ReferralCtwaClid", "ReferralMediaUrl", "ReferralMediaId"}

// referral is the Referral* parameters as a JSON object (Twilio's names),
// or nil when the message did not come from an ad.
func (f form) referral() json.RawMessage {
	found := false
	for _, k := range referralKeys {
		if f.has(k) {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	obj := map[string]string{}
	for name := range f {
		if strings.HasPrefix(name, "Referral") {
			obj[name] = f.get(name)
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil
	}
	return b
}

// location is the shared location, or nil without valid coordinates.
func (f form) location() *bridge.Location {
	lat, err1 := strconv.ParseFloat(f.get("Latitude"), 64)
	lon, err2 := strconv.ParseFloat(f.get("Longitude"), 64)
	if err1 != nil || err2 != nil || math.IsNaN(lat) || math.IsNaN(lon) ||
		math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		return nil
	}
	return &bridge.Location{Latitude: lat, Longitude: lon, Name: f.get("Label"), Address: f.get("Address")}
}

// numMedia is NumMedia, bounded to 0…maxMedia.
func (f form) numMedia() int {
	n, err := strconv.Atoi(f.get("NumMedia"))
	if err != nil || n < 0 {
		return 0
	}
	return min(n, maxMedia)
}

// errorCode is ErrorCode; ok is false when absent, not a number or 0.
func (f form) errorCode() (int, bool) {
	code, err := strconv.Atoi(f.get("ErrorCode"))
	if err != nil || code == 0 {
		return 0, false
	}
	return code, true
}

// boolean reads Twilio's "true"/"false".
func (f form) boolean(name string) bool {
	v, err := strconv.ParseBool(f.get(name))
	return err == nil && v
}

// hasWhatsAppPrefix reports whether a is a "whatsapp:" address.
func hasWhatsAppPrefix(a string) bool {
	return len(a) >= len(whatsappPrefix) && strings.EqualFold(a[:len(whatsappPrefix)], whatsappPrefix)
}

// strip removes the "whatsapp:" prefix of an address.
func strip(a string) string {
	if hasWhatsAppPrefix(a) {
		return strings.TrimSpace(a[len(whatsappPrefix):])
	}
	return a
}

// phone is "+" and the digits of a phone number written "+CC…" or "CC…",
// or "" when a is not one.
func phone(a string) string {
	digits := strings.TrimPrefix(a, "+")
	if digits != "" && len(digits) <= 15 && strings.Trim(digits, "0123456789") == "" {
		return "+" + digits
	}
	return bridge.NormalizePhone(a)
}

// address is a business or context address: a phone in "+E164" form when
// it is one, else as given (a short code, an alphanumeric sender, a BSUID).
func address(a string) string {
	if p := phone(a); p != "" {
		return p
	}
	return a
}

// cloneContext copies a context so split media events do not share it.
func cloneContext(c *bridge.Context) *bridge.Context {
	if c == nil {
		return nil
	}
	cp := *c
	return &cp
}
