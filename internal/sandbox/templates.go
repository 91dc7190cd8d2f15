package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Template is one entry of the simulated WABA's message-template catalogue.
type Template struct {
	Name     string
	Language string // e.g. "en_US"
	Category string // MARKETING, UTILITY or AUTHENTICATION
	Status   string // APPROVED (default), PAUSED, REJECTED, PENDING, DISABLED …

	ParameterFormat string // "POSITIONAL" (default) or "NAMED"
	HeaderFormat    string // "", "TEXT", "IMAGE", "VIDEO" or "DOCUMENT"
	HeaderText      string // for TEXT headers; may hold one {{1}} / {{name}}
	Body            string // e.g. "Your order {{1}} ships on {{2}}." or "Hi {{first_name}}"
	Footer          string
	Buttons         []Button
}

// Button is one template button. A URL button whose URL ends in {{1}} needs
// a parameter at send time; a COPY_CODE button always needs a coupon_code
// parameter. For PHONE_NUMBER buttons URL holds the phone number.
type Button struct {
	Type    string // QUICK_REPLY, URL, COPY_CODE, PHONE_NUMBER
	Text    string
	URL     string
	Example string // example value shown in the listing (URL suffix or coupon code)
}

// DefaultTemplates is the catalogue used when Config.Templates is nil: Meta's
// sample hello_world, order_update (en_US and de_DE) and welcome_named.
func DefaultTemplates() []Template {
	return []Template{
		{
			Name: "hello_world", Language: "en_US", Category: "UTILITY", Status: "APPROVED",
			HeaderFormat: "TEXT", HeaderText: "Hello World",
			Body:   "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us.",
			Footer: "WhatsApp Business Platform sample message",
		},
		{
			Name: "order_update", Language: "en_US", Category: "UTILITY", Status: "APPROVED",
			Body: "Your order {{1}} has shipped and arrives on {{2}}.",
		},
		{
			Name: "welcome_named", Language: "en_US", Category: "MARKETING", Status: "APPROVED",
			ParameterFormat: "NAMED",
			Body:            "Hi {{first_name}}, welcome to {{shop}}!",
		},
		{
			Name: "order_update", Language: "de_DE", Category: "UTILITY", Status: "APPROVED",
			Body: "Ihre Bestellung {{1}} wurde versandt und kommt am {{2}} an.",
		},
	}
}

var (
	placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)
	namedParamRE  = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

// tmpl is a validated catalogue entry with its placeholders extracted.
//
// Status, Category, reason, quality and lastEvent change at run time
// (review of created templates, control API) and are guarded by Server.mu;
// everything else is fixed once compiled. Code outside the lock works on a
// copy taken under it (see templateSnapshot).
type tmpl struct {
	Template
	id         string
	named      bool
	headerVars []string   // distinct placeholders of a TEXT header
	bodyVars   []string   // distinct placeholders of the body, in order of appearance
	buttonVars [][]string // per button, placeholders of its URL

	reason    string // reason of the last status change: NONE, INVALID_FORMAT, …
	quality   string // quality score: GREEN, YELLOW, RED or UNKNOWN
	lastEvent string // last message_template_status_update event sent, "" if none
	created   bool   // created through POST /{waba_id}/message_templates

	// Examples given at creation, listed back as given; nil: generated.
	headerEx, bodyEx map[string]json.RawMessage
}

