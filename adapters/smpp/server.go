package smpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/listen"
)

// Jobs is the part of the store the server uses for its durable delivery
// queues (receipts and customers' replies per account).
type Jobs interface {
	EnqueueJob(ctx context.Context, kind, ref string, runAt time.Time) error
	ClaimJobs(ctx context.Context, kind string, now time.Time, limit int, lease time.Duration) ([]bridge.Job, error)
	RetryJob(ctx context.Context, kind, ref string, runAt time.Time, lastErr string) error
	ReleaseJob(ctx context.Context, kind, ref, lastErr string) error
	FinishJob(ctx context.Context, kind, ref string) error
	FinishJobs(ctx context.Context, kind string, refs []string) error
	OutboxDepth(ctx context.Context) (int, error)
	ExpireParts(ctx context.Context, before time.Time) ([]bridge.Part, error)
	Part(ctx context.Context, id bridge.MessageID) (*bridge.Part, error)
	DeletePart(ctx context.Context, id bridge.MessageID) error
}

// Server is the SMPP listener. Create with New, give it the core with
// Attach, then Start.
type Server struct {
	cfg      Config
	log      *slog.Logger
	accounts map[string]*account
	bridge   *bridge.Bridge
	jobs     Jobs
	metrics  Metrics

	listeners []net.Listener
	mu        sync.Mutex
	sessions  map[*session]struct{}
	failed    map[string]*bindFailures
	closing   atomic.Bool
	wg        sync.WaitGroup
	stop      chan struct{}
	queued    atomic.Int64 // outbox depth, refreshed in the background
}

// account is an Account with its live state.
type account struct {
	Account
	limiter *rate.Limiter
	mu      sync.Mutex
	binds   map[*session]struct{}
	wake    chan struct{}
	rr      int
}

// Metrics receives SMPP counts; nil counts nothing.
type Metrics interface {
	Bind(systemID, result string)
	PDU(command, status string)
	Delivery(kind, result string)
	// Submitted observes the time from reading a submit_sm to queueing
	// its submit_sm_resp.
	Submitted(d time.Duration)
}

var (
	_ bridge.StatusReporter  = (*Server)(nil)
	_ bridge.InboundConsumer = (*Server)(nil)
)

// New checks cfg and prepares the server.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, accounts: map[string]*account{}, sessions: map[*session]struct{}{},
		failed: map[string]*bindFailures{}, stop: make(chan struct{})}
	for _, a := range cfg.Accounts {
		acc := &account{Account: a, binds: map[*session]struct{}{}, wake: make(chan struct{}, 1)}
		if a.Throughput > 0 {
			acc.limiter = rate.NewLimiter(rate.Limit(a.Throughput), max(1, int(a.Throughput)))
		}
		s.accounts[a.SystemID] = acc
	}
	return s, nil
}

// Attach gives the server the core and its job store (before Start).
func (s *Server) Attach(b *bridge.Bridge, jobs Jobs, m Metrics) {
	s.bridge, s.jobs, s.metrics = b, jobs, m
}

// Start listens (plain and/or TLS) and starts the delivery loops.
func (s *Server) Start() error {
	if s.bridge == nil || s.jobs == nil {
		return errors.New("smpp: Attach before Start")
	}
	if s.cfg.Listen != "" {
		ln, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			return fmt.Errorf("smpp: listen %s: %w", s.cfg.Listen, err)
		}
		s.listeners = append(s.listeners, ln)
	}
	if s.cfg.TLSListen != "" {
		tlsConfig, err := listen.TLSConfig(s.cfg.CertFile, s.cfg.KeyFile)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("smpp: %w", err)
		}
		ln, err := listen.Listen(s.cfg.TLSListen, true, tlsConfig)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("smpp: %w", err)
		}
		s.listeners = append(s.listeners, ln)
	}
	for _, ln := range s.listeners {
		s.wg.Add(1)
		go s.accept(ln)
	}
	for _, acc := range s.accounts {
		s.wg.Add(1)
		go s.deliveryLoop(acc)
	}
	s.wg.Add(2)
	go s.watchQueue()
	go s.expireParts()
	return nil
}

// Addr is the plain listener's address ("" if none).
func (s *Server) Addr() string { return s.addrOf(false) }

// TLSAddr is the TLS listener's address ("" if none).
func (s *Server) TLSAddr() string { return s.addrOf(true) }

func (s *Server) addrOf(isTLS bool) string {
	i := 0
	if isTLS && s.cfg.Listen != "" {
		i = 1
	}
	if (isTLS && s.cfg.TLSListen == "") || (!isTLS && s.cfg.Listen == "") || i >= len(s.listeners) {
		return ""
	}
	return s.listeners[i].Addr().String()
}

func (s *Server) closeListeners() {
	for _, ln := range s.listeners {
		ln.Close()
	}
}

func (s *Server) accept(ln net.Listener) {
	defer s.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("smpp accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		sess := newSession(s, conn)
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.sessions[sess] = struct{}{}
		s.mu.Unlock()
		go sess.run()
	}
}

// forget drops a finished session from the registry and its account.
func (s *Server) forget(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	if acc := s.account(sess); acc != nil {
		acc.mu.Lock()
		delete(acc.binds, sess)
		acc.mu.Unlock()
	}
}

// Shutdown stops accepting, asks every bound ESME to unbind (answering
// what is in flight), closes the sessions and waits for them and the
// delivery loops, within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	s.closeListeners()
	close(s.stop)
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, sess := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if sess.getState() != stateOpen {
				uctx, cancel := context.WithTimeout(ctx, s.cfg.ResponseTimeout)
				_, _ = sess.request(uctx, newUnbind())
				cancel()
			}
			sess.close()
			<-sess.done
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, sess := range sessions {
			sess.conn.Close()
		}
		return errors.New("smpp: sessions did not end in time")
	}
}

// watchQueue keeps the outbox depth current for ESME_RMSGQFUL.
func (s *Server) watchQueue() {
	defer s.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		if n, err := s.jobs.OutboxDepth(context.Background()); err == nil {
			s.queued.Store(int64(n))
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

func (s *Server) count(command, status string) {
	if s.metrics != nil {
		s.metrics.PDU(command, status)
	}
}
