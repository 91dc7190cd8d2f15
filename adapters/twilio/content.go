package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/templates"
)

// Content templates (Twilio's Content API, https://content.twilio.com/v1):
// GET /v1/ContentAndApprovals lists every Content of the account with its
// WhatsApp approval. A page is {"contents":[…],"meta":{"page","page_size",
// "first_page_url","previous_page_url","next_page_url","url","key":
// "contents"}} (twilio-python tests/integration/content/v1/
// test_content_and_approvals.py; twilio/base/page.py reads the list under
// meta.key and follows meta.next_page_url). A content is {"sid":"HX…",
// "friendly_name","language","variables":{"1":"sample",…},"types":
// {"twilio/text":{…},…},"approval_requests":{"name","category",
// "content_type","status","rejection_reason",…}}.
//
// Each content becomes one templates.Template by building the components
// Meta would list for it and calling templates.Parse (mapContent).

// Paging of the listing.
const (
	contentPageSize = 100
	maxContentPages = 100
)

// refreshInterval is how often a Send that names a template the index does
// not hold may list the catalogue again.
const refreshInterval = 30 * time.Second

// contentRef is what Send needs of one Content: its SID and where each
// parameter of the template model goes in ContentVariables.
type contentRef struct {
	sid string
	// body[i] is the Twilio variable of positional body parameter i
	// ({{i+1}} in the model); nil for named templates (same names).
	body []string
	// header is the variable of a TEXT header's placeholder.
	header string
	// mediaVar and mediaPrefix: a media header whose URL ends in a
	// variable; a HeaderMedia link starting with mediaPrefix fills it.
	mediaVar, mediaPrefix string
	// buttons maps a button index to the variable of its value.
	buttons map[int]string
}

// variables builds ContentVariables for one use of the template: a JSON
// object of variable → value; "" when there are none. Positional body
// values go to the body's variables in order, named ones by name, the
// header text to the header's variable, button values (URL suffix,
// coupon, OTP code) to their buttons' variables. A header media link is
// used only when the content's media URL ends in a variable and the link
// starts with the rest of it; Twilio otherwise sends the content's own media.
func (r *contentRef) variables(t *bridge.Template) (string, error) {
	vars := map[string]string{}
	for i, v := range t.Params {
		key := strconv.Itoa(i + 1)
		if i < len(r.body) {
			key = r.body[i]
		}
		vars[key] = v
	}
	for k, v := range t.NamedParams {
		vars[k] = v
	}
	if t.HeaderText != "" && r.header != "" {
		vars[r.header] = t.HeaderText
	}
	if hm := t.HeaderMedia; hm != nil && r.mediaVar != "" && hm.Link != "" && strings.HasPrefix(hm.Link, r.mediaPrefix) {
		vars[r.mediaVar] = strings.TrimPrefix(hm.Link, r.mediaPrefix)
	}
	for _, b := range t.Buttons {
		if key, ok := r.buttons[b.Index]; ok && b.Payload != "" {
			vars[key] = b.Payload
		}
	}
	if len(vars) == 0 {
		return "", nil
	}
	data, err := json.Marshal(vars)
	if err != nil {
		return "", invalid("template parameters do not encode as JSON")
	}
	return string(data), nil
}

// content returns the Content for a template name and language. On a miss
// it lists the catalogue again (at most once per refreshInterval) and
// looks once more; still missing is ActionTemplateInvalid.
// Sends that miss while a listing runs wait for it.
func (c *Client) content(ctx context.Context, name, language string) (contentRef, error) {
	key := name + "/" + language
	c.mu.Lock()
	ref, ok := c.index[key]
	if ok {
		c.mu.Unlock()
		return ref, nil
	}
	wait, start := c.listing, false
	if wait == nil && (c.listedAt.IsZero() || c.now().Sub(c.listedAt) >= refreshInterval) {
		wait, start = make(chan struct{}), true
		c.listing, c.listedAt = wait, c.now()
	}
	c.mu.Unlock()
	switch {
	case start:
		if _, err := c.Templates(ctx); err != nil {
			c.log.Warn("twilio content listing for a template miss failed", "template", key, "err", err)
		}
		c.mu.Lock()
		c.listing = nil
		c.mu.Unlock()
		close(wait)
	case wait != nil:
		select {
		case <-wait:
		case <-ctx.Done():
			return contentRef{}, c.transportError(ctx.Err())
		}
	}
	if wait != nil {
		c.mu.Lock()
		ref, ok = c.index[key]
		c.mu.Unlock()
		if ok {
			return ref, nil
		}
	}
	return contentRef{}, &bridge.SendError{
		Action: bridge.ActionTemplateInvalid,
		Reason: bridge.ReasonTemplateError,
		Title:  fmt.Sprintf("no approved Content template %q in language %q in the Twilio account", name, language),
	}
}

