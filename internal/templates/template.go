// Package templates models WhatsApp message templates as Meta lists them
// (GET /{waba_id}/message_templates, FACTS.md b10) and turns them into what
// the core sends: it parses listings, renders bodies, builds the send form
// (bridge.Template) with parameter checks, resolves legacy plain text to the
// approved template it was written from (Matcher), parses inline template
// selections ("tpl:order_update|12345|Monday"), maps business-style variable
// names, and validates new templates before they are submitted to Meta.
//
// The package is pure: no I/O, no network, no store, no clock. What it
// returns belongs to the caller, except Result.Template, which is the
// catalogue's template; a Matcher is immutable once built and safe for
// concurrent use.
package templates

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Parameter formats of a template (Template.ParameterFormat).
const (
	Positional = "POSITIONAL"
	Named      = "NAMED"
)

// Categories of a template (Template.Category).
const (
	Marketing      = "MARKETING"
	Utility        = "UTILITY"
	Authentication = "AUTHENTICATION"
)

// StatusApproved is the only status with which a template can be sent.
const StatusApproved = "APPROVED"

// Header formats (Header.Format).
const (
	FormatText     = "TEXT"
	FormatImage    = "IMAGE"
	FormatVideo    = "VIDEO"
	FormatDocument = "DOCUMENT"
	FormatLocation = "LOCATION"
)

// Button types (Button.Type) as Meta lists them. Authentication templates
// are created with an OTP button that Meta lists as a URL button whose URL
// carries the code ("https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}").
const (
	ButtonQuickReply  = "QUICK_REPLY"
	ButtonURL         = "URL"
	ButtonPhoneNumber = "PHONE_NUMBER"
	ButtonCopyCode    = "COPY_CODE"
	ButtonOTP         = "OTP"
	ButtonFlow        = "FLOW"
)

// Template is one message template of a WhatsApp Business Account in one
// language. Names and values are as Meta lists them; Status, Category,
// ParameterFormat, Header.Format and Button.Type are upper case.
type Template struct {
	ID       string
	Name     string
	Language string // e.g. "en_US"
	Status   string // APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …
	Category string // MARKETING, UTILITY or AUTHENTICATION
	// ParameterFormat is POSITIONAL ({{1}}, {{2}}, …) or NAMED
	// ({{first_name}}); POSITIONAL when the listing omits it.
	ParameterFormat string

	Header *Header // nil when the template has none
	Body   string  // the body text with its placeholders
	// BodyParams are the distinct placeholders of the body in order of first
	// appearance: "1", "2", … for positional templates (always exactly
	// "1"…"n" in some order), "first_name", … for named ones.
	BodyParams []string
	Footer     string
	Buttons    []Button
	// Extra lists the types of components this package does not model
	// (CAROUSEL, LIMITED_TIME_OFFER, …), upper case; they are kept in Raw.
	// A template with extra components is never chosen by the Matcher.
	Extra []string
	// Raw is the components array exactly as listed.
	Raw json.RawMessage
}

// Header is a template's header component.
type Header struct {
	// Format is TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION (other values are
	// kept as listed and cannot be sent).
	Format string
	Text   string // for TEXT headers
	// Params are the distinct placeholders of Text (at most one in an
	// approved template).
	Params []string
}

// Button is one button of a template's BUTTONS component.
type Button struct {
	Type        string // QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW, …
	Text        string
	URL         string // URL buttons; may end in {{1}}
	PhoneNumber string // PHONE_NUMBER buttons
	OTPType     string // OTP buttons: COPY_CODE, ONE_TAP or ZERO_TAP
	// Example is the listed example: the full example URL of a dynamic URL
	// button, the coupon code of a COPY_CODE button.
	Example string
	// Params is the number of values the button needs at send time: 1 for a
	// URL ending in a placeholder, COPY_CODE and OTP buttons, else 0.
	Params int
}

// Approved reports whether the template can be sent.
func (t *Template) Approved() bool { return t.Status == StatusApproved }

