package twiliosim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Content API (Twilio serves it at https://content.twilio.com; the simulator
// on its single listener):
//
//	GET  /v1/Content                                  list, key "contents", Twilio's meta paging
//	POST /v1/Content                                  JSON {friendly_name, language, variables, types} → 201
//	GET  /v1/Content/{HX}                             one content
//	DELETE /v1/Content/{HX}                           204
//	GET  /v1/ContentAndApprovals                      list with approval_requests
//	GET  /v1/Content/{HX}/ApprovalRequests            {sid, account_sid, whatsapp{…}, url}
//	POST /v1/Content/{HX}/ApprovalRequests/whatsapp   JSON {name, category} → 201, pending, then verdict
//
// Shapes follow twilio-python's generated integration tests
// (tests/integration/content/v1/test_content.py, test_content_and_approvals.py,
// content/test_approval_fetch.py) and Twilio's 2024-08-12 changelog on the
// approval object (adds "type":"whatsapp" and "flows").

// Content defaults and limits.
const (
	defaultPageSize = 50
	maxPageSize     = 1000 // Twilio's OpenAPI spec for /v1/Content and /v1/ContentAndApprovals
	defaultVarValue = "sample"
)

// Approval statuses as Twilio shows them (lower case).
const (
	approvalApproved    = "approved"
	approvalPending     = "pending"
	approvalRejected    = "rejected"
	approvalPaused      = "paused"
	approvalDisabled    = "disabled"
	approvalUnsubmitted = "unsubmitted"
	approvalReceived    = "received"
)

var approvalStatuses = []string{approvalApproved, approvalPending, approvalRejected, approvalPaused, approvalDisabled, approvalUnsubmitted, approvalReceived}

var categories = []string{"UTILITY", "MARKETING", "AUTHENTICATION"}

// placeholderRE matches {{1}} and {{name}} placeholders.
var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// DefaultContents is the catalogue used when Config.Contents is nil.
func DefaultContents() []Content {
	return []Content{
		{Name: "order_update", Language: "en", Category: "UTILITY",
			Body:      "Your order {{1}} is on its way and will arrive {{2}}.",
			Variables: map[string]string{"1": "12345", "2": "tomorrow"}},
		{Name: "hello_world", Language: "en", Category: "UTILITY", Body: "Hello from wabridge!"},
		{Name: "spring_sale", Language: "en", Category: "MARKETING",
			Body:      "Hi {{1}}, our spring sale has started: {{2}} off everything this week!",
			Variables: map[string]string{"1": "there", "2": "20%"}},
		{Name: "appointment_reminder", Language: "en", Category: "UTILITY",
			Body:      "Reminder: your appointment is on {{1}}. Can you make it?",
			Actions:   []string{"Confirm", "Reschedule"},
			Variables: map[string]string{"1": "Monday 10:00"}},
		{Name: "invoice_ready", Language: "en", Category: "UTILITY",
			Body:      "Your invoice {{1}} is attached.",
			MediaURL:  "https://example.com/invoices/sample.pdf",
			Variables: map[string]string{"1": "INV-1"}},
	}
}

// content is one Content API resource with its WhatsApp approval.
type content struct {
	sid, name, language string
	variables           map[string]string
	types               map[string]json.RawMessage
	contentType         string // the primary type, e.g. twilio/text
	body                string // the text rendered for sends
	created, updated    time.Time

	approvalName     string // name in the approval request ("" when unsubmitted)
	category         string // approval category, upper case
	status           string // approval status
	rejectionReason  string
	reviewGeneration int // bumped by every approval request or status change
}

// contentSid derives a stable "HX…" sid from name and language; n > 0
// disambiguates duplicates.
func contentSid(name, language string, n int) string {
	in := "twiliosim content\x00" + name + "\x00" + language
	if n > 0 {
		in += "\x00" + strconv.Itoa(n)
	}
	h := sha256.Sum256([]byte(in))
	return "HX" + hex.EncodeToString(h[:16])
}

// loadContents replaces the catalogue with cs. Called by New and reset.
func (s *Server) loadContents(cs []Content) error {
	s.contents = nil
	s.contentBy = map[string]*content{}
	now := time.Now().UTC()
	for i, c := range cs {
		if c.Name == "" || c.Language == "" {
			return fmt.Errorf("twiliosim: Contents[%d]: Name and Language are required", i)
		}
		cat := strings.ToUpper(c.Category)
		if cat == "" {
			cat = "UTILITY"
		}
		if !slices.Contains(categories, cat) {
			return fmt.Errorf("twiliosim: Contents[%d]: unknown category %q", i, c.Category)
		}
		status := strings.ToLower(c.Status)
		if status == "" {
			status = approvalApproved
		}
		if !slices.Contains(approvalStatuses, status) {
			return fmt.Errorf("twiliosim: Contents[%d]: unknown status %q", i, c.Status)
		}
		vars := map[string]string{}
		for _, m := range placeholderRE.FindAllStringSubmatch(c.Body, -1) {
			vars[m[1]] = defaultVarValue
		}
		for k, v := range c.Variables {
			vars[k] = v
		}
		types := map[string]json.RawMessage{}
		var ctype string
		switch {
		case len(c.Actions) > 0:
			ctype = "twilio/quick-reply"
			type action struct {
				Title string `json:"title"`
				ID    string `json:"id"`
			}
			acts := make([]action, len(c.Actions))
			for j, a := range c.Actions {
				acts[j] = action{Title: a, ID: strings.ToLower(strings.ReplaceAll(a, " ", "_"))}
			}
			types[ctype] = mustJSON(map[string]any{"body": c.Body, "actions": acts})
		case c.MediaURL != "":
			ctype = "twilio/media"
			types[ctype] = mustJSON(map[string]any{"body": c.Body, "media": []string{c.MediaURL}})
		default:
			ctype = "twilio/text"
			types[ctype] = mustJSON(map[string]any{"body": c.Body})
		}
		ct := &content{
			name: c.Name, language: c.Language, variables: vars, types: types, contentType: ctype,
			body: c.Body, created: now, updated: now, category: cat, status: status,
		}
		if status != approvalUnsubmitted {
			ct.approvalName = c.Name
		}
		s.addContentLocked(ct)
	}
	return nil
}

// addContentLocked assigns ct its sid and appends it to the catalogue.
func (s *Server) addContentLocked(ct *content) {
	for n := 0; ; n++ {
		sid := contentSid(ct.name, ct.language, n)
		if s.contentBy[sid] == nil {
			ct.sid = sid
			break
		}
	}
	s.contents = append(s.contents, ct)
	s.contentBy[ct.sid] = ct
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("twiliosim: marshal: %v", err)) // static types: cannot happen
	}
	return b
}

