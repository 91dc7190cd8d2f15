// Package httpd is wabridge's fasthttp front door: provider webhooks, the
// REST API (/api/v1), health checks and Prometheus metrics.
package httpd

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/fasthttp/router"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/wabridge/wabridge/adapters/whatsapp"
	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/metrics"
	"github.com/wabridge/wabridge/internal/store"
)

// IdleTimeout is how long a keep-alive connection may wait for its next
// request.
const IdleTimeout = 2 * time.Minute

// Config configures the listener and the credentials it checks.
type Config struct {
	Listen       string
	MaxBodyBytes int
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// Tokens are the bearer tokens accepted on /api/v1.
	Tokens []string
	// AppSecret signs Meta's webhooks (X-Hub-Signature-256).
	AppSecret string
	// VerifyToken answers Meta's subscription handshake.
	VerifyToken string
	// CertFile and KeyFile, when set, make the listener serve HTTPS.
	CertFile, KeyFile string
	// TemplateVariables maps business-style variable names (lower-cased,
	// no braces) to template parameters ("1" or "first_name").
	TemplateVariables map[string]string
	// PublicURL is this server's external base URL (X-Twilio-Signature is
	// computed over it); "" uses each request's own Host.
	PublicURL string
	// TwilioAuthTokens check X-Twilio-Signature on /webhooks/twilio (the
	// account's token and a subaccount's); none: the route answers 404.
	TwilioAuthTokens []string
	// MediaURLKey signs the /media/ links Twilio fetches media from (see
	// MediaURL); nil: the route answers 404.
	MediaURLKey []byte
	// Listener, when set, is used instead of listening on Listen (the
	// daemon opens it early to know its address).
	Listener net.Listener
	// MaxUploadBytes limits POST /api/v1/media (default: the largest
	// WhatsApp media, 100 MiB). MaxBodyBytes limits every other body.
	MaxUploadBytes int64
}

// Deps are the parts the handlers call.
type Deps struct {
	Bridge  *bridge.Bridge
	Parser  *whatsapp.Parser
	Metrics *metrics.Metrics
	// Files keeps uploaded and downloaded media (nil: media routes answer 404).
	Files *store.Files
	// Ready reports whether the daemon can take work (for /readyz).
	Ready func(ctx context.Context) error
	// Templates is the template catalogue (nil: template routes answer 404).
	Templates Templates
	// Status describes the business numbers' standing (GET /api/v1/status).
	Status func() any
	// TwilioSMSRoute names the Twilio SMS route an SMS to a number came in
	// on (inbound SMS webhooks carry no ?route=); nil or "": "twilio".
	TwilioSMSRoute func(to string) string
}

// Server is the HTTP listener. Handlers hold no fasthttp.RequestCtx past
// their return: what goroutines need is copied first.
type Server struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	srv    *fasthttp.Server
	ln     net.Listener
	tokens [][]byte
	// meta checks Meta's webhook signatures with cfg.AppSecret.
	meta *whatsapp.Verifier
	// webhookDeadline bounds a webhook's wait for its commit.
	webhookDeadline sharedDeadline
}

