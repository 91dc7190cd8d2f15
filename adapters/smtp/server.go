// Package smtp is wabridge's mail submission server: authenticated users
// send mail to <E.164 digits>@<domain> and it goes out on WhatsApp (text,
// attachments as media, replies threaded by In-Reply-To). Built on
// go-smtp; MIME is read by internal/mailconv.
package smtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/listen"
	"github.com/wabridge/wabridge/internal/mailbox"
)

// Config configures the server.
type Config struct {
	Domain    string // recipients are <digits>@Domain
	Listen    string // submission with STARTTLS; "" for none
	TLSListen string // implicit TLS; "" for none
	CertFile  string
	KeyFile   string
	// MaxMessageBytes limits a message (default 30 MiB).
	MaxMessageBytes int64
	// AllowInsecureAuth allows AUTH without TLS (loopback testing only).
	AllowInsecureAuth bool
	// Mailboxes knows the mail users (shared with IMAP) and keeps a Sent
	// copy of every submitted mail; required.
	Mailboxes *mailbox.Service
	// Subject is how the subject is used: "ignore" (default), "prepend",
	// "only-if-no-body" (see mailconv.Options).
	Subject string
	// TemplateLanguage is the language of a template selection that names
	// none; TemplateVariables maps business-style variable names ("First
	// Name", lower-cased, without braces) to template parameters
	// ("first_name" or "1").
	TemplateLanguage  string
	TemplateVariables map[string]string
	// LongText is what happens to text over WhatsApp's 4,096 characters:
	// "split" (several messages, in order; default) or "refuse".
	LongText string
}

// Server is the SMTP listener(s).
type Server struct {
	cfg     Config
	log     *slog.Logger
	bridge  *bridge.Bridge
	files   bridge.FileStore
	servers []*gosmtp.Server
	lns     *listen.Pair
	wg      sync.WaitGroup
}

// New checks cfg and prepares the server.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.Domain == "" {
		return nil, errors.New("smtp: the mail domain is required")
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 30 << 20
	}
	if cfg.LongText == "" {
		cfg.LongText = "split"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Mailboxes == nil {
		return nil, errors.New("smtp: no mailbox service")
	}
	return &Server{cfg: cfg, log: log}, nil
}

// Attach gives the server the core and the file store (before Start).
func (s *Server) Attach(b *bridge.Bridge, files bridge.FileStore) { s.bridge, s.files = b, files }

// Start listens and serves in the background.
func (s *Server) Start() error {
	if s.bridge == nil || s.files == nil {
		return errors.New("smtp: Attach before Start")
	}
	tlsConfig, err := listen.TLSConfig(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	lns, err := listen.OpenPair(s.cfg.Listen, s.cfg.TLSListen, tlsConfig, nil)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	s.lns = lns
	lns.Each(func(ln net.Listener, _ bool) {
		srv := gosmtp.NewServer(gosmtp.BackendFunc(s.newSession))
		srv.Domain = s.cfg.Domain
		srv.MaxMessageBytes = s.cfg.MaxMessageBytes
		srv.MaxRecipients = 100
		srv.ReadTimeout = 5 * time.Minute
		srv.WriteTimeout = time.Minute
		srv.AllowInsecureAuth = s.cfg.AllowInsecureAuth
		srv.TLSConfig = tlsConfig
		srv.EnableSMTPUTF8 = true
		srv.ErrorLog = logAdapter{s.log}
		s.servers = append(s.servers, srv)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, gosmtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				s.log.Error("smtp server stopped", "err", err)
			}
		}()
	})
	return nil
}

// Addr is the submission listener's address ("" if none).
func (s *Server) Addr() string { return s.lns.Addr() }

// TLSAddr is the implicit-TLS listener's address ("" if none).
func (s *Server) TLSAddr() string { return s.lns.TLSAddr() }

// Shutdown stops accepting and waits for sessions in the middle of a
// transaction to finish (their commits complete), within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, gosmtp.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

type logAdapter struct{ log *slog.Logger }

func (l logAdapter) Printf(format string, v ...any) {
	l.log.Debug("smtp", "msg", fmt.Sprintf(format, v...))
}
func (l logAdapter) Println(v ...any) { l.log.Debug("smtp", "msg", fmt.Sprint(v...)) }
