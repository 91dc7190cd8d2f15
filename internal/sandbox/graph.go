package sandbox

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// graphError is an error answered in Meta's Graph shape:
// {"error":{"message","type","code","error_subcode","error_data":{"messaging_product","details"},"fbtrace_id"}}.
type graphError struct {
	status  int    // HTTP status, default 400
	typ     string // default "OAuthException"
	code    int
	subcode int
	message string
	details string
	// userTitle and userMsg fill error_user_title / error_user_msg (and
	// is_transient false), as Graph answers template management errors.
	userTitle string
	userMsg   string
}

func (e *graphError) write(w http.ResponseWriter) {
	status, typ := e.status, e.typ
	if status == 0 {
		status = http.StatusBadRequest
	}
	if typ == "" {
		typ = "OAuthException"
	}
	body := map[string]any{"message": e.message, "type": typ, "code": e.code, "fbtrace_id": newTraceID()}
	if e.subcode != 0 {
		body["error_subcode"] = e.subcode
	}
	if e.details != "" {
		body["error_data"] = map[string]string{"messaging_product": "whatsapp", "details": e.details}
	}
	if e.userTitle != "" || e.userMsg != "" {
		body["is_transient"] = false
		body["error_user_title"] = e.userTitle
		body["error_user_msg"] = e.userMsg
	}
	if e.code == 190 {
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+e.message+`"`)
	}
	writeJSON(w, status, map[string]any{"error": body})
}

// errInvalidParam is Meta's generic (#100) validation error.
func errInvalidParam(details string) *graphError {
	return &graphError{code: 100, message: "(#100) Invalid parameter", details: details}
}

// errRequired is (#100) for a missing parameter.
func errRequired(param string) *graphError {
	return &graphError{code: 100, message: fmt.Sprintf("(#100) The parameter %s is required.", param)}
}

// errParamValue is (#131009), Meta's answer for a value out of range.
func errParamValue(details string) *graphError {
	return &graphError{code: 131009, message: "(#131009) Parameter value is not valid", details: details}
}

// errParamCount is (#132000).
func errParamCount(details string) *graphError {
	return &graphError{code: 132000, message: "(#132000) Number of parameters does not match the expected number of params", details: details}
}

// errUnknownObject is what Graph answers for an id it cannot resolve.
func errUnknownObject(method, id string) *graphError {
	return &graphError{
		typ: "GraphMethodException", code: 100, subcode: 33,
		message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api", strings.ToLower(method), id),
	}
}

var versionRE = regexp.MustCompile(`^v\d+(\.\d+)?$`)

// serveGraph dispatches /{ver?}/{id}[/{edge}] after checking the bearer token.
//
// Every Graph call waits for the latency knob first, as Meta's own latency.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	if !s.waitLatency(r.Context().Done()) {
		return
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) > 0 && versionRE.MatchString(segs[0]) {
		segs = segs[1:]
	}
	if e := s.checkToken(r); e != nil {
		e.write(w)
		return
	}
	if len(segs) == 0 || segs[0] == "" || len(segs) > 2 {
		(&graphError{code: 2500, message: "Unknown path components: " + r.URL.Path}).write(w)
		return
	}
	id := segs[0]
	edge := ""
	if len(segs) == 2 {
		edge = segs[1]
	}
	var media *mediaObj
	if edge == "" && (r.Method == http.MethodGet || r.Method == http.MethodDelete) {
		media = s.mediaForRequest(r, id)
	}
	switch {
	case edge == "messages" && r.Method == http.MethodPost && s.byID[id] != nil:
		s.handleMessages(w, r, s.byID[id])
	case edge == "media" && r.Method == http.MethodPost && s.byID[id] != nil:
		s.handleMediaUpload(w, r, s.byID[id])
	case edge == "message_templates" && r.Method == http.MethodGet && id == s.cfg.WABAID:
		s.handleTemplateList(w, r)
	case edge == "message_templates" && r.Method == http.MethodPost && id == s.cfg.WABAID:
		s.handleTemplateCreate(w, r)
	case edge == "phone_numbers" && r.Method == http.MethodGet && id == s.cfg.WABAID:
		s.handlePhoneNumberList(w, r)
	case edge == "" && r.Method == http.MethodGet && s.byID[id] != nil:
		s.handlePhoneNumberGet(w, r, s.byID[id])
	case edge == "" && r.Method == http.MethodGet && id == s.cfg.WABAID:
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "name": "Sandbox WABA", "currency": "USD", "timezone_id": "1", "message_template_namespace": "sandbox_namespace"})
	case media != nil && r.Method == http.MethodGet:
		s.handleMediaGet(w, r, media)
	case media != nil && r.Method == http.MethodDelete:
		s.handleMediaDelete(w, media)
	default:
		errUnknownObject(r.Method, id).write(w)
	}
}

