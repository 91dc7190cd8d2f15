package test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// patterned is a reader of n deterministic bytes (no n-sized buffer).
type patterned struct{ n, off int64 }

func (p *patterned) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 2654435761 >> 13)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func patternSHA(n int64) string {
	h := sha256.New()
	io.Copy(h, &patterned{n: n})
	return hex.EncodeToString(h.Sum(nil))
}

type uploaded struct {
	ID       string `json:"id"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	MIMEType string `json:"mime_type"`
	Filename string `json:"filename"`
}

// upload posts n bytes as a file to the daemon's REST API.
func (d *daemon) upload(mime, filename string, n int64) (uploaded, int) {
	d.t.Helper()
	req, _ := http.NewRequest("POST", d.base+"/api/v1/media?filename="+filename, &patterned{n: n})
	req.ContentLength = n
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Content-Type", mime)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var u uploaded
	json.NewDecoder(resp.Body).Decode(&u)
	return u, resp.StatusCode
}

type mediaMessage struct {
	apiMessage
	Type  string `json:"type"`
	Media *struct {
		MIMEType string `json:"mime_type"`
		Size     int64  `json:"size"`
		SHA256   string `json:"sha256"`
		Caption  string `json:"caption"`
		Filename string `json:"filename"`
		Voice    bool   `json:"voice"`
		State    string `json:"state"`
		Error    string `json:"error"`
		Download string `json:"download"`
	} `json:"media"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
	} `json:"location"`
	Contacts json.RawMessage `json:"contacts"`
	Reply    *struct {
		Type, ID, Title string
	} `json:"reply"`
	Button *struct {
		Text, Payload string
	} `json:"button"`
	Reaction *struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction"`
	Context *struct {
		WAMID string `json:"wamid"`
	} `json:"context"`
	Text string `json:"text"`
}

func (d *daemon) mediaMessage(id string) mediaMessage {
	d.t.Helper()
	var m mediaMessage
	if code := do(d.t, "GET", d.base+"/api/v1/messages/"+id, apiToken, nil, &m); code != 200 {
		d.t.Fatalf("message %s: %d", id, code)
	}
	return m
}

// sentRequest returns the JSON body the sandbox received for our message id.
func sentRequest(t *testing.T, d *daemon, id string) map[string]any {
	t.Helper()
	got := sandboxMessages(t, d.sandbox, "?callback="+id)
	if len(got) != 1 {
		t.Fatalf("sandbox got %d messages for %s", len(got), id)
	}
	var body map[string]any
	if err := json.Unmarshal(got[0].Request, &body); err != nil {
		t.Fatal(err)
	}
	return body
}

