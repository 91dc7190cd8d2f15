package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Template management and account health.
//
// # Graph endpoints (bearer token as for every Graph call)
//
// POST /{waba_id}/message_templates creates a template. Body (JSON, or form
// fields with components as JSON text), as Meta documents it:
//
//	{"name":"seasonal_promotion","language":"en_US","category":"MARKETING",
//	 "parameter_format":"POSITIONAL"|"NAMED" (default POSITIONAL),
//	 "components":[
//	   {"type":"HEADER","format":"TEXT","text":"Our {{1}} is on!","example":{"header_text":["Summer Sale"]}},
//	   {"type":"HEADER","format":"IMAGE"|"VIDEO"|"DOCUMENT","example":{"header_handle":["4::aW…"]}},
//	   {"type":"BODY","text":"Use code {{1}}","example":{"body_text":[["25OFF"]]}},
//	   {"type":"BODY","text":"Hi {{first_name}}","example":{"body_text_named_params":[{"param_name":"first_name","example":"Pablo"}]}},
//	   {"type":"FOOTER","text":"…"},
//	   {"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"…"},
//	     {"type":"URL","text":"…","url":"https://x/{{1}}","example":["https://x/summer"]},
//	     {"type":"PHONE_NUMBER","text":"…","phone_number":"+1555…"},{"type":"COPY_CODE","example":"SAVE20"}]}]}
//
// AUTHENTICATION templates may use Meta's preset parts: BODY
// {"add_security_recommendation":true} (text "*{{1}}* is your verification
// code." [+ " For your security, do not share this code."]), FOOTER
// {"code_expiration_minutes":5} and an OTP button {"type":"OTP","otp_type":
// "COPY_CODE"|"ONE_TAP"|"ZERO_TAP"}, listed (and sent) as a URL button
// ending in the code.
//
// Answer: {"id":"<16 digits>","status":"PENDING","category":"MARKETING"}.
// Refusals, all HTTP 400 code 100: a missing name/language/category/
// components ("(#100) The parameter name is required."); a name not matching
// ^[a-z0-9_]{1,512}$, a bad language code, no BODY, texts over Meta's limits
// (header/footer 60, body 1024, button 25), placeholder rule violations and a
// variable without its example ("(#100) Invalid parameter", is_transient
// false, error_user_title `Message template "components" param is missing
// expected field(s)`, error_user_msg "component of type BODY is missing
// expected field(s) (example.body_text): …", also in error_data.details); the
// same name and language again → error_subcode 2388024, error_user_title
// "Message template already exists". Counted in stats template_create_calls.
//
// The template is PENDING (listed, sends fail with 132001) for
// Config.TemplateReviewDelay, then the review rule below decides and a
// message_template_status_update webhook follows.
//
// GET /{phone_number_id}[?fields=a,b,throughput{level}] answers the phone
// number node: id always, then the requested fields or, without fields=,
// Graph's defaults (verified_name, code_verification_status,
// display_phone_number, quality_rating, platform_type, throughput). Known
// fields: those plus messaging_limit_tier (deprecated; TIER_2K reads
// TIER_1K), whatsapp_business_manager_messaging_limit ("TIER_250" …),
// name_status, status (CONNECTED, FLAGGED while quality is RED),
// account_mode, is_official_business_account; any other → (#100) "Tried
// accessing nonexisting field (x) on node type (WhatsAppBusinessPhoneNumber)".
// Counted in stats phone_number_calls. GET /{waba_id}/phone_numbers takes the
// same fields= for every number.
//
// # Control endpoints (no auth; errors {"error":"…"} with 400/404/405)
//
//	GET  /sandbox/v1/templates → {"templates":[{name,parameter_format,components,language,status,
//	     category,id, reason,quality_score,last_event,source:"config"|"api"}]}
//	POST /sandbox/v1/templates/status {"name","language","status","reason"?,"other_info"?:{"title","description"}}
//	     status APPROVED|REJECTED|PAUSED|DISABLED|FLAGGED|PENDING|REINSTATED; reason default NONE
//	     (REJECTED: INVALID_FORMAT). FLAGGED only warns (status unchanged, still sendable);
//	     REINSTATED sets APPROVED. → the template (as in the list); status webhook.
//	POST /sandbox/v1/templates/quality {"name","language","score":"GREEN|YELLOW|RED|UNKNOWN"}
//	     → the template; quality webhook.
//	POST /sandbox/v1/templates/category {"name","language","category","impending"?:bool}
//	     → the template; category webhook (impending: notice only, no change).
//	POST /sandbox/v1/account {"phone_number_id"?,"quality_rating"?,"messaging_limit"?,"event"?}
//	     → {"phone_number_id","display_phone_number","quality_rating","messaging_limit","webhook_event"}
//
// Sends of a PAUSED template fail with 132015, DISABLED with 132016, any
// other status but APPROVED with 132001. Quality is per number (default
// GREEN), the messaging limit per portfolio, i.e. shared by all numbers
// (default TIER_250, a new portfolio's; TIER_50, TIER_250, TIER_2K,
// TIER_10K, TIER_100K, TIER_UNLIMITED). phone_number_id may be the id, the
// E.164 number or its digits; default the first number. Without "event" it
// is derived: limit up UPGRADE, down DOWNGRADE, else quality worse FLAGGED,
// better UNFLAGGED; nothing changed → no webhook (webhook_event null).
// Configured templates start with quality GREEN, created ones UNKNOWN. A
// reset restores the configured catalogue and the default health.
//
// # Webhooks
//
// Signed like every other webhook, in Meta's envelope for account-level
// fields: {"object":"whatsapp_business_account","entry":[{"id":"<WABA>",
// "time":<unix>,"changes":[{"value":{…},"field":"<field>"}]}]}; values:
//
//	message_template_status_update {"event","message_template_id":<number>,"message_template_name",
//	    "message_template_language","reason","message_template_category",
//	    "disable_info":{"disable_date":<unix>} (DISABLED), "other_info":{"title","description"}
//	    (PAUSED: default title FIRST_PAUSE; or as given), "rejection_info":{"reason","recommendation"}
//	    (REJECTED with INVALID_FORMAT)}
//	message_template_quality_update {"previous_quality_score","new_quality_score",
//	    "message_template_id","message_template_name","message_template_language"}
//	template_category_update {"message_template_id","message_template_name","message_template_language",
//	    "previous_category","new_category"} or, impending, {…,"correct_category","new_category"
//	    (the current one),"category_update_timestamp"}
//	phone_number_quality_update {"display_phone_number" (digits),"event","old_limit" (limit
//	    changes only),"current_limit","max_daily_conversations_per_business"}
//
// # Review rule
//
// A created template is approved unless its name contains "reject": then it
// is REJECTED with reason INVALID_FORMAT (and rejection_info). Tests create
// e.g. "promo_reject_me" to exercise the rejection path. A status set through
// the control API before the review ends wins (the review is skipped).