// placeholders returns the distinct placeholder names of s in order of appearance.
func placeholders(s string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// compileTemplates normalises and validates the catalogue.
func compileTemplates(ts []Template) ([]*tmpl, error) {
	seen := map[string]bool{}
	var out []*tmpl
	for i, t := range ts {
		c, err := compileTemplate(t)
		if err != nil {
			return nil, fmt.Errorf("sandbox: Templates[%d] (%s/%s): %w", i, t.Name, t.Language, err)
		}
		key := c.Name + "\x00" + c.Language
		if seen[key] {
			return nil, fmt.Errorf("sandbox: Templates[%d] (%s/%s): duplicate name and language", i, t.Name, t.Language)
		}
		seen[key] = true
		c.quality = "GREEN"
		out = append(out, c)
	}
	return out, nil
}

// compileTemplate normalises and validates one template and extracts its
// placeholders. It is used for the configured catalogue and for templates
// created through POST /{waba_id}/message_templates.
func compileTemplate(t Template) (*tmpl, error) {
	t.Category = strings.ToUpper(t.Category)
	t.Status = strings.ToUpper(t.Status)
	t.ParameterFormat = strings.ToUpper(t.ParameterFormat)
	t.HeaderFormat = strings.ToUpper(t.HeaderFormat)
	if t.Status == "" {
		t.Status = "APPROVED"
	}
	if t.ParameterFormat == "" {
		t.ParameterFormat = "POSITIONAL"
	}
	t.Buttons = slices.Clone(t.Buttons)
	for j := range t.Buttons {
		t.Buttons[j].Type = strings.ToUpper(t.Buttons[j].Type)
	}
	if t.Name == "" || t.Language == "" {
		return nil, errors.New("name and language are required")
	}
	switch t.Category {
	case "MARKETING", "UTILITY", "AUTHENTICATION":
	default:
		return nil, fmt.Errorf("category %q is not MARKETING, UTILITY or AUTHENTICATION", t.Category)
	}
	if t.ParameterFormat != "POSITIONAL" && t.ParameterFormat != "NAMED" {
		return nil, fmt.Errorf("parameter format %q is not POSITIONAL or NAMED", t.ParameterFormat)
	}
	if t.Body == "" {
		return nil, errors.New("the body is required")
	}
	c := &tmpl{Template: t, named: t.ParameterFormat == "NAMED", id: templateID(t.Name, t.Language), reason: "NONE"}
	switch t.HeaderFormat {
	case "":
		if t.HeaderText != "" {
			return nil, errors.New("a header text needs the TEXT header format")
		}
	case "TEXT":
		if t.HeaderText == "" {
			return nil, errors.New("a TEXT header needs a text")
		}
		c.headerVars = placeholders(t.HeaderText)
		if len(c.headerVars) > 1 {
			return nil, errors.New("a TEXT header may hold at most one placeholder")
		}
	case "IMAGE", "VIDEO", "DOCUMENT":
	default:
		return nil, fmt.Errorf("header format %q is not TEXT, IMAGE, VIDEO or DOCUMENT", t.HeaderFormat)
	}
	c.bodyVars = placeholders(t.Body)
	if err := checkVars(c.named, c.headerVars); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if err := checkVars(c.named, c.bodyVars); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if len(placeholders(t.Footer)) > 0 {
		return nil, errors.New("the footer may not hold placeholders")
	}
	for j, b := range t.Buttons {
		var vars []string
		switch b.Type {
		case "URL":
			vars = placeholders(b.URL)
			if len(vars) > 1 || (len(vars) == 1 && (vars[0] != "1" || !endsWithPlaceholder(b.URL))) {
				return nil, fmt.Errorf("button %d: a URL may only end in {{1}}", j)
			}
		case "QUICK_REPLY", "COPY_CODE", "PHONE_NUMBER":
		default:
			return nil, fmt.Errorf("button %d: type %q is not QUICK_REPLY, URL, COPY_CODE or PHONE_NUMBER", j, b.Type)
		}
		c.buttonVars = append(c.buttonVars, vars)
	}
	return c, nil
}

// endsWithPlaceholder reports whether u ends with a placeholder.
func endsWithPlaceholder(u string) bool {
	locs := placeholderRE.FindAllStringIndex(u, -1)
	return len(locs) > 0 && locs[len(locs)-1][1] == len(u)
}

// checkVars enforces Meta's placeholder rules: positional ones are {{1}}…{{n}}
// without gaps, named ones are lowercase identifiers.
func checkVars(named bool, vars []string) error {
	for _, v := range vars {
		if named {
			if !namedParamRE.MatchString(v) {
				return fmt.Errorf("named placeholder {{%s}} must be lowercase letters, digits and underscores", v)
			}
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > len(vars) {
			return fmt.Errorf("positional placeholders must be {{1}}…{{%d}}, got {{%s}}", len(vars), v)
		}
	}
	return nil
}

// templateID derives a stable 16-digit id, as Graph ids look. It stays below
// 2^53 so that webhooks can carry it as a JSON number (Meta's
// message_template_id is one) without losing precision in any JSON decoder.
func templateID(name, lang string) string {
	h := fnv.New64a()
	h.Write([]byte(name + "\x00" + lang))
	return strconv.FormatUint(1_000_000_000_000_000+h.Sum64()%8_000_000_000_000_000, 10)
}

// findTemplateLocked returns the catalogue entry for name and language, or
// nil. Called with s.mu held.
func (s *Server) findTemplateLocked(name, lang string) *tmpl {
	for _, t := range s.templates {
		if t.Name == name && t.Language == lang {
			return t
		}
	}
	return nil
}

// templateSnapshot returns a copy of the catalogue entry for name and
// language, taken under s.mu, or nil.
func (s *Server) templateSnapshot(name, lang string) *tmpl {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.findTemplateLocked(name, lang)
	if t == nil {
		return nil
	}
	cp := *t
	return &cp
}

// cloneTemplates deep-copies the mutable part of a catalogue (the compiled,
// immutable slices are shared).
func cloneTemplates(ts []*tmpl) []*tmpl {
	out := make([]*tmpl, len(ts))
	for i, t := range ts {
		cp := *t
		out[i] = &cp
	}
	return out
}

// --- send-time validation ---------------------------------------------------

// templateReq is the "template" object of a send request.
type templateReq struct {
	Name     string `json:"name"`
	Language struct {
		Code   string `json:"code"`
		Policy string `json:"policy"`
	} `json:"language"`
	Components []componentReq `json:"components"`
}

type componentReq struct {
	Type       string          `json:"type"`
	SubType    string          `json:"sub_type"`
	Index      json.RawMessage `json:"index"` // Meta accepts 0 and "0"
	Parameters []paramReq      `json:"parameters"`
}

type paramReq struct {
	Type          string    `json:"type"`
	ParameterName string    `json:"parameter_name"`
	Text          *string   `json:"text"`
	Payload       *string   `json:"payload"`
	CouponCode    *string   `json:"coupon_code"`
	Currency      *fallback `json:"currency"`
	DateTime      *fallback `json:"date_time"`
	Image         *mediaRef `json:"image"`
	Video         *mediaRef `json:"video"`
	Document      *mediaRef `json:"document"`
}

type fallback struct {
	FallbackValue string `json:"fallback_value"`
}

type mediaRef struct {
	ID   string `json:"id"`
	Link string `json:"link"`
}

// templateUse is what a valid template send resolved to.
type templateUse struct {
	tpl    *tmpl
	params []string // body parameter values: positional {{1}}…{{n}}, named in order of appearance
	body   string   // body with parameters substituted
}

// checkSend validates the components of a send against the catalogue entry
// the way Meta does: parameter counts (132000), formats (132012), missing
// button parameters (131008).
func (t *tmpl) checkSend(comps []componentReq) (*templateUse, *graphError) {
	var header, body *componentReq
	buttons := map[int]*componentReq{}
	for i := range comps {
		c := &comps[i]
		switch strings.ToLower(c.Type) {
		case "header":
			if header != nil {
				return nil, errInvalidParam("template['components']: duplicate header component")
			}
			header = c
		case "body":
			if body != nil {
				return nil, errInvalidParam("template['components']: duplicate body component")
			}
			body = c
		case "footer":
			if len(c.Parameters) > 0 {
				return nil, errParamCount(fmt.Sprintf("footer: number of params (%d) does not match the expected number of params (0)", len(c.Parameters)))
			}
		case "button":
			idx, ok := parseIndex(c.Index)
			if !ok {
				return nil, errInvalidParam(fmt.Sprintf("template['components'][%d]['index'] must be a button index", i))
			}
			if buttons[idx] != nil {
				return nil, errInvalidParam(fmt.Sprintf("template['components']: duplicate button component for index %d", idx))
			}
			buttons[idx] = c
		default:
			return nil, errInvalidParam(fmt.Sprintf("template['components'][%d]['type'] must be one of {HEADER, BODY, BUTTON, FOOTER} - got %q", i, c.Type))
		}
	}
	if e := t.checkHeader(header); e != nil {
		return nil, e
	}
	values, e := t.checkParams("body", t.bodyVars, body)
	if e != nil {
		return nil, e
	}
	if e := t.checkButtons(buttons); e != nil {
		return nil, e
	}
	use := &templateUse{tpl: t, body: substitute(t.Body, values)}
	for i, v := range t.bodyVars {
		if !t.named {
			v = strconv.Itoa(i + 1)
		}
		use.params = append(use.params, values[v])
	}
	return use, nil
}

func (t *tmpl) checkHeader(c *componentReq) *graphError {
	n := 0
	if c != nil {
		n = len(c.Parameters)
	}
	switch t.HeaderFormat {
	case "", "TEXT":
		_, e := t.checkParams("header", t.headerVars, c)
		return e
	}
	// Media header: exactly one parameter of the matching type with an id or link.
	want := strings.ToLower(t.HeaderFormat)
	if n > 1 {
		return errParamCount(fmt.Sprintf("header: number of params (%d) does not match the expected number of params (1)", n))
	}
	got := "UNKNOWN"
	if n == 1 {
		p := c.Parameters[0]
		var ref *mediaRef
		switch strings.ToLower(p.Type) {
		case "image":
			ref = p.Image
		case "video":
			ref = p.Video
		case "document":
			ref = p.Document
		}
		if strings.ToLower(p.Type) == want && ref != nil && (ref.ID != "" || ref.Link != "") {
			return nil
		}
		if p.Type != "" {
			got = strings.ToUpper(p.Type)
		}
	}
	return &graphError{
		code: 132012, message: "(#132012) Parameter format does not match format in the created template",
		details: fmt.Sprintf("header: Format mismatch, expected %s, received %s", t.HeaderFormat, got),
	}
}

// checkParams validates the text parameters of a header or body component
// against the placeholders vars and returns placeholder → value.
func (t *tmpl) checkParams(part string, vars []string, c *componentReq) (map[string]string, *graphError) {
	var ps []paramReq
	if c != nil {
		ps = c.Parameters
	}
	if len(ps) != len(vars) {
		return nil, errParamCount(fmt.Sprintf("%s: number of localizable_params (%d) does not match the expected number of params (%d)", part, len(ps), len(vars)))
	}
	values := map[string]string{}
	for i, p := range ps {
		v, e := textValue(part, i, p, part == "body")
		if e != nil {
			return nil, e
		}
		name := strconv.Itoa(i + 1) // positional: the i-th parameter fills {{i+1}}
		if t.named {
			name = p.ParameterName
			if name == "" {
				return nil, &graphError{code: 131008, message: "(#131008) Required parameter is missing",
					details: fmt.Sprintf("%s: parameter_name is required for parameter %d of a NAMED template", part, i)}
			}
			if !slices.Contains(vars, name) {
				return nil, errParamCount(fmt.Sprintf("%s: parameter_name %q does not exist in the template", part, name))
			}
			if _, dup := values[name]; dup {
				return nil, errParamCount(fmt.Sprintf("%s: parameter_name %q given more than once", part, name))
			}
		}
		values[name] = v
	}
	return values, nil
}

// textValue extracts the display value of a localizable parameter.
func textValue(part string, i int, p paramReq, richOK bool) (string, *graphError) {
	missing := func(field string) *graphError {
		return &graphError{code: 131008, message: "(#131008) Required parameter is missing",
			details: fmt.Sprintf("%s: parameter %d: %s is required", part, i, field)}
	}
	switch strings.ToLower(p.Type) {
	case "text":
		if p.Text == nil || *p.Text == "" {
			return "", missing("text")
		}
		return *p.Text, nil
	case "currency":
		if richOK {
			if p.Currency == nil || p.Currency.FallbackValue == "" {
				return "", missing("currency['fallback_value']")
			}
			return p.Currency.FallbackValue, nil
		}
	case "date_time":
		if richOK {
			if p.DateTime == nil || p.DateTime.FallbackValue == "" {
				return "", missing("date_time['fallback_value']")
			}
			return p.DateTime.FallbackValue, nil
		}
	}
	return "", &graphError{code: 132012, message: "(#132012) Parameter format does not match format in the created template",
		details: fmt.Sprintf("%s: parameter %d: Format mismatch, expected TEXT, received %s", part, i, strings.ToUpper(p.Type))}
}

var subTypes = map[string]string{"url": "URL", "quick_reply": "QUICK_REPLY", "copy_code": "COPY_CODE"}

func (t *tmpl) checkButtons(given map[int]*componentReq) *graphError {
	for idx, c := range given {
		if idx < 0 || idx >= len(t.Buttons) {
			return errParamCount(fmt.Sprintf("buttons: the template has no button at index %d", idx))
		}
		b := t.Buttons[idx]
		if subTypes[strings.ToLower(c.SubType)] != b.Type {
			return errParamCount(fmt.Sprintf("buttons: button at index %d is of type %s, got sub_type %q", idx, b.Type, c.SubType))
		}
		n := len(c.Parameters)
		switch b.Type {
		case "URL":
			want := len(t.buttonVars[idx])
			if n != want {
				return errParamCount(fmt.Sprintf("buttons: number of params (%d) for button at index %d does not match the expected number of params (%d)", n, idx, want))
			}
			if n == 1 {
				if _, e := textValue(fmt.Sprintf("buttons[%d]", idx), 0, c.Parameters[0], false); e != nil {
					return e
				}
			}
		case "QUICK_REPLY":
			if n > 1 || (n == 1 && strings.ToLower(c.Parameters[0].Type) != "payload") {
				return errParamCount(fmt.Sprintf("buttons: quick reply button at index %d takes at most one payload parameter", idx))
			}
		case "COPY_CODE":
			if n != 1 {
				return errParamCount(fmt.Sprintf("buttons: number of params (%d) for button at index %d does not match the expected number of params (1)", n, idx))
			}
			if p := c.Parameters[0]; strings.ToLower(p.Type) != "coupon_code" || p.CouponCode == nil || *p.CouponCode == "" {
				return &graphError{code: 132012, message: "(#132012) Parameter format does not match format in the created template",
					details: fmt.Sprintf("buttons: button at index %d needs a coupon_code parameter", idx)}
			}
		}
	}
	for idx, b := range t.Buttons {
		needs := (b.Type == "URL" && len(t.buttonVars[idx]) > 0) || b.Type == "COPY_CODE"
		if needs && given[idx] == nil {
			return &graphError{code: 131008, message: "(#131008) Required parameter is missing",
				details: fmt.Sprintf("buttons: Button at index %d of type %s requires a parameter", idx, buttonTypeName(b.Type))}
		}
	}
	return nil
}

func buttonTypeName(t string) string {
	switch t {
	case "URL":
		return "Url"
	case "COPY_CODE":
		return "CopyCode"
	}
	return t
}

// parseIndex accepts a JSON number or a string holding one.
func parseIndex(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n, true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil
}

// substitute replaces placeholders in s by their values.
func substitute(s string, values map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		name := placeholderRE.FindStringSubmatch(m)[1]
		if v, ok := values[name]; ok {
			return v
		}
		return m
	})
}

