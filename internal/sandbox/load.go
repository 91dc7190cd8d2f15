package sandbox

import (
	"fmt"
	"math"
	"net/http"
	"time"
)

// Load-test knobs: Meta's latency, injected send errors, which status
// webhooks follow a send, status batching and record retention. They start
// from Config, POST /sandbox/v1/settings changes them at run time and a reset
// restores the Config values (see control.go). They are read on every Graph
// call, so they live behind an atomic pointer instead of Server.mu.

// Values of Config.Statuses / the "statuses" setting.
const (
	StatusesAll       = "all"       // sent, delivered, read (read only without NoAutoRead)
	StatusesDelivered = "delivered" // sent, delivered
	StatusesSent      = "sent"      // sent
	StatusesNone      = "none"      // no status webhooks at all, failed ones included
)

// DefaultErrorCode is the error injected by ErrorRate when ErrorCode is 0:
// (#131000) "Something went wrong" with HTTP 500, Meta's generic transient
// failure, which clients retry (the WhatsApp adapter maps it to a retry).
// 130429 (throughput, HTTP 400) would exercise the client's pacing instead,
// so it is available but not the default.
const DefaultErrorCode = 131000

// loadKnobs is one immutable snapshot; changes replace the whole value.
type loadKnobs struct {
	Latency      time.Duration
	ErrorRate    float64
	ErrorCode    int
	ErrorSeed    uint64
	Statuses     string
	StatusBatch  int
	KeepMessages int
}

func (s *Server) configKnobs() *loadKnobs {
	k := &loadKnobs{
		Latency: s.cfg.Latency, ErrorRate: s.cfg.ErrorRate, ErrorCode: s.cfg.ErrorCode, ErrorSeed: s.cfg.ErrorSeed,
		Statuses: s.cfg.Statuses, StatusBatch: s.cfg.StatusBatch, KeepMessages: s.cfg.KeepMessages,
	}
	return k
}

// knobs returns the current snapshot.
func (s *Server) knobs() *loadKnobs { return s.load.Load() }

// validateKnobs applies defaults to zero values and checks ranges.
func validateKnobs(k *loadKnobs) error {
	if k.Latency < 0 {
		return fmt.Errorf("latency must not be negative")
	}
	if math.IsNaN(k.ErrorRate) || k.ErrorRate < 0 || k.ErrorRate > 1 {
		return fmt.Errorf("error_rate must be between 0 and 1")
	}
	if k.ErrorCode < 0 {
		return fmt.Errorf("error_code must be a positive Graph error code")
	}
	if k.ErrorCode == 0 {
		k.ErrorCode = DefaultErrorCode
	}
	switch k.Statuses {
	case "":
		k.Statuses = StatusesAll
	case StatusesAll, StatusesDelivered, StatusesSent, StatusesNone:
	default:
		return fmt.Errorf("statuses must be one of all, delivered, sent, none (got %q)", k.Statuses)
	}
	if k.StatusBatch < 0 {
		return fmt.Errorf("status_batch must not be negative")
	}
	if k.StatusBatch == 0 {
		k.StatusBatch = 1
	}
	if k.KeepMessages < 0 {
		return fmt.Errorf("keep_messages must not be negative")
	}
	return nil
}

// waitLatency sleeps for the latency knob before a Graph call is answered. It
// reports false when the client went away or the server is closing; the
// caller then answers nothing.
func (s *Server) waitLatency(cancelled <-chan struct{}) bool {
	d := s.knobs().Latency
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-cancelled:
		return false
	case <-s.life.Done():
		return false
	}
}

// injectedError decides whether the next send is answered with the error
// knob. Send n (counted from the last reset or change of an error knob) fails
// when a hash of (error_seed, n) falls below error_rate, so a run with the
// same seed fails the same number of sends — exactly the same ones when the
// sends arrive in the same order.
func (s *Server) injectedError() *graphError {
	k := s.knobs()
	if k.ErrorRate <= 0 {
		return nil
	}
	n := s.sendSeq.Add(1)
	if k.ErrorRate < 1 && unitFloat(k.ErrorSeed, n) >= k.ErrorRate {
		return nil
	}
	return injectedGraphError(k.ErrorCode)
}

// unitFloat maps (seed, n) to [0,1) with SplitMix64.
func unitFloat(seed, n uint64) float64 {
	z := seed + n*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// injectedGraphError is Meta's synchronous answer for code: HTTP status,
// title and details as Meta's error code reference lists them. Other codes
// get HTTP 400 and a generic title.
func injectedGraphError(code int) *graphError {
	k, ok := injectedErrors[code]
	if !ok {
		k = injectedErr{http.StatusBadRequest, "Sandbox injected error", "Injected by the sandbox's error_rate setting."}
	}
	return &graphError{status: k.status, code: code, message: fmt.Sprintf("(#%d) %s", code, k.title), details: k.details}
}

type injectedErr struct {
	status         int
	title, details string
}

var injectedErrors = map[int]injectedErr{
	131000: {http.StatusInternalServerError, "Something went wrong", "Message failed to send due to an unknown error. (sandbox: injected by error_rate)"},
	130429: {http.StatusBadRequest, "Rate limit hit", "Cloud API message throughput has been reached. (sandbox: injected by error_rate)"},
	131016: {http.StatusServiceUnavailable, "Service unavailable", "A service is temporarily unavailable. (sandbox: injected by error_rate)"},
	133004: {http.StatusServiceUnavailable, "Server temporarily unavailable", "Server is temporarily unavailable. (sandbox: injected by error_rate)"},
	131056: {http.StatusBadRequest, "(Business Account, Consumer Account) pair rate limit hit", "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time. (sandbox: injected by error_rate)"},
	131048: {http.StatusBadRequest, "Spam rate limit hit", "Message failed to send because there are restrictions on how many messages can be sent from this phone number. (sandbox: injected by error_rate)"},
	131057: {http.StatusBadRequest, "Account in maintenance mode", "Business account is in maintenance mode. (sandbox: injected by error_rate)"},
	80007:  {http.StatusBadRequest, "Rate limit issues", "The WhatsApp Business Account has reached its rate limit. (sandbox: injected by error_rate)"},
	4:      {http.StatusBadRequest, "Application request limit reached", "The app has reached its API call rate limit. (sandbox: injected by error_rate)"},
}

// limitPlan applies the statuses knob to a send's planned status webhooks.
// A failed status is the only one of its plan and is kept unless "none".
func limitPlan(plan []statusStep, statuses string) []statusStep {
	limit := len(plan)
	switch statuses {
	case StatusesNone:
		return nil
	case StatusesSent:
		limit = 1
	case StatusesDelivered:
		limit = 2
	}
	return plan[:min(limit, len(plan))]
}
