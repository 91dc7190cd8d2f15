// Package safefetch is the guarded HTTP client wabridge uses to download
// media from a provider (Meta's Graph API, Twilio). Providers hand out media
// URLs (Meta: GET /{media-id} → "url", usually
// https://lookaside.fbsbx.com/whatsapp_business/attachments/…; Twilio: the
// MediaUrl{N} of a webhook on api.twilio.com, which redirects to a CDN) and
// the request carries the provider's credentials. So that neither a changed
// answer nor a redirect can point the bridge (and its credentials)
// elsewhere, every fetch goes through the guard in this package:
//
//   - Host allowlist. A URL is fetched only when its host is the primary
//     host (the provider's API host) or matches one of the configured hosts
//     (exact host name or host:port, case-insensitive; "*.example.com"
//     matches subdomains of example.com). Anything else is refused before a
//     connection is made.
//   - Redirects: at most MaxRedirects, each target checked against the same
//     allowlist; never from https to http; the Authorization header is
//     removed when the target's host differs from the first request's, so
//     credentials meant for the API host never reach a CDN.
//   - Dial-time address check. The primary host, and configured hosts that
//     are literal IP addresses or "localhost", are dialled as named: the
//     operator pointed at them on purpose (simulators run on 127.0.0.1).
//     Every other host — names such as lookaside.fbsbx.com, and "*."
//     matches — is resolved here and dialled by address, and only public
//     addresses are used: loopback, private (RFC 1918, fc00::/7),
//     link-local, CGNAT 100.64.0.0/10, unspecified, "this network",
//     broadcast and multicast addresses are refused, so DNS cannot steer a
//     fetch into the local network.
//   - No proxy from the environment and no transparent decompression: the
//     bytes hashed are the bytes served.
package safefetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxRedirects is how many redirects a fetch may follow.
const MaxRedirects = 3

// RefusedError is a fetch the guard refused. Refusals are final. Its text
// names the host, never the URL's query (signed media URLs carry one).
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return "media fetch refused: " + e.Msg }

// IsRefused reports whether err is (or wraps) a RefusedError.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

// hostRule is one allowed media host.
type hostRule struct {
	host     string // lower case, no brackets, no trailing dot; for wildcards the parent domain
	port     string // "" matches any port
	wildcard bool   // "*.host": strict subdomains of host
}

// Fetcher is the guarded HTTP client. It is safe for concurrent use.
type Fetcher struct {
	rules       []hostRule
	primaryHost string // canonical host name of the primary host
	client      *http.Client
	dialer      *net.Dialer
	// lookup resolves a host name that is not named exactly, and dial
	// connects to a host:port; both are seams for tests.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New builds the guard for the primary host (host or host:port, as in
// url.URL.Host: the provider's API host) and the other allowed hosts (see
// the package comment for their syntax).
func New(primaryHost string, hosts []string) (*Fetcher, error) {
	f := &Fetcher{
		dialer: &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
	}
	f.dial = f.dialer.DialContext
	primary, err := parseHostRule(primaryHost)
	if err != nil || primary.wildcard {
		return nil, fmt.Errorf("safefetch: invalid primary host %q", primaryHost)
	}
	f.rules = append(f.rules, primary)
	f.primaryHost = primary.host
	for _, h := range hosts {
		r, err := parseHostRule(h)
		if err != nil {
			return nil, fmt.Errorf("safefetch: invalid media host %q: %v", h, err)
		}
		f.rules = append(f.rules, r)
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = f.dialContext
	tr.DisableCompression = true
	tr.ResponseHeaderTimeout = 60 * time.Second
	f.client = &http.Client{Transport: tr, CheckRedirect: f.checkRedirect}
	return f, nil
}

// Client is the guarded client: redirects and dials are checked. The first
// URL of a request is checked at dial time only; use Do or CheckURL to
// refuse it before the request is made.
func (f *Fetcher) Client() *http.Client { return f.client }

// Do checks req's URL with CheckURL and sends it through the guarded
// client. Refusals are *RefusedError (possibly wrapped in a *url.Error).
func (f *Fetcher) Do(req *http.Request) (*http.Response, error) {
	if err := f.CheckURL(req.URL); err != nil {
		return nil, err
	}
	return f.client.Do(req)
}

// Allowed reports whether raw is an http(s) URL on an allowed host.
func (f *Fetcher) Allowed(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && f.CheckURL(u) == nil
}

// SetLookup replaces the resolver used for hosts that are checked at dial
// time (a test seam; nil restores the default resolver).
func (f *Fetcher) SetLookup(lookup func(ctx context.Context, host string) ([]netip.Addr, error)) {
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	f.lookup = lookup
}

// SetDial replaces the function that connects to a checked host:port (a
// test seam; nil restores the default dialer).
func (f *Fetcher) SetDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	if dial == nil {
		dial = f.dialer.DialContext
	}
	f.dial = dial
}

// parseHostRule reads "host", "host:port", "[v6]:port" or "*.domain[:port]".
func parseHostRule(s string) (hostRule, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "/?#@ \t") {
		return hostRule{}, errors.New("want a host name or host:port")
	}
	var r hostRule
	host := s
	if h, p, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strings.Trim(p, "0123456789") != "" {
			return hostRule{}, errors.New("bad port")
		}
		host, r.port = h, p
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	} else if strings.Count(s, ":") == 1 {
		return hostRule{}, errors.New("bad host:port")
	}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		r.wildcard = true
		host = rest
	}
	r.host = canonicalHost(host)
	isIP := net.ParseIP(r.host) != nil
	if !isIP && !validHostName(r.host) {
		return hostRule{}, errors.New("want a host name, optionally with a leading \"*.\"")
	}
	if r.wildcard && isIP {
		return hostRule{}, errors.New("\"*.\" needs a domain name, not an address")
	}
	return r, nil
}

