package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

const testPhoneID = "106540352242922"

func newMediaClient(t *testing.T, graphURL string, mediaHosts []string, mediaTimeout time.Duration, obs *[]observation) *Client {
	t.Helper()
	var mu sync.Mutex
	c, err := NewClient(Config{
		GraphURL:     graphURL,
		AccessToken:  testToken,
		Numbers:      []Number{{PhoneNumberID: testPhoneID, BusinessNumber: "+15550100001"}},
		MediaHosts:   mediaHosts,
		MediaTimeout: mediaTimeout,
		Observe: func(op string, _ time.Duration, code int, err error) {
			if obs != nil {
				mu.Lock()
				*obs = append(*obs, observation{op, code, err})
				mu.Unlock()
			}
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// patternReader yields n deterministic, non-repeating-looking bytes without
// holding them.
type patternReader struct {
	n, off int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rem := p.n - p.off; int64(len(b)) > rem {
		b = b[:rem]
	}
	for i := range b {
		x := uint64(p.off + int64(i))
		b[i] = byte((x * 2654435761) >> 13)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// uploadSeen is what the fake Graph server read from an upload.
type uploadSeen struct {
	method, path, auth, contentType string
	contentLength                   int64
	fields                          []string // "name=value" in order; the file as "file"
	filename, partType              string
	size                            int64
	sum                             string
}

// uploadServer parses the multipart body as it streams, hashing the file.
func uploadServer(t *testing.T, reply func(w http.ResponseWriter)) (*httptest.Server, func() []uploadSeen) {
	t.Helper()
	var mu sync.Mutex
	var seen []uploadSeen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := uploadSeen{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"),
			contentType: r.Header.Get("Content-Type"), contentLength: r.ContentLength}
		mr, err := r.MultipartReader()
		if err != nil {
			t.Errorf("not multipart: %v", err)
		} else {
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				if p.FormName() == "file" {
					h := sha256.New()
					s.size, _ = io.Copy(h, p)
					s.sum = hex.EncodeToString(h.Sum(nil))
					s.filename, s.partType = p.FileName(), p.Header.Get("Content-Type")
					s.fields = append(s.fields, "file")
					continue
				}
				v, _ := io.ReadAll(p)
				s.fields = append(s.fields, p.FormName()+"="+string(v))
			}
		}
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
		reply(w)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []uploadSeen {
		mu.Lock()
		defer mu.Unlock()
		return append([]uploadSeen(nil), seen...)
	}
}

func okUpload(w http.ResponseWriter) { io.WriteString(w, `{"id":"1037543291543636"}`) }

func TestUpload(t *testing.T) {
	var obs []observation
	srv, seen := uploadServer(t, okUpload)
	c := newMediaClient(t, srv.URL, nil, 0, &obs)
	data := []byte("\x89PNG\r\n\x1a\n fake image bytes")
	f := &bridge.File{ID: "f-1", MIMEType: "image/png", Size: int64(len(data)), Filename: `my "best" plant ünd.png`}
	id, err := c.Upload(context.Background(), "+1 555 010 0001", f, bytes.NewReader(data))
	if err != nil || id != "1037543291543636" {
		t.Fatalf("Upload = %q, %v", id, err)
	}
	s := seen()[0]
	sum := sha256.Sum256(data)
	mt, params, _ := mime.ParseMediaType(s.contentType)
	if s.method != "POST" || s.path != "/v24.0/"+testPhoneID+"/media" || s.auth != "Bearer "+testToken ||
		mt != "multipart/form-data" || params["boundary"] == "" {
		t.Errorf("request %+v", s)
	}
	if strings.Join(s.fields, "&") != "messaging_product=whatsapp&type=image/png&file" {
		t.Errorf("fields %v", s.fields)
	}
	if s.filename != f.Filename || s.partType != "image/png" || s.size != int64(len(data)) || s.sum != hex.EncodeToString(sum[:]) {
		t.Errorf("file part %q %q %d %s", s.filename, s.partType, s.size, s.sum)
	}
	if len(obs) != 1 || obs[0].op != "upload_media" || obs[0].err != nil {
		t.Errorf("observations %+v", obs)
	}
}

func TestUploadNameAndType(t *testing.T) {
	srv, seen := uploadServer(t, okUpload)
	c := newMediaClient(t, srv.URL, nil, 0, nil)
	for _, tc := range []struct {
		file           bridge.File
		filename, mime string
	}{
		{bridge.File{ID: "f-2", MIMEType: "audio/ogg; codecs=opus"}, "f-2", "audio/ogg"},
		{bridge.File{MIMEType: "Application/PDF"}, "file", "application/pdf"},
		{bridge.File{ID: "x", MIMEType: "text/plain", Filename: "dir/sub\\a\r\nb.txt"}, "a__b.txt", "text/plain"},
	} {
		if _, err := c.Upload(context.Background(), "+15550100001", &tc.file, strings.NewReader("abc")); err != nil {
			t.Fatal(err)
		}
		s := seen()[len(seen())-1]
		if s.filename != tc.filename || s.partType != tc.mime || s.fields[1] != "type="+tc.mime {
			t.Errorf("%+v: filename %q, part type %q, fields %v", tc.file, s.filename, s.partType, s.fields)
		}
	}
}

// TestUploadStreams20MiB: the body is streamed (chunked, no Content-Length),
// arrives byte for byte, and the client does not allocate the file's size.
func TestUploadStreams20MiB(t *testing.T) {
	const size = 20 << 20
	srv, seen := uploadServer(t, okUpload)
	c := newMediaClient(t, srv.URL, nil, 0, nil)
	h := sha256.New()
	io.Copy(h, &patternReader{n: size})
	want := hex.EncodeToString(h.Sum(nil))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := c.Upload(context.Background(), "+15550100001", &bridge.File{ID: "big", MIMEType: "application/pdf", Size: size}, &patternReader{n: size})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	s := seen()[0]
	if s.size != size || s.sum != want || s.contentLength != -1 {
		t.Errorf("server got %d bytes, sum %s, Content-Length %d", s.size, s.sum, s.contentLength)
	}
	// Loose: client and server together allocate far less than the file.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/2 {
		t.Errorf("allocated %d bytes for a %d-byte upload", alloc, size)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func TestUploadErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		code   int
		action bridge.Action
		reason bridge.Reason
	}{
		{"mime mismatch", 400, `{"error":{"message":"(#131053) Media upload error","code":131053,"error_data":{"details":"Unsupported file type"}}}`,
			131053, bridge.ActionPermanent, bridge.ReasonUpstreamError},
		{"bad parameter", 400, `{"error":{"message":"(#100) Param file must be a file","code":100}}`, 100, bridge.ActionPermanent, bridge.ReasonUpstreamError},
		{"token expired", 401, `{"error":{"message":"Error validating access token","code":190}}`, 190, bridge.ActionFallback, bridge.ReasonAccountError},
		{"rate limit", 400, `{"error":{"message":"limit","code":4}}`, 4, bridge.ActionRetry, bridge.ReasonUpstreamError},
		{"server error", 502, ``, 0, bridge.ActionRetry, bridge.ReasonUpstreamError},
		{"reply without id", 200, `{}`, 0, bridge.ActionRetry, bridge.ReasonUpstreamError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var obs []observation
			srv, _ := uploadServer(t, func(w http.ResponseWriter) {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			c := newMediaClient(t, srv.URL, nil, 0, &obs)
			_, err := c.Upload(context.Background(), "+15550100001", &bridge.File{ID: "f", MIMEType: "image/jpeg", Size: 3}, strings.NewReader("abc"))
			var se *bridge.SendError
			if !errors.As(err, &se) || se.Code != tc.code || se.Action != tc.action || se.Reason != tc.reason {
				t.Fatalf("err = %#v", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Error("token in error")
			}
			if len(obs) != 1 || obs[0].op != "upload_media" || obs[0].code != tc.code {
				t.Errorf("observations %+v", obs)
			}
		})
	}
}

func TestUploadSourceErrors(t *testing.T) {
	srv, seen := uploadServer(t, okUpload)
	c := newMediaClient(t, srv.URL, nil, 0, nil)
	ctx := context.Background()
	check := func(name string, err error, action bridge.Action, reason bridge.Reason) {
		t.Helper()
		var se *bridge.SendError
		if !errors.As(err, &se) || se.Action != action || se.Reason != reason {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	_, err := c.Upload(ctx, "+15550100001", &bridge.File{ID: "f", MIMEType: "image/jpeg"}, &failingReader{n: 100 << 10})
	check("read error", err, bridge.ActionRetry, bridge.ReasonUpstreamError)
	_, err = c.Upload(ctx, "+15550100001", &bridge.File{ID: "f", MIMEType: "image/jpeg", Size: 10}, strings.NewReader("short"))
	check("shorter than recorded", err, bridge.ActionPermanent, bridge.ReasonInvalid)
	_, err = c.Upload(ctx, "+15550100001", &bridge.File{ID: "f", MIMEType: "image/jpeg", Size: 2}, strings.NewReader("longer"))
	check("longer than recorded", err, bridge.ActionPermanent, bridge.ReasonInvalid)

	n := len(seen())
	_, err = c.Upload(ctx, "+15550100999", &bridge.File{ID: "f", MIMEType: "image/jpeg"}, strings.NewReader("x"))
	check("unknown business", err, bridge.ActionPermanent, bridge.ReasonInvalid)
	_, err = c.Upload(ctx, "+15550100001", &bridge.File{ID: "f"}, strings.NewReader("x"))
	check("no MIME type", err, bridge.ActionPermanent, bridge.ReasonInvalid)
	_, err = c.Upload(ctx, "+15550100001", nil, strings.NewReader("x"))
	check("no file", err, bridge.ActionPermanent, bridge.ReasonInvalid)
	_, err = c.Upload(ctx, "+15550100001", &bridge.File{ID: "f", MIMEType: "image/jpeg"}, nil)
	check("no reader", err, bridge.ActionPermanent, bridge.ReasonInvalid)
	if len(seen()) != n {
		t.Error("invalid uploads reached the server")
	}
}

// TestUploadEarlyReply: Meta refusing before reading the whole body is
// reported as Meta's error, and Upload neither hangs nor reads on.
func TestUploadEarlyReply(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(400)
		io.WriteString(w, `{"error":{"message":"(#131053) too large","code":131053}}`)
	}))
	defer srv.Close()
	c := newMediaClient(t, srv.URL, nil, 5*time.Second, nil)
	src := &patternReader{n: 64 << 20}
	_, err := c.Upload(context.Background(), "+15550100001", &bridge.File{ID: "f", MIMEType: "video/mp4", Size: 64 << 20}, src)
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Code != 131053 || se.Action != bridge.ActionPermanent {
		t.Fatalf("err = %v", err)
	}
	off := src.off
	time.Sleep(20 * time.Millisecond)
	if src.off != off {
		t.Error("source still read after Upload returned")
	}
}

// mediaGraph is a fake Graph API for downloads: GET /v24.0/{id} answers
// info(), GET /media/{id} answers file().
type mediaGraph struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newMediaGraph(t *testing.T, info func(w http.ResponseWriter, r *http.Request, base string), file func(w http.ResponseWriter, r *http.Request)) *mediaGraph {
	t.Helper()
	g := &mediaGraph{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.reqs = append(g.reqs, recorded{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, auth: r.Header.Get("Authorization")})
		g.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/media/") {
			file(w, r)
			return
		}
		info(w, r, g.URL)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *mediaGraph) requests() []recorded {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]recorded(nil), g.reqs...)
}

// infoFor answers the media info with url on base, for content.
func infoFor(content []byte, sha string, size string) func(w http.ResponseWriter, r *http.Request, base string) {
	return func(w http.ResponseWriter, r *http.Request, base string) {
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","url":"%s/media/1003383421387256?ext=1&hash=ARqX","mime_type":"image/jpeg","sha256":%q,"file_size":%s,"id":"1003383421387256"}`,
			base, sha, size)
	}
}

func serve(content []byte) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(content)
	}
}

