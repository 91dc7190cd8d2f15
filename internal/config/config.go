// Package config loads and validates wabridge's configuration: a strict TOML
// file (unknown keys are errors) on top of embedded defaults, with *_file
// twins for every secret, reporting every problem at once with its line.
//
// The defaults run as is: SQLite and the built-in WhatsApp sandbox. See
// config.example.toml at the repository root for every key.
package config

import (
	"net"
	"path/filepath"
	"strings"
	"time"
)

// Config is the whole configuration. Field names follow the TOML keys.
type Config struct {
	Log        LogConfig        `toml:"log"`
	Daemon     DaemonConfig     `toml:"daemon"`
	Store      StoreConfig      `toml:"store"`
	HTTP       HTTPConfig       `toml:"http"`
	API        APIConfig        `toml:"api"`
	WhatsApp   WhatsAppConfig   `toml:"whatsapp"`
	Twilio     TwilioConfig     `toml:"twilio"`
	Outbox     OutboxConfig     `toml:"outbox"`
	Sandbox    SandboxConfig    `toml:"sandbox"`
	SMPP       SMPPConfig       `toml:"smpp"`
	Mail       MailConfig       `toml:"mail"`
	SMTP       SMTPConfig       `toml:"smtp"`
	IMAP       IMAPConfig       `toml:"imap"`
	Templates  TemplatesConfig  `toml:"templates"`
	Compliance ComplianceConfig `toml:"compliance"`
	SMS        SMSConfig        `toml:"sms"`
	Fallback   FallbackConfig   `toml:"fallback"`
}

// SMSConfig is [sms]: the SMS routes fallback uses.
type SMSConfig struct {
	Routes []SMSRoute `toml:"routes"`
}

// SMSRoute is one [[sms.routes]] entry.
type SMSRoute struct {
	Name string `toml:"name"`
	Type string `toml:"type"` // smpp or twilio
	// From and MessagingServiceSID are a twilio route's sender: a number
	// (E.164) or alphanumeric id, or a Messaging Service.
	From                string `toml:"from"`
	MessagingServiceSID string `toml:"messaging_service_sid"`
	Host                string `toml:"host"`
	Port                int    `toml:"port"`
	SystemID            string `toml:"system_id"`
	Password            Secret `toml:"password"`
	PasswordFile        string `toml:"password_file"`
	SystemType          string `toml:"system_type"`
	Throughput          int    `toml:"throughput"` // submit_sm per second; 0: no limit
	TLS                 bool   `toml:"tls"`
	CAFile              string `toml:"ca_file"` // trust for tls; "" for the system's
	// AlphanumericSource lets an ESME's alphanumeric source_addr be the
	// SMS sender (when the operator allows it).
	AlphanumericSource bool `toml:"alphanumeric_source"`
}

// FallbackConfig is [fallback]: when a message moves from WhatsApp to SMS.
type FallbackConfig struct {
	Enabled      bool     `toml:"enabled"`
	Timeout      Duration `toml:"timeout"` // no delivered within it: SMS; "0s": never
	Off          []string `toml:"off"`     // triggers that must not move messages
	BreakerProbe Duration `toml:"breaker_probe"`
}

// LogConfig is [log].
type LogConfig struct {
	Level  string `toml:"level"`  // debug|info|warn|error
	Format string `toml:"format"` // text|json
}

// DaemonConfig is [daemon].
type DaemonConfig struct {
	// ShutdownTimeout bounds the graceful stop on SIGTERM: stop accepting,
	// finish in-flight work within this, exit 0.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// PprofListen, when set, serves Go's net/http/pprof profiles there
	// (loopback only) for profiling under load.
	PprofListen string `toml:"pprof_listen"`
}

// StoreConfig is [store].
type StoreConfig struct {
	Driver      string   `toml:"driver"`    // "sqlite" ("postgres" comes later)
	Path        string   `toml:"path"`      // SQLite file, relative to the working directory
	MediaDir    string   `toml:"media_dir"` // media files; empty: beside the database ("<path without extension>-media")
	DSN         Secret   `toml:"dsn"`       // PostgreSQL DSN (accepted, unused for now)
	DSNFile     string   `toml:"dsn_file"`  // file holding DSN; after loading, the resolved path
	Retention   Duration `toml:"retention"`
	CommitBatch int      `toml:"commit_batch"`
	CommitDelay Duration `toml:"commit_delay"`
	// WriterPriority: nice levels the store writer's thread runs above the
	// daemon; 0 (the default): no thread of its own, no priority.
	WriterPriority int `toml:"writer_priority"`
}

