package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/store"
)

// fakeRoute records SMS submissions and answers with part ids.
type fakeRoute struct {
	mu    sync.Mutex
	sent  []bridge.SMS
	parts int
	err   error
}

func (r *fakeRoute) Name() string { return "fake" }

func (r *fakeRoute) SubmitSMS(_ context.Context, sms bridge.SMS) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	r.sent = append(r.sent, sms)
	var ids []string
	for i := range max(1, r.parts) {
		ids = append(ids, fmt.Sprintf("%s-p%d", sms.ID, i))
	}
	return ids, nil
}

func (r *fakeRoute) submitted() []bridge.SMS {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bridge.SMS(nil), r.sent...)
}

func fallbackBridge(t *testing.T, sender *scriptedSender, route *fakeRoute, policy bridge.FallbackPolicy) (*bridge.Bridge, *store.SQLite) {
	t.Helper()
	st := openStore(t)
	policy.Enabled = true
	b, err := bridge.New(bridge.Config{BusinessNumbers: []string{business}, Workers: 2, PollInterval: 5 * time.Millisecond,
		BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond, Fallback: policy},
		st, sender, nil, bridge.WithSMSRoutes(route))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return b, st
}

func waitMsg(t *testing.T, b *bridge.Bridge, id bridge.MessageID, what string, cond func(*bridge.Message) bool) *bridge.Message {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		m, err := b.Message(context.Background(), string(id))
		if err == nil && cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: message %s is %+v", what, id, m)
		}
	}
}

