package twiliosim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wabridge/wabridge/internal/simlife"
)

// Content is one Content API template.
type Content struct {
	Name     string // friendly_name, also the WhatsApp template name
	Language string // e.g. "en"
	Category string // UTILITY, MARKETING or AUTHENTICATION
	// Status is the WhatsApp approval status: approved (default), pending,
	// rejected, paused, disabled or unsubmitted.
	Status string
	// Body is the twilio/text (or twilio/media, twilio/quick-reply) body with
	// {{1}} or {{name}} placeholders.
	Body string
	// MediaURL, when set, makes the content type twilio/media with this URL.
	MediaURL string
	// Actions, when set, make the content type twilio/quick-reply with these
	// button titles.
	Actions []string
	// Variables are the default (sample) values of the placeholders; missing
	// ones default to "sample".
	Variables map[string]string
}

// Config configures a Server. Zero durations take the documented defaults.
type Config struct {
	Listen     string // default "127.0.0.1:0"
	AccountSID string // "AC"+32 hex, required; the main account
	// AuthToken is the basic-auth password of AccountSID and the HMAC-SHA1
	// key of X-Twilio-Signature on every webhook; required.
	AuthToken string
	// APIKeys are further credentials: "SK…" key sid → secret.
	APIKeys map[string]string
	// SubaccountSIDs are further account sids accepted in the URL path
	// (authenticated with the main credentials).
	SubaccountSIDs []string
	// WhatsAppSenders are the E.164 numbers registered as WhatsApp senders.
	WhatsAppSenders []string
	// SMSSenders are the E.164 numbers (or alphanumeric sender ids) allowed
	// as SMS From; default: the WhatsApp senders.
	SMSSenders []string
	// MessagingServices maps "MG…" sids to their sender numbers; a send with
	// MessagingServiceSid and no From uses the first sender fit for the channel.
	MessagingServices map[string][]string
	// WebhookURL receives inbound messages (WhatsApp and SMS), signed.
	WebhookURL string
	// NotOnWhatsApp: WhatsApp sends to these numbers end failed/63003.
	NotOnWhatsApp []string
	// SMSUndeliverable: SMS to these numbers end undelivered/30003.
	SMSUndeliverable []string
	StatusDelay      time.Duration // gap between status callbacks, default 100ms
	NoAutoRead       bool          // customers never read (no "read" callback)
	Window           time.Duration // customer-service window, default 24h
	// Contents is the Content API catalogue; nil → DefaultContents().
	Contents []Content
	// ContentReviewDelay is how long a WhatsApp approval request stays
	// pending before it is approved (rejected when the name contains
	// "reject"); default 2s.
	ContentReviewDelay time.Duration
	// CallbackRetryInitial and CallbackRetryMax shape webhook re-delivery
	// after a non-2xx answer or a connection error: default 1s doubling,
	// capped at 30s; the simulator gives up 24h after the first attempt.
	//
	// Real Twilio does not retry messaging webhooks by default: it retries
	// only when the URL carries connection overrides such as #rc=3&rp=all.
	// The simulator always retries so that durability tests can rely on
	// re-delivery.
	CallbackRetryInitial time.Duration
	CallbackRetryMax     time.Duration
	// Latency is added to every REST API answer (load tests); default 0.
	Latency time.Duration
}

// Defaults and limits.
const (
	defaultListen      = "127.0.0.1:0"
	defaultStatusDelay = 100 * time.Millisecond
	defaultWindow      = 24 * time.Hour
	defaultReview      = 2 * time.Second
	defaultRetryInit   = time.Second
	defaultRetryMax    = 30 * time.Second
	retryGiveUp        = 24 * time.Hour

	maxBodyBytes     = 4 << 20
	callbackTimeout  = 10 * time.Second
	mediaFetchTime   = 30 * time.Second
	maxMediaFetch    = 16 << 20
	maxMediaURLs     = 10
	maxBodyChars     = 1600
	apiVersion       = "2010-04-01"
	whatsappPrefix   = "whatsapp:"
	channelWhatsApp  = "whatsapp"
	channelSMS       = "sms"
	directionOutAPI  = "outbound-api"
	directionInbound = "inbound"
)

// Server is the simulator. Create it with New, then Start it (or mount
// Handler in an httptest server). Close stops everything.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	client  *http.Client // webhooks
	fetcher *http.Client // MediaUrl downloads

	accounts   map[string]bool // main + subaccounts
	waSenders  map[string]bool // digits
	smsSenders map[string]bool // digits or alphanumeric id (upper case)
	services   map[string][]string
	notOnWA    map[string]bool // digits
	smsUndeliv map[string]bool // digits
	initial    []Content

	mu         sync.Mutex // guards everything below
	webhookURL string
	epoch      uint64
	messages   []*message
	bySid      map[string]*message
	windows    map[windowKey]time.Time // last inbound WhatsApp message
	contents   []*content
	contentBy  map[string]*content
	stats      Stats
	settings   settings
	chains     map[string]*chain // ordered callback deliveries
	parked     []*cbJob          // inbound webhooks waiting for a webhook URL

	life *simlife.Life // serves HTTP, tracks deliveries, fetches and timers
}

