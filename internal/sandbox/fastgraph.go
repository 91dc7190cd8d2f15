package sandbox

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"
)

// fastHandler serves the simulator's listener with fasthttp. The send
// (POST /{version}/{phone_number_id}/messages with a bearer token in the
// Authorization header) is served natively, as load tests drive it: net/http's
// server was ~4 % of the daemon's CPU per SMPP message, beside the handler's
// own work. Every other request, and a send that does not look like that
// (a token in the query, an unknown number, another path), goes to the
// net/http handler (routes) through serveNetHTTP, so it is answered
// exactly as before. The fast path checks the same things in the same
// order as serveGraph and handleMessages and answers with the same code
// (handleMessagesBody); TestFastPathMatchesNetHTTP holds the two to each other.
//
// Answers are buffered whole before they are sent (fasthttp), a media
// download included, as its upload was on the way in. A handler that
// panics is answered 500 and logged (net/http's server recovered it; fasthttp
// would not, and the simulator runs in the daemon's process).
func (s *Server) fastHandler() fasthttp.RequestHandler {
	token := []byte(s.cfg.AccessToken) // once, not per send
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("sandbox handler panic", "method", string(ctx.Method()), "path", string(ctx.Path()), "panic", fmt.Sprint(r))
				ctx.Response.Reset()
				ctx.SetConnectionClose()
				w := acquireFastWriter(ctx)
				(&graphError{status: http.StatusInternalServerError, code: 1, typ: "OAuthException",
					message: "An unknown error occurred"}).write(w)
				releaseFastWriter(w)
			}
		}()
		num := s.fastSendTarget(ctx, token)
		if num == nil {
			s.serveNetHTTP(ctx)
			return
		}
		if !s.waitLatency(ctx.Done()) {
			ctx.SetConnectionClose()
			return
		}
		w := acquireFastWriter(ctx)
		if body := ctx.PostBody(); len(body) > maxBodyBytes {
			s.handleMessagesBody(w, num, nil, true, nil)
		} else {
			// A copy: the send's record keeps the body (fasthttp reuses its own).
			s.handleMessagesBody(w, num, bytes.Clone(body), false, nil)
		}
		w.finish()
		releaseFastWriter(w)
	}
}

// serveNetHTTP serves ctx with the net/http handler (routes). The request
// is built from copies: the handlers keep strings of it (a media file's
// name, a send's fields), which fasthttpadaptor's request would leave in
// buffers fasthttp reuses. It carries the simulator's context, cancelled
// by Close.
func (s *Server) serveNetHTTP(ctx *fasthttp.RequestCtx) {
	uri := string(ctx.RequestURI())
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		ctx.Error("bad request URI", fasthttp.StatusBadRequest)
		return
	}
	body := ctx.PostBody()
	r := (&http.Request{
		Method:     string(ctx.Method()),
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		// Read by the handlers through io.ReadAll or a multipart reader,
		// which copy: the body itself is not kept.
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          string(ctx.Host()),
		RemoteAddr:    ctx.RemoteAddr().String(),
		RequestURI:    uri,
	}).WithContext(s.life.Context())
	if !ctx.Request.Header.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	for k, v := range ctx.Request.Header.All() {
		r.Header.Add(string(k), string(v))
	}
	w := acquireFastWriter(ctx)
	s.handler.ServeHTTP(w, r)
	w.finish()
	releaseFastWriter(w)
}

