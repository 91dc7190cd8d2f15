package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Control API (no auth, JSON), for tests and operators:
//
//	POST /sandbox/v1/inbound   inject a customer message (opens the window, posts the webhook)
//	POST /sandbox/v1/media     create media (upload or generate) → {"id","sha256","sha256_base64","size","mime_type","filename"?}
//	GET  /sandbox/v1/messages  sends and injected messages; ?to= ?callback= ?wamid= ?direction=outbound|inbound|all
//	GET  /sandbox/v1/stats     counters (incl. media_uploads, media_downloads)
//	POST /sandbox/v1/reset     forget messages, windows, media, counters and queued webhooks
//	GET  /sandbox/v1/windows   ?business=&customer= → {"open","expires_at"}
//	POST /sandbox/v1/settings  change media, status and load-test knobs at run time (see below) → the current settings
//
// Templates and account health (manage.go has the details and webhook shapes):
//
//	GET  /sandbox/v1/templates           {"templates":[{listing fields…,"reason","quality_score","last_event","source"}]}
//	POST /sandbox/v1/templates/status    {"name","language","status","reason"?,"other_info"?} → the template; status webhook
//	POST /sandbox/v1/templates/quality   {"name","language","score"} → the template; quality webhook
//	POST /sandbox/v1/templates/category  {"name","language","category","impending"?} → the template; category webhook
//	POST /sandbox/v1/account             {"phone_number_id"?,"quality_rating"?,"messaging_limit"?,"event"?}
//	                                     → {"phone_number_id","display_phone_number","quality_rating","messaging_limit","webhook_event"}
//
// Errors are {"error":"…"} with a 4xx status.
//
// # POST /sandbox/v1/settings
//
// {"media_redirect_to":"http://…" | "", "media_url_ttl":"5m", "media_file_size_as_string":true,
// "us_marketing_blocked":false, "status_delay":"5s", "latency":"50ms", "error_rate":0.01,
// "error_code":131000, "error_seed":42, "statuses":"all", "status_batch":100,
// "keep_messages":100000}: every field optional; they override the Config
// field of the same name (MediaRedirectTo, MediaURLTTL, …, KeepMessages)
// until the next reset, which restores the Config values. An invalid value
// changes nothing (400). The answer has every field (durations as Go
// durations). The load-test knobs (load.go):
//
//	latency        Go duration, default "0s": added before answering every Graph API call
//	               (sends, mark read, templates, phone numbers, media), as Meta's own latency.
//	error_rate     0..1, default 0: that fraction of valid sends is answered with error_code
//	               instead of being accepted (not recorded, no statuses; counted in
//	               rejected_sends and injected_errors). Send n after a reset or a change of
//	               error_rate/error_code/error_seed fails when SplitMix64(error_seed, n) <
//	               error_rate, so runs are repeatable.
//	error_code     default 131000 "(#131000) Something went wrong", HTTP 500: Meta's generic
//	               transient error, retried by clients. Also with Meta's HTTP status and title:
//	               130429 rate limit hit (400), 131016 service unavailable (503), 133004 server
//	               temporarily unavailable (503), 131056 pair rate limit (400), 131048 spam rate
//	               limit (400), 131057 maintenance (400), 80007 and 4 rate limits (400); any
//	               other positive code gets HTTP 400 and a generic title.
//	error_seed     unsigned integer, default 0.
//	statuses       which status webhooks follow an accepted send: "all" (default: sent,
//	               delivered, read), "delivered" (sent, delivered), "sent", "none" (none at
//	               all). A failed status (131047, 131026, 131049, 131053) is sent unless "none".
//	status_batch   integer ≥ 1, default 1: up to that many statuses, of any messages of one
//	               business number, go into one webhook (one change with several
//	               value.statuses, as Meta batches them); a batch is posted when full or
//	               status_delay after its first status. The statuses of one message are
//	               always delivered in order (by the same worker) unless a delivery fails.
//	keep_messages  integer ≥ 0, default 0 (all): keep about the newest N message records
//	               (between N and 2N) for GET /sandbox/v1/messages and mark-read lookups, so
//	               long load runs do not grow without bound.
//
// # POST /sandbox/v1/media
//
// Three forms, all answering {"id","sha256" (hex),"sha256_base64","size","mime_type","filename"?}:
//
//   - multipart/form-data with a "file" part; the MIME type is the "mime_type"
//     or "type" field, else the part's Content-Type; the name is the
//     "filename" field, else the part's file name.
//   - any other Content-Type: the raw body is the file, the Content-Type its
//     MIME type, ?filename= its name.
//   - application/json {"mime_type":"application/pdf","size":94371840,
//     "filename":"big.pdf","seed":"optional"}: the sandbox generates size
//     deterministic bytes: byte i (from 0) is byte((i*2654435761)>>13)
//     (int64 arithmetic), so the content depends only on the size and tests
//     can compute it; with a seed, the ChaCha8 key stream of Go's
//     math/rand/v2 seeded with SHA-256(seed). They are never held in
//     memory: the hash is computed streaming, downloads regenerate them.
//
// Any MIME type is accepted here (Meta's upload rules apply only to the
// Graph upload), so tests can make media Meta would refuse at send time.
// Optional ?phone_number_id= (or the JSON/form field) ties the media to one
// business number, as a Graph upload is; default: usable by every number.
// Uploads (not generated media) are limited to Config.MaxUploadBytes.
//
// # POST /sandbox/v1/inbound
//
// Common fields: "from" (customer, required), "to" (business number:
// phone_number_id, E.164 or digits; default the first), "name" (profile
// name, default "Sandbox Customer"), "type" (default "text"), "context"
// (wamid replied to → context {from: business digits, id}), "forwarded" /
// "frequently_forwarded" (→ context flags), "referral" (object, passed
// through). Answer: {"wamid"}. Per type:
//
//	text         "text" (required)
//	image|video|document|sticker|audio
//	             "media_id" (from /sandbox/v1/media) or "media": {"mime_type","size","filename","seed"}
//	             to generate (default: 1 KiB; image/jpeg, video/mp4, audio/mpeg (voice: audio/ogg; codecs=opus),
//	             application/pdf, image/webp); "caption" (image, video, document), "filename" (document),
//	             "voice" (audio), "animated" (sticker). The webhook object is {caption?, filename?, mime_type,
//	             sha256 (base64, as Meta's webhooks carry it), id, url (download URL, MediaURLTTL), voice|animated}.
//	location     "latitude", "longitude" (required), "location_name", "address", "location_url"
//	contacts     "contacts": [ … ] (non-empty; passed through)
//	button       "button_text" (required), "payload" (default button_text); context required
//	             (default: the last send to this customer) → {button:{payload,text}, context}
//	interactive  "reply": {"type":"button_reply"|"list_reply","id","title","description"(list only)};
//	             context as for button
//	reaction     "reaction_to" (wamid; default the last send), "emoji" (omitted or "" = removal → no emoji key)
//	system       "system": {"type" (default user_changed_number), "wa_id" (new number, required for
//	             user_changed_number), "body" (default "User <name> changed from <from> to <wa_id>"), …
//	             any other field passed through, e.g. user_id for user_changed_user_id}; no contacts[],
//	             does not open the window
//	unsupported  "unsupported_type" (default "unknown") → errors [{code 131051, title/message
//	             "Message type unknown", error_data.details}], unsupported {type}
//	any          "raw_message": a complete messages[] item posted unchanged (its "id" and "type" are
//	             recorded; contacts[] is added unless its type is system)
//
// Every inbound message except system opens or refreshes the customer-service window.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	route := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/sandbox/v1"), "/")
	type endpoint struct {
		method string
		h      func(http.ResponseWriter, *http.Request)
	}
	endpoints := map[string]endpoint{
		"/inbound":  {http.MethodPost, s.handleInbound},
		"/media":    {http.MethodPost, s.handleControlMedia},
		"/messages": {http.MethodGet, s.handleListMessages},
		"/stats":    {http.MethodGet, s.handleStats},
		"/reset":    {http.MethodPost, s.handleReset},
		"/windows":  {http.MethodGet, s.handleWindow},
		"/settings": {http.MethodPost, s.handleSettings},

		"/templates":          {http.MethodGet, s.handleControlTemplates},
		"/templates/status":   {http.MethodPost, s.handleControlTemplateStatus},
		"/templates/quality":  {http.MethodPost, s.handleControlTemplateQuality},
		"/templates/category": {http.MethodPost, s.handleControlTemplateCategory},
		"/account":            {http.MethodPost, s.handleControlAccount},
	}
	ep, ok := endpoints[route]
	if !ok || !strings.HasPrefix(r.URL.Path, "/sandbox/v1/") {
		controlError(w, http.StatusNotFound, "no such control endpoint: "+r.URL.Path)
		return
	}
	if r.Method != ep.method {
		w.Header().Set("Allow", ep.method)
		controlError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s needs %s", r.URL.Path, ep.method))
		return
	}
	ep.h(w, r)
}

func controlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// handleListMessages lists records in arrival order. By default only
// outbound sends (each accepted send exactly once); direction=inbound or
// all widens it. to/callback/wamid filter.
func (s *Server) handleListMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	direction := q.Get("direction")
	switch direction {
	case "":
		direction = "outbound"
	case "outbound", "inbound", "all":
	default:
		controlError(w, http.StatusBadRequest, "direction must be outbound, inbound or all")
		return
	}
	to := ""
	if v := q.Get("to"); v != "" {
		d, ok := normalizePhone(v)
		if !ok {
			controlError(w, http.StatusBadRequest, "to must be a phone number")
			return
		}
		to = "+" + d
	}
	_, byCallback := q["callback"]
	callback := q.Get("callback")
	wamid := q.Get("wamid")

	out := []json.RawMessage{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if (direction != "all" && m.Direction != direction) ||
			(to != "" && m.To != to) ||
			(byCallback && m.CallbackData != callback) ||
			(wamid != "" && m.Wamid != wamid) {
			continue
		}
		b, err := json.Marshal(m) // under s.mu: records are mutated by status schedulers
		if err != nil {
			controlError(w, http.StatusInternalServerError, err.Error())
			return
		}
		out = append(out, b)
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out})
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	c := s.stats
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, c)
}

// handleReset forgets messages, windows, media, settings, counters and undelivered webhooks
// (queued, parked or waiting for a retry), restores the configured template
// catalogue (created templates and status, quality and category changes are
// dropped; pending reviews are cancelled) and the default account health.
// The webhook URL stays.
func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) {
	s.reset()
	writeJSON(w, http.StatusOK, map[string]bool{"reset": true})
}