// Every outbound type goes through the daemon to the sandbox in Meta's
// shape, including a 5 MiB image and a 90 MiB document uploaded through
// the REST API (the daemon uploads them to the provider first).
func TestOutboundEveryType(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	inWAMID := d.inject(customer, "Hi, can you send the invoice?")

	img, code := d.upload("image/png", "receipt.png", 5<<20)
	if code != 201 || img.Size != 5<<20 || img.SHA256 != patternSHA(5<<20) || img.MIMEType != "image/png" {
		t.Fatalf("upload image: %d %+v", code, img)
	}
	doc, code := d.upload("application/pdf", "invoice.pdf", 90<<20)
	if code != 201 || doc.Size != 90<<20 || doc.Filename != "invoice.pdf" {
		t.Fatalf("upload document: %d %+v", code, doc)
	}

	cases := []struct {
		name  string
		body  map[string]any
		check func(req map[string]any) string
	}{
		{"image 5 MiB", map[string]any{"to": customer, "media": map[string]any{"type": "image", "file_id": img.ID, "caption": "Your receipt"}},
			func(r map[string]any) string {
				o, _ := r["image"].(map[string]any)
				if r["type"] != "image" || o["id"] == nil || o["caption"] != "Your receipt" {
					return fmt.Sprint(r)
				}
				return ""
			}},
		{"document 90 MiB", map[string]any{"to": customer, "media": map[string]any{"type": "document", "file_id": doc.ID, "caption": "Invoice 12345"}},
			func(r map[string]any) string {
				o, _ := r["document"].(map[string]any)
				if r["type"] != "document" || o["id"] == nil || o["filename"] != "invoice.pdf" {
					return fmt.Sprint(r)
				}
				return ""
			}},
		{"video link", map[string]any{"to": customer, "media": map[string]any{"type": "video", "url": "https://cdn.example.com/clip.mp4", "caption": "How to"}},
			func(r map[string]any) string {
				o, _ := r["video"].(map[string]any)
				if o["link"] != "https://cdn.example.com/clip.mp4" {
					return fmt.Sprint(r)
				}
				return ""
			}},
		{"audio link", map[string]any{"to": customer, "media": map[string]any{"type": "audio", "url": "https://cdn.example.com/a.ogg"}}, nil},
		{"sticker link", map[string]any{"to": customer, "media": map[string]any{"type": "sticker", "url": "https://cdn.example.com/s.webp"}}, nil},
		{"location", map[string]any{"to": customer, "location": map[string]any{"latitude": 52.5200, "longitude": 13.4050, "name": "Shop", "address": "Unter den Linden 1, Berlin"}},
			func(r map[string]any) string {
				o, _ := r["location"].(map[string]any)
				// Meta's reference types the coordinates as strings; accept either.
				if fmt.Sprint(o["latitude"]) != "52.52" || o["name"] != "Shop" {
					return fmt.Sprint(r)
				}
				return ""
			}},
		{"contacts", map[string]any{"to": customer, "contacts": []any{map[string]any{"name": map[string]any{"formatted_name": "Support Desk", "first_name": "Support"},
			"phones": []any{map[string]any{"phone": "+15550100001", "type": "WORK"}}}}}, nil},
		{"reply buttons", map[string]any{"to": customer, "interactive": map[string]any{"type": "button", "body": map[string]any{"text": "Was this helpful?"},
			"action": map[string]any{"buttons": []any{map[string]any{"type": "reply", "reply": map[string]any{"id": "yes", "title": "Yes"}},
				map[string]any{"type": "reply", "reply": map[string]any{"id": "no", "title": "No"}}}}}}, nil},
		{"list", map[string]any{"to": customer, "interactive": map[string]any{"type": "list", "body": map[string]any{"text": "Pick a slot"},
			"action": map[string]any{"button": "Slots", "sections": []any{map[string]any{"title": "Monday", "rows": []any{
				map[string]any{"id": "mon-9", "title": "09:00", "description": "Morning"}}}}}}}, nil},
		{"cta_url", map[string]any{"to": customer, "interactive": map[string]any{"type": "cta_url", "body": map[string]any{"text": "Track your parcel"},
			"action": map[string]any{"name": "cta_url", "parameters": map[string]any{"display_text": "Track", "url": "https://example.com/t/1"}}}}, nil},
		{"reaction", map[string]any{"to": customer, "reaction": map[string]any{"message_id": inWAMID, "emoji": "👍"}},
			func(r map[string]any) string {
				o, _ := r["reaction"].(map[string]any)
				if o["message_id"] != inWAMID || o["emoji"] != "👍" {
					return fmt.Sprint(r)
				}
				return ""
			}},
		{"text reply", map[string]any{"to": customer, "text": "Here it is", "reply_to": inWAMID},
			func(r map[string]any) string {
				o, _ := r["context"].(map[string]any)
				if o["message_id"] != inWAMID {
					return fmt.Sprint(r)
				}
				return ""
			}},
	}
	for _, c := range cases {
		id := d.send(c.body)
		want := "read"
		if c.name == "reaction" {
			want = "sent" // reactions only ever get "sent" (Meta documents this)
		}
		m := d.waitStatus(id, want)
		if m.Error != nil {
			t.Errorf("%s: error %+v", c.name, m.Error)
		}
		req := sentRequest(t, d, id)
		if req["biz_opaque_callback_data"] != id {
			t.Errorf("%s: no callback data", c.name)
		}
		if c.check != nil {
			if bad := c.check(req); bad != "" {
				t.Errorf("%s: sandbox received %s", c.name, bad)
			}
		}
	}
}

