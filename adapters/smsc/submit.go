package smsc

import (
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/sms"
)

// part is one submit_sm of a submission.
type part struct {
	ticket uint64 // queue order: submissions in arrival order, parts in order
	index  int    // position in the queue, -1 when not queued
	sub    *submission
	n      int    // part number - 1
	pdu    []byte // the encoded submit_sm; the sequence number is set per send
	done   bool   // accepted, failed or dropped
	// last refusal that is retried (throttling), for the error when ctx ends
	lastStatus data.CommandStatusType
}

// encode returns the submit_sm with sequence number seq.
func (p *part) encode(seq int32) []byte {
	b := append([]byte(nil), p.pdu...)
	binary.BigEndian.PutUint32(b[12:], uint32(seq))
	return b
}

// submission is one SubmitSMS call.
type submission struct {
	parts  []*part
	ids    []string
	ok     []bool
	left   int // parts neither accepted, failed nor dropped
	err    *bridge.SendError
	gone   bool // the caller stopped waiting
	done   chan struct{}
	closed bool
}

// settle counts one part as finished and wakes the caller after the last.
func (s *submission) settle() {
	s.left--
	if s.left == 0 && !s.closed {
		s.closed = true
		close(s.done)
	}
}

// partQueue orders the parts waiting to be sent by ticket (a min-heap), so
// that parts coming back (throttled, or unanswered when the link dropped)
// go out again before later submissions and in their original order.
type partQueue struct{ parts []*part }

func (q *partQueue) Len() int           { return len(q.parts) }
func (q *partQueue) Less(i, j int) bool { return q.parts[i].ticket < q.parts[j].ticket }
func (q *partQueue) Swap(i, j int) {
	q.parts[i], q.parts[j] = q.parts[j], q.parts[i]
	q.parts[i].index, q.parts[j].index = i, j
}
func (q *partQueue) Push(x any) {
	p := x.(*part)
	p.index = len(q.parts)
	q.parts = append(q.parts, p)
}
func (q *partQueue) Pop() any {
	n := len(q.parts) - 1
	p := q.parts[n]
	q.parts[n] = nil
	q.parts = q.parts[:n]
	p.index = -1
	return p
}
func (q *partQueue) remove(p *part) {
	if p.index >= 0 {
		heap.Remove(q, p.index)
	}
}

