package smpp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
	"github.com/nyaruka/phonenumbers"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/sms"
	"github.com/wabridge/wabridge/internal/templates"
)

// meta is what the SMPP edge keeps with a submitted message
// (bridge.Message.OriginData): enough to address and word its receipts.
type meta struct {
	SystemID string `json:"sid"`
	Source   string `json:"src"`
	SrcTON   byte   `json:"st,omitempty"`
	SrcNPI   byte   `json:"sn,omitempty"`
	Dest     string `json:"dst"`
	DstTON   byte   `json:"dt,omitempty"`
	DstNPI   byte   `json:"dn,omitempty"`
	// RD is registered_delivery as submitted.
	RD   byte   `json:"rd,omitempty"`
	Text string `json:"t,omitempty"` // the first 20 characters, for receipts
	// Parts are the ids given to the parts of a concatenated submission,
	// in order, and PartRD each part's own registered_delivery: each part
	// gets the receipts it asked for (Kannel asks on the first part only).
	Parts  []string `json:"p,omitempty"`
	PartRD []byte   `json:"prd,omitempty"`
	// ServiceType is the submit_sm's service_type (template pins).
	ServiceType string `json:"svc,omitempty"`
}

// ServiceType returns the service_type an SMPP-submitted message came
// with ("" for other origins).
func ServiceType(m *bridge.Message) string {
	if !strings.HasPrefix(m.Origin, "smpp:") || len(m.OriginData) == 0 {
		return ""
	}
	// Most submissions carry none: without the key's text anywhere the
	// data need not be decoded (a text merely containing it decodes).
	if !bytes.Contains(m.OriginData, []byte(`"svc"`)) {
		return ""
	}
	md, _ := unmarshalMeta(m.OriginData)
	return md.ServiceType
}

// TON values (SMPP 3.4 5.2.5).
const (
	tonUnknown       = 0
	tonInternational = 1
	tonNational      = 2
	tonAlphanumeric  = 5
)

// submit turns a submit_sm into a WhatsApp message and answers with its
// id only after the message is committed. The message is validated and its write
// queued on the store here, in the read loop, so a session's messages
// commit in the order they came; the session's responder waits for the
// commit and writes the submit_sm_resp, while the read loop goes on with
// the next submit_sm (they share group commits instead of waiting for one
// commit each).
func (s *Server) submit(sess *session, req *pdu.SubmitSM) {
	start := time.Now()
	resp := req.GetResponse().(*pdu.SubmitSMResp)
	acc := s.account(sess)
	wait := s.submitQueued(sess, acc, req, resp)
	sess.answerLater(func() {
		status := wait()
		s.count("submit_sm", status.String())
		sess.respond(req, resp, status)
		if s.metrics != nil {
			s.metrics.Submitted(time.Since(start))
		}
	})
}

// answered is a submit outcome known at once.
func answered(status data.CommandStatusType) func() data.CommandStatusType {
	return func() data.CommandStatusType { return status }
}