// HTTPConfig is [http].
type HTTPConfig struct {
	Listen       string   `toml:"listen"`
	PublicURL    string   `toml:"public_url"`
	MaxBodyBytes Size     `toml:"max_body_bytes"`
	ReadTimeout  Duration `toml:"read_timeout"`
	WriteTimeout Duration `toml:"write_timeout"`
	// CertFile and KeyFile (PEM) switch the listener to HTTPS; after
	// loading they are resolved against the config file's directory.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
}

// APIConfig is [api].
type APIConfig struct {
	// Tokens are the bearer tokens accepted by /api/v1: those of tokens plus
	// those read from tokens_file. Empty means the daemon generates one.
	Tokens     []Secret `toml:"tokens"`
	TokensFile string   `toml:"tokens_file"` // after loading, the resolved path
}

// WhatsAppConfig is [whatsapp].
type WhatsAppConfig struct {
	Provider string `toml:"provider"` // "cloud" (Meta) or "twilio"
	GraphURL string `toml:"graph_url"`
	// GraphURLSet reports whether graph_url was given in the file. When it was
	// not and the sandbox is enabled, the daemon points the client at the sandbox.
	GraphURLSet     bool     `toml:"-"`
	APIVersion      string   `toml:"api_version"`
	WABAID          string   `toml:"waba_id"`
	AccessToken     Secret   `toml:"access_token"`
	AccessTokenFile string   `toml:"access_token_file"`
	AppSecret       Secret   `toml:"app_secret"`
	AppSecretFile   string   `toml:"app_secret_file"`
	VerifyToken     Secret   `toml:"verify_token"`
	VerifyTokenFile string   `toml:"verify_token_file"`
	MediaHosts      []string `toml:"media_hosts"`
	Timeout         Duration `toml:"timeout"`
	// PhoneNumberID and BusinessNumber are the one-number shorthand. After
	// loading they are always empty: the number has moved to Numbers[0].
	PhoneNumberID  string `toml:"phone_number_id"`
	BusinessNumber string `toml:"business_number"`
	// Numbers are the business numbers of the WABA ([[whatsapp.numbers]]).
	Numbers []Number `toml:"numbers"`
}

// TwilioConfig is [twilio]: the Twilio account used when whatsapp.provider
// is "twilio" and by [[sms.routes]] of type "twilio".
type TwilioConfig struct {
	AccountSID    string `toml:"account_sid"`
	AuthToken     Secret `toml:"auth_token"`
	AuthTokenFile string `toml:"auth_token_file"`
	// APIKeySID and APIKeySecret, when set, authenticate REST calls
	// instead of the auth token (which still checks webhooks).
	APIKeySID        string `toml:"api_key_sid"`
	APIKeySecret     Secret `toml:"api_key_secret"`
	APIKeySecretFile string `toml:"api_key_secret_file"`
	// SubaccountSID sends on a subaccount with the account's credentials;
	// SubaccountAuthToken is the subaccount's own token, which signs its
	// webhooks.
	SubaccountSID           string   `toml:"subaccount_sid"`
	SubaccountAuthToken     Secret   `toml:"subaccount_auth_token"`
	SubaccountAuthTokenFile string   `toml:"subaccount_auth_token_file"`
	MessagingServiceSID     string   `toml:"messaging_service_sid"`
	APIURL                  string   `toml:"api_url"`
	ContentURL              string   `toml:"content_url"`
	MediaHosts              []string `toml:"media_hosts"`
	Timeout                 Duration `toml:"timeout"`
	// APIURLSet and ContentURLSet report whether the URLs were given in
	// the file; when not and the sandbox is enabled, the simulator is used.
	APIURLSet     bool `toml:"-"`
	ContentURLSet bool `toml:"-"`
}

// UsesTwilio reports whether anything uses Twilio: the WhatsApp provider or an
// SMS route.
func (c *Config) UsesTwilio() bool {
	if c.WhatsApp.Provider == "twilio" {
		return true
	}
	for _, r := range c.SMS.Routes {
		if r.Type == "twilio" {
			return true
		}
	}
	return false
}