// --- creating templates -----------------------------------------------------------

var (
	templateNameRE = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	// languageRE accepts Meta's codes: "en", "en_US", "fil", "ky_KG", "zh_CN".
	languageRE = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)
)

// Limits Meta documents for template components.
const (
	maxTemplateHeader = 60
	maxTemplateBody   = 1024
	maxTemplateFooter = 60
	maxButtonText     = 25
	maxButtons        = 10
)

// createTemplateReq is the body of POST /{waba_id}/message_templates.
type createTemplateReq struct {
	Name                string            `json:"name"`
	Language            string            `json:"language"`
	Category            string            `json:"category"`
	ParameterFormat     string            `json:"parameter_format"`
	AllowCategoryChange bool              `json:"allow_category_change"` // accepted, ignored
	Components          []createComponent `json:"components"`
}

type createComponent struct {
	Type    string                     `json:"type"`
	Format  string                     `json:"format"`
	Text    string                     `json:"text"`
	Example map[string]json.RawMessage `json:"example"`
	Buttons []createButton             `json:"buttons"`
	// AUTHENTICATION templates.
	AddSecurityRecommendation bool `json:"add_security_recommendation"`
	CodeExpirationMinutes     *int `json:"code_expiration_minutes"`
}

type createButton struct {
	Type        string          `json:"type"`
	Text        string          `json:"text"`
	URL         string          `json:"url"`
	PhoneNumber string          `json:"phone_number"`
	OTPType     string          `json:"otp_type"`
	Example     json.RawMessage `json:"example"` // URL: ["https://…/x"]; COPY_CODE: "CODE"
}

type namedExample struct {
	ParamName string `json:"param_name"`
	Example   string `json:"example"`
}

// errTemplate is Graph's answer to an unacceptable template: (#100)
// Invalid parameter, with the explanation in error_user_title /
// error_user_msg (and, for clients that only read it, error_data.details).
func errTemplate(subcode int, title, msg string) *graphError {
	return &graphError{code: 100, subcode: subcode, message: "(#100) Invalid parameter", userTitle: title, userMsg: msg, details: msg}
}

// errMissingExample names the example a variable lacks. Meta refuses such
// templates with (#100) Invalid parameter; the wording of its user message
// ("… is missing expected field(s) (example)") is reproduced from
// developer reports, not from Meta's reference [U].
func errMissingExample(component, field, hint string) *graphError {
	return errTemplate(0, `Message template "components" param is missing expected field(s)`,
		fmt.Sprintf("component of type %s is missing expected field(s) (example.%s): %s", component, field, hint))
}

// handleTemplateCreate serves POST /{waba_id}/message_templates.
func (s *Server) handleTemplateCreate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.TemplateCreateCalls++
	s.mu.Unlock()

	req, e := readCreateRequest(r)
	if e != nil {
		e.write(w)
		return
	}
	t, ex, e := req.template()
	if e != nil {
		e.write(w)
		return
	}
	c, err := compileTemplate(t)
	if err != nil {
		errTemplate(0, "Invalid parameter", err.Error()).write(w)
		return
	}
	c.Status, c.quality, c.created = "PENDING", "UNKNOWN", true
	c.headerEx, c.bodyEx = ex.header, ex.body

	s.mu.Lock()
	if s.findTemplateLocked(c.Name, c.Language) != nil {
		s.mu.Unlock()
		errTemplate(2388024, "Message template already exists",
			fmt.Sprintf("There is already %s content for this template (%s). Create a new template with a different name, or add another language, and try again.", c.Language, c.Name)).write(w)
		return
	}
	s.templates = append(s.templates, c)
	epoch := s.epoch
	s.mu.Unlock()

	s.log.Debug("sandbox created template", "name", c.Name, "language", c.Language, "category", c.Category, "id", c.id)
	writeJSON(w, http.StatusOK, map[string]string{"id": c.id, "status": "PENDING", "category": c.Category})
	s.scheduleReview(c, epoch)
}

