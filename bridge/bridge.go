package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config tunes the core. Zero values take the documented defaults.
type Config struct {
	// BusinessNumbers are the E.164 numbers messages may be sent from; the
	// first is the default sender.
	BusinessNumbers []string
	// Workers is the number of concurrent sends (default 64).
	Workers int
	// MaxAttempts bounds tries on temporary errors (default 8).
	MaxAttempts int
	// BackoffInitial and BackoffMax shape the exponential retry delay (1s, 5m).
	BackoffInitial, BackoffMax time.Duration
	// Lease is how long a claimed job stays with its worker (default 60s).
	Lease time.Duration
	// ReconcileWindow is how long a send whose outcome is unknown waits for
	// status webhooks echoing its id before it is sent again (default 2m).
	ReconcileWindow time.Duration
	// PollInterval is how often the outbox is scanned when nothing wakes it (1s).
	PollInterval time.Duration
	// Window is the customer-service window (24h).
	Window time.Duration
	// SendTimeout bounds one provider call (default 30s).
	SendTimeout time.Duration
	// MediaWorkers is the number of concurrent media downloads (default 2).
	MediaWorkers int
	// MediaTimeout bounds one media download or upload (default 10m).
	MediaTimeout time.Duration
	// MediaRetryFor is how long a customer's media is retried: Meta keeps
	// inbound media ids for 7 days (default 7×24h).
	MediaRetryFor time.Duration
	// Compliance turns opt-out and opt-in keywords on (nil: off).
	Compliance *Compliance
	// Pacing keeps sends within WhatsApp's throughput limits.
	Pacing Pacing
	// Fallback is [fallback]: when messages move to SMS (with an SMS route).
	Fallback FallbackPolicy
	// MessagingLimit is the account's tier: unique customers it may
	// start conversations with (outside their window) per rolling 24
	// hours (250, 2000, 10000, 100000); 0: unlimited.
	MessagingLimit int
}

