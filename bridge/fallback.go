package bridge

import "time"

// Trigger names why a message moved from WhatsApp to SMS.
type Trigger string

// Fallback triggers.
const (
	TriggerNotOnWhatsApp   Trigger = "not_on_whatsapp"  // 131026, 130472
	TriggerMarketingLimit  Trigger = "marketing_limit"  // 131049: per-user marketing limit
	TriggerNoTemplate      Trigger = "no_template"      // window closed, no template fits
	TriggerWindowClosed    Trigger = "window_closed"    // window closed, content that cannot be a template
	TriggerAccount         Trigger = "account_error"    // auth, policy, payment: opens the breaker
	TriggerBreaker         Trigger = "account_breaker"  // WhatsApp kept off after an account error
	TriggerTierLimit       Trigger = "tier_limit"       // messaging limit reached
	TriggerTimeout         Trigger = "delivery_timeout" // no delivered within the timeout
	TriggerSMSConversation Trigger = "sms_conversation" // the customer last wrote by SMS
)

// FallbackPolicy is [fallback]: when a message leaves WhatsApp for SMS.
type FallbackPolicy struct {
	// Enabled turns fallback on (on by default once an SMS route exists).
	Enabled bool
	// Off lists triggers that must not move a message to SMS.
	Off map[Trigger]bool
	// Timeout moves a message that WhatsApp has not delivered within it
	// (0: no timeout).
	Timeout time.Duration
	// BreakerProbe is how often one message tries WhatsApp while the
	// account breaker is open (default 1m).
	BreakerProbe time.Duration
}

// FallbackFor is the fallback decision: whether a WhatsApp outcome (a
// failure with its reason, provider code and action) moves the message to
// SMS, and by which trigger. It is pure: a table test covers every trigger
// and non-trigger. Never on throughput errors (130429, 131056 — those are
// retried), opt-outs, invalid or expired messages, or our own template
// mistakes.
func FallbackFor(p FallbackPolicy, reason Reason, code int, action Action) (Trigger, bool) {
	if !p.Enabled {
		return "", false
	}
	var t Trigger
	switch {
	case code == 130429 || code == 131056 || code == 131050:
		return "", false // throughput: retried; 131050: the user stopped marketing
	case reason == ReasonNotOnWhatsApp || code == 131026 || code == 130472:
		t = TriggerNotOnWhatsApp
	case code == 131049:
		t = TriggerMarketingLimit
	case reason == ReasonNoTemplate:
		t = TriggerNoTemplate
	case reason == ReasonWindowClosed && action != ActionRetry:
		t = TriggerWindowClosed
	case reason == ReasonAccountError:
		t = TriggerAccount
	case reason == ReasonTierLimit:
		t = TriggerTierLimit
	default:
		return "", false
	}
	if p.Off[t] {
		return "", false
	}
	return t, true
}