// readCreateRequest decodes a JSON body, or (as Graph also accepts) form
// fields or query parameters with components as a JSON string.
func readCreateRequest(r *http.Request) (*createTemplateReq, *graphError) {
	raw, tooLarge, err := readBody(r)
	if tooLarge {
		return nil, &graphError{status: http.StatusRequestEntityTooLarge, code: 100, message: "(#100) Request body too large"}
	}
	if err != nil {
		return nil, errInvalidParam("could not read the request body")
	}
	fields := map[string]json.RawMessage{}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" || (len(bytes.TrimSpace(raw)) == 0 && len(r.URL.Query()) > 0) {
		vals := r.URL.Query()
		if mt == "application/x-www-form-urlencoded" {
			form, err := url.ParseQuery(string(raw))
			if err != nil {
				return nil, errInvalidParam("the form body cannot be parsed")
			}
			for k, v := range form {
				vals[k] = v
			}
		}
		for k := range vals {
			v := vals.Get(k)
			if k == "components" {
				fields[k] = json.RawMessage(v)
				continue
			}
			b, _ := json.Marshal(v)
			fields[k] = b
		}
		raw, _ = json.Marshal(fields)
	}
	var req createTemplateReq
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, errInvalidParam("invalid request body: " + err.Error())
	}
	return &req, nil
}

// templateExamples are the examples a created template came with, listed
// back as given (configured templates get generated ones).
type templateExamples struct {
	header, body map[string]json.RawMessage
}

// template validates the request the way Meta does and turns it into a
// catalogue entry; compileTemplate then checks the placeholder rules.
func (req *createTemplateReq) template() (Template, templateExamples, *graphError) {
	t, e := req.build()
	if e != nil {
		return t, templateExamples{}, e
	}
	named := t.ParameterFormat == "NAMED"
	var ex templateExamples
	for _, c := range req.Components {
		switch strings.ToUpper(c.Type) {
		case "HEADER":
			if t.HeaderFormat == "TEXT" {
				ex.header, e = checkExamples("HEADER", "header_text", placeholders(t.HeaderText), c.Example, named)
			} else {
				ex.header = map[string]json.RawMessage{"header_handle": c.Example["header_handle"]}
			}
		case "BODY":
			if c.Text != "" { // not a preset authentication body
				ex.body, e = checkExamples("BODY", "body_text", placeholders(t.Body), c.Example, named)
			}
		}
		if e != nil {
			return t, ex, e
		}
	}
	return t, ex, nil
}

// build checks the request fields and components except the examples.
func (req *createTemplateReq) build() (Template, *graphError) {
	var t Template
	switch {
	case req.Name == "":
		return t, errRequired("name")
	case req.Language == "":
		return t, errRequired("language")
	case req.Category == "":
		return t, errRequired("category")
	case len(req.Components) == 0:
		return t, errRequired("components")
	}
	if !templateNameRE.MatchString(req.Name) {
		return t, errTemplate(0, "Invalid template name",
			fmt.Sprintf("The template name %q may only contain lowercase letters, digits and underscores (at most 512 characters).", req.Name))
	}
	if !languageRE.MatchString(req.Language) {
		return t, errTemplate(0, "Invalid language", fmt.Sprintf("%q is not a supported language code such as en or en_US.", req.Language))
	}
	t.Name, t.Language = req.Name, req.Language
	t.Category = strings.ToUpper(req.Category)
	switch t.Category {
	case "MARKETING", "UTILITY", "AUTHENTICATION":
	default:
		return t, &graphError{code: 100, message: fmt.Sprintf("(#100) Param category must be one of {AUTHENTICATION, MARKETING, UTILITY} - got %q.", req.Category)}
	}
	t.ParameterFormat = strings.ToUpper(req.ParameterFormat)
	switch t.ParameterFormat {
	case "":
		t.ParameterFormat = "POSITIONAL"
	case "POSITIONAL", "NAMED":
	default:
		return t, &graphError{code: 100, message: fmt.Sprintf("(#100) Param parameter_format must be one of {NAMED, POSITIONAL} - got %q.", req.ParameterFormat)}
	}
	auth := t.Category == "AUTHENTICATION"

	seen := map[string]bool{}
	for i, c := range req.Components {
		typ := strings.ToUpper(c.Type)
		switch typ {
		case "HEADER", "BODY", "FOOTER", "BUTTONS":
		default:
			return t, &graphError{code: 100, message: fmt.Sprintf("(#100) Param components[%d]['type'] must be one of {BODY, BUTTONS, FOOTER, HEADER} - got %q.", i, c.Type),
				details: "the sandbox supports HEADER, BODY, FOOTER and BUTTONS components"}
		}
		if seen[typ] {
			return t, errTemplate(0, "Invalid parameter", fmt.Sprintf("Message template \"components\" param has more than one component of type %s.", typ))
		}
		seen[typ] = true
		var e *graphError
		switch typ {
		case "HEADER":
			e = headerComponent(&t, c)
		case "BODY":
			e = bodyComponent(&t, c, auth)
		case "FOOTER":
			e = footerComponent(&t, c, auth)
		case "BUTTONS":
			e = buttonsComponent(&t, c, auth)
		}
		if e != nil {
			return t, e
		}
	}
	if !seen["BODY"] {
		return t, errTemplate(0, `Message template "components" param is missing expected field(s)`,
			`Message template "components" param must contain a component of type BODY.`)
	}
	return t, nil
}

