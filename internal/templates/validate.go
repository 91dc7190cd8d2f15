package templates

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits Meta applies when a template is created (FACTS.md b10), in characters.
const (
	MaxBodyLen       = 1024
	MaxHeaderTextLen = 60
	MaxFooterLen     = 60
	MaxButtonTextLen = 25
	MaxButtons       = 10
	MaxURLLen        = 2000
	MaxPhoneLen      = 20
	MaxNameLen       = 512
)

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	languageRE = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z0-9]{2,4})?$`)
)

// ValidationError lists every problem ValidateNew found.
type ValidationError struct {
	Name     string
	Problems []string
}

// Error names the template and lists every problem.
func (e *ValidationError) Error() string {
	return "templates: new template " + strconv.Quote(e.Name) + ": " + strings.Join(e.Problems, "; ")
}

// newComponent is one component of a creation request.
type newComponent struct {
	Type    string          `json:"type"`
	Format  string          `json:"format"`
	Text    *string         `json:"text"`
	Example json.RawMessage `json:"example"`
	Buttons []newButton     `json:"buttons"`
	// Authentication templates.
	AddSecurityRecommendation *bool `json:"add_security_recommendation"`
	CodeExpirationMinutes     *int  `json:"code_expiration_minutes"`
}

type newButton struct {
	Type        string          `json:"type"`
	Text        string          `json:"text"`
	URL         string          `json:"url"`
	PhoneNumber string          `json:"phone_number"`
	OTPType     string          `json:"otp_type"`
	Example     json.RawMessage `json:"example"`
}

// newExample is a component's example object; which member applies
// depends on the component and the parameter format.
type newExample struct {
	HeaderText      []string       `json:"header_text"`
	HeaderTextNamed []namedExample `json:"header_text_named_params"`
	HeaderHandle    []string       `json:"header_handle"`
	BodyText        [][]string     `json:"body_text"`
	BodyTextNamed   []namedExample `json:"body_text_named_params"`
}

type namedExample struct {
	ParamName string `json:"param_name"`
	Example   string `json:"example"`
}

// ValidateNew checks a template creation request (POST
// /{waba_id}/message_templates) for what Meta requires, so the business
// learns of mistakes before the request leaves: the name (^[a-z0-9_]{1,512}$),
// a language code, the category (MARKETING, UTILITY or AUTHENTICATION, any
// case), the parameter format ("" means POSITIONAL, as at Meta), one BODY
// (≤1024 characters), at most one HEADER, FOOTER (≤60, no placeholders) and
// BUTTONS (≤10, text ≤25); positional placeholders numbered {{1}}, {{2}}, …
// in order of first appearance without gaps, named ones lowercase with
// underscores; and an example value for every variable (body_text or
// body_text_named_params, header_text or header_text_named_params,
// header_handle for media headers, the example URL of a dynamic URL button,
// the code of a COPY_CODE button). AUTHENTICATION templates have Meta's
// preset body (text optional), no header, an optional footer with
// code_expiration_minutes (1–90) and exactly one OTP button.
//
// All problems are reported at once in a *ValidationError. Meta's content
// review (wording, variable density, rejected categories) is not modelled.
func ValidateNew(name, language, category, parameterFormat string, components json.RawMessage) error {
	v := &ValidationError{Name: name}
	add := func(format string, args ...any) { v.Problems = append(v.Problems, fmt.Sprintf(format, args...)) }
	if !nameRE.MatchString(name) {
		add("name must be 1 to %d lowercase letters, digits and underscores", MaxNameLen)
	}
	if !languageRE.MatchString(language) {
		add("language %q is not a language code such as en or en_US", language)
	}
	category = strings.ToUpper(category)
	switch category {
	case Marketing, Utility, Authentication:
	default:
		add("category %q is not MARKETING, UTILITY or AUTHENTICATION", category)
	}
	named := false
	switch strings.ToUpper(parameterFormat) {
	case "", Positional:
	case Named:
		named = true
	default:
		add("parameter_format %q is not POSITIONAL or NAMED", parameterFormat)
	}
	auth := category == Authentication

	var raws []json.RawMessage
	if err := json.Unmarshal(components, &raws); err != nil {
		add("components must be a JSON array: %v", err)
		return v
	}
	seen := map[string]bool{}
	for i, raw := range raws {
		var c newComponent
		if err := json.Unmarshal(raw, &c); err != nil {
			add("component %d is unreadable: %v", i, err)
			continue
		}
		typ := strings.ToUpper(c.Type)
		var ex newExample
		if len(c.Example) > 0 {
			if err := json.Unmarshal(c.Example, &ex); err != nil {
				add("%s: example is unreadable: %v", typ, err)
				continue
			}
		}
		switch typ {
		case "HEADER", "BODY", "FOOTER", "BUTTONS":
			if seen[typ] {
				add("more than one %s component", typ)
				continue
			}
			seen[typ] = true
		case "":
			add("component %d has no type", i)
			continue
		default:
			// CAROUSEL, LIMITED_TIME_OFFER, …: left to Meta.
			continue
		}
		switch typ {
		case "HEADER":
			validateHeader(c, ex, named, auth, add)
		case "BODY":
			validateBody(c, ex, named, auth, add)
		case "FOOTER":
			validateFooter(c, auth, add)
		case "BUTTONS":
			validateButtons(c, auth, add)
		}
	}
	if !seen["BODY"] {
		add("a BODY component is required")
	}
	if auth && !seen["BUTTONS"] {
		add("an AUTHENTICATION template needs an OTP button")
	}
	if len(v.Problems) > 0 {
		return v
	}
	return nil
}

// checkOrder checks placeholders of one component: format and, for
// positional ones, numbering 1, 2, … in order of first appearance.
func checkOrder(where string, named bool, vars []string, add func(string, ...any)) bool {
	if err := checkParamNames(named, vars); err != nil {
		add("%s: %v", where, err)
		return false
	}
	if named {
		return true
	}
	for i, v := range vars {
		if want := strconv.Itoa(i + 1); v != want {
			add("%s: placeholders must be numbered in order of appearance: found {{%s}} where {{%s}} was expected", where, v, want)
			return false
		}
	}
	return true
}

// checkExamples checks positional (list) or named examples against vars.
// what names the example member for messages ("body_text", "header_text").
func checkExamples(where, what string, named bool, vars []string, list []string, listGiven bool, byName []namedExample, add func(string, ...any)) {
	if len(vars) == 0 {
		return
	}
	if named {
		got := map[string]string{}
		for _, e := range byName {
			if !slices.Contains(vars, e.ParamName) {
				add("%s: example.%s_named_params names {{%s}}, which the text does not use", where, what, e.ParamName)
				continue
			}
			got[e.ParamName] = e.Example
		}
		for _, p := range vars {
			ex, ok := got[p]
			switch {
			case !ok:
				add("%s: example for {{%s}} is missing (example.%s_named_params)", where, p, what)
			case strings.TrimSpace(ex) == "":
				add("%s: example for {{%s}} is empty", where, p)
			}
		}
		return
	}
	if !listGiven {
		add("%s: example.%s is missing (needs %d values for %s)", where, what, len(vars), braces(vars))
		return
	}
	if len(list) != len(vars) {
		add("%s: example.%s has %d values, needs %d (for %s)", where, what, len(list), len(vars), braces(vars))
		return
	}
	for i, ex := range list {
		if strings.TrimSpace(ex) == "" {
			add("%s: example value for {{%d}} is empty", where, i+1)
		}
	}
}

// braces renders placeholder names as "{{1}}, {{2}}".
func braces(vars []string) string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = "{{" + v + "}}"
	}
	return strings.Join(out, ", ")
}

func validateHeader(c newComponent, ex newExample, named, auth bool, add func(string, ...any)) {
	if auth {
		add("HEADER: AUTHENTICATION templates have no header")
		return
	}
	switch f := strings.ToUpper(c.Format); f {
	case FormatText:
		text := ""
		if c.Text != nil {
			text = *c.Text
		}
		if strings.TrimSpace(text) == "" {
			add("HEADER: a TEXT header needs text")
			return
		}
		if n := utf8.RuneCountInString(text); n > MaxHeaderTextLen {
			add("HEADER: text has %d characters, at most %d are allowed", n, MaxHeaderTextLen)
		}
		if strings.ContainsAny(text, "\n\r") {
			add("HEADER: text may not contain line breaks")
		}
		vars := placeholders(text)
		if len(vars) > 1 {
			add("HEADER: a text header may hold at most one placeholder, found %s", braces(vars))
			return
		}
		if checkOrder("HEADER", named, vars, add) {
			checkExamples("HEADER", "header_text", named, vars, ex.HeaderText, ex.HeaderText != nil, ex.HeaderTextNamed, add)
		}
	case FormatImage, FormatVideo, FormatDocument, "GIF":
		if len(ex.HeaderHandle) == 0 || strings.TrimSpace(ex.HeaderHandle[0]) == "" {
			add("HEADER: a %s header needs an example media handle (example.header_handle)", f)
		}
	case FormatLocation:
	case "":
		add("HEADER: format is required (TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION)")
	default:
		add("HEADER: format %q is not TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION", c.Format)
	}
}

func validateBody(c newComponent, ex newExample, named, auth bool, add func(string, ...any)) {
	if c.Text == nil && auth {
		return // Meta's preset text
	}
	text := ""
	if c.Text != nil {
		text = *c.Text
	}
	if strings.TrimSpace(text) == "" {
		add("BODY: text is required")
		return
	}
	if n := utf8.RuneCountInString(text); n > MaxBodyLen {
		add("BODY: text has %d characters, at most %d are allowed", n, MaxBodyLen)
	}
	vars := placeholders(text)
	if !checkOrder("BODY", named, vars, add) {
		return
	}
	var first []string
	if len(ex.BodyText) > 0 {
		first = ex.BodyText[0]
	}
	checkExamples("BODY", "body_text", named, vars, first, len(ex.BodyText) > 0, ex.BodyTextNamed, add)
}

func validateFooter(c newComponent, auth bool, add func(string, ...any)) {
	if m := c.CodeExpirationMinutes; m != nil {
		if !auth {
			add("FOOTER: code_expiration_minutes is only for AUTHENTICATION templates")
		} else if *m < 1 || *m > 90 {
			add("FOOTER: code_expiration_minutes must be 1 to 90, got %d", *m)
		}
	}
	if c.Text == nil {
		if !auth {
			add("FOOTER: text is required")
		}
		return
	}
	text := *c.Text
	if strings.TrimSpace(text) == "" {
		add("FOOTER: text is empty")
	}
	if n := utf8.RuneCountInString(text); n > MaxFooterLen {
		add("FOOTER: text has %d characters, at most %d are allowed", n, MaxFooterLen)
	}
	if vars := placeholders(text); len(vars) > 0 {
		add("FOOTER: the footer may not hold placeholders, found %s", braces(vars))
	}
}

func validateButtons(c newComponent, auth bool, add func(string, ...any)) {
	if len(c.Buttons) == 0 {
		add("BUTTONS: at least one button is required")
		return
	}
	if len(c.Buttons) > MaxButtons {
		add("BUTTONS: %d buttons, at most %d are allowed", len(c.Buttons), MaxButtons)
	}
	if auth && (len(c.Buttons) != 1 || strings.ToUpper(c.Buttons[0].Type) != ButtonOTP) {
		add("BUTTONS: an AUTHENTICATION template has exactly one OTP button")
	}
	for i, b := range c.Buttons {
		where := fmt.Sprintf("BUTTONS: button %d", i)
		typ := strings.ToUpper(b.Type)
		if n := utf8.RuneCountInString(b.Text); n > MaxButtonTextLen {
			add("%s: text has %d characters, at most %d are allowed", where, n, MaxButtonTextLen)
		}
		needText := func() {
			if strings.TrimSpace(b.Text) == "" {
				add("%s (%s): text is required", where, typ)
			}
		}
		switch typ {
		case ButtonQuickReply, ButtonFlow:
			needText()
		case ButtonURL:
			needText()
			validateURLButton(where, b, add)
		case ButtonPhoneNumber:
			needText()
			switch {
			case strings.TrimSpace(b.PhoneNumber) == "":
				add("%s (PHONE_NUMBER): phone_number is required", where)
			case utf8.RuneCountInString(b.PhoneNumber) > MaxPhoneLen:
				add("%s (PHONE_NUMBER): phone_number has more than %d characters", where, MaxPhoneLen)
			}
		case ButtonCopyCode:
			if strings.TrimSpace(exampleString(b.Example)) == "" {
				add("%s (COPY_CODE): example code is missing (example)", where)
			}
		case ButtonOTP:
			if !auth {
				add("%s: OTP buttons are only for AUTHENTICATION templates", where)
			}
			switch strings.ToUpper(b.OTPType) {
			case "COPY_CODE", "ONE_TAP", "ZERO_TAP":
			default:
				add("%s (OTP): otp_type %q is not COPY_CODE, ONE_TAP or ZERO_TAP", where, b.OTPType)
			}
		case "":
			add("%s: type is required", where)
		}
	}
}

func validateURLButton(where string, b newButton, add func(string, ...any)) {
	if strings.TrimSpace(b.URL) == "" {
		add("%s (URL): url is required", where)
		return
	}
	if n := utf8.RuneCountInString(b.URL); n > MaxURLLen {
		add("%s (URL): url has %d characters, at most %d are allowed", where, n, MaxURLLen)
	}
	locs := placeholderRE.FindAllStringSubmatchIndex(b.URL, -1)
	switch {
	case len(locs) == 0:
		return
	case len(locs) > 1 || b.URL[locs[0][2]:locs[0][3]] != "1" || locs[0][1] != len(b.URL):
		add("%s (URL): a URL may hold one placeholder, {{1}}, at its end", where)
		return
	}
	if strings.TrimSpace(exampleString(b.Example)) == "" {
		add("%s (URL): example URL for {{1}} is missing (example)", where)
	}
}
