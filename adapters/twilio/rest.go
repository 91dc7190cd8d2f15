package twilio

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/upstream"
)

// maxResponse bounds how much of a REST reply is read.
const maxResponse = 4 << 20

// codeAuthFailed is Twilio's "Authenticate" error, assumed for a 401 that
// carries no error code.
const codeAuthFailed = 20003

// restError is Twilio's error body on the 2010 API and the product APIs:
// {"code": 21211, "message": "…", "more_info":
// "https://www.twilio.com/docs/errors/21211", "status": 400} (the fields
// twilio-python's TwilioRestException reads in twilio/base/version.py:
// code, message, more_info, details; https://www.twilio.com/docs/usage/twilios-response).
type restError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// call performs one request: a form body (POST) when form is non-nil, else
// a GET. It returns the body of a 2xx reply. Any failure is a
// *bridge.SendError classified by replyError or, for transport errors and
// timeouts, retryable with Err set. The credentials travel only in the
// Authorization header and the secret is scrubbed from every error.
// Observe is called once per call.
func (c *Client) call(ctx context.Context, op, method, rawURL string, form url.Values) (_ []byte, err error) {
	start := time.Now()
	code := 0
	defer func() { c.observeCall(op, time.Since(start), code, err) }()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, c.transportError(err)
	}
	req.SetBasicAuth(c.user, c.pass)
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
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
	c.log.Debug("twilio call", "op", op, "duration", d, "code", code, "err", err)
}

// replyError classifies a non-2xx reply. With Twilio's error JSON the code
// decides (Classify); a 401 without a code is 20003. Whatever the code,
// 429 and 5xx are retried (Twilio: "retry according to the Retry-After
// response header"), honouring Retry-After. Without a code: 408, 429 and
// 5xx retry; 401 and 403 are an account error (fallback); anything else
// is a permanent upstream error.
func (c *Client) replyError(status int, h http.Header, body []byte) *bridge.SendError {
	se := &bridge.SendError{RetryAfter: upstream.RetryAfter(h.Get("Retry-After"), c.now())}
	var re restError
	_ = json.Unmarshal(body, &re)
	se.Code = re.Code
	if se.Code == 0 && status == http.StatusUnauthorized {
		se.Code = codeAuthFailed
	}
	se.Title = c.redact(re.Message)
	if se.Title == "" {
		se.Title = httpStatusTitle(status)
	}
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		se.Action, se.Reason = bridge.ActionRetry, bridge.ReasonUpstreamError
	case se.Code != 0:
		se.Action, se.Reason = Classify(se.Code)
	case status == http.StatusRequestTimeout:
		se.Action, se.Reason = bridge.ActionRetry, bridge.ReasonUpstreamError
	case status == http.StatusForbidden:
		se.Action, se.Reason = bridge.ActionFallback, bridge.ReasonAccountError
	default:
		se.Action, se.Reason = bridge.ActionPermanent, bridge.ReasonUpstreamError
	}
	c.log.Debug("twilio error", "status", status, "code", re.Code, "more_info", re.MoreInfo)
	return se
}

// httpStatusTitle is the Title of a failure that carried no message.
func httpStatusTitle(status int) string { return fmt.Sprintf("HTTP %d", status) }

// transportError wraps a network failure or timeout: always retryable. The
// core treats one after the request may have been sent as an unknown
// outcome and reconciles it from the status callbacks (CallbackIDParam).
func (c *Client) transportError(err error) *bridge.SendError {
	return &bridge.SendError{
		Action: bridge.ActionRetry,
		Reason: bridge.ReasonUpstreamError,
		Err:    upstream.Redacted(err, c.pass),
	}
}

// redact removes the secret (auth token or API key secret) from s.
func (c *Client) redact(s string) string { return upstream.Redact(s, c.pass) }

// invalid is a permanent refusal of a malformed request.
func invalid(title string) *bridge.SendError {
	return &bridge.SendError{Action: bridge.ActionPermanent, Reason: bridge.ReasonInvalid, Title: title}
}
