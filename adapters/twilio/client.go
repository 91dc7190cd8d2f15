package twilio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/safefetch"
	"github.com/wabridge/wabridge/internal/upstream"
)

// Defaults for Config.
const (
	DefaultAPIURL     = "https://api.twilio.com"
	DefaultContentURL = "https://content.twilio.com"
	DefaultTimeout    = 30 * time.Second
	// DefaultMediaTimeout bounds one media download (up to 100 MiB).
	DefaultMediaTimeout = 5 * time.Minute
)

// DefaultMediaHosts are the hosts Twilio's media URLs redirect to, besides
// the API host itself. A MediaUrl{N} of a webhook is on api.twilio.com
// (/2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…) and redirects to a
// short-lived URL on mms.twiliocdn.com when "Enforce HTTP Auth on Media
// URLs" is on, or to s3-external-1.amazonaws.com for media stored without
// it (Twilio support article 223183748, "Protect Media Access with HTTP
// Basic Authentication for Programmable Messaging"; the Media resource at
// https://www.twilio.com/docs/messaging/api/media-resource). Both are
// listed by name, so the guard resolves them and dials public addresses
// only; the credentials never follow the redirect (internal/safefetch).
var DefaultMediaHosts = []string{"mms.twiliocdn.com", "s3-external-1.amazonaws.com"}

// Config configures a Client.
type Config struct {
	APIURL     string // default DefaultAPIURL
	ContentURL string // default DefaultContentURL
	// AccountSID ("AC…") is the account whose credentials authenticate.
	AccountSID string
	// AuthToken, or APIKeySID + APIKeySecret, are the basic auth password
	// (user AccountSID) or user and password. Never logged nor put in
	// errors.
	AuthToken    string
	APIKeySID    string
	APIKeySecret string
	// SubaccountSID, when set, is the account Messages are created in
	// (/2010-04-01/Accounts/{SubaccountSID}/Messages.json), authenticated
	// with the parent's credentials.
	SubaccountSID string
	// MessagingServiceSID ("MG…"), when set, is sent as MessagingServiceSid
	// instead of From on WhatsApp sends.
	MessagingServiceSID string
	// Numbers are the WhatsApp business numbers (E.164) this account sends
	// from; Send refuses any other Message.Business.
	Numbers []string
	// StatusCallback is the URL sent as StatusCallback on every WhatsApp
	// message ("" = none). Send adds the message's id as the query
	// parameter CallbackIDParam (see there).
	StatusCallback string
	// MediaHosts are the hosts media may be downloaded from besides the API
	// URL's host; nil means DefaultMediaHosts, an empty non-nil list the
	// API host only. Syntax as in internal/safefetch.
	MediaHosts []string
	// MediaURL returns a public URL Twilio can fetch a stored file from
	// (the daemon serves signed URLs). nil: Upload refuses.
	MediaURL func(ctx context.Context, f *bridge.File) (string, error)
	// Timeout bounds one API request; default DefaultTimeout.
	Timeout time.Duration
	// MediaTimeout bounds one media download; default DefaultMediaTimeout.
	MediaTimeout time.Duration
	// HTTPClient is used for API calls (not for media downloads, which go
	// through the guard); default a client keeping Conns idle connections.
	HTTPClient *http.Client
	// Conns is how many idle keep-alive connections to the API host the
	// default HTTP client keeps: at least the number of concurrent senders
	// (default upstream.DefaultConns). Ignored with HTTPClient.
	Conns int
	// Observe, if set, is called after every call: op is "send",
	// "send_sms", "list_templates" or "download_media"; code is Twilio's
	// error code or 0.
	Observe func(op string, d time.Duration, code int, err error)
}

// CallbackIDParam is the query parameter Send adds to Config.StatusCallback
// with the message's id (bridge.MessageID). Twilio's Messages API takes no
// client reference that its status callbacks echo, but it posts them to
// the StatusCallback URL as given, so the webhook handler can read the id
// from its own URL (bridge.StatusUpdate.CallbackData) and settle a send
// whose answer was lost. X-Twilio-Signature covers the full URL, query
// included, so the id cannot be forged.
const CallbackIDParam = "wabridge_id"

// Client talks to Twilio's REST APIs (Messages, Content). It is safe for
// concurrent use.
type Client struct {
	apiURL      *url.URL // scheme and host of APIURL
	apiBase     string   // APIURL without trailing slash
	contentURL  *url.URL
	contentBase string
	account     string // the account Messages are created in
	user, pass  string // basic auth
	service     string
	callback    string
	numbers     map[string]bool
	mediaURL    func(ctx context.Context, f *bridge.File) (string, error)
	timeout     time.Duration
	mediaTO     time.Duration
	http        *http.Client
	media       *safefetch.Fetcher
	observe     func(op string, d time.Duration, code int, err error)
	log         *slog.Logger
	now         func() time.Time

	// The Content index: name/language → content, from the last listing.
	mu       sync.Mutex
	index    map[string]contentRef
	listedAt time.Time     // last listing started for a Send miss
	listing  chan struct{} // closed when that listing ends; nil when none runs
}

