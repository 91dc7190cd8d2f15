package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wabridge/wabridge/adapters/whatsapp"
	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/metrics"
)

// healthInterval is how often the numbers' standing is read from the
// Graph API (it changes rarely; quality webhooks trigger a read at once).
const healthInterval = 15 * time.Minute

// NumberStatus is one business number in GET /api/v1/status.
type NumberStatus struct {
	Number         string    `json:"number"`
	QualityRating  string    `json:"quality_rating,omitempty"`
	MessagingLimit string    `json:"messaging_limit,omitempty"`
	Throughput     string    `json:"throughput,omitempty"`
	CheckedAt      time.Time `json:"checked_at,omitzero"`
	Error          string    `json:"error,omitempty"`
}

// health keeps the business numbers' quality rating and messaging limit
// current: read at start, every healthInterval and whenever a
// phone_number_quality_update or account_update webhook arrives.
type health struct {
	client  *whatsapp.Client
	numbers []string
	m       *metrics.Metrics
	log     *slog.Logger
	poke    chan struct{}

	mu     sync.Mutex
	status map[string]NumberStatus
}

func newHealth(client *whatsapp.Client, numbers []string, m *metrics.Metrics, log *slog.Logger) *health {
	h := &health{client: client, numbers: numbers, m: m, log: log, poke: make(chan struct{}, 1), status: map[string]NumberStatus{}}
	for _, n := range numbers {
		h.status[n] = NumberStatus{Number: n}
	}
	return h
}

// onEvent is the bridge's event hook.
func (h *health) onEvent(e bridge.RawEvent) {
	if e.Field == "phone_number_quality_update" || e.Field == "account_update" {
		select {
		case h.poke <- struct{}{}:
		default:
		}
	}
}

func (h *health) run(ctx context.Context) {
	if h.client == nil {
		return // Twilio: no Graph API to read the numbers' standing from
	}
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		h.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.poke:
		}
	}
}

func (h *health) refresh(ctx context.Context) {
	for _, n := range h.numbers {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		got, err := h.client.Health(c, n)
		cancel()
		st := NumberStatus{Number: n, CheckedAt: time.Now().UTC()}
		if err != nil {
			h.log.Warn("reading the number's quality failed", "number", n, "err", err)
			h.mu.Lock()
			st = h.status[n]
			st.Error = err.Error()
			h.status[n] = st
			h.mu.Unlock()
			continue
		}
		st.QualityRating, st.MessagingLimit, st.Throughput = got.QualityRating, got.MessagingLimit, got.Throughput.Level
		h.mu.Lock()
		prev := h.status[n]
		h.status[n] = st
		h.mu.Unlock()
		if prev.QualityRating != "" && prev.QualityRating != st.QualityRating {
			h.log.Warn("the number's quality rating changed", "number", n, "from", prev.QualityRating, "to", st.QualityRating)
		}
		for _, r := range []string{"GREEN", "YELLOW", "RED", "UNKNOWN"} {
			v := 0.0
			if r == st.QualityRating {
				v = 1
			}
			h.m.NumberQuality.WithLabelValues(n, r).Set(v)
		}
		h.m.NumberLimit.WithLabelValues(n).Set(float64(whatsapp.TierLimit(st.MessagingLimit)))
	}
}

// Status lists the numbers in configuration order.
func (h *health) Status() any {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]NumberStatus, 0, len(h.numbers))
	for _, n := range h.numbers {
		out = append(out, h.status[n])
	}
	if h.client == nil {
		return map[string]any{"provider": "twilio", "numbers": out}
	}
	return map[string]any{"provider": "cloud", "numbers": out}
}
