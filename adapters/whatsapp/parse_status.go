package whatsapp

import (
	"encoding/json"

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
func statusEvent(raw json.RawMessage, business string, contacts []contactInfo) bridge.Event {
	s, ok := asObject(raw)
	if !ok {
		return otherEvent("messages", "malformed_status", raw)
	}
	su := &bridge.StatusUpdate{
		WAMID:           s.str("id"),
		RawStatus:       s.str("status"),
		Timestamp:       s.unixTime("timestamp"),
		Business:        business,
		CallbackData:    s.str("biz_opaque_callback_data"),
		Errors:          parseErrors(s.arr("errors")),
		PricingCategory: s.obj("pricing").str("category"),
		Raw:             compact(raw),
	}
	if su.WAMID == "" || su.RawStatus == "" {
		return otherEvent("messages", "malformed_status", raw)
	}
	su.Status, _ = bridge.ParseStatus(su.RawStatus)

	recipientID := s.str("recipient_id")
	if s.str("recipient_type") == "group" {
		recipientID = s.str("recipient_participant_id")
	}
	su.Recipient = bridge.Customer{Phone: plusDigits(recipientID), BSUID: s.str("recipient_user_id")}
	if su.Recipient.BSUID == "" && recipientID != "" {
		su.Recipient.BSUID = matchContact(contacts, recipientID, "").userID
	}

	if su.Status == bridge.StatusFailed && len(su.Errors) > 0 {
		su.Action, su.Reason = Classify(su.Errors[0].Code)
	}
	return bridge.Event{Status: su}
}
