// Package app wires wabridge together and runs its lifecycle. It is
// embeddable: tests start a whole daemon in-process on ":0" ports and read
// the real addresses back.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wabridge/wabridge/adapters/imap"
	"github.com/wabridge/wabridge/adapters/smpp"
	"github.com/wabridge/wabridge/adapters/smsc"
	"github.com/wabridge/wabridge/adapters/smtp"
	"github.com/wabridge/wabridge/adapters/twilio"
	"github.com/wabridge/wabridge/adapters/whatsapp"
	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/catalog"
	"github.com/wabridge/wabridge/internal/config"
	"github.com/wabridge/wabridge/internal/httpd"
	"github.com/wabridge/wabridge/internal/mailbox"
	"github.com/wabridge/wabridge/internal/metrics"
	"github.com/wabridge/wabridge/internal/sandbox"
	"github.com/wabridge/wabridge/internal/sms"
	"github.com/wabridge/wabridge/internal/store"
	"github.com/wabridge/wabridge/internal/twiliosim"
)

// App is one running daemon.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	metrics *metrics.Metrics
	store   *store.SQLite
	files   *store.Files
	sandbox *sandbox.Server
	// client is Meta's Graph API client (provider "cloud"), twilio the
	// Twilio client (provider "twilio" or Twilio SMS routes).
	client    *whatsapp.Client
	twilio    *twilio.Client
	twilioSim *twiliosim.Server
	httpLn    net.Listener
	mediaKey  []byte // signs /media/ links (Twilio); nil without Twilio
	bridge    *bridge.Bridge
	http      *httpd.Server
	smpp      *smpp.Server
	smtp      *smtp.Server
	imap      *imap.Server
	mail      *mailbox.Service
	// templates is the template cache and policy.
	templates *catalog.Resolver
	health    *health
	routes    []*smsc.Client
	smsRoutes []bridge.SMSRoute // every route, in configuration order
	// templateEvents keeps the templates' last status webhooks.
	templateEvents *templateEvents

	tokenFile string
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	stopOnce  sync.Once
	stopErr   error
}

