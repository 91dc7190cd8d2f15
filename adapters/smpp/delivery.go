package smpp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/sms"
)

// Vendor TLVs carrying WhatsApp's outcome in receipts (SMPP 3.4 reserves
// 0x1400–0x3FFF for SMSC vendors). Documented in docs/smpp.md.
const (
	TagWhatsAppError   pdu.Tag = 0x1400 // 4 octets: Meta's error code
	TagWhatsAppReason  pdu.Tag = 0x1401 // C-string: wabridge's reason
	TagWhatsAppChannel pdu.Tag = 0x1402 // C-string: whatsapp or sms
	TagWhatsAppID      pdu.Tag = 0x1403 // C-string: the wamid
)

// errCodes is the err:NNN of receipts (and query_sm's error_code) per
// reason: one documented table (docs/smpp.md).
var errCodes = map[bridge.Reason]int{
	"":                              0,
	bridge.ReasonNotOnWhatsApp:      1,
	bridge.ReasonWindowClosed:       2,
	bridge.ReasonTemplateError:      3,
	bridge.ReasonUpstreamError:      4,
	bridge.ReasonAccountError:       5,
	bridge.ReasonInvalid:            6,
	bridge.ReasonOptedOut:           7,
	bridge.ReasonNoTemplate:         8,
	bridge.ReasonUSMarketingBlocked: 9,
	bridge.ReasonTierLimit:          10,
	bridge.ReasonExpired:            11,
	bridge.ReasonCancelled:          12,
	bridge.ReasonMediaTooLarge:      13,
	bridge.ReasonMediaUnsupported:   14,
	bridge.ReasonMediaUnavailable:   15,
}

func errCode(r bridge.Reason) int {
	if c, ok := errCodes[r]; ok {
		return c
	}
	return 99
}

// statOf maps a message's status to a receipt's stat (docs/smpp.md):
// queued/sent → ENROUTE, delivered/read → DELIVRD, failed → UNDELIV, or
// EXPIRED / DELETED / REJECTD for expiry, cancellation and refusals.
func statOf(st bridge.Status, reason bridge.Reason) string {
	switch st {
	case bridge.StatusDelivered, bridge.StatusRead:
		return sms.StatDelivered
	case bridge.StatusFailed:
		switch reason {
		case bridge.ReasonExpired:
			return sms.StatExpired
		case bridge.ReasonCancelled:
			return sms.StatDeleted
		case bridge.ReasonOptedOut, bridge.ReasonUSMarketingBlocked, bridge.ReasonTierLimit, bridge.ReasonInvalid:
			return sms.StatRejected
		}
		return sms.StatUndeliverable
	}
	return sms.StatEnroute
}

// Owns implements bridge.StatusReporter.
func (s *Server) Owns(origin string) bool {
	_, ok := s.accounts[strings.TrimPrefix(origin, "smpp:")]
	return strings.HasPrefix(origin, "smpp:") && ok
}

var _ bridge.JobReporter = (*Server)(nil)

// Report implements bridge.StatusReporter: it queues the receipts
// ReportJobs names (for report jobs; the store normally queues them itself
// in the commit that changed the status).
func (s *Server) Report(ctx context.Context, m *bridge.Message) error {
	for _, j := range s.ReportJobs(m) {
		if err := s.jobs.EnqueueJob(ctx, j.Kind, j.Ref, time.Now()); err != nil {
			return err
		}
	}
	s.Kick()
	return nil
}

// ReportJobs implements bridge.JobReporter: a receipt job when the
// submitter asked for one (registered_delivery), at most one final receipt
// per message: read after delivered is not reported again. One receipt per
// id the ESME was given, as that submit_sm asked: the message's, or each
// part's.
func (s *Server) ReportJobs(m *bridge.Message) []bridge.JobRef {
	md, err := unmarshalMeta(m.OriginData)
	if err != nil {
		return nil // not ours to word; nothing to retry
	}
	acc := s.accounts[md.SystemID]
	if acc == nil {
		return nil
	}
	ids, rds := md.Parts, md.PartRD
	if len(ids) == 0 {
		ids, rds = []string{string(m.ID)}, []byte{md.RD}
	}
	var jobs []bridge.JobRef
	data := ""
	for i, pid := range ids {
		if i >= len(rds) || !wantsReceipt(rds[i], m) {
			continue
		}
		if data == "" {
			data = receiptDataOf(md, m)
		}
		jobs = append(jobs, bridge.JobRef{Kind: queueKind(acc), Ref: "dlr/" + string(m.ID) + "/" + string(m.Status) + "/" + pid, Data: data})
	}
	return jobs
}

