package bridge

import (
	"fmt"
	"testing"
	"time"
)

// The pair limit lets a burst of 45 through, then one per 6 seconds; the
// number limit spreads 80 a second; a paced message keeps its slot.
func TestPacer(t *testing.T) {
	p := newPacer(Pacing{PairInterval: 6 * time.Second, PairBurst: 45})
	now := time.Unix(1_000_000, 0)
	for i := range 45 {
		if d := p.wait(MessageID(fmt.Sprint("a", i)), "+1555", "+49", now); d != 0 {
			t.Fatalf("message %d of the burst waits %v", i, d)
		}
	}
	d := p.wait("a45", "+1555", "+49", now)
	if d != 6*time.Second {
		t.Fatalf("46th message waits %v, want 6s", d)
	}
	// Asked again before its slot: the same slot, not a new one.
	if d := p.wait("a45", "+1555", "+49", now.Add(time.Second)); d != 5*time.Second {
		t.Errorf("paced message asked again waits %v, want 5s", d)
	}
	if d := p.wait("a46", "+1555", "+49", now.Add(time.Second)); d != 11*time.Second {
		t.Errorf("next message waits %v, want 11s (after a45's slot)", d)
	}
	if d := p.wait("a45", "+1555", "+49", now.Add(6*time.Second)); d != 0 {
		t.Errorf("at its slot: %v", d)
	}

	// The number's 80/s applies to all its customers, evenly spaced (no
	// burst: no second may carry more than the rate): 160 at one instant
	// go out one every 12.5 ms, the last after 1.9875 s; the earliest slot
	// still to come is the next one.
	q := newPacer(Pacing{NumberRate: 80})
	for i := range 160 {
		want := time.Duration(i) * 12500 * time.Microsecond
		if d := q.wait(MessageID(fmt.Sprint("n", i)), "+1555", fmt.Sprint("+49", i), now); d < want-time.Microsecond || d > want+time.Microsecond {
			t.Fatalf("message %d waits %v, want %v", i, d, want)
		}
	}
	if next, ok := q.next(now); !ok || next.Sub(now.Add(12500*time.Microsecond)).Abs() > time.Microsecond {
		t.Errorf("next slot %v %v", next, ok)
	}
	if next, ok := q.next(now.Add(time.Second)); !ok || next.Sub(now.Add(time.Second+12500*time.Microsecond)).Abs() > time.Microsecond {
		t.Errorf("next slot after 1s: %v %v", next, ok)
	}
	if _, ok := q.next(now.Add(3 * time.Second)); ok {
		t.Error("a slot after the last one")
	}
	// Other numbers have their own budget.
	if d := q.wait("other", "+1666", "+49", now); d != 0 {
		t.Errorf("another number waits %v", d)
	}
	// No limits: nothing waits.
	if d := newPacer(Pacing{}).wait("x", "+1", "+2", now); d != 0 {
		t.Errorf("unlimited: %v", d)
	}
}