// render substitutes the placeholders of c's body with vars, then c's
// default variables (as Twilio fills them from the content's "variables");
// it returns the names that had neither.
func (c *content) render(vars map[string]string) (string, []string) {
	var missing []string
	out := placeholderRE.ReplaceAllStringFunc(c.body, func(m string) string {
		k := placeholderRE.FindStringSubmatch(m)[1]
		if v, ok := vars[k]; ok {
			return v
		}
		if v, ok := c.variables[k]; ok {
			return v
		}
		missing = append(missing, k)
		return m
	})
	return out, missing
}

// --- JSON shapes -------------------------------------------------------------

type contentJSON struct {
	Sid          string                     `json:"sid"`
	AccountSid   string                     `json:"account_sid"`
	FriendlyName string                     `json:"friendly_name"`
	Language     string                     `json:"language"`
	Variables    map[string]string          `json:"variables"`
	Types        map[string]json.RawMessage `json:"types"`
	URL          string                     `json:"url,omitempty"`
	DateCreated  string                     `json:"date_created"`
	DateUpdated  string                     `json:"date_updated"`
	Links        map[string]string          `json:"links,omitempty"`
	// ApprovalRequests is set in /v1/ContentAndApprovals only.
	ApprovalRequests *approvalJSON `json:"approval_requests,omitempty"`
}

