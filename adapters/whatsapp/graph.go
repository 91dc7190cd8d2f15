package whatsapp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/upstream"
)

// maxResponse bounds how much of a Graph reply is read.
const maxResponse = 4 << 20

// call performs one Graph request and returns the body of a 2xx reply. Any
// failure is a *bridge.SendError classified with ClassifyHTTP (Meta's error
// JSON), classifyStatus (a reply without one) or as retryable (transport
// errors and timeouts). The access token travels only in the Authorization
// header and is scrubbed from every error. Observe is called once per call.
func (c *Client) call(ctx context.Context, op, method, url string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	contentType := ""
	if body != nil {
		rd = bytes.NewReader(body)
		contentType = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		se := c.transportError(err)
		c.observeCall(op, 0, 0, se)
		return nil, se
	}
	return c.roundTrip(op, req, contentType)
}

// roundTrip sends a prepared Graph request with the bearer token and
// returns the body of a 2xx reply; failures are classified as in call.
// Observe is called once.
func (c *Client) roundTrip(op string, req *http.Request, contentType string) (_ []byte, err error) {
	start := time.Now()
	code := 0
	defer func() { c.observeCall(op, time.Since(start), code, err) }()

	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	reply, err := upstream.Do(c.http, req, maxResponse)
	if err != nil {
		return nil, c.transportError(err)
	}
	if reply.OK() {
		return reply.Body, nil
	}
	se := c.replyError(reply.Status, reply.Header, reply.Body)
	code = se.Code
	return nil, se
}

// observeCall reports one call to Config.Observe and the debug log.
func (c *Client) observeCall(op string, d time.Duration, code int, err error) {
	if c.observe != nil {
		c.observe(op, d, code, err)
	}
	c.log.Debug("whatsapp graph call", "op", op, "duration", d, "code", code, "err", err)
}

// replyError classifies a non-2xx Graph reply.
func (c *Client) replyError(status int, h http.Header, body []byte) *bridge.SendError {
	se := &bridge.SendError{RetryAfter: upstream.RetryAfter(h.Get("Retry-After"), time.Now())}
	if p, ok := parseGraphError(body); ok && p.hasCode {
		se.Code = p.code
		se.Action, se.Reason = ClassifyHTTP(status, p.code)
		se.Title = c.redact(p.message)
		if se.Title == "" {
			se.Title = c.redact(p.details)
		}
		c.log.Debug("whatsapp graph error", "status", status, "code", p.code,
			"details", c.redact(p.details), "fbtrace_id", p.trace)
		return se
	}
	se.Action, se.Reason = classifyStatus(status)
	se.Title = httpStatusTitle(status)
	return se
}

// httpStatusTitle is the Title of a failure that carried no Meta error code.
func httpStatusTitle(status int) string { return fmt.Sprintf("HTTP %d", status) }

// transportError wraps a network failure or timeout: always retryable.
func (c *Client) transportError(err error) *bridge.SendError {
	return &bridge.SendError{
		Action: bridge.ActionRetry,
		Reason: bridge.ReasonUpstreamError,
		Err:    upstream.Redacted(err, c.token),
	}
}

// redact removes the access token from s.
func (c *Client) redact(s string) string { return upstream.Redact(s, c.token) }
