package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"
)

// Wake tells the send loop there is new work (never blocks).
func (b *Bridge) Wake() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Run drives the outbox until ctx is cancelled: it claims due send jobs and
// sends them with up to Workers in flight. After cancellation it claims
// nothing more and returns once in-flight sends have finished (each bounded
// by SendTimeout), so every outcome is committed.
func (b *Bridge) Run(ctx context.Context) error {
	b.mu.Lock()
	if b.running {
		b.mu.Unlock()
		return errors.New("bridge: already running")
	}
	b.running = true
	b.mu.Unlock()

	// The senders are Workers goroutines kept for the daemon's life, not
	// one per job: a send's stack (template matching is deep) then grows
	// once per sender instead of once per message. A claimed job holds a
	// slot from its claim until its sender is done with it, so the loop
	// claims no more than there are free senders.
	slots := make(chan struct{}, b.cfg.Workers)
	claimed := make(chan SendJob, b.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(claimed) // after the loop: the senders finish what they hold, then end
	wg.Add(6 + b.cfg.Workers)
	for range b.cfg.Workers {
		go func() {
			defer wg.Done()
			for job := range claimed {
				b.send(job)
				<-slots
				b.Wake() // a slot is free: look for more work
			}
		}()
	}
	go func() {
		defer wg.Done()
		b.jobLoop(ctx, JobSMS, 4, 2*b.cfg.SendTimeout+time.Minute, b.smsWake, b.sendSMS)
	}()
	go func() {
		defer wg.Done()
		b.jobLoop(ctx, JobFallbackTimeout, 1, time.Minute, nil, b.fallbackTimeout)
	}()
	go func() {
		defer wg.Done()
		b.jobLoop(ctx, JobExpire, 2, time.Minute, nil, b.expireMessage)
	}()
	go func() {
		defer wg.Done()
		if b.files != nil && b.transfer != nil {
			b.jobLoop(ctx, JobMediaFetch, b.cfg.MediaWorkers, b.cfg.MediaTimeout+time.Minute, b.mediaWake, b.fetchMedia)
		}
	}()
	go func() {
		defer wg.Done()
		b.jobLoop(ctx, JobInbound, 1, time.Minute, b.inboundWake, b.deliverInbound) // in order per customer
	}()
	go func() {
		defer wg.Done()
		b.reportLoop(ctx, time.Minute) // in order per message, messages side by side
	}()
	ticker := time.NewTicker(b.cfg.PollInterval)
	defer ticker.Stop()
	for {
		free := b.cfg.Workers - len(slots)
		if free > 0 {
			jobs, err := b.store.ClaimSends(context.WithoutCancel(ctx), b.now(), free, b.cfg.Lease)
			if err != nil && ctx.Err() == nil {
				b.log.Error("claim send jobs", "err", err)
			}
			for _, job := range jobs {
				slots <- struct{}{}
				claimed <- job
			}
			if len(jobs) == free {
				// There may be more due work; go round again at once.
				select {
				case <-ctx.Done():
					return nil
				default:
					continue
				}
			}
		}
		// A paced message is due at its slot: wake then, not at the poll.
		var slot <-chan time.Time
		var timer *time.Timer
		if at, ok := b.pacer.next(b.now()); ok {
			timer = time.NewTimer(time.Until(at) + time.Millisecond) // run_at is stored in ms
			slot = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-b.wake:
		case <-ticker.C:
		case <-slot:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// send processes one claimed job; a panic is logged and ends only that
// job (its lease expires and it is claimed again).
func (b *Bridge) send(job SendJob) {
	defer func() {
		if r := recover(); r != nil {
			b.log.Error("send worker panic", "message_id", job.Message.ID, "panic", fmt.Sprint(r))
		}
	}()
	b.process(job)
}

// process takes one claimed job to its next state. Its writes use a context
// that outlives shutdown so an outcome learned from the provider is
// always committed.
func (b *Bridge) process(job SendJob) {
	ctx := context.Background()
	m := job.Message
	log := b.log.With("message_id", m.ID)
	now := b.now()

	if m.Status != StatusQueued || m.WAMID != "" {
		// A status webhook settled it already (reconciliation by echo).
		var err error
		if m.WAMID != "" {
			var changed bool
			if changed, err = b.store.Accepted(ctx, m.ID, m.WAMID, now); changed {
				b.wakeReporters()
			}
		} else {
			_, _, err = b.store.Fail(ctx, m.ID, m.Reason, m.ErrorCode, m.ErrorMessage, now)
		}
		if err != nil {
			log.Error("close settled job", "err", err)
		}
		if !job.AttemptStarted.IsZero() && b.obs != nil {
			b.obs.Reconciled("webhook")
		}
		return
	}
	if !job.AttemptStarted.IsZero() {
		// An earlier attempt's outcome is unknown (crash or lost answer).
		// Wait for status webhooks echoing our id before sending again, so a
		// message Meta accepted is not sent twice.
		until := job.AttemptStarted.Add(b.cfg.ReconcileWindow)
		if now.Before(until) {
			if err := b.store.Defer(ctx, m.ID, until, "awaiting reconciliation"); err != nil {
				log.Error("defer for reconciliation", "err", err)
			}
			return
		}
		log.Warn("no status echoed an unknown send within the reconcile window; sending again",
			"attempt_started", job.AttemptStarted)
		if b.obs != nil {
			b.obs.Reconciled("resend")
		}
	}

	if !m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt) {
		b.fail(ctx, m.ID, ReasonExpired, 0, "validity period ended before sending", now)
		return
	}
	if m.Origin != OriginCompliance {
		// An opted-out customer gets nothing but the confirmation, also
		// what was queued before the STOP — on no channel.
		if out, err := b.OptedOut(ctx, m.Customer); err != nil {
			log.Error("read consent", "err", err)
			return // the lease expires and the job is claimed again
		} else if out {
			rec := &SendRecord{How: SentNone, Why: "the customer opted out (STOP); nothing is sent until START"}
			if err := b.store.RecordSend(ctx, m.ID, rec); err != nil {
				log.Error("record how the message is sent", "err", err)
			}
			b.fail(ctx, m.ID, ReasonOptedOut, 0, "the customer opted out", now)
			return
		}
	}
	if t, skip := b.skipWhatsApp(ctx, m, now); skip {
		b.moveToSMS(ctx, m.ID, t, fmt.Sprintf("sent by SMS without trying WhatsApp: %s", t), now)
		return
	}
	if wait := b.pacer.wait(m.ID, m.Business, m.Customer.Key(), now); wait > pacedInline {
		// Over WhatsApp's throughput for the number or the customer: the
		// message waits for its slot (kept for it), in submission order.
		if err := b.store.Retry(ctx, m.ID, now.Add(wait), "paced"); err != nil {
			log.Error("pace send", "err", err)
		}
		return
	} else if wait > 0 {
		// Its slot is a moment away: the sender waits for it rather than
		// sending the job round the queue (two writer operations and a
		// claim for a wait of microseconds under a raised number rate).
		time.Sleep(wait)
		b.pacer.used(m.ID)
		now = b.now()
	}
	send, rec, ok := b.decide(ctx, job, b.windowOpen(ctx, job, now), now, log)
	if !ok {
		return
	}
	// One commit: the attempt, how the message goes, and — durable before
	// the send — the delivery timeout that moves it to SMS.
	var fallbackAt time.Time
	if b.fallbackOn() && b.cfg.Fallback.Timeout > 0 {
		fallbackAt = now.Add(b.cfg.Fallback.Timeout)
	}
	if err := b.store.StartAttempt(ctx, m.ID, now, rec, fallbackAt); errors.Is(err, ErrNotFound) {
		return // cancelled or settled while claimed
	} else if err != nil {
		log.Error("record attempt", "err", err)
		return // the lease expires and the job is claimed again
	}
	if err := b.uploadForSend(ctx, send); err != nil {
		// Nothing was sent: a definite failure, retried or final as classified.
		b.handleSendError(ctx, job, err, b.now(), log)
		return
	}
	sendCtx, cancel := context.WithTimeout(ctx, b.cfg.SendTimeout)
	wamid, err := b.sender.Send(sendCtx, send)
	cancel()
	now = b.now()
	if err != nil && send.Kind == KindText && b.templates != nil && AsSendError(err).Action == ActionTemplateOrFallback {
		// The provider says the window is closed although we saw it open
		// (clocks differ): resolve a template now and send that instead.
		log.Info("provider reports the window closed; resolving a template", "err", err)
		if send, rec, ok = b.decide(ctx, job, false, now, log); !ok {
			return
		}
		if err := b.store.RecordSend(ctx, m.ID, rec); err != nil {
			log.Error("record how the message is sent", "err", err)
		}
		sendCtx, cancel := context.WithTimeout(ctx, b.cfg.SendTimeout)
		wamid, err = b.sender.Send(sendCtx, send)
		cancel()
		now = b.now()
	}
	if err == nil {
		b.breaker.reset()
		if b.obs != nil {
			b.obs.SendOutcome("accepted", 0)
		}
		changed, err := b.store.Accepted(ctx, m.ID, wamid, now)
		if err != nil {
			// Left as an unknown attempt: the echoed status settles it.
			log.Error("record accepted send", "wamid", wamid, "err", err)
		} else if changed {
			// Statuses that came before the answer were applied (and
			// their reports queued) with it.
			b.wakeReporters()
		}
		return
	}
	b.handleSendError(ctx, job, err, now, log)
}

// pacedInline is the longest wait for a send slot that a sender sleeps
// through; a longer one goes back to the queue until its slot.
const pacedInline = 5 * time.Millisecond

// windowOpen reports whether the customer wrote within the
// customer-service window, from what the claim read or else from the
// store. When the window cannot be read it answers true and lets the
// provider decide (it answers 131047 when closed).
func (b *Bridge) windowOpen(ctx context.Context, job SendJob, now time.Time) bool {
	last := job.LastInbound
	if !job.WindowRead {
		var err error
		m := job.Message
		if last, err = b.store.LastInbound(ctx, m.Business, m.Customer.Key()); err != nil {
			b.log.Error("read window", "message_id", m.ID, "err", err)
			return true
		}
	}
	return !last.IsZero() && now.Sub(last) < b.cfg.Window
}

// decide applies the template policy to a claimed message. It returns
// the message to send and how it goes (for the caller to store with the
// attempt), or false when the message failed or moved to SMS (a refusal;
// its record is stored here) or was rescheduled (the catalogue could not
// be read).
func (b *Bridge) decide(ctx context.Context, job SendJob, windowOpen bool, now time.Time, log *slog.Logger) (*Message, *SendRecord, bool) {
	m := job.Message
	send, rec, err := b.resolve(ctx, m, windowOpen)
	if err == nil && !windowOpen && b.cfg.MessagingLimit > 0 {
		// A business-initiated conversation counts against the tier (only
		// recorded while a tier is set: one write less per message).
		if ok, ierr := b.store.Initiate(ctx, m.Customer.Key(), now, b.cfg.MessagingLimit); ierr != nil {
			err = ierr
		} else if !ok {
			rec = &SendRecord{How: SentNone, Template: rec.Template, Language: rec.Language,
				Why: fmt.Sprintf("the messaging limit of %d customers per 24 hours outside their window is reached", b.cfg.MessagingLimit)}
			err = &RefusedError{Reason: ReasonTierLimit, Msg: rec.Why}
		}
	}
	if err == nil {
		return send, rec, true
	}
	if re, ok := refusal(err); ok {
		if rec != nil {
			if rerr := b.store.RecordSend(ctx, m.ID, rec); rerr != nil {
				log.Error("record how the message is sent", "err", rerr)
			}
		}
		log.Info("not sent on WhatsApp", "reason", re.Reason, "why", re.Msg)
		b.failOrFallback(ctx, m, re.Reason, 0, re.Msg, ActionPermanent, now)
		return nil, nil, false
	}
	delay := Backoff(b.cfg.BackoffInitial, b.cfg.BackoffMax, job.Attempts+1)
	log.Warn("template catalogue unavailable; retrying", "err", err, "retry_in", delay)
	if err := b.store.Retry(ctx, m.ID, now.Add(delay), err.Error()); err != nil {
		log.Error("reschedule send", "err", err)
	}
	return nil, nil, false
}

func (b *Bridge) handleSendError(ctx context.Context, job SendJob, err error, now time.Time, log *slog.Logger) {
	m := job.Message
	se := AsSendError(err)
	if b.obs != nil {
		b.obs.SendOutcome(se.Action.String(), se.Code)
	}
	attempts := job.Attempts + 1
	if b.templates != nil && templateStaleCodes[se.Code] {
		b.templates.Invalidate(fmt.Sprintf("send error %d", se.Code))
	}
	switch se.Action {
	case ActionRetry:
		if attempts >= b.cfg.MaxAttempts {
			log.Warn("giving up after temporary errors", "attempts", attempts, "err", se)
			b.failOrFallback(ctx, m, se.Reason, se.Code, se.Title, ActionPermanent, now)
			return
		}
		delay := Backoff(b.cfg.BackoffInitial, b.cfg.BackoffMax, attempts)
		if se.RetryAfter > delay {
			delay = se.RetryAfter
		}
		if outcomeUnknown(se) {
			// The request may have reached the provider: keep the attempt
			// open so a resend waits for reconciliation.
			if delay < b.cfg.ReconcileWindow {
				delay = b.cfg.ReconcileWindow
			}
			log.Warn("send outcome unknown; will reconcile", "err", se, "retry_in", delay)
			if err := b.store.Defer(ctx, m.ID, now.Add(delay), se.Error()); err != nil {
				log.Error("defer send", "err", err)
			}
			return
		}
		log.Info("temporary send error; retrying", "code", se.Code, "attempt", attempts, "retry_in", delay)
		if err := b.store.Retry(ctx, m.ID, now.Add(delay), se.Error()); err != nil {
			log.Error("reschedule send", "err", err)
		}
	case ActionTemplateOrFallback:
		// The window is closed and no template was found (or the message
		// is not text): no fallback yet, the message fails.
		b.failOrFallback(ctx, m, ReasonWindowClosed, se.Code, se.Title, se.Action, now)
	default:
		reason := se.Reason
		if reason == "" {
			reason = ReasonUpstreamError
		}
		log.Info("send refused", "code", se.Code, "reason", reason, "action", se.Action.String())
		b.failOrFallback(ctx, m, reason, se.Code, se.Title, se.Action, now)
	}
}

// outcomeUnknown reports whether a failed call may still have been acted
// on by the provider: a transport error after the request could have been
// sent. A refused connection or an answered error is a definite failure.
func outcomeUnknown(se *SendError) bool {
	if se.Err == nil || se.Code != 0 {
		return false
	}
	return !errors.Is(se.Err, syscall.ECONNREFUSED)
}

func (b *Bridge) fail(ctx context.Context, id MessageID, reason Reason, code int, msg string, now time.Time) {
	m, changed, err := b.store.Fail(ctx, id, reason, code, msg, now)
	if err != nil {
		b.log.Error("record failure", "message_id", id, "err", err)
		return
	}
	if changed {
		b.observeMessage(m)
		if ReportsOrigin(m.Origin) {
			b.wakeReporters()
		}
	}
}

// Backoff returns the delay before retry number attempt (1-based):
// initial·2^(attempt-1), capped at max.
func Backoff(initial, max time.Duration, attempt int) time.Duration {
	d := initial
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}
