// Package upstream holds what the provider clients (Meta's Graph API,
// Twilio) share when they call out over HTTP: reading Retry-After,
// keeping secrets out of errors, and telling a failed destination write
// from a failed download.
package upstream

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter parses a Retry-After header (delay-seconds or HTTP-date); 0
// when absent, unparsable or in the past.
func RetryAfter(v string, now time.Time) time.Duration {
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

// Redact replaces every occurrence of secret in s ("" leaves s as is).
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// RedactedError shows a scrubbed message but keeps the original error for
// errors.Is and errors.As (context.DeadlineExceeded and the like).
type RedactedError struct {
	Msg string
	Err error
}

// Redacted wraps err with its message scrubbed of secret.
func Redacted(err error, secret string) *RedactedError {
	return &RedactedError{Msg: Redact(err.Error(), secret), Err: err}
}

func (e *RedactedError) Error() string { return e.Msg }
func (e *RedactedError) Unwrap() error { return e.Err }

// TrackedWriter keeps the first write error of the destination, so a
// download that fails because the disk is full is not blamed on the
// upstream.
type TrackedWriter struct {
	W   io.Writer
	Err error
}

func (t *TrackedWriter) Write(p []byte) (int, error) {
	n, err := t.W.Write(p)
	if err != nil && t.Err == nil {
		t.Err = err
	}
	return n, err
}

// DefaultConns is how many idle keep-alive connections per host
// NewHTTPClient keeps when asked for none: the outbox's default number of
// concurrent senders.
const DefaultConns = 64

// NewHTTPClient returns the client a provider adapter calls its API with:
// a Transport (each small request on the caller's goroutine) in front of
// http.DefaultTransport's settings for the rest (proxies, streamed
// uploads), both keeping up to conns idle connections per host
// (DefaultConns when conns <= 0). The default transport keeps two, so with
// more concurrent senders every further request would dial — and, at the
// provider, handshake TLS — again.
func NewHTTPClient(conns int) *http.Client {
	if conns <= 0 {
		conns = DefaultConns
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = conns
	t.MaxIdleConns = max(t.MaxIdleConns, 2*conns)
	return &http.Client{Transport: &Transport{
		Fallback:        t,
		Proxy:           t.Proxy,
		TLSClientConfig: t.TLSClientConfig,
		MaxIdlePerHost:  conns,
		IdleTimeout:     t.IdleConnTimeout,
	}}
}

// Reply is a provider's answer: its status, headers and body (read up to
// a limit).
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// OK reports a 2xx status.
func (r *Reply) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Do sends req with client and reads at most limit bytes of the answer's
// body. The error is the transport's (connecting, sending, reading):
// the caller classifies it, as it does a Reply that is not OK.
func Do(client *http.Client, req *http.Request, limit int64) (*Reply, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, err
	}
	return &Reply{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}