// New checks cfg and prepares the daemon; Start opens the store and listens.
func New(cfg *config.Config, log *slog.Logger) (*App, error) {
	if cfg == nil {
		return nil, errors.New("app: config is nil")
	}
	if cfg.Store.Driver != "sqlite" {
		return nil, fmt.Errorf("app: store driver %q is not supported", cfg.Store.Driver)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &App{cfg: cfg, log: log, metrics: metrics.New()}, nil
}

// Start brings the daemon up: store, sandbox (when enabled), WhatsApp
// client, core, HTTP listener, then the outbox loop and housekeeping.
// On error everything started so far is stopped.
func (a *App) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = a.Stop(context.Background())
		}
	}()
	cfg := a.cfg
	a.store, err = store.OpenSQLite(ctx, store.SQLiteConfig{
		Path: cfg.Store.Path, CommitBatch: cfg.Store.CommitBatch, CommitDelay: cfg.Store.CommitDelay.D(),
		WriterPriority: cfg.Store.WriterPriority,
	})
	if err != nil {
		return err
	}
	switch p := a.store.WriterPriority(); {
	case p.Raised:
		a.log.Info("store writer thread priority raised", "nice", p.Nice, "levels", cfg.Store.WriterPriority)
	case p.Err != nil:
		a.log.Info("store writer thread priority not raised; it runs at the daemon's (store.writer_priority)",
			"nice", p.Nice, "reason", p.Err.Error())
	}
	a.files, err = a.store.Files(cfg.MediaPath())
	if err != nil {
		return err
	}
	a.metrics.StoreFuncs(
		func() float64 { return float64(a.store.Stats().Commits) },
		func() float64 { return float64(a.store.Stats().Synced) },
		func() float64 { return float64(a.store.Stats().Operations) },
		func() float64 {
			c, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			n, _ := a.store.OutboxDepth(c)
			return float64(n)
		},
		a.store.OperationCounts)
	histogram := func(read func() store.Histogram) metrics.HistogramFunc {
		return func() (uint64, float64, map[float64]uint64) {
			h := read()
			return h.Count, h.Sum, h.Buckets
		}
	}
	a.metrics.StoreDurationFuncs(histogram(a.store.TransactionDurations), histogram(a.store.CommitDurations))

	// Listen early: the address goes into the simulators' webhook URLs and
	// Twilio's status callback URLs.
	if a.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		return fmt.Errorf("http: listen %s: %w", cfg.HTTP.Listen, err)
	}
	cloud := cfg.WhatsApp.Provider != "twilio"
	a.mediaKey = mediaKey(cfg)
	graphURL := cfg.WhatsApp.GraphURL
	if cfg.Sandbox.Enabled && cloud {
		a.sandbox, err = sandbox.New(SandboxConfig(cfg), a.log.With("component", "sandbox"))
		if err != nil {
			return err
		}
		if err := a.sandbox.Start(); err != nil {
			return err
		}
		if !cfg.WhatsApp.GraphURLSet {
			graphURL = a.sandbox.URL()
		}
		a.log.Info("whatsapp sandbox listening", "url", a.sandbox.URL())
	}

	if err := a.startTwilio(); err != nil {
		return err
	}

	numbers := make([]whatsapp.Number, 0, len(cfg.WhatsApp.Numbers))
	for _, n := range cfg.WhatsApp.Numbers {
		numbers = append(numbers, whatsapp.Number{PhoneNumberID: n.PhoneNumberID, BusinessNumber: n.BusinessNumber})
	}
	var sender bridge.Sender
	var source catalog.Source
	if !cloud {
		sender, source = a.twilio, sourceFunc(a.twilio.Templates)
	} else if a.client, err = whatsapp.NewClient(whatsapp.Config{
		GraphURL: graphURL, APIVersion: cfg.WhatsApp.APIVersion, WABAID: cfg.WhatsApp.WABAID,
		AccessToken: cfg.WhatsApp.AccessToken.Value(), Numbers: numbers, Timeout: cfg.WhatsApp.Timeout.D(),
		MediaHosts: cfg.WhatsApp.MediaHosts, Conns: upstreamConns(cfg),
		Observe: func(op string, d time.Duration, code int, err error) {
			a.metrics.ObserveUpstream("meta", op, d, code, err)
		},
	}, a.log.With("component", "whatsapp")); err != nil {
		return err
	} else {
		sender, source = a.client, sourceFunc(a.client.Templates)
	}

	var edges []bridge.Option
	if err := a.buildSMSRoutes(); err != nil {
		return err
	}
	for _, r := range a.smsRoutes {
		edges = append(edges, bridge.WithSMSRoutes(r))
	}
	a.templates = TemplateResolver(cfg, source, a.log.With("component", "templates"))
	a.health = newHealth(a.client, cfg.BusinessNumbers(), a.metrics, a.log.With("component", "health"))
	a.templateEvents = newTemplateEvents()
	edges = append(edges, bridge.WithTemplates(a.templates), bridge.WithEventHook(func(e bridge.RawEvent) {
		a.health.onEvent(e)
		a.templateEvents.onEvent(e)
	}))
	if len(cfg.Mail.Users) > 0 {
		if a.mail, err = Mailboxes(cfg, a.store, a.files, metrics.Mail{M: a.metrics}, a.log.With("component", "mailbox")); err != nil {
			return err
		}
		edges = append(edges, bridge.WithReporters(a.mail), bridge.WithConsumers(a.mail))
	}
	if len(cfg.SMPP.Accounts) > 0 {
		a.smpp, err = smpp.New(SMPPConfig(cfg), a.log.With("component", "smpp"))
		if err != nil {
			return err
		}
		edges = append(edges, bridge.WithReporters(a.smpp), bridge.WithConsumers(a.smpp))
	}
	a.bridge, err = bridge.New(bridge.Config{
		BusinessNumbers: cfg.BusinessNumbers(),
		Workers:         cfg.Outbox.Workers,
		MaxAttempts:     cfg.Outbox.MaxAttempts,
		BackoffInitial:  cfg.Outbox.BackoffInitial.D(),
		BackoffMax:      cfg.Outbox.BackoffMax.D(),
		Lease:           cfg.Outbox.Lease.D(),
		ReconcileWindow: cfg.Outbox.ReconcileWindow.D(),
		PollInterval:    cfg.Outbox.PollInterval.D(),
		SendTimeout:     cfg.WhatsApp.Timeout.D(),
		Compliance:      compliance(cfg),
		MessagingLimit:  cfg.Compliance.MessagingLimit,
		Fallback:        fallbackPolicy(cfg),
		Pacing:          bridge.Pacing{NumberRate: float64(cfg.Outbox.NumberRate), PairInterval: cfg.Outbox.PairInterval.D(), PairBurst: cfg.Outbox.PairBurst},
	}, a.store, sender, a.log.With("component", "bridge"),
		append(edges, bridge.WithObserver(a.metrics), bridge.WithFiles(a.files))...)
	if err != nil {
		return err
	}

	tokens, err := a.apiTokens()
	if err != nil {
		return err
	}
	a.http, err = httpd.New(httpd.Config{
		Listen: cfg.HTTP.Listen, MaxBodyBytes: int(cfg.HTTP.MaxBodyBytes.Bytes()),
		ReadTimeout: cfg.HTTP.ReadTimeout.D(), WriteTimeout: cfg.HTTP.WriteTimeout.D(),
		Tokens: tokens, AppSecret: cfg.WhatsApp.AppSecret.Value(), VerifyToken: cfg.WhatsApp.VerifyToken.Value(),
		CertFile: cfg.HTTP.CertFile, KeyFile: cfg.HTTP.KeyFile, TemplateVariables: templateVariables(cfg),
		Listener: a.httpLn, PublicURL: cfg.HTTP.PublicURL, TwilioAuthTokens: twilioTokens(cfg), MediaURLKey: a.mediaKey,
	}, httpd.Deps{
		Bridge: a.bridge, Parser: whatsapp.NewParser(numbers), Metrics: a.metrics, Ready: a.ready, Files: a.files,
		Templates: templateAPI{r: a.templates, client: a.client, events: a.templateEvents}, Status: a.health.Status,
		TwilioSMSRoute: twilioSMSRouteFor(cfg),
	}, a.log.With("component", "http"))
	if err != nil {
		return err
	}
	if err := a.http.Start(); err != nil {
		return err
	}
	scheme := "http"
	if cfg.HTTP.CertFile != "" {
		scheme = "https"
	} else if !isLoopback(a.http.Addr()) {
		a.log.Warn("the HTTP API is reachable beyond loopback without TLS: bearer tokens travel in clear text; "+
			"set [http] cert_file and key_file or put a TLS proxy in front", "listen", a.http.Addr())
	}
	if a.sandbox != nil && cfg.Sandbox.WebhookURL == "" {
		a.sandbox.SetWebhookURL(scheme + "://" + a.http.Addr() + "/webhooks/whatsapp")
	}

	if len(cfg.Mail.Users) > 0 && (cfg.SMTP.Listen != "" || cfg.SMTP.TLSListen != "") {
		a.smtp, err = smtp.New(SMTPConfig(cfg, a.mail), a.log.With("component", "smtp"))
		if err != nil {
			return err
		}
		a.smtp.Attach(a.bridge, a.files)
		if err := a.smtp.Start(); err != nil {
			return err
		}
		a.log.Info("smtp listening", "addr", a.smtp.Addr(), "tls_addr", a.smtp.TLSAddr(), "users", len(cfg.Mail.Users))
	}
	if a.mail != nil && (cfg.IMAP.Listen != "" || cfg.IMAP.TLSListen != "") {
		a.imap, err = imap.New(IMAPConfig(cfg), a.mail, a.log.With("component", "imap"))
		if err != nil {
			return err
		}
		srv := a.imap
		a.metrics.IMAPSessionFuncs(
			func() float64 { b, _ := srv.Sessions(); return float64(b) },
			func() float64 { _, w := srv.Sessions(); return float64(w) })
		mail := a.mail
		a.metrics.IMAPHeaderCacheFuncs(
			func() float64 { return float64(mail.HeaderCacheStats().Hits) },
			func() float64 { return float64(mail.HeaderCacheStats().Misses) },
			func() float64 { return float64(mail.HeaderCacheStats().Bytes) })
		if err := a.imap.Start(); err != nil {
			return err
		}
		a.log.Info("imap listening", "addr", a.imap.Addr(), "tls_addr", a.imap.TLSAddr(), "users", len(cfg.Mail.Users))
	}
	if a.smpp != nil {
		a.smpp.Attach(a.bridge, a.store, metrics.SMPP{M: a.metrics})
		if err := a.smpp.Start(); err != nil {
			return err
		}
		a.log.Info("smpp listening", "addr", a.smpp.Addr(), "tls_addr", a.smpp.TLSAddr(), "accounts", len(cfg.SMPP.Accounts))
	}

	for _, r := range a.routes {
		r.Start() // binds in the background and keeps rebinding
		a.log.Info("sms route", "name", r.Name())
	}
	runCtx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Add(3)
	go func() {
		defer a.wg.Done()
		a.health.run(runCtx)
	}()
	go func() {
		defer a.wg.Done()
		if err := a.bridge.Run(runCtx); err != nil {
			a.log.Error("outbox stopped", "err", err)
		}
	}()
	go func() {
		defer a.wg.Done()
		a.purgeLoop(runCtx)
	}()
	a.log.Info("wabridge started", "http", a.http.Addr(), "store", cfg.Store.Path,
		"numbers", strings.Join(cfg.BusinessNumbers(), ","), "sandbox", cfg.Sandbox.Enabled)
	return nil
}

