package sandbox

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Media, as Meta documents it (business-phone-numbers/media):
//
//	POST   /{ver}/{phone_number_id}/media  multipart: messaging_product=whatsapp, type=<mime>, file=@…  → {"id"}
//	GET    /{ver}/{media_id}[?phone_number_id=]  → {"messaging_product","url","mime_type","sha256"(hex),"file_size","id"}
//	DELETE /{ver}/{media_id}[?phone_number_id=]  → {"success":true}
//	GET    <url> with "Authorization: Bearer <token>" → the bytes (URL valid for MediaURLTTL)
//
// The URL points back at the sandbox: <base>/sandbox-media/<media_id>?token=<random>.
// Uploaded bytes are kept in memory; generated media (control API) are never
// materialised: their bytes are recomputed for every download (see
// patternReader and the seed option).

const (
	mediaPathPrefix = "/sandbox-media/"
	// maxGeneratedBytes bounds control-API generated media (CPU for the hash).
	maxGeneratedBytes = 2 << 30
	// maxFormField bounds the non-file multipart fields.
	maxFormField = 4 << 10
)

// mediaObj is one stored media object. Immutable after creation.
type mediaObj struct {
	id            string
	phoneNumberID string // owner; "" = any business number of the sandbox
	mimeType      string // lower-cased as given, e.g. "audio/ogg; codecs=opus"
	filename      string
	size          int64
	sum           [32]byte
	data          []byte // uploaded bytes; nil for generated media
	generated     bool
	seeded        bool     // generated from a seed: ChaCha8 key stream instead of the pattern
	seed          [32]byte // ChaCha8 seed of seeded generated media
}

// baseMIME is the media type without parameters ("audio/ogg; codecs=opus" → "audio/ogg").
func baseMIME(t string) string {
	b, _, _ := strings.Cut(t, ";")
	return strings.ToLower(strings.TrimSpace(b))
}

func (m *mediaObj) baseType() string  { return baseMIME(m.mimeType) }
func (m *mediaObj) sha256Hex() string { return hex.EncodeToString(m.sum[:]) }
func (m *mediaObj) sha256B64() string { return base64.StdEncoding.EncodeToString(m.sum[:]) }
func (m *mediaObj) reader() io.Reader {
	switch {
	case !m.generated:
		return bytes.NewReader(m.data)
	case m.seeded:
		return io.LimitReader(mrand.NewChaCha8(m.seed), m.size)
	}
	return &patternReader{n: m.size}
}

// patternReader yields the default generated content: byte i (from 0) is
// byte((i * 2654435761) >> 13), computed in int64. It depends only on the
// offset, so any test can compute the expected bytes and hash of a
// generated file of a given size without the sandbox.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	v := p.off * 2654435761
	for i := range b {
		b[i] = byte(v >> 13)
		v += 2654435761
	}
	p.off += int64(len(b))
	return len(b), nil
}

func (m *mediaObj) info() *mediaInfo {
	return &mediaInfo{ID: m.id, MimeType: m.mimeType, Size: m.size, SHA256: m.sha256Hex(), Filename: m.filename}
}

// newUploadedMedia stores data as a new media object.
func newUploadedMedia(owner, mimeType, filename string, data []byte) *mediaObj {
	return &mediaObj{
		id: newMediaID(), phoneNumberID: owner, mimeType: normMIME(mimeType), filename: filename,
		size: int64(len(data)), sum: sha256.Sum256(data), data: data,
	}
}

// newGeneratedMedia makes a media object of size deterministic bytes: the
// offset pattern of patternReader, or with a seed the ChaCha8 key stream
// (math/rand/v2) seeded with SHA-256(seed). Only the hash is computed
// (streaming); the bytes are not kept.
func newGeneratedMedia(owner, mimeType, filename string, size int64, seed string) *mediaObj {
	m := &mediaObj{
		id: newMediaID(), phoneNumberID: owner, mimeType: normMIME(mimeType), filename: filename,
		size: size, generated: true, seeded: seed != "", seed: sha256.Sum256([]byte(seed)),
	}
	h := sha256.New()
	buf := make([]byte, 256<<10)
	_, _ = io.CopyBuffer(h, m.reader(), buf)
	copy(m.sum[:], h.Sum(nil))
	return m
}

