package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wabridge/wabridge/adapters/smpp"
	"github.com/wabridge/wabridge/adapters/whatsapp"
	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/catalog"
	"github.com/wabridge/wabridge/internal/config"
	"github.com/wabridge/wabridge/internal/httpd"
	"github.com/wabridge/wabridge/internal/mailbox"
	"github.com/wabridge/wabridge/internal/templates"
)

// TemplateResolver builds the template cache and policy of [templates]
// over the provider's template listing (Meta's message templates or
// Twilio's Content API).
func TemplateResolver(cfg *config.Config, source catalog.Source, log *slog.Logger) *catalog.Resolver {
	t := cfg.Templates
	cache := catalog.NewCache(source, t.TTL.D(), t.RetryAfter.D(), log)
	cc := catalog.Config{Languages: t.Languages, Resolve: t.Resolve, USMarketingBlocked: t.USMarketingBlocked, ServiceType: smpp.ServiceType}
	for _, p := range t.Pins {
		pin := catalog.Pin{ServiceType: p.ServiceType, Template: p.Template, Language: p.Language}
		if p.SMPPAccount != "" {
			pin.Origin = smpp.Origin(p.SMPPAccount)
		} else {
			pin.Origin = mailbox.OriginPrefix + strings.ToLower(p.MailUser)
		}
		cc.Pins = append(cc.Pins, pin)
	}
	return catalog.NewResolver(cache, cc, log)
}

type sourceFunc func(ctx context.Context) ([]*templates.Template, error)

func (f sourceFunc) ListTemplates(ctx context.Context) ([]*templates.Template, error) { return f(ctx) }

// templateAPI is the REST view of the catalogue (httpd.Templates).
type templateAPI struct {
	r      *catalog.Resolver
	client *whatsapp.Client
	events *templateEvents
}

// templateEvents keeps the last status webhook of each template (its
// event and reason, e.g. REJECTED / INVALID_FORMAT), by name/language.
type templateEvents struct {
	mu   sync.Mutex
	last map[string]templateEvent
}

type templateEvent struct {
	Event  string `json:"event"`
	Reason string `json:"reason"`
	Name   string `json:"message_template_name"`
	Lang   string `json:"message_template_language"`
}

func newTemplateEvents() *templateEvents { return &templateEvents{last: map[string]templateEvent{}} }

// onEvent is a bridge event hook: it reads message_template_status_update.
func (te *templateEvents) onEvent(e bridge.RawEvent) {
	if e.Field != "message_template_status_update" {
		return
	}
	var v templateEvent
	if json.Unmarshal(e.Raw, &v) != nil || v.Name == "" {
		return
	}
	te.mu.Lock()
	te.last[v.Name+"/"+v.Lang] = v
	te.mu.Unlock()
}

func (te *templateEvents) get(name, lang string) (templateEvent, bool) {
	te.mu.Lock()
	defer te.mu.Unlock()
	v, ok := te.last[name+"/"+lang]
	return v, ok
}

func (t templateAPI) List() httpd.TemplateList {
	st := t.r.Cache().Status()
	out := httpd.TemplateList{Valid: st.Valid, Listings: st.Listings, LastError: st.LastError, Templates: []httpd.TemplateView{}}
	if st.Snapshot != nil {
		out.FetchedAt = st.Snapshot.FetchedAt
		out.AgeSeconds = time.Since(st.Snapshot.FetchedAt).Seconds()
		for _, tp := range st.Snapshot.Templates {
			v := httpd.TemplateView{
				ID: tp.ID, Name: tp.Name, Language: tp.Language, Status: tp.Status, Category: tp.Category,
				ParameterFormat: tp.ParameterFormat, Body: tp.Body, Params: tp.BodyParams,
			}
			if ev, ok := t.events.get(tp.Name, tp.Language); ok {
				v.LastEvent = ev.Event
				if ev.Reason != "" && ev.Reason != "NONE" {
					v.RejectedReason = ev.Reason
				}
			}
			out.Templates = append(out.Templates, v)
		}
	}
	return out
}

func (t templateAPI) Invalidate(reason string) { t.r.Invalidate(reason) }

// Create checks a submission as Meta would (examples for every variable)
// before sending it, then drops the cache so the new template shows.
func (t templateAPI) Create(ctx context.Context, body []byte) (httpd.CreatedTemplate, error) {
	var req struct {
		Name            string          `json:"name"`
		Language        string          `json:"language"`
		Category        string          `json:"category"`
		ParameterFormat string          `json:"parameter_format"`
		Components      json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return httpd.CreatedTemplate{}, &bridge.RefusedError{Reason: bridge.ReasonInvalid, Msg: "body is not a JSON template: " + err.Error()}
	}
	if err := templates.ValidateNew(req.Name, req.Language, req.Category, req.ParameterFormat, req.Components); err != nil {
		return httpd.CreatedTemplate{}, &bridge.RefusedError{Reason: bridge.ReasonInvalid, Msg: err.Error()}
	}
	if t.client == nil {
		return httpd.CreatedTemplate{}, &bridge.RefusedError{Reason: bridge.ReasonInvalid,
			Msg: "with whatsapp.provider \"twilio\" templates are created in Twilio's Content API (Console or POST /v1/Content); wabridge lists and sends them"}
	}
	created, err := t.client.CreateTemplate(ctx, body)
	if err != nil {
		return httpd.CreatedTemplate{}, err
	}
	t.r.Invalidate("template created")
	return httpd.CreatedTemplate{ID: created.ID, Status: created.Status, Category: created.Category}, nil
}
