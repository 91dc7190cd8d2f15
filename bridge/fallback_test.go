package bridge

import "testing"

func TestFallbackFor(t *testing.T) {
	on := FallbackPolicy{Enabled: true}
	cases := []struct {
		name   string
		p      FallbackPolicy
		reason Reason
		code   int
		action Action
		want   Trigger // "" = stays on WhatsApp (fails or retries there)
	}{
		{"not on WhatsApp 131026", on, ReasonNotOnWhatsApp, 131026, ActionFallback, TriggerNotOnWhatsApp},
		{"not on WhatsApp 130472 (experiment)", on, ReasonNotOnWhatsApp, 130472, ActionFallback, TriggerNotOnWhatsApp},
		{"per-user marketing limit 131049", on, ReasonUpstreamError, 131049, ActionFallback, TriggerMarketingLimit},
		{"window closed, no template fits", on, ReasonNoTemplate, 0, ActionPermanent, TriggerNoTemplate},
		{"window closed, media", on, ReasonWindowClosed, 0, ActionPermanent, TriggerWindowClosed},
		{"window closed says Meta 131047", on, ReasonWindowClosed, 131047, ActionTemplateOrFallback, TriggerWindowClosed},
		{"account: token 190", on, ReasonAccountError, 190, ActionFallback, TriggerAccount},
		{"account: payment 131042", on, ReasonAccountError, 131042, ActionFallback, TriggerAccount},
		{"tier limit", on, ReasonTierLimit, 0, ActionPermanent, TriggerTierLimit},
		// Never:
		{"throughput 130429", on, ReasonUpstreamError, 130429, ActionRetry, ""},
		{"pair rate 131056", on, ReasonUpstreamError, 131056, ActionRetry, ""},
		{"opted out (STOP)", on, ReasonOptedOut, 0, ActionPermanent, ""},
		{"opted out of marketing 131050", on, ReasonOptedOut, 131050, ActionPermanent, ""},
		{"US marketing blocked", on, ReasonUSMarketingBlocked, 0, ActionPermanent, ""},
		{"template error 132000", on, ReasonTemplateError, 132000, ActionTemplateInvalid, ""},
		{"invalid", on, ReasonInvalid, 0, ActionPermanent, ""},
		{"expired", on, ReasonExpired, 0, ActionPermanent, ""},
		{"cancelled", on, ReasonCancelled, 0, ActionPermanent, ""},
		{"upstream error 131000", on, ReasonUpstreamError, 131000, ActionRetry, ""},
		{"media too large", on, ReasonMediaTooLarge, 0, ActionPermanent, ""},
		{"SMS failed", on, ReasonSMSFailed, 0, ActionPermanent, ""},
		// Policy switches:
		{"fallback off", FallbackPolicy{}, ReasonNotOnWhatsApp, 131026, ActionFallback, ""},
		{"trigger turned off", FallbackPolicy{Enabled: true, Off: map[Trigger]bool{TriggerNoTemplate: true}}, ReasonNoTemplate, 0, ActionPermanent, ""},
		{"other triggers stay on", FallbackPolicy{Enabled: true, Off: map[Trigger]bool{TriggerNoTemplate: true}}, ReasonTierLimit, 0, ActionPermanent, TriggerTierLimit},
	}
	for _, c := range cases {
		got, ok := FallbackFor(c.p, c.reason, c.code, c.action)
		if ok != (c.want != "") || got != c.want {
			t.Errorf("%s: %q %v, want %q", c.name, got, ok, c.want)
		}
	}
}
