package twiliosim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Control API (no auth, JSON) under /sandbox/v1/; see doc.go for the list.
// Errors are {"error":"…"} with a 4xx status.

func controlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + strings.TrimSuffix(r.URL.Path, "/")
	switch route {
	case "POST /sandbox/v1/inbound":
		s.injectInbound(w, r)
	case "GET /sandbox/v1/messages":
		s.listMessages(w, r)
	case "GET /sandbox/v1/stats":
		s.mu.Lock()
		st := s.stats
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, st)
	case "POST /sandbox/v1/content/status":
		s.setContentStatus(w, r)
	case "POST /sandbox/v1/settings":
		s.changeSettings(w, r)
	case "POST /sandbox/v1/reset":
		s.reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case "GET /sandbox/v1/windows":
		s.getWindow(w, r)
	default:
		controlError(w, http.StatusNotFound, "no such control endpoint: "+route)
	}
}

// controlMessage is one message in GET /sandbox/v1/messages.
type controlMessage struct {
	Sid                 string            `json:"sid"`
	Direction           string            `json:"direction"`
	Channel             string            `json:"channel"`
	From                string            `json:"from"`
	To                  string            `json:"to"`
	Body                string            `json:"body"`
	ContentSid          string            `json:"content_sid"`
	ContentVariables    map[string]string `json:"content_variables"`
	Rendered            string            `json:"rendered"`
	MediaURLs           []string          `json:"media_urls"`
	Media               []mediaInfo       `json:"media"`
	MessagingServiceSid string            `json:"messaging_service_sid"`
	StatusCallback      string            `json:"status_callback"`
	PersistentAction    []string          `json:"persistent_action,omitempty"`
	Status              string            `json:"status"`
	ErrorCode           *int              `json:"error_code"`
	AccountSid          string            `json:"account_sid"`
	CreatedAt           time.Time         `json:"created_at"`
}

// listMessages handles GET /sandbox/v1/messages?to=&direction=&sid=.
// direction defaults to all; "outbound" means outbound-api.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dir := q.Get("direction")
	switch dir {
	case "", "all", "outbound", "inbound":
	default:
		controlError(w, http.StatusBadRequest, "direction must be outbound, inbound or all")
		return
	}
	to, sid := q.Get("to"), q.Get("sid")
	out := []controlMessage{}
	s.mu.Lock()
	for _, m := range s.messages {
		if dir == "outbound" && m.Direction != directionOutAPI || dir == "inbound" && m.Direction != directionInbound {
			continue
		}
		if sid != "" && m.Sid != sid {
			continue
		}
		if to != "" && m.To != to && strings.TrimPrefix(m.To, whatsappPrefix) != strings.TrimPrefix(to, whatsappPrefix) {
			continue
		}
		media := append([]mediaInfo{}, m.Media...)
		for _, md := range m.inbound {
			media = append(media, mediaInfo{ContentType: md.ContentType, Size: int64(len(md.Data)), SHA256: sha256Hex(md.Data)})
		}
		var errCode *int
		if m.ErrorCode != 0 {
			c := m.ErrorCode
			errCode = &c
		}
		out = append(out, controlMessage{
			Sid: m.Sid, Direction: m.Direction, Channel: m.Channel, From: m.From, To: m.To, Body: m.Body,
			ContentSid: m.ContentSid, ContentVariables: m.ContentVariables, Rendered: m.Rendered,
			MediaURLs: append([]string{}, m.MediaURLs...), Media: media,
			MessagingServiceSid: m.MessagingServiceSid, StatusCallback: m.StatusCallback,
			PersistentAction: m.PersistentAction, Status: m.Status, ErrorCode: errCode,
			AccountSid: m.AccountSid, CreatedAt: m.Created.UTC(),
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"messages": out})
}