// Number is one WhatsApp business phone number.
type Number struct {
	PhoneNumberID  string `toml:"phone_number_id"` // Meta's id for the number (digits); not used with Twilio
	BusinessNumber string `toml:"business_number"` // E.164, e.g. "+15550100001"
}

// OutboxConfig is [outbox].
type OutboxConfig struct {
	Workers         int      `toml:"workers"`
	MaxAttempts     int      `toml:"max_attempts"`
	BackoffInitial  Duration `toml:"backoff_initial"`
	BackoffMax      Duration `toml:"backoff_max"`
	Lease           Duration `toml:"lease"`
	ReconcileWindow Duration `toml:"reconcile_window"`
	PollInterval    Duration `toml:"poll_interval"`
	// WhatsApp's throughput, kept by pacing (never by failing): messages
	// per second per business number, and per business number and
	// customer one message per pair_interval with bursts of pair_burst.
	NumberRate   int      `toml:"number_rate"`
	PairInterval Duration `toml:"pair_interval"`
	PairBurst    int      `toml:"pair_burst"`
}

// MailConfig is [mail]: the mail domain and the mail users.
type MailConfig struct {
	Domain string     `toml:"domain"` // recipients are <E.164 digits>@domain
	Users  []MailUser `toml:"users"`
}

// MailUser is one [[mail.users]] entry.
type MailUser struct {
	Username     string   `toml:"username"`
	Password     Secret   `toml:"password"` // plain or a bcrypt hash
	PasswordFile string   `toml:"password_file"`
	Numbers      []string `toml:"numbers"`
}

// SMTPConfig is [smtp], mail submission to WhatsApp.
type SMTPConfig struct {
	Listen            string `toml:"listen"`     // submission with STARTTLS; "" for none
	TLSListen         string `toml:"tls_listen"` // implicit TLS; "" for none
	CertFile          string `toml:"cert_file"`
	KeyFile           string `toml:"key_file"`
	MaxMessageBytes   Size   `toml:"max_message_bytes"`
	AllowInsecureAuth bool   `toml:"allow_insecure_auth"` // loopback listeners only
	Subject           string `toml:"subject"`             // ignore, prepend, only-if-no-body
	LongText          string `toml:"long_text"`           // split, refuse
}

// TemplatesConfig is [templates]: the template catalogue and how plain
// text outside the customer-service window is resolved.
type TemplatesConfig struct {
	TTL                Duration      `toml:"ttl"`         // catalogue cache lifetime
	RetryAfter         Duration      `toml:"retry_after"` // after a failed listing
	Languages          []string      `toml:"languages"`   // order for a template in several languages
	Resolve            bool          `toml:"resolve"`     // match plain text to approved templates
	USMarketingBlocked bool          `toml:"us_marketing_blocked"`
	SMPPPrefix         string        `toml:"smpp_prefix"` // "tpl:name|p1|p2"; "" for none
	Variables          []string      `toml:"variables"`   // "Friendly Name=parameter"
	Pins               []TemplatePin `toml:"pins"`
}

// ComplianceConfig is [compliance]: opt-out and opt-in by keyword.
type ComplianceConfig struct {
	OptOutKeywords []string `toml:"opt_out_keywords"`
	OptInKeywords  []string `toml:"opt_in_keywords"`
	OptOutReply    string   `toml:"opt_out_reply"`
	OptInReply     string   `toml:"opt_in_reply"`
	// MessagingLimit is the account's tier: unique customers per rolling
	// 24 hours it may message outside their window; 0: unlimited.
	MessagingLimit int `toml:"messaging_limit"`
}

// TemplatePin is one [[templates.pins]] rule.
type TemplatePin struct {
	SMPPAccount string `toml:"smpp_account"` // system_id
	ServiceType string `toml:"service_type"` // with smpp_account
	MailUser    string `toml:"mail_user"`
	Template    string `toml:"template"`
	Language    string `toml:"language"`
}