// receiptData is a receipt job's data: the receipt's fields as the status
// change left the message, so sending the receipt reads no message row
// (that read was a twentieth of the daemon's time per SMPP message).
type receiptData struct {
	Meta      meta   `json:"m"` // addresses and text only
	Created   int64  `json:"c"` // unix ms: the receipt's submit date
	Done      int64  `json:"d"` // unix ms: its done date
	Channel   string `json:"ch,omitempty"`
	WAMID     string `json:"w,omitempty"`
	Reason    string `json:"r,omitempty"`
	ErrorCode int    `json:"e,omitempty"`
}

// receiptDataOf encodes m's receipt fields; "" when m lacks its submit
// time (a store that did not read it): the receipt then reads the message.
func receiptDataOf(md meta, m *bridge.Message) string {
	if m.CreatedAt.IsZero() {
		return ""
	}
	d := receiptData{
		Meta: meta{Source: md.Source, SrcTON: md.SrcTON, SrcNPI: md.SrcNPI,
			Dest: md.Dest, DstTON: md.DstTON, DstNPI: md.DstNPI, Text: md.Text},
		Created: m.CreatedAt.UnixMilli(), Done: m.UpdatedAt.UnixMilli(),
		Channel: string(m.Channel), WAMID: m.WAMID, Reason: string(m.Reason), ErrorCode: m.ErrorCode,
	}
	return string(marshalReceiptData(d))
}

// receiptFromData is the receipt a job's data describes for message id in
// status st; false when the data is not a receipt's (then the message is read).
func receiptFromData(data, id string, st bridge.Status) (meta, *bridge.Message, bool) {
	d, err := unmarshalReceiptData([]byte(data))
	if err != nil || d.Created == 0 {
		return meta{}, nil, false
	}
	return d.Meta, &bridge.Message{ID: bridge.MessageID(id), Status: st,
		CreatedAt: time.UnixMilli(d.Created), UpdatedAt: time.UnixMilli(d.Done),
		Channel: bridge.Channel(d.Channel), WAMID: d.WAMID, Reason: bridge.Reason(d.Reason), ErrorCode: d.ErrorCode}, true
}

// Kick implements bridge.JobReporter: every account's delivery loop looks
// at its queue.
func (s *Server) Kick() {
	for _, acc := range s.accounts {
		poke(acc.wake)
	}
}

// wantsReceipt applies registered_delivery (bits 0–1: 1 = final receipt,
// 2 = final receipt on failure only; bit 4 = intermediate receipts).
func wantsReceipt(rd byte, m *bridge.Message) bool {
	switch m.Status {
	case bridge.StatusSent:
		return rd&0x10 != 0
	case bridge.StatusRead:
		// The final receipt went out with delivered only if delivered came
		// first: read may arrive before delivered (Meta does not order
		// webhooks), and then read is the final one.
		for _, h := range m.History {
			if h.Status == bridge.StatusRead {
				break
			}
			if h.Status == bridge.StatusDelivered {
				return false
			}
		}
		return rd&0x03 == 1
	case bridge.StatusDelivered:
		return rd&0x03 == 1
	case bridge.StatusFailed:
		return rd&0x03 == 1 || rd&0x03 == 2
	}
	return false
}

// Wants implements bridge.InboundConsumer: some account lists the number.
func (s *Server) Wants(business string) bool {
	for _, acc := range s.accounts {
		for _, n := range acc.Numbers {
			if n == business {
				return true
			}
		}
	}
	return false
}

// Deliver implements bridge.InboundConsumer: it queues the reply for every
// account listing the business number, delivered when a receiver binds.
func (s *Server) Deliver(ctx context.Context, m *bridge.Message) error {
	for _, acc := range s.accounts {
		for _, n := range acc.Numbers {
			if n != m.Business {
				continue
			}
			if err := s.jobs.EnqueueJob(ctx, queueKind(acc), "mo/"+string(m.ID), time.Now()); err != nil {
				return err
			}
			poke(acc.wake)
		}
	}
	return nil
}

func queueKind(acc *account) string { return "smpp:" + acc.SystemID }

// receiver picks a bound receiver or transceiver of the account (round robin).
func (acc *account) receiver() *session {
	acc.mu.Lock()
	defer acc.mu.Unlock()
	var rx []*session
	for sess := range acc.binds {
		if sess.getState().canReceive() {
			rx = append(rx, sess)
		}
	}
	if len(rx) == 0 {
		return nil
	}
	acc.rr++
	return rx[acc.rr%len(rx)]
}

