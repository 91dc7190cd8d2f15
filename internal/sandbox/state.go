package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"
)

// record is one message the sandbox knows: an accepted send (outbound) or an
// injected customer message (inbound). Fields are guarded by Server.mu; the
// JSON form is what GET /sandbox/v1/messages returns.
type record struct {
	Wamid         string          `json:"wamid"`
	Direction     string          `json:"direction"` // "outbound" or "inbound"
	PhoneNumberID string          `json:"phone_number_id"`
	From          string          `json:"from"` // +E.164
	To            string          `json:"to"`   // +E.164
	Type          string          `json:"type"`
	Text          string          `json:"text"` // text body, rendered template body, caption, interactive body, button/reply title, emoji
	Template      *templateInfo   `json:"template"`
	Media         *mediaInfo      `json:"media,omitempty"`              // image, video, audio, document, sticker
	Location      *locationInfo   `json:"location,omitempty"`           // location
	Contacts      json.RawMessage `json:"contacts,omitempty"`           // contacts: the array as sent / injected
	Interactive   json.RawMessage `json:"interactive,omitempty"`        // interactive: the object as sent / the reply as injected
	Button        *buttonInfo     `json:"button,omitempty"`             // inbound template quick-reply button
	Reaction      *reactionInfo   `json:"reaction,omitempty"`           // reaction
	System        json.RawMessage `json:"system,omitempty"`             // inbound system message object
	ContextID     string          `json:"context_message_id,omitempty"` // the wamid replied to (context.message_id / context.id)
	CallbackData  string          `json:"callback_data"`
	ProfileName   string          `json:"profile_name,omitempty"` // inbound only
	Status        string          `json:"status"`                 // accepted|sent|delivered|read|failed (outbound), received (inbound)
	ErrorCode     int             `json:"error_code"`
	ReadMarked    bool            `json:"read_marked"` // inbound: the business marked it read
	ReceivedAt    time.Time       `json:"received_at"`
	Request       json.RawMessage `json:"request"` // the raw JSON the client sent

	customer string // customer digits
}

// mediaInfo describes the media of a send or an inbound message. For a send
// by link only Link (and Filename) are known; for a media id the stored
// object fills in the rest.
type mediaInfo struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	Size     int64  `json:"size,omitempty"`
	SHA256   string `json:"sha256,omitempty"` // hex
	Filename string `json:"filename,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Voice    bool   `json:"voice,omitempty"`    // inbound audio
	Animated bool   `json:"animated,omitempty"` // inbound sticker
}

type locationInfo struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
	URL       string  `json:"url,omitempty"`
}

type reactionInfo struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"` // "" = reaction removed
}

type buttonInfo struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// templateInfo summarises a template send for the control API.
type templateInfo struct {
	Name     string   `json:"name"`
	Language string   `json:"language"`
	Params   []string `json:"params"`
}

// counters are the numbers GET /sandbox/v1/stats reports.
type counters struct {
	Sends             int `json:"sends"`               // accepted message sends (not mark-read)
	RejectedSends     int `json:"rejected_sends"`      // sends answered with a Graph error
	TemplateListCalls int `json:"template_list_calls"` // GET message_templates calls that passed auth
	WebhooksSent      int `json:"webhooks_sent"`       // delivery attempts (HTTP POSTs), retries included
	WebhooksDelivered int `json:"webhooks_delivered"`  // webhooks acknowledged with 2xx
	WebhooksPending   int `json:"webhooks_pending"`    // produced, not yet delivered nor given up
	WebhookFailures   int `json:"webhook_failures"`    // attempts that got no 2xx
	WebhooksEnqueued  int `json:"webhooks_enqueued"`   // webhooks produced
	WebhooksDropped   int `json:"webhooks_dropped"`    // given up after WebhookRetryFor
	MarkRead          int `json:"mark_read"`           // successful mark-as-read calls
	Inbound           int `json:"inbound"`             // injected customer messages
	MediaUploads      int `json:"media_uploads"`       // successful Graph uploads (POST /{phone_number_id}/media)
	MediaDownloads    int `json:"media_downloads"`     // media download URLs answered with the bytes
	// TemplateCreateCalls counts POST /{waba_id}/message_templates calls that
	// passed auth, whether the template was accepted or refused.
	TemplateCreateCalls int `json:"template_create_calls"`
	// PhoneNumberCalls counts GET /{phone_number_id} calls that passed auth
	// (the phone number node: quality rating, messaging limit, throughput).
	PhoneNumberCalls int `json:"phone_number_calls"`
	// InjectedErrors counts sends answered with the error_rate error (also
	// counted in rejected_sends).
	InjectedErrors int `json:"injected_errors"`
}

// newWamid returns a message id shaped like Meta's: "wamid." + base64 of a
// small binary record holding the customer number and random hex.
func newWamid(customer string) string {
	const hex = "0123456789ABCDEF"
	r := make([]byte, 18)
	_, _ = rand.Read(r)
	b := []byte{0x1c, 0x18, byte(len(customer))}
	b = append(b, customer...)
	b = append(b, 0x15, 0x02, 0x00, 0x11, 0x18, 0x12)
	for _, c := range r {
		b = append(b, hex[c&0x0f])
	}
	b = append(b, 0x00)
	return "wamid." + base64.StdEncoding.EncodeToString(b)
}

// newTraceID returns an fbtrace_id-like token.
func newTraceID() string {
	r := make([]byte, 16)
	_, _ = rand.Read(r)
	return "A" + base64.RawURLEncoding.EncodeToString(r)[:22]
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