// Key identifies the template within its account: name + "/" + language.
func (t *Template) Key() string { return t.Name + "/" + t.Language }

// IsNamed reports whether the template uses named parameters.
func (t *Template) IsNamed() bool { return t.ParameterFormat == Named }

// BodyOnly reports whether the template can be sent with body parameters
// alone: it has no component this package does not model, no header that
// needs a value (a TEXT header with a placeholder, a media or location
// header), and no button that needs a value — except the code button of an
// AUTHENTICATION template, which Send fills with the body's {{1}}. Only such
// templates take part in matching legacy text (NewMatcher).
func (t *Template) BodyOnly() bool {
	if len(t.Extra) > 0 {
		return false
	}
	if h := t.Header; h != nil && (h.Format != FormatText || len(h.Params) > 0) {
		return false
	}
	for _, b := range t.Buttons {
		switch b.Type {
		case ButtonQuickReply, ButtonPhoneNumber, ButtonFlow:
		case ButtonURL, ButtonOTP:
			if b.Params > 0 && !t.codeFromBody() {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// codeFromBody reports whether the template is an authentication template
// whose code button can take the body's {{1}}.
func (t *Template) codeFromBody() bool {
	return t.Category == Authentication && !t.IsNamed() && slices.Contains(t.BodyParams, "1")
}

// placeholderRE matches a placeholder: {{1}} or {{first_name}}. Blanks
// inside the braces are tolerated as the simulator tolerates them.
var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// namedParamRE is what Meta allows as a named parameter.
var namedParamRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// placeholders returns the distinct placeholder names of s in order of
// first appearance.
func placeholders(s string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// checkParamNames checks the distinct placeholders of one component against
// the parameter format: named ones are lowercase identifiers, positional
// ones are exactly 1…n (in any order; ValidateNew also checks the order).
func checkParamNames(named bool, vars []string) error {
	for _, v := range vars {
		if named {
			if !namedParamRE.MatchString(v) {
				return fmt.Errorf("named placeholder {{%s}} must be lowercase letters, digits and underscores, starting with a letter or underscore", v)
			}
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("placeholder {{%s}} is named but the template is POSITIONAL", v)
		}
		if n < 1 || n > len(vars) || strconv.Itoa(n) != v {
			return fmt.Errorf("positional placeholders must be {{1}}…{{%d}} without gaps, got {{%s}}", len(vars), v)
		}
	}
	return nil
}

// component is one element of a listing's components array. Example is
// kept raw: its shape differs per component and button type.
type component struct {
	Type    string          `json:"type"`
	Format  string          `json:"format"`
	Text    string          `json:"text"`
	Example json.RawMessage `json:"example"`
	Buttons []buttonJSON    `json:"buttons"`
}

type buttonJSON struct {
	Type        string          `json:"type"`
	Text        string          `json:"text"`
	URL         string          `json:"url"`
	PhoneNumber string          `json:"phone_number"`
	OTPType     string          `json:"otp_type"`
	Example     json.RawMessage `json:"example"`
}

// Parse builds a Template from one entry of the listing: the fields as
// GET /{waba_id}/message_templates returns them and the raw components
// array. Component and button types and formats are accepted in any case.
// Unknown component types are recorded in Extra and otherwise ignored.
// Errors name the template and the problem: unreadable JSON, no BODY, two
// components of one type, placeholders that do not fit the parameter format.
func Parse(id, name, language, status, category, parameterFormat string, components json.RawMessage) (*Template, error) {
	t := &Template{
		ID:              id,
		Name:            name,
		Language:        language,
		Status:          strings.ToUpper(strings.TrimSpace(status)),
		Category:        strings.ToUpper(strings.TrimSpace(category)),
		ParameterFormat: strings.ToUpper(strings.TrimSpace(parameterFormat)),
		Raw:             slices.Clone(components),
	}
	fail := func(format string, args ...any) (*Template, error) {
		return nil, fmt.Errorf("templates: template %s: %s", t.Key(), fmt.Sprintf(format, args...))
	}
	if name == "" || language == "" {
		return fail("name and language are required")
	}
	switch t.ParameterFormat {
	case "":
		t.ParameterFormat = Positional
	case Positional, Named:
	default:
		return fail("parameter_format %q is neither POSITIONAL nor NAMED", parameterFormat)
	}
	var comps []component
	if len(components) == 0 || string(components) == "null" {
		return fail("no components")
	}
	if err := json.Unmarshal(components, &comps); err != nil {
		return fail("unreadable components: %v", err)
	}
	seen := map[string]bool{}
	hasBody := false
	for i, c := range comps {
		typ := strings.ToUpper(c.Type)
		switch typ {
		case "HEADER", "BODY", "FOOTER", "BUTTONS":
			if seen[typ] {
				return fail("two %s components", typ)
			}
			seen[typ] = true
		}
		switch typ {
		case "HEADER":
			h := &Header{Format: strings.ToUpper(c.Format), Text: c.Text}
			if h.Format == "" {
				return fail("HEADER without format")
			}
			if h.Format == FormatText {
				h.Params = placeholders(h.Text)
				if err := checkParamNames(t.IsNamed(), h.Params); err != nil {
					return fail("HEADER: %v", err)
				}
			}
			t.Header = h
		case "BODY":
			hasBody = true
			t.Body = c.Text
			t.BodyParams = placeholders(c.Text)
			if err := checkParamNames(t.IsNamed(), t.BodyParams); err != nil {
				return fail("BODY: %v", err)
			}
		case "FOOTER":
			t.Footer = c.Text
		case "BUTTONS":
			for j, bj := range c.Buttons {
				b, err := parseButton(bj)
				if err != nil {
					return fail("button %d: %v", j, err)
				}
				t.Buttons = append(t.Buttons, b)
			}
		case "":
			return fail("component %d has no type", i)
		default:
			t.Extra = append(t.Extra, typ)
		}
	}
	if !hasBody {
		return fail("no BODY component")
	}
	return t, nil
}

// parseButton converts one listed button.
func parseButton(bj buttonJSON) (Button, error) {
	b := Button{
		Type:        strings.ToUpper(bj.Type),
		Text:        bj.Text,
		URL:         bj.URL,
		PhoneNumber: bj.PhoneNumber,
		OTPType:     strings.ToUpper(bj.OTPType),
	}
	if b.Type == "" {
		return b, errors.New("no type")
	}
	b.Example = exampleString(bj.Example)
	switch b.Type {
	case ButtonURL:
		vars := placeholders(b.URL)
		if len(vars) > 1 || (len(vars) == 1 && vars[0] != "1") {
			return b, fmt.Errorf("URL %q may hold only {{1}}", b.URL)
		}
		b.Params = len(vars)
	case ButtonCopyCode, ButtonOTP:
		b.Params = 1
	}
	return b, nil
}

// exampleString reads a button's example: a string (COPY_CODE) or an array
// whose first element is used (URL). Anything else gives "".
func exampleString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		return list[0]
	}
	return ""
}

// listingEntry is one element of a listing's "data".
type listingEntry struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Status          string          `json:"status"`
	Category        string          `json:"category"`
	ParameterFormat string          `json:"parameter_format"`
	Components      json.RawMessage `json:"components"`
}

// ParseListing parses one page of GET /{waba_id}/message_templates
// ({"data":[…],"paging":{…}}). It returns the templates that parsed, in
// listing order, and the errors of those that did not (joined); the error is
// non-nil with no templates only when data itself is unreadable.
func ParseListing(data []byte) ([]*Template, error) {
	var page struct {
		Data []listingEntry `json:"data"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return nil, fmt.Errorf("templates: unreadable listing: %w", err)
	}
	var out []*Template
	var errs []error
	for _, e := range page.Data {
		t, err := Parse(e.ID, e.Name, e.Language, e.Status, e.Category, e.ParameterFormat, e.Components)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}
