package httpd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/wabridge/wabridge/bridge"
)

// consentNumber reads the {number} path parameter as a customer key.
func (s *Server) consentNumber(ctx *fasthttp.RequestCtx, raw string) (string, bool) {
	if n := bridge.NormalizePhone(raw); n != "" {
		return n, true
	}
	if bridge.IsBSUID(raw) {
		return raw, true
	}
	writeError(ctx, fasthttp.StatusBadRequest, "invalid", "number", "not an E.164 phone number or a business-scoped user id")
	return "", false
}

// getConsent: GET /api/v1/consent/{number} — the customer's consent
// record; a customer with none is opted in.
func (s *Server) getConsent(ctx *fasthttp.RequestCtx) {
	raw, ok := pathParam(ctx, "number")
	if !ok {
		return
	}
	customer, ok := s.consentNumber(ctx, raw)
	if !ok {
		return
	}
	c, err := s.deps.Bridge.Consent(ctx, customer)
	switch {
	case errors.Is(err, bridge.ErrNotFound):
		writeJSON(ctx, fasthttp.StatusOK, bridge.Consent{Customer: customer})
	case err != nil:
		s.log.Error("read consent", "err", err)
		writeError(ctx, fasthttp.StatusServiceUnavailable, "unavailable", "", "store unavailable")
	default:
		writeJSON(ctx, fasthttp.StatusOK, c)
	}
}

type consentImport struct {
	Records []struct {
		Number   string    `json:"number"`
		OptedOut *bool     `json:"opted_out"`
		At       time.Time `json:"at"`
		Source   string    `json:"source"`
	} `json:"records"`
}

// postConsent: POST /api/v1/consent — import consent records
// ({"records":[{"number","opted_out","at"?,"source"?}]}); a record older
// than the stored one for its customer is skipped. All records are
// checked before any is stored.
func (s *Server) postConsent(ctx *fasthttp.RequestCtx) {
	body, ok := s.bodyOrError(ctx)
	if !ok {
		return
	}
	var req consentImport
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid", "", "body is not {\"records\":[…]}: "+err.Error())
		return
	}
	now := time.Now()
	var recs []bridge.Consent
	for i, r := range req.Records {
		n := bridge.NormalizePhone(r.Number)
		if n == "" && bridge.IsBSUID(r.Number) {
			n = r.Number
		}
		if n == "" || r.OptedOut == nil {
			writeError(ctx, fasthttp.StatusBadRequest, "invalid", fmt.Sprintf("records[%d]", i),
				"each record needs an E.164 number (or BSUID) and opted_out")
			return
		}
		c := bridge.Consent{Customer: n, OptedOut: *r.OptedOut, At: r.At, Source: r.Source}
		if c.At.IsZero() {
			c.At = now
		}
		if c.Source == "" {
			c.Source = "import"
		}
		recs = append(recs, c)
	}
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	applied := 0
	for _, r := range recs {
		ok, err := s.deps.Bridge.SetConsent(c, r)
		if err != nil {
			s.log.Error("store consent", "err", err)
			writeError(ctx, fasthttp.StatusServiceUnavailable, "unavailable", "", "store unavailable; records before this one were stored")
			return
		}
		if ok {
			applied++
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]int{"applied": applied, "skipped": len(recs) - applied})
}
