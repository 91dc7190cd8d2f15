package smpp

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// maxPDU bounds command_length: a submit_sm with a full 64 KiB
// message_payload and its fields fits.
const maxPDU = 70 << 10

// bindState is where a session stands.
type bindState int32

const (
	stateOpen bindState = iota // connected, not bound
	stateTX                    // bound_tx
	stateRX                    // bound_rx
	stateTRX                   // bound_trx
	stateClosed
)

func (s bindState) canSubmit() bool  { return s == stateTX || s == stateTRX }
func (s bindState) canReceive() bool { return s == stateRX || s == stateTRX }

// session is one ESME connection. One goroutine reads; one writes (every
// PDU goes through out); requests the server sends (deliver_sm,
// enquire_link, unbind) take a window slot until answered.
type session struct {
	srv    *Server
	conn   net.Conn
	remote netip.Addr
	log    *slog.Logger

	state   atomic.Int32
	account *Account

	out      chan outgoing
	seq      atomic.Int32
	window   chan struct{}
	mu       sync.Mutex
	pending  map[int32]chan pdu.PDU
	lastRead atomic.Int64 // unix nanos
	closing  chan struct{}
	closeOne sync.Once
	done     chan struct{}

	// answers carries the answers of pipelined requests (submit_sm), run
	// in the order the requests were read, each once its outcome is known
	// (see answerLater); made with its goroutine at the first one, so a
	// session that never submits costs neither. inflight counts the ones
	// not yet answered: an unbind waits for them.
	answers     chan func()
	answersDone chan struct{}
	inflight    sync.WaitGroup
}

// maxPipelined bounds the submit_sm read ahead of their answers; past it
// the read loop waits (TCP pushes back on the ESME).
const maxPipelined = 256

func (s *session) getState() bindState { return bindState(s.state.Load()) }

func newSession(srv *Server, conn net.Conn) *session {
	ap, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
	s := &session{
		srv: srv, conn: conn, remote: ap.Addr(),
		log:     srv.log.With("remote", conn.RemoteAddr().String()),
		out:     make(chan outgoing, 256),
		window:  make(chan struct{}, srv.cfg.Window),
		pending: map[int32]chan pdu.PDU{},
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.lastRead.Store(time.Now().UnixNano())
	return s
}

// nextSeq returns this session's next sequence number (1 … 0x7FFFFFFF).
func (s *session) nextSeq() int32 {
	for {
		v := s.seq.Add(1)
		if v > 0 {
			return v
		}
		s.seq.CompareAndSwap(v, 0)
	}
}

// run serves the connection until it closes.
func (s *session) run() {
	defer close(s.done)
	defer s.srv.forget(s)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop()
	}()
	go s.keepalive()
	err := s.readLoop()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		s.log.Info("smpp session ended", "err", err)
	}
	if s.answers != nil {
		// Requests already read are answered (their messages are stored
		// either way) while the connection may still carry the answers.
		close(s.answers)
		<-s.answersDone
	}
	s.close()
	<-writerDone
	s.conn.Close()
	s.failPending()
}

// answerLater queues fn, the answer of the request just read, behind the
// answers of earlier ones; it runs on the session's answer goroutine.
// Only the read loop calls it.
func (s *session) answerLater(fn func()) {
	if s.answers == nil {
		s.answers = make(chan func(), maxPipelined)
		s.answersDone = make(chan struct{})
		go func() {
			defer close(s.answersDone)
			for fn := range s.answers {
				fn()
				s.inflight.Done()
			}
		}()
	}
	s.inflight.Add(1)
	s.answers <- fn
}

// close stops the session (idempotent).
func (s *session) close() {
	s.closeOne.Do(func() {
		s.state.Store(int32(stateClosed))
		close(s.closing)
		// Unblock the reader.
		_ = s.conn.SetReadDeadline(time.Now())
	})
}

func (s *session) writeLoop() {
	w := bufio.NewWriterSize(s.conn, 16<<10)
	for {
		select {
		case p := <-s.out:
			if err := s.writePDU(w, p); err != nil {
				s.close()
				return
			}
			// Batch what is queued into one write.
			for len(s.out) > 0 {
				if err := s.writePDU(w, <-s.out); err != nil {
					s.close()
					return
				}
			}
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.ResponseTimeout))
			if err := w.Flush(); err != nil {
				s.close()
				return
			}
		case <-s.closing:
			// Drain what was queued before the close (e.g. an unbind_resp).
			for len(s.out) > 0 {
				_ = s.writePDU(w, <-s.out)
			}
			_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
			_ = w.Flush()
			return
		}
	}
}