// Stop shuts down in order: stop accepting HTTP (in-flight requests finish
// and commit), stop claiming sends and wait for in-flight ones, then close
// the sandbox and the store. ctx bounds the wait; Stop may be called twice.
func (a *App) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		var errs []error
		if a.smpp != nil {
			if err := a.smpp.Shutdown(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if a.smtp != nil {
			if err := a.smtp.Shutdown(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if a.imap != nil {
			if err := a.imap.Shutdown(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if a.http != nil {
			if err := a.http.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http: %w", err))
			}
		}
		if err := closeRoutes(ctx, a.routes); err != nil {
			errs = append(errs, fmt.Errorf("sms routes: %w", err))
		}
		if a.cancel != nil {
			a.cancel()
			done := make(chan struct{})
			go func() { a.wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				errs = append(errs, errors.New("app: in-flight sends did not finish in time"))
			}
		}
		if a.sandbox != nil {
			if err := a.sandbox.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("sandbox: %w", err))
			}
		}
		if a.twilioSim != nil {
			if err := a.twilioSim.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("twilio simulator: %w", err))
			}
		}
		if a.http == nil && a.httpLn != nil {
			_ = a.httpLn.Close() // start failed before the server took it
		}
		if a.store != nil {
			if err := a.store.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		a.stopErr = errors.Join(errs...)
	})
	return a.stopErr
}

