// Package sandbox simulates Meta's WhatsApp Cloud API over real HTTP.
//
// It serves the Graph endpoints a WhatsApp client uses (send messages of every
// type, mark inbound messages read, list and create message templates, read
// the phone number's quality and messaging limit, upload, retrieve, download
// and delete media), validates requests the way Meta documents, answers with
// Meta's JSON shapes and error codes, and posts signed webhooks (status
// updates, inbound customer messages of every type, template status, quality
// and category changes, phone number quality changes) to a configured URL
// with Meta-like re-delivery. A small unauthenticated control API under
// /sandbox/v1/ lets tests inject inbound messages, create media, change
// template and account health and inspect what was sent. Media download URLs
// are served under /sandbox-media/. Template management and account health
// are described in manage.go.
//
// The package deliberately shares no types with the rest of the repository
// (it only runs on internal/simlife, the simulators' lifecycle): it speaks
// only JSON over HTTP, as Meta does. All state is kept in memory and
// every method is safe for concurrent use.
package sandbox

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/wabridge/wabridge/internal/simlife"
)

// Number is one business phone number registered on the simulated WABA.
type Number struct {
	// PhoneNumberID is the Graph object id used in /{id}/messages.
	PhoneNumberID string
	// BusinessNumber is the E.164 number, e.g. "+15550100001".
	BusinessNumber string
}

// Config configures a Server. Zero durations take the documented defaults.
type Config struct {
	Listen        string        // listen address for Start, default "127.0.0.1:0"
	WebhookURL    string        // where signed webhooks are POSTed; may be set later with SetWebhookURL
	AppSecret     string        // HMAC key for X-Hub-Signature-256 (required)
	AccessToken   string        // the only bearer token accepted on Graph endpoints (required)
	WABAID        string        // WhatsApp Business Account id (required)
	Numbers       []Number      // at least one
	Templates     []Template    // nil → DefaultTemplates()
	NotOnWhatsApp []string      // E.164 numbers whose sends fail with 131026
	StatusDelay   time.Duration // gap between accept→sent→delivered→read; default 100ms
	NoAutoRead    bool          // when true the customer never reads (no read status)

	WebhookRetryInitial time.Duration // first re-delivery delay, default 1s (doubles)
	WebhookRetryMax     time.Duration // cap of the re-delivery delay, default 30s
	WebhookRetryFor     time.Duration // give up re-delivering after this long, default 7*24h

	Window time.Duration // customer-service window, default 24h

	// Media.
	MaxUploadBytes int64         // largest accepted upload (Graph and control), default 110 MiB; larger → 131053
	MediaURLTTL    time.Duration // lifetime of a media download URL, default 5m (as Meta); then 404
	// MediaRedirectTo, when set, makes every media download URL answer
	// "302 Found" to this location instead of the bytes (after the bearer
	// check), to test that clients refuse redirects to unexpected hosts.
	MediaRedirectTo string
	// MediaBaseURL is the scheme://host[:port] put in media download URLs.
	// Default: derived from the Host of the request that produced the URL.
	MediaBaseURL string
	// MediaFileSizeAsString makes GET /{media_id} answer "file_size" as a
	// JSON string ("303833", as in Meta's reference example) instead of a
	// number, to test that clients accept both.
	MediaFileSizeAsString bool

	// Templates and account health.

	// TemplateReviewDelay is how long a template created with POST
	// /{waba_id}/message_templates stays PENDING before its review verdict
	// (APPROVED, or REJECTED when its name contains "reject") and the
	// message_template_status_update webhook; default 2s.
	TemplateReviewDelay time.Duration
	// USMarketingBlocked makes MARKETING template sends to US numbers (+1
	// outside Canada and the other NANP countries) fail asynchronously with
	// 131049, as Meta has done since 2025-04-01. nil means true; see
	// usMarketingErr and isUSNumber in manage.go for the rule and its sources.
	USMarketingBlocked *bool

	// Load testing (load.go). All may be changed at run time with POST
	// /sandbox/v1/settings.

	// Latency is added before answering every Graph API call (sends, mark
	// read, templates, phone numbers, media), as Meta's own latency; default 0.
	Latency time.Duration
	// ErrorRate (0..1) is the fraction of valid sends answered with the
	// ErrorCode error instead of being accepted; default 0. Which sends fail
	// is pseudo-random but repeatable: see ErrorSeed.
	ErrorRate float64
	// ErrorCode is the Graph error code injected by ErrorRate; default
	// DefaultErrorCode (131000 "Something went wrong", HTTP 500).
	ErrorCode int
	// ErrorSeed seeds the choice of failing sends: the n-th send after a
	// reset fails when SplitMix64(ErrorSeed, n) < ErrorRate.
	ErrorSeed uint64
	// Statuses selects the status webhooks following a send: StatusesAll
	// (default: sent, delivered, read), StatusesDelivered, StatusesSent or
	// StatusesNone.
	Statuses string
	// StatusBatch is how many statuses (of any messages) at most one status
	// webhook carries in value.statuses; a batch is posted when it is full
	// or StatusDelay after its first status. Default 1 (one per webhook).
	StatusBatch int
	// KeepMessages bounds the sandbox's message log (GET
	// /sandbox/v1/messages, mark-read lookups) to about the newest N
	// records (between N and 2N); default 0 keeps everything.
	KeepMessages int
	// WebhookWorkers is the number of concurrent webhook deliveries (one
	// keep-alive connection each); default 16. Statuses of one message are
	// always delivered by the same worker, so they arrive in order.
	WebhookWorkers int
}

