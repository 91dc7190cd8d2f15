package smppload

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wabridge/wabridge/internal/load"
)

// conn is one transceiver bind: a reader goroutine matching responses to
// their slots and answering the SMSC's requests, and a writer goroutine
// that batches PDUs in a bufio.Writer and flushes when its queue is empty.
type conn struct {
	c       net.Conn
	out     chan []byte
	seq     atomic.Uint32
	tr      *tracker
	mu      sync.Mutex
	pending map[uint32]*slot
	dead    chan struct{}
	once    sync.Once
	err     error
	closing atomic.Bool
	unbound chan struct{}
	onDead  func(error)
}

// slot is one place in a bind's window: at most one submit_sm in flight.
type slot struct {
	c     *conn
	buf   []byte
	dest  []byte
	done  chan result
	timer *time.Timer
	start time.Time
	reg   bool // a final receipt is expected
}

type result struct {
	status uint32
	at     int64 // when the reader read it (unix ns)
}

// dial binds a transceiver.
func dial(addr, systemID, password string, tr *tracker, onDead func(error)) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := nc.Write(appendBindTRX(nil, 1, systemID, password)); err != nil {
		nc.Close()
		return nil, err
	}
	r := bufio.NewReaderSize(nc, 64<<10)
	for {
		h, _, err := readPDU(r, nil)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("bind_transceiver: %w", err)
		}
		if h.id == cmdEnquireLink {
			_, _ = nc.Write(appendResp(nil, cmdEnquireLinkResp, 0, h.seq, "", false))
			continue
		}
		if h.id != cmdBindTRXResp && h.id != cmdGenericNack {
			nc.Close()
			return nil, fmt.Errorf("bind_transceiver: unexpected command 0x%08x", h.id)
		}
		if h.status != statusOK {
			nc.Close()
			return nil, fmt.Errorf("bind_transceiver: %s", statusName(h.status))
		}
		break
	}
	_ = nc.SetDeadline(time.Time{})
	c := &conn{c: nc, out: make(chan []byte, 1024), tr: tr, pending: map[uint32]*slot{},
		dead: make(chan struct{}), unbound: make(chan struct{}), onDead: onDead}
	c.seq.Store(1)
	go c.readLoop(r)
	go c.writeLoop()
	return c, nil
}

func (c *conn) nextSeq() uint32 {
	s := c.seq.Add(1) & 0x7FFFFFFF
	if s == 0 {
		s = c.seq.Add(1) & 0x7FFFFFFF
	}
	return s
}

func (c *conn) fail(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.dead)
		c.c.Close()
		if !c.closing.Load() && c.onDead != nil {
			c.onDead(err)
		}
	})
}

func (c *conn) send(p []byte) bool {
	select {
	case c.out <- p:
		return true
	case <-c.dead:
		return false
	}
}

func (c *conn) writeLoop() {
	w := bufio.NewWriterSize(c.c, 64<<10)
	for {
		select {
		case p := <-c.out:
			if _, err := w.Write(p); err != nil {
				c.fail(err)
				return
			}
			if len(c.out) == 0 {
				if err := w.Flush(); err != nil {
					c.fail(err)
					return
				}
			}
		case <-c.dead:
			return
		}
	}
}

func (c *conn) readLoop(r *bufio.Reader) {
	var buf []byte
	for {
		h, body, err := readPDU(r, buf)
		buf = body
		if err != nil {
			c.fail(fmt.Errorf("read: %w", err))
			return
		}
		switch h.id {
		case cmdSubmitSMResp, cmdGenericNack:
			c.mu.Lock()
			s := c.pending[h.seq]
			delete(c.pending, h.seq)
			c.mu.Unlock()
			if s == nil {
				c.tr.lateResp.Add(1)
				continue
			}
			if h.id == cmdSubmitSMResp && h.status == statusOK {
				off := 0
				id, _ := cstring(body, &off)
				if s.reg {
					// registered here, before the slot is released, so a
					// receipt read next (on any bind) finds it
					c.tr.register(string(id), s.start)
				}
			}
			s.done <- result{status: h.status, at: time.Now().UnixNano()}
		case cmdDeliverSM:
			c.send(appendResp(make([]byte, 0, 17), cmdDeliverSMResp, 0, h.seq, "", true))
			rc, err := parseDeliverSM(body)
			if err != nil {
				c.tr.badDeliver.Add(1)
				continue
			}
			if rc.isReceipt {
				c.tr.receipt(rc, time.Now())
			} else {
				c.tr.mo.Add(1)
			}
		case cmdEnquireLink:
			c.send(appendResp(make([]byte, 0, 16), cmdEnquireLinkResp, 0, h.seq, "", false))
		case cmdUnbind:
			c.send(appendResp(make([]byte, 0, 16), cmdUnbindResp, 0, h.seq, "", false))
			time.Sleep(50 * time.Millisecond) // let the writer send it
			c.fail(errors.New("unbound by the SMSC"))
			return
		case cmdUnbindResp:
			close(c.unbound)
			c.closing.Store(true)
			c.fail(errors.New("unbound"))
			return
		default:
			if h.id&0x80000000 == 0 {
				c.send(appendResp(make([]byte, 0, 16), cmdGenericNack, 0x03, h.seq, "", false))
			}
		}
	}
}

