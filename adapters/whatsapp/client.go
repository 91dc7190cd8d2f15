// Package whatsapp is wabridge's adapter for Meta's WhatsApp Cloud API: a
// client that sends messages, marks them read and lists templates through the
// Graph API, and a parser that turns webhook deliveries into bridge events.
//
// Facts about the API are taken from shared/FACTS.md section b and Meta's
// developer documentation (developers.facebook.com/documentation/
// business-messaging/whatsapp); where both disagree, the documentation wins.
package whatsapp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/safefetch"
	"github.com/wabridge/wabridge/internal/upstream"
)

// Defaults for Config.
const (
	DefaultGraphURL   = "https://graph.facebook.com"
	DefaultAPIVersion = "v24.0"
	DefaultTimeout    = 30 * time.Second
	// DefaultMediaTimeout bounds one media upload or download (up to
	// 100 MiB each).
	DefaultMediaTimeout = 5 * time.Minute
)

// DefaultMediaHosts are the hosts Meta serves media downloads from, besides
// the Graph host itself.
var DefaultMediaHosts = []string{"lookaside.fbsbx.com"}

// Number is one registered business phone number: Meta's phone number id and
// the number itself in E.164 form ("+15550100001").
type Number struct {
	PhoneNumberID  string
	BusinessNumber string
}

// Config configures a Client.
type Config struct {
	GraphURL    string // default DefaultGraphURL
	APIVersion  string // default DefaultAPIVersion
	WABAID      string // WhatsApp Business Account id; needed by ListTemplates
	AccessToken string // system user token; never logged nor put in errors
	Numbers     []Number
	Timeout     time.Duration // per request, default DefaultTimeout
	HTTPClient  *http.Client  // optional; used for Graph calls, not for media downloads
	// Conns is how many idle keep-alive connections to the Graph host the
	// default HTTP client keeps: at least the number of concurrent
	// senders (default upstream.DefaultConns). Ignored with HTTPClient.
	Conns int
	// MediaTimeout bounds one media upload or download; default
	// DefaultMediaTimeout.
	MediaTimeout time.Duration
	// MediaHosts are the hosts media may be downloaded from besides the
	// Graph URL's host: host names or host:port, matched exactly and
	// case-insensitively ("*.example.com" also allows subdomains). nil means
	// DefaultMediaHosts; an empty non-nil list allows the Graph host only.
	// Hosts listed exactly (and the Graph host) may resolve to any address;
	// hosts matched by a "*." entry must resolve to public addresses. See
	// internal/safefetch.
	MediaHosts []string
	// Observe, if set, is called after every Graph call: op is "send",
	// "mark_read", "list_templates", "upload_media", "media_info" or
	// "download_media"; code is Meta's error code or 0.
	Observe func(op string, d time.Duration, code int, err error)
}

// Client talks to the Graph API. It is safe for concurrent use.
type Client struct {
	base     string // GraphURL + "/" + APIVersion, no trailing slash
	wabaID   string
	token    string
	timeout  time.Duration
	http     *http.Client
	observe  func(op string, d time.Duration, code int, err error)
	log      *slog.Logger
	phoneIDs map[string]string // E.164 business number → phone number id

	mediaTimeout time.Duration
	media        *safefetch.Fetcher // guarded client for media downloads
}

// Interface guards.
var (
	_ bridge.Sender        = (*Client)(nil)
	_ bridge.ReadMarker    = (*Client)(nil)
	_ bridge.MediaTransfer = (*Client)(nil)
)

// NewClient checks cfg, applies defaults and returns a Client. log may be nil.
func NewClient(cfg Config, log *slog.Logger) (*Client, error) {
	if cfg.AccessToken == "" {
		return nil, errors.New("whatsapp: access token is required")
	}
	graph := cfg.GraphURL
	if graph == "" {
		graph = DefaultGraphURL
	}
	u, err := url.Parse(graph)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("whatsapp: invalid graph URL %q", graph)
	}
	version := cfg.APIVersion
	if version == "" {
		version = DefaultAPIVersion
	}
	if strings.Contains(version, "/") {
		return nil, fmt.Errorf("whatsapp: invalid API version %q", version)
	}
	c := &Client{
		base:     strings.TrimRight(graph, "/") + "/" + version,
		wabaID:   cfg.WABAID,
		token:    cfg.AccessToken,
		timeout:  cfg.Timeout,
		http:     cfg.HTTPClient,
		observe:  cfg.Observe,
		log:      log,
		phoneIDs: make(map[string]string, len(cfg.Numbers)),
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	c.mediaTimeout = cfg.MediaTimeout
	if c.mediaTimeout <= 0 {
		c.mediaTimeout = DefaultMediaTimeout
	}
	hosts := cfg.MediaHosts
	if hosts == nil {
		hosts = DefaultMediaHosts
	}
	if c.media, err = safefetch.New(u.Host, hosts); err != nil {
		return nil, fmt.Errorf("whatsapp: %w", err)
	}
	if c.http == nil {
		c.http = upstream.NewHTTPClient(cfg.Conns)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	for _, n := range cfg.Numbers {
		if n.PhoneNumberID == "" || strings.ContainsAny(n.PhoneNumberID, "/?#") {
			return nil, fmt.Errorf("whatsapp: invalid phone number id %q", n.PhoneNumberID)
		}
		biz := bridge.NormalizePhone(n.BusinessNumber)
		if biz == "" {
			return nil, fmt.Errorf("whatsapp: invalid business number %q", n.BusinessNumber)
		}
		if _, dup := c.phoneIDs[biz]; dup {
			return nil, fmt.Errorf("whatsapp: business number %s configured twice", biz)
		}
		c.phoneIDs[biz] = n.PhoneNumberID
	}
	return c, nil
}

// PhoneNumberID returns Meta's phone number id for a business number in any
// notation NormalizePhone accepts; ok is false when it is not configured.
func (c *Client) PhoneNumberID(business string) (string, bool) {
	id, ok := c.phoneIDs[bridge.NormalizePhone(business)]
	return id, ok
}