// contentJSON is one content of the listing.
type contentJSON struct {
	Sid          string                     `json:"sid"`
	FriendlyName string                     `json:"friendly_name"`
	Language     string                     `json:"language"`
	Variables    map[string]any             `json:"variables"`
	Types        map[string]json.RawMessage `json:"types"`
	Approval     json.RawMessage            `json:"approval_requests"`
}

// approvalJSON is a content's WhatsApp approval: flat in ContentAndApprovals,
// under "whatsapp" in /Content/{sid}/ApprovalRequests; both are read.
type approvalJSON struct {
	Name            string        `json:"name"`
	Category        string        `json:"category"`
	ContentType     string        `json:"content_type"`
	Status          string        `json:"status"`
	RejectionReason string        `json:"rejection_reason"`
	WhatsApp        *approvalJSON `json:"whatsapp"`
}

// Templates lists the account's Content templates in the model of
// internal/templates (for catalog.Source) and rebuilds the index Send uses
// to find a template's ContentSid. It follows meta.next_page_url only while
// it stays on the Content URL's scheme and host, for at most
// maxContentPages pages. A content that cannot be mapped is left out and
// logged. Failures are *bridge.SendError (or an error naming a paging
// problem); the index is then kept as it was.
func (c *Client) Templates(ctx context.Context) ([]*templates.Template, error) {
	raw, err := c.listContents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*templates.Template, 0, len(raw))
	index := make(map[string]contentRef, len(raw))
	for _, r := range raw {
		var cj contentJSON
		if err := json.Unmarshal(r, &cj); err != nil {
			c.log.Warn("twilio content left out of the catalogue", "err", err)
			continue
		}
		t, ref, err := mapContent(cj)
		if err != nil {
			c.log.Warn("twilio content left out of the catalogue", "sid", cj.Sid, "name", cj.FriendlyName, "language", cj.Language, "err", err)
			continue
		}
		if _, dup := index[t.Key()]; dup {
			c.log.Warn("twilio content has the name and language of another; the first is used", "sid", cj.Sid, "template", t.Key())
			continue
		}
		index[t.Key()] = ref
		out = append(out, t)
	}
	c.mu.Lock()
	c.index = index
	c.mu.Unlock()
	return out, nil
}

// listContents fetches every page of ContentAndApprovals.
func (c *Client) listContents(ctx context.Context) ([]json.RawMessage, error) {
	next := c.contentBase + "/v1/ContentAndApprovals?PageSize=" + strconv.Itoa(contentPageSize)
	var all []json.RawMessage
	seen := map[string]bool{}
	for page := 0; next != ""; page++ {
		if page >= maxContentPages {
			return nil, fmt.Errorf("twilio: content listing exceeded %d pages", maxContentPages)
		}
		seen[next] = true
		data, err := c.call(ctx, "list_templates", http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		items, nextURL, err := parseContentPage(data)
		if err != nil {
			return nil, &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError,
				Title: "unreadable content listing", Err: err}
		}
		all = append(all, items...)
		if nextURL == "" {
			break
		}
		u, err := url.Parse(nextURL)
		if err != nil || !u.IsAbs() {
			u = nil
			if base, e := url.Parse(next); e == nil && err == nil {
				u, _ = base.Parse(nextURL)
			}
		}
		if u == nil || u.Scheme != c.contentURL.Scheme || !strings.EqualFold(u.Host, c.contentURL.Host) {
			host := ""
			if u != nil {
				host = u.Host
			}
			return nil, fmt.Errorf("twilio: content listing's next page is on %q, not on the Content URL's host %q", host, c.contentURL.Host)
		}
		next = u.String()
		if seen[next] {
			break
		}
	}
	return all, nil
}