// Every limit is refused before anything is sent, with a clear reason.
func TestOutboundMediaRefusals(t *testing.T) {
	cfg := testConfig(t)
	d := startDaemon(t, cfg)
	d.inject(customer, "hi")
	big, code := d.upload("image/png", "big.png", 5<<20+1)
	if code != 201 {
		t.Fatalf("upload: %d", code)
	}
	webp, _ := d.upload("image/webp", "s.webp", 200<<10)
	video, _ := d.upload("video/mp4", "v.mp4", 16<<20+1)
	if _, code := d.upload("text/html", "x.html", 10); code != 415 {
		t.Errorf("HTML upload: %d, want 415", code)
	}
	if _, code := d.upload("application/pdf", "huge.pdf", 100<<20+1); code != 413 {
		t.Errorf("over 100 MiB upload: %d, want 413", code)
	}
	cases := []struct {
		name   string
		media  map[string]any
		code   int
		reason string
	}{
		{"image over 5 MiB", map[string]any{"type": "image", "file_id": big.ID}, 413, "media_too_large"},
		{"png as video", map[string]any{"type": "video", "file_id": big.ID}, 415, "media_type_unsupported"},
		{"static sticker over 100 KiB", map[string]any{"type": "sticker", "file_id": webp.ID}, 413, "media_too_large"},
		{"video over 16 MiB", map[string]any{"type": "video", "file_id": video.ID}, 413, "media_too_large"},
		{"mp4 as audio", map[string]any{"type": "audio", "file_id": video.ID}, 415, "media_type_unsupported"},
		{"caption over 1024", map[string]any{"type": "image", "url": "https://x.example/a.png", "caption": strings.Repeat("c", 1025)}, 400, "invalid"},
		{"caption on audio", map[string]any{"type": "audio", "url": "https://x.example/a.ogg", "caption": "x"}, 400, "invalid"},
		{"unknown media type", map[string]any{"type": "gif", "url": "https://x.example/a.gif"}, 400, "invalid"},
		{"no source", map[string]any{"type": "image"}, 400, "invalid"},
	}
	for _, c := range cases {
		var e apiError
		code := do(t, "POST", d.base+"/api/v1/messages", apiToken, map[string]any{"to": customer, "media": c.media}, &e)
		if code != c.code || e.Error.Reason != c.reason {
			t.Errorf("%s: %d %+v, want %d %s", c.name, code, e.Error, c.code, c.reason)
		}
	}
	// An animated sticker may be up to 500 KiB.
	id := d.send(map[string]any{"to": customer, "media": map[string]any{"type": "sticker", "file_id": webp.ID, "animated": true}})
	d.waitStatus(id, "read")
	if n := len(sandboxMessages(t, d.sandbox, "")); n != 1 {
		t.Errorf("refused messages reached WhatsApp: %d sends", n)
	}
}

// sandboxMedia uploads generated bytes to the sandbox (as a customer's
// phone would have) and returns the media id.
func sandboxMedia(t *testing.T, d *daemon, mime, filename string, size int64) (id, sha string) {
	t.Helper()
	var out struct {
		ID     string `json:"id"`
		SHA256 string `json:"sha256"`
	}
	if code := do(t, "POST", d.sandbox+"/sandbox/v1/media", "", map[string]any{"mime_type": mime, "size": size, "filename": filename}, &out); code != 200 && code != 201 {
		t.Fatalf("sandbox media: %d", code)
	}
	return out.ID, out.SHA256
}

