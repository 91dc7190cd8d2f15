package bridge_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// countingResolver approves every template and counts invalidations.
type countingResolver struct {
	mu      sync.Mutex
	reasons []string
}

func (r *countingResolver) Resolve(context.Context, *bridge.Message) (*bridge.Template, *bridge.SendRecord, error) {
	return nil, nil, &bridge.RefusedError{Reason: bridge.ReasonNoTemplate, Msg: "none"}
}

func (r *countingResolver) Check(_ context.Context, m *bridge.Message) (*bridge.SendRecord, error) {
	return &bridge.SendRecord{How: bridge.SentTemplateExplicit, Template: m.Content.Template.Name}, nil
}

func (r *countingResolver) Invalidate(reason string) {
	r.mu.Lock()
	r.reasons = append(r.reasons, reason)
	r.mu.Unlock()
}

func (r *countingResolver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reasons)
}

// Send errors that mean the cached catalogue is stale (132000, 132001,
// 132012, 132015, 132016) drop it; others do not; template webhooks do.
func TestStaleTemplateErrorsInvalidateTheCatalogue(t *testing.T) {
	st := openStore(t)
	sender := &scriptedSender{results: []error{
		&bridge.SendError{Code: 132015, Action: bridge.ActionTemplateInvalid, Reason: bridge.ReasonTemplateError, Title: "Template is Paused"},
		&bridge.SendError{Code: 131026, Action: bridge.ActionFallback, Reason: bridge.ReasonNotOnWhatsApp},
	}}
	res := &countingResolver{}
	b, err := bridge.New(bridge.Config{BusinessNumbers: []string{business}, Workers: 1, PollInterval: 5 * time.Millisecond},
		st, sender, nil, bridge.WithTemplates(res))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	wait := func(id bridge.MessageID) *bridge.Message {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			m, err := b.Message(context.Background(), string(id))
			if err == nil && m.Status == bridge.StatusFailed {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %s never failed", id)
			}
		}
	}
	tpl := func(to string) bridge.MessageID {
		id, _, err := b.Submit(context.Background(), &bridge.Message{Business: business, Customer: bridge.Customer{Phone: to},
			Kind: bridge.KindTemplate, Content: bridge.Content{Template: &bridge.Template{Name: "order_update", Language: "en_US"}}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if m := wait(tpl("+4915100000001")); m.Reason != bridge.ReasonTemplateError || res.count() != 1 {
		t.Fatalf("132015: reason %s, %d invalidations", m.Reason, res.count())
	}
	if m := wait(tpl("+4915100000002")); m.Reason != bridge.ReasonNotOnWhatsApp || res.count() != 1 {
		t.Errorf("131026: reason %s, %d invalidations (want still 1)", m.Reason, res.count())
	}
	if _, err := b.HandleEvents(context.Background(), []bridge.Event{{Other: &bridge.RawEvent{
		Field: "message_template_status_update", Key: "k1", Raw: []byte(`{"event":"PAUSED"}`)}}}); err != nil {
		t.Fatal(err)
	}
	if res.count() != 2 {
		t.Errorf("template webhook: %d invalidations, want 2", res.count())
	}
	// Twilio reports template errors in status callbacks: a failed status
	// with 63028 (parameter mismatch) drops the catalogue, 63003 does not.
	for i, code := range []int{63003, 63028} {
		if _, err := b.HandleEvents(context.Background(), []bridge.Event{{Status: &bridge.StatusUpdate{
			WAMID: fmt.Sprintf("SMunknown%d", i), Status: bridge.StatusFailed, Timestamp: time.Now(),
			Errors: []bridge.UpstreamError{{Code: code}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if res.count() != 3 {
		t.Errorf("status callbacks 63003 then 63028: %d invalidations, want 3", res.count())
	}
}
