package bridge

import (
	"encoding/json"
	"time"
)

// Event is one item from a provider webhook, after parsing: an inbound
// message, a status update, or anything else (kept raw). Exactly one of the
// pointers is set.
type Event struct {
	Inbound *Message
	Status  *StatusUpdate
	Other   *RawEvent
}

// StatusUpdate is a provider's report on an outbound message.
type StatusUpdate struct {
	// WAMID is the provider's id of the message the status is about.
	WAMID string `json:"wamid"`
	// Status is the mapped status; RawStatus the provider's word.
	Status    Status    `json:"status"`
	RawStatus string    `json:"raw_status"`
	Timestamp time.Time `json:"timestamp"`
	Business  string    `json:"business,omitempty"`
	Recipient Customer  `json:"recipient"`
	// CallbackData echoes biz_opaque_callback_data: our MessageID.
	CallbackData    string          `json:"callback_data,omitempty"`
	Errors          []UpstreamError `json:"errors,omitempty"`
	PricingCategory string          `json:"pricing_category,omitempty"`
	// Action and Reason classify a failed status's first error with the
	// provider's table (set by the adapter that parsed it).
	Action Action `json:"action,omitempty"`
	Reason Reason `json:"reason,omitempty"`
	// Raw is the provider's status object as received: valid JSON, which
	// the store keeps as it is (without validating it again).
	Raw json.RawMessage `json:"raw,omitempty"`
	// Fallback, set by the core before storing, moves the message to SMS
	// instead of failing it (a failed status whose error triggers
	// fallback).
	Fallback Trigger `json:"fallback,omitempty"`
}

// Key is the idempotency key of a status event: (wamid, raw status).
func (s *StatusUpdate) Key() string { return s.WAMID + "/" + s.RawStatus }

// RawEvent is a webhook item wabridge does not act on yet (template status
// updates, account updates, unknown fields); it is stored and counted.
type RawEvent struct {
	// Field is the webhook change's field ("messages", "message_template_status_update", …).
	Field string `json:"field"`
	// Type further names the item ("errors", an unknown message type, …).
	Type string `json:"type,omitempty"`
	// Key, when set, makes the event idempotent (same key stored once).
	Key string          `json:"key,omitempty"`
	Raw json.RawMessage `json:"raw"`
}

// IngestResult counts what a batch of events changed.
type IngestResult struct {
	Inbound    int // new inbound messages
	Statuses   int // new status events
	Other      int // new raw events
	Duplicates int // events already stored
}