// unbind sends unbind and waits a little for unbind_resp, then closes.
func (c *conn) unbind() {
	c.closing.Store(true)
	if c.send(appendResp(nil, cmdUnbind, 0, c.nextSeq(), "", false)) {
		select {
		case <-c.unbound:
		case <-c.dead:
		case <-time.After(2 * time.Second):
		}
	}
	c.fail(errors.New("closed"))
}

// submitOnce sends s's submit_sm and waits for its response. It returns the
// response, or an error kind ("timeout", "bind_closed").
func (s *slot) submitOnce(msg *submit, timeout time.Duration) (result, string) {
	c := s.c
	seq := c.nextSeq()
	s.buf = appendSubmitSM(s.buf[:0], seq, msg)
	c.mu.Lock()
	c.pending[seq] = s
	c.mu.Unlock()
	if !c.send(s.buf) {
		s.forget(seq)
		return result{}, "bind_closed"
	}
	s.timer.Reset(timeout)
	select {
	case r := <-s.done:
		s.timer.Stop()
		return r, ""
	case <-s.timer.C:
		if s.forget(seq) {
			return result{}, "timeout"
		}
		return <-s.done, "" // answered meanwhile
	case <-c.dead:
		s.timer.Stop()
		if s.forget(seq) {
			return result{}, "bind_closed"
		}
		return <-s.done, ""
	}
}

// forget removes seq from the pending table; false if the reader took it
// (its answer is then on s.done). The buffer may still be queued: a new one
// is used next time.
func (s *slot) forget(seq uint32) bool {
	s.c.mu.Lock()
	_, ok := s.c.pending[seq]
	delete(s.c.pending, seq)
	s.c.mu.Unlock()
	if ok {
		s.buf = nil
	}
	return ok
}

// tracker matches receipts to accepted messages.
type tracker struct {
	mu      sync.Mutex
	started map[string]int64 // message_id → submit start (unix ns); 0 once its final receipt came
	early   map[string]earlyReceipt
	e2e     *load.Recorder

	registered   atomic.Int64
	matched      atomic.Int64 // first final receipts of registered messages
	lastFinal    atomic.Int64 // unix ns
	duplicates   atomic.Int64
	intermediate atomic.Int64
	lateResp     atomic.Int64
	badDeliver   atomic.Int64
	mo           atomic.Int64
}

type earlyReceipt struct {
	at   int64
	stat string
}

func newTracker() *tracker {
	return &tracker{started: map[string]int64{}, early: map[string]earlyReceipt{}, e2e: load.NewRecorder()}
}

func (t *tracker) register(id string, start time.Time) {
	st := start.UnixNano()
	t.mu.Lock()
	e, early := t.early[id]
	if early {
		delete(t.early, id)
		t.started[id] = 0
	} else {
		t.started[id] = st
	}
	t.mu.Unlock()
	t.registered.Add(1)
	if early {
		t.final(st, e.at, e.stat)
	}
}

func (t *tracker) receipt(r receipt, now time.Time) {
	if !r.final {
		t.intermediate.Add(1)
		return
	}
	at := now.UnixNano()
	t.mu.Lock()
	st, ok := t.started[string(r.id)]
	if ok && st != 0 {
		t.started[string(r.id)] = 0
	} else if !ok {
		// its submit_sm_resp has not been read yet (or it is unknown)
		t.early[string(r.id)] = earlyReceipt{at: at, stat: r.stat}
	}
	t.mu.Unlock()
	switch {
	case ok && st != 0:
		t.final(st, at, r.stat)
	case ok:
		t.duplicates.Add(1)
	}
}

func (t *tracker) final(start, at int64, stat string) {
	if stat == "DELIVRD" {
		t.e2e.Observe(time.Duration(at - start))
	} else {
		t.e2e.Error(stat)
	}
	t.matched.Add(1)
	for {
		l := t.lastFinal.Load()
		if at <= l || t.lastFinal.CompareAndSwap(l, at) {
			break
		}
	}
}

// missing counts registered messages without a final receipt, and receipts
// that matched nothing.
func (t *tracker) missing() (missing, unmatched int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, st := range t.started {
		if st != 0 {
			missing++
		}
	}
	return missing, len(t.early)
}
