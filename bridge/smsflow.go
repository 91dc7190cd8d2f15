package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// WithSMSRoutes sets the SMS routes fallback uses (the first that works,
// in order). Fallback is on when at least one exists and
// Config.Fallback.Enabled.
func WithSMSRoutes(routes ...SMSRoute) Option {
	return func(b *Bridge) { b.smsRoutes = append(b.smsRoutes, routes...) }
}

// TemplateText renders a template message's body with its parameters (for
// the SMS that replaces it); implemented by the template policy.
type TemplateText interface {
	RenderText(ctx context.Context, t *Template) (string, error)
}

// fallbackOn reports whether messages may move to SMS.
func (b *Bridge) fallbackOn() bool { return b.cfg.Fallback.Enabled && len(b.smsRoutes) > 0 }

// breaker keeps WhatsApp off after an account-level error until a probe
// (one message every BreakerProbe) succeeds.
type breaker struct {
	mu      sync.Mutex
	open    bool
	probeAt time.Time
}

// allow reports whether a send may try WhatsApp now: always while closed;
// while open, one probe per interval.
func (br *breaker) allow(now time.Time, every time.Duration) bool {
	br.mu.Lock()
	defer br.mu.Unlock()
	if !br.open {
		return true
	}
	if !now.Before(br.probeAt) {
		br.probeAt = now.Add(every)
		return true
	}
	return false
}

func (br *breaker) trip(now time.Time, every time.Duration) {
	br.mu.Lock()
	if !br.open {
		br.open, br.probeAt = true, now.Add(every)
	}
	br.mu.Unlock()
}

func (br *breaker) reset() {
	br.mu.Lock()
	br.open = false
	br.mu.Unlock()
}

// failOrFallback ends a message that WhatsApp will not carry: it moves to
// SMS when the policy says so, else it fails.
func (b *Bridge) failOrFallback(ctx context.Context, m *Message, reason Reason, code int, msg string, action Action, now time.Time) {
	if b.fallbackOn() {
		if t, ok := FallbackFor(b.cfg.Fallback, reason, code, action); ok {
			if t == TriggerAccount {
				b.breaker.trip(now, b.cfg.Fallback.BreakerProbe)
				b.log.Warn("account-level WhatsApp error: sending by SMS until a probe succeeds", "code", code, "reason", reason)
			}
			why := fmt.Sprintf("WhatsApp: %s", reason)
			if code != 0 {
				why += fmt.Sprintf(" (code %d)", code)
			}
			if msg != "" {
				why += ": " + msg
			}
			b.moveToSMS(ctx, m.ID, t, why, now)
			return
		}
	}
	b.fail(ctx, m.ID, reason, code, msg, now)
}

// moveToSMS commits the fallback and wakes the SMS sender.
func (b *Bridge) moveToSMS(ctx context.Context, id MessageID, t Trigger, why string, now time.Time) bool {
	_, moved, err := b.store.Fallback(ctx, id, t, why, now)
	if err != nil {
		b.log.Error("move to SMS", "message_id", id, "err", err)
		return false
	}
	if moved {
		b.log.Info("falling back to SMS", "message_id", id, "trigger", t)
		poke(b.smsWake)
	}
	return moved
}

// skipWhatsApp reports why a message goes to SMS without trying WhatsApp:
// the customer last wrote by SMS, or the account breaker is open.
func (b *Bridge) skipWhatsApp(ctx context.Context, m *Message, now time.Time) (Trigger, bool) {
	if !b.fallbackOn() || m.Origin == OriginCompliance {
		return "", false // (opted-out customers were refused before)
	}
	if !b.cfg.Fallback.Off[TriggerSMSConversation] && m.Customer.Phone != "" {
		if ch, err := b.store.LastInboundChannel(ctx, m.Business, m.Customer.Key()); err == nil && ch == ChannelSMS {
			return TriggerSMSConversation, true
		}
	}
	if !b.cfg.Fallback.Off[TriggerAccount] && !b.breaker.allow(now, b.cfg.Fallback.BreakerProbe) {
		return TriggerBreaker, true
	}
	return "", false
}

// fallbackTimeout moves a message WhatsApp did not deliver in time.
func (b *Bridge) fallbackTimeout(job Job) {
	ctx := context.Background()
	m, err := b.store.Message(ctx, job.Ref)
	if err == nil && m.Channel == ChannelWhatsApp && (m.Status == StatusQueued || m.Status == StatusSent) && b.fallbackOn() &&
		!b.cfg.Fallback.Off[TriggerTimeout] {
		b.moveToSMS(ctx, m.ID, TriggerTimeout, fmt.Sprintf("WhatsApp did not deliver within %s", b.cfg.Fallback.Timeout), b.now())
	}
	if err := b.store.FinishJob(ctx, job.Kind, job.Ref); err != nil {
		b.log.Error("finish fallback timeout", "message_id", job.Ref, "err", err)
	}
}

// smsText is what a message says as SMS: its text; a template's body
// with its parameters; a media message's caption and link (only media
// sent by link has one to give).
func (b *Bridge) smsText(ctx context.Context, m *Message) (string, error) {
	c := &m.Content
	switch {
	case m.Kind == KindText:
		return c.Text, nil
	case m.Kind == KindTemplate && c.Template != nil:
		tt, ok := b.templates.(TemplateText)
		if !ok {
			return "", errors.New("no template catalogue to render the template as text")
		}
		return tt.RenderText(ctx, c.Template)
	case m.Kind.IsMedia() && c.Media != nil:
		if c.Media.URL == "" {
			return "", fmt.Errorf("a %s sent as an uploaded file has no link to put in an SMS", m.Kind)
		}
		return strings.TrimSpace(c.Media.Caption + "\n" + c.Media.URL), nil
	case m.Kind == KindLocation && c.Location != nil:
		return strings.TrimSpace(fmt.Sprintf("%s %s https://www.openstreetmap.org/?mlat=%.6f&mlon=%.6f",
			c.Location.Name, c.Location.Address, c.Location.Latitude, c.Location.Longitude)), nil
	}
	return "", fmt.Errorf("a %s message cannot be sent as SMS", m.Kind)
}

