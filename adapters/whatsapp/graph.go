package whatsapp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// maxResponse bounds how much of a Graph reply is read.
const maxResponse = 4 << 20

// call performs one Graph request and returns the body of a 2xx reply. Any
// failure is a *bridge.SendError classified with ClassifyHTTP (Meta's error
// JSON), classifyStatus (a reply without one) or as retryable (transport
// errors and timeouts). The access token travels only in the Authorization
// header and is scrubbed from every error. Observe is called once per call.
func (c *Client) call(ctx context.Context, op, method, url string, body []byte) (_ []byte, err error) {
	start := time.Now()
	code := 0
	defer func() {
		d := time.Since(start)
		if c.observe != nil {
			c.observe(op, d, code, err)
		}
		c.log.Debug("whatsapp graph call", "op", op, "duration", d, "code", code, "err", err)
	}()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, c.transportError(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, nil
	}
	se := c.replyError(resp.StatusCode, resp.Header, data)
	code = se.Code
	return nil, se
}

// replyError classifies a non-2xx Graph reply.
func (c *Client) replyError(status int, h http.Header, body []byte) *bridge.SendError {
	se := &bridge.SendError{RetryAfter: retryAfter(h.Get("Retry-After"), time.Now())}
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
	se.Title = fmt.Sprintf("HTTP %d", status)
	return se
}

// transportError wraps a network failure or timeout: always retryable.
func (c *Client) transportError(err error) *bridge.SendError {
	return &bridge.SendError{
		Action: bridge.ActionRetry,
		Reason: bridge.ReasonUpstreamError,
		Err:    &redactedError{msg: c.redact(err.Error()), err: err},
	}
}

// redact removes the access token from s.
func (c *Client) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "[redacted]")
}

// redactedError shows a scrubbed message but keeps the original for errors.Is
// (context.DeadlineExceeded and the like).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// retryAfter parses a Retry-After header (delay-seconds or HTTP-date); 0 when
// absent or unparsable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