// checkToken accepts "Authorization: Bearer <AccessToken>" or the
// access_token query parameter; anything else is (#190), HTTP 401.
func (s *Server) checkToken(r *http.Request) *graphError {
	tok := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if ok && (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "OAuth")) {
			tok = strings.TrimSpace(rest)
		}
	} else {
		tok = r.URL.Query().Get("access_token")
	}
	if tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AccessToken)) == 1 {
		return nil
	}
	msg := "Invalid OAuth access token - Cannot parse access token"
	if tok == "" {
		msg = "An active access token must be used to query information about the current user."
	}
	return &graphError{status: http.StatusUnauthorized, code: 190, message: msg}
}

// readBody reads the capped request body and reports whether it exceeded maxBodyBytes.
func readBody(r *http.Request) ([]byte, bool, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, true, err
	}
	return b, false, err
}

// sendRequest is the body of POST /{phone_number_id}/messages (send or mark-read).
type sendRequest struct {
	MessagingProduct string       `json:"messaging_product"`
	RecipientType    string       `json:"recipient_type"`
	To               string       `json:"to"`
	Type             string       `json:"type"`
	BizOpaque        string       `json:"biz_opaque_callback_data"`
	Status           string       `json:"status"`
	MessageID        string       `json:"message_id"`
	Context          *contextReq  `json:"context"`
	Text             *textReq     `json:"text"`
	Template         *templateReq `json:"template"`
}

// sendEnvelope decodes a sendRequest and tells whether "status" (the
// mark-as-read form) was present at all.
type sendEnvelope struct {
	sendRequest
	Status json.RawMessage `json:"status"` // shadows sendRequest.Status
}

type contextReq struct {
	MessageID string `json:"message_id"`
}

type textReq struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

const (
	maxTextBody     = 4096
	maxCallbackData = 512
)

// handleMessages serves POST /{phone_number_id}/messages: a send, or the
// mark-as-read form {"messaging_product","status":"read","message_id"}.
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request, num *Number) {
	raw, tooLarge, err := readBody(r)
	s.handleMessagesBody(w, num, raw, tooLarge, err)
}

// handleMessagesBody is handleMessages once the body is read (raw; tooLarge
// when it exceeded maxBodyBytes; err when it could not be read): the part
// the net/http handler and the fasthttp fast path (fastgraph.go) share.
func (s *Server) handleMessagesBody(w http.ResponseWriter, num *Number, raw []byte, tooLarge bool, err error) {
	if tooLarge {
		(&graphError{status: http.StatusRequestEntityTooLarge, code: 100, message: "(#100) Request body too large", details: fmt.Sprintf("request bodies are limited to %d bytes", maxBodyBytes)}).write(w)
		return
	}
	if err != nil {
		errInvalidParam("could not read the request body").write(w)
		return
	}
	// One decoding of the body; the object of a media-like type is looked
	// up again by name only for those types (validateSend).
	var env sendEnvelope
	if !decodePlainSend(raw, &env) {
		env = sendEnvelope{}
		err = json.Unmarshal(raw, &env)
	}
	if err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syn) || (errors.As(err, &typ) && typ.Field == "") {
			errInvalidParam("the request body is not a JSON object").write(w)
		} else {
			errInvalidParam("invalid request body: " + err.Error()).write(w)
		}
		return
	}
	req := env.sendRequest
	if env.Status != nil {
		if err := json.Unmarshal(env.Status, &req.Status); err != nil {
			errInvalidParam("invalid request body: " + err.Error()).write(w)
			return
		}
	}
	if req.MessagingProduct == "" {
		s.reject(w, errRequired("messaging_product"))
		return
	}
	if req.MessagingProduct != "whatsapp" {
		s.reject(w, &graphError{code: 100, message: fmt.Sprintf("(#100) Param messaging_product must be one of {WHATSAPP} - got %q.", req.MessagingProduct)})
		return
	}
	if env.Status != nil {
		s.markRead(w, num, &req)
		return
	}
	info, e := s.validateSend(&req, raw)
	if e != nil {
		s.reject(w, e)
		return
	}
	if e := s.injectedError(); e != nil {
		s.mu.Lock()
		s.stats.InjectedErrors++
		s.mu.Unlock()
		s.reject(w, e)
		return
	}
	s.accept(w, num, &req, raw, info)
}

