package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// rawValue returns the change value (generic JSON) of the received webhook
// carrying the message wamid.
func (rc *receiver) rawValue(wamid string) map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, b := range rc.bodies {
		var env struct {
			Entry []struct {
				Changes []struct {
					Value map[string]any `json:"value"`
				} `json:"changes"`
			} `json:"entry"`
		}
		if json.Unmarshal(b, &env) != nil {
			continue
		}
		for _, e := range env.Entry {
			for _, c := range e.Changes {
				msgs, _ := c.Value["messages"].([]any)
				for _, m := range msgs {
					if mm, _ := m.(map[string]any); mm != nil && mm["id"] == wamid {
						return c.Value
					}
				}
			}
		}
	}
	return nil
}

// inboundItem injects body and returns the webhook's value and messages[0].
func (h *harness) inboundItem(body map[string]any) (wamid string, value, item map[string]any) {
	h.t.Helper()
	wamid = h.inbound(body)
	waitFor(h.t, "inbound webhook "+wamid, func() bool { return h.rc.rawValue(wamid) != nil })
	value = h.rc.rawValue(wamid)
	item = value["messages"].([]any)[0].(map[string]any)
	return wamid, value, item
}

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad expected JSON %s: %v", s, err)
	}
	return m
}

func sameJSON(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("%s:\n got  %s\n want %s", what, g, w)
	}
}

const (
	custDigits = "4915112345678"
	bizDigits  = "15550100001"
)