// SubmitSMS implements bridge.SMSRoute. The text is encoded as GSM 03.38
// (data_coding 0) when it fits the alphabet, else UCS-2 (data_coding 8),
// and split into parts of at most 153 septets / 67 UTF-16 units with an
// 8-bit-reference concatenation UDH (esm_class 0x40), never splitting an
// escape sequence or a surrogate pair. Every part asks for a receipt
// (registered_delivery 1). It returns once every part was accepted, with
// the SMSC's message ids in part order.
//
// While the link is down, the SMSC throttles (ESME_RTHROTTLED,
// ESME_RMSGQFUL) or the link drops with parts in flight, parts wait and
// are (re)sent; when ctx ends first the error is ActionRetry. A refusal of
// the message is final (ActionPermanent, ReasonInvalid for addresses,
// else ReasonUpstreamError, Code the command_status), except
// ESME_RSYSERR and ESME_RX_T_APPN, which are ActionRetry. Parts accepted
// before a failure are listed in a *bridge.SMSSubmitError.
func (c *Client) SubmitSMS(ctx context.Context, m bridge.SMS) ([]string, error) {
	parts, err := c.build(m)
	if err != nil {
		return nil, err
	}
	sub := &submission{parts: parts, ids: make([]string, len(parts)), ok: make([]bool, len(parts)),
		left: len(parts), done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, retryError("the SMS route is closed", nil)
	}
	for i, p := range parts {
		c.tickets++
		p.ticket, p.sub, p.n, p.index = c.tickets, sub, i, -1
		heap.Push(&c.queue, p)
	}
	c.mu.Unlock()
	c.signal()

	select {
	case <-sub.done:
	case <-ctx.Done():
		c.mu.Lock()
		sub.gone = true
		for _, p := range sub.parts {
			if p.index >= 0 {
				c.queue.remove(p)
				p.done = true
				sub.settle()
			}
		}
		c.mu.Unlock()
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var accepted []string
	for i, ok := range sub.ok {
		if ok {
			accepted = append(accepted, sub.ids[i])
		}
	}
	se := sub.err
	if se == nil && len(accepted) == len(sub.parts) {
		return sub.ids, nil
	}
	if se == nil {
		se = retryError("not every part was accepted in time", ctx.Err())
		for _, p := range sub.parts {
			if !sub.ok[p.n] && p.lastStatus != 0 {
				se.Code, se.Title = int(p.lastStatus), p.lastStatus.String()
				break
			}
		}
	}
	if len(accepted) > 0 {
		return nil, &bridge.SMSSubmitError{SendError: se, PartIDs: accepted}
	}
	return nil, se
}

// build encodes and splits the message into submit_sm PDUs.
func (c *Client) build(m bridge.SMS) ([]*part, error) {
	dst, ok := e164Digits(m.To)
	if !ok {
		return nil, invalid(fmt.Sprintf("destination %q is not an E.164 number", m.To))
	}
	src, tn, ok := c.cfg.source(m.From, c.cfg.AllowAlphanumericSource)
	if !ok {
		if c.cfg.DefaultSource == "" {
			if m.From == "" {
				return nil, invalid("no sender, and the route has no default source")
			}
			return nil, invalid(fmt.Sprintf("sender %q is not a number and the route does not allow this alphanumeric sender", m.From))
		}
		src, tn, _ = c.cfg.source(c.cfg.DefaultSource, true)
	}
	if m.Text == "" {
		return nil, invalid("empty text")
	}
	coding, chunks := sms.Split(m.Text)
	if len(chunks) > 255 {
		return nil, invalid(fmt.Sprintf("text needs %d parts, at most 255 can be concatenated", len(chunks)))
	}
	enc := data.GSM7BIT // data_coding 0: GSM 03.38, one septet per octet
	if coding == sms.CodingUCS2 {
		enc = data.UCS2 // data_coding 8
	}
	ref := uint16(c.ref.Add(1) & 0xFF)
	parts := make([]*part, len(chunks))
	for i, chunk := range chunks {
		sm := pdu.NewSubmitSM().(*pdu.SubmitSM)
		sm.SourceAddr = pdu.NewAddressWithTonNpi(tn.TON, tn.NPI)
		if err := sm.SourceAddr.SetAddress(src); err != nil {
			return nil, invalid(err.Error())
		}
		sm.DestAddr = pdu.NewAddressWithTonNpi(tonInternational, npiISDN)
		if err := sm.DestAddr.SetAddress(dst); err != nil {
			return nil, invalid(err.Error())
		}
		sm.RegisteredDelivery = registeredDelivery1
		body := chunk
		if len(chunks) > 1 {
			sm.EsmClass = esmUDHI
			body = append(sms.ConcatUDH(ref, uint8(len(chunks)), uint8(i+1), false), chunk...)
		}
		msg, err := pdu.NewBinaryShortMessageWithEncoding(body, enc)
		if err != nil {
			return nil, invalid(err.Error())
		}
		sm.Message = msg
		parts[i] = &part{pdu: encode(sm, 1, data.ESME_ROK), index: -1}
	}
	return parts, nil
}

func invalid(msg string) *bridge.SendError {
	return &bridge.SendError{Action: bridge.ActionPermanent, Reason: bridge.ReasonInvalid, Title: msg}
}

func retryError(title string, err error) *bridge.SendError {
	return &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError, Title: title, Err: err}
}

// statusError classifies a refusal of a submit_sm.
func statusError(st data.CommandStatusType) *bridge.SendError {
	se := &bridge.SendError{Code: int(st), Title: st.String(), Action: bridge.ActionPermanent, Reason: bridge.ReasonUpstreamError}
	switch st {
	case data.ESME_RINVSRCADR, data.ESME_RINVDSTADR,
		data.ESME_RINVSRCTON, data.ESME_RINVSRCNPI, data.ESME_RINVDSTTON, data.ESME_RINVDSTNPI:
		se.Reason = bridge.ReasonInvalid
	case data.ESME_RSYSERR, data.ESME_RX_T_APPN:
		// The SMSC's own temporary failures: the core retries later.
		se.Action = bridge.ActionRetry
	}
	return se
}

