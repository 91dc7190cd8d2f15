package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"
)

// uploadPart describes one multipart upload for tests.
type uploadPart struct {
	product   string // messaging_product field; "-" = omit
	typ       string // type field; "" = omit
	typeAfter bool   // put the type field after the file part
	partType  string // Content-Type of the file part; "" = none
	filename  string
	data      []byte
	noFile    bool
}

func multipartBody(t *testing.T, u uploadPart) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if u.product != "-" {
		p := u.product
		if p == "" {
			p = "whatsapp"
		}
		_ = mw.WriteField("messaging_product", p)
	}
	if u.typ != "" && !u.typeAfter {
		_ = mw.WriteField("type", u.typ)
	}
	if !u.noFile {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, u.filename))
		if u.partType != "" {
			hdr.Set("Content-Type", u.partType)
		}
		pw, err := mw.CreatePart(hdr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = pw.Write(u.data)
	}
	if u.typ != "" && u.typeAfter {
		_ = mw.WriteField("type", u.typ)
	}
	_ = mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// rawDo sends a request with an explicit Content-Type and returns status, headers and body.
func (h *harness) rawDo(method, target, token, contentType string, body []byte) (int, http.Header, []byte) {
	h.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = h.url + target
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, raw
}

// upload posts a Graph media upload for pnid and decodes the answer.
func (h *harness) upload(pnid, token string, u uploadPart) (int, map[string]any) {
	h.t.Helper()
	ct, body := multipartBody(h.t, u)
	code, _, raw := h.rawDo("POST", "/v24.0/"+pnid+"/media", token, ct, body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		h.t.Fatalf("upload answer %q: %v", raw, err)
	}
	return code, out
}

// uploadOK uploads and returns the media id.
func (h *harness) uploadOK(typ string, data []byte) string {
	h.t.Helper()
	code, out := h.upload(testPNID, testToken, uploadPart{typ: typ, partType: typ, filename: "f", data: data})
	id, _ := out["id"].(string)
	if code != 200 || id == "" {
		h.t.Fatalf("upload %s: HTTP %d %v", typ, code, out)
	}
	return id
}

type mediaMeta struct {
	MessagingProduct string          `json:"messaging_product"`
	URL              string          `json:"url"`
	MimeType         string          `json:"mime_type"`
	SHA256           string          `json:"sha256"`
	FileSize         json.RawMessage `json:"file_size"`
	ID               string          `json:"id"`
}

func (h *harness) mediaMeta(id, query string) mediaMeta {
	h.t.Helper()
	var m mediaMeta
	var raw json.RawMessage
	if code := h.do("GET", "/v24.0/"+id+query, testToken, nil, &raw); code != 200 {
		h.t.Fatalf("GET media %s: HTTP %d %s", id, code, raw)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		h.t.Fatal(err)
	}
	return m
}

// controlMedia posts to /sandbox/v1/media and decodes the answer.
type ctlMedia struct {
	ID           string `json:"id"`
	SHA256       string `json:"sha256"`
	SHA256Base64 string `json:"sha256_base64"`
	Size         int64  `json:"size"`
	MimeType     string `json:"mime_type"`
	Filename     string `json:"filename"`
	Error        string `json:"error"`
}

func (h *harness) controlMedia(query, contentType string, body []byte) (int, ctlMedia) {
	h.t.Helper()
	code, _, raw := h.rawDo("POST", "/sandbox/v1/media"+query, "", contentType, body)
	var m ctlMedia
	if err := json.Unmarshal(raw, &m); err != nil {
		h.t.Fatalf("control media answer %q: %v", raw, err)
	}
	return code, m
}

