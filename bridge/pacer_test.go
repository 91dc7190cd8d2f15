package bridge

import (
	"fmt"
	"testing"
	"time"
)

// The pair limit lets a burst of 45 through, then one per 6 seconds; the
// number limit spreads 80 a second; a paced message keeps its slot.
func TestPacer(t *testing.T) {
	p := newPacer(Pacing{NumberRate: 80, PairInterval: 6 * time.Second, PairBurst: 45})
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

	// Another customer is not held back by this one's pair limit, but the
	// number's 80/s applies to all: 80 now (45 used), the rest spread.
	q := newPacer(Pacing{NumberRate: 80})
	var waited int
	for i := range 160 {
		if q.wait(MessageID(fmt.Sprint("n", i)), "+1555", fmt.Sprint("+49", i), now) > 0 {
			waited++
		}
	}
	if waited != 80 {
		t.Errorf("%d of 160 messages in one instant waited, want 80", waited)
	}
	last := q.wait("n159", "+1555", "+49159", now)
	if last < 900*time.Millisecond || last > 1001*time.Millisecond {
		t.Errorf("the 160th message waits %v, want about 1s", last)
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
