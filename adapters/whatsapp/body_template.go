package whatsapp

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/wabridge/wabridge/bridge"
)

// templateMsg is the "template" member of a send body (FACTS.md b1):
// {"name","language":{"code"},"components":[…]}.
type templateMsg struct {
	Name       string         `json:"name"`
	Language   templateLang   `json:"language"`
	Components []tplComponent `json:"components,omitempty"`
}

type templateLang struct {
	Code string `json:"code"`
}

// tplComponent is a header, body or button component with its parameters.
// Button components carry sub_type and index (a string, as Meta's examples
// mostly write it).
type tplComponent struct {
	Type       string     `json:"type"`
	SubType    string     `json:"sub_type,omitempty"`
	Index      string     `json:"index,omitempty"`
	Parameters []tplParam `json:"parameters"`
}

// tplParam is one parameter; the member named by Type is set.
type tplParam struct {
	Type          string    `json:"type"`
	ParameterName string    `json:"parameter_name,omitempty"`
	Text          string    `json:"text,omitempty"`
	Payload       string    `json:"payload,omitempty"`
	CouponCode    string    `json:"coupon_code,omitempty"`
	Image         *mediaRef `json:"image,omitempty"`
	Video         *mediaRef `json:"video,omitempty"`
	Document      *mediaRef `json:"document,omitempty"`
}

// mediaRef names media by uploaded id or by link; documents may carry a filename.
type mediaRef struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// buildTemplate fills o.Template from c.Template. Components come out in a
// fixed order — header, body, then buttons as given — and named body
// parameters sorted by name, so equal messages give equal bodies.
func buildTemplate(o *outgoing, c *bridge.Content) error {
	t := c.Template
	if t == nil {
		return invalid("template kind without template")
	}
	if t.Name == "" || t.Language == "" {
		return invalid("template name and language are required")
	}
	tm := &templateMsg{Name: t.Name, Language: templateLang{Code: t.Language}}

	header, err := templateHeader(t)
	if err != nil {
		return err
	}
	if header != nil {
		tm.Components = append(tm.Components, *header)
	}
	body, err := templateBody(t)
	if err != nil {
		return err
	}
	if body != nil {
		tm.Components = append(tm.Components, *body)
	}
	for i, b := range t.Buttons {
		comp, err := templateButton(i, b)
		if err != nil {
			return err
		}
		tm.Components = append(tm.Components, comp)
	}
	o.Template = tm
	return nil
}

// templateHeader builds the header component: one media or one text parameter.
func templateHeader(t *bridge.Template) (*tplComponent, error) {
	switch {
	case t.HeaderMedia != nil && t.HeaderText != "":
		return nil, invalid("template header has both media and text")
	case t.HeaderText != "":
		return &tplComponent{Type: "header", Parameters: []tplParam{{Type: "text", Text: t.HeaderText}}}, nil
	case t.HeaderMedia == nil:
		return nil, nil
	}
	hm := t.HeaderMedia
	if (hm.ID == "") == (hm.Link == "") {
		return nil, invalid("template header media needs exactly one of id and link")
	}
	ref := &mediaRef{ID: hm.ID, Link: hm.Link}
	p := tplParam{Type: hm.Type}
	switch hm.Type {
	case "image":
		p.Image = ref
	case "video":
		p.Video = ref
	case "document":
		ref.Filename = hm.Filename
		p.Document = ref
	default:
		return nil, invalid(fmt.Sprintf("template header media type %q (want image, video or document)", hm.Type))
	}
	return &tplComponent{Type: "header", Parameters: []tplParam{p}}, nil
}

// templateBody builds the body component from positional or named parameters.
func templateBody(t *bridge.Template) (*tplComponent, error) {
	if len(t.Params) > 0 && len(t.NamedParams) > 0 {
		return nil, invalid("template has both positional and named parameters")
	}
	var params []tplParam
	for i, v := range t.Params {
		if v == "" {
			return nil, invalid(fmt.Sprintf("template parameter {{%d}} is empty", i+1))
		}
		params = append(params, tplParam{Type: "text", Text: v})
	}
	names := make([]string, 0, len(t.NamedParams))
	for name := range t.NamedParams {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := t.NamedParams[name]
		if name == "" || v == "" {
			return nil, invalid(fmt.Sprintf("template parameter %q is empty", name))
		}
		params = append(params, tplParam{Type: "text", ParameterName: name, Text: v})
	}
	if len(params) == 0 {
		return nil, nil
	}
	return &tplComponent{Type: "body", Parameters: params}, nil
}

// templateButton builds one button component: quick_reply → payload,
// url → text (the URL suffix), copy_code → coupon_code. i is the button's
// position in the message, for error texts.
func templateButton(i int, b bridge.TemplateButton) (tplComponent, error) {
	if b.Index < 0 {
		return tplComponent{}, invalid(fmt.Sprintf("template button %d: negative index", i))
	}
	if b.Payload == "" {
		return tplComponent{}, invalid(fmt.Sprintf("template button %d: empty payload", i))
	}
	var p tplParam
	switch b.SubType {
	case "quick_reply":
		p = tplParam{Type: "payload", Payload: b.Payload}
	case "url":
		p = tplParam{Type: "text", Text: b.Payload}
	case "copy_code":
		p = tplParam{Type: "coupon_code", CouponCode: b.Payload}
	default:
		return tplComponent{}, invalid(fmt.Sprintf("template button %d: unsupported sub_type %q", i, b.SubType))
	}
	return tplComponent{
		Type:       "button",
		SubType:    b.SubType,
		Index:      strconv.Itoa(b.Index),
		Parameters: []tplParam{p},
	}, nil
}
