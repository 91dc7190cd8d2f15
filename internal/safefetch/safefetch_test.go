package safefetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// testToken is the credential the guard tests send.
const testToken = "EAAG-secret-token"

func TestParseHostRule(t *testing.T) {
	good := map[string]hostRule{
		"lookaside.fbsbx.com":  {host: "lookaside.fbsbx.com"},
		"Lookaside.FBSBX.com.": {host: "lookaside.fbsbx.com"},
		"127.0.0.1:8080":       {host: "127.0.0.1", port: "8080"},
		"[::1]:9000":           {host: "::1", port: "9000"},
		"[::1]":                {host: "::1"},
		"::1":                  {host: "::1"},
		"*.cdn.example":        {host: "cdn.example", wildcard: true},
		"*.cdn.example:443":    {host: "cdn.example", port: "443", wildcard: true},
		" media.example ":      {host: "media.example"},
	}
	for in, want := range good {
		got, err := parseHostRule(in)
		if err != nil || got != want {
			t.Errorf("parseHostRule(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ", "https://x", "x/y", "x?y", "user@x", "x:", "x:abc", "*", "*.", "a.*.b", "*x.com", "*.10.0.0.1", "x y", "..", ".", "a..b", "ünï.example", "a.-_b.c:1:2", "x:99999999999999999999"} {
		if r, err := parseHostRule(in); err == nil {
			t.Errorf("parseHostRule(%q) = %+v, want an error", in, r)
		}
	}
}

func TestMediaHostMatch(t *testing.T) {
	f, err := New("127.0.0.1:8080", []string{"lookaside.fbsbx.com", "*.cdn.example", "Media.Example:8443", "[::1]:9000"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		host, port     string
		allowed, exact bool
	}{
		{"127.0.0.1", "8080", true, true},
		{"127.0.0.1", "8081", false, false}, // the Graph URL names a port
		{"lookaside.fbsbx.com", "443", true, true},
		{"LOOKASIDE.fbsbx.com.", "80", true, true}, // any port when none is named
		{"x.lookaside.fbsbx.com", "443", false, false},
		{"fbsbx.com", "443", false, false},
		{"lookaside.fbsbx.com.evil.example", "443", false, false},
		{"a.cdn.example", "443", true, false},
		{"a.b.cdn.example", "443", true, false},
		{"cdn.example", "443", false, false}, // "*." is for subdomains only
		{"evilcdn.example", "443", false, false},
		{"media.example", "8443", true, true},
		{"media.example", "443", false, false},
		{"::1", "9000", true, true},
		{"::1", "9001", false, false},
		{"localhost", "8080", false, false},
	}
	for _, c := range cases {
		allowed, exact := f.Match(c.host, c.port)
		if allowed != c.allowed || exact != c.exact {
			t.Errorf("match(%q, %q) = %v, %v; want %v, %v", c.host, c.port, allowed, exact, c.allowed, c.exact)
		}
	}
}

func TestCheckURL(t *testing.T) {
	f, err := New("graph.facebook.com", []string{"lookaside.fbsbx.com"})
	if err != nil {
		t.Fatal(err)
	}
	for raw, ok := range map[string]bool{
		"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=3": true,
		"https://graph.facebook.com/v24.0/1":                                            true,
		"http://lookaside.fbsbx.com:8080/x":                                             true,
		"https://evil.example/x":                                                        false,
		"https://lookaside.fbsbx.com@evil.example/x":                                    false,
		"ftp://lookaside.fbsbx.com/x":                                                   false,
		"file:///etc/passwd":                                                            false,
		"https:///x":                                                                    false,
	} {
		u, _ := url.Parse(raw)
		err := f.CheckURL(u)
		var refused *RefusedError
		if ok != (err == nil) || (err != nil && !errors.As(err, &refused)) {
			t.Errorf("checkURL(%s) = %v, want ok=%v", raw, err, ok)
		}
		if err != nil && strings.Contains(err.Error(), "hash=") {
			t.Errorf("refusal shows the URL's query: %v", err)
		}
	}
}

func TestBlockedAddr(t *testing.T) {
	cases := map[string]string{
		"127.0.0.1":          "loopback",
		"127.255.0.9":        "loopback",
		"::1":                "loopback",
		"::ffff:127.0.0.1":   "loopback",
		"10.1.2.3":           "private",
		"172.16.0.1":         "private",
		"172.31.255.255":     "private",
		"192.168.1.1":        "private",
		"fc00::1":            "private",
		"fd12:3456::1":       "private",
		"169.254.169.254":    "link-local",
		"fe80::1":            "link-local",
		"100.64.0.1":         "CGNAT",
		"100.127.255.254":    "CGNAT",
		"0.0.0.0":            "unspecified",
		"::":                 "unspecified",
		"0.1.2.3":            "this-network",
		"224.0.0.251":        "link-local", // link-local multicast
		"239.1.1.1":          "multicast",
		"ff02::1":            "link-local",
		"ff05::2":            "multicast",
		"255.255.255.255":    "reserved",
		"fec0::1":            "site-local",
		"64:ff9b::a00:1":     "NAT64 private",
		"64:ff9b::5db8:d822": "",
		"93.184.216.34":      "",
		"157.240.1.1":        "",
		"100.128.0.1":        "",
		"172.32.0.1":         "",
		"2a03:2880::1":       "",
	}
	for in, want := range cases {
		if got := blockedAddr(netip.MustParseAddr(in)); got != want {
			t.Errorf("blockedAddr(%s) = %q, want %q", in, got, want)
		}
	}
	if blockedAddr(netip.Addr{}) == "" {
		t.Error("the zero address is allowed")
	}
}

// guardServer is a test server that records the requests it gets.
type guardServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newGuardServer(t *testing.T, tlsServer bool, h func(w http.ResponseWriter, r *http.Request)) *guardServer {
	t.Helper()
	g := &guardServer{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.seen = append(g.seen, r.Clone(context.Background()))
		g.mu.Unlock()
		h(w, r)
	})
	if tlsServer {
		g.Server = httptest.NewTLSServer(handler)
	} else {
		g.Server = httptest.NewServer(handler)
	}
	t.Cleanup(g.Close)
	return g
}

func (g *guardServer) requests() []*http.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*http.Request(nil), g.seen...)
}