// validHostName reports whether h is a DNS name: dot-separated labels of
// letters, digits, '-' and '_', none empty, at most 253 characters.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// canonicalHost lower-cases a host name and drops one trailing dot.
func canonicalHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// Match reports whether host (a host name or address, no brackets) on port
// is allowed, and whether an exact rule (not a wildcard) named it.
func (f *Fetcher) Match(host, port string) (allowed, exact bool) {
	host = canonicalHost(host)
	for _, r := range f.rules {
		if r.port != "" && r.port != port {
			continue
		}
		switch {
		case !r.wildcard && host == r.host:
			return true, true
		case r.wildcard && strings.HasSuffix(host, "."+r.host):
			allowed = true
		}
	}
	return allowed, false
}

// CheckURL applies the scheme and host allowlist to one URL. Refusals are
// *RefusedError naming the host, never the URL's query (signed media URLs
// carry one).
func (f *Fetcher) CheckURL(u *url.URL) error {
	if u.Scheme != "https" && u.Scheme != "http" {
		return &RefusedError{fmt.Sprintf("media URL scheme %q is not http(s)", u.Scheme)}
	}
	host := u.Hostname()
	if host == "" {
		return &RefusedError{"media URL has no host"}
	}
	if ok, _ := f.Match(host, effectivePort(u)); !ok {
		return &RefusedError{fmt.Sprintf("media host %q is not allowed (allowed: the API host and the configured media hosts)", u.Host)}
	}
	return nil
}

// effectivePort is u's port, or the scheme's default.
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "http" {
		return "80"
	}
	return "443"
}

// sameHost reports whether a and b name the same host and port.
func sameHost(a, b *url.URL) bool {
	return canonicalHost(a.Hostname()) == canonicalHost(b.Hostname()) && effectivePort(a) == effectivePort(b)
}

// checkRedirect is the client's redirect policy (see the file comment).
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return &RefusedError{fmt.Sprintf("more than %d redirects", MaxRedirects)}
	}
	if err := f.CheckURL(req.URL); err != nil {
		return err
	}
	first := via[0].URL
	if first.Scheme == "https" && req.URL.Scheme != "https" {
		return &RefusedError{fmt.Sprintf("redirect from https to %s on %q", req.URL.Scheme, req.URL.Host)}
	}
	if !sameHost(first, req.URL) {
		req.Header.Del("Authorization")
	}
	return nil
}

// dialContext is the transport's dialer: exact hosts are dialled as named;
// other allowed hosts are resolved here and only public addresses dialled.
func (f *Fetcher) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	allowed, exact := f.Match(host, port)
	if !allowed {
		return nil, &RefusedError{fmt.Sprintf("media host %q is not allowed", host)}
	}
	if exact && f.dialAsNamed(host) {
		return f.dial(ctx, network, addr)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = f.lookup(ctx, host); err != nil {
		return nil, err
	}
	var dialErr error
	refused := ""
	for _, a := range addrs {
		a = a.Unmap()
		if (network == "tcp4" && !a.Is4()) || (network == "tcp6" && !a.Is6()) {
			continue
		}
		if why := blockedAddr(a); why != "" {
			refused = fmt.Sprintf("media host %q resolves to %s address %s", host, why, a)
			continue
		}
		conn, err := f.dial(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		dialErr = err
	}
	switch {
	case dialErr != nil:
		return nil, dialErr
	case refused != "":
		return nil, &RefusedError{refused}
	}
	return nil, fmt.Errorf("safefetch: no usable address for media host %q", host)
}

// dialAsNamed reports whether an exactly listed host is dialled without the
// address check: the primary host, a literal IP address, or localhost.
func (f *Fetcher) dialAsNamed(host string) bool {
	host = canonicalHost(host)
	if host == f.primaryHost || host == "localhost" {
		return true
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}

// Address ranges that are never dialled for a host that is resolved here.
var blockedPrefixes = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "CGNAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // includes 255.255.255.255
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

// nat64 is the well-known NAT64 prefix; its last 32 bits are an IPv4 address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// blockedAddr returns why a must not be dialled, or "" when it is public.
func blockedAddr(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, b := range blockedPrefixes {
		if b.prefix.Contains(a) {
			return b.why
		}
	}
	if nat64.Contains(a) {
		b := a.As16()
		if why := blockedAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); why != "" {
			return "NAT64 " + why
		}
	}
	return ""
}
