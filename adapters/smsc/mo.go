package smsc

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/linxGnu/gosmpp/data"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/sms"
)

// recentTTL is how long an MO's content hash is remembered to give a
// redelivered message the WAMID of the first delivery.
const recentTTL = 10 * time.Minute

// ackRef is a deliver_sm (or data_sm) to answer.
type ackRef struct {
	s   *session
	seq int32
	cmd data.CommandIDType
}

// moItem is an event waiting to be stored, with the PDUs to answer once
// it is.
type moItem struct {
	ev     bridge.SMSEvent
	acks   []ackRef
	entry  *concatEntry // a reassembled message
	held   []int        // the entry's parts answered with acks
	recent *recentMO    // what Client.recent remembers of the MO
}

// recentMO remembers the WAMID given to an MO's content.
type recentMO struct {
	wamid string
	at    time.Time
	state int
}

// recentMO states.
const (
	moPending = iota // being stored
	moAcking         // stored, the answer being written
	moAcked          // stored and answered ESME_ROK
	moUnacked        // stored, but the answer was not written: a redelivery is this one
	moFailed         // not stored (answered ESME_RX_T_APPN)
)

// concatKey identifies a concatenated MO.
type concatKey struct {
	src, dst string
	ref      uint16
	total    uint8
	ref16    bool
}

// concatEntry collects the parts of a concatenated MO.
type concatEntry struct {
	key             concatKey
	first           time.Time
	parts           [][]byte
	have            []bool
	n               int
	coding          sms.Coding
	gsm             bool
	dc              byte
	locking, single byte
	id              string
	held            []heldPart // parts not answered yet
	heldSince       time.Time
	// Parts answered ESME_RX_T_APPN after a failed store: the SMSC
	// redelivers them, and the message waits for them.
	awaiting []bool
	nAwait   int
	// For reassembled entries: when stored, and whether the store is
	// done (false while being stored).
	storedAt time.Time
	final    bool
}

// heldPart is the unanswered deliver_sm of part i.
type heldPart struct {
	ack ackRef
	i   int
}

// onDeliver handles a deliver_sm or data_sm (from the reader goroutine).
func (c *Client) onDeliver(s *session, p rawPDU) {
	ack := ackRef{s: s, seq: p.seq, cmd: p.cmd}
	now := time.Now()
	in, err := decodeInbound(p, now, c.cfg.DataCoding0)
	if err != nil {
		c.observe("deliver_rejected")
		c.log.Warn("smsc: deliver_sm refused for good", "err", err)
		c.answer(ack, data.ESME_RX_P_APPN, nil)
		return
	}
	if s.unbinding.Load() {
		c.answer(ack, data.ESME_RX_T_APPN, nil)
		return
	}
	switch in.kind {
	case inIgnore:
		c.log.Debug("smsc: deliver_sm ignored", "why", in.why)
		if strings.HasPrefix(in.why, "receipt") {
			c.observe("receipt_unmatched")
			c.log.Warn("smsc: receipt without a message id dropped")
		}
		c.answer(ack, data.ESME_ROK, nil)
	case inReceipt:
		ev := in.receipt
		ev.Route = c.cfg.Name
		c.enqueue(&moItem{ev: ev, acks: []ackRef{ack}})
	case inMO:
		m := in.mo
		if m.concat == nil {
			c.moMu.Lock()
			wamid, rec := c.moWAMIDLocked(m.id, moHash(m.src, m.dst, m.dataCoding, "", m.data), now)
			c.moMu.Unlock()
			c.enqueue(&moItem{ev: bridge.SMSEvent{Route: c.cfg.Name, MO: moMessage(c.cfg.Name, wamid, m.src, m.dst, m.text, now)},
				acks: []ackRef{ack}, recent: rec})
			return
		}
		item, status := c.addPart(m, ack, now)
		if item != nil {
			c.enqueue(item)
		} else if status >= 0 {
			c.answer(ack, data.CommandStatusType(status), nil)
		}
	}
}

// answer writes the response to a deliver_sm / data_sm on its session (if
// that session is gone the SMSC redelivers).
func (c *Client) answer(a ackRef, st data.CommandStatusType, done func(error)) {
	r := response(a.cmd)
	if r == nil {
		return
	}
	a.s.write(encode(r, a.seq, st), done)
}

// enqueue hands an item to the storing goroutine; when too many wait, it
// is refused for now (ESME_RX_T_APPN) rather than blocking the reader.
func (c *Client) enqueue(it *moItem) {
	c.moInFlight.Add(1)
	select {
	case c.moQ <- it:
	default:
		c.moInFlight.Add(-1)
		c.log.Warn("smsc: too many events waiting to be stored; deferring")
		c.finish(it, false)
	}
}

