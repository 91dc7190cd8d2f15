package httpd

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wabridge/wabridge/adapters/twilio"
	"github.com/wabridge/wabridge/adapters/whatsapp"
	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/metrics"
	"github.com/wabridge/wabridge/internal/store"
)

// A server with Twilio's webhook route and media links, over a real store.
func twilioServer(t *testing.T) (base string, files *store.Files, key []byte) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, store.SQLiteConfig{Path: filepath.Join(dir, "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if files, err = st.Files(filepath.Join(dir, "media")); err != nil {
		t.Fatal(err)
	}
	b, err := bridge.New(bridge.Config{BusinessNumbers: []string{testBusiness}}, st, &recordingSender{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	key = []byte("media-link-key")
	srv, err := New(Config{Listen: "127.0.0.1:0", Tokens: []string{testTokenA}, TwilioAuthTokens: []string{"tw-token"}, MediaURLKey: key},
		Deps{Bridge: b, Parser: whatsapp.NewParser(nil), Metrics: metrics.New(), Files: files}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return "http://" + srv.Addr(), files, key
}

// A body that is not a form cannot be checked: 403, like a bad signature.
func TestTwilioWebhookMalformedForm(t *testing.T) {
	base, _, _ := twilioServer(t)
	u := base + "/webhooks/twilio"
	sig := twilio.Sign("tw-token", u, url.Values{})
	req, _ := http.NewRequest("POST", u, strings.NewReader("MessageSid=%zz&Body=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("malformed form: HTTP %d, want 403", resp.StatusCode)
	}
}

// A media link works until it expires, then answers 404 like any bad link.
func TestMediaLinkExpires(t *testing.T) {
	base, files, key := twilioServer(t)
	w, err := files.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("%PDF-1.4 invoice"))
	f, err := w.Commit(context.Background(), bridge.File{MIMEType: "application/pdf", Filename: "invoice.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	get := func(link string) int {
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(MediaURL(key, base, f.ID, time.Now().Add(time.Hour))); c != http.StatusOK {
		t.Errorf("valid link: HTTP %d", c)
	}
	if c := get(MediaURL(key, base, f.ID, time.Now().Add(-time.Second))); c != http.StatusNotFound {
		t.Errorf("expired link: HTTP %d, want 404", c)
	}
	if c := get(MediaURL([]byte("another key"), base, f.ID, time.Now().Add(time.Hour))); c != http.StatusNotFound {
		t.Errorf("link signed with another key: HTTP %d, want 404", c)
	}
}
