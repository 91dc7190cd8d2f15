package twilio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// mediaPath is where Twilio serves an inbound message's media
// (https://www.twilio.com/docs/messaging/api/media-resource).
const mediaPath = "/2010-04-01/Accounts/" + testAccount + "/Messages/MM800f449d0399ed014aae2bcc0cc2f2ec/Media/ME557ce644e5ab84fa21cc21112e22c485"

func TestDownload(t *testing.T) {
	file := bytes.Repeat([]byte("0123456789"), 10)
	sum := sha256.Sum256(file)
	cdn := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write(file)
		case "/gone":
			w.WriteHeader(http.StatusNotFound)
		default:
			w.Header().Set("Content-Type", "image/jpeg; charset=binary")
			w.Write(file)
		}
	})
	cdnHost := strings.TrimPrefix(cdn.URL, "http://")
	var api *fakeTwilio
	api = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == mediaPath:
			http.Redirect(w, r, cdn.URL+"/file?Expires=1&Signature=secret-sig", http.StatusTemporaryRedirect)
		case r.URL.Path == "/to-evil":
			http.Redirect(w, r, "http://evil.example/x", http.StatusFound)
		case r.URL.Path == "/self":
			w.Header().Set("Content-Type", "audio/ogg")
			w.Write(file)
		case r.URL.Path == "/unauthorized":
			w.WriteHeader(401)
			io.WriteString(w, `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	var observed []string
	c := newTestClient(t, api.URL, func(cfg *Config) {
		cfg.MediaHosts = []string{cdnHost}
		cfg.Observe = func(op string, _ time.Duration, _ int, _ error) { observed = append(observed, op) }
	})

	var buf bytes.Buffer
	info, err := c.Download(context.Background(), testBusiness, api.URL+mediaPath, &buf, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), file) || info.Size != 100 || info.MIMEType != "image/jpeg" || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("info %+v, %d bytes", info, buf.Len())
	}
	if strings.Join(observed, " ") != "download_media" {
		t.Errorf("observed %v", observed)
	}
	ar := api.requests()
	if len(ar) != 1 || ar[0].user != testAccount || ar[0].pass != testToken {
		t.Errorf("API request %+v", ar)
	}
	cr := cdn.requests()
	if len(cr) != 1 || cr[0].user != "" || cr[0].pass != "" {
		t.Errorf("credentials followed the redirect to the CDN: %+v", cr)
	}

	// A URL on the CDN directly: no credentials at all.
	buf.Reset()
	if _, err := c.Download(context.Background(), testBusiness, cdn.URL+"/direct", &buf, 1000); err != nil {
		t.Fatal(err)
	}
	if cr := cdn.requests(); cr[len(cr)-1].user != "" {
		t.Error("credentials sent to the CDN")
	}

	cases := []struct {
		name    string
		url     string
		max     int64
		action  bridge.Action
		reason  bridge.Reason
		inTitle string
	}{
		{"host not allowed", "https://evil.example/media/1?sig=abc", 1000, bridge.ActionPermanent, bridge.ReasonMediaUnavailable, `"evil.example"`},
		{"redirect to a host not allowed", api.URL + "/to-evil", 1000, bridge.ActionPermanent, bridge.ReasonMediaUnavailable, "evil.example"},
		{"over the limit by Content-Length", cdn.URL + "/big", 99, bridge.ActionPermanent, bridge.ReasonMediaUnavailable, "over the limit"},
		{"not a URL", "ME557ce644e5ab84fa21cc21112e22c485", 1000, bridge.ActionPermanent, bridge.ReasonMediaUnavailable, "http(s)"},
		{"deleted", cdn.URL + "/gone", 1000, bridge.ActionPermanent, bridge.ReasonMediaUnavailable, "404"},
		{"server error", api.URL + "/busy", 1000, bridge.ActionRetry, bridge.ReasonUpstreamError, "503"},
		{"authentication", api.URL + "/unauthorized", 1000, bridge.ActionFallback, bridge.ReasonAccountError, "Authenticate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Download(context.Background(), testBusiness, tc.url, io.Discard, tc.max)
			var se *bridge.SendError
			if !errors.As(err, &se) || se.Action != tc.action || se.Reason != tc.reason {
				t.Fatalf("err = %v", err)
			}
			if !strings.Contains(err.Error(), tc.inTitle) || strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "sig=") {
				t.Errorf("error text %q (want %q, no token, no signed query)", err, tc.inTitle)
			}
		})
	}

	// No Content-Length: the limit is enforced while copying.
	chunked := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/ogg")
		for i := 0; i < 10; i++ {
			w.Write(file[:10])
			w.(http.Flusher).Flush()
		}
	})
	c2 := newTestClient(t, chunked.URL, nil)
	_, err = c2.Download(context.Background(), testBusiness, chunked.URL+"/x", io.Discard, 50)
	if se := bridge.AsSendError(err); se.Action != bridge.ActionPermanent || !strings.Contains(se.Title, "larger than") {
		t.Errorf("chunked over the limit: %v", err)
	}
	buf.Reset()
	if info, err := c2.Download(context.Background(), testBusiness, chunked.URL+"/x", &buf, 100); err != nil || info.Size != 100 || info.MIMEType != "audio/ogg" {
		t.Errorf("chunked at the limit: %+v %v", info, err)
	}
	// A file served by the API host itself carries the credentials.
	if _, err := c.Download(context.Background(), testBusiness, api.URL+"/self", io.Discard, 1000); err != nil {
		t.Fatal(err)
	}
	if ar := api.requests(); ar[len(ar)-1].pass != testToken {
		t.Error("no credentials to the API host")
	}
}

func TestUpload(t *testing.T) {
	c := newTestClient(t, "https://api.twilio.com", nil)
	f := &bridge.File{ID: "f1", MIMEType: "image/png"}
	if _, err := c.Upload(context.Background(), testBusiness, f, strings.NewReader("x")); bridge.AsSendError(err).Reason != bridge.ReasonInvalid {
		t.Errorf("without MediaURL: %v", err)
	}
	c = newTestClient(t, "https://api.twilio.com", func(cfg *Config) {
		cfg.MediaURL = func(_ context.Context, f *bridge.File) (string, error) {
			if f.ID == "broken" {
				return "", errors.New("signing key missing")
			}
			if f.ID == "relative" {
				return "/media/x", nil
			}
			return "https://bridge.example/media/" + f.ID + "?sig=1", nil
		}
	})
	r := &countingReader{}
	id, err := c.Upload(context.Background(), testBusiness, f, r)
	if err != nil || id != "https://bridge.example/media/f1?sig=1" || r.n != 0 {
		t.Errorf("Upload = %q, %v (read %d)", id, err, r.n)
	}
	if _, err := c.Upload(context.Background(), testBusiness, &bridge.File{ID: "broken"}, r); bridge.AsSendError(err).Action != bridge.ActionRetry {
		t.Errorf("MediaURL failure: %v", err)
	}
	if _, err := c.Upload(context.Background(), testBusiness, &bridge.File{ID: "relative"}, r); bridge.AsSendError(err).Reason != bridge.ReasonInvalid {
		t.Errorf("relative URL: %v", err)
	}
}

type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) { r.n += len(p); return 0, io.EOF }