// nextPart waits until a part may be sent on s: one is queued, no
// throttling pause is on, and the throughput limit allows it. nil when
// the session or the client closes.
func (c *Client) nextPart(s *session) *part {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil
		}
		wait := time.Duration(-1)
		if d := time.Until(c.pauseUntil); d > 0 {
			wait = d
		} else if c.queue.Len() > 0 {
			if c.limiter == nil {
				p := heap.Pop(&c.queue).(*part)
				c.mu.Unlock()
				return p
			}
			c.mu.Unlock()
			if err := c.limiter.Wait(s.ctx); err != nil {
				return nil
			}
			c.mu.Lock()
			if !c.closed && !time.Now().Before(c.pauseUntil) && c.queue.Len() > 0 {
				p := heap.Pop(&c.queue).(*part)
				c.mu.Unlock()
				return p
			}
			c.mu.Unlock()
			continue
		}
		c.mu.Unlock()
		var tc <-chan time.Time
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			tc = timer.C
		}
		select {
		case <-c.wake:
		case <-tc:
		case <-s.closing:
			return nil
		}
	}
}

// submitResult applies a submit_sm_resp (or generic_nack).
func (c *Client) submitResult(s *session, pd *pending, p rawPDU) {
	st := p.status
	if p.cmd != data.SUBMIT_SM_RESP && st == data.ESME_ROK {
		st = data.ESME_RINVCMDID // generic_nack without a status
	}
	switch st {
	case data.ESME_ROK:
		c.observe("submit_ok")
		c.mu.Lock()
		c.throttles = 0
		c.resolveLocked(pd.part, messageID(p.body), nil)
		c.mu.Unlock()
	case data.ESME_RTHROTTLED, data.ESME_RMSGQFUL:
		c.observe("submit_throttled")
		c.throttled(pd.part, pd.sent, st)
	case data.ESME_RINVBNDSTS:
		// The SMSC no longer considers us bound: bind again and resend.
		// Close first, so that the part is not sent on this session again.
		c.observe("submit_resend")
		s.close("the SMSC answered " + st.String())
		c.requeue(pd.part)
	default:
		c.observe("submit_error")
		se := statusError(st)
		c.log.Info("smsc: submit_sm refused", "status", st.String(), "action", se.Action.String())
		c.mu.Lock()
		c.resolveLocked(pd.part, "", se)
		c.mu.Unlock()
	}
}

// throttled pauses submissions on the link and puts the part back. The
// pause grows only for parts sent after the current pause began, so a
// window full of refusals counts once.
func (c *Client) throttled(p *part, sent time.Time, st data.CommandStatusType) {
	c.mu.Lock()
	p.lastStatus = st
	if !sent.Before(c.pauseStart) {
		now := time.Now()
		c.throttles++
		d := bridge.Backoff(c.cfg.ThrottleMin, c.cfg.ThrottleMax, c.throttles)
		c.pauseStart, c.pauseUntil = now, now.Add(d)
		c.log.Info("smsc: throttled; pausing submissions", "status", st.String(), "pause", d)
	}
	c.requeueLocked(p)
	c.mu.Unlock()
	c.signal()
}

// requeue puts a part back in the queue to be (re)sent, unless its caller
// is gone, its submission failed, or the client closed.
func (c *Client) requeue(p *part) {
	c.mu.Lock()
	c.requeueLocked(p)
	c.mu.Unlock()
	c.signal()
}

func (c *Client) requeueLocked(p *part) {
	switch {
	case p.done || p.index >= 0:
	case c.closed:
		c.resolveLocked(p, "", retryError("the SMS route is closing", nil))
	case p.sub.gone || p.sub.err != nil:
		p.done = true
		p.sub.settle()
	default:
		heap.Push(&c.queue, p)
	}
}

// resolveLocked records a part's outcome. A failure fails the submission:
// its parts still queued are dropped; those in flight still settle.
func (c *Client) resolveLocked(p *part, id string, se *bridge.SendError) {
	if p.done {
		return
	}
	p.done = true
	sub := p.sub
	if se == nil {
		sub.ids[p.n], sub.ok[p.n] = id, true
	} else if sub.err == nil {
		sub.err = se
		for _, q := range sub.parts {
			if q.index >= 0 {
				c.queue.remove(q)
				q.done = true
				sub.settle()
			}
		}
	}
	sub.settle()
}