// parseContentPage returns the list under meta.key ("contents" when
// absent) and meta.next_page_url.
func parseContentPage(data []byte) ([]json.RawMessage, string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, "", err
	}
	var meta struct {
		Key         string `json:"key"`
		NextPageURL string `json:"next_page_url"`
	}
	if m, ok := obj["meta"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, "", fmt.Errorf("meta: %w", err)
		}
	}
	key := meta.Key
	if key == "" {
		key = "contents"
	}
	var items []json.RawMessage
	if list, ok := obj[key]; ok && string(list) != "null" {
		if err := json.Unmarshal(list, &items); err != nil {
			return nil, "", fmt.Errorf("%s: %w", key, err)
		}
	}
	return items, meta.NextPageURL, nil
}

// Content types wabridge maps, in the order one is chosen when a content
// has several and its approval does not name one.
var typePriority = []string{
	"whatsapp/authentication", "whatsapp/card", "twilio/card", "twilio/call-to-action",
	"twilio/quick-reply", "twilio/media", "twilio/text",
}

// approvalStatus maps the WhatsApp approval status to the model's.
var approvalStatus = map[string]string{
	"approved":    "APPROVED",
	"pending":     "PENDING",
	"received":    "PENDING",
	"rejected":    "REJECTED",
	"paused":      "PAUSED",
	"disabled":    "DISABLED",
	"unsubmitted": "UNSUBMITTED",
	"none":        "UNSUBMITTED",
	"":            "UNSUBMITTED",
}

// mapContent turns one content into a template of the model:
//
//   - ID the HX sid; Name the friendly_name (the approval's WhatsApp name
//     when it has none); Language as listed; Status from the WhatsApp
//     approval (approved → APPROVED, pending and received → PENDING,
//     rejected, paused, disabled; unsubmitted or none → UNSUBMITTED);
//     Category the approval's, upper case (AUTHENTICATION for
//     whatsapp/authentication when none).
//   - ParameterFormat POSITIONAL when every placeholder is a number, else
//     NAMED.
//   - Components by type: twilio/text body → BODY; twilio/media → HEADER
//     (IMAGE, VIDEO or DOCUMENT by the media URL's extension, a variable
//     resolved with its sample) + BODY; twilio/quick-reply → BODY + BUTTONS
//     QUICK_REPLY; twilio/call-to-action → BODY + BUTTONS (URL,
//     PHONE_NUMBER, COPY_CODE, others by their type); twilio/card → HEADER
//     (media) + BODY (title) + FOOTER (subtitle) + BUTTONS; whatsapp/card →
//     HEADER (header_text or media) + BODY + FOOTER + BUTTONS;
//     whatsapp/authentication → BODY "{{1}} is your verification code."
//     (+ the security recommendation), FOOTER with the expiry, BUTTONS OTP
//     COPY_CODE. Other types → BODY (their body, if any) and a component
//     named after the type, which templates.Parse keeps in Extra so the
//     template is never matched.
//
// Meta numbers a component's positional placeholders from {{1}}; Twilio
// numbers them across the content. A component whose numbers are not
// exactly 1…n is renumbered in numeric order and the contentRef remembers
// which Twilio variable each model parameter fills.
func mapContent(cj contentJSON) (*templates.Template, contentRef, error) {
	ref := contentRef{sid: cj.Sid, buttons: map[int]string{}}
	if !validSID(cj.Sid, "HX") {
		return nil, ref, fmt.Errorf("content sid %q is not an HX… SID", cj.Sid)
	}
	ap := readApproval(cj.Approval)
	name := cj.FriendlyName
	if name == "" {
		name = ap.Name
	}
	typ := chooseType(cj.Types, ap.ContentType)
	if typ == "" {
		return nil, ref, errors.New("content has no types")
	}
	var body map[string]any
	if err := json.Unmarshal(cj.Types[typ], &body); err != nil || body == nil {
		return nil, ref, fmt.Errorf("type %s: unreadable: %v", typ, err)
	}
	samples := map[string]string{}
	for k, v := range cj.Variables {
		samples[k] = fmt.Sprint(v)
	}
	b := &builder{named: !allNumeric(cj.Types[typ]), samples: samples, ref: &ref}

	category := strings.ToUpper(strings.TrimSpace(ap.Category))
	switch typ {
	case "twilio/text":
		b.body(str(body, "body"))
	case "twilio/media":
		b.mediaHeader(strs(body, "media"))
		b.body(str(body, "body"))
	case "twilio/quick-reply", "twilio/call-to-action":
		b.body(str(body, "body"))
		b.buttons(body["actions"])
	case "twilio/card":
		b.mediaHeader(strs(body, "media"))
		b.body(str(body, "title"))
		b.footer(str(body, "subtitle"))
		b.buttons(body["actions"])
	case "whatsapp/card":
		if h := str(body, "header_text"); h != "" {
			b.textHeader(h)
		} else {
			b.mediaHeader(strs(body, "media"))
		}
		b.body(str(body, "body"))
		b.footer(str(body, "footer"))
		b.buttons(body["actions"])
	case "whatsapp/authentication":
		b.named = false
		text := "{{1}} is your verification code."
		if v, _ := body["add_security_recommendation"].(bool); v {
			text += " For your security, do not share this code."
		}
		b.body(text)
		if n, ok := body["code_expiration_minutes"].(float64); ok && n > 0 {
			b.footer(fmt.Sprintf("This code expires in %d minutes.", int(n)))
		}
		b.authButtons(body["actions"])
		if category == "" {
			category = templates.Authentication
		}
	default:
		b.body(str(body, "body"))
		b.comps = append(b.comps, map[string]any{"type": strings.ToUpper(typ)})
	}
	if !b.hasBody {
		b.comps = append(b.comps, map[string]any{"type": "BODY", "text": ""})
	}
	if len(b.btns) > 0 {
		b.comps = append(b.comps, map[string]any{"type": "BUTTONS", "buttons": b.btns})
	}
	comps, err := json.Marshal(b.comps)
	if err != nil {
		return nil, ref, err
	}
	status, ok := approvalStatus[strings.ToLower(strings.TrimSpace(ap.Status))]
	if !ok {
		status = strings.ToUpper(ap.Status)
	}
	format := templates.Positional
	if b.named {
		format = templates.Named
	}
	t, err := templates.Parse(cj.Sid, name, cj.Language, status, category, format, comps)
	if err != nil {
		return nil, ref, err
	}
	return t, ref, nil
}