// moLoop stores events in batches and answers their PDUs.
func (c *Client) moLoop() {
	defer c.wg.Done()
	for {
		var first *moItem
		select {
		case first = <-c.moQ:
		case <-c.runExited:
			// No session any more: nothing can be answered.
			for {
				select {
				case it := <-c.moQ:
					c.moInFlight.Add(-1)
					c.finish(it, false)
				default:
					return
				}
			}
		}
		batch := []*moItem{first}
	fill:
		for len(batch) < 128 {
			select {
			case it := <-c.moQ:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		events := make([]bridge.SMSEvent, len(batch))
		for i, it := range batch {
			events[i] = it.ev
		}
		err := c.handle(c.hard, events)
		if err != nil {
			c.observe("deliver_tempfail")
			c.log.Warn("smsc: storing receipts/messages failed; the SMSC will redeliver", "events", len(events), "err", err)
		}
		for _, it := range batch {
			c.finish(it, err == nil)
			c.moInFlight.Add(-1)
		}
	}
}

// finish answers an item's PDUs: ESME_ROK when stored, else
// ESME_RX_T_APPN (the SMSC redelivers later).
func (c *Client) finish(it *moItem, stored bool) {
	st := data.ESME_ROK
	if !stored {
		st = data.ESME_RX_T_APPN
	}
	if stored {
		if it.ev.MO != nil {
			c.observe("mo")
		} else {
			c.observe("receipt")
		}
	}
	c.moMu.Lock()
	if r := it.recent; r != nil {
		r.state = moFailed
		if stored {
			r.state = moAcking
		}
	}
	if e := it.entry; e != nil {
		if stored {
			e.final, e.storedAt, e.held = true, time.Now(), nil
		} else {
			c.putBackLocked(e, it.held)
		}
	}
	c.moMu.Unlock()
	var done func(error)
	if r := it.recent; stored && r != nil {
		done = func(err error) {
			c.moMu.Lock()
			if r.state == moAcking {
				r.state = moAcked
				if err != nil {
					r.state = moUnacked
				}
			}
			c.moMu.Unlock()
		}
	}
	for i, a := range it.acks {
		if i == len(it.acks)-1 {
			c.answer(a, st, done)
		} else {
			c.answer(a, st, nil)
		}
	}
}

// moWAMIDLocked returns the id of an MO: the SMSC's own id when it sent
// one (receipted_message_id), else the content hash plus the reception
// time, so that the same text sent twice is two messages. A redelivery of
// a message stored but not acknowledged (the answer was lost with the
// connection) gets the first delivery's id, and the store keeps one.
func (c *Client) moWAMIDLocked(smscID, hash string, now time.Time) (string, *recentMO) {
	if smscID != "" {
		return smscID, nil
	}
	if r := c.recent[hash]; r != nil && (r.state == moUnacked || r.state == moFailed) && now.Sub(r.at) < recentTTL {
		r.state, r.at = moPending, now
		return r.wamid, r
	}
	c.moSeq++
	r := &recentMO{wamid: hash + "." + strconv.FormatInt(now.UnixMilli(), 36) + "." + strconv.FormatUint(c.moSeq%1296, 36),
		at: now, state: moPending}
	c.recent[hash] = r
	return r.wamid, r
}

// addPart adds a part of a concatenated MO. It returns the reassembled
// message once complete; else status is the answer to send now (-1: the
// answer is held until the message is stored or ConcatHold passes).
func (c *Client) addPart(m *moPart, a ackRef, now time.Time) (*moItem, int) {
	k := concatKey{src: m.src, dst: m.dst, ref: m.concat.Ref, total: m.concat.Total, ref16: m.concat.Ref16}
	i := int(m.concat.Seq) - 1
	c.moMu.Lock()
	defer c.moMu.Unlock()
	if d := c.stored[k]; d != nil && d.have[i] && bytes.Equal(d.parts[i], m.data) {
		// A part of a message already reassembled, redelivered.
		if d.final {
			return nil, int(data.ESME_ROK)
		}
		return nil, int(data.ESME_RX_T_APPN) // being stored: ask again later
	}
	e := c.concat[k]
	if e == nil {
		e = &concatEntry{key: k, first: now, parts: make([][]byte, k.total), have: make([]bool, k.total),
			awaiting: make([]bool, k.total), coding: m.coding, gsm: m.gsm, dc: m.dataCoding, locking: m.locking, single: m.single}
		c.concat[k] = e
	}
	if !e.have[i] {
		e.have[i] = true
		e.n++
	}
	if e.awaiting[i] {
		e.awaiting[i] = false
		e.nAwait--
	}
	e.parts[i] = m.data
	if m.id != "" && e.id == "" {
		e.id = m.id
	}
	e.held = append(e.held, heldPart{a, i})
	if e.heldSince.IsZero() {
		e.heldSince = now
	}
	if e.n < int(k.total) || e.nAwait > 0 {
		return nil, -1
	}
	delete(c.concat, k)
	return c.assembleLocked(e, now), -1
}

// assembleLocked builds the message of an entry, complete or not (missing
// parts show as "…"), and records it as being stored.
func (c *Client) assembleLocked(e *concatEntry, now time.Time) *moItem {
	var sb strings.Builder
	var run []byte
	flush := func() {
		if len(run) > 0 {
			sb.WriteString(decodeText(e.coding, e.gsm, run, c.cfg.DataCoding0, e.locking, e.single))
			run = run[:0]
		}
	}
	for i, ok := range e.have {
		if !ok {
			flush()
			sb.WriteString("…")
			continue
		}
		run = append(run, e.parts[i]...)
	}
	flush()
	ref := strconv.Itoa(int(e.key.ref)) + "/" + strconv.Itoa(int(e.key.total)) + "/" + strconv.FormatBool(e.key.ref16)
	wamid, rec := c.moWAMIDLocked(e.id, moHash(e.key.src, e.key.dst, e.dc, ref, e.parts...), now)
	acks := make([]ackRef, len(e.held))
	held := make([]int, len(e.held))
	for i, h := range e.held {
		acks[i], held[i] = h.ack, h.i
	}
	e.held, e.heldSince, e.final = nil, time.Time{}, false
	c.stored[e.key] = e
	return &moItem{ev: bridge.SMSEvent{Route: c.cfg.Name, MO: moMessage(c.cfg.Name, wamid, e.key.src, e.key.dst, sb.String(), now)},
		acks: acks, entry: e, held: held, recent: rec}
}

// putBackLocked returns a message whose storing failed to reassembly: the
// parts answered ESME_RX_T_APPN (held) are awaited again; parts answered
// earlier (after ConcatHold) are not redelivered, so they are kept.
func (c *Client) putBackLocked(e *concatEntry, held []int) {
	if c.stored[e.key] == e {
		delete(c.stored, e.key)
	}
	e.held, e.heldSince, e.final = nil, time.Time{}, false
	for _, i := range held {
		if !e.awaiting[i] {
			e.awaiting[i] = true
			e.nAwait++
		}
	}
	if cur := c.concat[e.key]; cur != nil {
		for i, ok := range e.have {
			if ok && !cur.have[i] {
				cur.have[i], cur.parts[i] = true, e.parts[i]
				cur.n++
			}
		}
		if e.first.Before(cur.first) {
			cur.first = e.first
		}
		return
	}
	c.concat[e.key] = e
}

// sweepLoop answers held parts after ConcatHold, reports incomplete
// messages after ConcatTimeout and forgets old state.
func (c *Client) sweepLoop() {
	defer c.wg.Done()
	tick := min(min(c.cfg.ConcatHold, c.cfg.ConcatTimeout)/2, time.Second)
	t := time.NewTicker(max(tick, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.runExited:
			return
		case <-t.C:
		}
		c.sweep(time.Now())
	}
}

func (c *Client) sweep(now time.Time) {
	var rel []ackRef
	var items []*moItem
	c.moMu.Lock()
	for k, e := range c.concat {
		switch {
		case now.Sub(e.first) >= c.cfg.ConcatTimeout:
			delete(c.concat, k)
			c.log.Warn("smsc: concatenated message incomplete; reporting the parts received",
				"received", e.n, "total", e.key.total)
			items = append(items, c.assembleLocked(e, now))
		case len(e.held) > 0 && now.Sub(e.heldSince) >= c.cfg.ConcatHold:
			// Acknowledge what we hold in memory rather than make the
			// SMSC time out; the parts now live in memory only.
			for _, h := range e.held {
				rel = append(rel, h.ack)
			}
			e.held, e.heldSince = nil, time.Time{}
		}
	}
	for k, e := range c.stored {
		if e.final && now.Sub(e.storedAt) >= c.cfg.ConcatTimeout {
			delete(c.stored, k)
		}
	}
	for k, r := range c.recent {
		if now.Sub(r.at) >= recentTTL {
			delete(c.recent, k)
		}
	}
	c.moMu.Unlock()
	for _, a := range rel {
		c.answer(a, data.ESME_ROK, nil)
	}
	for _, it := range items {
		c.enqueue(it)
	}
}