// approvalJSON is the WhatsApp approval object ("approval_requests" in
// ContentAndApprovals, "whatsapp" in ApprovalRequests).
type approvalJSON struct {
	Type                string  `json:"type,omitempty"`
	Name                string  `json:"name"`
	Category            string  `json:"category"`
	ContentType         string  `json:"content_type"`
	Status              string  `json:"status"`
	RejectionReason     string  `json:"rejection_reason"`
	AllowCategoryChange bool    `json:"allow_category_change"`
	Flows               *string `json:"flows,omitempty"`
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func (s *Server) contentJSONLocked(c *content, base string, withApproval bool) contentJSON {
	vars := c.variables
	if vars == nil {
		vars = map[string]string{}
	}
	j := contentJSON{
		Sid: c.sid, AccountSid: s.cfg.AccountSID, FriendlyName: c.name, Language: c.language,
		Variables: vars, Types: c.types, DateCreated: isoTime(c.created), DateUpdated: isoTime(c.updated),
	}
	if withApproval {
		a := c.approvalJSON()
		a.Type = ""
		j.ApprovalRequests = &a
	} else {
		j.URL = base + "/v1/Content/" + c.sid
		j.Links = map[string]string{
			"approval_create": j.URL + "/ApprovalRequests/whatsapp",
			"approval_fetch":  j.URL + "/ApprovalRequests",
		}
	}
	return j
}

func (c *content) approvalJSON() approvalJSON {
	if c.status == approvalUnsubmitted {
		return approvalJSON{Type: "whatsapp", Status: approvalUnsubmitted, AllowCategoryChange: true}
	}
	return approvalJSON{
		Type: "whatsapp", Name: c.approvalName, Category: c.category, ContentType: c.contentType,
		Status: c.status, RejectionReason: c.rejectionReason, AllowCategoryChange: true,
	}
}

// baseURL is scheme://host of the request, used in absolute URLs.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// --- handlers ----------------------------------------------------------------

func (s *Server) serveContentAPI(w http.ResponseWriter, r *http.Request) {
	if !s.requireAuth(w, r) {
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/"), "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "Content" && r.Method == http.MethodGet:
		s.listContents(w, r, false)
	case len(parts) == 1 && parts[0] == "Content" && r.Method == http.MethodPost:
		s.createContent(w, r)
	case len(parts) == 1 && parts[0] == "ContentAndApprovals" && r.Method == http.MethodGet:
		s.listContents(w, r, true)
	case len(parts) == 2 && parts[0] == "Content" && r.Method == http.MethodGet:
		s.fetchContent(w, r, parts[1])
	case len(parts) == 2 && parts[0] == "Content" && r.Method == http.MethodDelete:
		s.deleteContent(w, r, parts[1])
	case len(parts) == 3 && parts[0] == "Content" && parts[2] == "ApprovalRequests" && r.Method == http.MethodGet:
		s.fetchApproval(w, r, parts[1])
	case len(parts) == 4 && parts[0] == "Content" && parts[2] == "ApprovalRequests" && parts[3] == "whatsapp" && r.Method == http.MethodPost:
		s.createApproval(w, r, parts[1])
	default:
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
	}
}

// pageMeta is Twilio's paging object of the newer APIs.
type pageMeta struct {
	Page            int     `json:"page"`
	PageSize        int     `json:"page_size"`
	FirstPageURL    string  `json:"first_page_url"`
	PreviousPageURL *string `json:"previous_page_url"`
	URL             string  `json:"url"`
	NextPageURL     *string `json:"next_page_url"`
	Key             string  `json:"key"`
}

// pageToken encodes the offset of a page; Twilio's tokens are opaque too.
func pageToken(offset int) string {
	return "PT" + base64.RawURLEncoding.EncodeToString([]byte("o="+strconv.Itoa(offset)))
}

func parsePageToken(t string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(t, "PT"))
	if err != nil || !strings.HasPrefix(t, "PT") || !strings.HasPrefix(string(b), "o=") {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[2:]))
	return n, err == nil && n >= 0
}

