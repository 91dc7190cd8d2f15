package whatsapp

import "testing"

// TestNewClientMediaHosts: the media guard (internal/safefetch) allows the
// Graph host and DefaultMediaHosts unless MediaHosts says otherwise.
func TestNewClientMediaHosts(t *testing.T) {
	c, err := NewClient(Config{AccessToken: "x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, exact := c.media.Match("lookaside.fbsbx.com", "443"); !ok || !exact {
		t.Error("default media host not allowed")
	}
	if ok, _ := c.media.Match("graph.facebook.com", "443"); !ok {
		t.Error("graph host not allowed")
	}
	c, err = NewClient(Config{AccessToken: "x", MediaHosts: []string{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.media.Match("lookaside.fbsbx.com", "443"); ok {
		t.Error("an empty MediaHosts list still allows the default host")
	}
	if _, err := NewClient(Config{AccessToken: "x", MediaHosts: []string{"https://lookaside.fbsbx.com/"}}, nil); err == nil {
		t.Error("a URL accepted as media host")
	}
	if c.mediaTimeout != DefaultMediaTimeout {
		t.Errorf("media timeout %v", c.mediaTimeout)
	}
}