func b64sum(b []byte) string { s := sha256.Sum256(b); return base64.StdEncoding.EncodeToString(s[:]) }
func hexsum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestDownload(t *testing.T) {
	content := bytes.Repeat([]byte("jpeg!"), 1000)
	for name, sha := range map[string]string{
		"base64 sha": b64sum(content), "hex sha": hexsum(content), "upper hex sha": strings.ToUpper(hexsum(content)), "no sha": "",
	} {
		t.Run(name, func(t *testing.T) {
			var obs []observation
			g := newMediaGraph(t, infoFor(content, sha, `"5000"`), serve(content))
			c := newMediaClient(t, g.URL, nil, 0, &obs)
			var buf bytes.Buffer
			info, err := c.Download(context.Background(), "+15550100001", "1003383421387256", &buf, 16<<20)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), content) || info != (bridge.MediaInfo{MIMEType: "image/jpeg", SHA256: hexsum(content), Size: 5000}) {
				t.Errorf("info %+v, %d bytes", info, buf.Len())
			}
			reqs := g.requests()
			if len(reqs) != 2 || reqs[0].path != "/v24.0/1003383421387256" || reqs[0].query != "phone_number_id="+testPhoneID ||
				reqs[0].auth != "Bearer "+testToken || reqs[1].path != "/media/1003383421387256" || reqs[1].auth != "Bearer "+testToken {
				t.Errorf("requests %+v", reqs)
			}
			if len(obs) != 2 || obs[0].op != "media_info" || obs[1].op != "download_media" || obs[1].err != nil {
				t.Errorf("observations %+v", obs)
			}
		})
	}
}