// Stats are the counters of GET /sandbox/v1/stats.
type Stats struct {
	Messages           int `json:"messages"`
	WhatsAppMessages   int `json:"whatsapp_messages"`
	SMSMessages        int `json:"sms_messages"`
	ContentListings    int `json:"content_listings"`
	CallbacksDelivered int `json:"callbacks_delivered"`
	CallbacksFailed    int `json:"callbacks_failed"`
	MediaDownloads     int `json:"media_downloads"`
	MediaFetches       int `json:"media_fetches"`
}

// settings are the knobs POST /sandbox/v1/settings changes until reset.
type settings struct {
	StatusDelay time.Duration
	Latency     time.Duration
	NoAutoRead  bool
}

type windowKey struct{ business, customer string } // digits

// New validates cfg, applies defaults and builds a Server. It does not
// listen; call Start or use Handler.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Listen == "" {
		cfg.Listen = defaultListen
	}
	if !validSid(cfg.AccountSID, "AC") {
		return nil, fmt.Errorf("twiliosim: AccountSID %q is not AC followed by 32 hex digits", cfg.AccountSID)
	}
	if cfg.AuthToken == "" {
		return nil, errors.New("twiliosim: AuthToken is required")
	}
	for name, d := range map[string]*time.Duration{
		"StatusDelay": &cfg.StatusDelay, "Window": &cfg.Window, "ContentReviewDelay": &cfg.ContentReviewDelay,
		"CallbackRetryInitial": &cfg.CallbackRetryInitial, "CallbackRetryMax": &cfg.CallbackRetryMax, "Latency": &cfg.Latency,
	} {
		if *d < 0 {
			return nil, fmt.Errorf("twiliosim: %s must not be negative", name)
		}
	}
	setDefault(&cfg.StatusDelay, defaultStatusDelay)
	setDefault(&cfg.Window, defaultWindow)
	setDefault(&cfg.ContentReviewDelay, defaultReview)
	setDefault(&cfg.CallbackRetryInitial, defaultRetryInit)
	setDefault(&cfg.CallbackRetryMax, defaultRetryMax)
	cfg.CallbackRetryMax = max(cfg.CallbackRetryMax, cfg.CallbackRetryInitial)

	s := &Server{
		cfg:        cfg,
		log:        log,
		client:     &http.Client{Timeout: callbackTimeout},
		fetcher:    &http.Client{Timeout: mediaFetchTime},
		accounts:   map[string]bool{cfg.AccountSID: true},
		waSenders:  map[string]bool{},
		smsSenders: map[string]bool{},
		services:   map[string][]string{},
		notOnWA:    map[string]bool{},
		smsUndeliv: map[string]bool{},
		webhookURL: cfg.WebhookURL,
		bySid:      map[string]*message{},
		windows:    map[windowKey]time.Time{},
		contentBy:  map[string]*content{},
		chains:     map[string]*chain{},
		life:       simlife.New("twiliosim"),
	}
	for k := range cfg.APIKeys {
		if !strings.HasPrefix(k, "SK") {
			return nil, fmt.Errorf("twiliosim: API key sid %q does not start with SK", k)
		}
	}
	for _, sid := range cfg.SubaccountSIDs {
		if !validSid(sid, "AC") {
			return nil, fmt.Errorf("twiliosim: subaccount sid %q is not AC followed by 32 hex digits", sid)
		}
		s.accounts[sid] = true
	}
	for _, n := range cfg.WhatsAppSenders {
		d, ok := e164Digits(strings.TrimPrefix(n, whatsappPrefix))
		if !ok {
			return nil, fmt.Errorf("twiliosim: WhatsApp sender %q is not E.164", n)
		}
		s.waSenders[d] = true
	}
	sms := cfg.SMSSenders
	if sms == nil {
		sms = cfg.WhatsAppSenders
	}
	for _, n := range sms {
		k, ok := senderKey(strings.TrimPrefix(n, whatsappPrefix))
		if !ok {
			return nil, fmt.Errorf("twiliosim: SMS sender %q is neither E.164 nor an alphanumeric sender id", n)
		}
		s.smsSenders[k] = true
	}
	for sid, senders := range cfg.MessagingServices {
		if !validSid(sid, "MG") {
			return nil, fmt.Errorf("twiliosim: messaging service sid %q is not MG followed by 32 hex digits", sid)
		}
		s.services[sid] = append([]string(nil), senders...)
	}
	for _, n := range cfg.NotOnWhatsApp {
		d, ok := e164Digits(n)
		if !ok {
			return nil, fmt.Errorf("twiliosim: NotOnWhatsApp: %q is not E.164", n)
		}
		s.notOnWA[d] = true
	}
	for _, n := range cfg.SMSUndeliverable {
		d, ok := e164Digits(n)
		if !ok {
			return nil, fmt.Errorf("twiliosim: SMSUndeliverable: %q is not E.164", n)
		}
		s.smsUndeliv[d] = true
	}
	s.initial = cfg.Contents
	if s.initial == nil {
		s.initial = DefaultContents()
	}
	if err := s.loadContents(s.initial); err != nil {
		return nil, err
	}
	s.settings = s.configSettings()
	s.handler = s.routes()
	return s, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func (s *Server) configSettings() settings {
	return settings{StatusDelay: s.cfg.StatusDelay, Latency: s.cfg.Latency, NoAutoRead: s.cfg.NoAutoRead}
}