// IMAPConfig is [imap], the mailboxes of the mail users.
type IMAPConfig struct {
	Listen            string `toml:"listen"`     // plain with STARTTLS; "" for none
	TLSListen         string `toml:"tls_listen"` // implicit TLS; "" for none
	CertFile          string `toml:"cert_file"`
	KeyFile           string `toml:"key_file"`
	MaxMessageBytes   Size   `toml:"max_message_bytes"`   // APPEND limit
	AllowInsecureAuth bool   `toml:"allow_insecure_auth"` // loopback listeners only
	// BusySessions is how many sessions work on commands at once; 0 = one
	// per scheduler processor (see adapters/imap.Config.BusySessions).
	BusySessions int `toml:"busy_sessions"`
	// HeaderCache bounds the memory kept for recently read messages'
	// headers (mailbox.Config.HeaderCacheBytes); 0: none.
	HeaderCache Size `toml:"header_cache"`
}

// SMPPConfig is [smpp], the SMPP server (SMSC side) ESMEs bind to.
type SMPPConfig struct {
	Listen        string        `toml:"listen"`     // plain TCP; "" for none
	TLSListen     string        `toml:"tls_listen"` // TLS; needs cert_file and key_file
	CertFile      string        `toml:"cert_file"`
	KeyFile       string        `toml:"key_file"`
	Window        int           `toml:"window"`
	EnquireLink   Duration      `toml:"enquire_link"`
	Inactivity    Duration      `toml:"inactivity"`
	Timeout       Duration      `toml:"response_timeout"`
	BindFailDelay Duration      `toml:"bind_fail_delay"`
	MaxQueue      int           `toml:"max_queue"`
	PartTimeout   Duration      `toml:"part_timeout"`
	Accounts      []SMPPAccount `toml:"accounts"`
}

// SMPPAccount is one [[smpp.accounts]] entry.
type SMPPAccount struct {
	SystemID           string   `toml:"system_id"`
	Password           Secret   `toml:"password"` // plain (≤ 8 characters) or a bcrypt hash
	PasswordFile       string   `toml:"password_file"`
	Numbers            []string `toml:"numbers"`
	MaxBinds           int      `toml:"max_binds"`
	Throughput         float64  `toml:"throughput"`
	DefaultCountry     string   `toml:"default_country"`
	AllowedIPs         []string `toml:"allowed_ips"`
	DataCoding0        string   `toml:"data_coding_0"` // gsm, ia5, latin1
	LongReplies        string   `toml:"long_replies"`  // payload, udh
	AlphanumericSource bool     `toml:"alphanumeric_source"`
}

// SandboxConfig is [sandbox], the built-in WhatsApp Cloud API simulator.
type SandboxConfig struct {
	Enabled             bool              `toml:"enabled"`
	Listen              string            `toml:"listen"`
	WebhookURL          string            `toml:"webhook_url"` // empty: see Config.SandboxWebhookURL
	StatusDelay         Duration          `toml:"status_delay"`
	AutoRead            bool              `toml:"auto_read"`
	NotOnWhatsApp       []string          `toml:"not_on_whatsapp"`
	WebhookRetryInitial Duration          `toml:"webhook_retry_initial"`
	WebhookRetryMax     Duration          `toml:"webhook_retry_max"`
	TwilioListen        string            `toml:"twilio_listen"`         // the Twilio simulator, when Twilio is used
	Latency             Duration          `toml:"latency"`               // added to every Graph API answer
	ErrorPercent        int               `toml:"error_percent"`         // this percentage of sends fails with 131000 (retryable)
	Statuses            string            `toml:"statuses"`              // status webhooks after a send: all|delivered|sent|none
	StatusBatch         int               `toml:"status_batch"`          // statuses per webhook POST
	WebhookWorkers      int               `toml:"webhook_workers"`       // concurrent webhook deliveries
	TemplateReviewDelay Duration          `toml:"template_review_delay"` // PENDING → APPROVED/REJECTED for templates created through Graph
	USMarketingBlocked  bool              `toml:"us_marketing_blocked"`  // MARKETING templates to US numbers fail with 131049
	Templates           []SandboxTemplate `toml:"templates"`             // empty: the sandbox's built-in samples
}

// SandboxTemplate is one [[sandbox.templates]] entry.
type SandboxTemplate struct {
	Name            string `toml:"name"`             // ^[a-z0-9_]+$
	Language        string `toml:"language"`         // e.g. en_US
	Category        string `toml:"category"`         // MARKETING|UTILITY|AUTHENTICATION
	Status          string `toml:"status"`           // APPROVED (default)|PENDING|REJECTED|PAUSED|DISABLED
	ParameterFormat string `toml:"parameter_format"` // POSITIONAL (default)|NAMED
	HeaderFormat    string `toml:"header_format"`    // ""|TEXT|IMAGE|VIDEO|DOCUMENT
	HeaderText      string `toml:"header_text"`
	Body            string `toml:"body"`
	Footer          string `toml:"footer"`
}