func normMIME(t string) string { return strings.ToLower(strings.TrimSpace(t)) }

// newMediaID returns a 16-digit id like Meta's ("2621233374848975").
func newMediaID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(1_000_000_000_000_000+binary.BigEndian.Uint64(b[:])%9_000_000_000_000_000, 10)
}

// mediaGrant is one issued download URL.
type mediaGrant struct {
	mediaID string
	expires time.Time
}

// --- Meta's media rules ------------------------------------------------------------

// Document MIME types Meta accepts.
var documentMIMEs = []string{
	"text/plain", "application/pdf",
	"application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"application/vnd.ms-powerpoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

// mediaRule is what a message type accepts when it references uploaded media.
type mediaRule struct {
	mimes []string
	max   int64
}

// sendMediaRules follow Meta's supported media types and sizes (stickers:
// 100 KB static / 500 KB animated; a send does not say which, so 500 KiB).
var sendMediaRules = map[string]mediaRule{
	"image":    {[]string{"image/jpeg", "image/png"}, 5 << 20},
	"video":    {[]string{"video/mp4", "video/3gpp"}, 16 << 20},
	"audio":    {[]string{"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}, 16 << 20},
	"document": {documentMIMEs, 100 << 20},
	"sticker":  {[]string{"image/webp"}, 500 << 10},
}

// uploadable reports whether Meta accepts the MIME type for some media type.
func uploadable(base string) bool {
	for _, r := range sendMediaRules {
		for _, m := range r.mimes {
			if m == base {
				return true
			}
		}
	}
	return false
}

// checkMediaFor applies the rule of message type kind to m; a violation is
// what Meta reports asynchronously in a failed status (131053).
func checkMediaFor(kind string, m *mediaObj) *statusErr {
	r, ok := sendMediaRules[kind]
	if !ok {
		return nil
	}
	base := m.baseType()
	allowed := false
	for _, x := range r.mimes {
		allowed = allowed || x == base
	}
	if !allowed {
		return newStatusErr(131053, "Media upload error",
			fmt.Sprintf("Unsupported %s mime type %q; supported: %s", kind, base, strings.Join(r.mimes, ", ")))
	}
	if m.size > r.max {
		return newStatusErr(131053, "Media upload error",
			fmt.Sprintf("%s size %d bytes exceeds the %d bytes limit", kind, m.size, r.max))
	}
	return nil
}

// errMediaUpload is Meta's (#131053) for a refused upload.
func errMediaUpload(details string) *graphError {
	return &graphError{code: 131053, message: "(#131053) Media upload error", details: details}
}

// --- store -----------------------------------------------------------------------

func (s *Server) addMedia(m *mediaObj) {
	s.mu.Lock()
	s.media[m.id] = m
	s.mu.Unlock()
}

func (s *Server) lookupMedia(id string) *mediaObj {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.media[id]
}

// mediaBase is the scheme://host of download URLs.
func (s *Server) mediaBase(r *http.Request) string {
	if s.cfg.MediaBaseURL != "" {
		return s.cfg.MediaBaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// issueURLLocked creates a download URL for media id valid for MediaURLTTL.
// Called with s.mu held.
func (s *Server) issueURLLocked(base, id string, now time.Time) string {
	if len(s.mediaURLs) > 1024 {
		for tok, g := range s.mediaURLs {
			if !now.Before(g.expires) {
				delete(s.mediaURLs, tok)
			}
		}
	}
	var b [18]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	s.mediaURLs[tok] = &mediaGrant{mediaID: id, expires: now.Add(s.settings.MediaURLTTL)}
	return base + mediaPathPrefix + url.PathEscape(id) + "?token=" + tok
}

// --- Graph endpoints ----------------------------------------------------------------

// uploadForm is a parsed multipart upload.
type uploadForm struct {
	fields   map[string]string
	hasFile  bool
	data     []byte
	filename string
	partType string // Content-Type of the file part
}

// readUploadForm streams a multipart body, keeping at most limit bytes of the
// file part. tooBig reports a file (or body) over the limit; the rest of the
// (already capped) body is drained so the client reads the answer.
func readUploadForm(r *http.Request, limit int64) (f *uploadForm, tooBig bool, err error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, false, err
	}
	f = &uploadForm{fields: map[string]string{}}
	defer func() {
		if tooBig {
			_, _ = io.Copy(io.Discard, r.Body)
		}
	}()
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return f, false, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			return nil, errors.As(err, &mbe), err
		}
		switch name := p.FormName(); {
		case name == "file" && !f.hasFile:
			f.hasFile = true
			f.filename = p.FileName()
			f.partType = p.Header.Get("Content-Type")
			var buf bytes.Buffer
			if r.ContentLength > 0 {
				buf.Grow(int(min(r.ContentLength, limit+1)))
			}
			n, err := io.Copy(&buf, io.LimitReader(p, limit+1))
			if err != nil {
				var mbe *http.MaxBytesError
				return nil, errors.As(err, &mbe), err
			}
			if n > limit {
				return nil, true, fmt.Errorf("file is larger than %d bytes", limit)
			}
			f.data = buf.Bytes()
		case name != "":
			b, err := io.ReadAll(io.LimitReader(p, maxFormField))
			if err != nil {
				var mbe *http.MaxBytesError
				return nil, errors.As(err, &mbe), err
			}
			f.fields[name] = string(b)
		}
		_, _ = io.Copy(io.Discard, p)
	}
}

// handleMediaUpload serves POST /{phone_number_id}/media.
func (s *Server) handleMediaUpload(w http.ResponseWriter, r *http.Request, num *Number) {
	f, tooBig, err := readUploadForm(r, s.cfg.MaxUploadBytes)
	switch {
	case tooBig:
		errMediaUpload(fmt.Sprintf("file size exceeds the maximum of %d bytes", s.cfg.MaxUploadBytes)).write(w)
		return
	case errors.Is(err, http.ErrNotMultipart):
		errInvalidParam("the request must be multipart/form-data with messaging_product, type and file").write(w)
		return
	case err != nil:
		errInvalidParam("could not read the multipart body: " + err.Error()).write(w)
		return
	}
	switch product := f.fields["messaging_product"]; {
	case product == "":
		errRequired("messaging_product").write(w)
		return
	case product != "whatsapp":
		(&graphError{code: 100, message: fmt.Sprintf("(#100) Param messaging_product must be one of {WHATSAPP} - got %q.", product)}).write(w)
		return
	}
	if !f.hasFile {
		errRequired("file").write(w)
		return
	}
	typ := strings.TrimSpace(f.fields["type"])
	if typ == "" {
		typ = f.partType
	}
	switch {
	case strings.TrimSpace(typ) == "":
		errRequired("type").write(w)
		return
	case !uploadable(baseMIME(typ)):
		errMediaUpload(fmt.Sprintf("Param type %q is not a supported media type", baseMIME(typ))).write(w)
		return
	case len(f.data) == 0:
		errMediaUpload("the file is empty").write(w)
		return
	}
	m := newUploadedMedia(num.PhoneNumberID, typ, f.filename, f.data)
	s.mu.Lock()
	s.media[m.id] = m
	s.stats.MediaUploads++
	s.mu.Unlock()
	s.log.Debug("sandbox media uploaded", "id", m.id, "mime_type", m.mimeType, "size", m.size)
	writeJSON(w, http.StatusOK, map[string]string{"id": m.id})
}

// mediaForRequest resolves a media id with the optional phone_number_id check.
func (s *Server) mediaForRequest(r *http.Request, id string) *mediaObj {
	m := s.lookupMedia(id)
	if m == nil {
		return nil
	}
	if p := r.URL.Query().Get("phone_number_id"); p != "" {
		if s.byID[p] == nil || (m.phoneNumberID != "" && m.phoneNumberID != p) {
			return nil
		}
	}
	return m
}

// handleMediaGet serves GET /{media_id}: metadata and a fresh download URL.
func (s *Server) handleMediaGet(w http.ResponseWriter, r *http.Request, m *mediaObj) {
	s.mu.Lock()
	u := s.issueURLLocked(s.mediaBase(r), m.id, time.Now())
	var size any = m.size
	if s.settings.MediaFileSizeAsString {
		size = strconv.FormatInt(m.size, 10)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp", "url": u, "mime_type": m.mimeType,
		"sha256": m.sha256Hex(), "file_size": size, "id": m.id,
	})
}

// handleMediaDelete serves DELETE /{media_id}; its URLs stop working too.
func (s *Server) handleMediaDelete(w http.ResponseWriter, m *mediaObj) {
	s.mu.Lock()
	delete(s.media, m.id)
	for tok, g := range s.mediaURLs {
		if g.mediaID == m.id {
			delete(s.mediaURLs, tok)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// serveMediaDownload serves GET <base>/sandbox-media/<id>?token=…: bearer
// token required (401), unknown or expired URL → 404, MediaRedirectTo → 302.
func (s *Server) serveMediaDownload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		(&graphError{status: http.StatusMethodNotAllowed, code: 100, message: "(#100) Media URLs only support GET"}).write(w)
		return
	}
	if e := s.checkBearer(r); e != nil {
		e.write(w)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, mediaPathPrefix)
	tok := r.URL.Query().Get("token")
	now := time.Now()
	s.mu.Lock()
	g := s.mediaURLs[tok]
	var m *mediaObj
	if g != nil && g.mediaID == id && now.Before(g.expires) {
		m = s.media[id]
	}
	redirect := s.settings.MediaRedirectTo
	if m != nil && redirect == "" {
		s.stats.MediaDownloads++
	}
	s.mu.Unlock()
	if m == nil {
		(&graphError{status: http.StatusNotFound, typ: "GraphMethodException", code: 100,
			message: "The media URL is unknown or has expired; retrieve a new one with GET /{media_id}"}).write(w)
		return
	}
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", m.mimeType)
	if m.filename != "" {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.filename}))
	}
	if !m.generated {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(m.data))
		return
	}
	h.Set("Content-Length", strconv.FormatInt(m.size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.CopyBuffer(w, m.reader(), make([]byte, 256<<10))
}

// checkBearer requires "Authorization: Bearer <AccessToken>" (media downloads
// do not take the access_token query parameter); else (#190), HTTP 401.
func (s *Server) checkBearer(r *http.Request) *graphError {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.cfg.AccessToken)) == 1 {
		return nil
	}
	return &graphError{status: http.StatusUnauthorized, code: 190, message: "Media downloads need \"Authorization: Bearer <access token>\""}
}