func (h *harness) generate(mimeType string, size int64, filename string) ctlMedia {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"mime_type": mimeType, "size": size, "filename": filename})
	code, m := h.controlMedia("", "application/json", body)
	if code != 200 || m.ID == "" {
		h.t.Fatalf("generate %s %d: HTTP %d %+v", mimeType, size, code, m)
	}
	return m
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestMediaUploadRetrieveDownloadDelete(t *testing.T) {
	h := start(t, nil)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 3000)...)
	code, out := h.upload(testPNID, testToken, uploadPart{typ: "image/png", partType: "image/png", filename: "pic.png", data: png})
	id, _ := out["id"].(string)
	if code != 200 || len(out) != 1 || len(id) < 10 {
		t.Fatalf("upload: HTTP %d %v, want {\"id\"}", code, out)
	}
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		t.Errorf("media id %q is not numeric like Meta's", id)
	}

	m := h.mediaMeta(id, "")
	if m.MessagingProduct != "whatsapp" || m.ID != id || m.MimeType != "image/png" || m.SHA256 != hexSum(png) || string(m.FileSize) != strconv.Itoa(len(png)) {
		t.Errorf("retrieve: %+v (file_size %s)", m, m.FileSize)
	}
	if !strings.HasPrefix(m.URL, h.url+"/sandbox-media/"+id+"?token=") {
		t.Errorf("url %q does not point at the sandbox", m.URL)
	}
	// The owner check of ?phone_number_id=.
	h.mediaMeta(id, "?phone_number_id="+testPNID)
	var e graphErr
	if code := h.do("GET", "/v24.0/"+id+"?phone_number_id="+testPNID2, testToken, nil, &e); code != 400 || e.Error.Code != 100 || e.Error.Type != "GraphMethodException" {
		t.Errorf("other number's media: HTTP %d %+v", code, e.Error)
	}

	// Download: bearer token required.
	for _, tok := range []string{"", "wrong"} {
		if code, _, _ := h.rawDo("GET", m.URL, tok, "", nil); code != 401 {
			t.Errorf("download with token %q: HTTP %d, want 401", tok, code)
		}
	}
	if code, _, _ := h.rawDo("GET", m.URL+"&access_token="+testToken, "", "", nil); code != 401 {
		t.Errorf("download with access_token query: HTTP %d, want 401 (bearer header only)", code)
	}
	code, hdr, got := h.rawDo("GET", m.URL, testToken, "", nil)
	if code != 200 || !bytes.Equal(got, png) || hdr.Get("Content-Type") != "image/png" || hdr.Get("Content-Length") != strconv.Itoa(len(png)) {
		t.Errorf("download: HTTP %d, %d bytes, Content-Type %q, Content-Length %q", code, len(got), hdr.Get("Content-Type"), hdr.Get("Content-Length"))
	}
	if code, _, _ := h.rawDo("GET", strings.Replace(m.URL, "token=", "token=x", 1), testToken, "", nil); code != 404 {
		t.Errorf("download with a forged URL token: HTTP %d, want 404", code)
	}
	var st struct {
		MediaUploads   int `json:"media_uploads"`
		MediaDownloads int `json:"media_downloads"`
	}
	h.do("GET", "/sandbox/v1/stats", "", nil, &st)
	if st.MediaUploads != 1 || st.MediaDownloads != 1 {
		t.Errorf("stats %+v, want 1 upload and 1 download", st)
	}

	// Delete: the id and its URLs stop working.
	var ok map[string]any
	if code := h.do("DELETE", "/v24.0/"+id, testToken, nil, &ok); code != 200 || ok["success"] != true {
		t.Errorf("delete: HTTP %d %v", code, ok)
	}
	if code := h.do("GET", "/v24.0/"+id, testToken, nil, &e); code != 400 || e.Error.Code != 100 || !strings.Contains(e.Error.Message, "Unsupported get request") {
		t.Errorf("retrieve after delete: HTTP %d %+v", code, e.Error)
	}
	if code := h.do("DELETE", "/v24.0/"+id, testToken, nil, &e); code != 400 || e.Error.Code != 100 {
		t.Errorf("second delete: HTTP %d %+v", code, e.Error)
	}
	if code, _, _ := h.rawDo("GET", m.URL, testToken, "", nil); code != 404 {
		t.Errorf("download after delete: HTTP %d, want 404", code)
	}
	// Graph auth still applies to media endpoints.
	if code, out := h.upload(testPNID, "", uploadPart{typ: "image/png", partType: "image/png", data: png}); code != 401 {
		t.Errorf("upload without token: HTTP %d %v", code, out)
	}
	if code := h.do("GET", "/v24.0/"+h.uploadOK("image/png", png), "", nil, &e); code != 401 || e.Error.Code != 190 {
		t.Errorf("retrieve without token: HTTP %d %+v", code, e.Error)
	}
}

