package bridge

import (
	"errors"
	"fmt"
	"time"
)

// Action is what the core does after a failed send. Adapters choose it from
// one classification table per provider; the core acts on it.
type Action int

// Actions.
const (
	// ActionRetry: a temporary error; try the same channel again after backoff.
	ActionRetry Action = iota + 1
	// ActionTemplateOrFallback: the window is closed; send a template or move on.
	ActionTemplateOrFallback
	// ActionFallback: WhatsApp cannot deliver to this customer or account; move on.
	ActionFallback
	// ActionPermanent: never retry this message on this channel.
	ActionPermanent
	// ActionTemplateInvalid: the template was refused; refresh the catalogue, do not retry as is.
	ActionTemplateInvalid
)

func (a Action) String() string {
	switch a {
	case ActionRetry:
		return "retry"
	case ActionTemplateOrFallback:
		return "template_or_fallback"
	case ActionFallback:
		return "fallback"
	case ActionPermanent:
		return "permanent"
	case ActionTemplateInvalid:
		return "template_invalid"
	}
	return "unknown"
}

// MarshalText writes the action's name (for stored events and JSON).
func (a Action) MarshalText() ([]byte, error) {
	if a == 0 {
		return []byte{}, nil
	}
	return []byte(a.String()), nil
}

// UnmarshalText reads a name written by MarshalText.
func (a *Action) UnmarshalText(b []byte) error {
	for c := ActionRetry; c <= ActionTemplateInvalid; c++ {
		if c.String() == string(b) {
			*a = c
			return nil
		}
	}
	*a = 0
	if len(b) == 0 {
		return nil
	}
	return fmt.Errorf("bridge: unknown action %q", b)
}

// SendError is a classified failure from a provider. The decision to retry,
// fall back or give up travels with it.
type SendError struct {
	Code   int    // the provider's numeric code (0 if none)
	Title  string // the provider's short text
	Action Action
	Reason Reason
	// RetryAfter, when positive, is the provider's hint for ActionRetry.
	RetryAfter time.Duration
	Err        error // underlying transport error, if any
}

func (e *SendError) Error() string {
	msg := fmt.Sprintf("send failed: %s (code %d, %s)", e.Reason, e.Code, e.Action)
	if e.Title != "" {
		msg += ": " + e.Title
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SendError) Unwrap() error { return e.Err }

// AsSendError returns err as a *SendError; an unclassified error becomes a
// retryable upstream_error.
func AsSendError(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	return &SendError{Action: ActionRetry, Reason: ReasonUpstreamError, Err: err}
}

// RefusedError is a refusal known at submit time; edges turn it into their
// protocol's code (REST 4xx, SMPP command_status, SMTP 5xx).
type RefusedError struct {
	Reason Reason
	Field  string // the offending field, if one
	Msg    string
}

func (e *RefusedError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("bridge: %s: %s: %s", e.Reason, e.Field, e.Msg)
	}
	return fmt.Sprintf("bridge: %s: %s", e.Reason, e.Msg)
}

// ErrNotCancellable: the message is no longer queued, or its send began.
var ErrNotCancellable = errors.New("bridge: message can no longer be cancelled")

// ErrNotFound is returned by lookups of messages and records that do not exist.
var ErrNotFound = errors.New("bridge: not found")
