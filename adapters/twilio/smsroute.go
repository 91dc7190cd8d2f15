package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// SMSRouteConfig configures Twilio SMS as a fallback route.
type SMSRouteConfig struct {
	// Name is the route's configured name.
	Name string
	// From is the sender: a Twilio phone number (E.164), short code or
	// alphanumeric sender ID. Without it, MessagingServiceSID is used.
	From string
	// MessagingServiceSID ("MG…") sends through a Messaging Service's
	// sender pool when no From applies.
	MessagingServiceSID string
	// StatusCallback is the URL Twilio posts the SMS status callbacks to
	// (the daemon passes one with ?route=<Name>); "" = none.
	StatusCallback string
	// AlphanumericSource lets an SMS whose From is an alphanumeric sender
	// (an ESME's source_addr) go out with that sender instead of From.
	AlphanumericSource bool
}

// SMSRoute sends SMS through Twilio's Messages API. It is safe for
// concurrent use.
type SMSRoute struct {
	c   *Client
	cfg SMSRouteConfig
}

// Interface guard.
var _ bridge.SMSRoute = (*SMSRoute)(nil)

// SMSRoute returns an SMS route over the client's account (the subaccount
// when one is configured).
func (c *Client) SMSRoute(cfg SMSRouteConfig) (*SMSRoute, error) {
	if strings.TrimSpace(cfg.Name) == "" {
		return nil, errors.New("twilio: SMS route needs a name")
	}
	if cfg.From == "" && cfg.MessagingServiceSID == "" {
		return nil, fmt.Errorf("twilio: SMS route %q needs a From or a messaging service SID", cfg.Name)
	}
	if cfg.MessagingServiceSID != "" && !validSID(cfg.MessagingServiceSID, "MG") {
		return nil, fmt.Errorf("twilio: SMS route %q: messaging service SID %q is not an MG… SID", cfg.Name, cfg.MessagingServiceSID)
	}
	if p := bridge.NormalizePhone(cfg.From); p != "" {
		cfg.From = p
	}
	if cfg.StatusCallback != "" {
		if u, err := url.Parse(cfg.StatusCallback); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("twilio: SMS route %q: status callback %q is not an absolute http(s) URL", cfg.Name, cfg.StatusCallback)
		}
	}
	return &SMSRoute{c: c, cfg: cfg}, nil
}

// Name is the route's configured name.
func (r *SMSRoute) Name() string { return r.cfg.Name }

// SubmitSMS posts one Message (Twilio splits the text into segments itself
// and reports one status for the whole) and returns its SID as the only
// part id: To the customer's E.164 number (no prefix), From the SMS's
// alphanumeric sender when AlphanumericSource allows it, else the route's
// From, else MessagingServiceSid; Body; StatusCallback. Failures are
// *bridge.SendError classified as in Send: 21610 (STOP) permanent
// opted_out, 21211/21614 invalid numbers and 21408 (region not enabled)
// permanent, 429, 5xx and transport errors retried.
func (r *SMSRoute) SubmitSMS(ctx context.Context, sms bridge.SMS) ([]string, error) {
	to := bridge.NormalizePhone(sms.To)
	if to == "" {
		return nil, invalid(fmt.Sprintf("SMS recipient %q is not an E.164 number", sms.To))
	}
	if sms.Text == "" {
		return nil, invalid("empty SMS")
	}
	f := url.Values{}
	f.Set("To", to)
	switch {
	case r.cfg.AlphanumericSource && isAlphanumericSender(sms.From):
		f.Set("From", sms.From)
	case r.cfg.From != "":
		f.Set("From", r.cfg.From)
	default:
		f.Set("MessagingServiceSid", r.cfg.MessagingServiceSID)
	}
	f.Set("Body", sms.Text)
	if r.cfg.StatusCallback != "" {
		f.Set("StatusCallback", r.cfg.StatusCallback)
	}
	data, err := r.c.call(ctx, "send_sms", http.MethodPost, r.c.messagesURL(), f)
	if err != nil {
		return nil, err
	}
	sid, err := sidOf(data)
	if err != nil {
		return nil, err
	}
	return []string{sid}, nil
}

