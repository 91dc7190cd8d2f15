// Package imap is wabridge's IMAP server: mail users read their
// customers' WhatsApp messages (INBOX), the state of what they sent
// (Sent, with $Delivered/$Read/$Failed keywords) and bounces in any mail
// client. Built on go-imap v2's imapserver over the durable mailboxes of
// internal/mailbox.
package imap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/wabridge/wabridge/internal/listen"
	"github.com/wabridge/wabridge/internal/mailbox"
)

// Config configures the server.
type Config struct {
	Listen    string // plain with STARTTLS; "" for none
	TLSListen string // implicit TLS; "" for none
	CertFile  string
	KeyFile   string
	// AllowInsecureAuth allows LOGIN without TLS (loopback testing only).
	AllowInsecureAuth bool
	// MaxMessageBytes limits an APPEND (default 30 MiB).
	MaxMessageBytes int64
	// FailedLoginDelay slows down a wrong password (default 1 s).
	FailedLoginDelay time.Duration
	// BusySessions is how many sessions may work on commands at the same
	// time (listen.Gate); default one per processor Go schedules on
	// (GOMAXPROCS: the daemon runs one more than the cores). Beyond that, sessions
	// whose command arrived wait parked, so that under a flood of
	// commands a new message's delivery and its IDLE push still get a
	// core at once, and commands are answered in arrival order.
	BusySessions int
}

// Server is the IMAP listener(s).
type Server struct {
	cfg  Config
	log  *slog.Logger
	svc  *mailbox.Service
	srvs []*imapserver.Server
	lns  *listen.Pair
	gate *listen.Gate // shared by the listeners (Config.BusySessions)
	wg   sync.WaitGroup
}

// Capabilities advertised besides those imapserver adds by itself (IDLE,
// UNSELECT, ENABLE, SASL-IR, LITERAL-, STARTTLS, AUTH=PLAIN).
var caps = goimap.CapSet{
	goimap.CapIMAP4rev1:        {},
	goimap.CapNamespace:        {},
	goimap.CapUIDPlus:          {},
	goimap.CapMove:             {},
	goimap.CapSpecialUse:       {},
	goimap.CapCreateSpecialUse: {},
	// LITERAL+: an APPEND over max_message_bytes is refused only after its
	// literal was read (Append), so the bytes of a non-synchronizing one
	// are never taken for commands. (imapserver itself refuses literals
	// over 100 MiB before reading them; the session declares no
	// APPENDLIMIT so that its own limit is not checked that way.)
	goimap.CapLiteralPlus:  {},
	goimap.CapESearch:      {},
	goimap.CapSearchRes:    {},
	goimap.CapListExtended: {},
	goimap.CapListStatus:   {},
	goimap.CapStatusSize:   {},
}

// New prepares the server over the mailboxes of svc.
func New(cfg Config, svc *mailbox.Service, log *slog.Logger) (*Server, error) {
	if svc == nil {
		return nil, errors.New("imap: no mailbox service")
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 30 << 20
	}
	if cfg.FailedLoginDelay == 0 {
		cfg.FailedLoginDelay = time.Second
	}
	if cfg.BusySessions <= 0 {
		// Commands are CPU work (headers and bodies come from memory
		// or the page cache): more places than processors only lengthen
		// the run queues an IDLE push waits in. Measured with 200
		// clients on 2 cores (3 processors): 3 places 9,395-9,786
		// commands/s, push p99 42-52 ms; 12 (4 per processor, before)
		// 8,700-8,900, 80-121 ms.
		cfg.BusySessions = runtime.GOMAXPROCS(0)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: log, svc: svc, gate: listen.NewGate(cfg.BusySessions)}, nil
}

// Start listens and serves in the background.
func (s *Server) Start() error {
	tlsConfig, err := listen.TLSConfig(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("imap: %w", err)
	}
	lns, err := listen.OpenPair(s.cfg.Listen, s.cfg.TLSListen, tlsConfig, s.gate)
	if err != nil {
		return fmt.Errorf("imap: %w", err)
	}
	s.lns = lns
	lns.Each(func(ln net.Listener, _ bool) {
		srv := imapserver.New(&imapserver.Options{
			NewSession:   s.newSession,
			Caps:         caps,
			Logger:       logAdapter{s.log},
			TLSConfig:    tlsConfig,
			InsecureAuth: s.cfg.AllowInsecureAuth,
		})
		s.srvs = append(s.srvs, srv)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("imap server stopped", "err", err)
			}
		}()
	})
	return nil
}

// Sessions reports how many sessions work on a command now and how many
// have one and wait for a place (Config.BusySessions).
func (s *Server) Sessions() (busy, waiting int) {
	return s.gate.Busy(), int(s.gate.Waiting())
}

// Addr is the plain (STARTTLS) listener's address ("" if none).
func (s *Server) Addr() string { return s.lns.Addr() }

// TLSAddr is the implicit-TLS listener's address ("" if none).
func (s *Server) TLSAddr() string { return s.lns.TLSAddr() }

// Shutdown closes the listeners and every connection. Nothing is lost:
// every change a client was answered OK for is already committed.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range s.srvs {
		if err := srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

type logAdapter struct{ log *slog.Logger }

func (l logAdapter) Printf(format string, v ...any) {
	l.log.Debug("imap", "msg", fmt.Sprintf(format, v...))
}
