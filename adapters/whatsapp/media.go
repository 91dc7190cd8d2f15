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
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/safefetch"
	"github.com/wabridge/wabridge/internal/upstream"
)

// Media transfer (FACTS.md b2):
//
//   - upload: POST /{phone-number-id}/media, multipart/form-data with
//     messaging_product=whatsapp, type=<MIME> and the file → {"id":"…"};
//     https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media
//     (curl -F messaging_product=whatsapp -F "file=@…;type=<MIME>")
//   - retrieve: GET /{media-id}?phone_number_id=… →
//     {"url","mime_type","sha256","file_size","id","messaging_product"};
//     file_size appears as a string in Meta's example, a number elsewhere.
//     https://developers.facebook.com/documentation/business-messaging/whatsapp/reference/media/media-api
//   - download: GET <url> with the bearer token; the URL is valid 5 minutes.
//     https://developers.facebook.com/documentation/business-messaging/whatsapp/reference/media/media-download-api

// maxErrorBody bounds how much of a failed media download's body is read.
const maxErrorBody = 64 << 10

// uploadReply is {"id":"<MEDIA_ID>"}.
type uploadReply struct {
	ID string `json:"id"`
}

// Upload sends the file read from r to POST {GraphURL}/{version}/
// {phone_number_id}/media as multipart/form-data (messaging_product,
// type = f's MIME type without parameters, and the file part named
// f.Filename, or f.ID, with that Content-Type) and returns Meta's media id.
// The body is streamed through a pipe, never held in memory. When f.Size is
// positive, r must yield exactly that many bytes. Failures are
// *bridge.SendError classified as for Send; a read error from r is
// ActionRetry, a size mismatch ActionPermanent/ReasonInvalid. Observe op
// "upload_media". r is not read after Upload returns.
func (c *Client) Upload(ctx context.Context, business string, f *bridge.File, r io.Reader) (string, error) {
	phoneID, ok := c.PhoneNumberID(business)
	if !ok {
		return "", invalid(fmt.Sprintf("unknown business number %q", business))
	}
	if f == nil || r == nil {
		return "", invalid("upload without a file")
	}
	mime := bridge.BaseMIME(f.MIMEType)
	if mime == "" || strings.ContainsFunc(mime, isCtl) {
		return "", invalid("file to upload has no usable MIME type")
	}
	if f.Size < 0 {
		return "", invalid("file to upload has a negative size")
	}

	ctx, cancel := context.WithTimeout(ctx, c.mediaTimeout)
	defer cancel()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	contentType := mw.FormDataContentType()
	src := &trackedReader{r: r}
	var srcErr error // set by the writer before done closes
	done := make(chan struct{})
	go func() {
		defer close(done)
		srcErr = writeUpload(mw, mime, uploadFilename(f), src, f.Size)
		if srcErr != nil {
			pw.CloseWithError(srcErr)
			return
		}
		pw.Close()
	}()
	finish := func() {
		// Unblock the writer if the transport stopped reading early (an
		// error reply, a broken connection), then wait so r is not read
		// after we return.
		pr.CloseWithError(errors.New("whatsapp: upload request ended"))
		<-done
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+url.PathEscape(phoneID)+"/media", pr)
	if err != nil {
		finish()
		se := c.transportError(err)
		c.observeCall("upload_media", 0, 0, se)
		return "", se
	}
	data, err := c.roundTrip("upload_media", req, contentType)
	finish()
	if srcErr != nil {
		var sm *sizeMismatchError
		if errors.As(srcErr, &sm) {
			return "", &bridge.SendError{Action: bridge.ActionPermanent, Reason: bridge.ReasonInvalid, Title: sm.Error()}
		}
		return "", &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError,
			Title: "reading the file to upload failed", Err: srcErr}
	}
	if err != nil {
		return "", err
	}
	var rep uploadReply
	if err := json.Unmarshal(data, &rep); err != nil || rep.ID == "" {
		// Nothing was sent to anyone; uploading again only leaves an
		// unused media object behind, which Meta expires.
		return "", &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError,
			Title: "upload reply without a media id"}
	}
	return rep.ID, nil
}

// writeUpload writes the multipart body: messaging_product, type, then the
// file part. It returns only errors of the source (read errors, a size
// mismatch); a failed write to the pipe means the request ended, and the
// request reports why.
func writeUpload(mw *multipart.Writer, mime, filename string, src *trackedReader, size int64) error {
	if mw.WriteField("messaging_product", "whatsapp") != nil || mw.WriteField("type", mime) != nil {
		return nil
	}
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+quoteEscaper.Replace(filename)+`"`)
	h.Set("Content-Type", mime)
	part, err := mw.CreatePart(h)
	if err != nil {
		return nil
	}
	var r io.Reader = src
	if size > 0 {
		r = io.LimitReader(src, size+1) // one byte more reveals a longer file
	}
	_, copyErr := io.Copy(part, r)
	if src.err != nil {
		return src.err
	}
	if copyErr != nil {
		return nil
	}
	if size > 0 && src.n != size {
		if src.n > size {
			return &sizeMismatchError{got: -1, want: size}
		}
		return &sizeMismatchError{got: src.n, want: size}
	}
	mw.Close()
	return nil
}