// fastSendTarget returns the number a request sends from when it is a send
// the fast path serves: POST, a path of the version (optional), a known
// phone number id and "messages", and a valid bearer token (token, the
// configured one) in the Authorization header; nil for anything else.
// It allocates nothing.
func (s *Server) fastSendTarget(ctx *fasthttp.RequestCtx, token []byte) *Number {
	if !ctx.IsPost() {
		return nil
	}
	// The path as sent (fasthttp's Path is normalized, net/http's is only
	// unescaped): one that needs either goes to the net/http handler.
	path := ctx.Request.URI().PathOriginal()
	if bytes.IndexByte(path, '%') >= 0 {
		return nil
	}
	path = bytes.Trim(path, "/")
	i := bytes.LastIndexByte(path, '/')
	if i < 0 || string(path[i+1:]) != "messages" {
		return nil
	}
	path = path[:i]
	if j := bytes.IndexByte(path, '/'); j >= 0 {
		if !versionRE.Match(path[:j]) {
			return nil
		}
		path = path[j+1:]
	} else if versionRE.Match(path) {
		return nil // "/v21.0/messages": an unknown path, answered by serveGraph
	}
	num := s.byID[string(path)]
	if num == nil {
		return nil
	}
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	scheme, tok, ok := bytes.Cut(h, []byte(" "))
	if !ok || !(bytes.EqualFold(scheme, []byte("Bearer")) || bytes.EqualFold(scheme, []byte("OAuth"))) {
		return nil
	}
	tok = bytes.TrimSpace(tok)
	if len(tok) == 0 || subtle.ConstantTimeCompare(tok, token) != 1 {
		return nil // answered (#190) by serveGraph
	}
	return num
}

// fastWriter is the http.ResponseWriter every handler writes through on
// this listener: headers gathered in a reused map, copied to the fasthttp
// response with the status (the Content-Type sniffed on the first Write
// when none was set, as net/http does); the body written to it directly.
type fastWriter struct {
	ctx    *fasthttp.RequestCtx
	header http.Header
	wrote  bool
}

var fastWriters = sync.Pool{New: func() any { return &fastWriter{header: http.Header{}} }}

func acquireFastWriter(ctx *fasthttp.RequestCtx) *fastWriter {
	w := fastWriters.Get().(*fastWriter)
	w.ctx = ctx
	return w
}

func releaseFastWriter(w *fastWriter) {
	clear(w.header)
	w.ctx, w.wrote = nil, false
	fastWriters.Put(w)
}

func (w *fastWriter) Header() http.Header { return w.header }

func (w *fastWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	for k, vs := range w.header {
		if k == "Content-Length" {
			// fasthttp sets it from the body, which a HEAD answer has none of.
			if n, err := strconv.Atoi(w.header.Get(k)); err == nil && w.ctx.IsHead() {
				w.ctx.Response.SkipBody = true
				w.ctx.Response.Header.SetContentLength(n)
			}
			continue
		}
		for _, v := range vs {
			w.ctx.Response.Header.Add(k, v)
		}
	}
	w.ctx.SetStatusCode(code)
}

func (w *fastWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		if _, ok := w.header["Content-Type"]; !ok {
			w.header.Set("Content-Type", http.DetectContentType(p)) // as net/http does
		}
		w.WriteHeader(http.StatusOK)
	}
	return w.ctx.Write(p)
}

// finish answers 200 with no body when the handler wrote nothing.
func (w *fastWriter) finish() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
}

// requestError answers a request fasthttp could not read, in Graph's
// error shape: 413 for a body over the listener's limit, 431 for headers
// over its read buffer, 400 otherwise.
func requestError(ctx *fasthttp.RequestCtx, err error) {
	e := &graphError{code: 100, message: "(#100) Invalid request", details: "the HTTP request could not be read"}
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = &graphError{status: http.StatusRequestEntityTooLarge, code: 100, message: "(#100) Request body too large",
			details: "the request body exceeds the simulator's limit"}
	case errors.As(err, &small):
		e = &graphError{status: http.StatusRequestHeaderFieldsTooLarge, code: 100, message: "(#100) Request headers too large",
			details: "the request headers exceed the simulator's limit"}
	}
	w := acquireFastWriter(ctx)
	e.write(w)
	releaseFastWriter(w)
}

// fastLogger passes fasthttp's own messages (connection errors) to the
// simulator's log at debug level.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.log.Debug("fasthttp", "msg", fmt.Sprintf(format, args...))
}
