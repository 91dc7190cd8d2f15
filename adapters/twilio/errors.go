package twilio

import "github.com/wabridge/wabridge/bridge"

// class is one row of the classification table.
type class struct {
	action bridge.Action
	reason bridge.Reason
}

// classes is the one classification table for Twilio's error codes, used
// for the ErrorCode of failed and undelivered status callbacks and for the
// REST API's synchronous errors (rest.go). Rows follow issue 8 and
// shared/FACTS.md section c; Twilio's own map between its codes and
// WhatsApp's (https://www.twilio.com/docs/whatsapp/api/error-code-mapping)
// links each row to the Meta code whose row in the WhatsApp adapter's table
// it mirrors.
//
//   - template-or-fallback: 63016 (↔ 470 / 131047), the 24-hour window is
//     closed: send an approved template or move on.
//   - fallback, not on WhatsApp: 63003 (↔ 1006/1013/1021, the channel could
//     not find the To address), 63024 (↔ 1026/1002, invalid recipient,
//     receiver incapable), 63032 (↔ 472 / 130472, the user's number is part
//     of a Meta experiment).
//   - fallback, account error: the account or sender cannot send — 20003
//     (authentication failed / permission denied), 20005 (account not
//     active), 63001 (↔ 1005, channel authentication failure / access
//     denied), 63007 (no WhatsApp channel for the From address), 63020
//     (↔ 402, business eligibility: payment).
//   - fallback, tier limit: 63038, the account's daily message limit.
//   - retry: 63018 (↔ 429/471/1015, channel rate limit), 20429 (REST API
//     too many requests), 63012 (↔ 500/1011/1014/1023/1025, the channel
//     provider's internal error). Retried on WhatsApp, never moved to SMS.
//   - permanent, opted out: 21610, the customer sent STOP; never work
//     around an opt-out.
//   - permanent, invalid: 21211, the To number is not valid. Synchronous
//     REST errors of a malformed send (https://www.twilio.com/docs/api/errors/<code>):
//     21602 (message body is required), 21604 ('To' number is required),
//     21614 ('To' number is not a valid mobile number), 21617 (the
//     concatenated body exceeds the 1600 character limit), 21656 (the
//     ContentVariables parameter is invalid).
//   - permanent, account: 21408, permission to send an SMS has not been
//     enabled for the region (a setting of the account; it is SMS-only, so
//     an SMS route fails over to the next).
//   - template invalid: 63027 (↔ 2001/2003, no template for that language)
//     and 63028 (↔ 2000, parameter count mismatch): refresh the catalogue.
//     Also 21655 (the ContentSid is invalid): the Content index was stale
//     (the content was deleted), so refreshing the catalogue is the cure.
//
// Codes the table does not list are permanent upstream errors. Not listed
// on purpose: 63049 ("Meta chose not to deliver this marketing message",
// Meta's 131049) is not confirmed in Twilio's documentation (FACTS.md marks
// it unconfirmed), so it stays permanent until it is.
var classes = map[int]class{
	// template or fallback
	63016: {bridge.ActionTemplateOrFallback, bridge.ReasonWindowClosed},

	// fallback: not on WhatsApp
	63003: {bridge.ActionFallback, bridge.ReasonNotOnWhatsApp},
	63024: {bridge.ActionFallback, bridge.ReasonNotOnWhatsApp},
	63032: {bridge.ActionFallback, bridge.ReasonNotOnWhatsApp},

	// fallback: account
	20003: {bridge.ActionFallback, bridge.ReasonAccountError},
	20005: {bridge.ActionFallback, bridge.ReasonAccountError},
	63001: {bridge.ActionFallback, bridge.ReasonAccountError},
	63007: {bridge.ActionFallback, bridge.ReasonAccountError},
	63020: {bridge.ActionFallback, bridge.ReasonAccountError},

	// fallback: tier limit
	63038: {bridge.ActionFallback, bridge.ReasonTierLimit},

	// retry
	63018: {bridge.ActionRetry, bridge.ReasonUpstreamError},
	20429: {bridge.ActionRetry, bridge.ReasonUpstreamError},
	63012: {bridge.ActionRetry, bridge.ReasonUpstreamError},

	// permanent
	21610: {bridge.ActionPermanent, bridge.ReasonOptedOut},
	21211: {bridge.ActionPermanent, bridge.ReasonInvalid},
	21602: {bridge.ActionPermanent, bridge.ReasonInvalid},
	21604: {bridge.ActionPermanent, bridge.ReasonInvalid},
	21614: {bridge.ActionPermanent, bridge.ReasonInvalid},
	21617: {bridge.ActionPermanent, bridge.ReasonInvalid},
	21656: {bridge.ActionPermanent, bridge.ReasonInvalid},
	21408: {bridge.ActionPermanent, bridge.ReasonAccountError},

	// template invalid
	63027: {bridge.ActionTemplateInvalid, bridge.ReasonTemplateError},
	63028: {bridge.ActionTemplateInvalid, bridge.ReasonTemplateError},
	21655: {bridge.ActionTemplateInvalid, bridge.ReasonTemplateError},
}

// Classify maps a Twilio error code to the bridge's action and reason using
// the table above. Codes the table does not list are permanent upstream
// errors.
func Classify(code int) (bridge.Action, bridge.Reason) {
	if c, ok := classes[code]; ok {
		return c.action, c.reason
	}
	return bridge.ActionPermanent, bridge.ReasonUpstreamError
}
