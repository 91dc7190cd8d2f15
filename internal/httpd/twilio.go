package httpd

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/wabridge/wabridge/adapters/twilio"
	"github.com/wabridge/wabridge/bridge"
)

// twilioWebhookPath is where Twilio posts inbound messages and status
// callbacks (WhatsApp and SMS).
const twilioWebhookPath = "/webhooks/twilio"

// emptyTwiML answers an inbound message without replying to it.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// twilioWebhook checks X-Twilio-Signature against the URL Twilio posted to
// (public_url + path + query, or the request's own URL when no public URL
// is configured) with the account's and the subaccount's auth token, then
// commits the events before answering 200 (group commit with concurrent
// webhooks). A bad or missing signature is refused with 403, as Twilio's
// own libraries do, and changes nothing. WhatsApp webhooks go to the core's
// event intake; SMS ones (a Twilio SMS route's status callbacks, an SMS
// sent to a Twilio number) to the SMS intake, receipts under the route
// named by ?route= (set in the StatusCallback URL we send).
func (s *Server) twilioWebhook(ctx *fasthttp.RequestCtx) {
	if len(s.cfg.TwilioAuthTokens) == 0 {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "", "Twilio is not configured")
		return
	}
	body, ok := s.bodyOrError(ctx)
	if !ok {
		return
	}
	full := s.twilioURL(ctx)
	sig := string(ctx.Request.Header.Peek(twilio.SignatureHeader))
	ctype, _, _ := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	if ctype == "application/json" {
		s.twilioJSON(ctx, full, sig, body)
		return
	}
	params, err := url.ParseQuery(string(body))
	if err != nil || !s.twilioSigned(func(token string) bool { return twilio.Validate(token, full, params, sig) }) {
		s.twilioRefused(ctx)
		return
	}
	c := s.webhookDeadline.context()
	if twilio.IsSMS(params) {
		route := string(ctx.QueryArgs().Peek("route"))
		if route == "" && s.deps.TwilioSMSRoute != nil {
			route = s.deps.TwilioSMSRoute(strings.TrimPrefix(params.Get("To"), "whatsapp:"))
		}
		if route == "" {
			route = "twilio"
		}
		events, err := twilio.SMSEvents(route, params)
		if err != nil {
			s.deps.Metrics.WebhookRequests.WithLabelValues("twilio", "bad_request").Inc()
			writeError(ctx, fasthttp.StatusBadRequest, "invalid", "", err.Error())
			return
		}
		if err := s.deps.Bridge.HandleSMS(c, events); err != nil {
			s.twilioNotStored(ctx, err)
			return
		}
		s.twilioOK(ctx, bridge.IngestResult{})
		return
	}
	events, err := twilio.ParseWebhook(params)
	if errors.Is(err, twilio.ErrNotMessage) {
		// Signed by Twilio but not a Messaging webhook (a debugger event,
		// another product): keep it raw, once, and acknowledge.
		events, err = []bridge.Event{rawTwilioEvent("not_a_message", body)}, nil
	}
	if err != nil {
		s.deps.Metrics.WebhookRequests.WithLabelValues("twilio", "bad_request").Inc()
		writeError(ctx, fasthttp.StatusBadRequest, "invalid", "", err.Error())
		return
	}
	// Our id rides in the StatusCallback URL (Twilio echoes nothing else
	// we send): it settles a send whose reply was lost.
	if id := string(ctx.QueryArgs().Peek(twilio.CallbackIDParam)); id != "" {
		for _, e := range events {
			if e.Status != nil {
				e.Status.CallbackData = id
			}
		}
	}
	res, err := s.deps.Bridge.HandleEvents(c, events)
	if err != nil {
		s.twilioNotStored(ctx, err)
		return
	}
	s.twilioOK(ctx, res)
}

// twilioJSON handles a JSON body (the bodySHA256 form of the signature):
// such webhooks are not Messaging webhooks, so a signed one is kept raw and
// acknowledged.
func (s *Server) twilioJSON(ctx *fasthttp.RequestCtx, full, sig string, body []byte) {
	if !s.twilioSigned(func(token string) bool { return twilio.ValidateJSON(token, full, body, sig) }) {
		s.twilioRefused(ctx)
		return
	}
	c := s.webhookDeadline.context()
	if _, err := s.deps.Bridge.HandleEvents(c, []bridge.Event{rawTwilioEvent("json", body)}); err != nil {
		s.twilioNotStored(ctx, err)
		return
	}
	s.twilioOK(ctx, bridge.IngestResult{})
}

