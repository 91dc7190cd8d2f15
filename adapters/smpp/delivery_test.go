package smpp

import (
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