// readApproval reads approval_requests in either shape; a missing or
// unreadable one is "unsubmitted".
func readApproval(raw json.RawMessage) approvalJSON {
	var ap approvalJSON
	if len(raw) == 0 || json.Unmarshal(raw, &ap) != nil {
		var list []approvalJSON // tolerate a list; the first entry counts
		if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
			ap = list[0]
		}
	}
	if ap.WhatsApp != nil {
		return *ap.WhatsApp
	}
	return ap
}

// chooseType picks the content type to map: the one the approval names,
// else the first of typePriority present, else the first by name.
func chooseType(types map[string]json.RawMessage, approved string) string {
	if _, ok := types[approved]; ok && approved != "" {
		return approved
	}
	for _, t := range typePriority {
		if _, ok := types[t]; ok {
			return t
		}
	}
	names := make([]string, 0, len(types))
	for t := range types {
		names = append(names, t)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// placeholderRE matches a placeholder as internal/templates reads it.
var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// allNumeric reports whether every placeholder anywhere in the type's JSON
// is a number (true when there are none).
func allNumeric(raw json.RawMessage) bool {
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case string:
			for _, m := range placeholderRE.FindAllStringSubmatch(x, -1) {
				if _, err := strconv.Atoi(m[1]); err != nil {
					return false
				}
			}
		case []any:
			for _, e := range x {
				if !walk(e) {
					return false
				}
			}
		case map[string]any:
			for _, e := range x {
				if !walk(e) {
					return false
				}
			}
		}
		return true
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return true
	}
	return walk(v)
}

// builder collects Meta-shaped components and the variable mapping.
type builder struct {
	named   bool
	samples map[string]string
	ref     *contentRef
	comps   []map[string]any
	btns    []map[string]any
	hasBody bool
}

// renumber returns text with its positional placeholders numbered 1…n
// and, for each new number, the Twilio variable it stands for. Named
// templates are left as they are (keys nil).
func (b *builder) renumber(text string) (string, []string) {
	if b.named {
		return text, nil
	}
	var nums []int
	for _, m := range placeholderRE.FindAllStringSubmatch(text, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			continue
		}
		if !slices.Contains(nums, n) {
			nums = append(nums, n)
		}
	}
	sorted := slices.Clone(nums)
	slices.Sort(sorted)
	keys := make([]string, len(sorted))
	exact := true
	for i, n := range sorted {
		keys[i] = strconv.Itoa(n)
		if n != i+1 {
			exact = false
		}
	}
	if exact {
		return text, keys
	}
	out := placeholderRE.ReplaceAllStringFunc(text, func(m string) string {
		n, err := strconv.Atoi(placeholderRE.FindStringSubmatch(m)[1])
		if err != nil {
			return m
		}
		return "{{" + strconv.Itoa(slices.Index(sorted, n)+1) + "}}"
	})
	return out, keys
}

