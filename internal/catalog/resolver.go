package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/templates"
)

// Pin sends every plain-text message of an origin outside the window as
// one template: the text is matched against that template only (its
// parameters captured), or, when it has a single body parameter and the
// text does not match, becomes that parameter.
type Pin struct {
	// Origin is an exact origin ("smpp:acme", "smtp:agent").
	Origin string
	// ServiceType narrows an SMPP pin to one service_type ("" for any).
	ServiceType string
	Template    string
	Language    string // "" for the language order
}

// Config is the template policy.
type Config struct {
	// Languages is the order in which a template found in several
	// languages is chosen ("en_US", "de_DE").
	Languages []string
	// Resolve matches plain text to approved templates; when false, plain
	// text outside the window fails window_closed.
	Resolve bool
	Pins    []Pin
	// ServiceType returns an SMPP message's service_type (from its origin
	// data), for pins; may be nil.
	ServiceType func(m *bridge.Message) string
	// USMarketingBlocked refuses MARKETING templates to US numbers
	// (default true via NewResolver).
	USMarketingBlocked bool
}

// Resolver implements bridge.TemplateResolver over a Cache.
type Resolver struct {
	cache *Cache
	cfg   Config
	log   *slog.Logger
}

var _ bridge.TemplateResolver = (*Resolver)(nil)

// NewResolver returns the policy over cache.
func NewResolver(cache *Cache, cfg Config, log *slog.Logger) *Resolver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Resolver{cache: cache, cfg: cfg, log: log}
}

// Cache returns the template cache.
func (r *Resolver) Cache() *Cache { return r.cache }

// Invalidate implements bridge.TemplateResolver.
func (r *Resolver) Invalidate(reason string) { r.cache.Invalidate(reason) }

func refuse(reason bridge.Reason, rec *bridge.SendRecord, format string, args ...any) (*bridge.Template, *bridge.SendRecord, error) {
	msg := fmt.Sprintf(format, args...)
	if rec == nil {
		rec = &bridge.SendRecord{How: bridge.SentNone}
	}
	rec.How, rec.Why = bridge.SentNone, msg
	return nil, rec, &bridge.RefusedError{Reason: reason, Msg: msg}
}

// Resolve implements bridge.TemplateResolver.
func (r *Resolver) Resolve(ctx context.Context, m *bridge.Message) (*bridge.Template, *bridge.SendRecord, error) {
	if !r.cfg.Resolve && r.pin(m) == nil {
		return refuse(bridge.ReasonWindowClosed, nil, "the customer-service window is closed and template resolution is off")
	}
	snap, err := r.cache.Get(ctx)
	if err != nil {
		return nil, nil, err
	}
	text := m.Content.Text
	how := bridge.SentTemplateMatched
	var res templates.Result
	if pin := r.pin(m); pin != nil {
		how = bridge.SentTemplatePinned
		res, err = r.matchPinned(snap, pin, text)
	} else {
		res, err = snap.Matcher.Match(text, r.cfg.Languages)
	}
	switch {
	case errors.Is(err, templates.ErrAmbiguous):
		return refuse(bridge.ReasonNoTemplate, nil, "the window is closed and the text fits more than one approved template (%v)", err)
	case err != nil:
		return refuse(bridge.ReasonNoTemplate, nil, "the window is closed and no approved template fits the text (%v)", err)
	}
	t := res.Template
	rec := &bridge.SendRecord{How: how, Template: t.Name, Language: t.Language, Category: t.Category,
		Params: res.Params, NamedParams: res.Named}
	if why := r.blocked(t, m); why != "" {
		return refuse(bridge.ReasonUSMarketingBlocked, rec, "%s", why)
	}
	send, err := t.Send(templates.Values{Body: res.Params, Named: res.Named})
	if err != nil {
		return refuse(bridge.ReasonTemplateError, rec, "%v", err)
	}
	return send, rec, nil
}