// outgoing is a PDU to write with its command_status (gosmpp offers no
// setter for it, so the writer patches the marshalled header).
type outgoing struct {
	p      pdu.PDU
	status data.CommandStatusType
}

func (s *session) writePDU(w *bufio.Writer, o outgoing) error {
	buf := pdu.NewBuffer(make([]byte, 0, 64))
	o.p.Marshal(buf)
	b := buf.Bytes()
	if len(b) >= 16 {
		binary.BigEndian.PutUint32(b[8:12], uint32(o.status))
		if o.status != data.ESME_ROK && bodyless(data.CommandIDType(binary.BigEndian.Uint32(b[4:8]))) {
			// SMPP 3.4 4.1 and 4.4: the body of these responses is not
			// returned when command_status is not 0.
			b = b[:16]
			binary.BigEndian.PutUint32(b[0:4], 16)
		}
	}
	_, err := w.Write(b)
	return err
}

// bodyless lists the responses sent without a body on error.
// bind_transceiver_resp keeps its system_id: clients such as gosmpp always
// read it, and a body is tolerated by every client that expects none.
func bodyless(cmd data.CommandIDType) bool {
	switch cmd {
	case data.BIND_TRANSMITTER_RESP, data.BIND_RECEIVER_RESP, data.SUBMIT_SM_RESP:
		return true
	}
	return false
}

// send queues a PDU for the writer; false once the session is closing.
func (s *session) send(p pdu.PDU) bool { return s.sendStatus(p, data.ESME_ROK) }

func (s *session) sendStatus(p pdu.PDU, status data.CommandStatusType) bool {
	select {
	case <-s.closing:
		return false
	default:
	}
	select {
	case s.out <- outgoing{p, status}:
		return true
	case <-s.closing:
		return false
	}
}

// respond answers a request with resp carrying the request's sequence number.
func (s *session) respond(req pdu.PDU, resp pdu.PDU, status data.CommandStatusType) {
	resp.SetSequenceNumber(req.GetSequenceNumber())
	s.sendStatus(resp, status)
}

// request sends a request PDU of ours and waits for its response (or the
// response timeout, or the session's end). It holds a window slot meanwhile.
func (s *session) request(ctx context.Context, p pdu.PDU) (pdu.PDU, error) {
	wait, err := s.start(ctx, p)
	if err != nil {
		return nil, err
	}
	return wait()
}

// start takes a window slot and queues p for writing before it returns, so
// PDUs started one after another go out in that order; wait then waits for
// the response (or the response timeout, or the session's end) and frees
// the slot. wait must be called exactly once.
func (s *session) start(ctx context.Context, p pdu.PDU) (wait func() (pdu.PDU, error), err error) {
	select {
	case s.window <- struct{}{}:
	case <-s.closing:
		return nil, errSessionClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	seq := s.nextSeq()
	p.SetSequenceNumber(seq)
	ch := make(chan pdu.PDU, 1)
	s.mu.Lock()
	s.pending[seq] = ch
	s.mu.Unlock()
	done := func() {
		s.mu.Lock()
		delete(s.pending, seq)
		s.mu.Unlock()
		<-s.window
	}
	if !s.send(p) {
		done()
		return nil, errSessionClosed
	}
	return func() (pdu.PDU, error) {
		defer done()
		return s.awaitResponse(ctx, ch)
	}, nil
}

// awaitResponse waits for the response to a started request.
func (s *session) awaitResponse(ctx context.Context, ch chan pdu.PDU) (pdu.PDU, error) {
	t := time.NewTimer(s.srv.cfg.ResponseTimeout)
	defer t.Stop()
	select {
	case resp := <-ch:
		if resp == nil {
			return nil, errSessionClosed
		}
		return resp, nil
	case <-t.C:
		return nil, errResponseTimeout
	case <-s.closing:
		return nil, errSessionClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var (
	errSessionClosed   = errors.New("smpp: session closed")
	errResponseTimeout = errors.New("smpp: no response in time")
)

func (s *session) failPending() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq, ch := range s.pending {
		close(ch)
		delete(s.pending, seq)
	}
}

// keepalive sends enquire_link when the ESME has been quiet, and closes the
// session after Inactivity without any PDU from it or an unanswered probe.
func (s *session) keepalive() {
	t := time.NewTicker(s.srv.cfg.EnquireLink / 2)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
		}
		idle := time.Since(time.Unix(0, s.lastRead.Load()))
		if idle >= s.srv.cfg.Inactivity {
			s.log.Info("smpp session inactive; closing", "idle", idle.Round(time.Second))
			s.close()
			return
		}
		if idle >= s.srv.cfg.EnquireLink && s.getState() != stateOpen {
			go func() {
				if _, err := s.request(context.Background(), pdu.NewEnquireLink()); errors.Is(err, errResponseTimeout) {
					s.log.Info("smpp peer did not answer enquire_link; closing")
					s.close()
				}
			}()
		}
	}
}