func headerComponent(t *Template, c createComponent) *graphError {
	t.HeaderFormat = strings.ToUpper(c.Format)
	switch t.HeaderFormat {
	case "TEXT":
		if c.Text == "" {
			return errTemplate(0, `Message template "components" param is missing expected field(s)`, "component of type HEADER is missing expected field(s) (text)")
		}
		if runes(c.Text) > maxTemplateHeader {
			return errTemplate(0, "Header text too long", fmt.Sprintf("The header text may be at most %d characters long (got %d).", maxTemplateHeader, runes(c.Text)))
		}
		t.HeaderText = c.Text
		return nil
	case "IMAGE", "VIDEO", "DOCUMENT":
		var handles []string
		if raw, ok := c.Example["header_handle"]; !ok || json.Unmarshal(raw, &handles) != nil || len(handles) == 0 || handles[0] == "" {
			return errMissingExample("HEADER", "header_handle", fmt.Sprintf("a %s header needs an uploaded sample: {\"header_handle\":[\"<handle>\"]}", t.HeaderFormat))
		}
		return nil
	case "":
		return errRequired("components['HEADER']['format']")
	}
	return &graphError{code: 100, message: fmt.Sprintf("(#100) Param format must be one of {DOCUMENT, IMAGE, TEXT, VIDEO} - got %q.", c.Format),
		details: "the sandbox does not simulate LOCATION headers"}
}

// Meta's fixed texts of authentication templates (en_US).
const (
	authBody     = "*{{1}}* is your verification code."
	authSecurity = " For your security, do not share this code."
	otpURL       = "https://www.whatsapp.com/otp/code/?otp_type=%s&code=otp{{1}}"
)

func bodyComponent(t *Template, c createComponent, auth bool) *graphError {
	if auth && c.Text == "" {
		// Authentication templates have a preset body; the code is {{1}}.
		t.Body = authBody
		if c.AddSecurityRecommendation {
			t.Body += authSecurity
		}
		return nil
	}
	if c.Text == "" {
		return errTemplate(0, `Message template "components" param is missing expected field(s)`, "component of type BODY is missing expected field(s) (text)")
	}
	if runes(c.Text) > maxTemplateBody {
		return errTemplate(0, "Body text too long", fmt.Sprintf("The body text may be at most %d characters long (got %d).", maxTemplateBody, runes(c.Text)))
	}
	t.Body = c.Text
	return nil
}

func footerComponent(t *Template, c createComponent, auth bool) *graphError {
	if auth && c.CodeExpirationMinutes != nil {
		m := *c.CodeExpirationMinutes
		if m < 1 || m > 90 {
			return errTemplate(0, "Invalid parameter", fmt.Sprintf("code_expiration_minutes must be between 1 and 90 (got %d).", m))
		}
		t.Footer = fmt.Sprintf("This code expires in %d minutes.", m)
		return nil
	}
	if c.Text == "" {
		return errTemplate(0, `Message template "components" param is missing expected field(s)`, "component of type FOOTER is missing expected field(s) (text)")
	}
	if runes(c.Text) > maxTemplateFooter {
		return errTemplate(0, "Footer text too long", fmt.Sprintf("The footer text may be at most %d characters long (got %d).", maxTemplateFooter, runes(c.Text)))
	}
	t.Footer = c.Text
	return nil
}

func buttonsComponent(t *Template, c createComponent, auth bool) *graphError {
	if len(c.Buttons) == 0 || len(c.Buttons) > maxButtons {
		return errTemplate(0, "Invalid parameter", fmt.Sprintf("A BUTTONS component needs 1 to %d buttons (got %d).", maxButtons, len(c.Buttons)))
	}
	missing := func(i int, field string) *graphError {
		return errTemplate(0, `Message template "components" param is missing expected field(s)`,
			fmt.Sprintf("button at index %d of type %s is missing expected field(s) (%s)", i, strings.ToUpper(c.Buttons[i].Type), field))
	}
	for i, b := range c.Buttons {
		typ := strings.ToUpper(b.Type)
		if runes(b.Text) > maxButtonText {
			return errTemplate(0, "Button text too long", fmt.Sprintf("The text of button %d may be at most %d characters long.", i, maxButtonText))
		}
		btn := Button{Type: typ, Text: b.Text}
		switch typ {
		case "QUICK_REPLY":
			if b.Text == "" {
				return missing(i, "text")
			}
		case "URL":
			if b.Text == "" {
				return missing(i, "text")
			}
			if b.URL == "" {
				return missing(i, "url")
			}
			btn.URL = b.URL
			if len(placeholders(b.URL)) > 0 {
				var ex []string
				if json.Unmarshal(b.Example, &ex) != nil || len(ex) == 0 || ex[0] == "" {
					return errMissingExample("BUTTONS", fmt.Sprintf("buttons[%d].example", i),
						fmt.Sprintf("the URL of button %d has a variable; give a sample URL: \"example\":[\"https://…/sample\"]", i))
				}
				btn.Example = ex[0]
			}
		case "PHONE_NUMBER":
			if b.Text == "" {
				return missing(i, "text")
			}
			if b.PhoneNumber == "" {
				return missing(i, "phone_number")
			}
			btn.URL = b.PhoneNumber
		case "COPY_CODE":
			var ex string
			if json.Unmarshal(b.Example, &ex) != nil || ex == "" {
				return errMissingExample("BUTTONS", fmt.Sprintf("buttons[%d].example", i), "a COPY_CODE button needs a sample code: \"example\":\"SAVE20\"")
			}
			btn.Example = ex
			if btn.Text == "" {
				btn.Text = "Copy offer code"
			}
		case "OTP":
			if !auth {
				return errTemplate(0, "Invalid parameter", "OTP buttons are only allowed in AUTHENTICATION templates.")
			}
			otp := strings.ToUpper(b.OTPType)
			switch otp {
			case "COPY_CODE", "ONE_TAP", "ZERO_TAP":
			default:
				return errTemplate(0, "Invalid parameter", fmt.Sprintf("otp_type must be one of COPY_CODE, ONE_TAP, ZERO_TAP (got %q).", b.OTPType))
			}
			// Graph lists OTP buttons as URL buttons whose URL ends in
			// the code; sends fill it with a url button parameter.
			btn.Type, btn.URL = "URL", fmt.Sprintf(otpURL, otp)
			if btn.Text == "" {
				btn.Text = "Copy code"
			}
		default:
			return errTemplate(0, "Invalid parameter", fmt.Sprintf("Button type %q is not supported by the sandbox (QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP).", b.Type))
		}
		t.Buttons = append(t.Buttons, btn)
	}
	return nil
}