func (s *Server) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	s.messages = nil
	s.byWamid = map[string]*record{}
	s.windows = map[windowKey]time.Time{}
	s.media = map[string]*mediaObj{}
	s.mediaURLs = map[string]*mediaGrant{}
	s.settings = s.configSettings()
	s.templates = cloneTemplates(s.initial)
	s.health = s.defaultHealth()
	s.stats = counters{}
	s.parked = nil
	s.queue.clear()
	s.load.Store(s.configKnobs())
	s.sendSeq.Store(0)
}

// handleWindow reports the customer-service window of one customer with one
// business number (business: phone_number_id, E.164 or digits; default the first).
func (s *Server) handleWindow(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	num := s.numbers[0]
	if b := q.Get("business"); b != "" {
		if num = s.numberFor(b); num == nil {
			controlError(w, http.StatusBadRequest, "unknown business number "+b)
			return
		}
	}
	customer, ok := normalizePhone(q.Get("customer"))
	if !ok {
		controlError(w, http.StatusBadRequest, "customer must be a phone number")
		return
	}
	s.mu.Lock()
	open, exp := s.windowOpenLocked(windowKey{num.PhoneNumberID, customer}, time.Now())
	s.mu.Unlock()
	resp := map[string]any{"open": open, "expires_at": nil}
	if !exp.IsZero() {
		resp["expires_at"] = exp.UTC().Format(time.RFC3339Nano)
	}
	writeJSON(w, http.StatusOK, resp)
}

// settings are the knobs POST /sandbox/v1/settings may change at run time.
// Guarded by Server.mu; they start from Config and return to it on reset.
type settings struct {
	MediaRedirectTo       string
	MediaURLTTL           time.Duration
	MediaFileSizeAsString bool
	USMarketingBlocked    bool
	StatusDelay           time.Duration
}

func (s *Server) configSettings() settings {
	return settings{
		MediaRedirectTo:       s.cfg.MediaRedirectTo,
		MediaURLTTL:           s.cfg.MediaURLTTL,
		MediaFileSizeAsString: s.cfg.MediaFileSizeAsString,
		USMarketingBlocked:    s.cfg.USMarketingBlocked == nil || *s.cfg.USMarketingBlocked,
		StatusDelay:           s.cfg.StatusDelay,
	}
}

