package safefetch

import "testing"

// FuzzParseHostRule: never panics; an accepted exact rule matches its own
// host on its own port, and a wildcard never matches its bare domain.
func FuzzParseHostRule(f *testing.F) {
	for _, s := range []string{"lookaside.fbsbx.com", "127.0.0.1:8080", "[::1]:9000", "*.cdn.example", "x:", "*.", "[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseHostRule(s)
		if err != nil {
			return
		}
		fetcher := &Fetcher{rules: []hostRule{r}}
		port := r.port
		if port == "" {
			port = "443"
		}
		allowed, exact := fetcher.Match(r.host, port)
		if r.wildcard == allowed || exact == r.wildcard {
			t.Fatalf("rule %+v from %q: match(own host) = %v, %v", r, s, allowed, exact)
		}
	})
}
