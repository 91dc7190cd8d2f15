package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/store"
)

const business = "+15550100001"

// scriptedSender answers sends from a queue of results (nil = accepted).
type scriptedSender struct {
	mu      sync.Mutex
	results []error
	sent    []*bridge.Message
	n       int
}

func (s *scriptedSender) Send(_ context.Context, m *bridge.Message) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	s.n++
	if len(s.results) > 0 {
		err := s.results[0]
		s.results = s.results[1:]
		if err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("wamid.%d", s.n), nil
}

func (s *scriptedSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// clock is the real clock plus an offset tests can move forward.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.offset) }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

type env struct {
	t      *testing.T
	st     *store.SQLite
	b      *bridge.Bridge
	sender *scriptedSender
	clk    *clock
	path   string
}

// envConfig is the bridge's configuration in newEnv: two senders, fast retries.
var envConfig = bridge.Config{
	BusinessNumbers: []string{business}, Workers: 2, MaxAttempts: 3,
	BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond,
	ReconcileWindow: time.Minute, PollInterval: 5 * time.Millisecond,
}

func newEnv(t *testing.T, sender *scriptedSender, path string) *env {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "w.db")
	}
	st, err := store.OpenSQLite(context.Background(), store.SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{}
	b, err := bridge.New(envConfig, st, sender, nil, bridge.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st, b: b, sender: sender, clk: clk, path: path}
}