// The sandbox's sample identity. It is used only while the sandbox is enabled.
const (
	SandboxWABAID         = "100000000000001"
	SandboxPhoneNumberID  = "100000000000002"
	SandboxBusinessNumber = "+15550100001"
	SandboxAccessToken    = "sandbox-access-token"
	SandboxAppSecret      = "sandbox-app-secret"
	SandboxVerifyToken    = "sandbox-verify-token"
	// The Twilio simulator's sample account.
	SandboxTwilioAccountSID = "AC00000000000000000000000000000001"
	SandboxTwilioAuthToken  = "sandbox-twilio-auth-token"
)

// Default returns the embedded defaults: SQLite and the built-in sandbox with
// its sample WhatsApp identity. The daemon runs on these as is.
func Default() *Config {
	c := base()
	c.applySandboxIdentity()
	return c
}

// base is Default without the sandbox's sample identity: what a file is
// decoded on top of.
func base() *Config {
	return &Config{
		Log:    LogConfig{Level: "info", Format: "text"},
		Daemon: DaemonConfig{ShutdownTimeout: Duration(15 * time.Second)},
		Store: StoreConfig{
			Driver:         "sqlite",
			Path:           "wabridge.db",
			Retention:      Duration(720 * time.Hour),
			CommitBatch:    256,
			CommitDelay:    0,
			WriterPriority: 0,
		},
		HTTP: HTTPConfig{
			Listen:       "127.0.0.1:8080",
			MaxBodyBytes: 4 << 20,
			ReadTimeout:  Duration(10 * time.Second),
			WriteTimeout: Duration(10 * time.Second),
		},
		API: APIConfig{Tokens: []Secret{}},
		WhatsApp: WhatsAppConfig{
			Provider:   "cloud",
			GraphURL:   "https://graph.facebook.com",
			APIVersion: "v24.0",
			MediaHosts: []string{"lookaside.fbsbx.com"},
			Timeout:    Duration(30 * time.Second),
			Numbers:    []Number{},
		},
		Twilio: TwilioConfig{
			APIURL:     "https://api.twilio.com",
			ContentURL: "https://content.twilio.com",
			MediaHosts: []string{"mms.twiliocdn.com", "s3-external-1.amazonaws.com"},
			Timeout:    Duration(30 * time.Second),
		},
		Outbox: OutboxConfig{
			Workers:         64,
			MaxAttempts:     8,
			BackoffInitial:  Duration(time.Second),
			BackoffMax:      Duration(5 * time.Minute),
			Lease:           Duration(60 * time.Second),
			ReconcileWindow: Duration(2 * time.Minute),
			PollInterval:    Duration(time.Second),
			NumberRate:      80,
			PairInterval:    Duration(6 * time.Second),
			PairBurst:       45,
		},
		Mail: MailConfig{Domain: "wa.localhost"},
		SMTP: SMTPConfig{
			Listen:          "127.0.0.1:2525",
			MaxMessageBytes: Size(30 << 20),
			Subject:         "ignore",
			LongText:        "split",
		},
		Templates: TemplatesConfig{
			TTL:                Duration(30 * time.Minute),
			RetryAfter:         Duration(30 * time.Second),
			Languages:          []string{"en_US", "en"},
			Resolve:            true,
			USMarketingBlocked: true,
			SMPPPrefix:         "tpl:",
			Variables:          []string{},
		},
		SMS:      SMSConfig{Routes: []SMSRoute{}},
		Fallback: FallbackConfig{Enabled: true, Off: []string{}, BreakerProbe: Duration(time.Minute)},
		Compliance: ComplianceConfig{
			OptOutKeywords: []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "STOPP", "ABMELDEN", "ARRET", "ARRÊT", "BAJA", "ALTO", "PARAR", "SAIR", "DISISCRIVI"},
			OptInKeywords:  []string{"START", "UNSTOP", "SUBSCRIBE", "ANMELDEN", "ALTA", "INICIAR"},
			OptOutReply:    "You have been unsubscribed and will get no more messages from us. Reply START to subscribe again.",
			OptInReply:     "You are subscribed again. Reply STOP to unsubscribe.",
		},
		IMAP: IMAPConfig{
			Listen:          "127.0.0.1:1143",
			MaxMessageBytes: Size(30 << 20),
			HeaderCache:     Size(8 << 20),
		},
		SMPP: SMPPConfig{
			Listen:        "127.0.0.1:2775",
			Window:        10,
			EnquireLink:   Duration(30 * time.Second),
			Inactivity:    Duration(120 * time.Second),
			Timeout:       Duration(10 * time.Second),
			BindFailDelay: Duration(time.Second),
			MaxQueue:      100000,
			PartTimeout:   Duration(10 * time.Minute),
		},
		Sandbox: SandboxConfig{
			Enabled:             true,
			Listen:              "127.0.0.1:8081",
			TwilioListen:        "127.0.0.1:8082",
			Statuses:            "all",
			StatusBatch:         1,
			WebhookWorkers:      16,
			StatusDelay:         Duration(100 * time.Millisecond),
			AutoRead:            true,
			NotOnWhatsApp:       []string{},
			WebhookRetryInitial: Duration(time.Second),
			WebhookRetryMax:     Duration(30 * time.Second),
			TemplateReviewDelay: Duration(2 * time.Second),
			USMarketingBlocked:  true,
			Templates:           []SandboxTemplate{},
		},
	}
}