// paging reads PageSize, Page and PageToken.
func paging(w http.ResponseWriter, q url.Values) (size, page, offset int, ok bool) {
	size = defaultPageSize
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("PageSize must be between 1 and %d", maxPageSize))
			return 0, 0, 0, false
		}
		size = n
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, codeBadRequest, "Page must be a non-negative integer")
			return 0, 0, 0, false
		}
		page = n
	}
	if v := q.Get("PageToken"); v != "" {
		o, good := parsePageToken(v)
		if !good {
			writeError(w, http.StatusBadRequest, codeBadRequest, "Invalid PageToken")
			return 0, 0, 0, false
		}
		offset = o
	} else {
		offset = 0
		page = 0
	}
	return size, page, offset, true
}

func (s *Server) listContents(w http.ResponseWriter, r *http.Request, withApproval bool) {
	size, page, offset, ok := paging(w, r.URL.Query())
	if !ok {
		return
	}
	path := "/v1/Content"
	if withApproval {
		path = "/v1/ContentAndApprovals"
	}
	base := baseURL(r)
	pageURL := func(p, off int) string {
		u := fmt.Sprintf("%s%s?PageSize=%d&Page=%d", base, path, size, p)
		if off > 0 {
			u += "&PageToken=" + pageToken(off)
		}
		return u
	}
	s.mu.Lock()
	s.stats.ContentListings++
	items := []contentJSON{}
	for i := offset; i < len(s.contents) && i < offset+size; i++ {
		items = append(items, s.contentJSONLocked(s.contents[i], base, withApproval))
	}
	more := offset+size < len(s.contents)
	s.mu.Unlock()

	meta := pageMeta{Page: page, PageSize: size, FirstPageURL: pageURL(0, 0), URL: pageURL(page, offset), Key: "contents"}
	if more {
		u := pageURL(page+1, offset+size)
		meta.NextPageURL = &u
	}
	if offset > 0 {
		u := pageURL(max(page-1, 0), max(offset-size, 0))
		meta.PreviousPageURL = &u
	}
	writeJSON(w, http.StatusOK, struct {
		Contents []contentJSON `json:"contents"`
		Meta     pageMeta      `json:"meta"`
	}{items, meta})
}

