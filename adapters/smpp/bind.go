package smpp

import (
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// bindFailures tracks failed binds from one source address.
type bindFailures struct {
	count int
	first time.Time
}

// SMPP 3.4 field sizes, terminating NUL included (5.2).
const (
	maxSystemID   = 16
	maxPassword   = 9
	maxSystemType = 13
	maxAddrRange  = 41
)

func (sess *session) acct() *Account {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.account
}

func (s *Server) account(sess *session) *account {
	a := sess.acct()
	if a == nil {
		return nil
	}
	return s.accounts[a.SystemID]
}

// bind authenticates a bind_transmitter/receiver/transceiver. Every
// refusal is delayed (BindFailDelay), and a source address with
// BindFailBurst failures inside BindFailBlock is refused outright until the
// block passes, so passwords cannot be guessed at line speed.
func (s *Server) bind(sess *session, req *pdu.BindRequest) {
	resp := pdu.NewBindResp(*req)
	resp.SystemID = "wabridge"
	status := s.authenticate(sess, req)
	result := "ok"
	if status != data.ESME_ROK {
		result = status.String()
		s.noteFailure(sess)
		sess.log.Warn("smpp bind refused", "system_id", req.SystemID, "status", status.String())
		time.Sleep(s.cfg.BindFailDelay)
	} else {
		sess.log.Info("smpp bound", "system_id", req.SystemID, "type", bindName(req.BindingType))
	}
	if s.metrics != nil {
		s.metrics.Bind(req.SystemID, result)
	}
	sess.respond(req, resp, status)
}

func (s *Server) authenticate(sess *session, req *pdu.BindRequest) data.CommandStatusType {
	if s.blocked(sess) {
		return data.ESME_RBINDFAIL
	}
	if len(req.SystemID)+1 > maxSystemID {
		return data.ESME_RINVSYSID
	}
	if len(req.Password)+1 > maxPassword {
		return data.ESME_RINVPASWD
	}
	if len(req.SystemType)+1 > maxSystemType || len(req.AddressRange.AddressRange)+1 > maxAddrRange {
		return data.ESME_RBINDFAIL
	}
	acc := s.accounts[req.SystemID]
	if acc == nil {
		return data.ESME_RINVSYSID
	}
	if !acc.allowedFrom(sess.remote) {
		return data.ESME_RBINDFAIL
	}
	if !acc.checkPassword(req.Password) {
		return data.ESME_RINVPASWD
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	if len(acc.binds) >= acc.MaxBinds {
		return data.ESME_RBINDFAIL
	}
	var state bindState
	switch req.BindingType {
	case pdu.Transmitter:
		state = stateTX
	case pdu.Receiver:
		state = stateRX
	case pdu.Transceiver:
		state = stateTRX
	default:
		return data.ESME_RBINDFAIL
	}
	sess.mu.Lock()
	sess.account = &acc.Account
	sess.mu.Unlock()
	sess.state.Store(int32(state))
	acc.binds[sess] = struct{}{}
	if state.canReceive() {
		poke(acc.wake)
	}
	return data.ESME_ROK
}

func (s *Server) blocked(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failed[sess.remote.String()]
	if f == nil {
		return false
	}
	if time.Since(f.first) > s.cfg.BindFailBlock {
		delete(s.failed, sess.remote.String())
		return false
	}
	return f.count >= s.cfg.BindFailBurst
}

func (s *Server) noteFailure(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := sess.remote.String()
	f := s.failed[key]
	if f == nil || time.Since(f.first) > s.cfg.BindFailBlock {
		f = &bindFailures{first: time.Now()}
		s.failed[key] = f
	}
	f.count++
}

func bindName(t pdu.BindingType) string {
	switch t {
	case pdu.Transmitter:
		return "transmitter"
	case pdu.Receiver:
		return "receiver"
	case pdu.Transceiver:
		return "transceiver"
	}
	return "unknown"
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func newUnbind() pdu.PDU { return pdu.NewUnbind() }