// Interface guards.
var (
	_ bridge.Sender        = (*Client)(nil)
	_ bridge.MediaTransfer = (*Client)(nil)
)

// NewClient checks cfg, applies defaults and returns a Client. log may be nil.
func NewClient(cfg Config, log *slog.Logger) (*Client, error) {
	if !validSID(cfg.AccountSID, "AC") {
		return nil, fmt.Errorf("twilio: account SID %q is not an AC… SID", cfg.AccountSID)
	}
	c := &Client{
		account:  cfg.AccountSID,
		user:     cfg.AccountSID,
		service:  cfg.MessagingServiceSID,
		callback: cfg.StatusCallback,
		numbers:  make(map[string]bool, len(cfg.Numbers)),
		mediaURL: cfg.MediaURL,
		timeout:  cfg.Timeout,
		mediaTO:  cfg.MediaTimeout,
		http:     cfg.HTTPClient,
		observe:  cfg.Observe,
		log:      log,
		now:      time.Now,
		index:    map[string]contentRef{},
	}
	switch {
	case cfg.AuthToken != "" && (cfg.APIKeySID != "" || cfg.APIKeySecret != ""):
		return nil, errors.New("twilio: set either the auth token or an API key, not both")
	case cfg.AuthToken != "":
		c.pass = cfg.AuthToken
	case cfg.APIKeySID != "" && cfg.APIKeySecret != "":
		if !validSID(cfg.APIKeySID, "SK") {
			return nil, fmt.Errorf("twilio: API key SID %q is not an SK… SID", cfg.APIKeySID)
		}
		c.user, c.pass = cfg.APIKeySID, cfg.APIKeySecret
	default:
		return nil, errors.New("twilio: an auth token or an API key SID and secret are required")
	}
	if cfg.SubaccountSID != "" {
		if !validSID(cfg.SubaccountSID, "AC") {
			return nil, fmt.Errorf("twilio: subaccount SID %q is not an AC… SID", cfg.SubaccountSID)
		}
		c.account = cfg.SubaccountSID
	}
	if c.service != "" && !validSID(c.service, "MG") {
		return nil, fmt.Errorf("twilio: messaging service SID %q is not an MG… SID", c.service)
	}
	var err error
	if c.apiURL, c.apiBase, err = baseURL("API", cfg.APIURL, DefaultAPIURL); err != nil {
		return nil, err
	}
	if c.contentURL, c.contentBase, err = baseURL("content", cfg.ContentURL, DefaultContentURL); err != nil {
		return nil, err
	}
	if c.callback != "" {
		if u, err := url.Parse(c.callback); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("twilio: status callback %q is not an absolute http(s) URL", c.callback)
		}
	}
	for _, n := range cfg.Numbers {
		biz := bridge.NormalizePhone(n)
		if biz == "" {
			return nil, fmt.Errorf("twilio: invalid business number %q", n)
		}
		if c.numbers[biz] {
			return nil, fmt.Errorf("twilio: business number %s configured twice", biz)
		}
		c.numbers[biz] = true
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.mediaTO <= 0 {
		c.mediaTO = DefaultMediaTimeout
	}
	hosts := cfg.MediaHosts
	if hosts == nil {
		hosts = DefaultMediaHosts
	}
	if c.media, err = safefetch.New(c.apiURL.Host, hosts); err != nil {
		return nil, fmt.Errorf("twilio: %w", err)
	}
	if c.http == nil {
		c.http = upstream.NewHTTPClient(cfg.Conns)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// baseURL checks an API base URL (scheme and host, optionally a path
// prefix) and returns it parsed and without a trailing slash.
func baseURL(what, raw, def string) (*url.URL, string, error) {
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return nil, "", fmt.Errorf("twilio: invalid %s URL %q", what, raw)
	}
	return u, strings.TrimRight(raw, "/"), nil
}

// validSID reports whether s is a Twilio SID with the two-letter prefix:
// the prefix and 32 characters (hex digits in real SIDs; letters are
// accepted, as documentation examples use "ACXXXX…").
func validSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, r := range s[2:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// HasNumber reports whether business (any notation NormalizePhone
// accepts) is one of Config.Numbers.
func (c *Client) HasNumber(business string) bool {
	return c.numbers[bridge.NormalizePhone(business)]
}

// messagesURL is the Messages list of the sending account.
func (c *Client) messagesURL() string {
	return c.apiBase + "/2010-04-01/Accounts/" + url.PathEscape(c.account) + "/Messages.json"
}
