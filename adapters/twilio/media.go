package twilio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/safefetch"
	"github.com/wabridge/wabridge/internal/upstream"
)

// maxErrorBody bounds how much of a failed media reply is read.
const maxErrorBody = 64 << 10

// Upload makes a stored file sendable: Twilio fetches media by URL
// (MediaUrl), so Upload returns Config.MediaURL(ctx, f), the public URL the
// daemon serves the file at, and does not read r. The URL is then the
// media's "id" (Media.ID), which Send puts in MediaUrl. Without
// Config.MediaURL, Upload refuses (permanent, invalid).
func (c *Client) Upload(ctx context.Context, business string, f *bridge.File, r io.Reader) (string, error) {
	if c.mediaURL == nil {
		return "", invalid("Twilio fetches media by URL and no public media URL is configured")
	}
	if f == nil {
		return "", invalid("no file")
	}
	link, err := c.mediaURL(ctx, f)
	if err != nil {
		return "", &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError,
			Title: "no public URL for the file", Err: err}
	}
	if u, err := url.Parse(link); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", invalid("the public media URL is not an absolute http(s) URL")
	}
	return link, nil
}

// Download fetches mediaID — the MediaUrl{N} of an inbound webhook, which
// ParseWebhook puts in Media.ID — into w through the media guard
// (internal/safefetch: the API host and Config.MediaHosts only, redirects
// re-checked, public addresses only for hosts not named exactly). Basic
// auth is sent only when the URL is on the API host, and dropped when a
// redirect leaves it (Twilio's media URLs redirect to a CDN). At most
// maxBytes are written to w; on error w may hold part of the file and must
// be discarded. Twilio publishes no digest to check against; the returned
// SHA256 is computed over the bytes received, MIMEType is the reply's
// Content-Type. Observed as "download_media".
//
// Failures are *bridge.SendError: refused URLs, 404/410, and files over
// maxBytes are permanent media_unavailable; Twilio's error JSON is
// classified as in Send; transport errors and timeouts are retried.
func (c *Client) Download(ctx context.Context, business, mediaID string, w io.Writer, maxBytes int64) (info bridge.MediaInfo, err error) {
	start := time.Now()
	code := 0
	defer func() {
		if se, ok := err.(*bridge.SendError); ok {
			code = se.Code
		}
		c.observeCall("download_media", time.Since(start), code, err)
	}()

	u, err := url.Parse(mediaID)
	if err != nil || mediaID == "" {
		return info, mediaUnavailable("media URL does not parse")
	}
	if err := c.media.CheckURL(u); err != nil {
		return info, mediaUnavailable("twilio: " + err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, c.mediaTO)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return info, mediaUnavailable("media URL is not usable")
	}
	if sameHost(u, c.apiURL) {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.media.Client().Do(req)
	if err != nil {
		return info, c.fetchError(err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
			return info, mediaUnavailable(fmt.Sprintf("media URL answered HTTP %d (deleted or expired)", resp.StatusCode))
		}
		return info, c.replyError(resp.StatusCode, resp.Header, body)
	}
	if resp.ContentLength > maxBytes {
		return info, mediaUnavailable(fmt.Sprintf("media of %d bytes is over the limit of %d bytes", resp.ContentLength, maxBytes))
	}
	h := sha256.New()
	dst := &upstream.TrackedWriter{W: w}
	n, err := io.Copy(io.MultiWriter(dst, h), io.LimitReader(resp.Body, maxBytes))
	switch {
	case dst.Err != nil:
		return info, &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError,
			Title: "storing the downloaded media failed", Err: dst.Err}
	case err != nil:
		return info, c.fetchError(err)
	}
	if n == maxBytes {
		var probe [1]byte
		if k, _ := io.ReadFull(resp.Body, probe[:]); k > 0 {
			return info, mediaUnavailable(fmt.Sprintf("media is larger than the limit of %d bytes", maxBytes))
		}
	}
	return bridge.MediaInfo{
		MIMEType: bridge.BaseMIME(resp.Header.Get("Content-Type")),
		SHA256:   hex.EncodeToString(h.Sum(nil)),
		Size:     n,
	}, nil
}

// sameHost reports whether a and b name the same scheme, host and port.
func sameHost(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// port is u's port or its scheme's default.
func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// mediaUnavailable is a permanent media_unavailable failure.
func mediaUnavailable(title string) *bridge.SendError {
	return &bridge.SendError{Action: bridge.ActionPermanent, Reason: bridge.ReasonMediaUnavailable, Title: title}
}

// fetchError classifies a failed media request: guard refusals are final,
// everything else (timeouts, resets) retryable. The *url.Error wrapper is
// dropped so signed media URLs do not end up in logs.
func (c *Client) fetchError(err error) *bridge.SendError {
	var refused *safefetch.RefusedError
	if errors.As(err, &refused) {
		return mediaUnavailable("twilio: " + refused.Error())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return c.transportError(err)
}
