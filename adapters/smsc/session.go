package smsc

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// session is one bound connection. One goroutine reads (the serving
// one), one writes (every PDU goes through out), one sends submit_sm
// (sendLoop) and one watches the link (monitor).
type session struct {
	c      *Client
	conn   net.Conn
	ctx    context.Context // cancelled on close
	cancel context.CancelFunc

	out    chan outMsg
	seq    atomic.Int32
	window chan struct{} // a slot per submit_sm awaiting its response

	mu      sync.Mutex
	pending map[int32]*pending // our requests awaiting a response
	closed  bool

	lastRead  atomic.Int64 // unix nanos of the last PDU read
	unbinding atomic.Bool  // we sent (or are about to send) unbind

	closing   chan struct{}
	closeOnce sync.Once
	reason    string // why the session closed (set once, before closing is closed)
	wg        sync.WaitGroup
}

type pendingKind int

const (
	pendingSubmit pendingKind = iota
	pendingEnquire
	pendingUnbind
)

// pending is a request of ours awaiting its response.
type pending struct {
	kind pendingKind
	part *part
	sent time.Time
	resp chan rawPDU // pendingUnbind
}

// outMsg is an encoded PDU to write; done (optional) learns whether it
// was flushed to the connection.
type outMsg struct {
	b    []byte
	done func(error)
}

var (
	errSessionClosed = errors.New("smsc: session closed")
	errUnbound       = errors.New("smsc: the SMSC unbound")
)

func newSession(c *Client, conn net.Conn) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		c: c, conn: conn, ctx: ctx, cancel: cancel,
		out:     make(chan outMsg, 256),
		window:  make(chan struct{}, c.cfg.Window),
		pending: make(map[int32]*pending),
		closing: make(chan struct{}),
	}
	s.lastRead.Store(time.Now().UnixNano())
	return s
}

// nextSeq returns the next sequence number (1 … 0x7FFFFFFF).
func (s *session) nextSeq() int32 {
	for {
		v := s.seq.Add(1)
		if v > 0 {
			return v
		}
		s.seq.CompareAndSwap(v, 0)
	}
}

// bind sends bind_transceiver and waits for its response, answering
// enquire_link meanwhile.
func (s *session) bind() error {
	cfg := &s.c.cfg
	req := pdu.NewBindTransceiver().(*pdu.BindRequest)
	req.SystemID, req.Password, req.SystemType = cfg.SystemID, cfg.Password, cfg.SystemType
	req.InterfaceVersion = data.SMPP_V34
	seq := s.nextSeq()
	deadline := time.Now().Add(cfg.ResponseTimeout)
	_ = s.conn.SetDeadline(deadline)
	defer func() { _ = s.conn.SetDeadline(time.Time{}) }()
	if _, err := s.conn.Write(encode(req, seq, data.ESME_ROK)); err != nil {
		return err
	}
	r := bufio.NewReader(s.conn)
	for {
		p, err := readPDU(r)
		if err != nil {
			return fmt.Errorf("smsc: waiting for bind_transceiver_resp: %w", err)
		}
		switch {
		case p.cmd == data.ENQUIRE_LINK:
			if _, err := s.conn.Write(encode(pdu.NewEnquireLinkResp(), p.seq, data.ESME_ROK)); err != nil {
				return err
			}
		case p.seq == seq && (p.cmd == data.BIND_TRANSCEIVER_RESP || p.cmd == data.GENERIC_NACK):
			if p.status != data.ESME_ROK {
				return &bindError{status: p.status}
			}
			if p.cmd == data.GENERIC_NACK {
				return &bindError{status: data.ESME_RINVCMDID}
			}
			if r.Buffered() > 0 {
				// The SMSC sent more right after the response: keep it.
				s.conn = &bufferedConn{Conn: s.conn, r: r}
			}
			return nil
		default:
			// Nothing else is expected before the bind completes; a
			// deliver_sm left unanswered is redelivered.
			s.c.log.Debug("smsc: PDU before bind_transceiver_resp ignored", "command_id", p.cmd.String())
		}
	}
}

