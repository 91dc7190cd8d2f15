package httpd

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/wabridge/wabridge/bridge"
)

// Templates is the template catalogue as the REST API shows and drives it.
type Templates interface {
	// List returns the cached catalogue without refreshing it.
	List() TemplateList
	// Invalidate drops the cache: the next send reads it anew.
	Invalidate(reason string)
	// Create validates a template submission (Meta's body) and submits it
	// for approval. A *bridge.RefusedError is the submitter's mistake.
	Create(ctx context.Context, body []byte) (CreatedTemplate, error)
}

// TemplateList is GET /api/v1/templates.
type TemplateList struct {
	FetchedAt  time.Time      `json:"fetched_at,omitzero"`
	AgeSeconds float64        `json:"age_seconds"`
	Valid      bool           `json:"valid"`
	Listings   int64          `json:"listings"`
	LastError  string         `json:"last_error,omitempty"`
	Templates  []TemplateView `json:"templates"`
}

// TemplateView is one template in the list.
type TemplateView struct {
	ID              string   `json:"id,omitempty"`
	Name            string   `json:"name"`
	Language        string   `json:"language"`
	Status          string   `json:"status"`
	Category        string   `json:"category"`
	ParameterFormat string   `json:"parameter_format,omitempty"`
	Body            string   `json:"body"`
	Params          []string `json:"params,omitempty"`
	// LastEvent and RejectedReason are from the template's last status
	// webhook (REJECTED / INVALID_FORMAT, PAUSED, …).
	LastEvent      string `json:"last_event,omitempty"`
	RejectedReason string `json:"rejected_reason,omitempty"`
}

// CreatedTemplate is the answer to POST /api/v1/templates.
type CreatedTemplate struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Category string `json:"category,omitempty"`
}

func (s *Server) templatesOff(ctx *fasthttp.RequestCtx) bool {
	if s.deps.Templates == nil {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "", "no template catalogue (no WhatsApp Business Account id configured)")
		return true
	}
	return false
}

// getTemplates: GET /api/v1/templates — the cache with its age.
func (s *Server) getTemplates(ctx *fasthttp.RequestCtx) {
	if s.templatesOff(ctx) {
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, s.deps.Templates.List())
}

// invalidateTemplates: POST /api/v1/templates/invalidate.
func (s *Server) invalidateTemplates(ctx *fasthttp.RequestCtx) {
	if s.templatesOff(ctx) {
		return
	}
	s.deps.Templates.Invalidate("api")
	writeJSON(ctx, fasthttp.StatusOK, map[string]bool{"invalidated": true})
}

// postTemplate: POST /api/v1/templates — submit a template for approval.
func (s *Server) postTemplate(ctx *fasthttp.RequestCtx) {
	if s.templatesOff(ctx) {
		return
	}
	body := append([]byte(nil), ctx.PostBody()...)
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := s.deps.Templates.Create(c, body)
	var re *bridge.RefusedError
	var se *bridge.SendError
	switch {
	case errors.As(err, &re):
		writeError(ctx, fasthttp.StatusBadRequest, string(re.Reason), re.Field, re.Msg)
	case errors.As(err, &se) && se.Code != 0:
		writeError(ctx, fasthttp.StatusUnprocessableEntity, "upstream_error", "", se.Error())
	case err != nil:
		s.log.Error("template submission failed", "err", err)
		writeError(ctx, fasthttp.StatusBadGateway, "upstream_error", "", "could not reach WhatsApp; try again")
	default:
		writeJSON(ctx, fasthttp.StatusCreated, out)
	}
}