// --- catalogue listing --------------------------------------------------------

// templateJSON is one element of GET /{waba}/message_templates "data", in
// Meta's field order.
type templateJSON struct {
	Name            string           `json:"name"`
	ParameterFormat string           `json:"parameter_format"`
	Components      []map[string]any `json:"components"`
	Language        string           `json:"language"`
	Status          string           `json:"status"`
	Category        string           `json:"category"`
	ID              string           `json:"id"`
}

// listingJSON renders the entry as Graph returns it, with examples for
// every placeholder (Meta requires them at creation).
func (t *tmpl) listingJSON() templateJSON {
	var comps []map[string]any
	switch t.HeaderFormat {
	case "TEXT":
		h := map[string]any{"type": "HEADER", "format": "TEXT", "text": t.HeaderText}
		if t.headerEx != nil {
			h["example"] = t.headerEx
		} else if ex := t.examples(t.headerVars, "header_text"); ex != nil {
			h["example"] = ex
		}
		comps = append(comps, h)
	case "IMAGE", "VIDEO", "DOCUMENT":
		var ex any = map[string]any{"header_handle": []string{"https://scontent.whatsapp.net/v/sandbox-sample-" + strings.ToLower(t.HeaderFormat)}}
		if t.headerEx != nil {
			ex = t.headerEx
		}
		comps = append(comps, map[string]any{"type": "HEADER", "format": t.HeaderFormat, "example": ex})
	}
	b := map[string]any{"type": "BODY", "text": t.Body}
	if t.bodyEx != nil {
		b["example"] = t.bodyEx
	} else if ex := t.examples(t.bodyVars, "body_text"); ex != nil {
		b["example"] = ex
	}
	comps = append(comps, b)
	if t.Footer != "" {
		comps = append(comps, map[string]any{"type": "FOOTER", "text": t.Footer})
	}
	if len(t.Buttons) > 0 {
		var bs []map[string]any
		for i, btn := range t.Buttons {
			m := map[string]any{"type": btn.Type, "text": btn.Text}
			switch btn.Type {
			case "URL":
				m["url"] = btn.URL
				if len(t.buttonVars[i]) > 0 {
					ex := btn.Example
					if ex == "" {
						ex = substitute(btn.URL, map[string]string{"1": "sample"})
					}
					m["example"] = []string{ex}
				}
			case "PHONE_NUMBER":
				m["phone_number"] = btn.URL
			case "COPY_CODE":
				if btn.Example != "" {
					m["example"] = btn.Example
				}
			}
			bs = append(bs, m)
		}
		comps = append(comps, map[string]any{"type": "BUTTONS", "buttons": bs})
	}
	return templateJSON{
		Name: t.Name, ParameterFormat: t.ParameterFormat, Components: comps,
		Language: t.Language, Status: t.Status, Category: t.Category, ID: t.id,
	}
}

// examples builds Meta's example object for placeholders: key ("body_text"
// or "header_text") for positional templates, key+"_named_params" for named.
func (t *tmpl) examples(vars []string, key string) map[string]any {
	if len(vars) == 0 {
		return nil
	}
	if t.named {
		var named []map[string]string
		for _, v := range vars {
			named = append(named, map[string]string{"param_name": v, "example": "sample_" + v})
		}
		return map[string]any{key + "_named_params": named}
	}
	var ex []string
	for _, v := range vars {
		ex = append(ex, "sample "+v)
	}
	if key == "body_text" {
		return map[string]any{key: [][]string{ex}}
	}
	return map[string]any{key: ex}
}