func (g *guardServer) hostPort() string {
	return strings.TrimPrefix(strings.TrimPrefix(g.URL, "http://"), "https://")
}

// get fetches raw with the bearer token through f's client.
func get(t *testing.T, f *Fetcher, raw string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := f.Client().Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func isRefusal(err error) bool {
	var refused *RefusedError
	return errors.As(err, &refused)
}

// TestMediaGuardFetch covers the guard end to end over real HTTP.
func TestMediaGuardFetch(t *testing.T) {
	other := newGuardServer(t, false, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "other") })
	var origin *guardServer
	origin = newGuardServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/file":
			io.WriteString(w, "file")
		case "/to-self":
			http.Redirect(w, r, "/file", http.StatusFound)
		case "/to-other":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/to-evil":
			http.Redirect(w, r, "http://evil.example/x", http.StatusFound)
		case "/to-private-name":
			http.Redirect(w, r, "http://cdn.media.test:"+strconv.Itoa(other.Listener.Addr().(*net.TCPAddr).Port)+"/x", http.StatusFound)
		default: // /loop/N redirects N more times
			var n int
			if _, err := fmt.Sscanf(r.URL.Path, "/loop/%d", &n); err == nil && n > 0 {
				http.Redirect(w, r, origin.URL+"/loop/"+strconv.Itoa(n-1), http.StatusFound)
				return
			}
			io.WriteString(w, "end")
		}
	})
	newFetcher := func(t *testing.T) *Fetcher {
		f, err := New(origin.hostPort(), []string{other.hostPort(), "*.media.test"})
		if err != nil {
			t.Fatal(err)
		}
		f.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
			if host == "cdn.media.test" {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}
			return nil, errors.New("no such host")
		}
		return f
	}

	t.Run("allowed host", func(t *testing.T) {
		f := newFetcher(t)
		resp, err := get(t, f, origin.URL+"/file")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
	})
	t.Run("disallowed host refused at dial", func(t *testing.T) {
		f := newFetcher(t)
		n := len(origin.requests())
		_, err := get(t, f, "http://localhost:"+strconv.Itoa(origin.Listener.Addr().(*net.TCPAddr).Port)+"/file")
		if !isRefusal(err) {
			t.Fatalf("err = %v, want a refusal", err)
		}
		if len(origin.requests()) != n {
			t.Error("request reached the server")
		}
	})
	t.Run("same-host redirect keeps the token", func(t *testing.T) {
		f := newFetcher(t)
		if _, err := get(t, f, origin.URL+"/to-self"); err != nil {
			t.Fatal(err)
		}
		reqs := origin.requests()
		if last := reqs[len(reqs)-1]; last.URL.Path != "/file" || last.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("redirected request %s auth %q", last.URL.Path, last.Header.Get("Authorization"))
		}
	})
	t.Run("redirect to allowed host followed without the token", func(t *testing.T) {
		f := newFetcher(t)
		resp, err := get(t, f, origin.URL+"/to-other")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		reqs := other.requests()
		if len(reqs) == 0 {
			t.Fatal("redirect not followed")
		}
		if a := reqs[len(reqs)-1].Header.Get("Authorization"); a != "" {
			t.Errorf("token forwarded to another host: %q", a)
		}
	})
	t.Run("redirect to disallowed host refused", func(t *testing.T) {
		f := newFetcher(t)
		_, err := get(t, f, origin.URL+"/to-evil")
		if !isRefusal(err) || !strings.Contains(err.Error(), "evil.example") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wildcard host resolving to loopback refused", func(t *testing.T) {
		f := newFetcher(t)
		n := len(other.requests())
		_, err := get(t, f, origin.URL+"/to-private-name")
		if !isRefusal(err) || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("err = %v, want a loopback refusal", err)
		}
		if len(other.requests()) != n {
			t.Error("request reached the loopback server")
		}
	})
	t.Run("three redirects followed, four refused", func(t *testing.T) {
		f := newFetcher(t)
		if resp, err := get(t, f, origin.URL+"/loop/3"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("3 redirects: %v %v", resp, err)
		}
		if _, err := get(t, f, origin.URL+"/loop/4"); !isRefusal(err) || !strings.Contains(err.Error(), "redirects") {
			t.Fatalf("4 redirects: err = %v", err)
		}
	})
}