// TestDownloadFailures: every failure and its classification.
func TestDownloadFailures(t *testing.T) {
	content := []byte("0123456789")
	other := httptest.NewServer(http.HandlerFunc(serve(content)))
	defer other.Close()
	var sleeper = make(chan struct{})
	defer close(sleeper)

	cases := []struct {
		name     string
		info     func(w http.ResponseWriter, r *http.Request, base string)
		file     func(w http.ResponseWriter, r *http.Request)
		max      int64
		timeout  time.Duration
		code     int
		action   bridge.Action
		reason   bridge.Reason
		fetches  int    // requests to /media/
		inTitle  string // part of the error text
		maxWrite int    // bytes that may reach the writer
	}{
		{name: "reported size over the limit", info: infoFor(content, b64sum(content), `10`), file: serve(content), max: 9,
			action: bridge.ActionPermanent, reason: bridge.ReasonMediaUnavailable, inTitle: "over the limit"},
		{name: "body over the limit, size unreported", info: infoFor(content, "", `0`), file: func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush() // no Content-Length
			w.Write(content)
		}, max: 9, fetches: 1, action: bridge.ActionPermanent, reason: bridge.ReasonMediaUnavailable, inTitle: "larger than", maxWrite: 9},
		{name: "Content-Length over the limit", info: infoFor(content, "", `0`), file: serve(content), max: 9, fetches: 1,
			action: bridge.ActionPermanent, reason: bridge.ReasonMediaUnavailable, inTitle: "over the limit"},
		{name: "sha mismatch", info: infoFor(content, b64sum([]byte("other")), `10`), file: serve(content), max: 100, fetches: 1,
			action: bridge.ActionRetry, reason: bridge.ReasonUpstreamError, inTitle: "sha256", maxWrite: 10},
		{name: "truncated", info: infoFor(content, "", `11`), file: serve(content), max: 100, fetches: 1,
			action: bridge.ActionRetry, reason: bridge.ReasonUpstreamError, inTitle: "reported 11", maxWrite: 10},
		{name: "URL 404", info: infoFor(content, "", `10`), file: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			max: 100, fetches: 1, action: bridge.ActionPermanent, reason: bridge.ReasonMediaUnavailable, inTitle: "404"},
		{name: "URL 410", info: infoFor(content, "", `10`), file: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(410) },
			max: 100, fetches: 1, action: bridge.ActionPermanent, reason: bridge.ReasonMediaUnavailable},
		{name: "URL 503", info: infoFor(content, "", `10`), file: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) },
			max: 100, fetches: 1, action: bridge.ActionRetry, reason: bridge.ReasonUpstreamError},
		{name: "URL timeout", info: infoFor(content, "", `10`), file: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-sleeper:
			case <-r.Context().Done():
			}
		}, max: 100, timeout: 50 * time.Millisecond, fetches: 1, action: bridge.ActionRetry, reason: bridge.ReasonUpstreamError},
		{name: "unknown media id (100)", info: func(w http.ResponseWriter, r *http.Request, _ string) {
			w.WriteHeader(400)
			io.WriteString(w, `{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"error_subcode":33}}`)
		}, max: 100, code: 100, action: bridge.ActionPermanent, reason: bridge.ReasonMediaUnavailable},
		{name: "media not downloadable (131052)", info: func(w http.ResponseWriter, r *http.Request, _ string) {
			w.WriteHeader(400)
			io.WriteString(w, `{"error":{"message":"(#131052) Media download error","code":131052}}`)
		}, max: 100, code: 131052, action: bridge.ActionPermanent, reason: bridge.ReasonMediaUnavailable},
		{name: "info 404", info: func(w http.ResponseWriter, r *http.Request, _ string) { w.WriteHeader(404) },
			max: 100, action: bridge.ActionPermanent, reason: bridge.ReasonMediaUnavailable},
		{name: "info 500", info: func(w http.ResponseWriter, r *http.Request, _ string) { w.WriteHeader(500) },
			max: 100, action: bridge.ActionRetry, reason: bridge.ReasonUpstreamError},
		{name: "info without url", info: func(w http.ResponseWriter, r *http.Request, _ string) { io.WriteString(w, `{"id":"1"}`) },
			max: 100, action: bridge.ActionRetry, reason: bridge.ReasonUpstreamError},
		{name: "URL on a host not allowed", info: func(w http.ResponseWriter, r *http.Request, _ string) {
			io.WriteString(w, `{"url":"https://evil.example/steal?hash=1","file_size":10}`)
		}, max: 100, action: bridge.ActionPermanent, reason: bridge.ReasonMediaUnavailable, inTitle: `"evil.example"`},
		{name: "redirect to a host not allowed", info: infoFor(content, "", `10`), file: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/x", http.StatusFound) // other is not in MediaHosts here
		}, max: 100, fetches: 1, action: bridge.ActionPermanent, reason: bridge.ReasonMediaUnavailable, inTitle: "not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.file == nil {
				tc.file = serve(content)
			}
			g := newMediaGraph(t, tc.info, tc.file)
			c := newMediaClient(t, g.URL, []string{}, tc.timeout, nil)
			var buf bytes.Buffer
			_, err := c.Download(context.Background(), "+15550100001", "1003383421387256", &buf, tc.max)
			var se *bridge.SendError
			if !errors.As(err, &se) || se.Code != tc.code || se.Action != tc.action || se.Reason != tc.reason {
				t.Fatalf("err = %#v (%v)", err, err)
			}
			if !strings.Contains(err.Error(), tc.inTitle) || strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "hash=") {
				t.Errorf("error text %q (want %q, no token, no signed query)", err, tc.inTitle)
			}
			fetches := 0
			for _, r := range g.requests() {
				if strings.HasPrefix(r.path, "/media/") {
					fetches++
				}
			}
			if fetches != tc.fetches {
				t.Errorf("%d media fetches, want %d", fetches, tc.fetches)
			}
			if buf.Len() > tc.maxWrite {
				t.Errorf("%d bytes written, at most %d expected", buf.Len(), tc.maxWrite)
			}
		})
	}
}