// deliveryLoop sends the account's queued receipts and replies, oldest
// first, whenever a receiver is bound.
func (s *Server) deliveryLoop(acc *account) {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if acc.receiver() != nil && bridge.JobsDue(context.Background(), s.jobs, queueKind(acc), time.Now()) {
			jobs, err := s.jobs.ClaimJobs(context.Background(), queueKind(acc), time.Now(), 64, 2*time.Minute)
			if err != nil {
				s.log.Error("smpp: claim deliveries", "system_id", acc.SystemID, "err", err)
			}
			failed, failedJob := s.deliverBatch(acc, jobs)
			if failed != nil {
				if s.metrics != nil {
					s.metrics.Delivery(strings.SplitN(failedJob.Ref, "/", 2)[0], "retry")
				}
				pause := bridge.Backoff(time.Second, 5*time.Minute, failedJob.Attempts)
				pause += time.Duration(rand.Int64N(int64(pause)/4 + 1))
				s.log.Info("smpp: delivery paused", "system_id", acc.SystemID, "ref", failedJob.Ref, "retry_in", pause, "err", failed)
				select {
				case <-s.stop:
					return
				case <-time.After(pause):
				}
				continue
			}
			if len(jobs) == 64 {
				select {
				case <-s.stop:
					return
				default:
					continue
				}
			}
		}
		select {
		case <-s.stop:
			return
		case <-acc.wake:
		case <-t.C:
		}
	}
}

// inFlight is a deliver_sm written to the ESME whose response is awaited.
type inFlight struct {
	job  bridge.Job
	kind string
	wait func() (pdu.PDU, error)
}

// deliverBatch sends claimed jobs in queue order. Single-PDU deliveries
// are pipelined up to the session's window (written in order, responses
// awaited together) and the delivered ones are finished in one commit; a
// multi-part reply waits for what is in flight, then goes part by part.
// On a temporary refusal, a timeout or a lost session it returns the
// error and the job: that job and every job not yet delivered are put
// back in their places (the queue pauses); deliveries written after it
// and answered ESME_ROK stay delivered — with a window, they may reach
// the ESME before the one retried.
func (s *Server) deliverBatch(acc *account, jobs []bridge.Job) (error, bridge.Job) {
	ctx := context.Background()
	var done []string
	var flight []inFlight
	var failed error
	var failedJob bridge.Job
	// release puts jobs[from:] back, with the failure that stopped the
	// batch or, when the server is stopping, that.
	release := func(from int) {
		why := "the SMPP server stopped"
		if failed != nil {
			why = failed.Error()
		}
		for _, rest := range jobs[from:] {
			_ = s.jobs.ReleaseJob(ctx, rest.Kind, rest.Ref, why)
		}
	}
	// settleOne waits for the oldest delivery in flight; the first failure wins.
	settleOne := func() {
		f := flight[0]
		flight = flight[1:]
		resp, err := f.wait()
		if err == nil {
			err = s.checkResponse(acc, f.job, f.kind, resp)
		}
		switch {
		case errors.Is(err, errDropped):
		case err != nil:
			if failed == nil {
				failed, failedJob = err, f.job
			}
			_ = s.jobs.ReleaseJob(ctx, f.job.Kind, f.job.Ref, err.Error())
		default:
			done = append(done, f.job.Ref)
			if s.metrics != nil {
				s.metrics.Delivery(f.kind, "ok")
			}
		}
	}
	// settle waits for everything in flight.
	settle := func() {
		for len(flight) > 0 {
			settleOne()
		}
	}
	for i, job := range jobs {
		select {
		case <-s.stop:
			settle()
			s.finishAll(acc, done)
			release(i)
			return nil, bridge.Job{}
		default:
		}
		if id, ok := strings.CutPrefix(job.Ref, "xpart/"); ok {
			// An expired part's receipt: after what is in flight.
			settle()
			err := failed
			if err == nil {
				err = s.deliverExpired(acc, job, bridge.MessageID(id))
			}
			if err != nil {
				s.finishAll(acc, done)
				if failed == nil {
					failed, failedJob = err, job
				}
				release(i)
				return failed, failedJob
			}
			continue
		}
		kind, pdus, handled := s.prepare(acc, job)
		if handled {
			continue
		}
		if len(pdus) == 1 {
			// A full window frees its oldest slot first: responses are
			// read by the session, slots freed by waiting for them.
			if sess := acc.receiver(); sess != nil && len(flight) >= cap(sess.window) {
				settleOne()
			}
			sess := acc.receiver()
			var wait func() (pdu.PDU, error)
			err := errors.New("no receiver bound")
			if sess != nil {
				wait, err = sess.start(ctx, pdus[0])
			}
			if err == nil {
				flight = append(flight, inFlight{job: job, kind: kind, wait: wait})
				continue
			}
			settle()
			if failed == nil {
				failed, failedJob = err, job
			}
			s.finishAll(acc, done)
			release(i)
			return failed, failedJob
		}
		settle()
		if failed != nil {
			s.finishAll(acc, done)
			release(i)
			return failed, failedJob
		}
		ok, err := s.send(acc, job, kind, pdus)
		if ok {
			done = append(done, job.Ref)
			if s.metrics != nil {
				s.metrics.Delivery(kind, "ok")
			}
		}
		if err != nil {
			s.finishAll(acc, done)
			failed, failedJob = err, job
			release(i)
			return failed, failedJob
		}
	}
	settle()
	s.finishAll(acc, done)
	if failed != nil {
		return failed, failedJob
	}
	return nil, bridge.Job{}
}