// checkExamples requires an example for every variable of a HEADER (key
// "header_text") or BODY ("body_text"): positional templates give
// {key: […]} (header) or {key: [[…]]} (body), named ones
// {key+"_named_params": [{"param_name","example"}]}. It returns that
// example object, nil when there are no variables.
func checkExamples(component, key string, vars []string, ex map[string]json.RawMessage, named bool) (map[string]json.RawMessage, *graphError) {
	if len(vars) == 0 {
		return nil, nil
	}
	if named {
		field := key + "_named_params"
		var given []namedExample
		raw, ok := ex[field]
		if ok && json.Unmarshal(raw, &given) != nil {
			ok = false
		}
		for _, v := range vars {
			if !ok || !slices.ContainsFunc(given, func(n namedExample) bool { return n.ParamName == v && n.Example != "" }) {
				return nil, errMissingExample(component, field, fmt.Sprintf("variable {{%s}} has no example; give [{\"param_name\":%q,\"example\":\"…\"}]", v, v))
			}
		}
		return map[string]json.RawMessage{field: raw}, nil
	}
	var values []string
	raw, ok := ex[key]
	if ok {
		if component == "BODY" {
			var rows [][]string
			if json.Unmarshal(raw, &rows) != nil || len(rows) == 0 {
				ok = false
			} else {
				values = rows[0]
			}
		} else if json.Unmarshal(raw, &values) != nil {
			ok = false
		}
	}
	shape := `["…"]`
	if component == "BODY" {
		shape = `[["…","…"]]`
	}
	if !ok || len(values) < len(vars) || slices.Contains(values[:len(vars)], "") {
		return nil, errMissingExample(component, key, fmt.Sprintf("%d variable(s) need %d example value(s) in %s%s (got %d)", len(vars), len(vars), key, shape, len(values)))
	}
	return map[string]json.RawMessage{key: raw}, nil
}

// scheduleReview gives a created template its verdict after
// TemplateReviewDelay, unless a reset or the control API got there first.
func (s *Server) scheduleReview(t *tmpl, epoch uint64) {
	s.ensureWorkers()
	s.goAsync(func() {
		timer := time.NewTimer(s.cfg.TemplateReviewDelay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-s.life.Done():
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.epoch != epoch || !slices.Contains(s.templates, t) || t.lastEvent != "" {
			return
		}
		event, reason := "APPROVED", "NONE"
		if strings.Contains(t.Name, "reject") {
			event, reason = "REJECTED", "INVALID_FORMAT"
		}
		s.setTemplateStatusLocked(t, event, reason, nil)
	})
}

// --- template webhooks ----------------------------------------------------------------

// templateStatusValue is the value of message_template_status_update.
type templateStatusValue struct {
	Event         string         `json:"event"`
	ID            json.Number    `json:"message_template_id"`
	Name          string         `json:"message_template_name"`
	Language      string         `json:"message_template_language"`
	Reason        string         `json:"reason"`
	Category      string         `json:"message_template_category"`
	DisableInfo   *disableInfo   `json:"disable_info,omitempty"`
	OtherInfo     *otherInfo     `json:"other_info,omitempty"`
	RejectionInfo *rejectionInfo `json:"rejection_info,omitempty"`
}

type disableInfo struct {
	DisableDate int64 `json:"disable_date"`
}

type otherInfo struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

type rejectionInfo struct {
	Reason         string `json:"reason"`
	Recommendation string `json:"recommendation"`
}

// templateQualityValue is the value of message_template_quality_update.
type templateQualityValue struct {
	Previous string      `json:"previous_quality_score"`
	New      string      `json:"new_quality_score"`
	ID       json.Number `json:"message_template_id"`
	Name     string      `json:"message_template_name"`
	Language string      `json:"message_template_language"`
}

// templateCategoryValue is the value of template_category_update: a
// completed change carries previous_category, an impending one
// correct_category and category_update_timestamp.
type templateCategoryValue struct {
	IDNumber          json.Number `json:"message_template_id"`
	Name              string      `json:"message_template_name"`
	Language          string      `json:"message_template_language"`
	PreviousCategory  string      `json:"previous_category,omitempty"`
	CorrectCategory   string      `json:"correct_category,omitempty"`
	NewCategory       string      `json:"new_category"`
	CategoryUpdatedAt int64       `json:"category_update_timestamp,omitempty"`
}

// setTemplateStatusLocked applies a status event and queues its webhook.
// FLAGGED only warns (the template stays sendable, its status unchanged);
// REINSTATED makes it APPROVED again. Called with s.mu held.
func (s *Server) setTemplateStatusLocked(t *tmpl, event, reason string, other *otherInfo) {
	switch event {
	case "FLAGGED":
	case "REINSTATED":
		t.Status = "APPROVED"
	default:
		t.Status = event
	}
	t.reason, t.lastEvent = reason, event
	v := templateStatusValue{
		Event: event, ID: json.Number(t.id), Name: t.Name, Language: t.Language,
		Reason: reason, Category: t.Category, OtherInfo: other,
	}
	switch event {
	case "DISABLED":
		v.DisableInfo = &disableInfo{DisableDate: time.Now().Unix()}
	case "PAUSED":
		if v.OtherInfo == nil {
			v.OtherInfo = &otherInfo{Title: "FIRST_PAUSE", Description: "Your WhatsApp message template has been paused because of its low quality rating (sandbox)."}
		}
	case "REJECTED":
		if reason == "INVALID_FORMAT" {
			v.RejectionInfo = &rejectionInfo{
				Reason:         "The template's format is invalid (sandbox review rule: the name contains \"reject\", or the control API rejected it).",
				Recommendation: "Correct the template and submit it again.",
			}
		}
	}
	s.enqueueLocked(s.accountWebhookBody("message_template_status_update", v), "template status "+event)
}

// --- control API: templates -------------------------------------------------------------

// controlTemplate is one element of GET /sandbox/v1/templates: the Graph
// listing fields plus the sandbox's state.
type controlTemplate struct {
	templateJSON
	Reason       string `json:"reason"`        // reason of the last status change (NONE, INVALID_FORMAT, …)
	QualityScore string `json:"quality_score"` // GREEN, YELLOW, RED or UNKNOWN
	LastEvent    string `json:"last_event"`    // last status webhook event, "" if none was sent
	Source       string `json:"source"`        // "config" or "api" (created with POST message_templates)
}

func (t *tmpl) controlJSON() controlTemplate {
	src := "config"
	if t.created {
		src = "api"
	}
	return controlTemplate{templateJSON: t.listingJSON(), Reason: t.reason, QualityScore: t.quality, LastEvent: t.lastEvent, Source: src}
}

// handleControlTemplates serves GET /sandbox/v1/templates → {"templates":[…]}.
func (s *Server) handleControlTemplates(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]controlTemplate, 0, len(s.templates))
	for _, t := range s.templates {
		out = append(out, t.controlJSON())
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"templates": out})
}

