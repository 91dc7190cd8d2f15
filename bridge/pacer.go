package bridge

import (
	"container/heap"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pacing keeps sends within WhatsApp's throughput: per business number
// (default 80 messages per second) and per pair of business number and
// customer (one message per 6 seconds, bursts up to 45 borrowing future
// quota — FACTS.md: beyond that Meta answers 131056). A send over either
// limit waits for its turn; it never fails for it.
type Pacing struct {
	NumberRate   float64       // messages per second per business number; 0: no limit
	PairInterval time.Duration // one message per this, per business number and customer; 0: no limit
	PairBurst    int
}

// pacer hands out send slots. A message that must wait is given a slot
// in the future and remembered, so it does not take a second one when it
// comes back.
type pacer struct {
	cfg Pacing

	mu      sync.Mutex
	numbers map[string]*rate.Limiter
	pairs   map[string]*rate.Limiter
	granted map[MessageID]time.Time
	slots   timeHeap // granted slots still to come, earliest first
	pruned  time.Time
}

// timeHeap is a min-heap of times.
type timeHeap []time.Time

func (h timeHeap) Len() int           { return len(h) }
func (h timeHeap) Less(i, j int) bool { return h[i].Before(h[j]) }
func (h timeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timeHeap) Push(x any)        { *h = append(*h, x.(time.Time)) }
func (h *timeHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// next is the earliest granted slot after now (ok false: none): the
// outbox wakes then, so a paced message goes out at its slot, not at the
// next poll — a poll a second apart would send a second's slots at once.
func (p *pacer) next(now time.Time) (time.Time, bool) {
	if p == nil {
		return time.Time{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.slots.Len() > 0 && !p.slots[0].After(now) {
		heap.Pop(&p.slots)
	}
	if p.slots.Len() == 0 {
		return time.Time{}, false
	}
	return p.slots[0], true
}

func newPacer(cfg Pacing) *pacer {
	if cfg.PairBurst < 1 {
		cfg.PairBurst = 1
	}
	return &pacer{cfg: cfg, numbers: map[string]*rate.Limiter{}, pairs: map[string]*rate.Limiter{}, granted: map[MessageID]time.Time{}}
}

// wait returns how long message id must wait before it may be sent (0:
// now). The slot it is given is kept for it.
func (p *pacer) wait(id MessageID, business, customer string, now time.Time) time.Duration {
	if p == nil || (p.cfg.NumberRate <= 0 && p.cfg.PairInterval <= 0) {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if at, ok := p.granted[id]; ok {
		if !now.Before(at) {
			delete(p.granted, id)
			return 0
		}
		return at.Sub(now)
	}
	p.prune(now)
	var d time.Duration
	if p.cfg.NumberRate > 0 {
		l := p.numbers[business]
		if l == nil {
			// Burst 1: sends evenly spaced, so no second holds more than
			// the rate (+1) — a burst of a whole second's worth on top of
			// the refill would double it in the first second.
			l = rate.NewLimiter(rate.Limit(p.cfg.NumberRate), 1)
			p.numbers[business] = l
		}
		d = max(d, l.ReserveN(now, 1).DelayFrom(now))
	}
	if p.cfg.PairInterval > 0 {
		key := business + "\x00" + customer
		l := p.pairs[key]
		if l == nil {
			l = rate.NewLimiter(rate.Every(p.cfg.PairInterval), p.cfg.PairBurst)
			p.pairs[key] = l
		}
		d = max(d, l.ReserveN(now, 1).DelayFrom(now))
	}
	if d > 0 {
		p.granted[id] = now.Add(d)
		heap.Push(&p.slots, now.Add(d))
	}
	return d
}

// used forgets the slot granted to message id: its sender waited for it
// and sends now.
func (p *pacer) used(id MessageID) {
	if p == nil {
		return
	}
	p.mu.Lock()
	delete(p.granted, id)
	p.mu.Unlock()
}

// prune forgets pair limiters that are full again (nothing borrowed), at
// most once a minute, so memory follows active conversations only.
func (p *pacer) prune(now time.Time) {
	if now.Sub(p.pruned) < time.Minute {
		return
	}
	p.pruned = now
	for k, l := range p.pairs {
		if l.TokensAt(now) >= float64(p.cfg.PairBurst) {
			delete(p.pairs, k)
		}
	}
	for id, at := range p.granted {
		if now.Sub(at) > time.Hour { // its message was settled another way
			delete(p.granted, id)
		}
	}
}