// errDropped: the ESME refused a delivery for good (already finished).
var errDropped = errors.New("smpp: delivery dropped")

// checkResponse judges a deliver_sm_resp: nil when delivered, errDropped
// (the job finished) for a permanent refusal, an error to retry otherwise.
func (s *Server) checkResponse(acc *account, job bridge.Job, kind string, resp pdu.PDU) error {
	switch st := resp.GetHeader().CommandStatus; st {
	case data.ESME_ROK:
		return nil
	case data.ESME_RX_P_APPN, data.ESME_RX_R_APPN:
		s.log.Warn("smpp: ESME refused a deliver_sm for good; dropped", "system_id", acc.SystemID,
			"ref", job.Ref, "status", st.String())
		s.finish(acc, job, kind, "refused")
		return errDropped
	default:
		return fmt.Errorf("deliver_sm_resp %s", st)
	}
}

// finishAll ends delivered jobs in one commit.
func (s *Server) finishAll(acc *account, refs []string) {
	if err := s.jobs.FinishJobs(context.Background(), queueKind(acc), refs); err != nil {
		s.log.Error("smpp: finish deliveries", "system_id", acc.SystemID, "err", err)
	}
}

// prepare turns a queued receipt or reply into the PDUs to deliver.
// handled is true when the job needs no delivery (finished here: gone,
// unknown, skipped).
func (s *Server) prepare(acc *account, job bridge.Job) (kind string, pdus []pdu.PDU, handled bool) {
	ctx := context.Background()
	f := strings.Split(job.Ref, "/")
	kind = f[0]
	if len(f) < 2 {
		s.finish(acc, job, kind, "unknown")
		return kind, nil, true
	}
	if kind == "dlr" && len(f) >= 3 && job.Data != "" {
		if md, m, ok := receiptFromData(job.Data, f[1], bridge.Status(f[2])); ok {
			return kind, []pdu.PDU{receiptPDUOf(md, m, receiptedID(m, f))}, false
		}
	}
	m, err := s.bridge.MessageHead(ctx, f[1]) // a receipt or reply needs no history
	if err != nil {
		s.finish(acc, job, kind, "gone")
		return kind, nil, true
	}
	switch {
	case kind == "dlr" && len(f) >= 3:
		m.Status = bridge.Status(f[2])
		return kind, []pdu.PDU{receiptPDU(m, receiptedID(m, f))}, false
	case kind == "mo":
		pdus, err = moPDUs(acc, m)
		if err != nil {
			s.log.Warn("smpp: reply not deliverable over SMPP; kept for other consumers", "message_id", m.ID, "err", err)
			s.finish(acc, job, kind, "skipped")
			return kind, nil, true
		}
		return kind, pdus, false
	}
	s.finish(acc, job, kind, "unknown")
	return kind, nil, true
}