// New builds the server; Start listens.
func New(cfg Config, deps Deps, log *slog.Logger) (*Server, error) {
	if deps.Bridge == nil || deps.Parser == nil || deps.Metrics == nil {
		return nil, errors.New("httpd: bridge, parser and metrics are required")
	}
	if len(cfg.Tokens) == 0 {
		return nil, errors.New("httpd: at least one API token is required")
	}
	if cfg.AppSecret == "" && len(cfg.TwilioAuthTokens) == 0 {
		return nil, errors.New("httpd: a webhook secret is required (Meta's app secret or a Twilio auth token)")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = bridge.MediaRules[bridge.KindDocument].MaxBytes
	}
	s := &Server{cfg: cfg, deps: deps, log: log, meta: whatsapp.NewVerifier(cfg.AppSecret),
		webhookDeadline: sharedDeadline{d: webhookTimeout}}
	for _, t := range cfg.Tokens {
		s.tokens = append(s.tokens, []byte(t))
	}
	r := router.New()
	r.GET("/webhooks/whatsapp", s.whatsappVerify)
	r.POST("/webhooks/whatsapp", s.whatsappWebhook)
	r.POST(twilioWebhookPath, s.twilioWebhook)
	r.GET(mediaPath+"{id}", s.getSignedMedia)
	r.HEAD(mediaPath+"{id}", s.getSignedMedia)
	r.POST("/api/v1/messages", s.api("send", s.postMessage))
	r.GET("/api/v1/messages/{id}", s.api("message", s.getMessage))
	r.GET("/api/v1/messages/{id}/media", s.api("message_media", s.getMessageMedia))
	r.POST("/api/v1/media", s.api("upload", s.postMedia))
	r.GET("/api/v1/conversations/{number}", s.api("conversation", s.getConversation))
	r.GET("/api/v1/templates", s.api("templates", s.getTemplates))
	r.GET("/api/v1/status", s.api("status", func(ctx *fasthttp.RequestCtx) {
		if s.deps.Status == nil {
			writeError(ctx, fasthttp.StatusNotFound, "not_found", "", "no status")
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, s.deps.Status())
	}))
	r.GET("/api/v1/consent/{number}", s.api("consent", s.getConsent))
	r.POST("/api/v1/consent", s.api("consent_import", s.postConsent))
	r.POST("/api/v1/templates", s.api("template_create", s.postTemplate))
	r.POST("/api/v1/templates/invalidate", s.api("templates_invalidate", s.invalidateTemplates))
	r.GET("/healthz", func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok\n") })
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(deps.Metrics.Registry, promhttp.HandlerOpts{})))
	r.NotFound = func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "", "no such route")
	}
	r.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "", "method not allowed")
	}
	s.srv = &fasthttp.Server{
		Handler: s.recoverer(r.Handler),
		Name:    "wabridge",
		// Bodies stream: each route reads at most its own limit (readBody,
		// postMedia), so a 100 MiB upload never sits in memory.
		StreamRequestBody:            true,
		MaxRequestBodySize:           cfg.MaxBodyBytes,
		ReadTimeout:                  cfg.ReadTimeout,
		WriteTimeout:                 cfg.WriteTimeout,
		IdleTimeout:                  IdleTimeout,
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        false,
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{log},
		ErrorHandler:                 requestError,
	}
	return s, nil
}

// Start listens on cfg.Listen and serves in the background.
func (s *Server) Start() error {
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Listen); err != nil {
			return fmt.Errorf("httpd: listen %s: %w", s.cfg.Listen, err)
		}
	}
	s.ln = ln
	go func() {
		var err error
		if s.cfg.CertFile != "" {
			err = s.srv.ServeTLS(ln, s.cfg.CertFile, s.cfg.KeyFile)
		} else {
			err = s.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// Addr is the listening address ("127.0.0.1:8080") after Start.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops accepting, lets in-flight requests finish (their commits
// complete, so an acknowledged webhook is durable) and closes connections.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.ShutdownWithContext(ctx)
	// Serve may not have registered the listener yet (Shutdown right after
	// Start): close it here so it cannot start serving afterwards.
	if s.ln != nil {
		if cerr := s.ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
			err = cerr
		}
	}
	return err
}

func (s *Server) recoverer(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("handler panic", "path", string(ctx.Path()), "panic", fmt.Sprint(r))
				writeError(ctx, fasthttp.StatusInternalServerError, "internal", "", "internal error")
			}
		}()
		next(ctx)
	}
}

// authorized checks "Authorization: Bearer <token>" in constant time
// against every configured token.
func (s *Server) authorized(ctx *fasthttp.RequestCtx) bool {
	h := ctx.Request.Header.Peek("Authorization")
	const prefix = "Bearer " // the scheme is case-insensitive (RFC 7235)
	if len(h) <= len(prefix) || !bytes.EqualFold(h[:len(prefix)], []byte(prefix)) {
		return false
	}
	got := h[len(prefix):]
	ok := 0
	for _, t := range s.tokens {
		ok |= subtle.ConstantTimeCompare(got, t)
	}
	return ok == 1
}

