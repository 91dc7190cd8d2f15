package mailload

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// webhookPoster posts signed Meta "messages" webhooks, each one inbound
// text message from a customer to the business number: wabridge delivers
// each into the INBOX of every mail user owning that number.
type webhookPoster struct {
	url, secret   string
	phoneNumberID string
	business      string // display number, digits
	wabaID        string
	runID         string
	client        *http.Client
}

func newWebhookPoster(url, secret, phoneNumberID, business, wabaID string) *webhookPoster {
	return &webhookPoster{
		url: url, secret: secret, phoneNumberID: phoneNumberID,
		business: strings.TrimPrefix(business, "+"), wabaID: wabaID,
		runID: strconv.FormatInt(time.Now().UnixNano(), 36),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
		}},
	}
}

// body is webhook i: a text from customer +4915200000000+(i mod 1000),
// with a wamid unique to this run.
func (p *webhookPoster) body(kind string, i int64) []byte {
	from := strconv.FormatInt(4915200000000+i%1000, 10)
	type m = map[string]any
	v := m{"object": "whatsapp_business_account", "entry": []m{{
		"id": p.wabaID,
		"changes": []m{{"field": "messages", "value": m{
			"messaging_product": "whatsapp",
			"metadata":          m{"display_phone_number": p.business, "phone_number_id": p.phoneNumberID},
			"contacts":          []m{{"profile": m{"name": "Load Customer " + strconv.FormatInt(i%1000, 10)}, "wa_id": from}},
			"messages": []m{{
				"from": from, "id": fmt.Sprintf("wamid.wabload.%s.%s.%d", p.runID, kind, i),
				"timestamp": strconv.FormatInt(time.Now().Unix(), 10), "type": "text",
				"text": m{"body": fmt.Sprintf("Hello, this is load message %s %d: where is my order?", kind, i)},
			}},
		}}},
	}}}
	data, _ := json.Marshal(v)
	return data
}

// sign is X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256(app secret, body).
func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends webhook i; nil on a 2xx.
func (p *webhookPoster) post(ctx context.Context, kind string, i int64) error {
	body := p.body(kind, i)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", sign(p.secret, body))
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: HTTP %d", resp.StatusCode)
	}
	return nil
}
