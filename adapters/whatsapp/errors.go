package whatsapp

import (
	"encoding/json"
	"net/http"

	"github.com/wabridge/wabridge/bridge"
)

// class is one row of the classification table.
type class struct {
	action bridge.Action
	reason bridge.Reason
}

// classes is the one classification table for Meta's Cloud API error codes,
// as decided in shared/FACTS.md section b8 ("Error codes — meaning and bridge
// action"). It is used for synchronous send errors (Graph error JSON) and for
// asynchronous failures (statuses[].errors[] in webhooks) alike.
//
//   - retry: temporary or rate-limit errors; same channel after backoff, never
//     fall back (130429 throughput, 131056 pair limit, 4/80007 app and WABA
//     limits, 1/2/131000/131016/133004 server trouble, 131057 maintenance).
//   - fallback: WhatsApp cannot deliver to this customer (131026, 130472) or
//     the account cannot send (auth 0/190, permissions 3/10/200–299/131005,
//     policy 368/131031/130497, quality 131048/131064, payment 131042,
//     registration 131045/133010); 131049 is the per-user marketing limit.
//   - template-or-fallback: 131047, the 24-hour window is closed.
//   - permanent: 131050 (the customer stopped marketing messages: never work
//     around an opt-out), bad parameters (100), and refusals that a retry or
//     another channel would not cure (131021, 131051, 131052, 131053, 130403,
//     131062).
//     137000 (identity key hash mismatch) is a security event: the number may
//     have changed hands (SIM swap), so the bridge must never fall back
//     automatically; it is permanent here and left to an operator.
//   - template invalid: 132xxx refusals of the template or its parameters;
//     refresh the template catalogue, do not retry as is.
//
// Codes 200–299 (permission errors) are handled as a range in lookup.
var classes = map[int]class{
	// retry
	130429: {bridge.ActionRetry, bridge.ReasonUpstreamError},
	131056: {bridge.ActionRetry, bridge.ReasonUpstreamError},
	131000: {bridge.ActionRetry, bridge.ReasonUpstreamError},
	1:      {bridge.ActionRetry, bridge.ReasonUpstreamError},
	2:      {bridge.ActionRetry, bridge.ReasonUpstreamError},
	4:      {bridge.ActionRetry, bridge.ReasonUpstreamError},
	131016: {bridge.ActionRetry, bridge.ReasonUpstreamError},
	133004: {bridge.ActionRetry, bridge.ReasonUpstreamError},
	131057: {bridge.ActionRetry, bridge.ReasonUpstreamError},
	80007:  {bridge.ActionRetry, bridge.ReasonUpstreamError},

	// fallback
	131026: {bridge.ActionFallback, bridge.ReasonNotOnWhatsApp},
	130472: {bridge.ActionFallback, bridge.ReasonNotOnWhatsApp},
	131049: {bridge.ActionFallback, bridge.ReasonUpstreamError},
	368:    {bridge.ActionFallback, bridge.ReasonAccountError},
	131031: {bridge.ActionFallback, bridge.ReasonAccountError},
	130497: {bridge.ActionFallback, bridge.ReasonAccountError},
	131048: {bridge.ActionFallback, bridge.ReasonAccountError},
	131064: {bridge.ActionFallback, bridge.ReasonAccountError},
	190:    {bridge.ActionFallback, bridge.ReasonAccountError},
	0:      {bridge.ActionFallback, bridge.ReasonAccountError},
	3:      {bridge.ActionFallback, bridge.ReasonAccountError},
	10:     {bridge.ActionFallback, bridge.ReasonAccountError},
	131005: {bridge.ActionFallback, bridge.ReasonAccountError},
	131042: {bridge.ActionFallback, bridge.ReasonAccountError},
	131045: {bridge.ActionFallback, bridge.ReasonAccountError},
	133010: {bridge.ActionFallback, bridge.ReasonAccountError},

	// template or fallback
	131047: {bridge.ActionTemplateOrFallback, bridge.ReasonWindowClosed},

	// permanent
	131050: {bridge.ActionPermanent, bridge.ReasonOptedOut},
	100:    {bridge.ActionPermanent, bridge.ReasonUpstreamError},
	131021: {bridge.ActionPermanent, bridge.ReasonUpstreamError},
	131051: {bridge.ActionPermanent, bridge.ReasonUpstreamError},
	131052: {bridge.ActionPermanent, bridge.ReasonUpstreamError},
	131053: {bridge.ActionPermanent, bridge.ReasonUpstreamError},
	130403: {bridge.ActionPermanent, bridge.ReasonUpstreamError},
	131062: {bridge.ActionPermanent, bridge.ReasonUpstreamError},
	137000: {bridge.ActionPermanent, bridge.ReasonUpstreamError},

	// template invalid
	132000: {bridge.ActionTemplateInvalid, bridge.ReasonTemplateError},
	132001: {bridge.ActionTemplateInvalid, bridge.ReasonTemplateError},
	132005: {bridge.ActionTemplateInvalid, bridge.ReasonTemplateError},
	132007: {bridge.ActionTemplateInvalid, bridge.ReasonTemplateError},
	132012: {bridge.ActionTemplateInvalid, bridge.ReasonTemplateError},
	132015: {bridge.ActionTemplateInvalid, bridge.ReasonTemplateError},
	132016: {bridge.ActionTemplateInvalid, bridge.ReasonTemplateError},
	132018: {bridge.ActionTemplateInvalid, bridge.ReasonTemplateError},
}