// send delivers pdus in order to a receiver of the account. ok is false
// when the job was dropped (a permanent refusal) or must wait (err set).
func (s *Server) send(acc *account, job bridge.Job, kind string, pdus []pdu.PDU) (ok bool, err error) {
	for _, p := range pdus {
		sess := acc.receiver()
		if sess == nil {
			return false, errors.New("no receiver bound")
		}
		resp, err := sess.request(context.Background(), p)
		if err != nil {
			return false, err
		}
		switch st := resp.GetHeader().CommandStatus; st {
		case data.ESME_ROK:
		case data.ESME_RX_P_APPN, data.ESME_RX_R_APPN:
			s.log.Warn("smpp: ESME refused a deliver_sm for good; dropped", "system_id", acc.SystemID,
				"ref", job.Ref, "status", st.String())
			s.finish(acc, job, kind, "refused")
			return false, nil
		default:
			return false, fmt.Errorf("deliver_sm_resp %s", st)
		}
	}
	return true, nil
}

// deliverExpired sends the EXPIRED receipt of a part whose message never
// completed, then forgets the part.
func (s *Server) deliverExpired(acc *account, job bridge.Job, id bridge.MessageID) error {
	p, err := s.jobs.Part(context.Background(), id)
	if err != nil {
		s.finish(acc, job, "xpart", "gone")
		return nil
	}
	m := &bridge.Message{ID: id, Status: bridge.StatusFailed, Reason: bridge.ReasonExpired, OriginData: p.Data,
		CreatedAt: p.ReceivedAt, UpdatedAt: time.Now(), Channel: bridge.ChannelWhatsApp}
	ok, err := s.send(acc, job, "xpart", []pdu.PDU{receiptPDU(m, string(id))})
	if ok {
		_ = s.jobs.DeletePart(context.Background(), id)
		s.finish(acc, job, "xpart", "ok")
	}
	return err
}

