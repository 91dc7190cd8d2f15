package httpd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/wabridge/wabridge/bridge"
)

// errorBody is every API error: {"error": {"reason", "message", "field"?}}.
type errorBody struct {
	Error struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

func writeError(ctx *fasthttp.RequestCtx, code int, reason, field, msg string) {
	var b errorBody
	b.Error.Reason, b.Error.Field, b.Error.Message = reason, field, msg
	writeJSON(ctx, code, b)
}

func writeJSON(ctx *fasthttp.RequestCtx, code int, v any) {
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	data, err := json.Marshal(v)
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		data = []byte(`{"error":{"reason":"internal","message":"encode failed"}}`)
	}
	ctx.SetBody(append(data, '\n'))
}

// api wraps an /api/v1 handler with bearer authentication and counting.
func (s *Server) api(route string, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if !s.authorized(ctx) {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="wabridge"`)
			writeError(ctx, fasthttp.StatusUnauthorized, "unauthorized", "", "missing or invalid bearer token")
		} else {
			h(ctx)
		}
		s.deps.Metrics.APIRequests.WithLabelValues(route, strconv.Itoa(ctx.Response.StatusCode())).Inc()
	}
}

// sendRequest is the body of POST /api/v1/messages.
type sendRequest struct {
	To             string          `json:"to"`
	From           string          `json:"from"`
	Text           *string         `json:"text"`
	PreviewURL     bool            `json:"preview_url"`
	Template       json.RawMessage `json:"template"`
	Media          json.RawMessage `json:"media"`
	Location       json.RawMessage `json:"location"`
	Contacts       json.RawMessage `json:"contacts"`
	Interactive    json.RawMessage `json:"interactive"`
	Reaction       json.RawMessage `json:"reaction"`
	ReplyTo        string          `json:"reply_to"`
	IdempotencyKey string          `json:"idempotency_key"`
}

// mediaRequest is the "media" member: one of file_id (POST /api/v1/media),
// media_id (the provider's) or url.
type mediaRequest struct {
	Type     string `json:"type"`
	FileID   string `json:"file_id"`
	MediaID  string `json:"media_id"`
	URL      string `json:"url"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	Animated bool   `json:"animated"`
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

type templateRequest struct {
	Name     string          `json:"name"`
	Language string          `json:"language"`
	Params   json.RawMessage `json:"params"`
	Header   *struct {
		Type     string `json:"type"` // text, image, video, document
		Text     string `json:"text"`
		ID       string `json:"id"`
		Link     string `json:"link"`
		Filename string `json:"filename"`
	} `json:"header"`
	Buttons []bridge.TemplateButton `json:"buttons"`
	// Variables are parameters by business-style names ("First Name"),
	// mapped by [templates] variables.
	Variables map[string]string `json:"variables"`
}

type refusal struct {
	code          int
	reason, field string
	msg           string
}

func (r *refusal) Error() string { return r.msg }

func badField(field, format string, args ...any) *refusal {
	return &refusal{code: fasthttp.StatusBadRequest, reason: string(bridge.ReasonInvalid), field: field, msg: fmt.Sprintf(format, args...)}
}

// decodeStrict decodes one JSON object, refusing unknown fields and
// trailing data, and names the offending field (under prefix) in its error.
func decodeStrict(body []byte, v any, prefix string) *refusal {
	join := func(f string) string {
		switch {
		case prefix == "":
			return f
		case f == "":
			return prefix
		}
		return prefix + "." + f
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badField(prefix, "%s is empty", orBody(prefix))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field == "":
			return badField(prefix, "%s must be a JSON object", orBody(prefix))
		case errors.As(err, &te):
			return badField(join(te.Field), "%s must be %s", join(te.Field), jsonKind(te.Type))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := join(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
			return badField(f, "unknown field %q", f)
		}
		return badField(prefix, "malformed JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badField(prefix, "trailing data after the JSON object")
	}
	return nil
}

func orBody(prefix string) string {
	if prefix == "" {
		return "the request body"
	}
	return prefix
}

// jsonKind names a Go type as JSON would ("a string", "an object", …).
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a different JSON type"
}

// given reports whether an optional JSON member is present and not null.
func given(r json.RawMessage) bool {
	return r != nil && !bytes.Equal(bytes.TrimSpace(r), []byte("null"))
}

// toMessage turns a request into a bridge message, resolving reply_to.
func (s *Server) toMessage(c context.Context, req *sendRequest) (*bridge.Message, *refusal) {
	m := &bridge.Message{Origin: "api", IdempotencyKey: req.IdempotencyKey}
	if req.To == "" {
		return nil, badField("to", "to is required")
	}
	if bridge.IsBSUID(req.To) {
		m.Customer.BSUID = req.To // a business-scoped user id, "US.1349…"
	} else if m.Customer.Phone = bridge.NormalizePhone(req.To); m.Customer.Phone == "" {
		return nil, badField("to", "%q is not an E.164 phone number or a business-scoped user id", req.To)
	}
	if req.From != "" {
		if m.Business = bridge.NormalizePhone(req.From); m.Business == "" {
			return nil, badField("from", "%q is not an E.164 phone number", req.From)
		}
	}
	if len(req.IdempotencyKey) > 200 {
		return nil, badField("idempotency_key", "longer than 200 bytes")
	}
	kinds := 0
	for _, present := range []bool{req.Text != nil, given(req.Template), given(req.Media), given(req.Location),
		given(req.Contacts), given(req.Interactive), given(req.Reaction)} {
		if present {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, badField("", "give exactly one of text, template, media, location, contacts, interactive, reaction")
	}
	switch {
	case req.Text != nil:
		m.Kind, m.Content.Text, m.Content.PreviewURL = bridge.KindText, *req.Text, req.PreviewURL
	case given(req.Template):
		var tr templateRequest
		if r := decodeStrict(req.Template, &tr, "template"); r != nil {
			return nil, r
		}
		t, r := toTemplate(&tr)
		if r != nil {
			return nil, r
		}
		if r := s.templateVariables(t, tr.Variables); r != nil {
			return nil, r
		}
		m.Kind, m.Content.Template = bridge.KindTemplate, t
	case given(req.Media):
		var mr mediaRequest
		if r := decodeStrict(req.Media, &mr, "media"); r != nil {
			return nil, r
		}
		kind := bridge.Kind(mr.Type)
		if !kind.IsMedia() {
			return nil, badField("media.type", "type must be image, video, audio, document or sticker")
		}
		m.Kind = kind
		m.Content.Media = &bridge.Media{FileID: mr.FileID, ID: mr.MediaID, URL: mr.URL, Caption: mr.Caption,
			Filename: mr.Filename, Animated: mr.Animated}
	case given(req.Location):
		var loc bridge.Location
		if r := decodeStrict(req.Location, &loc, "location"); r != nil {
			return nil, r
		}
		m.Kind, m.Content.Location = bridge.KindLocation, &loc
	case given(req.Contacts):
		m.Kind, m.Content.Contacts = bridge.KindContacts, compactJSON(req.Contacts)
	case given(req.Interactive):
		m.Kind, m.Content.Interactive = bridge.KindInteractive, compactJSON(req.Interactive)
	case given(req.Reaction):
		var rr struct {
			MessageID string `json:"message_id"`
			Emoji     string `json:"emoji"`
		}
		if r := decodeStrict(req.Reaction, &rr, "reaction"); r != nil {
			return nil, r
		}
		target, err := s.deps.Bridge.Message(c, rr.MessageID)
		if rr.MessageID == "" || err != nil || target.WAMID == "" {
			return nil, badField("reaction.message_id", "no message with id or wamid %q", rr.MessageID)
		}
		m.Kind, m.Content.Reaction = bridge.KindReaction, &bridge.Reaction{MessageID: target.WAMID, Emoji: rr.Emoji}
	}
	if req.ReplyTo != "" {
		orig, err := s.deps.Bridge.Message(c, req.ReplyTo)
		if err != nil || orig.WAMID == "" {
			return nil, badField("reply_to", "no message with id or wamid %q", req.ReplyTo)
		}
		m.Content.Context = &bridge.Context{WAMID: orig.WAMID}
	}
	return m, nil
}

// templateVariables adds parameters given by business-style names
// ("First Name", braces optional, any case), mapped by
// Config.TemplateVariables to a parameter number or name.
func (s *Server) templateVariables(t *bridge.Template, vars map[string]string) *refusal {
	if len(vars) == 0 {
		return nil
	}
	positional := map[int]string{}
	for i, p := range t.Params {
		positional[i+1] = p
	}
	for friendly, value := range vars {
		key := strings.ToLower(strings.Trim(strings.TrimSpace(friendly), "{}"))
		param, ok := s.cfg.TemplateVariables[strings.TrimSpace(key)]
		if !ok {
			return badField("template.variables", "%q is not a configured variable name ([templates] variables)", friendly)
		}
		if n, err := strconv.Atoi(param); err == nil && n > 0 {
			positional[n] = value
			continue
		}
		if t.NamedParams == nil {
			t.NamedParams = map[string]string{}
		}
		t.NamedParams[param] = value
	}
	if len(positional) > 0 && len(t.NamedParams) > 0 {
		return badField("template.variables", "the variables map to both numbered and named parameters")
	}
	t.Params = nil
	for i := 1; i <= len(positional); i++ {
		v, ok := positional[i]
		if !ok {
			return badField("template.variables", "parameter %d is missing", i)
		}
		t.Params = append(t.Params, v)
	}
	return nil
}

func toTemplate(tr *templateRequest) (*bridge.Template, *refusal) {
	t := &bridge.Template{Name: tr.Name, Language: tr.Language, Buttons: tr.Buttons}
	if p := bytes.TrimSpace(tr.Params); len(p) > 0 && !bytes.Equal(p, []byte("null")) {
		switch p[0] {
		case '[':
			if err := json.Unmarshal(p, &t.Params); err != nil {
				return nil, badField("template.params", "params must be a list of strings or an object of strings")
			}
		case '{':
			if err := json.Unmarshal(p, &t.NamedParams); err != nil {
				return nil, badField("template.params", "params must be a list of strings or an object of strings")
			}
		default:
			return nil, badField("template.params", "params must be a list of strings or an object of strings")
		}
	}
	if h := tr.Header; h != nil {
		switch h.Type {
		case "text":
			if h.Text == "" {
				return nil, badField("template.header.text", "a text header needs text")
			}
			t.HeaderText = h.Text
		case "image", "video", "document":
			if h.ID == "" && h.Link == "" {
				return nil, badField("template.header", "a media header needs id or link")
			}
			t.HeaderMedia = &bridge.TemplateMedia{Type: h.Type, ID: h.ID, Link: h.Link, Filename: h.Filename}
		default:
			return nil, badField("template.header.type", "header type must be text, image, video or document")
		}
	}
	return t, nil
}

// refusalStatus maps a submit-time refusal to its HTTP status.
func refusalStatus(r bridge.Reason) int {
	switch r {
	case bridge.ReasonMediaTooLarge:
		return fasthttp.StatusRequestEntityTooLarge
	case bridge.ReasonMediaUnsupported:
		return fasthttp.StatusUnsupportedMediaType
	case bridge.ReasonOptedOut:
		return fasthttp.StatusConflict
	}
	return fasthttp.StatusBadRequest
}

// postMessage: POST /api/v1/messages → 202 {"id"} once committed; a
// repeated idempotency_key → 200 with the original id, nothing sent.
func (s *Server) postMessage(ctx *fasthttp.RequestCtx) {
	body, ok := s.bodyOrError(ctx)
	if !ok {
		return
	}
	var req sendRequest
	if r := decodeStrict(body, &req, ""); r != nil {
		writeError(ctx, r.code, r.reason, r.field, r.msg)
		return
	}
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, r := s.toMessage(c, &req)
	if r != nil {
		writeError(ctx, r.code, r.reason, r.field, r.msg)
		return
	}
	id, created, err := s.deps.Bridge.Submit(c, m)
	var re *bridge.RefusedError
	switch {
	case errors.As(err, &re):
		writeError(ctx, refusalStatus(re.Reason), string(re.Reason), re.Field, re.Msg)
		return
	case err != nil:
		s.log.Error("submit failed", "err", err)
		writeError(ctx, fasthttp.StatusServiceUnavailable, "internal", "", "not accepted; retry")
		return
	}
	code := fasthttp.StatusAccepted
	if !created {
		code = fasthttp.StatusOK
	}
	ctx.Response.Header.Set("Location", "/api/v1/messages/"+string(id))
	writeJSON(ctx, code, map[string]string{"id": string(id)})
}

type messageView struct {
	ID          string                   `json:"id"`
	Direction   string                   `json:"direction"`
	Kind        string                   `json:"type"`
	To          string                   `json:"to"`
	From        string                   `json:"from"`
	Channel     string                   `json:"channel"`
	Status      string                   `json:"status"`
	WAMID       string                   `json:"wamid,omitempty"`
	Text        string                   `json:"text,omitempty"`
	Template    *bridge.Template         `json:"template,omitempty"`
	Media       *mediaView               `json:"media,omitempty"`
	Location    *bridge.Location         `json:"location,omitempty"`
	Contacts    json.RawMessage          `json:"contacts,omitempty"`
	Interactive json.RawMessage          `json:"interactive,omitempty"`
	Reply       *bridge.InteractiveReply `json:"reply,omitempty"`
	Button      *bridge.ButtonReply      `json:"button,omitempty"`
	Reaction    *bridge.Reaction         `json:"reaction,omitempty"`
	System      *bridge.System           `json:"system,omitempty"`
	Context     *bridge.Context          `json:"context,omitempty"`
	ProfileName string                   `json:"profile_name,omitempty"`
	Error       *errorView               `json:"error"`
	History     []historyView            `json:"history"`
	CreatedAt   time.Time                `json:"created_at"`
	UpdatedAt   time.Time                `json:"updated_at"`
	// Send is how the message was sent (freeform, which template and how
	// chosen) or why not.
	Send *bridge.SendRecord `json:"send,omitempty"`
	// Fallback is the trigger that moved the message to SMS (channel sms).
	Fallback string `json:"fallback,omitempty"`
}

// mediaView describes a message's media; download is the route of the
// stored file once there is one.
type mediaView struct {
	MIMEType string `json:"mime_type,omitempty"`
	Size     int64  `json:"size,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	Voice    bool   `json:"voice,omitempty"`
	Animated bool   `json:"animated,omitempty"`
	MediaID  string `json:"media_id,omitempty"`
	URL      string `json:"url,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	// State is pending, stored or failed for a customer's media; file,
	// link or media_id for media a business sends.
	State    string `json:"state"`
	Error    string `json:"error,omitempty"`
	Download string `json:"download,omitempty"`
}

type errorView struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
}

type historyView struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	Code   int       `json:"code,omitempty"`
}

func viewMessage(m *bridge.Message) messageView {
	c := &m.Content
	v := messageView{ID: string(m.ID), Direction: string(m.Direction), Kind: string(m.Kind), Channel: string(m.Channel),
		Status: string(m.Status), WAMID: m.WAMID, Text: c.Text, Template: c.Template,
		Location: c.Location, Contacts: c.Contacts, Interactive: c.Interactive, Reply: c.Reply, Button: c.Button,
		Reaction: c.Reaction, System: c.System, Context: c.Context, ProfileName: m.ProfileName,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, History: []historyView{}, Send: m.SendRecord, Fallback: string(m.Fallback)}
	if md := c.Media; md != nil {
		mv := &mediaView{MIMEType: md.MIMEType, Size: md.Size, SHA256: md.SHA256, Caption: md.Caption, Filename: md.Filename,
			Voice: md.Voice, Animated: md.Animated, MediaID: md.ID, URL: md.URL, FileID: md.FileID, Error: md.FetchError}
		switch {
		case md.FetchError != "":
			mv.State = "failed"
		case md.FileID != "" && m.Direction == bridge.Inbound:
			mv.State, mv.Download = "stored", "/api/v1/messages/"+string(m.ID)+"/media"
		case md.FileID != "":
			mv.State, mv.Download = "file", "/api/v1/messages/"+string(m.ID)+"/media"
		case m.Direction == bridge.Inbound:
			mv.State = "pending"
		case md.URL != "":
			mv.State = "link"
		default:
			mv.State = "media_id"
		}
		v.Media = mv
	}
	customer := m.Customer.Key()
	if m.Direction == bridge.Outbound {
		v.To, v.From = customer, m.Business
	} else {
		v.To, v.From = m.Business, customer
	}
	if m.Status == bridge.StatusFailed || m.Reason != "" {
		v.Error = &errorView{Code: m.ErrorCode, Reason: string(m.Reason), Message: m.ErrorMessage}
	}
	for _, h := range m.History {
		v.History = append(v.History, historyView{Status: string(h.Status), At: h.At, Code: h.Code})
	}
	return v
}

// pathParam returns a percent-decoded path parameter (wamids are base64
// and may arrive escaped); on a bad escape it answers 400 and returns false.
func pathParam(ctx *fasthttp.RequestCtx, name string) (string, bool) {
	raw, _ := ctx.UserValue(name).(string)
	v, err := url.PathUnescape(raw)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid", name, "malformed percent-encoding")
		return "", false
	}
	return v, true
}