// openWindow makes the customer write (the window opens).
func openWindow(t *testing.T, b *bridge.Bridge, to string) {
	t.Helper()
	if err := b.HandleInbound(context.Background(), &bridge.Message{Business: business, Customer: bridge.Customer{Phone: to},
		Kind: bridge.KindText, Content: bridge.Content{Text: "hi"}, WAMID: "wamid.in" + to, Channel: bridge.ChannelWhatsApp, Timestamp: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func tplMsg(to string) *bridge.Message {
	return &bridge.Message{Business: business, Customer: bridge.Customer{Phone: to}, Kind: bridge.KindText,
		Content: bridge.Content{Text: "Your order 12345 ships today"}}
}

// Not on WhatsApp (synchronous 131026): the message goes by SMS, and the
// parts' receipts make it delivered — one final state, channel sms.
func TestFallbackNotOnWhatsAppDeliveredBySMS(t *testing.T) {
	route := &fakeRoute{parts: 2}
	sender := &scriptedSender{results: []error{&bridge.SendError{Code: 131026, Action: bridge.ActionFallback, Reason: bridge.ReasonNotOnWhatsApp}}}
	b, _ := fallbackBridge(t, sender, route, bridge.FallbackPolicy{})
	openWindow(t, b, "+4915100000001") // the text is tried on WhatsApp first
	id, _, err := b.Submit(context.Background(), tplMsg("+4915100000001"))
	if err != nil {
		t.Fatal(err)
	}
	m := waitMsg(t, b, id, "sent by SMS", func(m *bridge.Message) bool { return m.Status == bridge.StatusSent && m.Channel == bridge.ChannelSMS })
	if m.Fallback != bridge.TriggerNotOnWhatsApp || m.SendRecord == nil || !strings.Contains(m.SendRecord.Why, "131026") {
		t.Errorf("fallback record: %q %+v", m.Fallback, m.SendRecord)
	}
	sms := route.submitted()
	if len(sms) != 1 || sms[0].To != "+4915100000001" || sms[0].From != business || sms[0].Text != "Your order 12345 ships today" {
		t.Fatalf("SMS submitted: %+v", sms)
	}
	ctx := context.Background()
	if err := b.HandleSMS(ctx, []bridge.SMSEvent{{Route: "fake", PartID: string(id) + "-p0", Stat: bridge.SMSDelivered}}); err != nil {
		t.Fatal(err)
	}
	if m := waitMsg(t, b, id, "one part", func(*bridge.Message) bool { return true }); m.Status != bridge.StatusSent {
		t.Errorf("one of two parts delivered: %s", m.Status)
	}
	// A repeated receipt changes nothing, nor does a late intermediate one
	// (Twilio's callbacks may come out of order); the second part's
	// receipt completes it.
	for _, ev := range []bridge.SMSEvent{{Route: "fake", PartID: string(id) + "-p0", Stat: bridge.SMSDelivered},
		{Route: "fake", PartID: string(id) + "-p0", Stat: bridge.SMSEnroute},
		{Route: "fake", PartID: string(id) + "-p1", Stat: bridge.SMSDelivered}} {
		if err := b.HandleSMS(ctx, []bridge.SMSEvent{ev}); err != nil {
			t.Fatal(err)
		}
	}
	waitMsg(t, b, id, "delivered by SMS", func(m *bridge.Message) bool {
		return m.Status == bridge.StatusDelivered && m.Channel == bridge.ChannelSMS
	})
}

// A failed status webhook (131026 after acceptance) moves the message to
// SMS; a late WhatsApp "delivered" is history only; an SMS part failing
// ends it failed sms_failed — one final state.
func TestFallbackAsyncAndLateDelivery(t *testing.T) {
	route := &fakeRoute{}
	b, _ := fallbackBridge(t, &scriptedSender{}, route, bridge.FallbackPolicy{})
	ctx := context.Background()
	openWindow(t, b, "+4915100000002")
	id, _, err := b.Submit(ctx, tplMsg("+4915100000002"))
	if err != nil {
		t.Fatal(err)
	}
	m := waitMsg(t, b, id, "accepted", func(m *bridge.Message) bool { return m.WAMID != "" })
	if _, err := b.HandleEvents(ctx, []bridge.Event{{Status: &bridge.StatusUpdate{WAMID: m.WAMID, Status: bridge.StatusFailed, RawStatus: "failed",
		Errors: []bridge.UpstreamError{{Code: 131026, Title: "Message undeliverable"}}, Action: bridge.ActionFallback, Reason: bridge.ReasonNotOnWhatsApp}}}); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, b, id, "on SMS", func(m *bridge.Message) bool { return m.Channel == bridge.ChannelSMS && m.Status != bridge.StatusFailed })
	waitMsg(t, b, id, "submitted", func(*bridge.Message) bool { return len(route.submitted()) == 1 })
	if _, err := b.HandleEvents(ctx, []bridge.Event{{Status: &bridge.StatusUpdate{WAMID: m.WAMID, Status: bridge.StatusDelivered, RawStatus: "delivered"}}}); err != nil {
		t.Fatal(err)
	}
	if m := waitMsg(t, b, id, "late delivered", func(*bridge.Message) bool { return true }); m.Status == bridge.StatusDelivered {
		t.Errorf("a late WhatsApp delivered changed the state: %+v", m.History)
	}
	if err := b.HandleSMS(ctx, []bridge.SMSEvent{{Route: "fake", PartID: string(id) + "-p0", Stat: bridge.SMSUndeliverable, ErrorCode: 1}}); err != nil {
		t.Fatal(err)
	}
	m = waitMsg(t, b, id, "failed by SMS", func(m *bridge.Message) bool { return m.Status == bridge.StatusFailed })
	if m.Reason != bridge.ReasonSMSFailed {
		t.Errorf("reason %s", m.Reason)
	}
}

// No delivered within the timeout: SMS. The route refusing for good:
// failed sms_failed. Opted-out customers and throughput errors never
// fall back.
func TestFallbackTimeoutAndRefusals(t *testing.T) {
	route := &fakeRoute{}
	b, _ := fallbackBridge(t, &scriptedSender{}, route, bridge.FallbackPolicy{Timeout: 50 * time.Millisecond})
	ctx := context.Background()
	tpl := func(to string) bridge.MessageID {
		openWindow(t, b, to)
		id, _, err := b.Submit(ctx, tplMsg(to))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := tpl("+4915100000003")
	m := waitMsg(t, b, id, "timeout fallback", func(m *bridge.Message) bool { return m.Channel == bridge.ChannelSMS })
	if m.Fallback != bridge.TriggerTimeout {
		t.Errorf("trigger %q", m.Fallback)
	}

	route.mu.Lock()
	route.err = &bridge.SendError{Code: 0x0B, Action: bridge.ActionPermanent, Reason: bridge.ReasonInvalid, Err: errors.New("ESME_RINVDSTADR")}
	route.mu.Unlock()
	id = tpl("+4915100000004")
	m = waitMsg(t, b, id, "refused by the route", func(m *bridge.Message) bool { return m.Status == bridge.StatusFailed })
	if m.Reason != bridge.ReasonSMSFailed || m.ErrorCode != 0x0B {
		t.Errorf("route refusal: %s %d", m.Reason, m.ErrorCode)
	}
}

// An account-level error moves the message to SMS and opens the breaker:
// the next messages go by SMS without trying WhatsApp, until a probe (one
// message per BreakerProbe) goes through and closes it.
func TestFallbackAccountBreaker(t *testing.T) {
	route := &fakeRoute{}
	sender := &scriptedSender{results: []error{&bridge.SendError{Code: 190, Action: bridge.ActionFallback, Reason: bridge.ReasonAccountError, Title: "token expired"}}}
	b, _ := fallbackBridge(t, sender, route, bridge.FallbackPolicy{BreakerProbe: 300 * time.Millisecond})
	ctx := context.Background()
	send := func(to string) bridge.MessageID {
		openWindow(t, b, to)
		id, _, err := b.Submit(ctx, tplMsg(to))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	m := waitMsg(t, b, send("+4915100000011"), "account error", func(m *bridge.Message) bool { return m.Channel == bridge.ChannelSMS })
	if m.Fallback != bridge.TriggerAccount {
		t.Errorf("first: %q", m.Fallback)
	}
	m = waitMsg(t, b, send("+4915100000012"), "breaker open", func(m *bridge.Message) bool { return m.Channel == bridge.ChannelSMS })
	if m.Fallback != bridge.TriggerBreaker || sender.count() != 1 {
		t.Errorf("second: %q after %d WhatsApp sends, want account_breaker after 1", m.Fallback, sender.count())
	}
	// After the probe interval a message tries WhatsApp (it works): the
	// breaker closes and the next one goes by WhatsApp too.
	time.Sleep(400 * time.Millisecond)
	waitMsg(t, b, send("+4915100000013"), "probe", func(m *bridge.Message) bool { return m.WAMID != "" && m.Channel == bridge.ChannelWhatsApp })
	waitMsg(t, b, send("+4915100000014"), "closed", func(m *bridge.Message) bool { return m.WAMID != "" && m.Channel == bridge.ChannelWhatsApp })
}

// Opted-out customers never fall back; throughput errors neither.
func TestFallbackNeverForOptOut(t *testing.T) {
	route := &fakeRoute{}
	b, _ := fallbackBridge(t, &scriptedSender{results: []error{
		&bridge.SendError{Code: 131050, Action: bridge.ActionPermanent, Reason: bridge.ReasonOptedOut}}}, route, bridge.FallbackPolicy{})
	openWindow(t, b, "+4915100000021")
	id, _, err := b.Submit(context.Background(), tplMsg("+4915100000021"))
	if err != nil {
		t.Fatal(err)
	}
	m := waitMsg(t, b, id, "refused", func(m *bridge.Message) bool { return m.Status == bridge.StatusFailed })
	if m.Reason != bridge.ReasonOptedOut || m.Channel != bridge.ChannelWhatsApp || len(route.submitted()) != 0 {
		t.Errorf("opt-out: %s on %s, %d SMS", m.Reason, m.Channel, len(route.submitted()))
	}
}

// Routes in order: one that cannot take the SMS now hands it to the next.
func TestFallbackSecondRoute(t *testing.T) {
	down := &fakeRoute{err: &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError, Title: "link down"}}
	up := &fakeRoute{}
	st := openStore(t)
	b, err := bridge.New(bridge.Config{BusinessNumbers: []string{business}, PollInterval: 5 * time.Millisecond,
		BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond, Fallback: bridge.FallbackPolicy{Enabled: true}},
		st, &scriptedSender{results: []error{&bridge.SendError{Code: 131026, Action: bridge.ActionFallback, Reason: bridge.ReasonNotOnWhatsApp}}},
		nil, bridge.WithSMSRoutes(down, up))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	openWindow(t, b, "+4915100000031")
	id, _, err := b.Submit(context.Background(), tplMsg("+4915100000031"))
	if err != nil {
		t.Fatal(err)
	}
	waitMsg(t, b, id, "sent by the second route", func(m *bridge.Message) bool { return m.Status == bridge.StatusSent && m.Channel == bridge.ChannelSMS })
	if len(up.submitted()) != 1 || len(down.submitted()) != 0 {
		t.Errorf("second route got %d, first %d", len(up.submitted()), len(down.submitted()))
	}
}