// decodeControl decodes a JSON control body strictly into v.
func decodeControl(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	raw, _, err := readBody(r)
	if err != nil {
		controlError(w, http.StatusBadRequest, "could not read the body")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		controlError(w, http.StatusBadRequest, "body must be "+shape+": "+err.Error())
		return false
	}
	return true
}

// lockedTemplate finds name/language and returns with s.mu held; on failure
// it answers the request and returns nil with the lock released.
func (s *Server) lockedTemplate(w http.ResponseWriter, name, lang string) *tmpl {
	if name == "" || lang == "" {
		controlError(w, http.StatusBadRequest, "name and language are required")
		return nil
	}
	s.mu.Lock()
	t := s.findTemplateLocked(name, lang)
	if t == nil {
		s.mu.Unlock()
		controlError(w, http.StatusNotFound, fmt.Sprintf("no template %s in %s", name, lang))
	}
	return t
}

// handleControlTemplateStatus serves POST /sandbox/v1/templates/status.
func (s *Server) handleControlTemplateStatus(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name      string     `json:"name"`
		Language  string     `json:"language"`
		Status    string     `json:"status"`
		Reason    string     `json:"reason"`
		OtherInfo *otherInfo `json:"other_info"`
	}
	if !decodeControl(w, r, &req, `{"name","language","status","reason","other_info"}`) {
		return
	}
	event := strings.ToUpper(req.Status)
	switch event {
	case "APPROVED", "REJECTED", "PAUSED", "DISABLED", "FLAGGED", "PENDING", "REINSTATED":
	default:
		controlError(w, http.StatusBadRequest, "status must be APPROVED, REJECTED, PAUSED, DISABLED, FLAGGED, PENDING or REINSTATED")
		return
	}
	reason := strings.ToUpper(req.Reason)
	if reason == "" {
		reason = "NONE"
		if event == "REJECTED" {
			reason = "INVALID_FORMAT"
		}
	}
	t := s.lockedTemplate(w, req.Name, req.Language)
	if t == nil {
		return
	}
	s.setTemplateStatusLocked(t, event, reason, req.OtherInfo)
	out := t.controlJSON()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// handleControlTemplateQuality serves POST /sandbox/v1/templates/quality.
func (s *Server) handleControlTemplateQuality(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name     string `json:"name"`
		Language string `json:"language"`
		Score    string `json:"score"`
	}
	if !decodeControl(w, r, &req, `{"name","language","score"}`) {
		return
	}
	score := strings.ToUpper(req.Score)
	if _, ok := qualityRank[score]; !ok {
		controlError(w, http.StatusBadRequest, "score must be GREEN, YELLOW, RED or UNKNOWN")
		return
	}
	t := s.lockedTemplate(w, req.Name, req.Language)
	if t == nil {
		return
	}
	v := templateQualityValue{Previous: t.quality, New: score, ID: json.Number(t.id), Name: t.Name, Language: t.Language}
	t.quality = score
	s.enqueueLocked(s.accountWebhookBody("message_template_quality_update", v), "template quality "+score)
	out := t.controlJSON()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// handleControlTemplateCategory serves POST /sandbox/v1/templates/category.
