package bridge

import (
	"context"
	"errors"
	"fmt"
)

// How a message went (or did not go) out, in its SendRecord.
const (
	// SentFreeform: as it was, inside the customer-service window.
	SentFreeform = "freeform"
	// SentTemplateExplicit: a template the origin chose (REST, SMTP
	// headers, SMPP TLV or prefix).
	SentTemplateExplicit = "template_explicit"
	// SentTemplatePinned: plain text sent as the template a config rule
	// pins for its origin.
	SentTemplatePinned = "template_pinned"
	// SentTemplateMatched: plain text matched to exactly one approved
	// template, its parameters captured from the text.
	SentTemplateMatched = "template_matched"
	// SentNone: not sent; Why says why.
	SentNone = "none"
)

// SendRecord tells how a message was sent: freeform or as which template
// with what parameters, and how that template was chosen — or why it
// could not be sent.
type SendRecord struct {
	How         string            `json:"how"`
	Template    string            `json:"template,omitempty"`
	Language    string            `json:"language,omitempty"`
	Category    string            `json:"category,omitempty"`
	Params      []string          `json:"params,omitempty"`
	NamedParams map[string]string `json:"named_params,omitempty"`
	Why         string            `json:"why,omitempty"`
}

// TemplateResolver is the template policy the core asks before sending:
// it knows the WABA's approved templates (cached), resolves plain text
// that cannot go freeform, vets explicit templates and applies the
// compliance rules tied to templates.
type TemplateResolver interface {
	// Resolve turns a plain-text message that cannot go freeform (the
	// window is closed) into an approved template, or refuses it with a
	// *RefusedError (ReasonNoTemplate, ReasonUSMarketingBlocked, …). Any
	// other error is temporary (the catalogue could not be read).
	Resolve(ctx context.Context, m *Message) (*Template, *SendRecord, error)
	// Check vets an explicit template message the same way: approved,
	// allowed to this customer.
	Check(ctx context.Context, m *Message) (*SendRecord, error)
	// Invalidate drops the cached catalogue (a template webhook, a send
	// error saying the cache is stale, an operator's request).
	Invalidate(reason string)
}

// WithTemplates sets the template policy. Without one, plain text outside
// the window fails window_closed and explicit templates go out unchecked.
func WithTemplates(r TemplateResolver) Option {
	return func(b *Bridge) { b.templates = r }
}

// templateStaleCodes are send errors that mean the cached catalogue is
// out of date (FACTS.md b10): parameter count or format mismatch, missing
// or unapproved translation, paused or disabled template. Twilio's 63027
// (no template for that language) and 63028 (parameter count mismatch) mean
// the same; they arrive in status callbacks as often as in replies.
var templateStaleCodes = map[int]bool{132000: true, 132001: true, 132012: true, 132015: true, 132016: true,
	63027: true, 63028: true}

// templateFields are the webhook fields about templates.
var templateFields = map[string]bool{
	"message_template_status_update":     true,
	"message_template_components_update": true,
	"message_template_quality_update":    true,
	"template_category_update":           true,
}

// resolve applies the template policy to m before it is sent. It returns
// the message to send (m itself, or a template copy of it) and its record;
// a refusal is a *RefusedError.
func (b *Bridge) resolve(ctx context.Context, m *Message, windowOpen bool) (*Message, *SendRecord, error) {
	switch {
	case m.Kind == KindTemplate:
		if b.templates == nil {
			return m, &SendRecord{How: SentTemplateExplicit, Template: m.Content.Template.Name, Language: m.Content.Template.Language}, nil
		}
		rec, err := b.templates.Check(ctx, m)
		return m, rec, err
	case windowOpen:
		return m, &SendRecord{How: SentFreeform}, nil
	case m.Kind != KindText || b.templates == nil:
		return nil, &SendRecord{How: SentNone, Why: "the customer-service window is closed and only templates may be sent"},
			&RefusedError{Reason: ReasonWindowClosed, Msg: "the customer-service window is closed"}
	}
	t, rec, err := b.templates.Resolve(ctx, m)
	if err != nil {
		return nil, rec, err
	}
	sent := *m
	sent.Kind = KindTemplate
	sent.Content = Content{Template: t, Context: m.Content.Context}
	return &sent, rec, nil
}

// refusal returns err's *RefusedError, if it is one.
func refusal(err error) (*RefusedError, bool) {
	var re *RefusedError
	ok := errors.As(err, &re)
	return re, ok
}

func (r *SendRecord) String() string {
	if r == nil {
		return ""
	}
	if r.Template != "" {
		return fmt.Sprintf("%s %s/%s", r.How, r.Template, r.Language)
	}
	return r.How
}