// startTwilio starts the Twilio simulator (sandbox) and builds the Twilio
// client when anything uses Twilio.
func (a *App) startTwilio() error {
	cfg := a.cfg
	if !cfg.UsesTwilio() {
		return nil
	}
	apiURL, contentURL := cfg.Twilio.APIURL, cfg.Twilio.ContentURL
	if cfg.Sandbox.Enabled {
		sim, err := twiliosim.New(TwilioSimConfig(cfg, a.twilioWebhookURL()), a.log.With("component", "twilio-sandbox"))
		if err != nil {
			return err
		}
		a.twilioSim = sim
		if err := sim.Start(); err != nil {
			return err
		}
		if !cfg.Twilio.APIURLSet {
			apiURL = sim.URL()
		}
		if !cfg.Twilio.ContentURLSet {
			contentURL = sim.URL()
		}
		a.log.Info("twilio sandbox listening", "url", sim.URL())
	}
	var err error
	a.twilio, err = a.twilioClient(apiURL, contentURL)
	return err
}

// buildSMSRoutes makes the [[sms.routes]] in configuration order: SMPP
// clients (started later) and Twilio routes.
func (a *App) buildSMSRoutes() error {
	handle := func(ctx context.Context, events []bridge.SMSEvent) error { return a.bridge.HandleSMS(ctx, events) }
	for _, r := range a.cfg.SMS.Routes {
		if r.Type == "twilio" {
			route, err := a.twilioSMSRoute(r)
			if err != nil {
				return fmt.Errorf("sms route %s: %w", r.Name, err)
			}
			a.smsRoutes = append(a.smsRoutes, route)
			continue
		}
		c, err := smppRoute(r, handle, a.metrics, a.log.With("component", "smsc"))
		if err != nil {
			return err
		}
		a.routes = append(a.routes, c)
		a.smsRoutes = append(a.smsRoutes, c)
	}
	return nil
}