func (s *Server) reject(w http.ResponseWriter, e *graphError) {
	s.mu.Lock()
	s.stats.RejectedSends++
	s.mu.Unlock()
	e.write(w)
}

// markRead marks an inbound message of this number as read.
func (s *Server) markRead(w http.ResponseWriter, num *Number, req *sendRequest) {
	if req.Status != "read" {
		errInvalidParam(fmt.Sprintf("Param status must be one of {READ} - got %q.", req.Status)).write(w)
		return
	}
	if req.MessageID == "" {
		errRequired("message_id").write(w)
		return
	}
	s.mu.Lock()
	rec := s.byWamid[req.MessageID]
	ok := rec != nil && rec.Direction == "inbound" && rec.PhoneNumberID == num.PhoneNumberID
	if ok {
		rec.ReadMarked = true
		s.stats.MarkRead++
	}
	s.mu.Unlock()
	if !ok {
		errInvalidParam(fmt.Sprintf("Invalid message_id: no incoming message %s for phone number %s", req.MessageID, num.PhoneNumberID)).write(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

func (s *Server) validateTemplate(t *templateReq) (*templateUse, *graphError) {
	if t == nil {
		return nil, errRequired("template")
	}
	if t.Name == "" {
		return nil, errRequired("template['name']")
	}
	if t.Language.Code == "" {
		return nil, errRequired("template['language']['code']")
	}
	tpl := s.templateSnapshot(t.Name, t.Language.Code)
	switch {
	case tpl == nil:
		return nil, &graphError{code: 132001, message: "(#132001) Template name does not exist in the translation",
			details: fmt.Sprintf("template name (%s) does not exist in %s", t.Name, t.Language.Code)}
	case tpl.Status == "PAUSED":
		return nil, &graphError{code: 132015, message: "(#132015) Template is Paused",
			details: fmt.Sprintf("template (%s) is paused due to low quality so it cannot be sent in a template message", t.Name)}
	case tpl.Status == "DISABLED":
		return nil, &graphError{code: 132016, message: "(#132016) Template is Disabled",
			details: fmt.Sprintf("template (%s) has been paused too many times due to low quality and is now permanently disabled", t.Name)}
	case tpl.Status != "APPROVED":
		return nil, &graphError{code: 132001, message: "(#132001) Template name does not exist in the translation",
			details: fmt.Sprintf("template name (%s) does not exist in %s (status %s)", t.Name, t.Language.Code, tpl.Status)}
	}
	return tpl.checkSend(t.Components)
}

// accept records a valid send, answers 200 and schedules its statuses.
func (s *Server) accept(w http.ResponseWriter, num *Number, req *sendRequest, raw []byte, info *sendInfo) {
	use := info.use
	customer, _ := normalizePhone(req.To)
	now := time.Now()
	rec := &record{
		Wamid:         newWamid(customer),
		Direction:     "outbound",
		PhoneNumberID: num.PhoneNumberID,
		From:          num.BusinessNumber,
		To:            "+" + customer,
		Type:          req.Type,
		CallbackData:  req.BizOpaque,
		Status:        "accepted",
		ReceivedAt:    now,
		Request:       json.RawMessage(raw),
		customer:      customer,
		Text:          info.text,
		Media:         info.media,
		Location:      info.location,
		Contacts:      info.contacts,
		Interactive:   info.interactive,
		Reaction:      info.reaction,
	}
	if req.Context != nil {
		rec.ContextID = req.Context.MessageID
	}
	if use != nil {
		rec.Text = use.body
		rec.Template = &templateInfo{Name: use.tpl.Name, Language: use.tpl.Language, Params: use.params}
		if rec.Template.Params == nil {
			rec.Template.Params = []string{}
		}
	}

	s.mu.Lock()
	open, _ := s.windowOpenLocked(windowKey{num.PhoneNumberID, customer}, now)
	category := ""
	if use != nil {
		category = use.tpl.Category
	}
	plan := s.planStatuses(req.Type, customer, open, category)
	if info.mediaErr != nil && plan[0].status != "failed" {
		// Meta checks referenced media after accepting the send.
		plan = []statusStep{{status: "failed", err: info.mediaErr}}
	}
	k := s.knobs()
	plan = limitPlan(plan, k.Statuses)
	pricing := pricingFor(use, open)
	s.messages = append(s.messages, rec)
	s.byWamid[rec.Wamid] = rec
	if k.KeepMessages > 0 && len(s.messages) >= 2*k.KeepMessages {
		s.trimMessagesLocked(k.KeepMessages)
	}
	s.stats.Sends++
	lane := s.stats.Sends % s.cfg.WebhookWorkers
	epoch := s.epoch
	delay := s.settings.StatusDelay
	s.mu.Unlock()
	if delay <= 0 {
		delay = s.cfg.StatusDelay
	}

	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("sandbox accepted send", "wamid", rec.Wamid, "type", rec.Type, "to", rec.To, "phone_number_id", num.PhoneNumberID)
	}
	// {"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],"messages":[{"id","message_status"?}]},
	// written by hand: this is the hot path of load tests.
	b := make([]byte, 0, 128+len(req.To)+len(customer)+len(rec.Wamid))
	b = append(b, `{"messaging_product":"whatsapp","contacts":[{"input":`...)
	b = appendJSONString(b, req.To)
	b = append(b, `,"wa_id":`...)
	b = appendJSONString(b, customer)
	b = append(b, `}],"messages":[{"id":`...)
	b = appendJSONString(b, rec.Wamid)
	if use != nil {
		b = append(b, `,"message_status":"accepted"`...)
	}
	b = append(b, "}]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	s.scheduleStatuses(num, rec, epoch, plan, pricing, delay, lane)
}

// trimMessagesLocked keeps the newest keep records (keep_messages).
func (s *Server) trimMessagesLocked(keep int) {
	drop := len(s.messages) - keep
	for _, m := range s.messages[:drop] {
		if s.byWamid[m.Wamid] == m {
			delete(s.byWamid, m.Wamid)
		}
	}
	s.messages = append(make([]*record, 0, 2*keep), s.messages[drop:]...)
}

// appendJSONString appends v as a JSON string.
func appendJSONString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(v)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

// statusStep is one status webhook to emit for a send.
type statusStep struct {
	status string
	err    *statusErr
}

// statusErr is one element of a failed status's "errors".
type statusErr struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
	Href string `json:"href"`
}

func newStatusErr(code int, title, details string) *statusErr {
	e := &statusErr{Code: code, Title: title, Message: title, Href: "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}
	e.ErrorData.Details = details
	return e
}

// planStatuses decides the status webhooks of a send; category is the
// template's category for template sends, else "". Called with s.mu held.
func (s *Server) planStatuses(typ, customer string, windowOpen bool, category string) []statusStep {
	switch {
	case s.notOnWA[customer]:
		return []statusStep{{status: "failed", err: newStatusErr(131026, "Message undeliverable", "Message Undeliverable.")}}
	case typ == "template" && category == "MARKETING" && s.settings.USMarketingBlocked && isUSNumber(customer):
		return []statusStep{{status: "failed", err: usMarketingErr()}}
	case typ != "template" && !windowOpen:
		return []statusStep{{status: "failed", err: newStatusErr(131047, "Re-engagement message",
			"Message failed to send because more than 24 hours have passed since the customer last replied to this number.")}}
	case typ == "reaction":
		return []statusStep{{status: "sent"}}
	}
	if s.cfg.NoAutoRead {
		return deliveredPlan
	}
	return readPlan
}

// The plans of successful sends, shared (read-only, capacity-capped so an
// append copies) to spare an allocation per send.
var (
	readPlan      = []statusStep{{status: "sent"}, {status: "delivered"}, {status: "read"}}
	deliveredPlan = readPlan[:2:2]
)

// pricing is the per-message pricing object of status webhooks (PMP, v24).
type pricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Type         string `json:"type"`
	Category     string `json:"category"`
}

// pricingFor follows Meta's per-message pricing: non-template (service)
// messages and utility templates sent inside an open customer-service window
// are free_customer_service; other templates are regular and billable.
func pricingFor(use *templateUse, windowOpen bool) pricing {
	if use == nil {
		return pricing{Billable: false, PricingModel: "PMP", Type: "free_customer_service", Category: "service"}
	}
	cat := strings.ToLower(use.tpl.Category)
	if cat == "utility" && windowOpen {
		return pricing{Billable: false, PricingModel: "PMP", Type: "free_customer_service", Category: cat}
	}
	return pricing{Billable: true, PricingModel: "PMP", Type: "regular", Category: cat}
}

// --- template catalogue -------------------------------------------------------

const defaultListLimit = 25

// handleTemplateList serves GET /{waba_id}/message_templates with Meta's
// cursor paging and the status, name, language and category filters.
func (s *Server) handleTemplateList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.TemplateListCalls++
	s.mu.Unlock()

	q := r.URL.Query()
	limit := defaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errInvalidParam("Param limit must be a positive integer").write(w)
			return
		}
		limit = min(n, 1000)
	}
	statuses := map[string]bool{}
	for _, v := range strings.Split(q.Get("status"), ",") {
		if v = strings.TrimSpace(v); v != "" {
			statuses[strings.ToUpper(v)] = true
		}
	}
	name := strings.ToLower(q.Get("name"))
	lang := q.Get("language")
	cat := strings.ToUpper(q.Get("category"))

	var all []templateJSON
	s.mu.Lock() // the catalogue changes at run time
	for _, t := range s.templates {
		if (len(statuses) > 0 && !statuses[t.Status]) ||
			(name != "" && !strings.Contains(strings.ToLower(t.Name), name)) ||
			(lang != "" && t.Language != lang) ||
			(cat != "" && t.Category != cat) {
			continue
		}
		all = append(all, t.listingJSON())
	}
	s.mu.Unlock()

	start, end := 0, 0
	switch {
	case q.Get("after") != "":
		i, ok := decodeCursor(q.Get("after"))
		if !ok {
			errInvalidParam("Param after is not a valid cursor").write(w)
			return
		}
		start = i + 1
		end = start + limit
	case q.Get("before") != "":
		i, ok := decodeCursor(q.Get("before"))
		if !ok {
			errInvalidParam("Param before is not a valid cursor").write(w)
			return
		}
		end = i
		start = end - limit
	default:
		end = limit
	}
	start = max(0, min(start, len(all)))
	end = max(start, min(end, len(all)))

	data := append(make([]templateJSON, 0, end-start), all[start:end]...)
	resp := map[string]any{"data": data}
	if len(data) > 0 {
		paging := map[string]any{"cursors": map[string]string{"before": encodeCursor(start), "after": encodeCursor(end - 1)}}
		if end < len(all) {
			paging["next"] = pageURL(r, "after", encodeCursor(end-1))
		}
		if start > 0 {
			paging["previous"] = pageURL(r, "before", encodeCursor(start))
		}
		resp["paging"] = paging
	}
	writeJSON(w, http.StatusOK, resp)
}

// Cursors are opaque to clients; here they encode an index into the filtered list.
func encodeCursor(i int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("sandbox:" + strconv.Itoa(i)))
}

func decodeCursor(c string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), "sandbox:")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(v)
	return i, err == nil && i >= 0
}

// pageURL is the request's absolute URL with the paging parameter replaced.
func pageURL(r *http.Request, key, cursor string) string {
	q := r.URL.Query()
	q.Del("after")
	q.Del("before")
	q.Set(key, cursor)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}