func TestMediaUploadValidation(t *testing.T) {
	h := start(t, func(c *Config) { c.MaxUploadBytes = 4096 })
	data := bytes.Repeat([]byte("x"), 100)
	for _, tc := range []struct {
		name string
		u    uploadPart
		code int
	}{
		{"no messaging_product", uploadPart{product: "-", typ: "text/plain", data: data}, 100},
		{"wrong messaging_product", uploadPart{product: "sms", typ: "text/plain", data: data}, 100},
		{"no file", uploadPart{typ: "text/plain", noFile: true}, 100},
		{"no type at all", uploadPart{data: data}, 100},
		{"gif not accepted", uploadPart{typ: "image/gif", partType: "image/gif", data: data}, 131053},
		{"octet-stream part", uploadPart{partType: "application/octet-stream", data: data}, 131053},
		{"empty file", uploadPart{typ: "text/plain", data: nil}, 131053},
		{"over MaxUploadBytes", uploadPart{typ: "text/plain", data: bytes.Repeat([]byte("x"), 4097)}, 131053},
		{"body over the cap", uploadPart{typ: "text/plain", data: bytes.Repeat([]byte("x"), 4096+uploadOverhead+10)}, 131053},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := h.upload(testPNID, testToken, tc.u)
			e, _ := out["error"].(map[string]any)
			if code != 400 || e == nil || e["code"] != float64(tc.code) || e["fbtrace_id"] == nil {
				t.Errorf("HTTP %d %v, want 400 code %d", code, out, tc.code)
			}
		})
	}
	// Not multipart at all.
	code, _, raw := h.rawDo("POST", "/v24.0/"+testPNID+"/media", testToken, "application/json", []byte(`{"file":"x"}`))
	if code != 400 || !strings.Contains(string(raw), `"code":100`) {
		t.Errorf("JSON upload: HTTP %d %s", code, raw)
	}
	// Exactly MaxUploadBytes is fine; the type field may follow the file;
	// without it the part's Content-Type counts; parameters are kept.
	for _, u := range []uploadPart{
		{typ: "application/pdf", data: bytes.Repeat([]byte("%"), 4096)},
		{typ: "audio/ogg; codecs=opus", typeAfter: true, data: data},
		{partType: "video/mp4", data: data},
	} {
		code, out := h.upload(testPNID2, testToken, u)
		id, _ := out["id"].(string)
		if code != 200 || id == "" {
			t.Errorf("upload %+v: HTTP %d %v", u.typ+u.partType, code, out)
			continue
		}
		if m := h.mediaMeta(id, ""); m.MimeType != normMIME(u.typ+u.partType) {
			t.Errorf("mime_type %q, want %q", m.MimeType, u.typ+u.partType)
		}
	}
	if code, out := h.upload("999999", testToken, uploadPart{typ: "text/plain", data: data}); code != 400 {
		t.Errorf("upload to an unknown phone number id: HTTP %d %v", code, out)
	}
}

func TestMediaURLExpires(t *testing.T) {
	h := start(t, func(c *Config) { c.MediaURLTTL = time.Millisecond })
	id := h.uploadOK("text/plain", []byte("hello"))
	m := h.mediaMeta(id, "")
	waitFor(t, "the media URL to expire", func() bool {
		code, _, _ := h.rawDo("GET", m.URL, testToken, "", nil)
		return code == 404
	})
	// The media itself lives on: a fresh retrieve gives a fresh URL.
	if m2 := h.mediaMeta(id, ""); m2.URL == m.URL || m2.SHA256 != hexSum([]byte("hello")) {
		t.Errorf("second retrieve: %+v", m2)
	}
}

func TestMediaRedirectKnob(t *testing.T) {
	const target = "http://evil.example.invalid/steal"
	h := start(t, func(c *Config) { c.MediaRedirectTo = target })
	id := h.uploadOK("image/jpeg", []byte("jpeg"))
	m := h.mediaMeta(id, "")
	if code, _, _ := h.rawDo("GET", m.URL, "", "", nil); code != 401 {
		t.Errorf("redirect URL without token: HTTP %d, want 401", code)
	}
	code, hdr, _ := h.rawDo("GET", m.URL, testToken, "", nil)
	if code != http.StatusFound || hdr.Get("Location") != target {
		t.Errorf("download: HTTP %d Location %q, want 302 to %s", code, hdr.Get("Location"), target)
	}
}