func (c *Config) setDefaults() {
	if c.Fallback.BreakerProbe <= 0 {
		c.Fallback.BreakerProbe = time.Minute
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Workers <= 0 {
		c.Workers = 64
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	def(&c.BackoffInitial, time.Second)
	def(&c.BackoffMax, 5*time.Minute)
	def(&c.Lease, time.Minute)
	def(&c.ReconcileWindow, 2*time.Minute)
	def(&c.PollInterval, time.Second)
	def(&c.Window, 24*time.Hour)
	def(&c.SendTimeout, 30*time.Second)
	if c.MediaWorkers <= 0 {
		c.MediaWorkers = 2
	}
	def(&c.MediaTimeout, 10*time.Minute)
	def(&c.MediaRetryFor, 7*24*time.Hour)
}

// Observer receives counts for metrics. Methods must be cheap and safe for
// concurrent use. A nil Observer counts nothing.
type Observer interface {
	// MessageStatus is called once each time a message enters a status.
	MessageStatus(dir Direction, ch Channel, st Status)
	// SendOutcome is called after each provider call with its classified result.
	SendOutcome(action string, code int)
	// Reconciled counts sends whose unknown outcome was settled: "webhook"
	// (a status echoed our id) or "resend".
	Reconciled(how string)
	// InboundKind counts each new inbound message by its kind; "unknown"
	// covers types wabridge does not model (kept raw).
	InboundKind(kind Kind)
	// MediaFetched counts media download attempts by result: ok, retry, failed.
	MediaFetched(result string)
	// Failed is called once when a message fails, with its reason and the
	// upstream code (0 when wabridge decided), whichever path reported it.
	Failed(reason Reason, code int)
}

// Bridge is the core: it accepts outbound messages, takes provider events,
// keeps the customer-service window and drives the outbox.
type Bridge struct {
	cfg         Config
	store       Store
	sender      Sender
	log         *slog.Logger
	obs         Observer
	now         func() time.Time
	reporters   []StatusReporter
	templates   TemplateResolver
	eventHook   func(RawEvent)
	pacer       *pacer
	smsRoutes   []SMSRoute
	breaker     breaker
	smsWake     chan struct{}
	consumers   []InboundConsumer
	files       FileStore
	transfer    MediaTransfer
	wake        chan struct{}
	mediaWake   chan struct{}
	inboundWake chan struct{}
	reportWake  chan struct{}
	mu          sync.Mutex
	running     bool
}

// Option changes a Bridge at construction.
type Option func(*Bridge)

// WithObserver sets the metrics observer.
func WithObserver(o Observer) Option { return func(b *Bridge) { b.obs = o } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(b *Bridge) { b.now = now } }

// WithFiles sets the store of media files (uploads to send, downloads).
func WithFiles(f FileStore) Option { return func(b *Bridge) { b.files = f } }

// WithReporters adds edges that report outcomes to a message's origin.
func WithReporters(r ...StatusReporter) Option {
	return func(b *Bridge) { b.reporters = append(b.reporters, r...) }
}

// WithEventHook calls fn (quickly; it must not block) for every new
// webhook item the core does not act on itself (account updates, quality
// changes), after it was stored.
func WithEventHook(fn func(RawEvent)) Option {
	return func(b *Bridge) { b.eventHook = fn }
}

// WithConsumers adds edges that deliver inbound messages.
func WithConsumers(c ...InboundConsumer) Option {
	return func(b *Bridge) { b.consumers = append(b.consumers, c...) }
}

// New returns a Bridge over store that sends through sender.
func New(cfg Config, store Store, sender Sender, log *slog.Logger, opts ...Option) (*Bridge, error) {
	cfg.setDefaults()
	if store == nil || sender == nil {
		return nil, errors.New("bridge: store and sender are required")
	}
	if len(cfg.BusinessNumbers) == 0 {
		return nil, errors.New("bridge: at least one business number is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	} else {
		log = slog.New(newLazyAttrs(log.Handler()))
	}
	b := &Bridge{cfg: cfg, store: store, sender: sender, log: log, now: time.Now,
		wake: make(chan struct{}, 1), mediaWake: make(chan struct{}, 1),
		inboundWake: make(chan struct{}, 1), reportWake: make(chan struct{}, 1), smsWake: make(chan struct{}, 1)}
	for _, o := range opts {
		o(b)
	}
	b.pacer = newPacer(cfg.Pacing)
	b.transfer, _ = sender.(MediaTransfer)
	if p, ok := store.(ReportPlanner); ok {
		p.PlanReports(b.planReports)
	}
	return b, nil
}

// planReports is the bridge's ReportPlanner plan: the jobs of the
// JobReporters owning m's origin; covered is false when some owner is
// neither a JobReporter nor a StatusFilter passing on m's status (then a
// report job calls Report as usual).
func (b *Bridge) planReports(m *Message) (jobs []JobRef, covered bool) {
	for _, r := range b.reporters {
		if !r.Owns(m.Origin) {
			continue
		}
		if f, ok := r.(StatusFilter); ok && !f.Reports(m) {
			continue
		}
		jr, ok := r.(JobReporter)
		if !ok {
			return nil, false
		}
		jobs = append(jobs, jr.ReportJobs(m)...)
	}
	return jobs, true
}

// wakeReporters is called after a commit that changed a reported status:
// the report loop and every JobReporter look at their queues.
func (b *Bridge) wakeReporters() {
	b.wakeQueued(nil)
}

// wakeQueued wakes the loops of the report queues q names (all of them
// when q is nil: the store did not say).
func (b *Bridge) wakeQueued(q *ReportsQueued) {
	if q == nil || q.ReportJobs {
		poke(b.reportWake)
	}
	if q != nil && !q.ReporterJobs {
		return
	}
	for _, r := range b.reporters {
		if jr, ok := r.(JobReporter); ok {
			jr.Kick()
		}
	}
}

// MaxTextLength is WhatsApp's limit for a text message body, in characters.
const MaxTextLength = 4096

// Submit validates an outbound message, commits it with its send job and
// returns its id; it returns only after the commit. A repeated idempotency
// key (same origin) returns the original id with created == false and sends
// nothing. Refusals known now are *RefusedError.
func (b *Bridge) Submit(ctx context.Context, m *Message) (id MessageID, created bool, err error) {
	return b.SubmitQueued(ctx, m)()
}

// SubmitQueued is Submit in two steps: it validates m and hands its write
// to the store before it returns; wait returns Submit's results once the
// write is durable. Messages queued one after another (the submit_sm of one
// SMPP session) are committed in that order and may share a group commit,
// so a caller can queue the next one before the first is durable. With a
// store that cannot queue (not an OutboundQueuer) the write is done before
// SubmitQueued returns.
func (b *Bridge) SubmitQueued(ctx context.Context, m *Message) (wait func() (MessageID, bool, error)) {
	fail := func(err error) func() (MessageID, bool, error) {
		return func() (MessageID, bool, error) { return "", false, err }
	}
	if err := b.validate(ctx, m); err != nil {
		return fail(err)
	}
	if m.Origin == "" || m.Origin == "api" {
		// The REST API refuses at once (409); SMPP and mail learn it
		// from the receipt or bounce, or check first (SMTP at RCPT).
		if out, err := b.OptedOut(ctx, m.Customer); err != nil {
			return fail(err)
		} else if out {
			return fail(&RefusedError{Reason: ReasonOptedOut, Msg: "the customer opted out (STOP); nothing is sent until they opt in (START)"})
		}
	}
	now := b.now()
	m.ID = NewID(now)
	m.Direction, m.Channel, m.Status = Outbound, ChannelWhatsApp, StatusQueued
	m.WAMID = "" // given by the provider when it accepts the send
	m.CreatedAt, m.UpdatedAt = now, now
	m.History = []HistoryEntry{{Status: StatusQueued, At: now}}
	if !m.NotBefore.IsZero() && m.NotBefore.Before(now) {
		m.NotBefore = time.Time{}
	}
	var stored func() (MessageID, bool, error)
	if q, ok := b.store.(OutboundQueuer); ok {
		stored = q.CreateOutboundQueued(ctx, m)
	} else {
		id, created, err := b.store.CreateOutbound(ctx, m)
		stored = func() (MessageID, bool, error) { return id, created, err }
	}
	return func() (MessageID, bool, error) {
		id, created, err := stored()
		if err != nil {
			return "", false, fmt.Errorf("bridge: submit: %w", err)
		}
		if created {
			b.observe(Outbound, ChannelWhatsApp, StatusQueued)
			b.Wake()
		}
		return id, created, nil
	}
}

func (b *Bridge) validate(ctx context.Context, m *Message) error {
	if m.Business == "" {
		m.Business = b.cfg.BusinessNumbers[0]
	}
	if !slices.Contains(b.cfg.BusinessNumbers, m.Business) {
		return &RefusedError{Reason: ReasonInvalid, Field: "from", Msg: "not a configured business number"}
	}
	if m.Customer.IsZero() {
		return &RefusedError{Reason: ReasonInvalid, Field: "to", Msg: "recipient is required"}
	}
	if m.Customer.Phone != "" && NormalizePhone(m.Customer.Phone) != m.Customer.Phone {
		return &RefusedError{Reason: ReasonInvalid, Field: "to", Msg: "not an E.164 number"}
	}
	if m.Customer.Phone == "" && !IsBSUID(m.Customer.BSUID) {
		return &RefusedError{Reason: ReasonInvalid, Field: "to", Msg: "not a business-scoped user id"}
	}
	return b.validateContent(ctx, m)
}

// validateTemplate refuses template content that no provider would send:
// empty parameters, a header media with neither or both of id and link,
// buttons without a payload or with a negative index.
func validateTemplate(t *Template) error {
	bad := func(field, msg string) error { return &RefusedError{Reason: ReasonInvalid, Field: field, Msg: msg} }
	if len(t.Params) > 0 && len(t.NamedParams) > 0 {
		return bad("template.params", "use positional or named parameters, not both")
	}
	for i, p := range t.Params {
		if p == "" {
			return bad(fmt.Sprintf("template.params[%d]", i), "parameter is empty")
		}
	}
	for name, v := range t.NamedParams {
		if name == "" || v == "" {
			return bad("template.params", "named parameters need a name and a value")
		}
	}
	if h := t.HeaderMedia; h != nil {
		switch h.Type {
		case "image", "video", "document":
		default:
			return bad("template.header.type", "header media must be image, video or document")
		}
		if (h.ID == "") == (h.Link == "") {
			return bad("template.header", "a media header needs exactly one of id and link")
		}
	}
	for i, b := range t.Buttons {
		switch {
		case b.SubType != "quick_reply" && b.SubType != "url" && b.SubType != "copy_code":
			return bad(fmt.Sprintf("template.buttons[%d].sub_type", i), "sub_type must be quick_reply, url or copy_code")
		case b.Index < 0:
			return bad(fmt.Sprintf("template.buttons[%d].index", i), "index must not be negative")
		case b.Payload == "":
			return bad(fmt.Sprintf("template.buttons[%d].payload", i), "payload is empty")
		}
	}
	return nil
}

// SubmitPart commits one part of a concatenated submission and returns the
// part's own id once it is durable. m is the message the parts make (its
// addressing and origin; Content.Text is this part's text) and is validated
// now. When p completes the set, the parts' texts are joined in order into
// the message, finish lets the edge record what it needs (the part ids)
// and the message is committed with its send job in the same transaction;
// whole is that message, nil while parts are missing.
func (b *Bridge) SubmitPart(ctx context.Context, m *Message, p *Part, finish func(parts []Part, m *Message)) (id MessageID, whole *Message, err error) {
	m.Kind, m.Content.Text = KindText, p.Text
	if err := b.validate(ctx, m); err != nil {
		return "", nil, err
	}
	now := b.now()
	p.ID, p.Origin, p.ReceivedAt = NewID(now), m.Origin, now
	id, whole, err = b.store.AddPart(ctx, p, func(parts []Part) (*Message, error) {
		var text strings.Builder
		for _, x := range parts {
			text.WriteString(x.Text)
		}
		w := *m
		w.ID = NewID(now)
		w.Content.Text = text.String()
		w.Direction, w.Channel, w.Status = Outbound, ChannelWhatsApp, StatusQueued
		w.WAMID = ""
		w.CreatedAt, w.UpdatedAt = now, now
		w.History = []HistoryEntry{{Status: StatusQueued, At: now}}
		if finish != nil {
			finish(parts, &w)
		}
		return &w, nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("bridge: submit part: %w", err)
	}
	if whole != nil {
		b.observe(Outbound, ChannelWhatsApp, StatusQueued)
		b.Wake()
	}
	return id, whole, nil
}

// Cancel cancels a queued message of origin whose send has not begun: it
// fails with reason cancelled (reported to the origin like any outcome).
// ErrNotFound when no message of that origin has the id; ErrNotCancellable
// when it is no longer queued.
func (b *Bridge) Cancel(ctx context.Context, id MessageID, origin string) (*Message, error) {
	m, err := b.store.Message(ctx, string(id))
	if err != nil {
		return nil, err
	}
	if m.ID != id || m.Origin != origin || m.Direction != Outbound {
		return nil, ErrNotFound
	}
	m, err = b.store.CancelQueued(ctx, id, b.now())
	if err != nil {
		return nil, err
	}
	b.observeMessage(m)
	b.wakeReporters()
	return m, nil
}

// Message returns a message by wabridge id or wamid.
func (b *Bridge) Message(ctx context.Context, idOrWAMID string) (*Message, error) {
	return b.store.Message(ctx, idOrWAMID)
}

// MessageHead is Message for callers that do not look at the history:
// with a store that can, it is not read (History is nil).
func (b *Bridge) MessageHead(ctx context.Context, idOrWAMID string) (*Message, error) {
	if r, ok := b.store.(MessageHeadReader); ok {
		return r.MessageHead(ctx, idOrWAMID)
	}
	return b.store.Message(ctx, idOrWAMID)
}

// MessageByKey returns the message an origin submitted with an
// idempotency key (ErrNotFound if none): an edge asks before repeating
// expensive work for a submission it may already have made.
func (b *Bridge) MessageByKey(ctx context.Context, origin, key string) (*Message, error) {
	return b.store.MessageByKey(ctx, origin, key)
}

// HandleEvents commits a batch of provider webhook events (durably, once
// per natural key) and then tells the origins and consumers. The caller
// acknowledges the webhook only after a nil error.
func (b *Bridge) HandleEvents(ctx context.Context, events []Event) (IngestResult, error) {
	if b.fallbackOn() {
		for _, e := range events {
			if st := e.Status; st != nil && st.Status == StatusFailed {
				code := 0
				if len(st.Errors) > 0 {
					code = st.Errors[0].Code
				}
				if t, ok := FallbackFor(b.cfg.Fallback, st.Reason, code, st.Action); ok {
					st.Fallback = t
				}
			}
		}
	}
	out, err := b.store.Ingest(ctx, events)
	if err != nil {
		return IngestResult{}, fmt.Errorf("bridge: ingest: %w", err)
	}
	if b.eventHook != nil {
		for _, e := range events {
			if e.Other != nil {
				b.eventHook(*e.Other)
			}
		}
	}
	if b.templates != nil {
		for _, e := range events {
			if st := e.Status; st != nil && st.Status == StatusFailed && len(st.Errors) > 0 && templateStaleCodes[st.Errors[0].Code] {
				b.templates.Invalidate(fmt.Sprintf("status error %d", st.Errors[0].Code))
			}
			if e.Other != nil && templateFields[e.Other.Field] {
				// A template changed (status, components, category,
				// quality): the next send reads the catalogue anew.
				b.templates.Invalidate(e.Other.Field)
				break
			}
		}
	}
	for _, m := range out.Inbound {
		b.observe(Inbound, m.Channel, StatusReceived)
		if b.obs != nil {
			b.obs.InboundKind(m.Kind)
		}
		if m.Kind.IsMedia() {
			poke(b.mediaWake)
		}
	}
	if len(out.Inbound) > 0 {
		poke(b.inboundWake)
	}
	reported := false
	for _, m := range out.Changed {
		b.observeMessage(m)
		reported = reported || ReportsOrigin(m.Origin)
		if m.Channel == ChannelSMS {
			poke(b.smsWake) // a failed status moved it to SMS
		}
	}
	if reported {
		b.wakeQueued(out.Queued)
	}
	if b.obs != nil {
		for range out.Reconciled {
			b.obs.Reconciled("webhook")
		}
	}
	return out.IngestResult, nil
}

// HandleInbound commits one inbound message; see HandleEvents.
func (b *Bridge) HandleInbound(ctx context.Context, m *Message) error {
	_, err := b.HandleEvents(ctx, []Event{{Inbound: m}})
	return err
}

// HandleStatus commits one status update; see HandleEvents.
func (b *Bridge) HandleStatus(ctx context.Context, s *StatusUpdate) error {
	_, err := b.HandleEvents(ctx, []Event{{Status: s}})
	return err
}

func (b *Bridge) observe(dir Direction, ch Channel, st Status) {
	if b.obs != nil {
		b.obs.MessageStatus(dir, ch, st)
	}
}

// observeMessage counts a message entering its current status.
func (b *Bridge) observeMessage(m *Message) {
	if b.obs == nil {
		return
	}
	b.obs.MessageStatus(m.Direction, m.Channel, m.Status)
	if m.Status == StatusFailed {
		b.obs.Failed(m.Reason, m.ErrorCode)
	}
}

// WindowState describes a customer-service window.
type WindowState struct {
	Business    string
	Customer    string
	Open        bool
	LastInbound time.Time
	ExpiresAt   time.Time // zero when the customer never wrote
	Remaining   time.Duration
}

// Window returns the customer-service window of (business, customer key).
func (b *Bridge) Window(ctx context.Context, business, customer string) (WindowState, error) {
	last, err := b.store.LastInbound(ctx, business, customer)
	if err != nil {
		return WindowState{}, err
	}
	w := WindowState{Business: business, Customer: customer, LastInbound: last}
	if last.IsZero() {
		return w, nil
	}
	w.ExpiresAt = last.Add(b.cfg.Window)
	w.Remaining = w.ExpiresAt.Sub(b.now())
	if w.Remaining > 0 {
		w.Open = true
	} else {
		w.Remaining = 0
	}
	return w, nil
}

// BusinessNumbers returns the configured sender numbers, default first.
func (b *Bridge) BusinessNumbers() []string { return slices.Clone(b.cfg.BusinessNumbers) }
