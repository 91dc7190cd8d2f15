package smpp

import (
	"context"
	"fmt"
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

// Exactly one final receipt per message, whatever order Meta's webhooks
// come in: delivered then read → the receipt goes with delivered; read
// then delivered (out of order) → with read (delivered changes nothing).
func TestWantsReceiptOrder(t *testing.T) {
	h := func(sts ...bridge.Status) []bridge.HistoryEntry {
		var out []bridge.HistoryEntry
		for _, s := range sts {
			out = append(out, bridge.HistoryEntry{Status: s})
		}
		return out
	}
	q, s, d, r, f := bridge.StatusQueued, bridge.StatusSent, bridge.StatusDelivered, bridge.StatusRead, bridge.StatusFailed
	tests := []struct {
		name    string
		rd      byte
		status  bridge.Status
		history []bridge.HistoryEntry
		want    bool
	}{
		{"delivered", 1, d, h(q, s, d), true},
		{"read after delivered", 1, r, h(q, s, d, r), false},
		{"read before delivered", 1, r, h(q, s, r, d), true},
		{"read without delivered", 1, r, h(q, r), true},
		{"failed, final asked", 1, f, h(q, f), true},
		{"failed, failure-only asked", 2, f, h(q, f), true},
		{"delivered, failure-only asked", 2, d, h(q, d), false},
		{"sent without intermediate", 1, s, h(q, s), false},
		{"sent with intermediate", 0x11, s, h(q, s), true},
		{"nothing asked", 0, d, h(q, d), false},
	}
	for _, tt := range tests {
		m := &bridge.Message{Status: tt.status, History: tt.history}
		if got := wantsReceipt(tt.rd, m); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// releasingJobs records the jobs put back; the rest of Jobs is unused.
type releasingJobs struct {
	Jobs
	released []string
	why      []string
}

func (r *releasingJobs) ReleaseJob(_ context.Context, _, ref, lastErr string) error {
	r.released = append(r.released, ref)
	r.why = append(r.why, lastErr)
	return nil
}

func (r *releasingJobs) FinishJobs(context.Context, string, []string) error { return nil }

// A batch claimed just before the server stopped puts its jobs back with
// the reason (it once dereferenced the batch's missing failure).
func TestStoppedBatchReleasesItsJobs(t *testing.T) {
	s, err := New(Config{Accounts: []Account{{SystemID: "acme", Password: "secret12", Numbers: []string{"+15550100001"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs := &releasingJobs{}
	s.jobs = jobs
	close(s.stop)
	failed, _ := s.deliverBatch(s.accounts["acme"], []bridge.Job{{Kind: "smpp:acme", Ref: "dlr/a"}, {Kind: "smpp:acme", Ref: "dlr/b"}})
	if failed != nil {
		t.Errorf("failed = %v, want none", failed)
	}
	if fmt.Sprint(jobs.released) != "[dlr/a dlr/b]" || jobs.why[0] != "the SMPP server stopped" {
		t.Errorf("released %v (%v)", jobs.released, jobs.why)
	}
}
