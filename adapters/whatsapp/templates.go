package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/templates"
)

// TemplateInfo is one template of the WhatsApp Business Account as listed by
// GET /{waba_id}/message_templates (FACTS.md b10). Components are kept as
// Meta sends them.
type TemplateInfo struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Status          string          `json:"status"`
	Category        string          `json:"category"`
	ParameterFormat string          `json:"parameter_format"`
	Components      json.RawMessage `json:"components,omitempty"`
}

// templateFields are the fields requested from the listing endpoint.
const templateFields = "id,name,language,status,category,parameter_format,components"

// maxTemplatePages stops a listing that never ends (a WABA holds at most a
// few hundred templates; 100 per page).
const maxTemplatePages = 200

// templatePage is one page of the listing.
type templatePage struct {
	Data   []TemplateInfo `json:"data"`
	Paging struct {
		Cursors struct {
			After string `json:"after"`
		} `json:"cursors"`
		Next string `json:"next"`
	} `json:"paging"`
}

// ListTemplates returns every template of the configured WABA, following the
// cursor paging until Meta reports no next page. The next page is requested
// with the "after" cursor on our own URL rather than by fetching paging.next
// verbatim, so the request never leaves the configured Graph host and the
// token stays in the header. Failures are *bridge.SendError (80007, Meta's
// management rate limit, is retryable: callers should cache the result).
func (c *Client) ListTemplates(ctx context.Context) ([]TemplateInfo, error) {
	if c.wabaID == "" {
		return nil, errors.New("whatsapp: ListTemplates needs Config.WABAID")
	}
	var all []TemplateInfo
	after := ""
	for page := 0; ; page++ {
		if page >= maxTemplatePages {
			return nil, fmt.Errorf("whatsapp: template listing exceeded %d pages", maxTemplatePages)
		}
		data, err := c.call(ctx, "list_templates", http.MethodGet, c.templatesURL(after), nil)
		if err != nil {
			return nil, err
		}
		var p templatePage
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, &bridge.SendError{
				Action: bridge.ActionRetry,
				Reason: bridge.ReasonUpstreamError,
				Title:  "unreadable template listing",
				Err:    err,
			}
		}
		all = append(all, p.Data...)
		if p.Paging.Next == "" {
			return all, nil
		}
		next := p.Paging.Cursors.After
		if next == "" {
			next = afterFromURL(p.Paging.Next)
		}
		if next == "" || next == after {
			return all, nil
		}
		after = next
	}
}

// templatesURL is the listing URL for the page after cursor (first page when "").
func (c *Client) templatesURL(after string) string {
	q := url.Values{}
	q.Set("fields", templateFields)
	q.Set("limit", "100")
	if after != "" {
		q.Set("after", after)
	}
	return c.base + "/" + url.PathEscape(c.wabaID) + "/message_templates?" + q.Encode()
}

// afterFromURL extracts the "after" cursor from a paging.next URL.
func afterFromURL(next string) string {
	u, err := url.Parse(next)
	if err != nil {
		return ""
	}
	return u.Query().Get("after")
}

// Templates lists the account's templates in the model of
// internal/templates (catalog.Source). A template whose components cannot
// be read is left out and logged: one odd template must not hide the rest.
func (c *Client) Templates(ctx context.Context) ([]*templates.Template, error) {
	infos, err := c.ListTemplates(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*templates.Template, 0, len(infos))
	for _, ti := range infos {
		t, err := templates.Parse(ti.ID, ti.Name, ti.Language, ti.Status, ti.Category, ti.ParameterFormat, ti.Components)
		if err != nil {
			c.log.Warn("template left out of the catalogue", "name", ti.Name, "language", ti.Language, "err", err)
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// CreatedTemplate is Meta's answer to a template submission.
type CreatedTemplate struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Category string `json:"category"`
}

// CreateTemplate submits a template for approval: POST
// /{waba_id}/message_templates with Meta's body (name, language,
// category, components, parameter_format). Errors are *bridge.SendError.
func (c *Client) CreateTemplate(ctx context.Context, body []byte) (*CreatedTemplate, error) {
	if c.wabaID == "" {
		return nil, errors.New("whatsapp: CreateTemplate needs Config.WABAID")
	}
	data, err := c.call(ctx, "create_template", http.MethodPost, c.base+"/"+url.PathEscape(c.wabaID)+"/message_templates", body)
	if err != nil {
		return nil, err
	}
	var out CreatedTemplate
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("whatsapp: unreadable template creation answer: %w", err)
	}
	return &out, nil
}