// TestDownloadRedirect: a redirect to another allowed host is followed and
// the token is not sent there.
func TestDownloadRedirect(t *testing.T) {
	content := []byte("redirected media")
	var cdnAuth []string
	var mu sync.Mutex
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cdnAuth = append(cdnAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write(content)
	}))
	defer cdn.Close()
	g := newMediaGraph(t, infoFor(content, b64sum(content), `"16"`), func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, cdn.URL+"/blob", http.StatusTemporaryRedirect)
	})
	c := newMediaClient(t, g.URL, []string{strings.TrimPrefix(cdn.URL, "http://")}, 0, nil)
	var buf bytes.Buffer
	info, err := c.Download(context.Background(), "+15550100001", "1003383421387256", &buf, 100)
	if err != nil || buf.String() != string(content) || info.Size != 16 {
		t.Fatalf("%+v %q %v", info, buf.String(), err)
	}
	if len(cdnAuth) != 1 || cdnAuth[0] != "" {
		t.Errorf("Authorization at the redirect target: %q", cdnAuth)
	}
	if reqs := g.requests(); reqs[1].auth != "Bearer "+testToken {
		t.Errorf("no token on the media URL: %+v", reqs[1])
	}
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestDownloadArguments(t *testing.T) {
	content := []byte("x")
	g := newMediaGraph(t, infoFor(content, "", `1`), serve(content))
	c := newMediaClient(t, g.URL, nil, 0, nil)
	ctx := context.Background()
	var buf bytes.Buffer
	for name, call := range map[string]func() error{
		"unknown business": func() error { _, err := c.Download(ctx, "+15550100999", "1", &buf, 10); return err },
		"empty media id":   func() error { _, err := c.Download(ctx, "+15550100001", "", &buf, 10); return err },
		"path in media id": func() error { _, err := c.Download(ctx, "+15550100001", "../me", &buf, 10); return err },
		"query in id":      func() error { _, err := c.Download(ctx, "+15550100001", "1?fields=x", &buf, 10); return err },
		"no limit":         func() error { _, err := c.Download(ctx, "+15550100001", "1", &buf, 0); return err },
		"no writer":        func() error { _, err := c.Download(ctx, "+15550100001", "1", nil, 10); return err },
	} {
		var se *bridge.SendError
		if err := call(); !errors.As(err, &se) || se.Action != bridge.ActionPermanent || se.Reason != bridge.ReasonInvalid {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if len(g.requests()) != 0 {
		t.Error("invalid downloads reached the server")
	}
	_, err := c.Download(ctx, "+15550100001", "1", brokenWriter{}, 10)
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Action != bridge.ActionRetry || !strings.Contains(se.Title, "storing") {
		t.Errorf("write failure: %v", err)
	}
}

func TestDecodeSHA256(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	for _, s := range []string{
		hex.EncodeToString(sum[:]), strings.ToUpper(hex.EncodeToString(sum[:])),
		base64.StdEncoding.EncodeToString(sum[:]), base64.RawStdEncoding.EncodeToString(sum[:]),
		base64.URLEncoding.EncodeToString(sum[:]), " " + base64.RawURLEncoding.EncodeToString(sum[:]) + " ",
	} {
		if got, ok := decodeSHA256(s); !ok || !bytes.Equal(got, sum[:]) {
			t.Errorf("decodeSHA256(%q) = %x, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "<HASH>", "abcd", hex.EncodeToString(sum[:31]), base64.StdEncoding.EncodeToString(sum[:31])} {
		if _, ok := decodeSHA256(s); ok {
			t.Errorf("decodeSHA256(%q) accepted", s)
		}
	}
}

// TestSendEveryKind: each kind's body reaches Meta exactly as built.
func TestSendEveryKind(t *testing.T) {
	f := newFakeGraph(t, reply(200, okReply))
	c := newTestClient(t, f.URL, 0, nil)
	msgs := []*bridge.Message{
		kindMsg(bridge.KindImage, bridge.Content{Media: &bridge.Media{ID: "1", Caption: "c"}})(),
		kindMsg(bridge.KindVideo, bridge.Content{Media: &bridge.Media{URL: "https://example.com/v.mp4"}})(),
		kindMsg(bridge.KindAudio, bridge.Content{Media: &bridge.Media{ID: "2"}})(),
		kindMsg(bridge.KindDocument, bridge.Content{Media: &bridge.Media{ID: "3", Filename: "a.pdf"}})(),
		kindMsg(bridge.KindSticker, bridge.Content{Media: &bridge.Media{ID: "4"}})(),
		kindMsg(bridge.KindLocation, bridge.Content{Location: &bridge.Location{Latitude: 1.5, Longitude: -2}})(),
		kindMsg(bridge.KindContacts, bridge.Content{Contacts: json.RawMessage(`[{"name":{"formatted_name":"A"}}]`)})(),
		kindMsg(bridge.KindInteractive, bridge.Content{Interactive: json.RawMessage(`{"type":"cta_url"}`)})(),
		kindMsg(bridge.KindReaction, bridge.Content{Reaction: &bridge.Reaction{MessageID: "wamid.1"}})(),
	}
	for i, m := range msgs {
		if _, err := c.Send(context.Background(), m); err != nil {
			t.Fatalf("%s: %v", m.Kind, err)
		}
		want, _ := BuildMessageBody(m)
		if r := f.reqs()[i]; r.body != string(want) || r.contentType != "application/json" || r.path != "/v24.0/106540352242922/messages" {
			t.Errorf("%s: request %+v", m.Kind, r)
		}
	}
}