// TwilioSandboxURL is the Twilio simulator's base URL ("" when not running).
func (a *App) TwilioSandboxURL() string {
	if a.twilioSim == nil {
		return ""
	}
	return a.twilioSim.URL()
}

// HTTPAddr is the HTTP listener's address after Start.
func (a *App) HTTPAddr() string { return a.http.Addr() }

// SandboxURL is the embedded sandbox's base URL ("" when disabled).
func (a *App) SandboxURL() string {
	if a.sandbox == nil {
		return ""
	}
	return a.sandbox.URL()
}

// Store exposes the store (tests).
func (a *App) Store() *store.SQLite { return a.store }

// APITokenFile is where a generated API token was written ("" when tokens
// come from the config).
func (a *App) APITokenFile() string { return a.tokenFile }

// isLoopback reports whether a listening address is on the loopback interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (a *App) ready(ctx context.Context) error {
	return a.store.Ping(ctx)
}

// apiTokens returns the configured tokens. With none configured it reads,
// or on first start creates, a random token in a 0600 file beside the
// database, and logs the file's path (never the token).
func (a *App) apiTokens() ([]string, error) {
	var out []string
	for _, t := range a.cfg.API.Tokens {
		out = append(out, t.Value())
	}
	if len(out) > 0 {
		return out, nil
	}
	path := strings.TrimSuffix(a.cfg.Store.Path, filepath.Ext(a.cfg.Store.Path)) + ".api-token"
	a.tokenFile = path
	if data, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(data)); t != "" {
			a.log.Info("no [api] tokens configured; using the generated token", "file", path)
			return []string{t}, nil
		}
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	tok := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("app: write generated API token: %w", err)
	}
	a.log.Warn("no [api] tokens configured; generated one", "file", path)
	return []string{tok}, nil
}

// purgeLoop empties message bodies older than [store] retention, hourly
// (or more often for short retentions).
func (a *App) purgeLoop(ctx context.Context) {
	retention := a.cfg.Store.Retention.D()
	if retention <= 0 {
		return
	}
	every := min(time.Hour, max(retention/10, time.Second))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cut := time.Now().Add(-retention)
			n, err := a.store.Purge(ctx, cut)
			if err != nil && ctx.Err() == nil {
				a.log.Error("purge", "err", err)
			} else if n > 0 {
				a.log.Info("purged message bodies past retention", "count", n)
			}
			if n, err := a.files.PurgeFiles(ctx, cut); err != nil && ctx.Err() == nil {
				a.log.Error("purge media files", "err", err)
			} else if n > 0 {
				a.log.Info("purged media files past retention", "count", n)
			}
		}
	}
}

// SMPPAddr is the SMPP listener's address ("" when SMPP is off).
func (a *App) SMPPAddr() string {
	if a.smpp == nil {
		return ""
	}
	return a.smpp.Addr()
}

// SMTPAddr is the SMTP submission listener's address ("" when off).
func (a *App) SMTPAddr() string {
	if a.smtp == nil {
		return ""
	}
	return a.smtp.Addr()
}