// messageParam looks up the message named by the {id} path parameter (a
// wabridge id, a wamid or a part's id); it answers 400/404/500 itself and
// returns nil then.
func (s *Server) messageParam(ctx *fasthttp.RequestCtx) *bridge.Message {
	id, ok := pathParam(ctx, "id")
	if !ok {
		return nil
	}
	m, err := s.deps.Bridge.Message(context.Background(), id)
	if errors.Is(err, bridge.ErrNotFound) {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "id", "no message with that id")
		return nil
	}
	if err != nil {
		s.log.Error("read message", "err", err)
		writeError(ctx, fasthttp.StatusInternalServerError, "internal", "", "read failed")
		return nil
	}
	return m
}

// getMessage: GET /api/v1/messages/{id} (a wabridge id, a wamid or a part's id).
func (s *Server) getMessage(ctx *fasthttp.RequestCtx) {
	if m := s.messageParam(ctx); m != nil {
		writeJSON(ctx, fasthttp.StatusOK, viewMessage(m))
	}
}

// getConversation: GET /api/v1/conversations/{number}?from=+business —
// the customer-service window of that customer with that business number.
func (s *Server) getConversation(ctx *fasthttp.RequestCtx) {
	raw, ok := pathParam(ctx, "number")
	if !ok {
		return
	}
	customer := bridge.NormalizePhone(raw)
	if customer == "" {
		if !bridge.IsBSUID(raw) {
			writeError(ctx, fasthttp.StatusBadRequest, "invalid", "number", "not an E.164 phone number or a business-scoped user id")
			return
		}
		customer = raw
	}
	business := s.deps.Bridge.BusinessNumbers()[0]
	if f := ctx.QueryArgs().Peek("from"); len(f) > 0 {
		business = bridge.NormalizePhone(string(f))
		if business == "" {
			writeError(ctx, fasthttp.StatusBadRequest, "invalid", "from", "not an E.164 phone number")
			return
		}
	}
	w, err := s.deps.Bridge.Window(context.Background(), business, customer)
	if err != nil {
		s.log.Error("read window", "err", err)
		writeError(ctx, fasthttp.StatusInternalServerError, "internal", "", "read failed")
		return
	}
	out := map[string]any{"number": customer, "from": business, "window_open": w.Open,
		"expires_at": nil, "seconds_left": int64(w.Remaining / time.Second)}
	if !w.ExpiresAt.IsZero() {
		out["expires_at"] = w.ExpiresAt.UTC().Format(time.RFC3339)
		out["last_inbound_at"] = w.LastInbound.UTC().Format(time.RFC3339)
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}