func TestInboundWebhookShapes(t *testing.T) {
	h := start(t, nil)
	out := h.send(template(customer, "hello_world", "en_US"))
	_, jpeg := h.controlMedia("", "image/jpeg", []byte("jpeg-bytes"))
	referral := `{"source_url":"https://fb.me/3cr4Wqqkv","source_id":"120226305854810726","source_type":"ad","body":"Summer succulents are here!","headline":"Chat with us","media_type":"image","image_url":"https://scontent.xx.fbcdn.net/v/t45.1","ctwa_clid":"Aff-n8ZT","welcome_message":{"text":"Hi there!"}}`

	for _, tc := range []struct {
		name string
		req  string // request JSON without "from"
		want string // messages[0] without from, id, timestamp; media id/url checked separately
	}{
		{"text", `{"text":"hello"}`, `{"type":"text","text":{"body":"hello"}}`},
		{"text reply", `{"text":"yes","context":"` + out + `"}`,
			`{"type":"text","text":{"body":"yes"},"context":{"from":"` + bizDigits + `","id":"` + out + `"}}`},
		{"text forwarded", `{"text":"fw","forwarded":true}`, `{"type":"text","text":{"body":"fw"},"context":{"forwarded":true}}`},
		{"text frequently forwarded", `{"text":"ffw","frequently_forwarded":true}`,
			`{"type":"text","text":{"body":"ffw"},"context":{"frequently_forwarded":true}}`},
		{"text from an ad", `{"text":"from ad","referral":` + referral + `}`, `{"type":"text","text":{"body":"from ad"},"referral":` + referral + `}`},
		{"image by media_id", `{"type":"image","media_id":"` + jpeg.ID + `","caption":"look"}`,
			`{"type":"image","image":{"caption":"look","mime_type":"image/jpeg","sha256":"` + jpeg.SHA256Base64 + `","id":"` + jpeg.ID + `"}}`},
		{"video generated", `{"type":"video","media":{"mime_type":"video/mp4","size":2048}}`,
			`{"type":"video","video":{"mime_type":"video/mp4"}}`},
		{"voice note", `{"type":"audio","voice":true}`, `{"type":"audio","audio":{"mime_type":"audio/ogg; codecs=opus","voice":true}}`},
		{"audio file", `{"type":"audio","media":{"mime_type":"audio/mpeg"}}`, `{"type":"audio","audio":{"mime_type":"audio/mpeg","voice":false}}`},
		{"document", `{"type":"document","filename":"invoice.pdf","caption":"March"}`,
			`{"type":"document","document":{"caption":"March","filename":"invoice.pdf","mime_type":"application/pdf"}}`},
		{"animated sticker", `{"type":"sticker","animated":true}`, `{"type":"sticker","sticker":{"mime_type":"image/webp","animated":true}}`},
		{"static sticker", `{"type":"sticker"}`, `{"type":"sticker","sticker":{"mime_type":"image/webp","animated":false}}`},
		{"location", `{"type":"location","latitude":37.44221496582,"longitude":-122.16165924072,"location_name":"Philz Coffee","address":"101 Forest Ave, Palo Alto, CA 94301","location_url":"https://philzcoffee.com"}`,
			`{"type":"location","location":{"address":"101 Forest Ave, Palo Alto, CA 94301","latitude":37.44221496582,"longitude":-122.16165924072,"name":"Philz Coffee","url":"https://philzcoffee.com"}}`},
		{"location pin", `{"type":"location","latitude":0,"longitude":0}`, `{"type":"location","location":{"latitude":0,"longitude":0}}`},
		{"contacts", `{"type":"contacts","contacts":[{"name":{"formatted_name":"Barbara J. Johnson","first_name":"Barbara"},"phones":[{"phone":"+1 (940) 555-1234","wa_id":"19405551234","type":"HOME"}],"org":{"company":"Lucky Shrub"}}]}`,
			`{"type":"contacts","contacts":[{"name":{"formatted_name":"Barbara J. Johnson","first_name":"Barbara"},"phones":[{"phone":"+1 (940) 555-1234","wa_id":"19405551234","type":"HOME"}],"org":{"company":"Lucky Shrub"}}]}`},
		{"quick-reply button", `{"type":"button","button_text":"Yes","payload":"CONFIRM","context":"` + out + `"}`,
			`{"type":"button","button":{"payload":"CONFIRM","text":"Yes"},"context":{"from":"` + bizDigits + `","id":"` + out + `"}}`},
		{"button, default context and payload", `{"type":"button","button_text":"No"}`,
			`{"type":"button","button":{"payload":"No","text":"No"},"context":{"from":"` + bizDigits + `","id":"` + out + `"}}`},
		{"button reply", `{"type":"interactive","reply":{"id":"cancel-button","title":"Cancel"},"context":"` + out + `"}`,
			`{"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"cancel-button","title":"Cancel"}},"context":{"from":"` + bizDigits + `","id":"` + out + `"}}`},
		{"list reply", `{"type":"interactive","reply":{"type":"list_reply","id":"priority-express","title":"Express","description":"Next day"}}`,
			`{"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"priority-express","title":"Express","description":"Next day"}},"context":{"from":"` + bizDigits + `","id":"` + out + `"}}`},
		{"reaction", `{"type":"reaction","reaction_to":"` + out + `","emoji":"👍"}`,
			`{"type":"reaction","reaction":{"message_id":"` + out + `","emoji":"👍"}}`},
		{"reaction removed", `{"type":"reaction"}`, `{"type":"reaction","reaction":{"message_id":"` + out + `"}}`},
		{"system number change", `{"type":"system","name":"Jo","system":{"wa_id":"+49 151 99990000"}}`,
			`{"type":"system","system":{"body":"User Jo changed from ` + custDigits + ` to 4915199990000","wa_id":"4915199990000","type":"user_changed_number"}}`},
		{"system user id change", `{"type":"system","system":{"type":"user_changed_user_id","body":"User changed","user_id":"US.13491208655302741918"}}`,
			`{"type":"system","system":{"type":"user_changed_user_id","body":"User changed","user_id":"US.13491208655302741918"}}`},
		{"unsupported", `{"type":"unsupported","unsupported_type":"poll_update"}`,
			`{"type":"unsupported","errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}],"unsupported":{"type":"poll_update"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := mustJSON(t, tc.req)
			req["from"] = customer
			wamid, value, item := h.inboundItem(req)
			if item["from"] != custDigits || item["id"] != wamid {
				t.Errorf("from/id %v %v", item["from"], item["id"])
			}
			if _, err := strconv.ParseInt(item["timestamp"].(string), 10, 64); err != nil {
				t.Errorf("timestamp %v", item["timestamp"])
			}
			delete(item, "from")
			delete(item, "id")
			delete(item, "timestamp")
			typ := item["type"].(string)
			if obj, ok := item[typ].(map[string]any); ok && obj["sha256"] != nil {
				checkInboundMedia(t, h, obj)
				if strings.Contains(tc.want, `"sha256"`) { // fixed expectation for a given media_id
					delete(obj, "url")
				} else {
					for _, k := range []string{"sha256", "id", "url"} {
						delete(obj, k)
					}
				}
			}
			sameJSON(t, tc.name, item, mustJSON(t, tc.want))

			md, _ := value["metadata"].(map[string]any)
			if value["messaging_product"] != "whatsapp" || md["display_phone_number"] != bizDigits || md["phone_number_id"] != testPNID {
				t.Errorf("value %v", value)
			}
			contacts, hasContacts := value["contacts"]
			switch {
			case typ == "system" && hasContacts:
				t.Errorf("system message with contacts %v", contacts)
			case typ != "system":
				name := "Sandbox Customer"
				if n, ok := req["name"].(string); ok {
					name = n
				}
				sameJSON(t, "contacts", map[string]any{"c": contacts}, map[string]any{"c": []any{map[string]any{"profile": map[string]any{"name": name}, "wa_id": custDigits}}})
			}
		})
	}
}

// checkInboundMedia verifies that an inbound media object is downloadable
// through its url and through GET /{id}, with the announced (base64) sha256.
func checkInboundMedia(t *testing.T, h *harness, obj map[string]any) {
	t.Helper()
	id, _ := obj["id"].(string)
	u, _ := obj["url"].(string)
	if !strings.HasPrefix(u, h.url+mediaPathPrefix+id+"?") {
		t.Errorf("media url %q", u)
	}
	code, hdr, data := h.rawDo("GET", u, testToken, "", nil)
	sum := sha256.Sum256(data)
	if code != 200 || base64.StdEncoding.EncodeToString(sum[:]) != obj["sha256"] || hdr.Get("Content-Type") != obj["mime_type"] {
		t.Errorf("download %s: HTTP %d, %d bytes, Content-Type %q, sha256 %v", u, code, len(data), hdr.Get("Content-Type"), obj["sha256"])
	}
	if m := h.mediaMeta(id, "?phone_number_id="+testPNID); m.MimeType != obj["mime_type"] {
		t.Errorf("retrieve %s: %+v", id, m)
	}
}

func TestInboundMediaSizeAndRecord(t *testing.T) {
	h := start(t, nil)
	wamid, _, item := h.inboundItem(map[string]any{"from": customer, "type": "document", "to": testPNID2,
		"media": map[string]any{"mime_type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "size": 3 << 20, "filename": "sheet.xlsx"}})
	doc := item["document"].(map[string]any)
	if doc["filename"] != "sheet.xlsx" {
		t.Errorf("document filename %v", doc["filename"])
	}
	m := h.mediaMeta(doc["id"].(string), "?phone_number_id="+testPNID2)
	if string(m.FileSize) != strconv.Itoa(3<<20) {
		t.Errorf("size %s", m.FileSize)
	}
	r := h.record(wamid)
	if r.Type != "document" || r.Media == nil || r.Media.ID != doc["id"] || r.Media.Size != 3<<20 || r.Media.Filename != "sheet.xlsx" || r.Media.SHA256 != m.SHA256 {
		t.Errorf("record %+v media %+v", r, r.Media)
	}
	// A Graph upload can come back as inbound media by id.
	id := h.uploadOK("image/png", []byte("png"))
	_, _, item = h.inboundItem(map[string]any{"from": customer, "type": "image", "media_id": id})
	if img := item["image"].(map[string]any); img["id"] != id {
		t.Errorf("image id %v, want %s", img["id"], id)
	}
}

func TestInboundRawMessageAndWindows(t *testing.T) {
	h := start(t, nil)
	window := func(c string) bool {
		var w struct {
			Open bool `json:"open"`
		}
		h.do("GET", "/sandbox/v1/windows?customer="+url.QueryEscape(c), "", nil, &w)
		return w.Open
	}
	// A system message does not open the window, an unsupported one does.
	h.inbound(map[string]any{"from": "+4917600000001", "type": "system", "system": map[string]any{"wa_id": "4917600000002"}})
	if window("+4917600000001") {
		t.Error("system message opened the window")
	}
	h.inbound(map[string]any{"from": "+4917600000003", "type": "unsupported"})
	if !window("+4917600000003") {
		t.Error("unsupported message did not open the window")
	}

	raw := `{"from":"4917600000004","id":"wamid.RAW-ORDER-1","timestamp":"1739321024","type":"order","order":{"catalog_id":"1","product_items":[{"product_retailer_id":"sku","quantity":1,"item_price":9.5,"currency":"EUR"}]}}`
	wamid, value, item := h.inboundItem(map[string]any{"from": "+4917600000004", "raw_message": json.RawMessage(raw)})
	if wamid != "wamid.RAW-ORDER-1" {
		t.Errorf("wamid %s", wamid)
	}
	sameJSON(t, "raw message", item, mustJSON(t, raw))
	if value["contacts"] == nil || !window("+4917600000004") {
		t.Errorf("raw message: contacts %v, window %v", value["contacts"], window("+4917600000004"))
	}
	if r := h.record(wamid); r.Type != "order" || r.Status != "received" {
		t.Errorf("raw record %+v", r)
	}
	// Mark-read works on it like on any inbound message.
	var ok map[string]any
	if code := h.do("POST", "/v24.0/"+testPNID+"/messages", testToken, map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": wamid}, &ok); code != 200 {
		t.Errorf("mark read raw: HTTP %d", code)
	}

	for _, bad := range []map[string]any{
		{"from": customer, "type": "image", "media_id": "1234"},
		{"from": customer, "type": "image", "media_id": "1234", "media": map[string]any{"size": 1}},
		{"from": customer, "type": "audio", "caption": "no"},
		{"from": customer, "type": "image", "voice": true},
		{"from": customer, "type": "image", "media": map[string]any{"size": -1}},
		{"from": customer, "type": "location", "latitude": 1},
		{"from": customer, "type": "location", "latitude": 100, "longitude": 1},
		{"from": customer, "type": "contacts", "contacts": []any{}},
		{"from": customer, "type": "button", "button_text": "x"}, // no context, nothing sent yet
		{"from": customer, "type": "button", "context": "wamid.x"},
		{"from": customer, "type": "interactive", "context": "wamid.x", "reply": map[string]any{"id": "a"}},
		{"from": customer, "type": "interactive", "context": "wamid.x", "reply": map[string]any{"type": "nfm", "id": "a", "title": "b"}},
		{"from": customer, "type": "interactive", "context": "wamid.x", "reply": map[string]any{"id": "a", "title": "b", "description": "c"}},
		{"from": customer, "type": "reaction", "emoji": "👍"}, // nothing sent yet
		{"from": customer, "type": "system", "system": map[string]any{"body": "no wa_id"}},
		{"from": customer, "type": "text", "text": "x", "referral": "not an object"},
		{"from": customer, "raw_message": []any{1}},
		{"from": customer, "raw_message": map[string]any{"id": "wamid.x"}},
		{"from": customer, "text": "x", "txet": "typo"},
	} {
		var e struct {
			Error string `json:"error"`
		}
		if code := h.do("POST", "/sandbox/v1/inbound", "", bad, &e); code != 400 || e.Error == "" {
			t.Errorf("inbound %v: HTTP %d %+v", bad, code, e)
		}
	}
}