// firstVar is the (Twilio) name of the first placeholder of s, or "".
func firstVar(s string) string {
	if m := placeholderRE.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

func (b *builder) body(text string) {
	t, keys := b.renumber(text)
	b.ref.body = keys
	b.comps = append(b.comps, map[string]any{"type": "BODY", "text": t})
	b.hasBody = true
}

func (b *builder) footer(text string) {
	if text != "" {
		b.comps = append(b.comps, map[string]any{"type": "FOOTER", "text": text})
	}
}

func (b *builder) textHeader(text string) {
	t, _ := b.renumber(text)
	b.ref.header = firstVar(text)
	b.comps = append(b.comps, map[string]any{"type": "HEADER", "format": templates.FormatText, "text": t})
}

// mediaHeader adds a media header for the first URL (none when empty).
func (b *builder) mediaHeader(urls []string) {
	if len(urls) == 0 || urls[0] == "" {
		return
	}
	link := urls[0]
	if loc := placeholderRE.FindAllStringIndex(link, -1); len(loc) > 0 {
		last := loc[len(loc)-1]
		if last[1] == len(link) && len(loc) == 1 {
			b.ref.mediaVar = firstVar(link)
			b.ref.mediaPrefix = link[:last[0]]
		}
	}
	resolved := placeholderRE.ReplaceAllStringFunc(link, func(m string) string {
		return b.samples[placeholderRE.FindStringSubmatch(m)[1]]
	})
	b.comps = append(b.comps, map[string]any{
		"type":    "HEADER",
		"format":  mediaFormat(resolved),
		"example": map[string]any{"header_handle": []string{link}},
	})
}

// mediaFormat is IMAGE, VIDEO or DOCUMENT by a URL's file extension.
func mediaFormat(link string) string {
	p := link
	if u, err := url.Parse(link); err == nil {
		p = u.Path
	}
	switch strings.ToLower(strings.TrimPrefix(path.Ext(p), ".")) {
	case "jpg", "jpeg", "png", "gif", "webp":
		return templates.FormatImage
	case "mp4", "3gp", "3gpp", "mov":
		return templates.FormatVideo
	}
	return templates.FormatDocument
}

// buttons maps call-to-action, quick-reply and card actions.
func (b *builder) buttons(v any) {
	actions, _ := v.([]any)
	for _, a := range actions {
		act, _ := a.(map[string]any)
		if act == nil {
			continue
		}
		idx := len(b.btns)
		typ := strings.ToUpper(str(act, "type"))
		if typ == "" {
			typ = templates.ButtonQuickReply // twilio/quick-reply actions have no type
		}
		btn := map[string]any{"type": typ, "text": str(act, "title")}
		switch typ {
		case templates.ButtonURL:
			u := str(act, "url")
			if key := firstVar(u); key != "" {
				b.ref.buttons[idx] = key
				u = placeholderRE.ReplaceAllString(u, "{{1}}")
			}
			btn["url"] = u
		case templates.ButtonPhoneNumber:
			btn["phone_number"] = str(act, "phone")
		case templates.ButtonCopyCode:
			code := str(act, "code")
			if key := firstVar(code); key != "" {
				b.ref.buttons[idx] = key
			}
			btn["example"] = code
		}
		b.btns = append(b.btns, btn)
	}
}

// authButtons maps whatsapp/authentication actions: a COPY_CODE action is
// Meta's OTP button, whose code is the body's {{1}}.
func (b *builder) authButtons(v any) {
	actions, _ := v.([]any)
	for _, a := range actions {
		act, _ := a.(map[string]any)
		if act == nil {
			continue
		}
		text := str(act, "copy_code_text")
		if text == "" {
			text = str(act, "copyCodeText")
		}
		otp := strings.ToUpper(str(act, "type"))
		if otp == "" {
			otp = templates.ButtonCopyCode
		}
		b.ref.buttons[len(b.btns)] = "1"
		b.btns = append(b.btns, map[string]any{"type": templates.ButtonOTP, "otp_type": otp, "text": text})
	}
}

// str is m[k] when it is a string.
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// strs is m[k] as a list of strings (a single string counts as one).
func strs(m map[string]any, k string) []string {
	switch v := m[k].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
