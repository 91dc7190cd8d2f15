package twilio

import (
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

// TestClassify covers every row of the table (issue 8, FACTS.md c) and the
// default.
func TestClassify(t *testing.T) {
	type want struct {
		action bridge.Action
		reason bridge.Reason
	}
	retry := want{bridge.ActionRetry, bridge.ReasonUpstreamError}
	notOnWA := want{bridge.ActionFallback, bridge.ReasonNotOnWhatsApp}
	account := want{bridge.ActionFallback, bridge.ReasonAccountError}
	permanent := want{bridge.ActionPermanent, bridge.ReasonUpstreamError}
	template := want{bridge.ActionTemplateInvalid, bridge.ReasonTemplateError}

	cases := map[int]want{
		// template or fallback: outside the 24-hour window
		63016: {bridge.ActionTemplateOrFallback, bridge.ReasonWindowClosed},
		// fallback: not on WhatsApp
		63003: notOnWA, 63024: notOnWA, 63032: notOnWA,
		// fallback: account
		20003: account, 20005: account, 63001: account, 63007: account, 63020: account,
		// fallback: daily limit
		63038: {bridge.ActionFallback, bridge.ReasonTierLimit},
		// retry
		63018: retry, 20429: retry, 63012: retry,
		// permanent
		21610: {bridge.ActionPermanent, bridge.ReasonOptedOut},
		21211: {bridge.ActionPermanent, bridge.ReasonInvalid},
		21602: {bridge.ActionPermanent, bridge.ReasonInvalid}, 21604: {bridge.ActionPermanent, bridge.ReasonInvalid},
		21614: {bridge.ActionPermanent, bridge.ReasonInvalid}, 21617: {bridge.ActionPermanent, bridge.ReasonInvalid},
		21656: {bridge.ActionPermanent, bridge.ReasonInvalid},
		21408: {bridge.ActionPermanent, bridge.ReasonAccountError},
		// template invalid
		63027: template, 63028: template, 21655: template,
		// not listed
		0: permanent, -1: permanent, 63021: permanent, 63049: permanent, 63015: permanent,
		30003: permanent, 131047: permanent, 131026: permanent,
	}
	for code, w := range cases {
		a, r := Classify(code)
		if a != w.action || r != w.reason {
			t.Errorf("Classify(%d) = %s/%s, want %s/%s", code, a, r, w.action, w.reason)
		}
	}
	for code := range classes {
		if _, ok := cases[code]; !ok {
			t.Errorf("code %d of the table has no test case", code)
		}
	}
}

// TestClassifyFallbackTriggers: the rows meant to move a message to SMS do,
// under the bridge's fallback decision, and the others do not.
func TestClassifyFallbackTriggers(t *testing.T) {
	policy := bridge.FallbackPolicy{Enabled: true}
	cases := map[int]bridge.Trigger{
		63016: bridge.TriggerWindowClosed,
		63003: bridge.TriggerNotOnWhatsApp,
		63024: bridge.TriggerNotOnWhatsApp,
		63032: bridge.TriggerNotOnWhatsApp,
		63007: bridge.TriggerAccount,
		20003: bridge.TriggerAccount,
		63038: bridge.TriggerTierLimit,
		63018: "",
		21610: "",
		21211: "",
		63027: "",
	}
	for code, want := range cases {
		a, r := Classify(code)
		got, ok := bridge.FallbackFor(policy, r, code, a)
		if ok != (want != "") || got != want {
			t.Errorf("code %d (%s/%s): fallback %q %v, want %q", code, a, r, got, ok, want)
		}
	}
}
