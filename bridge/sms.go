package bridge

import (
	"context"
	"time"
)

// SMS is one message to send as SMS.
type SMS struct {
	// ID is the message's id (for logs and the route's own bookkeeping).
	ID MessageID
	// From is the sender: the business number in E.164, or an ESME's
	// alphanumeric source_addr where the route allows it.
	From string
	// To is the customer's number in E.164.
	To string
	// Text is the whole text; the route splits it into parts.
	Text string
}

// SMSRoute sends text as SMS through an upstream: an operator's SMSC over
// SMPP, Twilio SMS (issue 8).
type SMSRoute interface {
	// Name is the route's configured name.
	Name() string
	// SubmitSMS submits the text to the customer, in as many parts as it
	// needs, and returns the upstream's id of each part, in order, once
	// every part was accepted. It honours ctx. Failures are *SendError:
	// ActionRetry when it may work later (link down, throttled, queue
	// full — the core retries with backoff), any other action is final
	// for this route. Parts accepted before a failure are reported in the
	// error's PartIDs (see SMSSubmitError) so their receipts still match.
	SubmitSMS(ctx context.Context, sms SMS) ([]string, error)
}

// SMSSubmitError is a failure after some parts were accepted.
type SMSSubmitError struct {
	*SendError
	PartIDs []string
}

// Unwrap returns the SendError.
func (e *SMSSubmitError) Unwrap() error { return e.SendError }

// SMS delivery states as SMPP receipts name them (SMPP 3.4 appendix B).
const (
	SMSDelivered     = "DELIVRD"
	SMSUndeliverable = "UNDELIV"
	SMSRejected      = "REJECTD"
	SMSExpired       = "EXPIRED"
	SMSDeleted       = "DELETED"
	SMSAccepted      = "ACCEPTD"
	SMSEnroute       = "ENROUTE"
	SMSUnknown       = "UNKNOWN"
)

// SMSEvent is what an SMS route reports from upstream: a receipt for one
// part, or a customer's message (MO).
type SMSEvent struct {
	Route string
	// A receipt: PartID is the upstream id SubmitSMS returned for the
	// part; Stat one of the SMS* states; ErrorCode the upstream's code
	// (0 when none); At when the upstream says it happened.
	PartID    string
	Stat      string
	ErrorCode int
	At        time.Time
	// An MO: the customer's message (Direction inbound, Channel sms,
	// Business the number it was sent to, Customer.Phone the sender,
	// Kind text, WAMID the upstream's id, Timestamp).
	MO *Message
}