// SMTPConfig maps [mail] and [smtp] to the SMTP server's configuration;
// Sent copies go to mail (its users are the SMTP users).
func SMTPConfig(cfg *config.Config, mail *mailbox.Service) smtp.Config {
	return smtp.Config{
		Domain: cfg.Mail.Domain, Listen: cfg.SMTP.Listen, TLSListen: cfg.SMTP.TLSListen,
		CertFile: cfg.SMTP.CertFile, KeyFile: cfg.SMTP.KeyFile, MaxMessageBytes: cfg.SMTP.MaxMessageBytes.Bytes(),
		AllowInsecureAuth: cfg.SMTP.AllowInsecureAuth, Subject: cfg.SMTP.Subject, LongText: cfg.SMTP.LongText,
		Mailboxes: mail, TemplateLanguage: firstOr(cfg.Templates.Languages, ""), TemplateVariables: templateVariables(cfg),
	}
}

// IMAPConfig maps [imap] to the IMAP server's configuration.
func IMAPConfig(cfg *config.Config) imap.Config {
	return imap.Config{
		Listen: cfg.IMAP.Listen, TLSListen: cfg.IMAP.TLSListen, CertFile: cfg.IMAP.CertFile, KeyFile: cfg.IMAP.KeyFile,
		AllowInsecureAuth: cfg.IMAP.AllowInsecureAuth, MaxMessageBytes: cfg.IMAP.MaxMessageBytes.Bytes(),
		BusySessions: cfg.IMAP.BusySessions,
	}
}

// Mailboxes makes the mail users' mailbox service over the store.
func Mailboxes(cfg *config.Config, st mailbox.Store, files bridge.FileStore, m mailbox.Metrics, log *slog.Logger) (*mailbox.Service, error) {
	users := make([]mailbox.User, 0, len(cfg.Mail.Users))
	for _, u := range cfg.Mail.Users {
		users = append(users, mailbox.User{Username: u.Username, Password: u.Password.Value(), Numbers: u.Numbers})
	}
	dir, err := mailbox.NewUsers(users)
	if err != nil {
		return nil, err
	}
	return mailbox.New(st, mailbox.Config{Domain: cfg.Mail.Domain, Users: dir, OpenFile: files.Open, Log: log, Metrics: m,
		HeaderCacheBytes: cfg.IMAP.HeaderCache.Bytes()})
}

// IMAPAddr is the IMAP listener's address ("" when off).
func (a *App) IMAPAddr() string {
	if a.imap == nil {
		return ""
	}
	return a.imap.Addr()
}

// IMAPTLSAddr is the IMAP implicit-TLS listener's address ("" when off).
func (a *App) IMAPTLSAddr() string {
	if a.imap == nil {
		return ""
	}
	return a.imap.TLSAddr()
}

// SMPPTLSAddr is the SMPP TLS listener's address ("" when none).
func (a *App) SMPPTLSAddr() string {
	if a.smpp == nil {
		return ""
	}
	return a.smpp.TLSAddr()
}

// SMPPConfig maps [smpp] to the SMPP server's configuration.
func SMPPConfig(cfg *config.Config) smpp.Config {
	sc := smpp.Config{
		Listen: cfg.SMPP.Listen, TLSListen: cfg.SMPP.TLSListen, CertFile: cfg.SMPP.CertFile, KeyFile: cfg.SMPP.KeyFile,
		Window: cfg.SMPP.Window, EnquireLink: cfg.SMPP.EnquireLink.D(), Inactivity: cfg.SMPP.Inactivity.D(),
		ResponseTimeout: cfg.SMPP.Timeout.D(), BindFailDelay: cfg.SMPP.BindFailDelay.D(), MaxQueue: cfg.SMPP.MaxQueue,
		PartTimeout:    cfg.SMPP.PartTimeout.D(),
		TemplatePrefix: cfg.Templates.SMPPPrefix, TemplateLanguage: firstOr(cfg.Templates.Languages, ""),
	}
	if sc.BindFailDelay == 0 {
		sc.BindFailDelay = time.Nanosecond // explicitly no delay
	}
	for _, a := range cfg.SMPP.Accounts {
		acc := smpp.Account{
			SystemID: a.SystemID, Password: a.Password.Value(), Numbers: a.Numbers, MaxBinds: a.MaxBinds,
			Throughput: a.Throughput, DefaultCountry: a.DefaultCountry, LongMO: a.LongReplies,
			AlphanumericSource: a.AlphanumericSource,
		}
		switch a.DataCoding0 {
		case "ia5":
			acc.DataCoding0 = sms.CodingIA5
		case "latin1":
			acc.DataCoding0 = sms.CodingLatin1
		}
		for _, cidr := range a.AllowedIPs {
			if p, err := netip.ParsePrefix(cidr); err == nil {
				acc.AllowedIPs = append(acc.AllowedIPs, p)
			} else if ip, err := netip.ParseAddr(cidr); err == nil {
				acc.AllowedIPs = append(acc.AllowedIPs, netip.PrefixFrom(ip, ip.BitLen()))
			}
		}
		sc.Accounts = append(sc.Accounts, acc)
	}
	return sc
}