func TestMediaFileSizeAsString(t *testing.T) {
	h := start(t, func(c *Config) { c.MediaFileSizeAsString = true })
	id := h.uploadOK("text/plain", []byte("12345"))
	if m := h.mediaMeta(id, ""); string(m.FileSize) != `"5"` {
		t.Errorf("file_size %s, want \"5\"", m.FileSize)
	}
}

func TestControlMediaForms(t *testing.T) {
	h := start(t, nil)
	gif := []byte("GIF89a-not-really")
	// Multipart; any MIME type is accepted on the control API.
	ct, body := multipartBody(t, uploadPart{product: "-", partType: "image/gif", filename: "anim.gif", data: gif})
	code, m := h.controlMedia("?phone_number_id="+testPNID2, ct, body)
	if code != 200 || m.MimeType != "image/gif" || m.Size != int64(len(gif)) || m.SHA256 != hexSum(gif) || m.Filename != "anim.gif" {
		t.Errorf("multipart: HTTP %d %+v", code, m)
	}
	if meta := h.mediaMeta(m.ID, "?phone_number_id="+testPNID2); meta.SHA256 != m.SHA256 {
		t.Errorf("retrieve of control media: %+v", meta)
	}
	var e graphErr
	if code := h.do("GET", "/v24.0/"+m.ID+"?phone_number_id="+testPNID, testToken, nil, &e); code != 400 {
		t.Errorf("control media owned by number 2 retrieved through number 1: HTTP %d", code)
	}
	// Raw body.
	pdf := []byte("%PDF-1.4 tiny")
	code, m = h.controlMedia("?filename=doc.pdf", "application/pdf", pdf)
	sum := sha256.Sum256(pdf)
	if code != 200 || m.MimeType != "application/pdf" || m.Filename != "doc.pdf" || m.SHA256Base64 != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Errorf("raw: HTTP %d %+v", code, m)
	}
	meta := h.mediaMeta(m.ID, "?phone_number_id="+testPNID) // unowned: any number
	if code, hdr, got := h.rawDo("GET", meta.URL, testToken, "", nil); code != 200 || !bytes.Equal(got, pdf) || !strings.Contains(hdr.Get("Content-Disposition"), "doc.pdf") {
		t.Errorf("download raw control media: HTTP %d %q %q", code, got, hdr.Get("Content-Disposition"))
	}
	// Refusals.
	for _, tc := range []struct {
		query, ct string
		body      string
	}{
		{"", "", "data"},
		{"", "application/json", `{"size":10}`},
		{"", "application/json", `{"mime_type":"text/plain"}`},
		{"", "application/json", `{"mime_type":"text/plain","size":-1}`},
		{"", "application/json", `{"mime_type":"text/plain","size":1,"colour":"red"}`},
		{"?phone_number_id=42", "text/plain", "data"},
	} {
		if code, m := h.controlMedia(tc.query, tc.ct, []byte(tc.body)); code != 400 || m.Error == "" {
			t.Errorf("%s %s %s: HTTP %d %+v", tc.query, tc.ct, tc.body, code, m)
		}
	}
	// Reset forgets media.
	h.do("POST", "/sandbox/v1/reset", "", nil, nil)
	if code := h.do("GET", "/v24.0/"+m.ID, testToken, nil, &e); code != 400 {
		t.Errorf("media survived reset: HTTP %d", code)
	}
}