// TestMediaGuardResolvedAddresses: a host allowed by a "*." entry is
// resolved by the guard, private answers are skipped and the public one is
// dialled by address (no second lookup the resolver could answer
// differently); the token does not follow a redirect to a subdomain.
func TestMediaGuardResolvedAddresses(t *testing.T) {
	srv := newGuardServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "media.test" {
			http.Redirect(w, r, "http://cdn.media.test/file", http.StatusFound)
			return
		}
		io.WriteString(w, "file")
	})
	f, err := New("graph.test", []string{"media.test", "*.media.test"})
	if err != nil {
		t.Fatal(err)
	}
	f.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "media.test": // listed by name: resolved and checked too
			return []netip.Addr{netip.MustParseAddr("93.184.216.35")}, nil
		case "cdn.media.test":
		default:
			t.Errorf("lookup of %q", host)
		}
		return []netip.Addr{netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("::ffff:169.254.169.254"), netip.MustParseAddr("93.184.216.34")}, nil
	}
	var mu sync.Mutex
	var dialled []string
	f.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialled = append(dialled, addr)
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	resp, err := get(t, f, "http://media.test/start")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if strings.Join(dialled, " ") != "93.184.216.35:80 93.184.216.34:80" {
		t.Errorf("dialled %v", dialled)
	}
	reqs := srv.requests()
	if len(reqs) != 2 || reqs[0].Header.Get("Authorization") == "" || reqs[1].Header.Get("Authorization") != "" {
		t.Errorf("Authorization per request: %q, %q", reqs[0].Header.Get("Authorization"), reqs[len(reqs)-1].Header.Get("Authorization"))
	}

	// Only private answers: refused, nothing dialled. (Connections already
	// in the pool were checked when dialled; drop them to dial afresh.)
	f.Client().CloseIdleConnections()
	f.lookup = func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("192.168.0.1"), netip.MustParseAddr("100.64.1.1")}, nil
	}
	dialled = nil
	if _, err := get(t, f, "http://cdn.media.test/file"); !isRefusal(err) {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if len(dialled) != 0 {
		t.Errorf("dialled %v", dialled)
	}
}