// Defaults applied by New.
const (
	defaultListen      = "127.0.0.1:0"
	defaultStatusDelay = 100 * time.Millisecond
	defaultRetryInit   = time.Second
	defaultRetryMax    = 30 * time.Second
	defaultRetryFor    = 7 * 24 * time.Hour
	defaultWindow      = 24 * time.Hour
	defaultMaxUpload   = 110 << 20
	defaultMediaURLTTL = 5 * time.Minute
	defaultReview      = 2 * time.Second

	// maxBodyBytes bounds every request body except media uploads; larger
	// bodies get HTTP 413.
	maxBodyBytes = 4 << 20
	// uploadOverhead is what a media upload body may carry beyond
	// MaxUploadBytes (multipart headers and the other form fields).
	uploadOverhead = 1 << 20
	// defaultWebhookWorkers is the default size of the delivery pool.
	defaultWebhookWorkers = 16
	// webhookTimeout bounds one delivery attempt.
	webhookTimeout = 10 * time.Second
)

// Server is the simulator. Create it with New, then either Start it (real
// listener) or mount Handler in an httptest server. Close stops everything.
type Server struct {
	cfg      Config
	macs     sync.Pool // of hash.Hash: HMAC-SHA256 keyed with cfg.AppSecret (sign)
	log      *slog.Logger
	handler  http.Handler
	numbers  []*Number          // in configuration order; BusinessNumber normalised to +digits
	byID     map[string]*Number // phone_number_id → number
	byDigits map[string]*Number // business digits → number
	notOnWA  map[string]bool    // customer digits
	initial  []*tmpl            // the configured catalogue, restored by reset
	poster   *poster            // webhook deliveries

	mu         sync.Mutex // guards everything below
	webhookURL string
	epoch      uint64 // bumped by reset; stale async work checks it
	messages   []*record
	byWamid    map[string]*record
	windows    map[windowKey]time.Time // last inbound time
	stats      counters
	parked     []*job                 // webhooks waiting for a webhook URL
	media      map[string]*mediaObj   // media id → media
	mediaURLs  map[string]*mediaGrant // download token → grant
	settings   settings               // runtime-changeable knobs (POST /sandbox/v1/settings)
	templates  []*tmpl                // catalogue: configuration order, then created ones
	health     accountHealth          // quality ratings and messaging limit (POST /sandbox/v1/account)

	queue *lanes // one FIFO per webhook worker

	load      atomic.Pointer[loadKnobs] // runtime-changeable load knobs (load.go)
	sendSeq   atomic.Uint64             // sends seen by the error injection since reset
	sched     *scheduler                // status webhooks due later (webhooks.go)
	workersUp atomic.Bool               // workers and scheduler started

	// life serves HTTP and tracks the workers, status schedulers and retry
	// timers; workersOn is guarded by its lock.
	life      *simlife.Life
	workersOn bool
}