// applySandboxIdentity fills the WhatsApp identity keys left empty with the
// sandbox's sample values.
func (c *Config) applySandboxIdentity() {
	w := &c.WhatsApp
	if w.WABAID == "" {
		w.WABAID = SandboxWABAID
	}
	if w.AccessToken == "" {
		w.AccessToken = SandboxAccessToken
	}
	if w.AppSecret == "" {
		w.AppSecret = SandboxAppSecret
	}
	if w.VerifyToken == "" {
		w.VerifyToken = SandboxVerifyToken
	}
	if len(w.Numbers) == 0 && w.PhoneNumberID == "" && w.BusinessNumber == "" {
		w.Numbers = []Number{{PhoneNumberID: SandboxPhoneNumberID, BusinessNumber: SandboxBusinessNumber}}
	}
	if c.UsesTwilio() {
		t := &c.Twilio
		if t.AccountSID == "" {
			t.AccountSID = SandboxTwilioAccountSID
		}
		if t.AuthToken == "" {
			t.AuthToken = SandboxTwilioAuthToken
		}
	}
}

// SandboxTwilioWebhookURL is where a separately run Twilio simulator
// posts: http.public_url + "/webhooks/twilio", or the HTTP listener's
// address (an unspecified host becomes 127.0.0.1). A daemon listening on
// port 0 substitutes its real address itself.
func (c *Config) SandboxTwilioWebhookURL() string {
	if c.HTTP.PublicURL != "" {
		return strings.TrimRight(c.HTTP.PublicURL, "/") + "/webhooks/twilio"
	}
	return "http://" + dialable(c.HTTP.Listen) + "/webhooks/twilio"
}

// MediaPath is where media files are kept: media_dir, or a directory named
// after the database file ("wabridge.db" → "wabridge-media").
func (c *Config) MediaPath() string {
	if c.Store.MediaDir != "" {
		return c.Store.MediaDir
	}
	return strings.TrimSuffix(c.Store.Path, filepath.Ext(c.Store.Path)) + "-media"
}

// BusinessNumbers returns the E.164 business numbers of all configured numbers, in order.
func (c *Config) BusinessNumbers() []string {
	out := make([]string, 0, len(c.WhatsApp.Numbers))
	for _, n := range c.WhatsApp.Numbers {
		out = append(out, n.BusinessNumber)
	}
	return out
}

// SandboxWebhookURL is where the sandbox delivers webhooks: sandbox.webhook_url,
// or http://<http.listen>/webhooks/whatsapp when that is empty (an unspecified
// listen host becomes 127.0.0.1). A daemon listening on port 0 must substitute
// the real address itself.
func (c *Config) SandboxWebhookURL() string {
	if c.Sandbox.WebhookURL != "" {
		return c.Sandbox.WebhookURL
	}
	return "http://" + dialable(c.HTTP.Listen) + "/webhooks/whatsapp"
}

// dialable turns a listen address into one a local client can dial.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
