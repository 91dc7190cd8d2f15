package templates

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wabridge/wabridge/bridge"
)

// Values are the parameters of one use of a template.
type Values struct {
	// Body are the positional body values: Body[0] fills {{1}}.
	Body []string
	// Named are the named body values by parameter name.
	Named map[string]string
	// HeaderText fills the placeholder of a TEXT header.
	HeaderText string
	// HeaderMedia is the media of an IMAGE, VIDEO or DOCUMENT header.
	HeaderMedia *bridge.TemplateMedia
	// Buttons are button values by button index: the URL suffix of a
	// dynamic URL button, the coupon of a COPY_CODE button, the code of an
	// OTP button, the payload of a QUICK_REPLY button (optional).
	Buttons map[int]string
}

// maxParamSpaces is the longest run of spaces WhatsApp accepts inside a
// parameter; newlines and tabs are refused outright ("Param text cannot
// have new-line/tab characters or more than 4 consecutive spaces").
const maxParamSpaces = 4

// checkParamValue enforces WhatsApp's rules for a text parameter: not
// empty, no line break or tab, at most four consecutive white-space characters.
func checkParamValue(v string) error {
	if v == "" {
		return fmt.Errorf("is empty")
	}
	run := 0
	for _, r := range v {
		if isSpace(r) {
			if badSpace(r) {
				return fmt.Errorf("contains a line break or tab (%q)", r)
			}
			run++
			if run > maxParamSpaces {
				return fmt.Errorf("has more than %d consecutive spaces", maxParamSpaces)
			}
			continue
		}
		run = 0
	}
	return nil
}

// bodyValues returns the body values by placeholder name, checking that v
// holds exactly the template's body parameters. strict also applies
// WhatsApp's value rules (Send); Render only needs non-empty values.
func (t *Template) bodyValues(v Values, strict bool) (map[string]string, error) {
	out := make(map[string]string, len(t.BodyParams))
	check := func(label, val string) error {
		if strict {
			if err := checkParamValue(val); err != nil {
				return fmt.Errorf("template %s: body parameter %s %v", t.Name, label, err)
			}
		} else if val == "" {
			return fmt.Errorf("template %s: body parameter %s is empty", t.Name, label)
		}
		return nil
	}
	if t.IsNamed() {
		if len(v.Body) > 0 {
			return nil, fmt.Errorf("template %s takes named body parameters, got %d positional ones", t.Name, len(v.Body))
		}
		var missing, unknown []string
		for _, name := range t.BodyParams {
			if _, ok := v.Named[name]; !ok {
				missing = append(missing, name)
			}
		}
		for name := range v.Named {
			if !slices.Contains(t.BodyParams, name) {
				unknown = append(unknown, name)
			}
		}
		slices.Sort(unknown)
		switch {
		case len(missing) > 0:
			return nil, fmt.Errorf("template %s needs body parameters %s, missing %s", t.Name, strings.Join(t.BodyParams, ", "), strings.Join(missing, ", "))
		case len(unknown) > 0:
			return nil, fmt.Errorf("template %s has no body parameters %s", t.Name, strings.Join(unknown, ", "))
		}
		for _, name := range t.BodyParams {
			if err := check(name, v.Named[name]); err != nil {
				return nil, err
			}
			out[name] = v.Named[name]
		}
		return out, nil
	}
	if len(v.Named) > 0 {
		return nil, fmt.Errorf("template %s takes positional body parameters, got named ones", t.Name)
	}
	if len(v.Body) != len(t.BodyParams) {
		return nil, fmt.Errorf("template %s needs %d body parameters, got %d", t.Name, len(t.BodyParams), len(v.Body))
	}
	for i, val := range v.Body {
		label := "{{" + strconv.Itoa(i+1) + "}}"
		if err := check(label, val); err != nil {
			return nil, err
		}
		out[strconv.Itoa(i+1)] = val
	}
	return out, nil
}

// fill replaces the placeholders of s by their values.
func fill(s string, values map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := values[placeholderRE.FindStringSubmatch(m)[1]]; ok {
			return v
		}
		return m
	})
}

// Render returns the body with its placeholders filled from v.Body
// (positional) or v.Named (named); other members of v are ignored. It is the
// text a customer reads, used for SMS fallback and the message record. It
// fails when the values do not match the body's placeholders one to one or
// one is empty.
func (t *Template) Render(v Values) (string, error) {
	values, err := t.bodyValues(Values{Body: v.Body, Named: v.Named}, false)
	if err != nil {
		return "", fmt.Errorf("templates: %w", err)
	}
	return fill(t.Body, values), nil
}

