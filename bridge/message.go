// Package bridge is wabridge's core: the message model shared by every edge,
// the outbound pipeline (policy → send → outcome), the 24-hour customer-service
// window, the monotonic status machine and the interfaces the adapters and the
// store implement. It imports no adapter.
package bridge

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"
)

// MessageID is wabridge's own identifier of a message, unique across directions.
type MessageID string

// Direction tells whether a message goes to a customer or comes from one.
type Direction string

// Directions.
const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// Channel names the network a message travelled on.
type Channel string

// Channels.
const (
	ChannelWhatsApp Channel = "whatsapp"
	ChannelSMS      Channel = "sms"
)

// Kind is the type of a message's content, named as the Cloud API names it.
type Kind string

// Kinds of content. KindUnknown holds a type we do not model; its raw JSON is kept.
const (
	KindText        Kind = "text"
	KindImage       Kind = "image"
	KindVideo       Kind = "video"
	KindAudio       Kind = "audio"
	KindDocument    Kind = "document"
	KindSticker     Kind = "sticker"
	KindLocation    Kind = "location"
	KindContacts    Kind = "contacts"
	KindTemplate    Kind = "template"
	KindInteractive Kind = "interactive"
	KindButton      Kind = "button"
	KindReaction    Kind = "reaction"
	KindSystem      Kind = "system"
	KindUnsupported Kind = "unsupported"
	KindUnknown     Kind = "unknown"
)

// IsMedia reports whether k carries a media object.
func (k Kind) IsMedia() bool {
	switch k {
	case KindImage, KindVideo, KindAudio, KindDocument, KindSticker:
		return true
	}
	return false
}

// Customer identifies the person on the other side: a phone number in E.164
// form ("+4915112345678"), or a business-scoped user id (BSUID, "US.1349…")
// when Meta does not share the phone. At least one is set.
type Customer struct {
	Phone string `json:"phone,omitempty"`
	BSUID string `json:"bsuid,omitempty"`
}

// Key is the stable identity used for windows and records: the phone when
// known, else the BSUID.
func (c Customer) Key() string {
	if c.Phone != "" {
		return c.Phone
	}
	return c.BSUID
}

// IsZero reports whether neither phone nor BSUID is known.
func (c Customer) IsZero() bool { return c.Phone == "" && c.BSUID == "" }

// Message is one message in either direction. Content fields are set
// according to Kind; exactly one of them carries the body (Text for text).
type Message struct {
	ID        MessageID `json:"id"`
	Direction Direction `json:"direction"`
	// Business is the business number in E.164 form.
	Business string   `json:"business"`
	Customer Customer `json:"customer"`
	Kind     Kind     `json:"kind"`
	Content  Content  `json:"content"`

	// WAMID is the provider's message id once known.
	WAMID   string  `json:"wamid,omitempty"`
	Channel Channel `json:"channel"`
	Status  Status  `json:"status"`
	// Reason and ErrorCode describe a failure: Reason from the fixed
	// vocabulary, ErrorCode the upstream's numeric code (0 when none).
	Reason       Reason `json:"reason,omitempty"`
	ErrorCode    int    `json:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`

	// Origin names the edge and account that submitted an outbound message
	// ("api", later "smpp:<system_id>", "smtp:<user>"); status reports go there only.
	Origin         string `json:"origin,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// OriginData is what the origin edge keeps with the message (SMPP:
	// addresses and registered_delivery); opaque to the core.
	OriginData json.RawMessage `json:"origin_data,omitempty"`
	// SendRecord is how an outbound message was sent, or why not (set
	// when the outbox decides).
	SendRecord *SendRecord `json:"send,omitempty"`
	// Fallback is the trigger that moved an outbound message from
	// WhatsApp to SMS ("" while on WhatsApp); Channel is then sms.
	Fallback Trigger `json:"fallback,omitempty"`
	// NotBefore defers the first send attempt (SMPP schedule_delivery_time).
	NotBefore time.Time `json:"not_before,omitzero"`
	// ExpiresAt fails the message with reason expired if it is not
	// delivered by then (SMPP validity_period).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// ProfileName is the customer's WhatsApp profile name (inbound).
	ProfileName string `json:"profile_name,omitempty"`

	// Timestamp is the provider's time for inbound messages.
	Timestamp time.Time      `json:"timestamp"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	History   []HistoryEntry `json:"history,omitempty"`
}

// HistoryEntry is one status a message reached, in the order received.
type HistoryEntry struct {
	Status Status    `json:"status"`
	At     time.Time `json:"at"`
	// Code is the upstream error code for failures.
	Code int `json:"code,omitempty"`
}