// quoteEscaper escapes a quoted-string as mime/multipart does.
var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// uploadFilename is the file part's name: f.Filename (its last path
// element), else f.ID, else "file"; control characters become "_".
func uploadFilename(f *bridge.File) string {
	name := f.Filename
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		name = f.ID
	}
	if name == "" {
		name = "file"
	}
	return strings.Map(func(r rune) rune {
		if isCtl(r) {
			return '_'
		}
		return r
	}, name)
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }

// trackedReader counts bytes and keeps the first read error other than EOF.
type trackedReader struct {
	r   io.Reader
	n   int64
	err error
}

func (t *trackedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// sizeMismatchError: the file read for upload is not as long as recorded.
type sizeMismatchError struct{ got, want int64 }

func (e *sizeMismatchError) Error() string {
	if e.got < 0 {
		return fmt.Sprintf("file to upload is longer than its recorded %d bytes", e.want)
	}
	return fmt.Sprintf("file to upload has %d bytes, its record says %d", e.got, e.want)
}

// mediaInfo is the useful part of GET /{media-id}.
type mediaInfo struct {
	url, mime, sha string
	size           int64
}

// Download fetches media mediaID, received on business, into w: first
// GET {GraphURL}/{version}/{media_id}?phone_number_id=… for its URL, type,
// size and sha256 (observed as "media_info"), then GET of that URL with the
// bearer token through the guarded client of internal/safefetch (observed as
// "download_media"). At most maxBytes are written to w; on error w may hold
// part of the file and must be discarded.
//
// Failures are *bridge.SendError:
//   - reported or actual size over maxBytes, an unknown or expired media id
//     (Meta code 100 or 131052, HTTP 404/410), a URL host or address the
//     guard refuses → ActionPermanent, ReasonMediaUnavailable;
//   - a body whose sha256 (Meta writes hex or base64; both are accepted) or
//     length differs from the report → ActionRetry (corrupt transfer);
//   - timeouts, transport errors, 5xx → ActionRetry; other Graph errors as
//     ClassifyHTTP.
//
// The returned MediaInfo has the MIME type Meta reported (else the
// download's Content-Type), the hex sha256 of the bytes written and their
// count.
func (c *Client) Download(ctx context.Context, business, mediaID string, w io.Writer, maxBytes int64) (bridge.MediaInfo, error) {
	phoneID, ok := c.PhoneNumberID(business)
	if !ok {
		return bridge.MediaInfo{}, invalid(fmt.Sprintf("unknown business number %q", business))
	}
	if mediaID == "" || strings.ContainsAny(mediaID, "/?#%\\ ") || strings.ContainsFunc(mediaID, isCtl) {
		return bridge.MediaInfo{}, invalid(fmt.Sprintf("invalid media id %q", mediaID))
	}
	if w == nil || maxBytes <= 0 {
		return bridge.MediaInfo{}, invalid("download needs a writer and a positive size limit")
	}
	info, err := c.mediaInfo(ctx, phoneID, mediaID)
	if err != nil {
		return bridge.MediaInfo{}, err
	}
	if info.size > maxBytes {
		return bridge.MediaInfo{}, mediaUnavailable(fmt.Sprintf("media of %d bytes is over the limit of %d bytes", info.size, maxBytes), nil)
	}
	start := time.Now()
	res, err := c.fetchMedia(ctx, info, w, maxBytes)
	code := 0
	if se, ok := err.(*bridge.SendError); ok {
		code = se.Code
	}
	c.observeCall("download_media", time.Since(start), code, err)
	if err != nil {
		return bridge.MediaInfo{}, err
	}
	return res, nil
}

// mediaInfo asks Meta for a media object's URL and metadata.
func (c *Client) mediaInfo(ctx context.Context, phoneID, mediaID string) (mediaInfo, error) {
	q := url.Values{"phone_number_id": {phoneID}}
	data, err := c.call(ctx, "media_info", http.MethodGet, c.base+"/"+url.PathEscape(mediaID)+"?"+q.Encode(), nil)
	if err != nil {
		return mediaInfo{}, mediaGone(err)
	}
	o, ok := asObject(data)
	info := mediaInfo{url: o.str("url"), mime: o.str("mime_type"), sha: o.str("sha256"), size: int64(o.num("file_size"))}
	if !ok || info.url == "" {
		return mediaInfo{}, &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError,
			Title: "media info reply without a URL"}
	}
	return info, nil
}

