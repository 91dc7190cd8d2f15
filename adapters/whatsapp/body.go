package whatsapp

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/wabridge/wabridge/bridge"
)

// outgoing is the JSON body of POST /{phone-number-id}/messages
// (FACTS.md b1). Exactly one of the per-kind members is set, named after Type.
// Field order is the serialisation order, which the golden tests pin.
type outgoing struct {
	MessagingProduct string       `json:"messaging_product"`
	RecipientType    string       `json:"recipient_type"`
	To               string       `json:"to,omitempty"`
	Recipient        string       `json:"recipient,omitempty"` // BSUID, when no phone is known
	Type             string       `json:"type"`
	Context          *replyTo     `json:"context,omitempty"`
	CallbackData     string       `json:"biz_opaque_callback_data,omitempty"`
	Text             *textBody    `json:"text,omitempty"`
	Template         *templateMsg `json:"template,omitempty"`
	Image            *mediaObject `json:"image,omitempty"`
	Video            *mediaObject `json:"video,omitempty"`
	Audio            *mediaObject `json:"audio,omitempty"`
	Document         *mediaObject `json:"document,omitempty"`
	Sticker          *mediaObject `json:"sticker,omitempty"`
	Location         *locationObj `json:"location,omitempty"`
	// Contacts and Interactive are passed through as the submitter wrote
	// them (Meta's own shapes), after a shape check.
	Contacts    json.RawMessage `json:"contacts,omitempty"`
	Interactive json.RawMessage `json:"interactive,omitempty"`
	Reaction    *reactionObj    `json:"reaction,omitempty"`
}

// replyTo makes a message a reply: {"message_id":"wamid…"}.
type replyTo struct {
	MessageID string `json:"message_id"`
}

// textBody is {"body":…, "preview_url":…}.
type textBody struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

// kindBuilder fills the per-kind member of o from c. To support a new kind,
// add a member to outgoing and a builder to builders.
type kindBuilder func(o *outgoing, c *bridge.Content) error

// builders maps each sendable kind to its builder.
var builders = map[bridge.Kind]kindBuilder{
	bridge.KindText:        buildText,
	bridge.KindTemplate:    buildTemplate,
	bridge.KindImage:       buildMedia(bridge.KindImage),
	bridge.KindVideo:       buildMedia(bridge.KindVideo),
	bridge.KindAudio:       buildMedia(bridge.KindAudio),
	bridge.KindDocument:    buildMedia(bridge.KindDocument),
	bridge.KindSticker:     buildMedia(bridge.KindSticker),
	bridge.KindLocation:    buildLocation,
	bridge.KindContacts:    buildContacts,
	bridge.KindInteractive: buildInteractive,
	bridge.KindReaction:    buildReaction,
}

// BuildMessageBody returns the JSON body that sends m (text, template,
// image, video, audio, document, sticker, location, contacts, interactive
// or reaction; see body_kinds.go for each shape): the recipient is
// m.Customer.Phone ("to") or, when no phone is known, m.Customer.BSUID
// ("recipient"); m.ID travels as biz_opaque_callback_data so status webhooks
// can be matched to it; m.Content.Context.WAMID makes the message a reply.
// It is pure. Errors are *bridge.SendError with ActionPermanent and
// ReasonInvalid (unsupported kind, missing recipient or content, media with
// neither an uploaded id nor a link).
func BuildMessageBody(m *bridge.Message) ([]byte, error) {
	if m == nil {
		return nil, invalid("nil message")
	}
	build, ok := builders[m.Kind]
	if !ok {
		return nil, invalid(fmt.Sprintf("unsupported kind %q", m.Kind))
	}
	o := outgoing{
		MessagingProduct: "whatsapp",
		RecipientType:    "individual",
		Type:             string(m.Kind),
		CallbackData:     string(m.ID),
	}
	switch {
	case m.Customer.Phone != "":
		o.To = m.Customer.Phone
	case m.Customer.BSUID != "":
		o.Recipient = m.Customer.BSUID
	default:
		return nil, invalid("no recipient: customer has neither phone nor BSUID")
	}
	if ctx := m.Content.Context; ctx != nil && ctx.WAMID != "" {
		o.Context = &replyTo{MessageID: ctx.WAMID}
	}
	if err := build(&o, &m.Content); err != nil {
		return nil, err
	}
	return marshal(o)
}

// marshal is json.Marshal without HTML escaping ("&" stays "&"), which keeps
// bodies readable in logs and tests; both forms are the same JSON to Meta.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func buildText(o *outgoing, c *bridge.Content) error {
	if c.Text == "" {
		return invalid("empty text body")
	}
	o.Text = &textBody{Body: c.Text, PreviewURL: c.PreviewURL}
	return nil
}

// invalid is a refusal of a malformed message: never retried.
func invalid(title string) *bridge.SendError {
	return &bridge.SendError{Action: bridge.ActionPermanent, Reason: bridge.ReasonInvalid, Title: title}
}