// run starts the send loop until the test ends.
func (e *env) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.b.Run(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

func (e *env) inbound(customer, wamid string) {
	e.t.Helper()
	err := e.b.HandleInbound(context.Background(), &bridge.Message{
		Business: business, Customer: bridge.Customer{Phone: customer}, Kind: bridge.KindText,
		Content: bridge.Content{Text: "hi"}, WAMID: wamid, Channel: bridge.ChannelWhatsApp,
		Timestamp: e.clk.now(),
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) waitFor(id bridge.MessageID, cond func(*bridge.Message) bool) *bridge.Message {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := e.st.Message(context.Background(), string(id))
		if err != nil {
			e.t.Fatal(err)
		}
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("message %s: condition not met; status %s reason %s wamid %q", id, m.Status, m.Reason, m.WAMID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func text(to, body string) *bridge.Message {
	return &bridge.Message{Customer: bridge.Customer{Phone: to}, Kind: bridge.KindText, Content: bridge.Content{Text: body}}
}

func TestSendInsideWindowThenStatuses(t *testing.T) {
	e := newEnv(t, &scriptedSender{}, "")
	e.inbound("+4915112345678", "wamid.in1")
	e.run()
	id, created, err := e.b.Submit(context.Background(), text("+4915112345678", "hello"))
	if err != nil || !created {
		t.Fatalf("submit: %v %v", created, err)
	}
	m := e.waitFor(id, func(m *bridge.Message) bool { return m.WAMID != "" })
	for _, st := range []string{"sent", "delivered", "read", "delivered", "sent"} { // late duplicates at the end
		s, _ := bridge.ParseStatus(st)
		if err := e.b.HandleStatus(context.Background(), &bridge.StatusUpdate{WAMID: m.WAMID, Status: s, RawStatus: st, Timestamp: e.clk.now()}); err != nil {
			t.Fatal(err)
		}
	}
	m = e.waitFor(id, func(m *bridge.Message) bool { return m.Status == bridge.StatusRead })
	var hist []bridge.Status
	for _, h := range m.History {
		hist = append(hist, h.Status)
	}
	if fmt.Sprint(hist) != "[queued sent delivered read]" {
		t.Errorf("history = %v", hist)
	}
}

func TestFreeformOutsideWindowFailsWindowClosed(t *testing.T) {
	e := newEnv(t, &scriptedSender{}, "")
	e.run()
	id, _, err := e.b.Submit(context.Background(), text("+4915112345678", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	m := e.waitFor(id, func(m *bridge.Message) bool { return m.Status == bridge.StatusFailed })
	if m.Reason != bridge.ReasonWindowClosed || e.sender.count() != 0 {
		t.Errorf("reason %s, sends %d", m.Reason, e.sender.count())
	}
	// An expired window counts as closed too.
	e.inbound("+4915112345679", "wamid.old")
	e.clk.add(24*time.Hour + time.Second)
	id, _, _ = e.b.Submit(context.Background(), text("+4915112345679", "late"))
	m = e.waitFor(id, func(m *bridge.Message) bool { return m.Status == bridge.StatusFailed })
	if m.Reason != bridge.ReasonWindowClosed {
		t.Errorf("expired window: reason %s", m.Reason)
	}
}

func TestTemplateOutsideWindowIsSent(t *testing.T) {
	e := newEnv(t, &scriptedSender{}, "")
	e.run()
	id, _, err := e.b.Submit(context.Background(), &bridge.Message{Customer: bridge.Customer{Phone: "+4915112345678"},
		Kind: bridge.KindTemplate, Content: bridge.Content{Template: &bridge.Template{Name: "order_update", Language: "en_US", Params: []string{"1", "2"}}}})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor(id, func(m *bridge.Message) bool { return m.WAMID != "" })
}

func TestRetryThenGiveUp(t *testing.T) {
	tmp := &bridge.SendError{Code: 131000, Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError, Title: "Something went wrong"}
	e := newEnv(t, &scriptedSender{results: []error{tmp, tmp, tmp}}, "")
	e.inbound("+4915112345678", "wamid.in1")
	e.run()
	id, _, _ := e.b.Submit(context.Background(), text("+4915112345678", "x"))
	m := e.waitFor(id, func(m *bridge.Message) bool { return m.Status == bridge.StatusFailed })
	if m.Reason != bridge.ReasonUpstreamError || m.ErrorCode != 131000 || e.sender.count() != 3 {
		t.Errorf("reason %s code %d sends %d", m.Reason, m.ErrorCode, e.sender.count())
	}
}

func TestRetryThenSucceed(t *testing.T) {
	tmp := &bridge.SendError{Code: 130429, Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError}
	e := newEnv(t, &scriptedSender{results: []error{tmp}}, "")
	e.inbound("+4915112345678", "wamid.in1")
	e.run()
	id, _, _ := e.b.Submit(context.Background(), text("+4915112345678", "x"))
	e.waitFor(id, func(m *bridge.Message) bool { return m.WAMID != "" })
	if e.sender.count() != 2 {
		t.Errorf("sends = %d", e.sender.count())
	}
}

func TestPermanentAndFallbackErrorsFail(t *testing.T) {
	for _, se := range []*bridge.SendError{
		{Code: 131026, Action: bridge.ActionFallback, Reason: bridge.ReasonNotOnWhatsApp},
		{Code: 190, Action: bridge.ActionFallback, Reason: bridge.ReasonAccountError},
		{Code: 132001, Action: bridge.ActionTemplateInvalid, Reason: bridge.ReasonTemplateError},
		{Code: 131047, Action: bridge.ActionTemplateOrFallback, Reason: bridge.ReasonWindowClosed},
		{Code: 100, Action: bridge.ActionPermanent, Reason: bridge.ReasonUpstreamError},
	} {
		e := newEnv(t, &scriptedSender{results: []error{se}}, "")
		e.inbound("+4915112345678", "wamid.in1")
		e.run()
		id, _, _ := e.b.Submit(context.Background(), text("+4915112345678", "x"))
		m := e.waitFor(id, func(m *bridge.Message) bool { return m.Status == bridge.StatusFailed })
		if m.Reason != se.Reason || m.ErrorCode != se.Code || e.sender.count() != 1 {
			t.Errorf("code %d: reason %s code %d sends %d", se.Code, m.Reason, m.ErrorCode, e.sender.count())
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, &scriptedSender{}, "")
	m1 := text("+4915112345678", "x")
	m1.IdempotencyKey, m1.Origin = "k1", "api"
	id1, created1, err := e.b.Submit(context.Background(), m1)
	if err != nil || !created1 {
		t.Fatal(created1, err)
	}
	m2 := text("+4915112345678", "x")
	m2.IdempotencyKey, m2.Origin = "k1", "api"
	id2, created2, err := e.b.Submit(context.Background(), m2)
	if err != nil || created2 || id2 != id1 {
		t.Fatalf("repeat: id %s (want %s) created %v err %v", id2, id1, created2, err)
	}
	if n, _ := e.st.OutboxDepth(context.Background()); n != 1 {
		t.Errorf("outbox depth %d, want 1", n)
	}
}

func TestSubmitRefusals(t *testing.T) {
	e := newEnv(t, &scriptedSender{}, "")
	cases := map[string]*bridge.Message{
		"to":            text("12", "x"),
		"text":          text("+4915112345678", ""),
		"from":          {Business: "+15559999999", Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindText, Content: bridge.Content{Text: "x"}},
		"template.name": {Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindTemplate, Content: bridge.Content{Template: &bridge.Template{}}},
	}
	long := make([]rune, bridge.MaxTextLength+1)
	for i := range long {
		long[i] = 'é'
	}
	cases["text "] = text("+4915112345678", string(long))
	for field, m := range cases {
		_, _, err := e.b.Submit(context.Background(), m)
		var re *bridge.RefusedError
		if !errors.As(err, &re) {
			t.Errorf("%s: err = %v, want RefusedError", field, err)
			continue
		}
		if want := field; want != "text " && re.Field != want {
			t.Errorf("%s: field %q", field, re.Field)
		}
	}
}

// A status echoing our id settles a send whose wamid was never recorded:
// the job is closed without a second send.
func TestReconcileFromEchoedStatus(t *testing.T) {
	e := newEnv(t, &scriptedSender{}, "")
	e.inbound("+4915112345678", "wamid.in1")
	id, _, _ := e.b.Submit(context.Background(), text("+4915112345678", "x"))
	// Simulate a crash after the request left: the attempt started, no outcome.
	jobs, err := e.st.ClaimSends(context.Background(), e.clk.now(), 10, time.Minute)
	if err != nil || len(jobs) != 1 {
		t.Fatal(len(jobs), err)
	}
	if err := e.st.StartAttempt(context.Background(), id, e.clk.now(), nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.st.Close()
	e2 := newEnv(t, &scriptedSender{}, e.path) // "restart": leases released
	e2.run()
	// Inside the reconcile window nothing is sent.
	time.Sleep(50 * time.Millisecond)
	if e2.sender.count() != 0 {
		t.Fatalf("sent %d times during reconciliation", e2.sender.count())
	}
	if err := e2.b.HandleStatus(context.Background(), &bridge.StatusUpdate{WAMID: "wamid.meta", Status: bridge.StatusSent,
		RawStatus: "sent", CallbackData: string(id), Timestamp: e2.clk.now()}); err != nil {
		t.Fatal(err)
	}
	m := e2.waitFor(id, func(m *bridge.Message) bool { return m.Status == bridge.StatusSent })
	if m.WAMID != "wamid.meta" {
		t.Errorf("wamid %q", m.WAMID)
	}
	e2.clk.add(2 * time.Minute)
	e2.b.Wake()
	time.Sleep(50 * time.Millisecond)
	if e2.sender.count() != 0 {
		t.Errorf("resent a reconciled message")
	}
	if n, _ := e2.st.OutboxDepth(context.Background()); n != 0 {
		t.Errorf("outbox depth %d", n)
	}
}

// With no echo inside the reconcile window, the message is sent again.
func TestReconcileTimeoutResends(t *testing.T) {
	e := newEnv(t, &scriptedSender{}, "")
	e.inbound("+4915112345678", "wamid.in1")
	id, _, _ := e.b.Submit(context.Background(), text("+4915112345678", "x"))
	if _, err := e.st.ClaimSends(context.Background(), e.clk.now(), 10, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.st.StartAttempt(context.Background(), id, e.clk.now(), nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.clk.add(time.Minute + time.Second)
	e.run()
	e.waitFor(id, func(m *bridge.Message) bool { return m.WAMID != "" })
	if e.sender.count() != 1 {
		t.Errorf("sends = %d", e.sender.count())
	}
}

// A status that arrives before the send's wamid is committed (no callback
// data) is kept and applied when the wamid is recorded.
func TestStatusBeforeWAMIDIsApplied(t *testing.T) {
	e := newEnv(t, &scriptedSender{}, "")
	e.inbound("+4915112345678", "wamid.in1")
	if err := e.b.HandleStatus(context.Background(), &bridge.StatusUpdate{WAMID: "wamid.1", Status: bridge.StatusDelivered, RawStatus: "delivered", Timestamp: e.clk.now()}); err != nil {
		t.Fatal(err)
	}
	e.run()
	id, _, _ := e.b.Submit(context.Background(), text("+4915112345678", "x"))
	m := e.waitFor(id, func(m *bridge.Message) bool { return m.Status == bridge.StatusDelivered })
	if m.WAMID != "wamid.1" {
		t.Errorf("wamid %q", m.WAMID)
	}
}

func TestFailedThenDeliveredKeepsHistory(t *testing.T) {
	e := newEnv(t, &scriptedSender{}, "")
	e.inbound("+4915112345678", "wamid.in1")
	e.run()
	id, _, _ := e.b.Submit(context.Background(), text("+4915112345678", "x"))
	m := e.waitFor(id, func(m *bridge.Message) bool { return m.WAMID != "" })
	ctx := context.Background()
	_ = e.b.HandleStatus(ctx, &bridge.StatusUpdate{WAMID: m.WAMID, Status: bridge.StatusFailed, RawStatus: "failed",
		Errors: []bridge.UpstreamError{{Code: 131026, Title: "Message undeliverable"}}, Reason: bridge.ReasonNotOnWhatsApp, Action: bridge.ActionFallback})
	_ = e.b.HandleStatus(ctx, &bridge.StatusUpdate{WAMID: m.WAMID, Status: bridge.StatusDelivered, RawStatus: "delivered"})
	m, _ = e.st.Message(ctx, string(id))
	if m.Status != bridge.StatusFailed || m.Reason != bridge.ReasonNotOnWhatsApp || m.ErrorCode != 131026 {
		t.Errorf("status %s reason %s code %d", m.Status, m.Reason, m.ErrorCode)
	}
	last := m.History[len(m.History)-1]
	if last.Status != bridge.StatusDelivered {
		t.Errorf("delivery not in history: %+v", m.History)
	}
}

func TestInboundIdempotentAndWindow(t *testing.T) {
	e := newEnv(t, &scriptedSender{}, "")
	ctx := context.Background()
	in := &bridge.Message{Business: business, Customer: bridge.Customer{BSUID: "US.13491208655302741918"},
		Kind: bridge.KindText, Content: bridge.Content{Text: "hi"}, WAMID: "wamid.bsuid", Channel: bridge.ChannelWhatsApp, Timestamp: e.clk.now()}
	res, err := e.b.HandleEvents(ctx, []bridge.Event{{Inbound: in}, {Inbound: in}})
	if err != nil || res.Inbound != 1 || res.Duplicates != 1 {
		t.Fatalf("res %+v err %v", res, err)
	}
	w, err := e.b.Window(ctx, business, "US.13491208655302741918")
	if err != nil || !w.Open || w.Remaining <= 23*time.Hour {
		t.Errorf("window %+v err %v", w, err)
	}
	w, _ = e.b.Window(ctx, business, "+4915100000000")
	if w.Open || !w.ExpiresAt.IsZero() {
		t.Errorf("unknown customer window %+v", w)
	}
}

type fakeConsumer struct {
	numbers  []string
	mu       sync.Mutex
	got      []bridge.MessageID
	failOnce bool
}

func (f *fakeConsumer) Wants(business string) bool {
	for _, n := range f.numbers {
		if n == business {
			return true
		}
	}
	return false
}

func (f *fakeConsumer) Deliver(_ context.Context, m *bridge.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failOnce {
		f.failOnce = false
		return errors.New("receiver not bound")
	}
	f.got = append(f.got, m.ID)
	return nil
}

func (f *fakeConsumer) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.got) }

type fakeReporter struct {
	origin string
	mu     sync.Mutex
	got    []bridge.Status
}

func (f *fakeReporter) Owns(origin string) bool { return origin == f.origin }
func (f *fakeReporter) Report(_ context.Context, m *bridge.Message) error {
	f.mu.Lock()
	f.got = append(f.got, m.Status)
	f.mu.Unlock()
	return nil
}

func (f *fakeReporter) statuses() []bridge.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bridge.Status(nil), f.got...)
}

// Inbound messages go to every consumer listing the business number
// (retried when a consumer fails); status reports go only to the message's
// origin, each change once and in order. Both run from durable jobs.
func TestRouting(t *testing.T) {
	const other = "+15550100002"
	path := filepath.Join(t.TempDir(), "w.db")
	st, err := store.OpenSQLite(context.Background(), store.SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	both := &fakeConsumer{numbers: []string{business, other}, failOnce: true}
	onlyFirst := &fakeConsumer{numbers: []string{business}}
	onlyOther := &fakeConsumer{numbers: []string{other}}
	api, smpp := &fakeReporter{origin: "api"}, &fakeReporter{origin: "smpp:acme"}
	b, err := bridge.New(bridge.Config{BusinessNumbers: []string{business, other}, PollInterval: 5 * time.Millisecond,
		BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond}, st, &scriptedSender{}, nil,
		bridge.WithConsumers(both, onlyFirst, onlyOther), bridge.WithReporters(api, smpp))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, b: b, clk: &clock{}}
	e.run()
	ctx := context.Background()
	for i, biz := range []string{business, other, business} {
		if err := b.HandleInbound(ctx, &bridge.Message{Business: biz, Customer: bridge.Customer{Phone: "+4915112345678"},
			Kind: bridge.KindText, Content: bridge.Content{Text: "x"}, WAMID: fmt.Sprintf("wamid.r%d", i), Channel: bridge.ChannelWhatsApp}); err != nil {
			t.Fatal(err)
		}
	}
	m := text("+4915112345678", "x")
	m.Origin = "smpp:acme"
	id, _, err := b.Submit(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	sentMsg := e.waitFor(id, func(m *bridge.Message) bool { return m.WAMID != "" })
	for _, st := range []string{"sent", "delivered", "sent"} { // the late "sent" changes nothing: not reported
		s, _ := bridge.ParseStatus(st)
		_ = b.HandleStatus(ctx, &bridge.StatusUpdate{WAMID: sentMsg.WAMID, Status: s, RawStatus: st + "x"})
	}
	deadline := time.Now().Add(5 * time.Second)
	for both.count() < 3 || onlyFirst.count() < 2 || onlyOther.count() < 1 || len(smpp.statuses()) < 2 {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if both.count() != 3 || onlyFirst.count() != 2 || onlyOther.count() != 1 {
		t.Errorf("deliveries: both %d, first %d, other %d", both.count(), onlyFirst.count(), onlyOther.count())
	}
	if got := smpp.statuses(); len(api.statuses()) != 0 || fmt.Sprint(got) != "[sent delivered]" {
		t.Errorf("reports: api %v, smpp %v", api.statuses(), got)
	}
}

// A message sent but not delivered by ExpiresAt fails expired; a delivery
// reported afterwards only enters the history.
func TestExpiryAfterSend(t *testing.T) {
	e := newEnv(t, &scriptedSender{}, "")
	e.inbound("+4915112345678", "wamid.in1")
	e.run()
	m := text("+4915112345678", "x")
	m.ExpiresAt = time.Now().Add(100 * time.Millisecond)
	id, _, err := e.b.Submit(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	sent := e.waitFor(id, func(m *bridge.Message) bool { return m.WAMID != "" })
	got := e.waitFor(id, func(m *bridge.Message) bool { return m.Status == bridge.StatusFailed })
	if got.Reason != bridge.ReasonExpired {
		t.Fatalf("reason %s", got.Reason)
	}
	_ = e.b.HandleStatus(context.Background(), &bridge.StatusUpdate{WAMID: sent.WAMID, Status: bridge.StatusDelivered, RawStatus: "delivered"})
	got, _ = e.st.Message(context.Background(), string(id))
	if got.Status != bridge.StatusFailed || got.History[len(got.History)-1].Status != bridge.StatusDelivered {
		t.Errorf("after a late delivery: %s %+v", got.Status, got.History)
	}
}

// orderSender records send order and holds each send a little, so that
// several workers would overtake each other if they could.
type orderSender struct {
	mu   sync.Mutex
	seen []string
}

func (s *orderSender) Send(_ context.Context, m *bridge.Message) (string, error) {
	time.Sleep(time.Duration(len(m.Content.Text)%3) * time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, m.Customer.Phone+":"+m.Content.Text)
	return fmt.Sprintf("wamid.o%d", len(s.seen)), nil
}

// Messages to one customer go out in submission order, even with several
// workers; different customers still go in parallel.
func TestSendOrderPerCustomer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	st, err := store.OpenSQLite(context.Background(), store.SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sender := &orderSender{}
	b, err := bridge.New(bridge.Config{BusinessNumbers: []string{business}, Workers: 8, PollInterval: 2 * time.Millisecond}, st, sender, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, b: b, clk: &clock{}}
	customers := []string{"+4915112345671", "+4915112345672", "+4915112345673"}
	for _, c := range customers {
		e.inbound(c, "wamid.in"+c)
	}
	var last bridge.MessageID
	for i := range 30 {
		for _, c := range customers {
			id, _, err := b.Submit(context.Background(), text(c, fmt.Sprintf("%02d", i)))
			if err != nil {
				t.Fatal(err)
			}
			last = id
		}
	}
	e.run()
	e.waitFor(last, func(m *bridge.Message) bool { return m.WAMID != "" })
	deadline := time.Now().Add(10 * time.Second)
	for {
		sender.mu.Lock()
		n := len(sender.seen)
		sender.mu.Unlock()
		if n == 90 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	next := map[string]int{}
	sender.mu.Lock()
	defer sender.mu.Unlock()
	for _, s := range sender.seen {
		c, n, _ := strings.Cut(s, ":")
		if want := fmt.Sprintf("%02d", next[c]); n != want {
			t.Fatalf("customer %s got %s before %s (order: %v)", c, n, want, sender.seen)
		}
		next[c]++
	}
}

// jobReporter is a JobReporter: a receipt job per delivered status.
type jobReporter struct {
	fakeReporter
	kicks atomic.Int32
}

func (j *jobReporter) ReportJobs(m *bridge.Message) []bridge.JobRef {
	if m.Status != bridge.StatusDelivered {
		return nil
	}
	return []bridge.JobRef{{Kind: "receipts", Ref: string(m.ID) + "/" + string(m.Status)}}
}
func (j *jobReporter) Kick() { j.kicks.Add(1) }

// filteringReporter reports delivered only (a bridge.StatusFilter).
type filteringReporter struct{ fakeReporter }

func (f *filteringReporter) Reports(m *bridge.Message) bool {
	return m.Status == bridge.StatusDelivered
}

// With a store that plans reports, a JobReporter's jobs are queued in the
// status's own commit (Report is never called, the reporter is kicked; a
// status that queued none of its jobs does not kick it) and a
// StatusFilter's statuses it passes on get no report job.
func TestReportsPlannedInTheStatusCommit(t *testing.T) {
	st := openStore(t)
	jr := &jobReporter{fakeReporter: fakeReporter{origin: "smpp:acme"}}
	fr := &filteringReporter{fakeReporter{origin: "smtp:agent"}}
	b, err := bridge.New(bridge.Config{BusinessNumbers: []string{business}, PollInterval: 5 * time.Millisecond,
		BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond}, st, &scriptedSender{}, nil,
		bridge.WithReporters(jr, fr))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, b: b, clk: &clock{}}
	e.inbound("+4915112345678", "wamid.in1")
	e.inbound("+4915112345679", "wamid.in2")
	e.run()
	ctx := context.Background()
	var ids []bridge.MessageID
	for i, origin := range []string{"smpp:acme", "smtp:agent"} {
		m := text(fmt.Sprintf("+491511234567%d", 8+i), "x")
		m.Origin = origin
		id, _, err := b.Submit(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		sent := e.waitFor(id, func(m *bridge.Message) bool { return m.WAMID != "" })
		for _, s := range []bridge.Status{bridge.StatusSent, bridge.StatusDelivered} {
			kicks := jr.kicks.Load()
			if err := b.HandleStatus(ctx, &bridge.StatusUpdate{WAMID: sent.WAMID, Status: s, RawStatus: string(s)}); err != nil {
				t.Fatal(err)
			}
			// Kicked only when the status queued one of its jobs.
			if kicked, want := jr.kicks.Load() > kicks, origin == "smpp:acme" && s == bridge.StatusDelivered; kicked != want {
				t.Errorf("%s %s: reporter kicked %v, want %v", origin, s, kicked, want)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(fr.statuses()) < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a wrongly queued "sent" report would show by now
	if got := fr.statuses(); fmt.Sprint(got) != "[delivered]" {
		t.Errorf("filtered reporter got %v, want [delivered]", got)
	}
	if got := jr.statuses(); len(got) != 0 {
		t.Errorf("the job reporter's Report was called for %v", got)
	}
	jobs, err := st.ClaimJobs(ctx, "receipts", time.Now().Add(time.Hour), 10, time.Minute)
	if err != nil || len(jobs) != 1 || jobs[0].Ref != string(ids[0])+"/delivered" {
		t.Errorf("receipt jobs %+v %v", jobs, err)
	}
	if jr.kicks.Load() == 0 {
		t.Error("the job reporter was never kicked")
	}
	// A report job that exists anyway (queued before, or by a store that
	// does not plan) ends without calling a reporter that passes on it.
	if err := st.EnqueueJob(ctx, bridge.JobReport, string(ids[1])+"/sent", time.Now()); err != nil {
		t.Fatal(err)
	}
	var left []bridge.Job
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		// A zero lease leaves the job claimable by the report loop.
		if left, _ = st.ClaimJobs(ctx, bridge.JobReport, time.Now(), 10, 0); len(left) == 0 {
			break
		}
	}
	if len(left) != 0 {
		t.Errorf("report job not ended: %+v", left)
	}
	if got := fr.statuses(); fmt.Sprint(got) != "[delivered]" {
		t.Errorf("after a queued sent report the filtered reporter got %v", got)
	}
}

// historyReporter records how much history each report came with, and
// the text it carried.
type historyReporter struct {
	fakeReporter
	hist  []int
	texts []string
}

func (h *historyReporter) Report(ctx context.Context, m *bridge.Message) error {
	h.mu.Lock()
	h.hist = append(h.hist, len(m.History))
	h.texts = append(h.texts, m.Content.Text)
	h.mu.Unlock()
	return h.fakeReporter.Report(ctx, m)
}

func (h *historyReporter) histories() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.hist...)
}

func (h *historyReporter) reportedTexts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.texts...)
}

type statusOnlyReporter struct{ historyReporter }

func (*statusOnlyReporter) ReportsFromStatus() {}

// A reporter that declares it never reads the history, content or send
// record (bridge.StatusOnly) gets report messages without them; any other
// gets the whole message; inbound consumers get no history.
func TestReportsReadHistoryOnlyForReportersThatWantIt(t *testing.T) {
	st := openStore(t)
	withHist := &historyReporter{fakeReporter: fakeReporter{origin: "smpp:acme"}}
	without := &statusOnlyReporter{historyReporter{fakeReporter: fakeReporter{origin: "smtp:agent"}}}
	consumer := &fakeConsumer{numbers: []string{business}}
	b, err := bridge.New(bridge.Config{BusinessNumbers: []string{business}, PollInterval: 5 * time.Millisecond,
		BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond}, st, &scriptedSender{}, nil,
		bridge.WithReporters(withHist, without), bridge.WithConsumers(consumer))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, b: b, clk: &clock{}}
	e.run()
	ctx := context.Background()
	// The customer writes first: the window is open for the replies.
	if err := b.HandleInbound(ctx, &bridge.Message{Business: business, Customer: bridge.Customer{Phone: "+4915112345678"},
		Kind: bridge.KindText, Content: bridge.Content{Text: "hi"}, WAMID: "wamid.in", Channel: bridge.ChannelWhatsApp}); err != nil {
		t.Fatal(err)
	}
	for _, origin := range []string{"smpp:acme", "smtp:agent"} {
		m := text("+4915112345678", "x")
		m.Origin = origin
		id, _, err := b.Submit(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		sent := e.waitFor(id, func(m *bridge.Message) bool { return m.WAMID != "" })
		_ = b.HandleStatus(ctx, &bridge.StatusUpdate{WAMID: sent.WAMID, Status: bridge.StatusDelivered, RawStatus: "delivered"})
	}
	deadline := time.Now().Add(5 * time.Second)
	for (len(withHist.histories()) < 1 || len(without.histories()) < 1 || consumer.count() < 1) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if h := withHist.histories(); len(h) != 1 || h[0] == 0 {
		t.Errorf("a reporter that reads the history got reports with %v entries, want some", h)
	}
	if h := without.histories(); len(h) != 1 || h[0] != 0 {
		t.Errorf("a StatusOnly reporter got reports with %v history entries, want none read", h)
	}
	if got := withHist.reportedTexts(); fmt.Sprint(got) != "[x]" {
		t.Errorf("a reporter that reads the whole message got texts %q, want the content", got)
	}
	if got := without.reportedTexts(); len(got) != 1 || got[0] != "" {
		t.Errorf("a StatusOnly reporter got texts %q, want the content not read", got)
	}
	if consumer.count() != 1 {
		t.Errorf("inbound deliveries: %d", consumer.count())
	}
}

// openStore opens a fresh SQLite store, closed when the test ends.
func openStore(t *testing.T) *store.SQLite {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), store.SQLiteConfig{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// retryCounter counts the sends put back on the queue to wait for their
// pacing slot.
type retryCounter struct {
	*store.SQLite
	paced atomic.Int32
}

func (r *retryCounter) Retry(ctx context.Context, id bridge.MessageID, runAt time.Time, lastErr string) error {
	if lastErr == "paced" {
		r.paced.Add(1)
	}
	return r.SQLite.Retry(ctx, id, runAt, lastErr)
}

// A send whose pacing slot is a few milliseconds away waits for it in its
// sender; one further away goes back to the queue until its slot. Either
// way every message goes out.
func TestPacedSendsWaitInlineOnlyForShortSlots(t *testing.T) {
	for _, tc := range []struct {
		rate       float64
		wantQueued bool
	}{
		{rate: 1000, wantQueued: false}, // slots 1 ms apart
		{rate: 20, wantQueued: true},    // slots 50 ms apart
	} {
		t.Run(fmt.Sprint(tc.rate), func(t *testing.T) {
			st, err := store.OpenSQLite(context.Background(), store.SQLiteConfig{Path: filepath.Join(t.TempDir(), "w.db")})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			counted := &retryCounter{SQLite: st}
			sender := &scriptedSender{}
			b, err := bridge.New(bridge.Config{
				BusinessNumbers: []string{business}, Workers: 4, MaxAttempts: 3,
				ReconcileWindow: time.Minute, PollInterval: 5 * time.Millisecond,
				Pacing: bridge.Pacing{NumberRate: tc.rate},
			}, counted, sender, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			defer func() { cancel(); <-done }()
			var ids []bridge.MessageID
			for i := range 4 {
				to := fmt.Sprintf("+49151000000%02d", i)
				if err := b.HandleInbound(ctx, &bridge.Message{Business: business, Customer: bridge.Customer{Phone: to},
					Kind: bridge.KindText, Content: bridge.Content{Text: "hi"}, WAMID: "wamid.in" + to,
					Channel: bridge.ChannelWhatsApp, Timestamp: time.Now()}); err != nil {
					t.Fatal(err)
				}
				id, _, err := b.Submit(ctx, text(to, "hello"))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			go func() { _ = b.Run(ctx); close(done) }()
			for deadline := time.Now().Add(10 * time.Second); sender.count() < len(ids); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d sent", sender.count(), len(ids))
				}
			}
			if queued := counted.paced.Load() > 0; queued != tc.wantQueued {
				t.Errorf("%d sends went back to the queue for their slot; want some: %v", counted.paced.Load(), tc.wantQueued)
			}
		})
	}
}

// panickySender panics on a message whose text is "boom" and accepts the rest.
type panickySender struct {
	scriptedSender
	panics atomic.Int32
}

func (s *panickySender) Send(ctx context.Context, m *bridge.Message) (string, error) {
	if m.Content.Text == "boom" {
		s.panics.Add(1)
		panic("provider client bug")
	}
	return s.scriptedSender.Send(ctx, m)
}

// A send that panics ends only that send: more panics than there are
// senders (2) leave every sender alive for the next message.
func TestSendPanicKeepsSenders(t *testing.T) {
	sender := &panickySender{}
	e := newEnv(t, &sender.scriptedSender, "")
	// The same bridge as newEnv's, sending through the panicking sender.
	b, err := bridge.New(envConfig, e.st, sender, nil, bridge.WithClock(e.clk.now))
	if err != nil {
		t.Fatal(err)
	}
	e.b = b
	for i := range 3 {
		e.inbound(fmt.Sprintf("+49151000000%02d", i), fmt.Sprintf("wamid.in%d", i))
		if _, _, err := b.Submit(context.Background(), text(fmt.Sprintf("+49151000000%02d", i), "boom")); err != nil {
			t.Fatal(err)
		}
	}
	e.run()
	deadline := time.Now().Add(10 * time.Second)
	for sender.panics.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sends panicked, want 3", sender.panics.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.inbound("+4915100000099", "wamid.in99")
	id, _, err := b.Submit(context.Background(), text("+4915100000099", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor(id, func(m *bridge.Message) bool { return m.WAMID != "" })
}