// New validates cfg, applies defaults and builds a Server. It does not
// listen; call Start or use Handler.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Listen == "" {
		cfg.Listen = defaultListen
	}
	if cfg.AccessToken == "" {
		return nil, errors.New("sandbox: AccessToken is required")
	}
	if cfg.AppSecret == "" {
		return nil, errors.New("sandbox: AppSecret is required")
	}
	if cfg.WABAID == "" {
		return nil, errors.New("sandbox: WABAID is required")
	}
	if len(cfg.Numbers) == 0 {
		return nil, errors.New("sandbox: at least one Number is required")
	}
	for name, d := range map[string]*time.Duration{
		"StatusDelay": &cfg.StatusDelay, "WebhookRetryInitial": &cfg.WebhookRetryInitial,
		"WebhookRetryMax": &cfg.WebhookRetryMax, "WebhookRetryFor": &cfg.WebhookRetryFor, "Window": &cfg.Window,
		"MediaURLTTL": &cfg.MediaURLTTL, "TemplateReviewDelay": &cfg.TemplateReviewDelay,
	} {
		if *d < 0 {
			return nil, fmt.Errorf("sandbox: %s must not be negative", name)
		}
	}
	setDefault(&cfg.StatusDelay, defaultStatusDelay)
	setDefault(&cfg.WebhookRetryInitial, defaultRetryInit)
	setDefault(&cfg.WebhookRetryMax, defaultRetryMax)
	setDefault(&cfg.WebhookRetryFor, defaultRetryFor)
	setDefault(&cfg.Window, defaultWindow)
	setDefault(&cfg.MediaURLTTL, defaultMediaURLTTL)
	setDefault(&cfg.TemplateReviewDelay, defaultReview)
	if cfg.MaxUploadBytes < 0 {
		return nil, errors.New("sandbox: MaxUploadBytes must not be negative")
	}
	if cfg.MaxUploadBytes == 0 {
		cfg.MaxUploadBytes = defaultMaxUpload
	}
	cfg.MediaBaseURL = strings.TrimSuffix(cfg.MediaBaseURL, "/")
	if cfg.WebhookRetryMax < cfg.WebhookRetryInitial {
		cfg.WebhookRetryMax = cfg.WebhookRetryInitial
	}
	if cfg.WebhookWorkers < 0 {
		return nil, errors.New("sandbox: WebhookWorkers must not be negative")
	}
	if cfg.WebhookWorkers == 0 {
		cfg.WebhookWorkers = defaultWebhookWorkers
	}
	knobs := &loadKnobs{
		Latency: cfg.Latency, ErrorRate: cfg.ErrorRate, ErrorCode: cfg.ErrorCode, ErrorSeed: cfg.ErrorSeed,
		Statuses: cfg.Statuses, StatusBatch: cfg.StatusBatch, KeepMessages: cfg.KeepMessages,
	}
	if err := validateKnobs(knobs); err != nil {
		return nil, errors.New("sandbox: " + err.Error())
	}
	cfg.ErrorCode, cfg.Statuses, cfg.StatusBatch = knobs.ErrorCode, knobs.Statuses, knobs.StatusBatch

	s := &Server{
		cfg:        cfg,
		log:        log,
		byID:       map[string]*Number{},
		byDigits:   map[string]*Number{},
		notOnWA:    map[string]bool{},
		webhookURL: cfg.WebhookURL,
		byWamid:    map[string]*record{},
		windows:    map[windowKey]time.Time{},
		media:      map[string]*mediaObj{},
		mediaURLs:  map[string]*mediaGrant{},
		queue:      newLanes(cfg.WebhookWorkers),
		sched:      newScheduler(),
		life:       simlife.New("sandbox"),
		poster:     newPoster(cfg.WebhookWorkers),
	}
	s.load.Store(knobs)
	s.settings = s.configSettings()
	secret := []byte(cfg.AppSecret)
	s.macs.New = func() any { return hmac.New(sha256.New, secret) }

	for i, n := range cfg.Numbers {
		if n.PhoneNumberID == "" {
			return nil, fmt.Errorf("sandbox: Numbers[%d]: PhoneNumberID is required", i)
		}
		digits, ok := normalizePhone(n.BusinessNumber)
		if !ok || !strings.HasPrefix(strings.TrimSpace(n.BusinessNumber), "+") {
			return nil, fmt.Errorf("sandbox: Numbers[%d]: BusinessNumber %q is not E.164", i, n.BusinessNumber)
		}
		if s.byID[n.PhoneNumberID] != nil {
			return nil, fmt.Errorf("sandbox: duplicate PhoneNumberID %q", n.PhoneNumberID)
		}
		if s.byDigits[digits] != nil {
			return nil, fmt.Errorf("sandbox: duplicate BusinessNumber %q", n.BusinessNumber)
		}
		num := &Number{PhoneNumberID: n.PhoneNumberID, BusinessNumber: "+" + digits}
		s.numbers = append(s.numbers, num)
		s.byID[num.PhoneNumberID] = num
		s.byDigits[digits] = num
	}
	for _, p := range cfg.NotOnWhatsApp {
		digits, ok := normalizePhone(p)
		if !ok {
			return nil, fmt.Errorf("sandbox: NotOnWhatsApp: %q is not a phone number", p)
		}
		s.notOnWA[digits] = true
	}
	tpls := cfg.Templates
	if tpls == nil {
		tpls = DefaultTemplates()
	}
	compiled, err := compileTemplates(tpls)
	if err != nil {
		return nil, err
	}
	s.initial = compiled
	s.templates = cloneTemplates(compiled)
	s.health = s.defaultHealth()
	s.handler = s.routes()
	return s, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Start listens on Config.Listen, serves in the background and starts the