// Check implements bridge.TemplateResolver: the template must be in the
// catalogue and approved, and allowed to this customer.
func (r *Resolver) Check(ctx context.Context, m *bridge.Message) (*bridge.SendRecord, error) {
	bt := m.Content.Template
	rec := &bridge.SendRecord{How: bridge.SentTemplateExplicit, Template: bt.Name, Language: bt.Language,
		Params: bt.Params, NamedParams: bt.NamedParams}
	snap, err := r.cache.Get(ctx)
	if err != nil {
		return nil, err
	}
	t := snap.Find(bt.Name, bt.Language)
	switch {
	case t == nil:
		_, rec, err = refuse(bridge.ReasonTemplateError, rec, "template %s is not in the account in language %s", bt.Name, bt.Language)
		return rec, err
	case !t.Approved():
		_, rec, err = refuse(bridge.ReasonTemplateError, rec, "template %s (%s) is %s, not APPROVED", bt.Name, bt.Language, t.Status)
		return rec, err
	}
	rec.Category = t.Category
	if why := r.blocked(t, m); why != "" {
		_, rec, err = refuse(bridge.ReasonUSMarketingBlocked, rec, "%s", why)
		return rec, err
	}
	return rec, nil
}

// blocked applies the compliance rules tied to a template's category:
// WhatsApp no longer delivers MARKETING templates to US numbers (+1 in
// the US, not Canada).
func (r *Resolver) blocked(t *templates.Template, m *bridge.Message) string {
	if r.cfg.USMarketingBlocked && strings.EqualFold(t.Category, "MARKETING") && IsUSNumber(m.Customer.Phone) {
		return fmt.Sprintf("template %s is MARKETING and %s is a US number: WhatsApp does not deliver marketing templates to US numbers", t.Name, m.Customer.Phone)
	}
	return ""
}

// IsUSNumber reports whether an E.164 number belongs to the United States
// (not Canada or another +1 country).
func IsUSNumber(e164 string) bool {
	if !strings.HasPrefix(e164, "+1") {
		return false
	}
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return false
	}
	return phonenumbers.GetRegionCodeForNumber(n) == "US"
}

func (r *Resolver) pin(m *bridge.Message) *Pin {
	st := ""
	if r.cfg.ServiceType != nil {
		st = r.cfg.ServiceType(m)
	}
	var best *Pin
	for i := range r.cfg.Pins {
		p := &r.cfg.Pins[i]
		if p.Origin != m.Origin || (p.ServiceType != "" && p.ServiceType != st) {
			continue
		}
		if best == nil || (p.ServiceType != "" && best.ServiceType == "") {
			best = p // a service_type pin beats the account's
		}
	}
	return best
}

func (r *Resolver) matchPinned(snap *Snapshot, pin *Pin, text string) (templates.Result, error) {
	var cands []*templates.Template
	for _, t := range snap.Templates {
		if t.Name == pin.Template && (pin.Language == "" || t.Language == pin.Language) && t.Approved() {
			cands = append(cands, t)
		}
	}
	if len(cands) == 0 {
		return templates.Result{}, fmt.Errorf("pinned template %s is not approved in the account", pin.Template)
	}
	res, err := templates.NewMatcher(cands).Match(text, r.cfg.Languages)
	if err == nil {
		return res, nil
	}
	// A one-parameter template takes the whole text as its parameter.
	t := pickLanguage(cands, pin.Language, r.cfg.Languages)
	if t != nil && len(t.BodyParams) == 1 {
		res := templates.Result{Template: t}
		if strings.EqualFold(t.ParameterFormat, "NAMED") {
			res.Named = map[string]string{t.BodyParams[0]: strings.TrimSpace(text)}
		} else {
			res.Params = []string{strings.TrimSpace(text)}
		}
		return res, nil
	}
	return templates.Result{}, err
}

func pickLanguage(ts []*templates.Template, want string, order []string) *templates.Template {
	for _, l := range append([]string{want}, order...) {
		for _, t := range ts {
			if l != "" && t.Language == l {
				return t
			}
		}
	}
	if len(ts) == 1 {
		return ts[0]
	}
	return nil
}

var _ bridge.TemplateText = (*Resolver)(nil)

// RenderText implements bridge.TemplateText: the template's body with the
// message's parameters, for the SMS that replaces it.
func (r *Resolver) RenderText(ctx context.Context, bt *bridge.Template) (string, error) {
	snap, err := r.cache.Get(ctx)
	if err != nil {
		return "", err
	}
	t := snap.Find(bt.Name, bt.Language)
	if t == nil {
		return "", fmt.Errorf("template %s (%s) is not in the catalogue", bt.Name, bt.Language)
	}
	return t.Render(templates.Values{Body: bt.Params, Named: bt.NamedParams, HeaderText: bt.HeaderText})
}