// Without "impending" the category changes now (previous_category →
// new_category; sends are priced and US-marketing-checked by the new one);
// with "impending": true only the advance notice is sent (correct_category,
// category_update_timestamp 24 h ahead) and nothing changes.
func (s *Server) handleControlTemplateCategory(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name      string `json:"name"`
		Language  string `json:"language"`
		Category  string `json:"category"`
		Impending bool   `json:"impending"`
	}
	if !decodeControl(w, r, &req, `{"name","language","category","impending"}`) {
		return
	}
	cat := strings.ToUpper(req.Category)
	switch cat {
	case "MARKETING", "UTILITY", "AUTHENTICATION":
	default:
		controlError(w, http.StatusBadRequest, "category must be MARKETING, UTILITY or AUTHENTICATION")
		return
	}
	t := s.lockedTemplate(w, req.Name, req.Language)
	if t == nil {
		return
	}
	v := templateCategoryValue{IDNumber: json.Number(t.id), Name: t.Name, Language: t.Language}
	if req.Impending {
		v.CorrectCategory, v.NewCategory = cat, t.Category
		v.CategoryUpdatedAt = time.Now().Add(24 * time.Hour).Unix()
	} else {
		v.PreviousCategory, v.NewCategory = t.Category, cat
		t.Category = cat
	}
	s.enqueueLocked(s.accountWebhookBody("template_category_update", v), "template category "+cat)
	out := t.controlJSON()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// --- account health ------------------------------------------------------------------

// accountHealth is the simulated quality and messaging limit. Meta rates
// quality per phone number and sets the messaging limit per business
// portfolio (shared by all numbers), and so does the sandbox.
type accountHealth struct {
	limit   string            // TIER_250 … TIER_UNLIMITED
	quality map[string]string // phone_number_id → GREEN, YELLOW, RED or UNKNOWN
}

// Defaults: a new portfolio's limit (250) and a good quality rating.
const (
	defaultLimit   = "TIER_250"
	defaultQuality = "GREEN"
)

// tierRank orders the messaging limits (Meta's current tiers; 1K was
// replaced by 2K in 2025).
var tierRank = map[string]int{"TIER_50": 1, "TIER_250": 2, "TIER_2K": 3, "TIER_10K": 4, "TIER_100K": 5, "TIER_UNLIMITED": 6}

var qualityRank = map[string]int{"RED": 1, "YELLOW": 2, "GREEN": 3, "UNKNOWN": 3}

// phoneEvents are the events of phone_number_quality_update.
var phoneEvents = []string{"DOWNGRADE", "FLAGGED", "ONBOARDING", "THROUGHPUT_UPGRADE", "UNFLAGGED", "UPGRADE"}

func (s *Server) defaultHealth() accountHealth {
	h := accountHealth{limit: defaultLimit, quality: map[string]string{}}
	for _, n := range s.numbers {
		h.quality[n.PhoneNumberID] = defaultQuality
	}
	return h
}

// legacyTier is the deprecated messaging_limit_tier value: it predates the
// 2K tier, so TIER_2K reads as TIER_1K there (an assumption [U]).
func legacyTier(t string) string {
	if t == "TIER_2K" {
		return "TIER_1K"
	}
	return t
}

// phoneNumberValue is the value of phone_number_quality_update (Meta's
// reference, 2025-11; current_limit is deprecated in favour of
// max_daily_conversations_per_business, both are sent).
type phoneNumberValue struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	Event              string `json:"event"`
	OldLimit           string `json:"old_limit,omitempty"` // only for messaging limit changes
	CurrentLimit       string `json:"current_limit"`
	MaxDaily           string `json:"max_daily_conversations_per_business"`
}

// handleControlAccount serves POST /sandbox/v1/account.
func (s *Server) handleControlAccount(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PhoneNumberID  string `json:"phone_number_id"`
		QualityRating  string `json:"quality_rating"`
		MessagingLimit string `json:"messaging_limit"`
		Event          string `json:"event"`
	}
	if !decodeControl(w, r, &req, `{"phone_number_id","quality_rating","messaging_limit","event"}`) {
		return
	}
	num := s.numbers[0]
	if req.PhoneNumberID != "" {
		if num = s.numberFor(req.PhoneNumberID); num == nil {
			controlError(w, http.StatusBadRequest, "unknown business number "+req.PhoneNumberID)
			return
		}
	}
	quality, limit, event := strings.ToUpper(req.QualityRating), strings.ToUpper(req.MessagingLimit), strings.ToUpper(req.Event)
	if _, ok := qualityRank[quality]; quality != "" && !ok {
		controlError(w, http.StatusBadRequest, "quality_rating must be GREEN, YELLOW, RED or UNKNOWN")
		return
	}
	if _, ok := tierRank[limit]; limit != "" && !ok {
		controlError(w, http.StatusBadRequest, "messaging_limit must be TIER_50, TIER_250, TIER_2K, TIER_10K, TIER_100K or TIER_UNLIMITED")
		return
	}
	if event != "" && !slices.Contains(phoneEvents, event) {
		controlError(w, http.StatusBadRequest, "event must be one of "+strings.Join(phoneEvents, ", "))
		return
	}

	s.mu.Lock()
	oldQuality, oldLimit := s.health.quality[num.PhoneNumberID], s.health.limit
	if quality != "" {
		s.health.quality[num.PhoneNumberID] = quality
	} else {
		quality = oldQuality
	}
	if limit == "" {
		limit = oldLimit
	}
	s.health.limit = limit
	if event == "" {
		switch {
		case tierRank[limit] > tierRank[oldLimit]:
			event = "UPGRADE"
		case tierRank[limit] < tierRank[oldLimit]:
			event = "DOWNGRADE"
		case qualityRank[quality] < qualityRank[oldQuality]:
			event = "FLAGGED"
		case qualityRank[quality] > qualityRank[oldQuality]:
			event = "UNFLAGGED"
		}
	}
	if event != "" {
		v := phoneNumberValue{DisplayPhoneNumber: strings.TrimPrefix(num.BusinessNumber, "+"), Event: event, CurrentLimit: limit, MaxDaily: limit}
		if limit != oldLimit {
			v.OldLimit = oldLimit
		}
		s.enqueueLocked(s.accountWebhookBody("phone_number_quality_update", v), "phone number "+event)
	}
	s.mu.Unlock()

	var sent any
	if event != "" {
		sent = event
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"phone_number_id": num.PhoneNumberID, "display_phone_number": num.BusinessNumber,
		"quality_rating": quality, "messaging_limit": limit, "webhook_event": sent,
	})
}