func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request) {
	raw, _, err := readBody(r)
	if err != nil {
		controlError(w, http.StatusBadRequest, "could not read the body")
		return
	}
	var req struct {
		MediaRedirectTo       *string `json:"media_redirect_to"`
		MediaURLTTL           *string `json:"media_url_ttl"`
		MediaFileSizeAsString *bool   `json:"media_file_size_as_string"`
		USMarketingBlocked    *bool   `json:"us_marketing_blocked"`
		StatusDelay           *string `json:"status_delay"`

		Latency      *string  `json:"latency"`
		ErrorRate    *float64 `json:"error_rate"`
		ErrorCode    *int     `json:"error_code"`
		ErrorSeed    *uint64  `json:"error_seed"`
		Statuses     *string  `json:"statuses"`
		StatusBatch  *int     `json:"status_batch"`
		KeepMessages *int     `json:"keep_messages"`
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			controlError(w, http.StatusBadRequest, "body must be {\"media_redirect_to\",\"media_url_ttl\",\"media_file_size_as_string\",\"us_marketing_blocked\",\"status_delay\",\"latency\",\"error_rate\",\"error_code\",\"error_seed\",\"statuses\",\"status_batch\",\"keep_messages\"}: "+err.Error())
			return
		}
	}
	var latency time.Duration
	if req.Latency != nil {
		if latency, err = time.ParseDuration(*req.Latency); err != nil || latency < 0 {
			controlError(w, http.StatusBadRequest, "latency must be a Go duration such as \"50ms\"")
			return
		}
	}
	if req.ErrorCode != nil && *req.ErrorCode <= 0 {
		controlError(w, http.StatusBadRequest, "error_code must be a positive Graph error code")
		return
	}
	if req.StatusBatch != nil && *req.StatusBatch <= 0 {
		controlError(w, http.StatusBadRequest, "status_batch must be at least 1")
		return
	}
	var delay time.Duration
	if req.StatusDelay != nil {
		if delay, err = time.ParseDuration(*req.StatusDelay); err != nil || delay < 0 {
			controlError(w, http.StatusBadRequest, "status_delay must be a Go duration such as \"5s\"")
			return
		}
	}
	var ttl time.Duration
	if req.MediaURLTTL != nil {
		if ttl, err = time.ParseDuration(*req.MediaURLTTL); err != nil || ttl <= 0 {
			controlError(w, http.StatusBadRequest, "media_url_ttl must be a positive Go duration such as \"5m\"")
			return
		}
	}
	if req.MediaRedirectTo != nil && *req.MediaRedirectTo != "" {
		if u, err := url.Parse(*req.MediaRedirectTo); err != nil || u.Scheme == "" || u.Host == "" {
			controlError(w, http.StatusBadRequest, "media_redirect_to must be an absolute URL (or \"\" to turn redirects off)")
			return
		}
	}
	s.mu.Lock()     // serialises settings changes
	k := *s.knobs() // copy: snapshots are immutable
	set(&k.Latency, req.Latency != nil, latency)
	setPtr(&k.ErrorRate, req.ErrorRate)
	setPtr(&k.ErrorCode, req.ErrorCode)
	setPtr(&k.ErrorSeed, req.ErrorSeed)
	setPtr(&k.Statuses, req.Statuses)
	setPtr(&k.StatusBatch, req.StatusBatch)
	setPtr(&k.KeepMessages, req.KeepMessages)
	if err := validateKnobs(&k); err != nil {
		s.mu.Unlock()
		controlError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.MediaRedirectTo != nil {
		s.settings.MediaRedirectTo = *req.MediaRedirectTo
	}
	if req.MediaURLTTL != nil {
		s.settings.MediaURLTTL = ttl
	}
	if req.MediaFileSizeAsString != nil {
		s.settings.MediaFileSizeAsString = *req.MediaFileSizeAsString
	}
	if req.USMarketingBlocked != nil {
		s.settings.USMarketingBlocked = *req.USMarketingBlocked
	}
	if req.StatusDelay != nil {
		s.settings.StatusDelay = delay
	}
	s.load.Store(&k)
	if req.ErrorRate != nil || req.ErrorCode != nil || req.ErrorSeed != nil {
		s.sendSeq.Store(0) // the error sequence starts over
	}
	cur := s.settings
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"media_redirect_to": cur.MediaRedirectTo, "media_url_ttl": cur.MediaURLTTL.String(),
		"media_file_size_as_string": cur.MediaFileSizeAsString, "us_marketing_blocked": cur.USMarketingBlocked,
		"status_delay": cur.StatusDelay.String(),
		"latency":      k.Latency.String(), "error_rate": k.ErrorRate, "error_code": k.ErrorCode, "error_seed": k.ErrorSeed,
		"statuses": k.Statuses, "status_batch": k.StatusBatch, "keep_messages": k.KeepMessages,
	})
}

func set[T any](dst *T, ok bool, v T) {
	if ok {
		*dst = v
	}
}

func setPtr[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
