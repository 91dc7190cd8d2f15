package whatsapp

import (
	"github.com/wabridge/wabridge/bridge"
)

// statusEvent turns one value.statuses[] item into a Status event.
//
// Recipient: recipient_id → Phone (for group messages the participant,
// recipient_participant_id), recipient_user_id → BSUID (or the user_id of
// the matching contact). Both may be missing in the BSUID era (statuses to a
// BSUID omit recipient_id; v24.0+ omits conversation). Status is
// bridge.ParseStatus(status), "" for words it does not know (RawStatus keeps
// the word). A failed status gets Action and Reason from Classify of its
// first error's code; a failed status without errors leaves them unset. An
// item without id or status becomes an Other event ("malformed_status").
func statusEvent(raw jv, business string, contacts []contactInfo) bridge.Event {
	var s fields
	if !s.read(raw, statusKeys) {
		return otherEvent("messages", "malformed_status", raw)
	}
	id, status := s.get("id"), s.get("status")
	if id.strIs("") || status.strIs("") {
		return otherEvent("messages", "malformed_status", raw)
	}
	su := &bridge.StatusUpdate{
		WAMID:           id.str(),
		RawStatus:       status.word(statusWords...),
		Timestamp:       s.get("timestamp").unixTime(),
		Business:        business,
		CallbackData:    s.get("biz_opaque_callback_data").str(),
		Errors:          parseErrors(s.get("errors")),
		PricingCategory: s.get("pricing").member("category").word(pricingCategories...),
		Raw:             compact(raw.b),
	}
	su.Status, _ = bridge.ParseStatus(su.RawStatus)

	recipient := s.get("recipient_id")
	if s.get("recipient_type").strIs("group") {
		recipient = s.get("recipient_participant_id")
	}
	su.Recipient = bridge.Customer{Phone: plusDigitsOf(recipient), BSUID: s.get("recipient_user_id").str()}
	if su.Recipient.BSUID == "" && len(contacts) > 0 && !recipient.strIs("") {
		su.Recipient.BSUID = matchContact(contacts, recipient.str(), "").userID
	}

	if su.Status == bridge.StatusFailed && len(su.Errors) > 0 {
		su.Action, su.Reason = Classify(su.Errors[0].Code)
	}
	return bridge.Event{Status: su}
}

// statusKeys are the members of a status the parser reads.
var statusKeys = []string{
	"id", "status", "timestamp", "biz_opaque_callback_data", "errors", "pricing",
	"recipient_id", "recipient_type", "recipient_participant_id", "recipient_user_id",
}

// Words a status and its pricing category usually are
// (webhooks/reference/messages/status), kept without a copy each.
var (
	statusWords       = []string{"sent", "delivered", "read", "failed", "deleted", "played"}
	pricingCategories = []string{"utility", "marketing", "authentication", "service", "authentication_international", "marketing_lite", "referral_conversion"}
)