// lookup finds code in the table; ok is false for codes it does not list.
func lookup(code int) (class, bool) {
	if c, ok := classes[code]; ok {
		return c, true
	}
	if code >= 200 && code <= 299 {
		return class{bridge.ActionFallback, bridge.ReasonAccountError}, true
	}
	return class{}, false
}

// Classify maps a Meta error code to the bridge's action and reason using the
// table above. Codes the table does not list are permanent upstream errors.
func Classify(code int) (bridge.Action, bridge.Reason) {
	if c, ok := lookup(code); ok {
		return c.action, c.reason
	}
	return bridge.ActionPermanent, bridge.ReasonUpstreamError
}

// ClassifyHTTP is Classify for a synchronous Graph reply: a listed code wins;
// an unlisted code is retried when the HTTP status is 5xx or 429 (Meta's
// side or rate limiting) and permanent otherwise.
func ClassifyHTTP(status, code int) (bridge.Action, bridge.Reason) {
	if c, ok := lookup(code); ok {
		return c.action, c.reason
	}
	return classifyStatus(status)
}

// classifyStatus classifies a reply that carries no usable Meta error code.
func classifyStatus(status int) (bridge.Action, bridge.Reason) {
	switch {
	case status >= 500, status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return bridge.ActionRetry, bridge.ReasonUpstreamError
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return bridge.ActionFallback, bridge.ReasonAccountError
	}
	return bridge.ActionPermanent, bridge.ReasonUpstreamError
}

// graphError is Meta's error reply:
// {"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}.
type graphError struct {
	Error *struct {
		Message      string `json:"message"`
		Type         string `json:"type"`
		Code         *int   `json:"code"`
		ErrorSubcode int    `json:"error_subcode"`
		ErrorData    struct {
			Details string `json:"details"`
		} `json:"error_data"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

// parsedError is the useful part of a Graph error reply.
type parsedError struct {
	code    int
	hasCode bool
	message string
	details string
	trace   string
}

// parseGraphError reads Meta's error JSON; ok is false when body is not one.
func parseGraphError(body []byte) (parsedError, bool) {
	var ge graphError
	if err := json.Unmarshal(body, &ge); err != nil || ge.Error == nil {
		return parsedError{}, false
	}
	p := parsedError{
		message: ge.Error.Message,
		details: ge.Error.ErrorData.Details,
		trace:   ge.Error.FBTraceID,
	}
	if ge.Error.Code != nil {
		p.code, p.hasCode = *ge.Error.Code, true
	}
	return p, true
}