// Send returns the core's send form of the template filled with v. It
// checks what Meta checks at send time, with errors that name the template
// and the part ("template order_update needs 2 body parameters, got 1"):
//   - the template is approved;
//   - exactly the body's parameters are given, positional or named as the
//     template's format says, none empty, none with a line break, a tab or
//     more than four consecutive spaces;
//   - a TEXT header with a placeholder gets HeaderText (and one without gets
//     none); an IMAGE, VIDEO or DOCUMENT header gets HeaderMedia of that
//     type; LOCATION and other headers cannot be sent from this form;
//   - every dynamic URL, COPY_CODE and OTP button gets a value; an
//     AUTHENTICATION template's code button defaults to the body's {{1}}, as
//     Meta requires the code in both places; QUICK_REPLY payloads are
//     optional; values for other buttons or unknown indexes are refused.
//
// Buttons come out in index order.
func (t *Template) Send(v Values) (*bridge.Template, error) {
	fail := func(format string, args ...any) (*bridge.Template, error) {
		return nil, fmt.Errorf("templates: "+format, args...)
	}
	if !t.Approved() {
		return fail("template %s is %s, not APPROVED", t.Key(), t.Status)
	}
	if len(t.Extra) > 0 {
		return fail("template %s has %s components, which this send form cannot fill", t.Name, strings.Join(t.Extra, ", "))
	}
	values, err := t.bodyValues(v, true)
	if err != nil {
		return fail("%v", err)
	}
	out := &bridge.Template{Name: t.Name, Language: t.Language}
	if t.IsNamed() {
		if len(values) > 0 {
			out.NamedParams = values
		}
	} else {
		out.Params = slices.Clone(v.Body)
	}
	if err := t.sendHeader(v, out); err != nil {
		return fail("%v", err)
	}
	for idx := range v.Buttons {
		if idx < 0 || idx >= len(t.Buttons) {
			return fail("template %s has no button %d", t.Name, idx)
		}
	}
	for i, b := range t.Buttons {
		val, given := v.Buttons[i]
		sub := ""
		switch b.Type {
		case ButtonQuickReply:
			sub = "quick_reply"
		case ButtonURL, ButtonOTP:
			if b.Params == 0 {
				if given {
					return fail("template %s: button %d has a fixed URL and takes no value", t.Name, i)
				}
				continue
			}
			sub = "url"
			if !given && t.codeFromBody() {
				val, given = values["1"], true
			}
		case ButtonCopyCode:
			sub = "copy_code"
		default:
			if given {
				return fail("template %s: button %d (%s) takes no value", t.Name, i, b.Type)
			}
			continue
		}
		if !given {
			if b.Params > 0 {
				return fail("template %s needs a value for button %d (%s)", t.Name, i, b.Type)
			}
			continue
		}
		if val == "" {
			return fail("template %s: value for button %d (%s) is empty", t.Name, i, b.Type)
		}
		out.Buttons = append(out.Buttons, bridge.TemplateButton{SubType: sub, Index: i, Payload: val})
	}
	return out, nil
}

// sendHeader fills the header members of out from v.
func (t *Template) sendHeader(v Values, out *bridge.Template) error {
	h := t.Header
	if h == nil || h.Format == FormatText && len(h.Params) == 0 {
		if v.HeaderText != "" || v.HeaderMedia != nil {
			return fmt.Errorf("template %s has no header that takes a value", t.Name)
		}
		return nil
	}
	switch h.Format {
	case FormatText:
		if v.HeaderMedia != nil {
			return fmt.Errorf("template %s has a TEXT header, got header media", t.Name)
		}
		if v.HeaderText == "" {
			return fmt.Errorf("template %s needs a header text parameter", t.Name)
		}
		if err := checkParamValue(v.HeaderText); err != nil {
			return fmt.Errorf("template %s: header text parameter %v", t.Name, err)
		}
		out.HeaderText = v.HeaderText
	case FormatImage, FormatVideo, FormatDocument:
		want := strings.ToLower(h.Format)
		if v.HeaderText != "" {
			return fmt.Errorf("template %s has a %s header, got header text", t.Name, h.Format)
		}
		if v.HeaderMedia == nil {
			return fmt.Errorf("template %s needs header media (%s)", t.Name, want)
		}
		m := *v.HeaderMedia
		if m.Type == "" {
			m.Type = want
		}
		if m.Type != want {
			return fmt.Errorf("template %s has a %s header, got %s media", t.Name, h.Format, m.Type)
		}
		if (m.ID == "") == (m.Link == "") {
			return fmt.Errorf("template %s: header media needs exactly one of id and link", t.Name)
		}
		out.HeaderMedia = &m
	default:
		return fmt.Errorf("template %s has a %s header, which this send form cannot fill", t.Name, h.Format)
	}
	return nil
}
