package httpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/wabridge/wabridge/bridge"
)

// acceptedMIME reports whether WhatsApp accepts the type as some media kind.
func acceptedMIME(m string) bool {
	for _, rule := range bridge.MediaRules {
		if slices.Contains(rule.MIMETypes, m) {
			return true
		}
	}
	return false
}

// postMedia: POST /api/v1/media stores a file to send later as
// {"media": {"type": …, "file_id": …}}. The body is the file itself with
// its Content-Type (name in ?filename=), or multipart/form-data with a
// "file" part. It streams to disk, is refused past MaxUploadBytes (413) or
// when WhatsApp accepts the type as no media (415), and answers 201 with
// the file's record once it is durable.
func (s *Server) postMedia(ctx *fasthttp.RequestCtx) {
	if s.deps.Files == nil {
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "", "this daemon keeps no files")
		return
	}
	limit := s.cfg.MaxUploadBytes
	if cl := ctx.Request.Header.ContentLength(); cl > 0 && int64(cl) > limit+64<<10 {
		lingerAndRefuse(ctx, string(bridge.ReasonMediaTooLarge), fmt.Sprintf("files are limited to %d bytes", limit))
		return
	}
	body := ctx.RequestBodyStream()
	if body == nil {
		body = strings.NewReader(string(ctx.PostBody()))
	}
	ctype, params, _ := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	filename := string(ctx.QueryArgs().Peek("filename"))
	var src io.Reader = body
	if ctype == "multipart/form-data" {
		part, err := filePart(multipart.NewReader(body, params["boundary"]))
		if err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, string(bridge.ReasonInvalid), "file", err.Error())
			return
		}
		defer part.Close()
		src = part
		ctype, _, _ = mime.ParseMediaType(part.Header.Get("Content-Type"))
		if part.FileName() != "" {
			filename = part.FileName()
		}
	}
	ctype = bridge.BaseMIME(ctype)
	if !acceptedMIME(ctype) {
		writeError(ctx, fasthttp.StatusUnsupportedMediaType, string(bridge.ReasonMediaUnsupported), "Content-Type",
			fmt.Sprintf("WhatsApp accepts no media of type %q", ctype))
		return
	}
	filename = filepath.Base(filepath.Clean("/" + filename))
	if filename == "/" || filename == "." {
		filename = ""
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w, err := s.deps.Files.Create(c)
	if err != nil {
		s.log.Error("create file", "err", err)
		writeError(ctx, fasthttp.StatusServiceUnavailable, "internal", "", "not stored; retry")
		return
	}
	n, err := io.Copy(w, io.LimitReader(src, limit+1))
	switch {
	case n > limit:
		w.Abort()
		lingerAndRefuse(ctx, string(bridge.ReasonMediaTooLarge), fmt.Sprintf("files are limited to %d bytes", limit))
		return
	case err != nil:
		w.Abort()
		writeError(ctx, fasthttp.StatusBadRequest, "invalid", "", "upload interrupted")
		return
	case n == 0:
		w.Abort()
		writeError(ctx, fasthttp.StatusBadRequest, string(bridge.ReasonInvalid), "file", "the file is empty")
		return
	}
	f, err := w.Commit(c, bridge.File{MIMEType: ctype, Filename: filename})
	if err != nil {
		s.log.Error("commit file", "err", err)
		writeError(ctx, fasthttp.StatusServiceUnavailable, "internal", "", "not stored; retry")
		return
	}
	ctx.Response.Header.Set("Location", "/api/v1/media/"+f.ID)
	writeJSON(ctx, fasthttp.StatusCreated, f)
}

// filePart returns the multipart part named "file".
func filePart(r *multipart.Reader) (*multipart.Part, error) {
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return nil, errors.New(`no "file" part in the form`)
		}
		if err != nil {
			return nil, fmt.Errorf("malformed multipart body: %v", err)
		}
		if p.FormName() == "file" {
			return p, nil
		}
		p.Close()
	}
}

// getMessageMedia: GET /api/v1/messages/{id}/media streams a message's
// stored file: 200 with its type and name; 503 with Retry-After while a
// customer's file is still downloading; 410 when it could not be fetched.
func (s *Server) getMessageMedia(ctx *fasthttp.RequestCtx) {
	m := s.messageParam(ctx)
	if m == nil {
		return
	}
	md := m.Content.Media
	switch {
	case md == nil || s.deps.Files == nil:
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "", "the message has no media")
		return
	case md.FetchError != "":
		writeError(ctx, fasthttp.StatusGone, string(bridge.ReasonMediaUnavailable), "", md.FetchError)
		return
	case md.FileID == "" && m.Direction == bridge.Inbound:
		ctx.Response.Header.Set("Retry-After", "2")
		writeError(ctx, fasthttp.StatusServiceUnavailable, "media_pending", "", "the file is still being downloaded")
		return
	case md.FileID == "":
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "", "the media is a link or a provider id; wabridge keeps no copy")
		return
	}
	r, f, err := s.deps.Files.Open(context.Background(), md.FileID)
	if err != nil {
		writeError(ctx, fasthttp.StatusGone, string(bridge.ReasonMediaUnavailable), "", "the file is no longer kept")
		return
	}
	ctx.SetContentType(f.MIMEType)
	if f.Filename != "" {
		ctx.Response.Header.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Filename}))
	}
	ctx.Response.Header.Set("X-Content-SHA256", f.SHA256)
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.SetBodyStream(r, int(f.Size)) // fasthttp closes r when done
}