// webhook delivery workers. It may be called once.
func (s *Server) Start() error {
	srv := &fasthttp.Server{
		Handler: s.fastHandler(),
		Name:    "wabridge-sandbox",
		// Room for the largest media upload; the handlers apply the finer
		// limits (maxBodyBytes, MaxUploadBytes) and answer as Graph does.
		// A body over this one is refused before any handler (requestError).
		MaxRequestBodySize:    int(s.cfg.MaxUploadBytes + 2*uploadOverhead),
		IdleTimeout:           2 * time.Minute,
		ReadBufferSize:        16 << 10, // the request line and headers, per connection (net/http took up to 1 MiB)
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		// The adapted handlers parse multipart bodies themselves.
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		ErrorHandler:                 requestError,
		Logger:                       fastLogger{s.log},
	}
	addr, err := s.life.StartFast(s.cfg.Listen, srv, s.startWorkersLocked)
	if err != nil {
		return err
	}
	s.log.Info("sandbox listening", "addr", addr.String(), "waba_id", s.cfg.WABAID)
	return nil
}

// Addr is the listening address ("127.0.0.1:PORT") after Start, else "".
func (s *Server) Addr() string { return s.life.Addr() }

// URL is "http://" + Addr() after Start, else "".
func (s *Server) URL() string {
	a := s.Addr()
	if a == "" {
		return ""
	}
	return "http://" + a
}

// Handler serves the Graph and control endpoints. Using it without Start
// (e.g. in httptest) starts the webhook workers lazily on first need; Close
// still has to be called to stop them.
func (s *Server) Handler() http.Handler { return s.handler }

// SetWebhookURL changes where webhooks are posted. Webhooks produced while no
// URL was set are delivered once one is.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	s.webhookURL = u
	var parked []*job
	if u != "" {
		parked, s.parked = s.parked, nil
	}
	s.mu.Unlock()
	for _, j := range parked {
		s.queue.push(j)
	}
}

// Close stops listening, cancels in-flight webhook deliveries and waits for
// the background goroutines, or for ctx. Calling it again returns the first
// result.
func (s *Server) Close(ctx context.Context) error {
	err := s.life.Close(ctx, func() {
		s.queue.close()
		s.poster.close() // cuts deliveries in flight
	})
	return err
}

// goAsync runs f in a tracked goroutine unless the server is closed. It
// reports whether f was started.
func (s *Server) goAsync(f func()) bool { return s.life.Go(f) }

// ensureWorkers starts the delivery pool if it is not running yet.
func (s *Server) ensureWorkers() {
	s.life.Locked(func(closed bool) {
		if !closed {
			s.startWorkersLocked()
		}
	})
}

func (s *Server) startWorkersLocked() {
	if s.workersOn {
		return
	}
	s.workersOn = true
	for i := range s.cfg.WebhookWorkers {
		s.life.GoLocked(func() { s.worker(i) })
	}
	s.life.GoLocked(s.statusLoop)
	s.workersUp.Store(true)
}

// routes builds the top-level handler: media downloads under
// /sandbox-media/, control API under /sandbox/, Graph everywhere else. Every
// body is capped at maxBodyBytes, media uploads (POST …/media) at
// MaxUploadBytes plus multipart overhead.
func (s *Server) routes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxBodyBytes)
		if r.Method == http.MethodPost && strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/media") {
			limit = s.cfg.MaxUploadBytes + uploadOverhead
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if strings.HasPrefix(r.URL.Path, mediaPathPrefix) {
			s.serveMediaDownload(w, r)
			return
		}
		if r.URL.Path == "/sandbox" || strings.HasPrefix(r.URL.Path, "/sandbox/") {
			s.serveControl(w, r)
			return
		}
		s.serveGraph(w, r)
	})
}

// windowKey identifies a customer-service window: one business number, one customer.
type windowKey struct {
	phoneNumberID string
	customer      string // digits
}

// windowOpenLocked reports whether the customer wrote to the number within Window.
func (s *Server) windowOpenLocked(k windowKey, now time.Time) (bool, time.Time) {
	last, ok := s.windows[k]
	if !ok {
		return false, time.Time{}
	}
	exp := last.Add(s.cfg.Window)
	return now.Before(exp), exp
}

// numberFor resolves a business number given as phone_number_id, E.164 or digits.
func (s *Server) numberFor(v string) *Number {
	if n := s.byID[v]; n != nil {
		return n
	}
	if d, ok := normalizePhone(v); ok {
		return s.byDigits[d]
	}
	return nil
}

// normalizePhone strips '+', spaces, dashes and brackets and returns the
// digits when 8–15 of them remain and nothing else does.
func normalizePhone(v string) (string, bool) {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '[' || r == ']' || r == '\t':
		default:
			return "", false
		}
	}
	d := b.String()
	if len(d) < 8 || len(d) > 15 {
		return "", false
	}
	return d, true
}