// isAlphanumericSender reports whether s is an alphanumeric sender ID:
// 1–11 characters of letters, digits and spaces with at least one letter
// (Twilio's rule for alphanumeric sender IDs).
func isAlphanumericSender(s string) bool {
	if s == "" || len(s) > 11 || strings.TrimSpace(s) == "" {
		return false
	}
	letter := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9', r == ' ':
		default:
			return false
		}
	}
	return letter
}

// ErrNotSMS: the webhook is a WhatsApp one, not an SMS one (see IsSMS).
var ErrNotSMS = errors.New("twilio: webhook is not an SMS webhook")

// IsSMS reports whether Twilio's webhook parameters are an SMS (or MMS)
// message or status callback rather than a WhatsApp one: no "whatsapp:"
// address, ChannelPrefix not whatsapp and no WaId — the rule ParseWebhook
// uses for Message.Channel.
func IsSMS(params url.Values) bool {
	return form(params).channel() == bridge.ChannelSMS
}

// SMSEvents reads an SMS webhook of the route (after Validate):
//
//   - a status callback (MessageStatus or SmsStatus other than received)
//     becomes one receipt: PartID the MessageSid (the id SubmitSMS
//     returned), Stat delivered → DELIVRD, undelivered → UNDELIV, failed →
//     REJECTD, canceled → DELETED, queued, accepted and scheduled →
//     ACCEPTD, sending and sent → ENROUTE (not final), anything else
//     UNKNOWN; ErrorCode the ErrorCode parameter; At the time of reception
//     (Twilio's callbacks carry none).
//   - an inbound SMS (SmsStatus received) becomes one MO: Direction
//     inbound, Channel sms, Business To, Customer.Phone From, Kind text,
//     Content.Text Body, WAMID the MessageSid, Timestamp now.
//
// Errors: ErrNotMessage without a MessageSid, ErrNotSMS for a WhatsApp
// webhook, and an error for an MO whose sender is not a phone number.
func SMSEvents(route string, params url.Values) ([]bridge.SMSEvent, error) {
	return smsEventsAt(route, params, time.Now().UTC())
}

// smsEventsAt is SMSEvents with the time of reception given.
func smsEventsAt(route string, params url.Values, now time.Time) ([]bridge.SMSEvent, error) {
	f := form(params)
	sid := f.first("MessageSid", "SmsMessageSid", "SmsSid")
	if sid == "" {
		return nil, ErrNotMessage
	}
	if !IsSMS(params) {
		return nil, ErrNotSMS
	}
	status := strings.ToLower(f.first("MessageStatus", "SmsStatus"))
	if status == "received" || status == "" && f.looksInbound() {
		from := phone(f.get("From"))
		if from == "" {
			return nil, fmt.Errorf("twilio: inbound SMS %s from %q, not a phone number", sid, f.get("From"))
		}
		return []bridge.SMSEvent{{Route: route, MO: &bridge.Message{
			Direction: bridge.Inbound,
			Channel:   bridge.ChannelSMS,
			Business:  address(f.get("To")),
			Customer:  bridge.Customer{Phone: from},
			Kind:      bridge.KindText,
			Content:   bridge.Content{Text: f.get("Body")},
			WAMID:     sid,
			Timestamp: now,
		}}}, nil
	}
	code, _ := f.errorCode()
	return []bridge.SMSEvent{{Route: route, PartID: sid, Stat: smsStat(status), ErrorCode: code, At: now}}, nil
}

// smsStat maps Twilio's message status to an SMPP receipt word.
func smsStat(status string) string {
	switch status {
	case "delivered":
		return bridge.SMSDelivered
	case "undelivered":
		return bridge.SMSUndeliverable
	case "failed":
		return bridge.SMSRejected
	case "canceled":
		return bridge.SMSDeleted
	case "queued", "accepted", "scheduled":
		return bridge.SMSAccepted
	case "sending", "sent":
		return bridge.SMSEnroute
	}
	return bridge.SMSUnknown
}