// expireParts ends concatenated submissions that did not complete within
// PartTimeout: each part gets an EXPIRED receipt when one was asked for.
func (s *Server) expireParts() {
	defer s.wg.Done()
	t := time.NewTicker(min(s.cfg.PartTimeout/4, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		parts, err := s.jobs.ExpireParts(context.Background(), time.Now().Add(-s.cfg.PartTimeout))
		if err != nil {
			s.log.Error("smpp: expire parts", "err", err)
			continue
		}
		for _, p := range parts {
			md, _ := unmarshalMeta(p.Data)
			acc := s.accounts[md.SystemID]
			if acc == nil || md.RD&0x03 == 0 {
				_ = s.jobs.DeletePart(context.Background(), p.ID)
				continue
			}
			s.log.Info("smpp: concatenated message never completed; part expired", "system_id", md.SystemID, "part_id", p.ID)
			if err := s.jobs.EnqueueJob(context.Background(), queueKind(acc), "xpart/"+string(p.ID), time.Now()); err != nil {
				s.log.Error("smpp: queue expiry receipt", "err", err)
				continue
			}
			poke(acc.wake)
		}
	}
}

func (s *Server) finish(acc *account, job bridge.Job, kind, result string) {
	if err := s.jobs.FinishJob(context.Background(), job.Kind, job.Ref); err != nil {
		s.log.Error("smpp: finish delivery", "ref", job.Ref, "err", err)
	}
	if s.metrics != nil {
		s.metrics.Delivery(kind, result)
	}
}

// receiptPDU builds the delivery receipt for m's status (SMPP 3.4
// Appendix B): esm_class 0x04, the receipt text, receipted_message_id
// (the id of submit_sm_resp, exactly), message_state, network_error_code
// on failure, and the vendor TLVs with WhatsApp's code and reason.
func receiptPDU(m *bridge.Message, receipted string) pdu.PDU {
	md, _ := unmarshalMeta(m.OriginData)
	return receiptPDUOf(md, m, receipted)
}

// receiptedID is the id a receipt job's ref (dlr/<message>/<status>[/<id>])
// receipts: the part's, or the message's.
func receiptedID(m *bridge.Message, ref []string) string {
	if len(ref) == 4 {
		return ref[3]
	}
	return string(m.ID)
}

// receiptPDUOf is receiptPDU with the message's origin data decoded (md).
func receiptPDUOf(md meta, m *bridge.Message, receipted string) pdu.PDU {
	stat := statOf(m.Status, m.Reason)
	code := errCode(m.Reason)
	dlvrd := 0
	if stat == sms.StatDelivered {
		dlvrd = 1
	}
	text := sms.FormatReceipt(sms.Receipt{ID: receipted, Sub: 1, Dlvrd: dlvrd, Submit: m.CreatedAt, Done: m.UpdatedAt,
		Stat: stat, Err: fmt.Sprintf("%03d", code), Text: md.Text})
	p := pdu.NewDeliverSM().(*pdu.DeliverSM)
	p.SourceAddr = address(md.DstTON, md.DstNPI, md.Dest)
	p.DestAddr = address(md.SrcTON, md.SrcNPI, md.Source)
	p.EsmClass = 0x04 // SMSC delivery receipt
	if stat == sms.StatEnroute {
		p.EsmClass = 0x20 // intermediate delivery notification (SMPP 3.4 5.2.12)
	}
	p.Message, _ = pdu.NewBinaryShortMessageWithEncoding([]byte(text), data.GSM7BIT)
	p.RegisterOptionalParam(pdu.Field{Tag: pdu.TagReceiptedMessageID, Data: cString(receipted)})
	p.RegisterOptionalParam(pdu.Field{Tag: pdu.TagMessageStateOption, Data: []byte{sms.MessageState(stat)}})
	channel := string(m.Channel)
	if channel == "" {
		channel = string(bridge.ChannelWhatsApp)
	}
	p.RegisterOptionalParam(pdu.Field{Tag: TagWhatsAppChannel, Data: cString(channel)})
	if m.WAMID != "" {
		p.RegisterOptionalParam(pdu.Field{Tag: TagWhatsAppID, Data: cString(m.WAMID)})
	}
	if m.Status == bridge.StatusFailed {
		nec := []byte{3, byte(code >> 8), byte(code)} // network type 3 (GSM), then the err code
		p.RegisterOptionalParam(pdu.Field{Tag: pdu.TagNetworkErrorCode, Data: nec})
		var wa [4]byte
		binary.BigEndian.PutUint32(wa[:], uint32(m.ErrorCode))
		p.RegisterOptionalParam(pdu.Field{Tag: TagWhatsAppError, Data: wa[:]})
		p.RegisterOptionalParam(pdu.Field{Tag: TagWhatsAppReason, Data: cString(string(m.Reason))})
	}
	return p
}

func address(ton, npi byte, addr string) pdu.Address {
	a := pdu.NewAddressWithTonNpi(ton, npi)
	_ = a.SetAddress(addr)
	return a
}

// moPDUs renders a customer's message as deliver_sm: GSM 7-bit when the
// text fits the alphabet, else UCS-2; long text as one message_payload or
// as UDH parts (per account).
func moPDUs(acc *account, m *bridge.Message) ([]pdu.PDU, error) {
	src := pdu.NewAddressWithTonNpi(tonInternational, 1)
	switch {
	case m.Customer.Phone != "":
		_ = src.SetAddress(strings.TrimPrefix(m.Customer.Phone, "+"))
	case acc.AlphanumericSource && len(m.Customer.BSUID) <= 20:
		src = pdu.NewAddressWithTonNpi(tonAlphanumeric, 0)
		_ = src.SetAddress(m.Customer.BSUID)
	default:
		return nil, errors.New("the customer has no phone number (business-scoped user id only)")
	}
	dst := pdu.NewAddressWithTonNpi(tonInternational, 1)
	_ = dst.SetAddress(strings.TrimPrefix(m.Business, "+"))
	text := renderText(m)
	coding, parts := sms.Split(text)
	enc := data.Encoding(data.GSM7BIT)
	if coding == sms.CodingUCS2 {
		enc = data.UCS2
	}
	mk := func() *pdu.DeliverSM {
		p := pdu.NewDeliverSM().(*pdu.DeliverSM)
		p.SourceAddr, p.DestAddr = src, dst
		return p
	}
	if len(parts) == 1 {
		p := mk()
		p.Message, _ = pdu.NewBinaryShortMessageWithEncoding(parts[0], enc)
		return []pdu.PDU{p}, nil
	}
	if acc.LongMO == "payload" {
		_, all := sms.Encode(text)
		p := mk()
		p.Message, _ = pdu.NewBinaryShortMessageWithEncoding(nil, enc)
		p.RegisterOptionalParam(pdu.Field{Tag: pdu.TagMessagePayload, Data: all})
		return []pdu.PDU{p}, nil
	}
	if len(parts) > 255 {
		return nil, errors.New("reply too long for concatenated SMS")
	}
	ref := uint16(rand.IntN(256))
	out := make([]pdu.PDU, 0, len(parts))
	for i, part := range parts {
		p := mk()
		p.EsmClass = 0x40
		body := append(sms.ConcatUDH(ref, uint8(len(parts)), uint8(i+1), false), part...)
		p.Message, _ = pdu.NewBinaryShortMessageWithEncoding(body, enc)
		out = append(out, p)
	}
	return out, nil
}