// SandboxConfig maps the daemon's configuration to the simulator's: the
// same WABA, numbers and secrets, so each side accepts the other.
func SandboxConfig(cfg *config.Config) sandbox.Config {
	usMarketingBlocked := cfg.Sandbox.USMarketingBlocked
	sc := sandbox.Config{
		Listen:              cfg.Sandbox.Listen,
		WebhookURL:          cfg.Sandbox.WebhookURL,
		AppSecret:           cfg.WhatsApp.AppSecret.Value(),
		AccessToken:         cfg.WhatsApp.AccessToken.Value(),
		WABAID:              cfg.WhatsApp.WABAID,
		NotOnWhatsApp:       cfg.Sandbox.NotOnWhatsApp,
		StatusDelay:         cfg.Sandbox.StatusDelay.D(),
		NoAutoRead:          !cfg.Sandbox.AutoRead,
		WebhookRetryInitial: cfg.Sandbox.WebhookRetryInitial.D(),
		WebhookRetryMax:     cfg.Sandbox.WebhookRetryMax.D(),
		TemplateReviewDelay: cfg.Sandbox.TemplateReviewDelay.D(),
		USMarketingBlocked:  &usMarketingBlocked,
		Latency:             cfg.Sandbox.Latency.D(),
		ErrorRate:           float64(cfg.Sandbox.ErrorPercent) / 100,
		Statuses:            cfg.Sandbox.Statuses,
		StatusBatch:         cfg.Sandbox.StatusBatch,
		WebhookWorkers:      cfg.Sandbox.WebhookWorkers,
	}
	if sc.WebhookURL == "" {
		sc.WebhookURL = cfg.SandboxWebhookURL()
	}
	for _, n := range cfg.WhatsApp.Numbers {
		sc.Numbers = append(sc.Numbers, sandbox.Number{PhoneNumberID: n.PhoneNumberID, BusinessNumber: n.BusinessNumber})
	}
	for _, t := range cfg.Sandbox.Templates {
		sc.Templates = append(sc.Templates, sandbox.Template{
			Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status,
			ParameterFormat: t.ParameterFormat, HeaderFormat: t.HeaderFormat, HeaderText: t.HeaderText,
			Body: t.Body, Footer: t.Footer,
		})
	}
	return sc
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}

// templateVariables reads [templates] variables ("First Name=first_name")
// into lower-cased friendly names (without braces) → parameters.
func templateVariables(cfg *config.Config) map[string]string {
	out := map[string]string{}
	for _, v := range cfg.Templates.Variables {
		friendly, param, _ := strings.Cut(v, "=")
		friendly = strings.ToLower(strings.Trim(strings.TrimSpace(friendly), "{}"))
		out[strings.TrimSpace(friendly)] = strings.TrimSpace(param)
	}
	return out
}

// compliance maps [compliance]; nil when no keyword is configured.
func compliance(cfg *config.Config) *bridge.Compliance {
	c := cfg.Compliance
	if len(c.OptOutKeywords) == 0 && len(c.OptInKeywords) == 0 {
		return nil
	}
	return &bridge.Compliance{OptOutKeywords: c.OptOutKeywords, OptInKeywords: c.OptInKeywords,
		OptOutReply: c.OptOutReply, OptInReply: c.OptInReply}
}