// mediaGone turns the classification of an unknown or expired media object
// (Meta code 100 or 131052, HTTP 404/410 without a code) into a permanent
// media_unavailable; other errors are returned unchanged.
func mediaGone(err error) error {
	se, ok := err.(*bridge.SendError)
	if !ok {
		return err
	}
	switch {
	case se.Code == 100, se.Code == 131052:
	case se.Code == 0 && (se.Title == httpStatusTitle(http.StatusNotFound) || se.Title == httpStatusTitle(http.StatusGone)):
	default:
		return err
	}
	out := *se
	out.Action, out.Reason = bridge.ActionPermanent, bridge.ReasonMediaUnavailable
	return &out
}

// mediaUnavailable is a permanent media_unavailable failure.
func mediaUnavailable(title string, err error) *bridge.SendError {
	return &bridge.SendError{Action: bridge.ActionPermanent, Reason: bridge.ReasonMediaUnavailable, Title: title, Err: err}
}

// fetchMedia downloads info.url into w, at most maxBytes, hashing as it
// streams, and checks length and sha256 against info.
func (c *Client) fetchMedia(ctx context.Context, info mediaInfo, w io.Writer, maxBytes int64) (bridge.MediaInfo, error) {
	u, err := url.Parse(info.url)
	if err != nil {
		return bridge.MediaInfo{}, mediaUnavailable("media URL does not parse", nil)
	}
	if err := c.media.CheckURL(u); err != nil {
		return bridge.MediaInfo{}, mediaUnavailable("whatsapp: "+err.Error(), nil)
	}
	ctx, cancel := context.WithTimeout(ctx, c.mediaTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return bridge.MediaInfo{}, mediaUnavailable("media URL is not usable", nil)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.media.Client().Do(req)
	if err != nil {
		return bridge.MediaInfo{}, c.fetchError(err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
			return bridge.MediaInfo{}, mediaUnavailable(fmt.Sprintf("media URL answered HTTP %d (expired or removed)", resp.StatusCode), nil)
		}
		return bridge.MediaInfo{}, mediaGone(c.replyError(resp.StatusCode, resp.Header, body))
	}
	if resp.ContentLength > maxBytes {
		return bridge.MediaInfo{}, mediaUnavailable(fmt.Sprintf("media of %d bytes is over the limit of %d bytes", resp.ContentLength, maxBytes), nil)
	}

	h := sha256.New()
	dst := &upstream.TrackedWriter{W: w}
	n, err := io.Copy(io.MultiWriter(dst, h), io.LimitReader(resp.Body, maxBytes))
	switch {
	case dst.Err != nil:
		return bridge.MediaInfo{}, &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError,
			Title: "storing the downloaded media failed", Err: dst.Err}
	case err != nil:
		return bridge.MediaInfo{}, c.fetchError(err)
	}
	if n == maxBytes {
		var probe [1]byte
		if k, _ := io.ReadFull(resp.Body, probe[:]); k > 0 {
			return bridge.MediaInfo{}, mediaUnavailable(fmt.Sprintf("media is larger than the limit of %d bytes", maxBytes), nil)
		}
	}
	if info.size > 0 && n != info.size {
		return bridge.MediaInfo{}, &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError,
			Title: fmt.Sprintf("downloaded %d bytes, Meta reported %d", n, info.size)}
	}
	sum := h.Sum(nil)
	if want, ok := decodeSHA256(info.sha); ok && !bytes.Equal(want, sum) {
		return bridge.MediaInfo{}, &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError,
			Title: "downloaded media does not match Meta's sha256"}
	} else if !ok && info.sha != "" {
		c.log.Warn("whatsapp media sha256 not understood; not verified", "sha256", info.sha)
	}
	mime := info.mime
	if mime == "" {
		mime = bridge.BaseMIME(resp.Header.Get("Content-Type"))
	}
	return bridge.MediaInfo{MIMEType: mime, SHA256: hex.EncodeToString(sum), Size: n}, nil
}

// fetchError classifies a failed media request: guard refusals are final,
// everything else (timeouts, resets) retryable. The *url.Error wrapper is
// dropped so signed media URLs do not end up in logs.
func (c *Client) fetchError(err error) *bridge.SendError {
	var refused *safefetch.RefusedError
	if errors.As(err, &refused) {
		return mediaUnavailable("whatsapp: "+refused.Error(), nil)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return c.transportError(err)
}

// decodeSHA256 reads a SHA-256 digest written as hex (either case) or
// base64 (standard or URL alphabet, padded or not), as Meta writes it in
// webhooks (base64) and elsewhere (hex).
func decodeSHA256(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, true
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == sha256.Size {
			return b, true
		}
	}
	return nil, false
}
