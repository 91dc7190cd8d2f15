package whatsapp

import (
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

// TestClassify covers every code of the table (FACTS.md b8) and the default.
func TestClassify(t *testing.T) {
	type want struct {
		action bridge.Action
		reason bridge.Reason
	}
	retry := want{bridge.ActionRetry, bridge.ReasonUpstreamError}
	account := want{bridge.ActionFallback, bridge.ReasonAccountError}
	permanent := want{bridge.ActionPermanent, bridge.ReasonUpstreamError}
	template := want{bridge.ActionTemplateInvalid, bridge.ReasonTemplateError}

	cases := map[int]want{
		// retry
		130429: retry, 131056: retry, 131000: retry, 1: retry, 2: retry,
		4: retry, 131016: retry, 133004: retry, 131057: retry, 80007: retry,
		// fallback
		131026: {bridge.ActionFallback, bridge.ReasonNotOnWhatsApp},
		130472: {bridge.ActionFallback, bridge.ReasonNotOnWhatsApp},
		131049: {bridge.ActionFallback, bridge.ReasonUpstreamError},
		368:    account, 131031: account, 130497: account, 131048: account, 131064: account,
		190: account, 0: account, 3: account, 10: account, 131005: account,
		131042: account, 131045: account, 133010: account,
		200: account, 201: account, 250: account, 299: account,
		// template or fallback
		131047: {bridge.ActionTemplateOrFallback, bridge.ReasonWindowClosed},
		// permanent
		131050: {bridge.ActionPermanent, bridge.ReasonOptedOut},
		100:    permanent, 131021: permanent, 131051: permanent, 131052: permanent,
		131053: permanent, 130403: permanent, 131062: permanent, 137000: permanent,
		// template invalid
		132000: template, 132001: template, 132005: template, 132007: template,
		132012: template, 132015: template, 132016: template, 132018: template,
		// not listed
		199: permanent, 300: permanent, 131009: permanent, 2388019: permanent, -1: permanent,
	}
	for code, w := range cases {
		a, r := Classify(code)
		if a != w.action || r != w.reason {
			t.Errorf("Classify(%d) = %s/%s, want %s/%s", code, a, r, w.action, w.reason)
		}
	}
	// Every table row is covered above.
	for code := range classes {
		if _, ok := cases[code]; !ok {
			t.Errorf("code %d of the table has no test case", code)
		}
	}
}

func TestClassifyHTTP(t *testing.T) {
	cases := []struct {
		status, code int
		action       bridge.Action
		reason       bridge.Reason
	}{
		{500, 999999, bridge.ActionRetry, bridge.ReasonUpstreamError},             // unknown code, 5xx → retry
		{503, 999999, bridge.ActionRetry, bridge.ReasonUpstreamError},             //
		{429, 999999, bridge.ActionRetry, bridge.ReasonUpstreamError},             // unknown code, 429 → retry
		{400, 999999, bridge.ActionPermanent, bridge.ReasonUpstreamError},         // unknown code, 4xx → permanent
		{500, 131047, bridge.ActionTemplateOrFallback, bridge.ReasonWindowClosed}, // known code wins
		{400, 131056, bridge.ActionRetry, bridge.ReasonUpstreamError},             //
		{401, 190, bridge.ActionFallback, bridge.ReasonAccountError},              //
	}
	for _, c := range cases {
		a, r := ClassifyHTTP(c.status, c.code)
		if a != c.action || r != c.reason {
			t.Errorf("ClassifyHTTP(%d, %d) = %s/%s, want %s/%s", c.status, c.code, a, r, c.action, c.reason)
		}
	}
}

func TestParseGraphError(t *testing.T) {
	p, ok := parseGraphError([]byte(`{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"More than 24 hours have passed"},"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}`))
	if !ok || !p.hasCode || p.code != 131047 || p.details != "More than 24 hours have passed" || p.trace != "Az8or2yhqkZfEZ-_4Qn_Bam" {
		t.Errorf("parseGraphError = %+v, %v", p, ok)
	}
	if p, ok := parseGraphError([]byte(`{"error":{"message":"x"}}`)); !ok || p.hasCode {
		t.Errorf("missing code: %+v, %v", p, ok)
	}
	for _, body := range []string{``, `<html>`, `{}`, `{"error":"x"}`, `[1]`} {
		if _, ok := parseGraphError([]byte(body)); ok {
			t.Errorf("parseGraphError(%q) ok", body)
		}
	}
}
