package store

import (
	"sync/atomic"
	"time"
)

// DurationBuckets are the upper bounds, in seconds, of the store's
// duration histograms: from a fast disk's fsync (100 µs) to a stall.
var DurationBuckets = [...]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// durations is a histogram over DurationBuckets that one goroutine (the
// writer) observes into and any goroutine reads. The count is the
// buckets' sum; a reader may see the sum of durations one observation
// apart from them (a scrape is not a transaction).
type durations struct {
	buckets [len(DurationBuckets) + 1]atomic.Uint64 // the last one: above every bound
	sumNS   atomic.Int64
}

func (h *durations) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(DurationBuckets) && s > DurationBuckets[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNS.Add(int64(d))
}

// Histogram is a snapshot of a duration histogram in Prometheus' shape:
// Buckets[i] counts the observations ≤ DurationBuckets[i] (cumulative).
type Histogram struct {
	Count   uint64
	Sum     float64 // seconds
	Buckets map[float64]uint64
}

func (h *durations) snapshot() Histogram {
	out := Histogram{Buckets: make(map[float64]uint64, len(DurationBuckets))}
	var cum uint64
	for i, le := range DurationBuckets {
		cum += h.buckets[i].Load()
		out.Buckets[le] = cum
	}
	out.Count = cum + h.buckets[len(DurationBuckets)].Load()
	out.Sum = time.Duration(h.sumNS.Load()).Seconds()
	return out
}