// submitQueued validates req and queues its message; the function it
// returns waits for the outcome (and sets resp's message_id).
func (s *Server) submitQueued(sess *session, acc *account, req *pdu.SubmitSM, resp *pdu.SubmitSMResp) func() data.CommandStatusType {
	if acc.limiter != nil && !acc.limiter.Allow() {
		return answered(data.ESME_RTHROTTLED)
	}
	if s.queued.Load() >= int64(s.cfg.MaxQueue) {
		return answered(data.ESME_RMSGQFUL)
	}
	raw, err := req.Message.GetMessageData()
	if err != nil {
		return answered(data.ESME_RINVMSGLEN)
	}
	if udh := req.Message.UDH(); udh != nil && udh.UDHL() > 0 {
		// gosmpp split the header off; put it back for our own parser,
		// which knows 16-bit references and headers with other elements.
		if h, err := udh.MarshalBinary(); err == nil {
			raw = append(h, raw...)
		}
	}
	if payload := tlv(req, pdu.TagMessagePayload); payload != nil {
		if len(raw) > 0 {
			return answered(data.ESME_RINVMSGLEN) // sm_length must be 0 with message_payload
		}
		raw = payload
	}
	var concat *sms.Concat
	if req.EsmClass&0x40 != 0 {
		h, rest, err := sms.ParseUDH(raw)
		if err != nil {
			return answered(data.ESME_RINVESMCLASS)
		}
		raw = rest
		if c, ok := sms.Part(&h, nil); ok {
			concat = &c
		}
	} else if ref := tlv(req, pdu.TagSarMsgRefNum); ref != nil || tlv(req, pdu.TagSarTotalSegments) != nil {
		sar, err := sms.ParseSAR(ref, tlv(req, pdu.TagSarTotalSegments), tlv(req, pdu.TagSarSegmentSeqnum))
		if err != nil {
			return answered(data.ESME_RINVOPTPARAMVAL)
		}
		if c, ok := sms.Part(nil, &sar); ok {
			concat = &c
		}
	}
	coding := sms.CodingDefault
	if enc := req.Message.Encoding(); enc != nil {
		coding = sms.Coding(enc.DataCoding())
	}
	text, err := sms.Decode(coding, raw, acc.DataCoding0)
	switch {
	case errors.Is(err, sms.ErrUnsupportedCoding):
		return answered(data.ESME_RINVPARAM) // data_coding we do not carry (binary, JIS, …)
	case err != nil || text == "":
		return answered(data.ESME_RINVMSGLEN)
	}
	if len(req.SourceAddr.Address()) > 20 { // 21 octets with the terminator (SMPP 3.4 5.2.8)
		return answered(data.ESME_RINVSRCADR)
	}
	to, ok := e164(req.DestAddr.Address(), req.DestAddr.Ton(), acc.DefaultCountry)
	if !ok {
		return answered(data.ESME_RINVDSTADR)
	}
	from := acc.Numbers[0]
	if n := bridge.NormalizePhone(req.SourceAddr.Address()); n != "" {
		for _, own := range acc.Numbers {
			if own == n {
				from = n
			}
		}
	}
	now := time.Now()
	notBefore, err := sms.ParseSMPPTime(req.ScheduleDeliveryTime, now)
	if err != nil {
		return answered(data.ESME_RINVSCHED)
	}
	expires, err := sms.ParseSMPPTime(req.ValidityPeriod, now)
	if err != nil || (!expires.IsZero() && !expires.After(now)) {
		return answered(data.ESME_RINVEXPIRY)
	}
	md := marshalMeta(meta{
		SystemID: acc.SystemID, Source: req.SourceAddr.Address(), SrcTON: req.SourceAddr.Ton(), SrcNPI: req.SourceAddr.Npi(),
		Dest: req.DestAddr.Address(), DstTON: req.DestAddr.Ton(), DstNPI: req.DestAddr.Npi(),
		RD: req.RegisteredDelivery, Text: firstChars(text, 20), ServiceType: req.ServiceType,
	})
	m := &bridge.Message{
		Business: from, Customer: bridge.Customer{Phone: to}, Kind: bridge.KindText,
		Content: bridge.Content{Text: text}, Origin: acc.origin(), OriginData: md, NotBefore: notBefore, ExpiresAt: expires,
	}
	tplTLV := tlv(req, TagTemplate)
	if concat == nil && !s.selectTemplate(m, tplTLV) {
		return answered(data.ESME_RINVOPTPARAMVAL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ResponseTimeout)
	defer cancel()
	var wait func() (bridge.MessageID, bool, error)
	if concat != nil {
		// A part is assembled with the others under a lock: stored before
		// the next submit_sm is read, which keeps the order too.
		p := &bridge.Part{
			Key: fmt.Sprintf("%s>%s#%d/%d/%t", req.SourceAddr.Address(), req.DestAddr.Address(), concat.Ref, concat.Total, concat.Ref16),
			Seq: int(concat.Seq), Total: int(concat.Total), Text: text, Data: md,
		}
		id, _, err := s.bridge.SubmitPart(ctx, m, p, func(parts []bridge.Part, whole *bridge.Message) {
			first, _ := unmarshalMeta(parts[0].Data)
			for _, part := range parts {
				pm, _ := unmarshalMeta(part.Data)
				first.Parts = append(first.Parts, string(part.ID))
				first.PartRD = append(first.PartRD, pm.RD)
			}
			first.Text = firstChars(whole.Content.Text, 20)
			whole.OriginData = marshalMeta(first)
			// The prefix may only be complete in the assembled text; a bad
			// selection then stays plain text (the parts were answered).
			_ = s.selectTemplate(whole, tplTLV)
		})
		wait = func() (bridge.MessageID, bool, error) { return id, true, err }
	} else {
		wait = s.bridge.SubmitQueued(ctx, m)
	}
	return func() data.CommandStatusType {
		id, _, err := wait()
		var re *bridge.RefusedError
		switch {
		case errors.As(err, &re) && re.Field == "to":
			return data.ESME_RINVDSTADR
		case errors.As(err, &re) && re.Field == "text":
			return data.ESME_RINVMSGLEN
		case errors.As(err, &re):
			return data.ESME_RSUBMITFAIL
		case err != nil:
			sess.log.Error("submit_sm not stored", "err", err)
			return data.ESME_RSYSERR
		}
		resp.MessageID = string(id)
		return data.ESME_ROK
	}
}

// TagTemplate is wabridge's TLV (vendor range, SMPP 3.4 5.3.2) selecting
// a template: "name|param1|param2", "name@de_DE|…" for a language; a
// literal "|" in a parameter is written "\|".
const TagTemplate pdu.Tag = 0x1410

// selectTemplate turns an explicit selection — the TLV, or a text starting
// with the configured prefix ("tpl:order_update|12345|Monday") — into a
// template message. It reports false for a TLV that names no template.
func (s *Server) selectTemplate(m *bridge.Message, tlvValue []byte) bool {
	var (
		name   string
		params []string
		ok     bool
	)
	if tlvValue != nil {
		name, params, ok = templates.ParseInline("tlv:"+string(tlvValue), "tlv:")
		if !ok {
			return false
		}
	} else if s.cfg.TemplatePrefix != "" {
		if name, params, ok = templates.ParseInline(m.Content.Text, s.cfg.TemplatePrefix); !ok {
			return true // plain text
		}
	} else {
		return true
	}
	lang := s.cfg.TemplateLanguage
	if n, l, found := strings.Cut(name, "@"); found {
		name, lang = n, l
	}
	m.Kind = bridge.KindTemplate
	m.Content = bridge.Content{Template: &bridge.Template{Name: name, Language: lang, Params: params}}
	return true
}

// e164 reads a destination address as E.164: international numbers as
// they are; national ones (TON 2, or TON 0 without a country code) with
// the account's default country.
func e164(addr string, ton byte, country string) (string, bool) {
	addr = strings.TrimSpace(addr)
	if addr == "" || len(addr) > 20 {
		return "", false
	}
	switch ton {
	case tonInternational:
		n := bridge.NormalizePhone(strings.TrimPrefix(addr, "00"))
		return n, n != ""
	case tonUnknown, tonNational:
		switch {
		case strings.HasPrefix(addr, "+"):
			n := bridge.NormalizePhone(addr)
			return n, n != ""
		case strings.HasPrefix(addr, "00"):
			n := bridge.NormalizePhone(addr[2:])
			return n, n != ""
		case country != "":
			num, err := phonenumbers.Parse(addr, strings.ToUpper(country))
			if err != nil || !phonenumbers.IsPossibleNumber(num) {
				return "", false
			}
			n := phonenumbers.Format(num, phonenumbers.E164)
			return n, bridge.NormalizePhone(n) == n
		case ton == tonUnknown:
			// No country to read it with: take it as international, as
			// most ESMEs send full numbers with TON 0.
			n := bridge.NormalizePhone(addr)
			return n, n != ""
		}
	}
	return "", false
}

// issuedFor reports whether id was returned for m: its own id, or one of
// its parts' (a wamid, say, is not an SMPP message_id).
func issuedFor(m *bridge.Message, id string) bool {
	if string(m.ID) == id {
		return true
	}
	md, _ := unmarshalMeta(m.OriginData)
	for _, p := range md.Parts {
		if p == id {
			return true
		}
	}
	return false
}

func firstChars(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// query answers query_sm from the store.
func (s *Server) query(sess *session, req *pdu.QuerySM) {
	resp := req.GetResponse().(*pdu.QuerySMResp)
	resp.MessageID = req.MessageID
	acc := s.account(sess)
	m, err := s.bridge.Message(context.Background(), req.MessageID)
	if err != nil || m.Origin != acc.origin() || !issuedFor(m, req.MessageID) {
		s.count("query_sm", data.ESME_RQUERYFAIL.String())
		sess.respond(req, resp, data.ESME_RQUERYFAIL)
		return
	}
	stat := statOf(m.Status, m.Reason)
	resp.MessageState = sms.MessageState(stat)
	if m.Status.Final() || m.Status == bridge.StatusDelivered {
		resp.FinalDate = sms.FormatSMPPTime(m.UpdatedAt)
	}
	resp.ErrorCode = byte(errCode(m.Reason) % 256)
	s.count("query_sm", "ok")
	sess.respond(req, resp, data.ESME_ROK)
}

// cancel answers cancel_sm: a queued message whose send has not begun is
// cancelled (and its receipt, if asked, says DELETED).
func (s *Server) cancel(sess *session, req *pdu.CancelSM) {
	acc := s.account(sess)
	_, err := s.bridge.Cancel(context.Background(), bridge.MessageID(req.MessageID), acc.origin())
	status := data.ESME_ROK
	switch {
	case errors.Is(err, bridge.ErrNotFound):
		status = data.ESME_RINVMSGID
	case err != nil:
		status = data.ESME_RCANCELFAIL
	}
	s.count("cancel_sm", status.String())
	sess.respond(req, req.GetResponse(), status)
}
