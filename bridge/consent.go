package bridge

import (
	"context"
	"strings"
	"time"
	"unicode"
)

// Consent is a customer's messaging consent: opted out (STOP, an import)
// until opted in again (START).
type Consent struct {
	Customer string    `json:"customer"` // Customer.Key()
	OptedOut bool      `json:"opted_out"`
	At       time.Time `json:"at"`
	// Source is where the change came from: "keyword", "import", "api".
	Source  string `json:"source"`
	Keyword string `json:"keyword,omitempty"`
	// Ref is what caused it (the wamid of the customer's message).
	Ref string `json:"ref,omitempty"`
}

// OriginCompliance is the origin of wabridge's own confirmations of an
// opt-out or opt-in: the one message an opted-out customer still gets.
const OriginCompliance = "compliance"

// Compliance configures opt-out and opt-in by keyword.
type Compliance struct {
	// OptOutKeywords and OptInKeywords are compared with the whole text of
	// a customer's message, ignoring case, surrounding spaces and
	// punctuation ("Stop!" is STOP).
	OptOutKeywords, OptInKeywords []string
	// OptOutReply and OptInReply confirm the change inside the window;
	// "" sends none.
	OptOutReply, OptInReply string
}

// keyword returns the normalised form of a message that may be a keyword.
func normalizeKeyword(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) })
	return strings.ToUpper(strings.Join(strings.Fields(s), " "))
}

// consentChange reports whether an inbound text is an opt-out (true) or
// opt-in (false) keyword.
func (c *Compliance) consentChange(text string) (optOut, ok bool, keyword string) {
	k := normalizeKeyword(text)
	if k == "" {
		return false, false, ""
	}
	for _, w := range c.OptOutKeywords {
		if normalizeKeyword(w) == k {
			return true, true, k
		}
	}
	for _, w := range c.OptInKeywords {
		if normalizeKeyword(w) == k {
			return false, true, k
		}
	}
	return false, false, ""
}

// OptedOut reports whether the customer has opted out.
func (b *Bridge) OptedOut(ctx context.Context, c Customer) (bool, error) {
	cs, err := b.store.Consent(ctx, c.Key())
	if err == ErrNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return cs.OptedOut, nil
}

// Consent returns a customer's consent record (ErrNotFound if none).
func (b *Bridge) Consent(ctx context.Context, customer string) (*Consent, error) {
	return b.store.Consent(ctx, customer)
}

// SetConsent records a consent change (an import or an operator's),
// unless a newer one is stored; it reports whether it applied.
func (b *Bridge) SetConsent(ctx context.Context, c Consent) (bool, error) {
	return b.store.SetConsent(ctx, c)
}

// applyKeyword records an opt-out or opt-in keyword from an inbound text
// and sends its confirmation (once: keyed by the customer's message).
func (b *Bridge) applyKeyword(ctx context.Context, m *Message) error {
	if b.cfg.Compliance == nil || m.Kind != KindText {
		return nil
	}
	optOut, ok, kw := b.cfg.Compliance.consentChange(m.Content.Text)
	if !ok {
		return nil
	}
	at := m.Timestamp
	if at.IsZero() {
		at = m.CreatedAt
	}
	changed, err := b.store.SetConsent(ctx, Consent{Customer: m.Customer.Key(), OptedOut: optOut, At: at,
		Source: "keyword", Keyword: kw, Ref: m.WAMID})
	if err != nil {
		return err
	}
	b.log.Info("consent changed by keyword", "customer", m.Customer.Key(), "opted_out", optOut, "keyword", kw, "applied", changed)
	reply := b.cfg.Compliance.OptInReply
	if optOut {
		reply = b.cfg.Compliance.OptOutReply
	}
	if reply == "" {
		return nil
	}
	_, _, err = b.Submit(ctx, &Message{Business: m.Business, Customer: m.Customer, Kind: KindText,
		Content: Content{Text: reply}, Origin: OriginCompliance, IdempotencyKey: "consent:" + string(m.ID)})
	return err
}
