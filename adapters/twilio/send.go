package twilio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wabridge/wabridge/bridge"
)

// messageReply is the part of a Message resource we use (201 Created:
// {"sid":"SM…","status":"queued",…}).
type messageReply struct {
	Sid string `json:"sid"`
}

// Send posts m to POST {APIURL}/2010-04-01/Accounts/{acct}/Messages.json
// (form-encoded, basic auth) and returns the Message SID Twilio assigned
// (acceptance, not delivery). See BuildMessageForm for the parameters.
// Failures are *bridge.SendError: a business number not in Config.Numbers
// or a kind Twilio cannot send → ActionPermanent/ReasonInvalid; a template
// with no Content in the catalogue → ActionTemplateInvalid; Twilio's error
// JSON → Classify (429 and 5xx retried, Retry-After honoured); transport
// errors and timeouts → ActionRetry with Err set.
func (c *Client) Send(ctx context.Context, m *bridge.Message) (string, error) {
	if m == nil {
		return "", invalid("nil message")
	}
	if !c.HasNumber(m.Business) {
		return "", invalid(fmt.Sprintf("business number %q is not one of this Twilio account's numbers", m.Business))
	}
	var ref *contentRef
	if m.Kind == bridge.KindTemplate {
		if m.Content.Template == nil {
			return "", invalid("template message without a template")
		}
		r, err := c.content(ctx, m.Content.Template.Name, m.Content.Template.Language)
		if err != nil {
			return "", err
		}
		ref = &r
	}
	form, err := c.messageForm(m, ref)
	if err != nil {
		return "", err
	}
	data, err := c.call(ctx, "send", http.MethodPost, c.messagesURL(), form)
	if err != nil {
		return "", err
	}
	return sidOf(data)
}

// sidOf reads the SID of a created Message. A 2xx without one is a
// permanent upstream error: Twilio accepted something we cannot name, and
// retrying could send it twice.
func sidOf(data []byte) (string, error) {
	var r messageReply
	if err := json.Unmarshal(data, &r); err != nil || r.Sid == "" {
		return "", &bridge.SendError{
			Action: bridge.ActionPermanent,
			Reason: bridge.ReasonUpstreamError,
			Title:  "send reply without a message sid",
		}
	}
	return r.Sid, nil
}

// messageForm builds the form of a WhatsApp send:
//
//   - To "whatsapp:"+the customer's phone (E.164), or "whatsapp:"+BSUID for
//     a customer known only by one; From "whatsapp:"+m.Business, or
//     MessagingServiceSid when configured; StatusCallback with
//     CallbackIDParam=m.ID.
//   - text: Body.
//   - image, video, audio, document, sticker: MediaUrl (Media.URL, else
//     Media.ID, which after Upload holds the public URL) and Body = the
//     caption.
//   - location: Body = name and address (the coordinates when neither is
//     set) and PersistentAction "geo:lat,long|label" (twilio-python's
//     Message create, persistent_action).
//   - template: ContentSid and ContentVariables, never Body or MediaUrl:
//     since 2025-04-01 Twilio no longer matches a Body to a template and
//     fails such sends outside the window with 63016
//     (https://www.twilio.com/docs/api/errors/63016).
//   - anything else (contacts, interactive, reaction, …) is refused:
//     Twilio's Messages API sends them only as Content templates.
func (c *Client) messageForm(m *bridge.Message, ref *contentRef) (url.Values, error) {
	to := m.Customer.Phone
	if to == "" {
		to = m.Customer.BSUID
	}
	if to == "" {
		return nil, invalid("message has no customer phone or BSUID")
	}
	f := url.Values{}
	f.Set("To", whatsappPrefix+to)
	if c.service != "" {
		f.Set("MessagingServiceSid", c.service)
	} else {
		f.Set("From", whatsappPrefix+bridge.NormalizePhone(m.Business))
	}
	if cb := c.statusCallback(c.callback, m.ID); cb != "" {
		f.Set("StatusCallback", cb)
	}
	switch k := m.Kind; {
	case k == bridge.KindText:
		if m.Content.Text == "" {
			return nil, invalid("text message without text")
		}
		f.Set("Body", m.Content.Text)
	case k.IsMedia():
		md := m.Content.Media
		if md == nil {
			return nil, invalid(fmt.Sprintf("%s message without media", k))
		}
		link := md.URL
		if link == "" {
			link = md.ID
		}
		if u, err := url.Parse(link); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, invalid(fmt.Sprintf("%s message needs a public http(s) media URL (Twilio fetches media by URL; upload the file first)", k))
		}
		f.Set("MediaUrl", link)
		if md.Caption != "" {
			f.Set("Body", md.Caption)
		}
	case k == bridge.KindLocation:
		loc := m.Content.Location
		if loc == nil {
			return nil, invalid("location message without a location")
		}
		coords := strconv.FormatFloat(loc.Latitude, 'f', -1, 64) + "," + strconv.FormatFloat(loc.Longitude, 'f', -1, 64)
		var body []string
		for _, s := range []string{loc.Name, loc.Address} {
			if s = strings.TrimSpace(s); s != "" {
				body = append(body, s)
			}
		}
		if len(body) == 0 {
			body = []string{coords}
		}
		f.Set("Body", strings.Join(body, "\n"))
		label := loc.Name
		if label == "" {
			label = loc.Address
		}
		action := "geo:" + coords
		if label != "" {
			action += "|" + label
		}
		f.Set("PersistentAction", action)
	case k == bridge.KindTemplate:
		if ref == nil || m.Content.Template == nil {
			return nil, invalid("template message without a template")
		}
		f.Set("ContentSid", ref.sid)
		vars, err := ref.variables(m.Content.Template)
		if err != nil {
			return nil, err
		}
		if vars != "" {
			f.Set("ContentVariables", vars)
		}
	default:
		return nil, invalid(fmt.Sprintf("%s messages are not supported by Twilio's Messages API without a Content template", k))
	}
	return f, nil
}

// statusCallback is base with CallbackIDParam=id added ("" when base is).
func (c *Client) statusCallback(base string, id bridge.MessageID) string {
	if base == "" || id == "" {
		return base
	}
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	q.Set(CallbackIDParam, string(id))
	u.RawQuery = q.Encode()
	return u.String()
}