// Content is the body of a message. Only the members matching the Kind are set.
type Content struct {
	Text       string    `json:"text,omitempty"`
	PreviewURL bool      `json:"preview_url,omitempty"`
	Media      *Media    `json:"media,omitempty"`
	Location   *Location `json:"location,omitempty"`
	// Contacts are contact cards in Meta's shape (the same for sending and
	// receiving): [{"name":{…},"phones":[…],"emails":[…],…}].
	Contacts json.RawMessage `json:"contacts,omitempty"`
	Template *Template       `json:"template,omitempty"`
	// Interactive is an interactive message to send, in Meta's shape
	// (button, list, cta_url); for inbound answers see Reply.
	Interactive json.RawMessage `json:"interactive,omitempty"`
	// Reply is a customer's answer to an interactive message.
	Reply    *InteractiveReply `json:"reply,omitempty"`
	Button   *ButtonReply      `json:"button,omitempty"`
	Reaction *Reaction         `json:"reaction,omitempty"`
	System   *System           `json:"system,omitempty"`
	// Context makes the message a reply to another one.
	Context *Context `json:"context,omitempty"`
	// Referral is the ad a customer clicked (inbound), kept as sent.
	Referral json.RawMessage `json:"referral,omitempty"`
	// Errors are the provider's errors attached to an inbound message (unsupported types).
	Errors []UpstreamError `json:"errors,omitempty"`
	// Raw is the provider's JSON for types and fields wabridge does not model.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Media is an image, video, audio, document or sticker.
type Media struct {
	ID       string `json:"id,omitempty"`
	URL      string `json:"url,omitempty"`
	MIMEType string `json:"mime_type,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	Voice    bool   `json:"voice,omitempty"`
	Animated bool   `json:"animated,omitempty"`
	Size     int64  `json:"size,omitempty"`
	// FileID is wabridge's stored copy (FileStore): the downloaded file of
	// an inbound message, or the file a business uploaded to send.
	FileID string `json:"file_id,omitempty"`
	// FetchError is set when an inbound file could not be downloaded for good.
	FetchError string `json:"fetch_error,omitempty"`
}

// InteractiveReply is a customer's answer to an interactive message: a
// reply button (button_reply), a list row (list_reply) or a flow (nfm_reply).
type InteractiveReply struct {
	Type        string `json:"type"`
	ID          string `json:"id,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Body is a flow's response JSON (nfm_reply), kept as sent.
	Body string `json:"body,omitempty"`
}

// Location is a geographic point with an optional name and address.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
	URL       string  `json:"url,omitempty"`
}

// Template is an approved template to send, with its parameters.
type Template struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	// Params are positional body parameters ({{1}}, {{2}}, …) in order.
	Params []string `json:"params,omitempty"`
	// NamedParams are named body parameters ({{first_name}}).
	NamedParams map[string]string `json:"named_params,omitempty"`
	// HeaderMedia is an image, video or document header.
	HeaderMedia *TemplateMedia `json:"header_media,omitempty"`
	// HeaderText is the single text header parameter, if any.
	HeaderText string           `json:"header_text,omitempty"`
	Buttons    []TemplateButton `json:"buttons,omitempty"`
}

// TemplateMedia is a template header's media, by id or link.
type TemplateMedia struct {
	Type     string `json:"type"` // image, video, document
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// TemplateButton is one button parameter of a template.
type TemplateButton struct {
	// SubType is quick_reply, url or copy_code.
	SubType string `json:"sub_type"`
	Index   int    `json:"index"`
	// Payload is the quick reply payload, the URL suffix or the coupon code.
	Payload string `json:"payload"`
}

// ButtonReply is a customer's tap on a template quick-reply button.
type ButtonReply struct {
	Text    string `json:"text"`
	Payload string `json:"payload,omitempty"`
}

// Reaction is an emoji on another message; an empty Emoji removes it.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji,omitempty"`
}

// System is a system notice such as a customer changing number.
type System struct {
	Type   string `json:"type"`
	Body   string `json:"body,omitempty"`
	WaID   string `json:"wa_id,omitempty"`
	UserID string `json:"user_id,omitempty"`
}

// Context points at the message this one replies to.
type Context struct {
	// WAMID is the provider id of the message replied to.
	WAMID string `json:"wamid,omitempty"`
	// From is the sender of the message replied to (inbound).
	From string `json:"from,omitempty"`
	// Forwarded and FrequentlyForwarded are set on forwarded inbound messages.
	Forwarded           bool `json:"forwarded,omitempty"`
	FrequentlyForwarded bool `json:"frequently_forwarded,omitempty"`
}

// UpstreamError is an error object as the provider reported it.
type UpstreamError struct {
	Code    int    `json:"code"`
	Title   string `json:"title,omitempty"`
	Message string `json:"message,omitempty"`
	Details string `json:"details,omitempty"`
}

var bsuidPattern = regexp.MustCompile(`^[A-Z]{2}(\.[A-Za-z0-9]{1,128})+$`)

// IsBSUID reports whether s has the form of a business-scoped user id: a
// two-letter country code, then one or more dot-separated alphanumeric
// parts ("US.13491208655302741918", parent ids "US.ENT.…").
func IsBSUID(s string) bool { return len(s) <= 160 && bsuidPattern.MatchString(s) }

// NormalizePhone returns "+" followed by the digits of s when s looks like a
// phone number written with optional '+', spaces, dashes, dots or brackets.
// It returns "" when s has other characters or a digit count outside E.164's
// 8–15 (inclusive of country code).
func NormalizePhone(s string) string {
	var b strings.Builder
	b.WriteByte('+')
	n := 0
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			n++
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return ""
		}
	}
	if n < 8 || n > 15 {
		return ""
	}
	out := b.String()
	if out[1] == '0' {
		return ""
	}
	return out
}