func (s *Server) fetchContent(w http.ResponseWriter, r *http.Request, sid string) {
	s.mu.Lock()
	c := s.contentBy[sid]
	var j contentJSON
	if c != nil {
		j = s.contentJSONLocked(c, baseURL(r), false)
	}
	s.mu.Unlock()
	if c == nil {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) deleteContent(w http.ResponseWriter, r *http.Request, sid string) {
	s.mu.Lock()
	c := s.contentBy[sid]
	if c != nil {
		delete(s.contentBy, sid)
		s.contents = slices.DeleteFunc(s.contents, func(x *content) bool { return x == c })
	}
	s.mu.Unlock()
	if c == nil {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// createContent handles POST /v1/Content with a JSON body.
func (s *Server) createContent(w http.ResponseWriter, r *http.Request) {
	var in struct {
		FriendlyName string                     `json:"friendly_name"`
		Language     string                     `json:"language"`
		Variables    map[string]string          `json:"variables"`
		Types        map[string]json.RawMessage `json:"types"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "Invalid JSON body: "+err.Error())
		return
	}
	if in.Language == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "language is required")
		return
	}
	if len(in.Types) == 0 {
		writeError(w, http.StatusBadRequest, codeBadRequest, "types must contain at least one content type")
		return
	}
	ctype, body := primaryType(in.Types)
	if ctype == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "types must contain objects")
		return
	}
	now := time.Now().UTC()
	c := &content{
		name: in.FriendlyName, language: in.Language, variables: in.Variables, types: in.Types,
		contentType: ctype, body: body, created: now, updated: now,
		category: "UTILITY", status: approvalUnsubmitted,
	}
	s.mu.Lock()
	s.addContentLocked(c)
	j := s.contentJSONLocked(c, baseURL(r), false)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, j)
}

// primaryType picks the content type used for sends and approvals: the
// richest known type, else the first in name order; and its body text.
func primaryType(types map[string]json.RawMessage) (string, string) {
	keys := make([]string, 0, len(types))
	for k := range types {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rank := func(k string) int {
		if k == "twilio/text" {
			return 1 // plain text is the fallback of richer types
		}
		return 0
	}
	slices.SortStableFunc(keys, func(a, b string) int { return rank(a) - rank(b) })
	for _, k := range keys {
		var obj struct {
			Body  string `json:"body"`
			Title string `json:"title"`
		}
		if json.Unmarshal(types[k], &obj) != nil {
			continue
		}
		if obj.Body == "" {
			obj.Body = obj.Title
		}
		return k, obj.Body
	}
	return "", ""
}

func (s *Server) fetchApproval(w http.ResponseWriter, r *http.Request, sid string) {
	s.mu.Lock()
	c := s.contentBy[sid]
	var a approvalJSON
	if c != nil {
		a = c.approvalJSON()
	}
	s.mu.Unlock()
	if c == nil {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sid": sid, "account_sid": s.cfg.AccountSID, "whatsapp": a,
		"url": baseURL(r) + "/v1/Content/" + sid + "/ApprovalRequests",
	})
}

// createApproval submits content for WhatsApp approval: pending now, after
// ContentReviewDelay approved (rejected when the name contains "reject").
func (s *Server) createApproval(w http.ResponseWriter, r *http.Request, sid string) {
	var in struct {
		Name     string `json:"name"`
		Category string `json:"category"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "Invalid JSON body: "+err.Error())
		return
	}
	if in.Name == "" || strings.ToLower(in.Name) != in.Name || strings.ContainsAny(in.Name, " -") {
		writeError(w, http.StatusBadRequest, codeBadRequest, "name is required and must be lower case letters, digits and underscores")
		return
	}
	cat := strings.ToUpper(in.Category)
	if !slices.Contains(categories, cat) {
		writeError(w, http.StatusBadRequest, codeBadRequest, "category must be one of UTILITY, MARKETING, AUTHENTICATION")
		return
	}
	s.mu.Lock()
	c := s.contentBy[sid]
	if c == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
		return
	}
	c.approvalName, c.category, c.status, c.rejectionReason = in.Name, cat, approvalPending, ""
	c.updated = time.Now().UTC()
	c.reviewGeneration++
	gen, epoch, delay := c.reviewGeneration, s.epoch, s.cfg.ContentReviewDelay
	a := c.approvalJSON()
	s.mu.Unlock()

	s.goAsync(func() {
		if !s.sleep(delay) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.epoch != epoch || c.reviewGeneration != gen {
			return
		}
		if strings.Contains(c.approvalName, "reject") {
			c.status = approvalRejected
			c.rejectionReason = "INVALID_FORMAT. The template was rejected by the simulator because its name contains \"reject\"."
		} else {
			c.status = approvalApproved
		}
		c.updated = time.Now().UTC()
	})
	a.Type = ""
	writeJSON(w, http.StatusCreated, a)
}

// findContentLocked resolves a content by sid, or by name and language.
func (s *Server) findContentLocked(sid, name, language string) *content {
	if sid != "" {
		return s.contentBy[sid]
	}
	for _, c := range s.contents {
		if c.name == name && (language == "" || c.language == language) {
			return c
		}
	}
	return nil
}