// bufferedConn reads what a bufio.Reader already buffered first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// serve runs a bound session until it ends, then puts the submit_sm
// still awaiting a response back in the queue (they are resent after the
// rebind).
func (c *Client) serve(s *session) {
	s.wg.Add(3)
	go s.writeLoop()
	go s.monitor()
	go s.sendLoop()
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.cur = s
	}
	c.mu.Unlock()
	if closed {
		// Close began while we were binding: leave at once.
		go s.unbind(c.hard)
	}
	c.signal()
	c.observe("bound")
	c.log.Info("smsc: bound", "addr", c.addr, "system_id", c.cfg.SystemID)

	err := s.readLoop()
	reason := "connection lost"
	switch {
	case errors.Is(err, errUnbound):
		reason = "the SMSC unbound"
	case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed):
		reason = err.Error()
	}
	s.close(reason)
	c.mu.Lock()
	if c.cur == s {
		c.cur = nil
	}
	c.mu.Unlock()
	s.wg.Wait()
	s.drainOut() // what was queued while the writer stopped
	resent := s.requeuePending()
	c.observe("disconnect")
	if c.stopping() && s.unbinding.Load() {
		c.log.Info("smsc: unbound", "reason", s.reason)
		return
	}
	c.log.Warn("smsc: link down", "reason", s.reason, "resend", resent)
}

// close ends the session (idempotent); the first reason is kept.
func (s *session) close(reason string) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.reason = reason
		close(s.closing)
		s.cancel()
		_ = s.conn.Close()
	})
}

// requeuePending hands the unanswered submit_sm back to the queue and
// reports how many there were.
func (s *session) requeuePending() int {
	s.mu.Lock()
	ps := s.pending
	s.pending = map[int32]*pending{}
	s.mu.Unlock()
	n := 0
	for _, pd := range ps {
		switch pd.kind {
		case pendingSubmit:
			n++
			s.c.observe("submit_resend")
			s.c.requeue(pd.part)
		case pendingUnbind:
			close(pd.resp)
		}
	}
	return n
}

// write queues a PDU for the writer; false once the session is closing
// (done, if any, is then called with errSessionClosed).
func (s *session) write(b []byte, done func(error)) bool {
	select {
	case <-s.closing:
	default:
		select {
		case s.out <- outMsg{b, done}:
			return true
		case <-s.closing:
		}
	}
	if done != nil {
		done(errSessionClosed)
	}
	return false
}

// writeWait writes a PDU and waits until it was flushed (or the session
// closed, or timeout).
func (s *session) writeWait(b []byte, timeout time.Duration) error {
	res := make(chan error, 1)
	if !s.write(b, func(err error) { res <- err }) {
		return errSessionClosed
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-res:
		return err
	case <-s.closing:
		return errSessionClosed
	case <-t.C:
		return errors.New("smsc: write timed out")
	}
}

func (s *session) writeLoop() {
	defer s.wg.Done()
	w := bufio.NewWriterSize(s.conn, 16<<10)
	var dones []func(error)
	for {
		select {
		case m := <-s.out:
			_, err := w.Write(m.b)
			if m.done != nil {
				dones = append(dones, m.done)
			}
			// Batch what is queued into one write.
			for err == nil && len(s.out) > 0 {
				m = <-s.out
				_, err = w.Write(m.b)
				if m.done != nil {
					dones = append(dones, m.done)
				}
			}
			if err == nil {
				_ = s.conn.SetWriteDeadline(time.Now().Add(s.c.cfg.ResponseTimeout))
				err = w.Flush()
			}
			for _, d := range dones {
				d(err)
			}
			dones = dones[:0]
			if err != nil {
				s.close("write failed: " + err.Error())
				s.drainOut()
				return
			}
		case <-s.closing:
			s.drainOut()
			return
		}
	}
}

// drainOut fails what is still queued for writing.
func (s *session) drainOut() {
	for {
		select {
		case m := <-s.out:
			if m.done != nil {
				m.done(errSessionClosed)
			}
		default:
			return
		}
	}
}

// readLoop reads and dispatches PDUs until the connection ends.
func (s *session) readLoop() error {
	r := bufio.NewReaderSize(s.conn, 16<<10)
	for {
		p, err := readPDU(r)
		if err != nil {
			return err
		}
		s.lastRead.Store(time.Now().UnixNano())
		if p.cmd&data.GENERIC_NACK != 0 {
			// A response (generic_nack included) to one of our requests.
			s.onResponse(p)
			continue
		}
		switch p.cmd {
		case data.DELIVER_SM, data.DATA_SM:
			s.c.onDeliver(s, p)
		case data.ENQUIRE_LINK:
			s.write(encode(pdu.NewEnquireLinkResp(), p.seq, data.ESME_ROK), nil)
		case data.UNBIND:
			_ = s.writeWait(encode(pdu.NewUnbindResp(), p.seq, data.ESME_ROK), s.c.cfg.ResponseTimeout)
			return errUnbound
		case data.ALERT_NOTIFICATION:
			// No response exists for it; nothing to do.
		default:
			// outbind, anything we do not serve.
			s.write(encode(pdu.NewGenericNack(), p.seq, data.ESME_RINVCMDID), nil)
		}
	}
}

