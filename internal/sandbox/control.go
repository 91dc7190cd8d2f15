package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Control API (no auth, JSON), for tests and operators:
//
//	POST /sandbox/v1/inbound   inject a customer message (opens the window, posts the webhook)
//	GET  /sandbox/v1/messages  accepted sends; ?to= ?callback= ?wamid= ?direction=outbound|inbound|all
//	GET  /sandbox/v1/stats     counters
//	POST /sandbox/v1/reset     forget messages, windows, counters and queued webhooks
//	GET  /sandbox/v1/windows   ?business=&customer= → {"open","expires_at"}
//
// Errors are {"error":"…"} with a 4xx status.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	route := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/sandbox/v1"), "/")
	type endpoint struct {
		method string
		h      func(http.ResponseWriter, *http.Request)
	}
	endpoints := map[string]endpoint{
		"/inbound":  {http.MethodPost, s.handleInbound},
		"/messages": {http.MethodGet, s.handleListMessages},
		"/stats":    {http.MethodGet, s.handleStats},
		"/reset":    {http.MethodPost, s.handleReset},
		"/windows":  {http.MethodGet, s.handleWindow},
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

// inboundRequest is the body of POST /sandbox/v1/inbound. Type defaults to
// "text"; other types are refused until they are implemented.
type inboundRequest struct {
	From    string `json:"from"`    // customer, E.164 (required)
	To      string `json:"to"`      // business number, E.164/digits/phone_number_id; default the first
	Name    string `json:"name"`    // profile name; default "Sandbox Customer"
	Type    string `json:"type"`    // default "text"
	Text    string `json:"text"`    // required for text
	Context string `json:"context"` // wamid the customer replies to (optional)
}

// handleInbound injects a customer message: it records it, opens or
// refreshes the customer-service window and posts the inbound webhook.
func (s *Server) handleInbound(w http.ResponseWriter, r *http.Request) {
	raw, tooLarge, err := readBody(r)
	if tooLarge {
		controlError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request bodies are limited to %d bytes", maxBodyBytes))
		return
	}
	var req inboundRequest
	if err != nil || json.Unmarshal(raw, &req) != nil {
		controlError(w, http.StatusBadRequest, "body must be a JSON object")
		return
	}
	if req.From == "" {
		controlError(w, http.StatusBadRequest, "from is required")
		return
	}
	customer, ok := normalizePhone(req.From)
	if !ok {
		controlError(w, http.StatusBadRequest, "from must be a phone number with 8 to 15 digits")
		return
	}
	num := s.numbers[0]
	if req.To != "" {
		if num = s.numberFor(req.To); num == nil {
			controlError(w, http.StatusBadRequest, "unknown business number "+req.To)
			return
		}
	}
	if req.Type == "" {
		req.Type = "text"
	}
	if req.Name == "" {
		req.Name = "Sandbox Customer"
	}
	now := time.Now()
	wamid := newWamid(customer)
	msg := inboundJSON{From: customer, ID: wamid, Timestamp: unixString(now), Type: req.Type}
	if req.Context != "" {
		msg.Context = &contextJSON{From: strings.TrimPrefix(num.BusinessNumber, "+"), ID: req.Context}
	}
	switch req.Type {
	case "text":
		if req.Text == "" {
			controlError(w, http.StatusBadRequest, "text is required")
			return
		}
		msg.Text = &textBody{Body: req.Text}
	default:
		controlError(w, http.StatusBadRequest, fmt.Sprintf("inbound type %q is not supported (only text)", req.Type))
		return
	}
	contact := contactJSON{WaID: customer}
	contact.Profile.Name = req.Name
	body := s.webhookBody(num, changeValue{Contacts: []contactJSON{contact}, Messages: []inboundJSON{msg}})

	rec := &record{
		Wamid: wamid, Direction: "inbound", PhoneNumberID: num.PhoneNumberID,
		From: "+" + customer, To: num.BusinessNumber, Type: req.Type, Text: req.Text,
		ProfileName: req.Name, Status: "received", ReceivedAt: now,
		Request: json.RawMessage(raw), customer: customer,
	}
	s.ensureWorkers()
	s.mu.Lock()
	s.windows[windowKey{num.PhoneNumberID, customer}] = now
	s.messages = append(s.messages, rec)
	s.byWamid[wamid] = rec
	s.stats.Inbound++
	s.enqueueLocked(body, "inbound "+req.Type)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"wamid": wamid})
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

// handleReset forgets messages, windows, counters and undelivered webhooks
// (queued, parked or waiting for a retry). The catalogue and webhook URL stay.
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
	s.stats = counters{}
	s.parked = nil
	s.queue.clear()
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