// rawTwilioEvent keeps a signed webhook wabridge does not act on, with an
// idempotency key over its bytes.
func rawTwilioEvent(typ string, body []byte) bridge.Event {
	sum := sha256.Sum256(body)
	return bridge.Event{Other: &bridge.RawEvent{Field: "twilio", Type: typ,
		Key: "twilio:" + hex.EncodeToString(sum[:]), Raw: rawJSONOrString(body)}}
}

// rawJSONOrString is body when it is JSON, else body as a JSON string.
func rawJSONOrString(body []byte) []byte {
	if len(body) > 0 && (body[0] == '{' || body[0] == '[') {
		return append([]byte(nil), body...)
	}
	return []byte(strconv.Quote(string(body)))
}

// twilioSigned reports whether check passes with one of the auth tokens.
func (s *Server) twilioSigned(check func(token string) bool) bool {
	for _, t := range s.cfg.TwilioAuthTokens {
		if t != "" && check(t) {
			return true
		}
	}
	return false
}

func (s *Server) twilioRefused(ctx *fasthttp.RequestCtx) {
	s.deps.Metrics.WebhookRequests.WithLabelValues("twilio", "bad_signature").Inc()
	writeError(ctx, fasthttp.StatusForbidden, "forbidden", twilio.SignatureHeader, "missing or invalid signature")
}

func (s *Server) twilioNotStored(ctx *fasthttp.RequestCtx, err error) {
	s.log.Error("twilio webhook not stored", "err", err)
	s.deps.Metrics.WebhookRequests.WithLabelValues("twilio", "error").Inc()
	writeError(ctx, fasthttp.StatusInternalServerError, "internal", "", "not stored; retry")
}

// twilioOK answers an accepted webhook and counts it with the events res
// counted.
func (s *Server) twilioOK(ctx *fasthttp.RequestCtx, res bridge.IngestResult) {
	s.deps.Metrics.WebhookAccepted("twilio", res)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/xml; charset=utf-8")
	ctx.SetBodyString(emptyTwiML)
}

// twilioURL is the URL Twilio signed: the configured public URL with the
// route's path and the request's query, or — without a public URL — the
// URL the request itself names (scheme from our listener, Host header).
func (s *Server) twilioURL(ctx *fasthttp.RequestCtx) string {
	query := ""
	if q := ctx.URI().QueryString(); len(q) > 0 {
		query = "?" + string(q)
	}
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/") + twilioWebhookPath + query
	}
	scheme := "http"
	if ctx.IsTLS() {
		scheme = "https"
	}
	return scheme + "://" + string(ctx.Host()) + twilioWebhookPath + query
}

// mediaPath serves stored files to Twilio, which fetches the media of a
// message by URL.
const mediaPath = "/media/"

// MediaURL returns a link to a stored file that getSignedMedia serves until
// exp: base + "/media/{id}?exp={unix}&sig={hmac}". The signature is
// HMAC-SHA256 over id and exp with key, so links cannot be made for other
// files or other times.
func MediaURL(key []byte, base, id string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return strings.TrimRight(base, "/") + mediaPath + url.PathEscape(id) + "?exp=" + e + "&sig=" + mediaSig(key, id, e)
}

func mediaSig(key []byte, id, exp string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{0})
	mac.Write([]byte(exp))
	return hex.EncodeToString(mac.Sum(nil))
}

// getSignedMedia serves GET /media/{id} for a valid, unexpired signature;
// anything else is 404, so the route reveals nothing about stored files.
func (s *Server) getSignedMedia(ctx *fasthttp.RequestCtx) {
	id, _ := ctx.UserValue("id").(string)
	exp := string(ctx.QueryArgs().Peek("exp"))
	sig := string(ctx.QueryArgs().Peek("sig"))
	notFound := func() { writeError(ctx, fasthttp.StatusNotFound, "not_found", "", "no such media") }
	if len(s.cfg.MediaURLKey) == 0 || s.deps.Files == nil || id == "" {
		notFound()
		return
	}
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || time.Now().Unix() > e || !hmac.Equal([]byte(sig), []byte(mediaSig(s.cfg.MediaURLKey, id, exp))) {
		notFound()
		return
	}
	r, f, err := s.deps.Files.Open(ctx, id)
	if err != nil {
		notFound()
		return
	}
	ctx.SetContentType(f.MIMEType)
	if f.Filename != "" {
		ctx.Response.Header.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": f.Filename}))
	}
	ctx.SetBodyStream(r, int(f.Size)) // fasthttp closes r when done
}