// --- control API ---------------------------------------------------------------------

// controlMediaRequest is the JSON form of POST /sandbox/v1/media: generate
// Size deterministic pseudo-random bytes server-side.
type controlMediaRequest struct {
	MimeType      string `json:"mime_type"`
	Size          *int64 `json:"size"`
	Filename      string `json:"filename"`
	Seed          string `json:"seed"`
	PhoneNumberID string `json:"phone_number_id"`
}

// handleControlMedia serves POST /sandbox/v1/media. Any MIME type is
// accepted (so tests can make media Meta would refuse at send time).
func (s *Server) handleControlMedia(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	owner := r.URL.Query().Get("phone_number_id")
	var m *mediaObj
	switch ct {
	case "application/json":
		raw, tooLarge, err := readBody(r)
		if tooLarge || err != nil {
			controlError(w, http.StatusBadRequest, "could not read the body")
			return
		}
		var req controlMediaRequest
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			controlError(w, http.StatusBadRequest, "body must be {\"mime_type\",\"size\",\"filename\",\"seed\",\"phone_number_id\"}: "+err.Error())
			return
		}
		switch {
		case strings.TrimSpace(req.MimeType) == "":
			controlError(w, http.StatusBadRequest, "mime_type is required")
			return
		case req.Size == nil || *req.Size < 0 || *req.Size > maxGeneratedBytes:
			controlError(w, http.StatusBadRequest, fmt.Sprintf("size is required, 0 to %d bytes", int64(maxGeneratedBytes)))
			return
		}
		if req.PhoneNumberID != "" {
			owner = req.PhoneNumberID
		}
		if owner, ok := s.controlOwner(w, owner); ok {
			m = newGeneratedMedia(owner, req.MimeType, req.Filename, *req.Size, req.Seed)
		} else {
			return
		}
	case "multipart/form-data":
		f, tooBig, err := readUploadForm(r, s.cfg.MaxUploadBytes)
		switch {
		case tooBig:
			controlError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("uploads are limited to %d bytes (MaxUploadBytes)", s.cfg.MaxUploadBytes))
			return
		case err != nil:
			controlError(w, http.StatusBadRequest, "could not read the multipart body: "+err.Error())
			return
		case !f.hasFile:
			controlError(w, http.StatusBadRequest, "the multipart body needs a file part")
			return
		}
		typ := f.fields["mime_type"]
		if typ == "" {
			typ = f.fields["type"]
		}
		if typ == "" {
			typ = f.partType
		}
		name := f.filename
		if v := f.fields["filename"]; v != "" {
			name = v
		}
		if v := f.fields["phone_number_id"]; v != "" {
			owner = v
		}
		if strings.TrimSpace(typ) == "" {
			controlError(w, http.StatusBadRequest, "the file part needs a Content-Type (or a type field)")
			return
		}
		owner, ok := s.controlOwner(w, owner)
		if !ok {
			return
		}
		m = newUploadedMedia(owner, typ, name, f.data)
	default:
		if ct == "" {
			controlError(w, http.StatusBadRequest, "Content-Type is required: the media's MIME type, multipart/form-data or application/json")
			return
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxUploadBytes+1))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || int64(len(data)) > s.cfg.MaxUploadBytes {
			_, _ = io.Copy(io.Discard, r.Body)
			controlError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("uploads are limited to %d bytes (MaxUploadBytes)", s.cfg.MaxUploadBytes))
			return
		}
		if err != nil {
			controlError(w, http.StatusBadRequest, "could not read the body")
			return
		}
		owner, ok := s.controlOwner(w, owner)
		if !ok {
			return
		}
		m = newUploadedMedia(owner, r.Header.Get("Content-Type"), r.URL.Query().Get("filename"), data)
	}
	s.addMedia(m)
	resp := map[string]any{
		"id": m.id, "sha256": m.sha256Hex(), "sha256_base64": m.sha256B64(),
		"size": m.size, "mime_type": m.mimeType,
	}
	if m.filename != "" {
		resp["filename"] = m.filename
	}
	writeJSON(w, http.StatusOK, resp)
}

// controlOwner resolves an optional owner (phone_number_id, E.164 or digits).
func (s *Server) controlOwner(w http.ResponseWriter, v string) (string, bool) {
	if v == "" {
		return "", true
	}
	n := s.numberFor(v)
	if n == nil {
		controlError(w, http.StatusBadRequest, "unknown business number "+v)
		return "", false
	}
	return n.PhoneNumberID, true
}