// TestMediaGuardNoDowngrade: a redirect from https to http is refused even
// to the same, allowed host.
func TestMediaGuardNoDowngrade(t *testing.T) {
	plain := newGuardServer(t, false, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") })
	secure := newGuardServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/x", http.StatusFound)
	})
	f, err := New(secure.hostPort(), []string{plain.hostPort()})
	if err != nil {
		t.Fatal(err)
	}
	f.Client().Transport.(*http.Transport).TLSClientConfig = secure.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	_, err = get(t, f, secure.URL+"/start")
	if !isRefusal(err) || !strings.Contains(err.Error(), "https") {
		t.Fatalf("err = %v", err)
	}
	if len(plain.requests()) != 0 {
		t.Error("downgraded request sent")
	}
}

// TestMediaGuardListedNameRebound: a media host listed by name (like the
// default lookaside.fbsbx.com) that DNS points at a loopback or private
// address is refused; the Graph host and hosts listed as literal addresses
// are dialled as named (the operator chose them).
func TestMediaGuardListedNameRebound(t *testing.T) {
	f, err := New("127.0.0.1:9", []string{"lookaside.fbsbx.com", "10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	f.lookup = func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	var dialled []string
	f.dial = func(_ context.Context, _, addr string) (net.Conn, error) {
		dialled = append(dialled, addr)
		return nil, errors.New("not really dialling")
	}
	if _, err := f.dialContext(context.Background(), "tcp", "lookaside.fbsbx.com:443"); !isRefusal(err) {
		t.Errorf("rebound listed name: %v, want a refusal", err)
	}
	f.dialContext(context.Background(), "tcp", "127.0.0.1:9")
	f.dialContext(context.Background(), "tcp", "10.1.2.3:443")
	if strings.Join(dialled, " ") != "127.0.0.1:9 10.1.2.3:443" {
		t.Errorf("dialled %v", dialled)
	}
}

// TestDoAndAllowed: Do refuses a URL on a host not allowed before any
// connection; Allowed applies the same check to a raw URL.
func TestDoAndAllowed(t *testing.T) {
	srv := newGuardServer(t, false, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	f, err := New(srv.hostPort(), []string{"mms.twiliocdn.com"})
	if err != nil {
		t.Fatal(err)
	}
	dialled := false
	f.SetDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled = true
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	})
	req, _ := http.NewRequest(http.MethodGet, "https://evil.example/x?sig=1", nil)
	if _, err := f.Do(req); !IsRefused(err) || strings.Contains(err.Error(), "sig=") {
		t.Fatalf("Do(evil) = %v, want a refusal without the query", err)
	}
	if dialled {
		t.Error("refused URL was dialled")
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/file", nil)
	resp, err := f.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("Do(allowed) = %v, %v", resp, err)
	}
	resp.Body.Close()
	for raw, want := range map[string]bool{
		srv.URL + "/x":                      true,
		"https://mms.twiliocdn.com/a/b?c=d": true,
		"https://MMS.twiliocdn.com./a":      true,
		"https://evil.example/x":            false,
		"ftp://mms.twiliocdn.com/x":         false,
		"::not a url":                       false,
		"https://x.mms.twiliocdn.com/a":     false,
	} {
		if got := f.Allowed(raw); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", raw, got, want)
		}
	}
	f.SetDial(nil)
	f.SetLookup(nil)
	if f.dial == nil || f.lookup == nil {
		t.Error("seams not restored")
	}
}