// onResponse matches a response to its request.
func (s *session) onResponse(p rawPDU) {
	s.mu.Lock()
	pd := s.pending[p.seq]
	delete(s.pending, p.seq)
	s.mu.Unlock()
	if pd == nil {
		s.c.log.Debug("smsc: response to no request of ours", "command_id", p.cmd.String(), "seq", p.seq)
		return
	}
	switch pd.kind {
	case pendingSubmit:
		<-s.window
		s.c.submitResult(s, pd, p)
	case pendingUnbind:
		pd.resp <- p
	}
}

// request registers a request of ours and writes it.
func (s *session) request(pd *pending, b []byte) bool {
	seq := int32(binary.BigEndian.Uint32(b[12:]))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	pd.sent = time.Now()
	s.pending[seq] = pd
	s.mu.Unlock()
	// If the write fails the session closes, and the request is
	// requeued from pending.
	s.write(b, nil)
	return true
}

// sendLoop submits queued parts while the session lives, one window
// slot each.
func (s *session) sendLoop() {
	defer s.wg.Done()
	for {
		select {
		case s.window <- struct{}{}:
		case <-s.closing:
			return
		}
		p := s.c.nextPart(s)
		if p == nil {
			return
		}
		if !s.request(&pending{kind: pendingSubmit, part: p}, p.encode(s.nextSeq())) {
			s.c.requeue(p)
			return
		}
	}
}

// monitor sends enquire_link when the link is idle and closes the
// session when the SMSC is silent for two intervals or leaves a request
// unanswered for ResponseTimeout.
func (s *session) monitor() {
	defer s.wg.Done()
	el, rt := s.c.cfg.EnquireLink, s.c.cfg.ResponseTimeout
	tick := min(min(el, rt)/4, time.Second)
	tick = max(tick, time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
		}
		now := time.Now()
		idle := now.Sub(time.Unix(0, s.lastRead.Load()))
		if idle >= 2*el {
			s.close(fmt.Sprintf("nothing from the SMSC for %s", idle.Round(time.Millisecond)))
			return
		}
		var oldest time.Time
		enquiring := false
		s.mu.Lock()
		for _, pd := range s.pending {
			if oldest.IsZero() || pd.sent.Before(oldest) {
				oldest = pd.sent
			}
			if pd.kind == pendingEnquire {
				enquiring = true
			}
		}
		s.mu.Unlock()
		if !oldest.IsZero() && now.Sub(oldest) >= rt {
			s.close(fmt.Sprintf("a request unanswered for %s", now.Sub(oldest).Round(time.Millisecond)))
			return
		}
		if idle >= el && !enquiring && !s.unbinding.Load() {
			s.request(&pending{kind: pendingEnquire}, encode(pdu.NewEnquireLink(), s.nextSeq(), data.ESME_ROK))
		}
	}
}

// unbind ends the session gracefully (Close): no new submit_sm (the
// client is closed), deliver_sm arriving from now on are answered
// ESME_RX_T_APPN, the submit_sm in flight get their responses and the
// events being stored are answered (within ResponseTimeout), then unbind
// is sent and its response awaited.
func (s *session) unbind(ctx context.Context) {
	if s.unbinding.Swap(true) {
		select { // another Close is at it
		case <-s.closing:
		case <-ctx.Done():
		}
		return
	}
	deadline := time.Now().Add(s.c.cfg.ResponseTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n == 0 && s.c.moInFlight.Load() == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			s.close("closing")
			return
		case <-s.closing:
			return
		}
	}
	pd := &pending{kind: pendingUnbind, resp: make(chan rawPDU, 1)}
	if s.request(pd, encode(pdu.NewUnbind(), s.nextSeq(), data.ESME_ROK)) {
		t := time.NewTimer(s.c.cfg.ResponseTimeout)
		select {
		case <-pd.resp:
		case <-t.C:
		case <-ctx.Done():
		case <-s.closing:
		}
		t.Stop()
	}
	s.close("closing")
}