// setContentStatus handles POST /sandbox/v1/content/status
// {"sid" | "name"+"language", "status", "rejection_reason"?} → the content
// as GET /v1/ContentAndApprovals shows it.
func (s *Server) setContentStatus(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Sid             string `json:"sid"`
		Name            string `json:"name"`
		Language        string `json:"language"`
		Status          string `json:"status"`
		RejectionReason string `json:"rejection_reason"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		controlError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	status := strings.ToLower(in.Status)
	if !slices.Contains(approvalStatuses, status) {
		controlError(w, http.StatusBadRequest, "status must be one of "+strings.Join(approvalStatuses, ", "))
		return
	}
	if in.Sid == "" && in.Name == "" {
		controlError(w, http.StatusBadRequest, "sid or name is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.findContentLocked(in.Sid, in.Name, in.Language)
	if c == nil {
		controlError(w, http.StatusNotFound, "no such content")
		return
	}
	c.status, c.rejectionReason = status, in.RejectionReason
	if status != approvalUnsubmitted && c.approvalName == "" {
		c.approvalName = c.name
	}
	c.updated = time.Now().UTC()
	c.reviewGeneration++ // a pending review no longer decides
	writeJSON(w, http.StatusOK, s.contentJSONLocked(c, baseURL(r), true))
}

// changeSettings handles POST /sandbox/v1/settings {"status_delay":"250ms",
// "latency":"5ms","no_auto_read":true}; every field optional; they last
// until reset. The answer is the current settings.
func (s *Server) changeSettings(w http.ResponseWriter, r *http.Request) {
	var in struct {
		StatusDelay *string `json:"status_delay"`
		Latency     *string `json:"latency"`
		NoAutoRead  *bool   `json:"no_auto_read"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		controlError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	parse := func(p *string, name string) (time.Duration, bool) {
		d, err := time.ParseDuration(*p)
		if err != nil || d < 0 {
			controlError(w, http.StatusBadRequest, name+" must be a non-negative Go duration")
			return 0, false
		}
		return d, true
	}
	var delay, latency time.Duration
	var ok bool
	if in.StatusDelay != nil {
		if delay, ok = parse(in.StatusDelay, "status_delay"); !ok {
			return
		}
	}
	if in.Latency != nil {
		if latency, ok = parse(in.Latency, "latency"); !ok {
			return
		}
	}
	s.mu.Lock()
	if in.StatusDelay != nil {
		s.settings.StatusDelay = delay
	}
	if in.Latency != nil {
		s.settings.Latency = latency
	}
	if in.NoAutoRead != nil {
		s.settings.NoAutoRead = *in.NoAutoRead
	}
	cur := s.settings
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"status_delay": cur.StatusDelay.String(), "latency": cur.Latency.String(), "no_auto_read": cur.NoAutoRead,
	})
}

// reset forgets messages, windows, counters, pending callbacks and content
// changes, and restores the configured settings and catalogue.
func (s *Server) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	s.messages = nil
	s.bySid = map[string]*message{}
	s.windows = map[windowKey]time.Time{}
	s.stats = Stats{}
	s.chains = map[string]*chain{}
	s.parked = nil
	s.settings = s.configSettings()
	_ = s.loadContents(s.initial) // validated by New
}

// getWindow handles GET /sandbox/v1/windows?business=&customer=.
func (s *Server) getWindow(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	b, ok1 := e164Digits(strings.TrimPrefix(q.Get("business"), whatsappPrefix))
	c, ok2 := e164Digits(strings.TrimPrefix(q.Get("customer"), whatsappPrefix))
	if !ok1 || !ok2 {
		controlError(w, http.StatusBadRequest, "business and customer must be E.164 numbers")
		return
	}
	s.mu.Lock()
	last, seen := s.windows[windowKey{b, c}]
	s.mu.Unlock()
	resp := map[string]any{"open": false, "expires_at": nil}
	if seen {
		exp := last.Add(s.cfg.Window)
		resp["open"] = time.Now().Before(exp)
		resp["expires_at"] = exp.UTC()
	}
	writeJSON(w, http.StatusOK, resp)
}
