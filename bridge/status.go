package bridge

// Status is where a message stands. Outbound: queued → sent → delivered →
// read, or failed. Inbound messages are received.
type Status string

// Statuses. Played (a voice message's first play) is folded into read.
const (
	StatusQueued    Status = "queued"
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusRead      Status = "read"
	StatusFailed    Status = "failed"
	StatusReceived  Status = "received"
)

// ParseStatus maps a provider status word to a Status; ok is false for words
// the machine does not know (they are stored but never move a message).
func ParseStatus(s string) (Status, bool) {
	switch s {
	case "queued", "accepted":
		return StatusQueued, true
	case "sent":
		return StatusSent, true
	case "delivered":
		return StatusDelivered, true
	case "read", "played":
		return StatusRead, true
	case "failed", "undelivered":
		return StatusFailed, true
	}
	return "", false
}

// rank orders the success path; failed is handled apart.
func rank(s Status) int {
	switch s {
	case StatusQueued:
		return 0
	case StatusSent:
		return 1
	case StatusDelivered:
		return 2
	case StatusRead:
		return 3
	}
	return -1
}

// Final reports whether no further status can change s.
func (s Status) Final() bool { return s == StatusRead || s == StatusFailed }

// Advance applies an observed status to the current one and returns the
// resulting status. The machine is monotonic: a duplicate, late or
// out-of-order event never moves a message back; failed is final and so is
// read; a failure after delivery does not undo the delivery. The caller keeps
// every observed status in the history, whatever Advance returns.
func Advance(cur, observed Status) Status {
	if cur == StatusFailed || cur == observed {
		return cur
	}
	if observed == StatusFailed {
		if rank(cur) >= rank(StatusDelivered) {
			return cur
		}
		return StatusFailed
	}
	if rank(observed) > rank(cur) {
		return observed
	}
	return cur
}
