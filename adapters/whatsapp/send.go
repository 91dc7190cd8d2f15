package whatsapp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/wabridge/wabridge/bridge"
)

// Send posts m to POST {GraphURL}/{version}/{phone_number_id}/messages and
// returns the wamid Meta assigned (acceptance, not delivery). The phone
// number id is looked up from m.Business. Failures are *bridge.SendError:
// unknown business or malformed message → ActionPermanent/ReasonInvalid;
// Meta's error JSON → ClassifyHTTP; transport errors, timeouts and 5xx
// without an error body → ActionRetry. A Retry-After header sets RetryAfter.
func (c *Client) Send(ctx context.Context, m *bridge.Message) (string, error) {
	if m == nil {
		return "", invalid("nil message")
	}
	phoneID, ok := c.PhoneNumberID(m.Business)
	if !ok {
		return "", invalid(fmt.Sprintf("unknown business number %q", m.Business))
	}
	body, err := BuildMessageBody(m)
	if err != nil {
		return "", err
	}
	data, err := c.call(ctx, "send", http.MethodPost, c.messagesURL(phoneID), body)
	if err != nil {
		return "", err
	}
	wamid := sendReplyID(data)
	if wamid == "" {
		// Meta accepted the request but we cannot tell which message it
		// made; retrying could send it twice, so do not.
		return "", &bridge.SendError{
			Action: bridge.ActionPermanent,
			Reason: bridge.ReasonUpstreamError,
			Title:  "send reply without a message id",
		}
	}
	return wamid, nil
}

// sendReplyID reads the wamid of a send's reply
// ({"messaging_product": "whatsapp", "contacts": [...], "messages": [{"id": "wamid..."}]}):
// the id of the first element of "messages", "" when the reply is not JSON
// or has none. Keys match exactly, the last of duplicates wins and a member of another
// shape reads as absent, as with encoding/json into maps of raw members
// (FuzzSendReplyID holds it to that) — in one pass and without reflection.
func sendReplyID(data []byte) string {
	d := getDoc()
	defer d.release()
	if !d.check(data) {
		return ""
	}
	root := d.root()
	if !root.isObject() {
		return ""
	}
	it := root.member("messages").elements()
	if !it.next() || !it.val.isObject() {
		return ""
	}
	id := it.val.member("id")
	if len(id.b) == 0 || id.b[0] != '"' {
		return ""
	}
	return id.str()
}

// markRead is the body that marks an inbound message (and earlier ones) read.
type markRead struct {
	MessagingProduct string `json:"messaging_product"`
	Status           string `json:"status"`
	MessageID        string `json:"message_id"`
}

// MarkRead marks the inbound message wamid, received on business, as read:
// POST …/{phone_number_id}/messages {"messaging_product":"whatsapp",
// "status":"read","message_id":wamid}. Errors are classified like Send's.
func (c *Client) MarkRead(ctx context.Context, business, wamid string) error {
	phoneID, ok := c.PhoneNumberID(business)
	if !ok {
		return invalid(fmt.Sprintf("unknown business number %q", business))
	}
	if wamid == "" {
		return invalid("empty message id")
	}
	body, err := marshal(markRead{MessagingProduct: "whatsapp", Status: "read", MessageID: wamid})
	if err != nil {
		return err
	}
	_, err = c.call(ctx, "mark_read", http.MethodPost, c.messagesURL(phoneID), body)
	return err
}

// messagesURL is the messages endpoint of one phone number.
func (c *Client) messagesURL(phoneID string) string {
	return c.base + "/" + url.PathEscape(phoneID) + "/messages"
}