func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	if s.deps.Ready != nil {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.deps.Ready(c); err != nil {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("not ready\n")
			return
		}
	}
	ctx.SetBodyString("ok\n")
}

// errTooLarge is returned by readBody for a body over its route's limit.
var errTooLarge = errors.New("httpd: request body too large")

// readBody returns the request body, refusing more than limit bytes: by
// Content-Length up front, or while reading a chunked body. With buf, a
// streamed body of known length is read into *buf, which is grown (up to
// maxRecycledBody) for the next caller.
func readBody(ctx *fasthttp.RequestCtx, limit int, buf *[]byte) ([]byte, error) {
	cl := ctx.Request.Header.ContentLength() // -1 chunked, -2 identity without a length
	if cl > limit {
		return nil, errTooLarge
	}
	stream := ctx.RequestBodyStream()
	if stream == nil {
		body := ctx.PostBody()
		if len(body) > limit {
			return nil, errTooLarge
		}
		return body, nil
	}
	if cl >= 0 {
		// The length is known and within the limit: one allocation of it
		// (io.ReadAll would grow a buffer from 512 bytes).
		var body []byte
		if buf != nil && cap(*buf) >= cl {
			body = (*buf)[:cl]
		} else {
			body = make([]byte, cl)
			if buf != nil && cl <= maxRecycledBody {
				*buf = body
			}
		}
		if _, err := io.ReadFull(stream, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	body, err := io.ReadAll(io.LimitReader(stream, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(body) > limit {
		return nil, errTooLarge
	}
	return body, nil
}

// lingerLimit is how much of a refused body is read and thrown away so
// the client, still sending, sees the 413 rather than a reset connection.
const lingerLimit = 16 << 20

// lingerAndRefuse answers 413 after discarding what remains of the body
// (up to lingerLimit); a larger remainder closes the connection instead.
func lingerAndRefuse(ctx *fasthttp.RequestCtx, reason, msg string) {
	if stream := ctx.RequestBodyStream(); stream != nil {
		n, _ := io.Copy(io.Discard, io.LimitReader(stream, lingerLimit+1))
		if n > lingerLimit {
			ctx.SetConnectionClose()
		}
	} else {
		ctx.SetConnectionClose()
	}
	writeError(ctx, fasthttp.StatusRequestEntityTooLarge, reason, "", msg)
}

// bodyOrError reads the body within cfg.MaxBodyBytes, answering 413 or 400
// itself when it cannot; ok is false then.
func (s *Server) bodyOrError(ctx *fasthttp.RequestCtx) ([]byte, bool) {
	return s.bodyInto(ctx, nil)
}

// bodyInto is bodyOrError reading a streamed body into *buf (readBody).
func (s *Server) bodyInto(ctx *fasthttp.RequestCtx, buf *[]byte) ([]byte, bool) {
	body, err := readBody(ctx, s.cfg.MaxBodyBytes, buf)
	switch {
	case errors.Is(err, errTooLarge):
		lingerAndRefuse(ctx, "too_large", "request body exceeds the configured limit")
		return nil, false
	case err != nil:
		writeError(ctx, fasthttp.StatusBadRequest, "invalid", "", "request body could not be read")
		return nil, false
	}
	return body, true
}

// requestError answers requests fasthttp could not read: 413 for a body
// over the limit, 408 for a timeout, 400 otherwise; always JSON.
func requestError(ctx *fasthttp.RequestCtx, err error) {
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, "too_large", "", "request body exceeds the configured limit")
	case errors.As(err, &te) && te.Timeout():
		writeError(ctx, fasthttp.StatusRequestTimeout, "timeout", "", "request not received in time")
	default:
		writeError(ctx, fasthttp.StatusBadRequest, "invalid", "", "malformed HTTP request")
	}
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("fasthttp", "msg", fmt.Sprintf(format, args...))
}