// sendSMS submits a message that fell back to SMS through the first SMS
// route that takes it; when none can now, the job retries with backoff.
func (b *Bridge) sendSMS(job Job) {
	ctx := context.Background()
	m, ok := b.jobMessage(ctx, job, job.Ref)
	if !ok {
		return
	}
	log := b.log.With("message_id", m.ID)
	if m.Channel != ChannelSMS || m.Status == StatusDelivered || m.Status == StatusRead || m.Status == StatusFailed {
		_ = b.store.FinishJob(ctx, job.Kind, job.Ref)
		return
	}
	fail := func(msg string) {
		log.Info("SMS fallback failed", "why", msg)
		b.fail(ctx, m.ID, ReasonSMSFailed, 0, msg, b.now())
		_ = b.store.FinishJob(ctx, job.Kind, job.Ref)
	}
	if m.Customer.Phone == "" {
		fail("the customer is known only by a business-scoped id: no phone number for an SMS")
		return
	}
	if out, err := b.OptedOut(ctx, m.Customer); err == nil && out && m.Origin != OriginCompliance {
		log.Info("customer opted out before the SMS went")
		b.fail(ctx, m.ID, ReasonOptedOut, 0, "the customer opted out", b.now())
		_ = b.store.FinishJob(ctx, job.Kind, job.Ref)
		return
	}
	text, err := b.smsText(ctx, m)
	if err != nil {
		fail(err.Error())
		return
	}
	// Routes in order: one that cannot take it now (link down, throttled
	// past the send timeout) hands over to the next; a route's final
	// refusal ends the message.
	var (
		route SMSRoute
		ids   []string
	)
	for i, r := range b.smsRoutes {
		if rr, ok := r.(interface{ Ready() bool }); ok && !rr.Ready() && i+1 < len(b.smsRoutes) {
			log.Info("SMS route not bound; trying the next", "route", r.Name())
			err = &SendError{Action: ActionRetry, Reason: ReasonUpstreamError, Title: "route " + r.Name() + " not bound"}
			continue
		}
		sendCtx, cancel := context.WithTimeout(ctx, b.cfg.SendTimeout)
		ids, err = r.SubmitSMS(sendCtx, SMS{ID: m.ID, From: smsSender(m), To: m.Customer.Phone, Text: text})
		cancel()
		if err == nil {
			route = r
			break
		}
		var sub *SMSSubmitError
		if errors.As(err, &sub) && len(sub.PartIDs) > 0 {
			// Parts already accepted: this route has the message; another
			// would send it twice. Retry here later.
			log.Warn("SMS partly submitted; will retry on the same route", "route", r.Name(), "parts", len(sub.PartIDs), "err", err)
			b.retryJob(ctx, job, err)
			return
		}
		se := AsSendError(err)
		if se.Action != ActionRetry {
			log.Info("SMS refused by the route", "route", r.Name(), "code", se.Code, "err", err)
			b.fail(ctx, m.ID, ReasonSMSFailed, se.Code, se.Error(), b.now())
			_ = b.store.FinishJob(ctx, job.Kind, job.Ref)
			return
		}
		log.Warn("SMS route unavailable", "route", r.Name(), "err", err, "next", i+1 < len(b.smsRoutes))
	}
	if route == nil {
		b.retryJob(ctx, job, err)
		return
	}
	if _, err := b.store.SMSSubmitted(ctx, m.ID, route.Name(), ids, b.now()); err != nil {
		// The SMSC has it; the job stays and will resubmit: a second copy
		// is possible only for this window (counted in the crash test).
		log.Error("record SMS submission", "err", err)
		b.retryJob(ctx, job, err)
		return
	}
	log.Info("sent by SMS", "route", route.Name(), "parts", len(ids))
	b.wakeReporters()
}

// smsSender is the SMS's sender: an SMPP origin's alphanumeric
// source_addr when it gave one, else the business number.
func smsSender(m *Message) string {
	if src := OriginSource(m); src != "" && !isDigits(strings.TrimPrefix(src, "+")) {
		return src
	}
	return m.Business
}

// OriginSource returns the source address an SMPP origin gave ("" for
// others); set by the SMPP edge in OriginData as "src".
func OriginSource(m *Message) string {
	if !strings.HasPrefix(m.Origin, "smpp:") || len(m.OriginData) == 0 {
		return ""
	}
	var md struct {
		Src string `json:"src"`
	}
	_ = jsonUnmarshal(m.OriginData, &md)
	return md.Src
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// HandleSMS stores what SMS routes reported (receipts, customers' SMS)
// and returns once it is durable; the route acknowledges upstream only
// after that.
func (b *Bridge) HandleSMS(ctx context.Context, events []SMSEvent) error {
	out, err := b.store.IngestSMS(ctx, events)
	if err != nil {
		return fmt.Errorf("bridge: ingest SMS events: %w", err)
	}
	for range out.Inbound {
		b.observe(Inbound, ChannelSMS, StatusReceived)
	}
	if len(out.Inbound) > 0 {
		poke(b.inboundWake)
	}
	for _, m := range out.Changed {
		b.observeMessage(m)
		if ReportsOrigin(m.Origin) {
			b.wakeReporters()
		}
	}
	return nil
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