// injectRaw makes the customer send any inbound type through the sandbox.
func (d *daemon) injectType(body map[string]any) string {
	d.t.Helper()
	body["from"] = customer
	var out struct{ WAMID string }
	if code := do(d.t, "POST", d.sandbox+"/sandbox/v1/inbound", "", body, &out); code != 200 {
		d.t.Fatalf("inject %v: HTTP %d", body["type"], code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if do(d.t, "GET", d.base+"/api/v1/messages/"+out.WAMID, apiToken, nil, nil) == 200 {
			return out.WAMID
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("inbound %s never stored", out.WAMID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitMedia polls until the inbound message's media is stored or failed.
func (d *daemon) waitMedia(id string) mediaMessage {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := d.mediaMessage(id)
		if m.Media != nil && (m.Media.State == "stored" || m.Media.State == "failed") {
			return m
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("media of %s never settled: %+v", id, m.Media)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func download(t *testing.T, d *daemon, id string) (string, string, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", d.base+"/api/v1/messages/"+id+"/media", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	io.Copy(h, resp.Body)
	return hex.EncodeToString(h.Sum(nil)), resp.Header.Get("Content-Type"), resp.StatusCode
}

// Every inbound type arrives parsed; media is downloaded after the webhook
// is acknowledged, checked against Meta's sha256 and served by the API.
func TestInboundEveryType(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	imgID, _ := sandboxMedia(t, d, "image/jpeg", "photo.jpg", 5<<20)
	docID, _ := sandboxMedia(t, d, "application/pdf", "contract.pdf", 90<<20)
	voiceID, _ := sandboxMedia(t, d, "audio/ogg", "", 40<<10)
	stickerID, _ := sandboxMedia(t, d, "image/webp", "", 30<<10)
	videoID, _ := sandboxMedia(t, d, "video/mp4", "", 1<<20)

	sent := d.send(map[string]any{"to": customer, "template": map[string]any{"name": "hello_world", "language": "en_US"}})
	sentWAMID := d.waitStatus(sent, "read").WAMID

	media := []struct {
		typ, mediaID, mime string
		size               int64
		extra              map[string]any
	}{
		{"image", imgID, "image/jpeg", 5 << 20, map[string]any{"caption": "the damage"}},
		{"document", docID, "application/pdf", 90 << 20, map[string]any{"caption": "signed", "filename": "contract.pdf"}},
		{"audio", voiceID, "audio/ogg", 40 << 10, map[string]any{"voice": true}},
		{"sticker", stickerID, "image/webp", 30 << 10, nil},
		{"video", videoID, "video/mp4", 1 << 20, map[string]any{"caption": "clip"}},
	}
	for _, c := range media {
		body := map[string]any{"type": c.typ, "media_id": c.mediaID}
		for k, v := range c.extra {
			body[k] = v
		}
		wamid := d.injectType(body)
		m := d.waitMedia(wamid)
		if m.Type != c.typ || m.Media.State != "stored" || m.Media.Size != c.size || m.Media.MIMEType != c.mime {
			t.Errorf("%s: %+v", c.typ, m.Media)
			continue
		}
		if cap, ok := c.extra["caption"]; ok && m.Media.Caption != cap {
			t.Errorf("%s: caption %q", c.typ, m.Media.Caption)
		}
		if c.typ == "document" && m.Media.Filename != "contract.pdf" {
			t.Errorf("document name %q", m.Media.Filename)
		}
		if c.typ == "audio" && !m.Media.Voice {
			t.Error("voice flag lost")
		}
		sha, ctype, code := download(t, d, wamid)
		if code != 200 || sha != patternSHA(c.size) || ctype != c.mime || m.Media.SHA256 != sha {
			t.Errorf("%s download: %d %s %s", c.typ, code, ctype, sha)
		}
	}

	others := []struct {
		body  map[string]any
		check func(m mediaMessage) bool
	}{
		{map[string]any{"type": "location", "latitude": 52.52, "longitude": 13.405, "location_name": "Home", "address": "Berlin"},
			func(m mediaMessage) bool {
				return m.Type == "location" && m.Location != nil && m.Location.Name == "Home"
			}},
		{map[string]any{"type": "contacts", "contacts": []any{map[string]any{"name": map[string]any{"formatted_name": "Anna Muster", "first_name": "Anna"},
			"phones": []any{map[string]any{"phone": "+49 151 1234 5678", "wa_id": "4915112345678", "type": "CELL"}}}}},
			func(m mediaMessage) bool {
				return m.Type == "contacts" && strings.Contains(string(m.Contacts), "Anna Muster")
			}},
		{map[string]any{"type": "button", "payload": "STOP_PROMOS", "button_text": "Stop promotions", "context": sentWAMID},
			func(m mediaMessage) bool {
				return m.Type == "button" && m.Button != nil && m.Button.Payload == "STOP_PROMOS" && m.Context != nil && m.Context.WAMID == sentWAMID
			}},
		{map[string]any{"type": "interactive", "reply": map[string]any{"type": "button_reply", "id": "yes", "title": "Yes"}, "context": sentWAMID},
			func(m mediaMessage) bool { return m.Type == "interactive" && m.Reply != nil && m.Reply.ID == "yes" }},
		{map[string]any{"type": "interactive", "reply": map[string]any{"type": "list_reply", "id": "mon-9", "title": "09:00", "description": "Morning"}},
			func(m mediaMessage) bool {
				return m.Reply != nil && m.Reply.Type == "list_reply" && m.Reply.Title == "09:00"
			}},
		{map[string]any{"type": "reaction", "reaction_to": sentWAMID, "emoji": "❤️"},
			func(m mediaMessage) bool {
				return m.Type == "reaction" && m.Reaction != nil && m.Reaction.MessageID == sentWAMID && m.Reaction.Emoji == "❤️"
			}},
		{map[string]any{"type": "reaction", "reaction_to": sentWAMID},
			func(m mediaMessage) bool { return m.Type == "reaction" && m.Reaction != nil && m.Reaction.Emoji == "" }},
		{map[string]any{"type": "text", "text": "see above", "context": sentWAMID, "forwarded": true},
			func(m mediaMessage) bool { return m.Type == "text" && m.Context != nil && m.Context.WAMID == sentWAMID }},
		{map[string]any{"type": "unsupported"},
			func(m mediaMessage) bool { return m.Type == "unsupported" }},
	}
	for _, c := range others {
		wamid := d.injectType(c.body)
		if m := d.mediaMessage(wamid); !c.check(m) {
			t.Errorf("%v: stored as %+v", c.body["type"], m)
		}
	}

	// A type wabridge does not model (Meta's "order") is kept raw and counted.
	wamid := d.injectType(map[string]any{"type": "order", "raw_message": map[string]any{
		"from": strings.TrimPrefix(customer, "+"), "id": "wamid.order.1", "timestamp": fmt.Sprint(time.Now().Unix()), "type": "order",
		"order": map[string]any{"catalog_id": "123", "product_items": []any{map[string]any{"product_retailer_id": "sku-1", "quantity": "2", "item_price": "9.99", "currency": "EUR"}}}}})
	if m := d.mediaMessage(wamid); m.Type != "unknown" {
		t.Errorf("order stored as %q", m.Type)
	}
	resp, err := http.Get(d.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`wabridge_inbound_messages_total{type="unknown"} 1`, `wabridge_inbound_messages_total{type="document"} 1`,
		`wabridge_media_fetches_total{result="ok"} 5`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// Media is fetched only from the configured hosts: a redirect from the
// media URL to any other host is refused, and the failure is visible.
func TestInboundMediaRedirectRefused(t *testing.T) {
	d := startDaemon(t, testConfig(t))
	if code := do(t, "POST", d.sandbox+"/sandbox/v1/settings", "", map[string]any{"media_redirect_to": "http://media.attacker.example/steal"}, nil); code != 200 {
		t.Fatalf("sandbox settings: %d", code)
	}
	id, _ := sandboxMedia(t, d, "image/jpeg", "", 1000)
	wamid := d.injectType(map[string]any{"type": "image", "media_id": id})
	m := d.waitMedia(wamid)
	if m.Media.State != "failed" || !strings.Contains(m.Media.Error, "media.attacker.example") {
		t.Errorf("media %+v", m.Media)
	}
	if _, _, code := download(t, d, wamid); code != 410 {
		t.Errorf("download of failed media: %d, want 410", code)
	}
}