// --- phone number node ---------------------------------------------------------------

// defaultPhoneFields are what GET /{phone_number_id} answers without fields=.
var defaultPhoneFields = []string{"verified_name", "code_verification_status", "display_phone_number", "quality_rating", "platform_type", "throughput", "id"}

// phoneNumberJSON renders the node with the requested fields (nil: the
// defaults), or reports the first unknown field. Called with s.mu held.
func (s *Server) phoneNumberJSON(n *Number, fields []string) (map[string]any, *graphError) {
	quality := s.health.quality[n.PhoneNumberID]
	status := "CONNECTED"
	if quality == "RED" {
		status = "FLAGGED"
	}
	all := map[string]any{
		"id":                       n.PhoneNumberID,
		"verified_name":            "Sandbox Business",
		"code_verification_status": "VERIFIED",
		"display_phone_number":     n.BusinessNumber,
		"quality_rating":           quality,
		"platform_type":            "CLOUD_API",
		"throughput":               map[string]string{"level": "STANDARD"},
		"messaging_limit_tier":     legacyTier(s.health.limit),
		"whatsapp_business_manager_messaging_limit": s.health.limit,
		"name_status":                  "APPROVED",
		"status":                       status,
		"account_mode":                 "LIVE",
		"is_official_business_account": false,
	}
	if fields == nil {
		fields = defaultPhoneFields
	}
	out := map[string]any{"id": n.PhoneNumberID}
	for _, f := range fields {
		v, ok := all[f]
		if !ok {
			return nil, &graphError{code: 100, message: fmt.Sprintf("(#100) Tried accessing nonexisting field (%s) on node type (WhatsAppBusinessPhoneNumber)", f)}
		}
		out[f] = v
	}
	return out, nil
}

// parseFields splits Graph's fields parameter ("a,b,throughput{level}");
// nil when absent.
func parseFields(q url.Values) []string {
	if !q.Has("fields") {
		return nil
	}
	out := []string{}
	depth, start := 0, 0
	v := q.Get("fields") + ","
	for i, c := range v {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				f := strings.TrimSpace(v[start:i])
				if j := strings.IndexByte(f, '{'); j >= 0 {
					f = f[:j] // sub-fields: the sandbox answers the whole object
				}
				if f != "" {
					out = append(out, f)
				}
				start = i + 1
			}
		}
	}
	return out
}

// handlePhoneNumberGet serves GET /{phone_number_id}[?fields=…].
func (s *Server) handlePhoneNumberGet(w http.ResponseWriter, r *http.Request, n *Number) {
	fields := parseFields(r.URL.Query())
	s.mu.Lock()
	s.stats.PhoneNumberCalls++
	out, e := s.phoneNumberJSON(n, fields)
	s.mu.Unlock()
	if e != nil {
		e.write(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handlePhoneNumberList serves GET /{waba_id}/phone_numbers[?fields=…].
func (s *Server) handlePhoneNumberList(w http.ResponseWriter, r *http.Request) {
	fields := parseFields(r.URL.Query())
	data := []map[string]any{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.numbers {
		m, e := s.phoneNumberJSON(n, fields)
		if e != nil {
			e.write(w)
			return
		}
		data = append(data, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// --- US marketing pause -----------------------------------------------------------------

// Since 2025-04-01 Meta does not deliver MARKETING templates to US numbers.
// Sources are secondary ([S] in FACTS.md b10: AWS End User Messaging's
// documentation and Twilio FAQ notes): the send is accepted and a failed
// status follows with 131049, the "healthy ecosystem engagement" code that
// is also used for the per-user marketing limit; some reports say sends just
// never get delivered instead. The sandbox simulates the 131049 variant,
// behind Config.USMarketingBlocked (runtime: settings us_marketing_blocked).
func usMarketingErr() *statusErr {
	return newStatusErr(131049, "This message was not delivered to maintain healthy ecosystem engagement.",
		"In order to maintain a healthy ecosystem engagement, the message failed to be delivered.")
}

// nonUSAreaCodes are the NANP area codes (+1) outside the United States:
// Canada and the Caribbean/Atlantic countries. US territories (Puerto Rico,
// Guam, USVI, …) count as the US.
var nonUSAreaCodes = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(
		// Canada
		"204 226 236 249 250 263 289 306 343 354 365 367 368 382 387 403 416 418 428 431 437 438 450 460 468 474 506 " +
			"514 519 548 579 581 584 587 600 604 613 639 647 672 683 709 742 753 778 780 782 807 819 825 867 873 879 902 905 " +
			// Other NANP countries
			"242 246 264 268 284 345 441 473 649 658 664 721 758 767 784 809 829 849 868 869 876") {
		m[c] = true
	}
	return m
}()

// isUSNumber reports whether digits (no '+') is a US number: +1, ten
// national digits, and an area code not in nonUSAreaCodes.
func isUSNumber(digits string) bool {
	return len(digits) == 11 && digits[0] == '1' && !nonUSAreaCodes[digits[1:4]]
}