// Start listens on Config.Listen and serves in the background. It may be
// called once.
func (s *Server) Start() error {
	addr, err := s.life.Start(s.cfg.Listen, s.handler, s.log, nil)
	if err != nil {
		return err
	}
	s.log.Info("twilio simulator listening", "addr", addr.String(), "account_sid", s.cfg.AccountSID)
	return nil
}

// URL is "http://127.0.0.1:PORT" after Start, else "".
func (s *Server) URL() string {
	if a := s.life.Addr(); a != "" {
		return "http://" + a
	}
	return ""
}

// Handler serves every endpoint; usable without Start (e.g. in httptest).
func (s *Server) Handler() http.Handler { return s.handler }

// SetWebhookURL changes where inbound messages are posted. Inbound webhooks
// produced while no URL was set are delivered once one is.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = u
	if u == "" {
		return
	}
	parked := s.parked
	s.parked = nil
	for _, j := range parked {
		s.enqueueLocked(j)
	}
}

// Close stops listening, cancels in-flight webhook deliveries, media
// fetches and timers, and waits for the background goroutines or ctx.
// Calling it again returns the first result.
func (s *Server) Close(ctx context.Context) error { return s.life.Close(ctx, nil) }

// goAsync runs f in a tracked goroutine unless the server is closed.
func (s *Server) goAsync(f func()) bool { return s.life.Go(f) }

// sleep waits d or until Close; it reports whether d passed.
func (s *Server) sleep(d time.Duration) bool { return s.life.Sleep(d) }

// routes: control API under /sandbox/, Content API under /v1/, the 2010-04-01
// REST API under /2010-04-01/.
func (s *Server) routes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		p := r.URL.Path
		switch {
		case p == "/sandbox" || strings.HasPrefix(p, "/sandbox/"):
			s.serveControl(w, r)
		case strings.HasPrefix(p, "/v1/"):
			s.withLatency(r)
			s.serveContentAPI(w, r)
		case strings.HasPrefix(p, "/"+apiVersion+"/"):
			s.withLatency(r)
			s.serveAPI(w, r)
		default:
			writeError(w, http.StatusNotFound, 20404, fmt.Sprintf("The requested resource %s was not found", p))
		}
	})
}

// withLatency sleeps the configured API latency (or until the request ends).
func (s *Server) withLatency(r *http.Request) {
	s.mu.Lock()
	d := s.settings.Latency
	s.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// authenticate checks HTTP basic auth: the main account's AuthToken or an
// API key's secret.
func (s *Server) authenticate(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	if user == s.cfg.AccountSID {
		return constEq(pass, s.cfg.AuthToken)
	}
	if secret, ok := s.cfg.APIKeys[user]; ok {
		return constEq(pass, secret)
	}
	return false
}

// requireAuth answers 401/20003 (with a Basic challenge) when r is not
// authenticated.
func (s *Server) requireAuth(w http.ResponseWriter, r *http.Request) bool {
	if s.authenticate(r) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
	writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
	return false
}

func constEq(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return ha == hb
}

// --- identifiers and numbers -------------------------------------------------

// newSid is prefix + 32 random lower-case hex digits.
func newSid(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// validSid reports whether v is prefix followed by 32 hex digits.
func validSid(v, prefix string) bool {
	if len(v) != len(prefix)+32 || !strings.HasPrefix(v, prefix) {
		return false
	}
	_, err := hex.DecodeString(v[len(prefix):])
	return err == nil
}

// e164Digits returns the digits of a strict E.164 number "+" and 8–15
// digits (the first not 0).
func e164Digits(v string) (string, bool) {
	if len(v) < 9 || len(v) > 16 || v[0] != '+' || v[1] == '0' {
		return "", false
	}
	for _, c := range v[1:] {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return v[1:], true
}

// senderKey normalises an SMS sender: E.164 → its digits; an alphanumeric
// sender id (1–11 letters, digits, spaces, at least one letter) → upper case.
func senderKey(v string) (string, bool) {
	if d, ok := e164Digits(v); ok {
		return d, true
	}
	if v == "" || len(v) > 11 {
		return "", false
	}
	letter := false
	for _, c := range v {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9', c == ' ':
		default:
			return "", false
		}
	}
	if !letter {
		return "", false
	}
	return strings.ToUpper(v), true
}