// TestGeneratedMediaServed generates 90 MiB server-side and streams it back.
func TestGeneratedMediaServed(t *testing.T) {
	h := start(t, nil)
	const size = 90 << 20
	m := h.generate("application/pdf", size, "big.pdf")
	if m.Size != size || m.MimeType != "application/pdf" || m.Filename != "big.pdf" {
		t.Errorf("generate: %+v", m)
	}
	// The documented derivation: byte i is byte((i*2654435761)>>13).
	want := sha256.New()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		for i := range buf {
			buf[i] = byte((off + int64(i)) * 2654435761 >> 13)
		}
		want.Write(buf)
	}
	if hex.EncodeToString(want.Sum(nil)) != m.SHA256 {
		t.Errorf("sha256 %s does not follow the documented derivation", m.SHA256)
	}
	meta := h.mediaMeta(m.ID, "")
	if string(meta.FileSize) != strconv.Itoa(size) || meta.SHA256 != m.SHA256 {
		t.Errorf("retrieve: %+v", meta)
	}
	req, _ := http.NewRequest("GET", meta.URL, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	if err != nil || resp.StatusCode != 200 || n != size || resp.ContentLength != size || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("download: HTTP %d, %d bytes (Content-Length %d), %v", resp.StatusCode, n, resp.ContentLength, err)
	}
	if hex.EncodeToString(got.Sum(nil)) != m.SHA256 {
		t.Error("downloaded bytes do not match the announced sha256")
	}
	// Same request, same bytes; a seed changes them.
	if again := h.generate("application/pdf", size, "big.pdf"); again.SHA256 != m.SHA256 || again.ID == m.ID {
		t.Errorf("generation is not deterministic: %+v vs %+v", again, m)
	}
	body, _ := json.Marshal(map[string]any{"mime_type": "application/pdf", "size": 1000, "seed": "other"})
	_, seeded := h.controlMedia("", "application/json", body)
	stream := make([]byte, 1000)
	_, _ = io.ReadFull(mrand.NewChaCha8(sha256.Sum256([]byte("other"))), stream)
	if seeded.SHA256 != hexSum(stream) || seeded.SHA256 == h.generate("application/pdf", 1000, "").SHA256 {
		t.Error("a seed does not give the documented ChaCha8 stream")
	}
}

func TestSettingsAtRunTime(t *testing.T) {
	h := start(t, nil)
	set := func(body string) (int, map[string]any) {
		code, _, raw := h.rawDo("POST", "/sandbox/v1/settings", "", "application/json", []byte(body))
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("settings answer %q", raw)
		}
		return code, out
	}
	if code, cur := set(""); code != 200 || cur["media_redirect_to"] != "" || cur["media_url_ttl"] != "5m0s" || cur["media_file_size_as_string"] != false {
		t.Errorf("defaults: HTTP %d %v", code, cur)
	}
	const target = "http://media.attacker.example/steal"
	if code, cur := set(`{"media_redirect_to":"` + target + `","media_file_size_as_string":true,"media_url_ttl":"1h"}`); code != 200 ||
		cur["media_redirect_to"] != target || cur["media_url_ttl"] != "1h0m0s" || cur["media_file_size_as_string"] != true {
		t.Errorf("set: HTTP %d %v", code, cur)
	}
	id := h.uploadOK("image/jpeg", []byte("jpeg"))
	m := h.mediaMeta(id, "")
	if code, hdr, _ := h.rawDo("GET", m.URL, testToken, "", nil); code != 302 || hdr.Get("Location") != target {
		t.Errorf("redirect setting: HTTP %d %q", code, hdr.Get("Location"))
	}
	if string(m.FileSize) != `"4"` {
		t.Errorf("file_size %s", m.FileSize)
	}
	for _, bad := range []string{`{"media_url_ttl":"soon"}`, `{"media_url_ttl":"-1s"}`, `{"media_redirect_to":"not a url"}`, `{"redirect":"x"}`, `[]`} {
		if code, out := set(bad); code != 400 || out["error"] == nil {
			t.Errorf("%s: HTTP %d %v", bad, code, out)
		}
	}
	// Reset returns to the Config values.
	h.do("POST", "/sandbox/v1/reset", "", nil, nil)
	if _, cur := set(`{}`); cur["media_redirect_to"] != "" || cur["media_file_size_as_string"] != false {
		t.Errorf("after reset: %v", cur)
	}
	id = h.uploadOK("image/jpeg", []byte("jpeg"))
	if code, _, got := h.rawDo("GET", h.mediaMeta(id, "").URL, testToken, "", nil); code != 200 || string(got) != "jpeg" {
		t.Errorf("download after reset: HTTP %d %q", code, got)
	}
}
