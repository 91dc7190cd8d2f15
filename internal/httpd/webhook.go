package httpd

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/wabridge/wabridge/adapters/whatsapp"
	"github.com/wabridge/wabridge/bridge"
)

// whatsappVerify answers Meta's subscription handshake: the challenge on a
// matching verify token, 403 otherwise.
func (s *Server) whatsappVerify(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	challenge, ok := whatsapp.VerifySubscription(string(args.Peek("hub.mode")), string(args.Peek("hub.verify_token")),
		string(args.Peek("hub.challenge")), s.cfg.VerifyToken)
	if !ok || s.cfg.VerifyToken == "" {
		ctx.SetStatusCode(fasthttp.StatusForbidden)
		ctx.SetBodyString("forbidden\n")
		return
	}
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(challenge)
}

// webhookBodies recycles the buffers Meta webhook bodies are read into
// (readBody keeps none past maxRecycledBody).
var webhookBodies = sync.Pool{New: func() any { return new([]byte) }}

const maxRecycledBody = 64 << 10

// whatsappWebhook checks the signature over the raw body, parses every
// entry and change, and answers 200 only after the events are committed
// (group commit with concurrent webhooks). Meta re-delivers anything that
// got no 2xx, and duplicates are dropped by their natural keys.
func (s *Server) whatsappWebhook(ctx *fasthttp.RequestCtx) {
	// Nothing keeps the body past this handler (Parse copies what events
	// keep), so it is read into a recycled buffer.
	buf := webhookBodies.Get().(*[]byte)
	defer webhookBodies.Put(buf)
	body, ok := s.bodyInto(ctx, buf)
	if !ok {
		return
	}
	if !s.meta.Verify(body, string(ctx.Request.Header.Peek("X-Hub-Signature-256"))) {
		s.deps.Metrics.WebhookRequests.WithLabelValues("meta", "bad_signature").Inc()
		writeError(ctx, fasthttp.StatusUnauthorized, "unauthorized", "X-Hub-Signature-256", "missing or invalid signature")
		return
	}
	events, err := s.deps.Parser.Parse(body)
	if errors.Is(err, whatsapp.ErrWrongObject) {
		// Signed by Meta but for another product (page, instagram, …): not
		// ours to act on, yet refusing it would make Meta re-deliver it for
		// days. Keep it raw, once, and acknowledge.
		sum := sha256.Sum256(body)
		events, err = []bridge.Event{{Other: &bridge.RawEvent{Field: "object", Type: "unsupported_object",
			Key: "object:" + hex.EncodeToString(sum[:]), Raw: append([]byte(nil), body...)}}}, nil
	}
	if err != nil {
		s.deps.Metrics.WebhookRequests.WithLabelValues("meta", "bad_request").Inc()
		writeError(ctx, fasthttp.StatusBadRequest, "invalid", "", err.Error())
		return
	}
	c := s.webhookDeadline.context()
	res, err := s.deps.Bridge.HandleEvents(c, events)
	if err != nil {
		s.log.Error("webhook not stored", "err", err)
		s.deps.Metrics.WebhookRequests.WithLabelValues("meta", "error").Inc()
		writeError(ctx, fasthttp.StatusInternalServerError, "internal", "", "not stored; retry")
		return
	}
	s.deps.Metrics.WebhookAccepted("meta", res)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBodyString("ok\n")
}