// readLoop reads PDUs until the connection fails or the session closes.
// A PDU whose length cannot be trusted ends the session after a
// generic_nack; anything else is answered and the session goes on.
func (s *session) readLoop() error {
	r := bufio.NewReaderSize(s.conn, 16<<10)
	var head [16]byte
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(s.srv.cfg.Inactivity + s.srv.cfg.ResponseTimeout))
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return err
		}
		s.lastRead.Store(time.Now().UnixNano())
		length := binary.BigEndian.Uint32(head[0:])
		cmd := data.CommandIDType(binary.BigEndian.Uint32(head[4:]))
		seq := int32(binary.BigEndian.Uint32(head[12:]))
		if length < 16 || length > maxPDU {
			s.nack(seq, data.ESME_RINVCMDLEN)
			return fmt.Errorf("smpp: command_length %d out of range", length)
		}
		raw := make([]byte, length)
		copy(raw, head[:])
		if _, err := io.ReadFull(r, raw[16:]); err != nil {
			return err
		}
		p, status := decodePDU(raw, cmd)
		if status != data.ESME_ROK {
			s.nack(seq, status)
			continue
		}
		if !s.dispatch(p) {
			return nil
		}
	}
}

// decodePDU parses one whole PDU; the status says why it cannot be used.
func decodePDU(raw []byte, cmd data.CommandIDType) (p pdu.PDU, status data.CommandStatusType) {
	defer func() {
		if recover() != nil {
			p, status = nil, data.ESME_RINVCMDLEN
		}
	}()
	if _, err := pdu.CreatePDUFromCmdID(cmd); err != nil {
		return nil, data.ESME_RINVCMDID
	}
	p, err := pdu.Parse(bytesReader(raw))
	if err != nil {
		return nil, data.ESME_RINVCMDLEN
	}
	return p, data.ESME_ROK
}

func (s *session) nack(seq int32, status data.CommandStatusType) {
	n := pdu.NewGenericNack()
	n.SetSequenceNumber(seq)
	s.sendStatus(n, status)
}

// dispatch handles one PDU; false ends the read loop (after unbind).
func (s *session) dispatch(p pdu.PDU) bool {
	if !p.CanResponse() {
		// A response to one of our requests.
		s.mu.Lock()
		ch := s.pending[p.GetSequenceNumber()]
		s.mu.Unlock()
		if ch != nil {
			select {
			case ch <- p:
			default:
			}
		}
		return true
	}
	state := s.getState()
	switch req := p.(type) {
	case *pdu.BindRequest:
		if state != stateOpen {
			resp := pdu.NewBindResp(*req)
			s.respond(req, resp, data.ESME_RALYBND)
			return true
		}
		s.srv.bind(s, req)
	case *pdu.EnquireLink:
		s.respond(req, req.GetResponse(), data.ESME_ROK)
	case *pdu.Unbind:
		s.inflight.Wait() // every submit_sm read before is answered first
		s.respond(req, req.GetResponse(), data.ESME_ROK)
		s.close()
		return false
	case *pdu.SubmitSM:
		if !state.canSubmit() {
			s.respond(req, req.GetResponse(), data.ESME_RINVBNDSTS)
			return true
		}
		s.srv.submit(s, req)
	case *pdu.QuerySM:
		if !state.canSubmit() {
			s.respond(req, req.GetResponse(), data.ESME_RINVBNDSTS)
			return true
		}
		s.srv.query(s, req)
	case *pdu.CancelSM:
		if !state.canSubmit() {
			s.respond(req, req.GetResponse(), data.ESME_RINVBNDSTS)
			return true
		}
		s.srv.cancel(s, req)
	case *pdu.GenericNack:
	default:
		// Valid SMPP we do not offer (submit_multi, data_sm, replace_sm, …).
		status := data.ESME_RINVBNDSTS
		if state != stateOpen {
			status = data.ESME_RINVCMDID
		}
		if resp := p.GetResponse(); resp != nil {
			s.respond(p, resp, status)
		} else {
			s.nack(p.GetSequenceNumber(), status)
		}
	}
	return true
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
