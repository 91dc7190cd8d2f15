package sandbox

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func msg(typ string, obj any) map[string]any {
	return map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": customer, "type": typ, typ: obj}
}

// fullRecord fetches the control-API record of wamid with the fields added for every type.
type fullRecord struct {
	Type        string          `json:"type"`
	Text        string          `json:"text"`
	Status      string          `json:"status"`
	ErrorCode   int             `json:"error_code"`
	Media       *mediaInfo      `json:"media"`
	Location    *locationInfo   `json:"location"`
	Contacts    json.RawMessage `json:"contacts"`
	Interactive json.RawMessage `json:"interactive"`
	Button      *buttonInfo     `json:"button"`
	Reaction    *reactionInfo   `json:"reaction"`
	System      json.RawMessage `json:"system"`
	ContextID   string          `json:"context_message_id"`
	Request     json.RawMessage `json:"request"`
}

func (h *harness) record(wamid string) fullRecord {
	h.t.Helper()
	var r struct {
		Messages []fullRecord `json:"messages"`
	}
	h.do("GET", "/sandbox/v1/messages?direction=all&wamid="+wamid, "", nil, &r)
	if len(r.Messages) != 1 {
		h.t.Fatalf("record %s: %d records", wamid, len(r.Messages))
	}
	return r.Messages[0]
}

// finalStatus waits for the last status of a send under an open window.
func (h *harness) finalStatus(wamid string, n int) hookStatus {
	h.t.Helper()
	got := h.rc.waitStatuses(h.t, wamid, n)
	return got[len(got)-1]
}

func TestSendMediaTypes(t *testing.T) {
	h := start(t, func(c *Config) { c.NoAutoRead = true })
	h.inbound(map[string]any{"from": customer, "text": "hi"}) // open the window

	jpeg := h.uploadOK("image/jpeg", []byte("jpeg-bytes"))
	ogg := h.uploadOK("audio/ogg", []byte("ogg-bytes"))
	pdf := h.generate("application/pdf", 90<<20, "big.pdf")
	webp := h.generate("image/webp", 90<<10, "s.webp")
	mp4 := h.generate("video/mp4", 1<<20, "")

	// Accepted sends: sent + delivered, media recorded.
	for _, tc := range []struct {
		typ  string
		obj  map[string]any
		want mediaInfo
		text string
	}{
		{"image", map[string]any{"id": jpeg, "caption": "look"}, mediaInfo{ID: jpeg, MimeType: "image/jpeg", Size: 10, SHA256: hexSum([]byte("jpeg-bytes")), Filename: "f", Caption: "look"}, "look"},
		{"image", map[string]any{"link": "https://example.com/a.png?x=1"}, mediaInfo{Link: "https://example.com/a.png?x=1"}, ""},
		{"audio", map[string]any{"id": ogg}, mediaInfo{ID: ogg, MimeType: "audio/ogg", Size: 9, SHA256: hexSum([]byte("ogg-bytes")), Filename: "f"}, ""},
		{"document", map[string]any{"id": pdf.ID, "filename": "report.pdf", "caption": "Q3"}, mediaInfo{ID: pdf.ID, MimeType: "application/pdf", Size: 90 << 20, SHA256: pdf.SHA256, Filename: "report.pdf", Caption: "Q3"}, "Q3"},
		{"document", map[string]any{"link": "http://example.com/d.pdf", "filename": "d.pdf"}, mediaInfo{Link: "http://example.com/d.pdf", Filename: "d.pdf"}, ""},
		{"sticker", map[string]any{"id": webp.ID}, mediaInfo{ID: webp.ID, MimeType: "image/webp", Size: 90 << 10, SHA256: webp.SHA256, Filename: "s.webp"}, ""},
		{"video", map[string]any{"id": mp4.ID, "caption": strings.Repeat("é", 1024)}, mediaInfo{ID: mp4.ID, MimeType: "video/mp4", Size: 1 << 20, SHA256: mp4.SHA256, Caption: strings.Repeat("é", 1024)}, strings.Repeat("é", 1024)},
	} {
		wamid := h.send(msg(tc.typ, tc.obj))
		if st := h.finalStatus(wamid, 2); st.Status != "delivered" {
			t.Errorf("%s %v: final status %+v", tc.typ, tc.obj, st)
		}
		rec := h.record(wamid)
		if rec.Type != tc.typ || rec.Media == nil || *rec.Media != tc.want || rec.Text != tc.text {
			t.Errorf("%s: record media %+v text %.10q, want %+v", tc.typ, rec.Media, rec.Text, tc.want)
		}
	}

	// Refused synchronously.
	for _, tc := range []struct {
		name string
		body map[string]any
		code int
	}{
		{"unknown media id", msg("image", map[string]any{"id": "1234567890123456"}), 100},
		{"id and link", msg("image", map[string]any{"id": jpeg, "link": "https://example.com/a.jpg"}), 100},
		{"ftp link", msg("document", map[string]any{"link": "ftp://example.com/a.pdf"}), 100},
		{"relative link", msg("image", map[string]any{"link": "/a.png"}), 100},
		{"caption on audio", msg("audio", map[string]any{"id": ogg, "caption": "no"}), 100},
		{"caption on sticker", msg("sticker", map[string]any{"id": webp.ID, "caption": "no"}), 100},
		{"caption too long", msg("image", map[string]any{"id": jpeg, "caption": strings.Repeat("x", 1025)}), 131009},
		{"media object not an object", msg("video", "abc"), 100},
		{"context without message_id", func() map[string]any {
			m := msg("image", map[string]any{"id": jpeg})
			m["context"] = map[string]any{}
			return m
		}(), 100},
	} {
		t.Run(tc.name, func(t *testing.T) { h.sendErr(tc.body, 400, tc.code) })
	}
}

// TestSendUploadedMediaRules: MIME type or size outside the type's rules is
// accepted, then fails asynchronously with 131053.
func TestSendUploadedMediaRules(t *testing.T) {
	h := start(t, nil)
	h.inbound(map[string]any{"from": customer, "text": "hi"})
	_, gif := h.controlMedia("", "image/gif", []byte("GIF89a"))
	bigJPEG := h.generate("image/jpeg", 5<<20+1, "")
	bigVideo := h.generate("video/mp4", 16<<20+1, "")
	bigSticker := h.generate("image/webp", 500<<10+1, "")
	pdf := h.generate("application/pdf", 100, "")
	hugePDF := h.generate("application/pdf", 100<<20+1, "")
	okJPEG := h.generate("image/jpeg", 5<<20, "")
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"gif as image", msg("image", map[string]any{"id": gif.ID})},
		{"image over 5 MiB", msg("image", map[string]any{"id": bigJPEG.ID})},
		{"video over 16 MiB", msg("video", map[string]any{"id": bigVideo.ID})},
		{"sticker over 500 KiB", msg("sticker", map[string]any{"id": bigSticker.ID})},
		{"pdf as image", msg("image", map[string]any{"id": pdf.ID})},
		{"jpeg as sticker", msg("sticker", map[string]any{"id": okJPEG.ID})},
		{"document over 100 MiB", msg("document", map[string]any{"id": hugePDF.ID})},
		{"pdf as interactive image header", msg("interactive", map[string]any{
			"type":   "button",
			"header": map[string]any{"type": "image", "image": map[string]any{"id": pdf.ID}},
			"body":   map[string]any{"text": "pick"},
			"action": map[string]any{"buttons": []any{map[string]any{"type": "reply", "reply": map[string]any{"id": "a", "title": "A"}}}},
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wamid := h.send(tc.body)
			got := h.rc.waitStatuses(t, wamid, 1)
			if len(got) != 1 || got[0].Status != "failed" || len(got[0].Errors) != 1 || got[0].Errors[0].Code != 131053 ||
				got[0].Errors[0].Title != "Media upload error" || got[0].Errors[0].ErrorData.Details == "" {
				t.Errorf("statuses %+v, want one failed 131053", got)
			}
			waitFor(t, "the record to fail", func() bool { r := h.record(wamid); return r.Status == "failed" && r.ErrorCode == 131053 })
		})
	}
	// At the limit is fine.
	if st := h.finalStatus(h.send(msg("image", map[string]any{"id": okJPEG.ID})), 3); st.Status != "read" {
		t.Errorf("5 MiB jpeg: %+v", st)
	}
}

func TestSendLocationContactsReaction(t *testing.T) {
	h := start(t, nil)
	in := h.inbound(map[string]any{"from": customer, "text": "hi"})

	w := h.send(msg("location", map[string]any{"latitude": 37.44216251868683, "longitude": "-122.16153582049394", "name": "Philz Coffee", "address": "101 Forest Ave"}))
	if r := h.record(w); r.Location == nil || *r.Location != (locationInfo{Latitude: 37.44216251868683, Longitude: -122.16153582049394, Name: "Philz Coffee", Address: "101 Forest Ave"}) {
		t.Errorf("location record %+v", r.Location)
	}
	contacts := []any{map[string]any{
		"name":      map[string]any{"formatted_name": "John Smith", "first_name": "John"},
		"phones":    []any{map[string]any{"phone": "+1 650 555 1234", "type": "WORK"}},
		"emails":    []any{map[string]any{"email": "j@example.com"}},
		"org":       map[string]any{"company": "Acme"},
		"birthday":  "1990-01-31",
		"urls":      []any{map[string]any{"url": "https://example.com"}},
		"addresses": []any{map[string]any{"city": "Menlo Park"}},
	}}
	w = h.send(msg("contacts", contacts))
	if r := h.record(w); !strings.Contains(string(r.Contacts), `"formatted_name":"John Smith"`) {
		t.Errorf("contacts record %s", r.Contacts)
	}
	w = h.send(msg("reaction", map[string]any{"message_id": in, "emoji": "\U0001F600"}))
	if r := h.record(w); r.Reaction == nil || *r.Reaction != (reactionInfo{MessageID: in, Emoji: "😀"}) {
		t.Errorf("reaction record %+v", r.Reaction)
	}
	rm := h.send(msg("reaction", map[string]any{"message_id": in, "emoji": ""}))
	if st := h.rc.waitStatuses(t, rm, 1); st[0].Status != "sent" {
		t.Errorf("reaction removal statuses %+v", st)
	}
	// Reply context is accepted and recorded on every type.
	m := msg("location", map[string]any{"latitude": 0, "longitude": 0})
	m["context"] = map[string]any{"message_id": in}
	if r := h.record(h.send(m)); r.ContextID != in {
		t.Errorf("context_message_id %q", r.ContextID)
	}

	for _, tc := range []struct {
		name string
		body map[string]any
		code int
	}{
		{"location without latitude", msg("location", map[string]any{"longitude": 1}), 100},
		{"location without longitude", msg("location", map[string]any{"latitude": 1}), 100},
		{"latitude out of range", msg("location", map[string]any{"latitude": 91, "longitude": 1}), 100},
		{"longitude out of range", msg("location", map[string]any{"latitude": 1, "longitude": -180.5}), 100},
		{"latitude not a number", msg("location", map[string]any{"latitude": "north", "longitude": 1}), 100},
		{"contacts empty", msg("contacts", []any{}), 100},
		{"contacts not an array", msg("contacts", map[string]any{"name": map[string]any{"formatted_name": "x"}}), 100},
		{"contact without formatted_name", msg("contacts", []any{map[string]any{"name": map[string]any{"first_name": "x"}}}), 100},
		{"contact without name", msg("contacts", []any{map[string]any{"phones": []any{}}}), 100},
		{"contact phones not an array", msg("contacts", []any{map[string]any{"name": map[string]any{"formatted_name": "x"}, "phones": "123"}}), 100},
		{"reaction without message_id", msg("reaction", map[string]any{"emoji": "👍"}), 100},
		{"reaction without emoji", msg("reaction", map[string]any{"message_id": in}), 100},
	} {
		t.Run(tc.name, func(t *testing.T) { h.sendErr(tc.body, 400, tc.code) })
	}
}

// TestFreeformOutsideWindow: every non-template type fails 131047 outside the window.
func TestFreeformOutsideWindow(t *testing.T) {
	h := start(t, nil)
	id := h.uploadOK("image/png", []byte("png"))
	for _, body := range []map[string]any{
		msg("image", map[string]any{"id": id}),
		msg("location", map[string]any{"latitude": 1, "longitude": 2}),
		msg("reaction", map[string]any{"message_id": "wamid.x", "emoji": "👍"}),
		msg("interactive", map[string]any{"type": "cta_url", "body": map[string]any{"text": "b"},
			"action": map[string]any{"name": "cta_url", "parameters": map[string]any{"display_text": "Open", "url": "https://example.com"}}}),
	} {
		wamid := h.send(body)
		if st := h.rc.waitStatuses(t, wamid, 1); st[0].Status != "failed" || st[0].Errors[0].Code != 131047 {
			t.Errorf("%s outside the window: %+v", body["type"], st)
		}
	}
}

func buttons(n int) []any {
	var out []any
	for i := range n {
		out = append(out, map[string]any{"type": "reply", "reply": map[string]any{"id": "id-" + string(rune('a'+i)), "title": "T" + string(rune('a'+i))}})
	}
	return out
}

func rows(n int, prefix string) []any {
	var out []any
	for i := range n {
		out = append(out, map[string]any{"id": prefix + string(rune('a'+i)), "title": "Row " + string(rune('a'+i)), "description": "d"})
	}
	return out
}

func TestSendInteractive(t *testing.T) {
	h := start(t, nil)
	h.inbound(map[string]any{"from": customer, "text": "hi"})
	img := h.uploadOK("image/png", []byte("png"))
	button := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{
			"type":   "button",
			"header": map[string]any{"type": "text", "text": "Header"},
			"body":   map[string]any{"text": "Choose"},
			"footer": map[string]any{"text": "Footer"},
			"action": map[string]any{"buttons": buttons(3)},
		}
		if mut != nil {
			mut(m)
		}
		return msg("interactive", m)
	}
	list := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{
			"type": "list",
			"body": map[string]any{"text": "Pick one"},
			"action": map[string]any{"button": "Options", "sections": []any{
				map[string]any{"title": "First", "rows": rows(5, "a")},
				map[string]any{"title": "Second", "rows": rows(5, "b")},
			}},
		}
		if mut != nil {
			mut(m)
		}
		return msg("interactive", m)
	}
	cta := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{
			"type": "cta_url",
			"body": map[string]any{"text": "Track your order"},
			"action": map[string]any{"name": "cta_url", "parameters": map[string]any{
				"display_text": "Track", "url": "https://example.com/track?id=1"}},
		}
		if mut != nil {
			mut(m)
		}
		return msg("interactive", m)
	}
	action := func(m map[string]any) map[string]any { return m["action"].(map[string]any) }

	// Valid.
	for name, body := range map[string]map[string]any{
		"button":      button(nil),
		"button, one": button(func(m map[string]any) { action(m)["buttons"] = buttons(1); delete(m, "header"); delete(m, "footer") }),
		"button, image id": button(func(m map[string]any) {
			m["header"] = map[string]any{"type": "image", "image": map[string]any{"id": img}}
		}),
		"button, video link": button(func(m map[string]any) {
			m["header"] = map[string]any{"type": "video", "video": map[string]any{"link": "https://e.com/v.mp4"}}
		}),
		"button, 20/256": button(func(m map[string]any) {
			action(m)["buttons"] = []any{map[string]any{"type": "reply", "reply": map[string]any{"id": strings.Repeat("i", 256), "title": strings.Repeat("t", 20)}}}
		}),
		"list":                list(nil),
		"list, one section":   list(func(m map[string]any) { action(m)["sections"] = []any{map[string]any{"rows": rows(1, "x")}} }),
		"list, long body":     list(func(m map[string]any) { m["body"] = map[string]any{"text": strings.Repeat("b", 4096)} }),
		"cta_url":             cta(nil),
		"cta_url with header": cta(func(m map[string]any) { m["header"] = map[string]any{"type": "text", "text": "Hi"} }),
		"location request":    msg("interactive", map[string]any{"type": "location_request_message", "body": map[string]any{"text": "Where?"}, "action": map[string]any{"name": "send_location"}}),
	} {
		wamid := h.send(body)
		if r := h.record(wamid); r.Type != "interactive" || len(r.Interactive) == 0 || r.Text == "" {
			t.Errorf("%s: record %+v", name, r)
		}
	}

	for _, tc := range []struct {
		name string
		body map[string]any
		code int
	}{
		{"no interactive type", button(func(m map[string]any) { delete(m, "type") }), 100},
		{"unknown interactive type", button(func(m map[string]any) { m["type"] = "carousel3d" }), 100},
		{"no action", button(func(m map[string]any) { delete(m, "action") }), 100},
		{"button: no body", button(func(m map[string]any) { delete(m, "body") }), 100},
		{"button: empty body", button(func(m map[string]any) { m["body"] = map[string]any{"text": ""} }), 100},
		{"button: body too long", button(func(m map[string]any) { m["body"] = map[string]any{"text": strings.Repeat("b", 1025)} }), 131009},
		{"button: no buttons", button(func(m map[string]any) { action(m)["buttons"] = []any{} }), 100},
		{"button: four buttons", button(func(m map[string]any) { action(m)["buttons"] = buttons(4) }), 131009},
		{"button: title too long", button(func(m map[string]any) {
			action(m)["buttons"] = []any{map[string]any{"type": "reply", "reply": map[string]any{"id": "a", "title": strings.Repeat("t", 21)}}}
		}), 131009},
		{"button: id too long", button(func(m map[string]any) {
			action(m)["buttons"] = []any{map[string]any{"type": "reply", "reply": map[string]any{"id": strings.Repeat("i", 257), "title": "t"}}}
		}), 131009},
		{"button: no title", button(func(m map[string]any) {
			action(m)["buttons"] = []any{map[string]any{"type": "reply", "reply": map[string]any{"id": "a"}}}
		}), 100},
		{"button: no id", button(func(m map[string]any) {
			action(m)["buttons"] = []any{map[string]any{"type": "reply", "reply": map[string]any{"title": "a"}}}
		}), 100},
		{"button: wrong button type", button(func(m map[string]any) {
			action(m)["buttons"] = []any{map[string]any{"type": "url", "reply": map[string]any{"id": "a", "title": "a"}}}
		}), 100},
		{"button: duplicate ids", button(func(m map[string]any) {
			action(m)["buttons"] = []any{
				map[string]any{"type": "reply", "reply": map[string]any{"id": "a", "title": "A"}},
				map[string]any{"type": "reply", "reply": map[string]any{"id": "a", "title": "B"}}}
		}), 131009},
		{"button: footer too long", button(func(m map[string]any) { m["footer"] = map[string]any{"text": strings.Repeat("f", 61)} }), 131009},
		{"button: header text too long", button(func(m map[string]any) { m["header"] = map[string]any{"type": "text", "text": strings.Repeat("h", 61)} }), 131009},
		{"button: header without text", button(func(m map[string]any) { m["header"] = map[string]any{"type": "text"} }), 100},
		{"button: header unknown media id", button(func(m map[string]any) {
			m["header"] = map[string]any{"type": "document", "document": map[string]any{"id": "1111111111111111"}}
		}), 100},
		{"button: header image missing", button(func(m map[string]any) { m["header"] = map[string]any{"type": "image"} }), 100},
		{"button: header bad type", button(func(m map[string]any) { m["header"] = map[string]any{"type": "audio"} }), 100},
		{"list: no button label", list(func(m map[string]any) { delete(action(m), "button") }), 100},
		{"list: button label too long", list(func(m map[string]any) { action(m)["button"] = strings.Repeat("b", 21) }), 131009},
		{"list: no sections", list(func(m map[string]any) { action(m)["sections"] = []any{} }), 100},
		{"list: eleven sections", list(func(m map[string]any) {
			var secs []any
			for i := range 11 {
				secs = append(secs, map[string]any{"title": "S" + string(rune('a'+i)), "rows": rows(1, string(rune('a'+i)))})
			}
			action(m)["sections"] = secs
		}), 131009},
		{"list: eleven rows", list(func(m map[string]any) {
			action(m)["sections"] = []any{map[string]any{"title": "A", "rows": rows(6, "a")}, map[string]any{"title": "B", "rows": rows(5, "b")}}
		}), 131009},
		{"list: section without title", list(func(m map[string]any) {
			action(m)["sections"] = []any{map[string]any{"rows": rows(1, "a")}, map[string]any{"title": "B", "rows": rows(1, "b")}}
		}), 100},
		{"list: section without rows", list(func(m map[string]any) { action(m)["sections"] = []any{map[string]any{"title": "A"}} }), 100},
		{"list: row title too long", list(func(m map[string]any) {
			action(m)["sections"] = []any{map[string]any{"rows": []any{map[string]any{"id": "a", "title": strings.Repeat("t", 25)}}}}
		}), 131009},
		{"list: row description too long", list(func(m map[string]any) {
			action(m)["sections"] = []any{map[string]any{"rows": []any{map[string]any{"id": "a", "title": "t", "description": strings.Repeat("d", 73)}}}}
		}), 131009},
		{"list: row without id", list(func(m map[string]any) {
			action(m)["sections"] = []any{map[string]any{"rows": []any{map[string]any{"title": "t"}}}}
		}), 100},
		{"list: duplicate row ids", list(func(m map[string]any) {
			action(m)["sections"] = []any{map[string]any{"title": "A", "rows": rows(2, "a")}, map[string]any{"title": "B", "rows": rows(1, "a")}}
		}), 131009},
		{"list: image header", list(func(m map[string]any) {
			m["header"] = map[string]any{"type": "image", "image": map[string]any{"link": "https://e.com/i.png"}}
		}), 100},
		{"list: no body", list(func(m map[string]any) { delete(m, "body") }), 100},
		{"list: body too long", list(func(m map[string]any) { m["body"] = map[string]any{"text": strings.Repeat("b", 4097)} }), 131009},
		{"cta_url: wrong action name", cta(func(m map[string]any) { action(m)["name"] = "url" }), 100},
		{"cta_url: no action name", cta(func(m map[string]any) { delete(action(m), "name") }), 100},
		{"cta_url: no parameters", cta(func(m map[string]any) { delete(action(m), "parameters") }), 100},
		{"cta_url: no display_text", cta(func(m map[string]any) { action(m)["parameters"] = map[string]any{"url": "https://e.com"} }), 100},
		{"cta_url: no url", cta(func(m map[string]any) { action(m)["parameters"] = map[string]any{"display_text": "Go"} }), 100},
		{"cta_url: display_text too long", cta(func(m map[string]any) {
			action(m)["parameters"] = map[string]any{"display_text": strings.Repeat("d", 21), "url": "https://e.com"}
		}), 131009},
		{"cta_url: bad url", cta(func(m map[string]any) {
			action(m)["parameters"] = map[string]any{"display_text": "Go", "url": "javascript:alert(1)"}
		}), 131009},
		{"cta_url: no body", cta(func(m map[string]any) { delete(m, "body") }), 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := h.sendErr(tc.body, 400, tc.code)
			if e.Error.ErrorData.Details == "" && !strings.Contains(e.Error.Message, "interactive") {
				t.Errorf("error does not name the problem: %+v", e.Error)
			}
		})
	}
}

// plainSendSamples are send bodies for decodePlainSend: the shapes it
// takes itself and ones it must leave to encoding/json.
var plainSendSamples = []string{
	`{"messaging_product":"whatsapp","recipient_type":"individual","to":"+4915112345678","type":"text","text":{"preview_url":false,"body":"Your order 12345 is on its way"},"biz_opaque_callback_data":"01JB2Z8Q3M"}`,
	`{"messaging_product":"whatsapp","to":"4915112345678","type":"text","text":{"body":"مرحبا 😀"}}`,
	`{"messaging_product":"whatsapp","recipient_type":"individual","to":"+4915100000001","type":"template","biz_opaque_callback_data":"01JB2Z","template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"12345"},{"type":"text","parameter_name":"day","text":"Monday"}]}]}}`,
	`{"type":"template","template":{"name":"x","language":{"code":"de","policy":"deterministic"},"components":[]}}`,
	`{"type":"template","template":{"name":"x","components":[{"type":"button","sub_type":"quick_reply","parameters":[]},{"type":"header","parameters":[{"type":"text","text":"a"}]}]}}`,
	`{"type":"template","template":{"name":"x","components":[{"type":"button","sub_type":"url","index":0,"parameters":[{"type":"text","text":"a"}]}]}}`,
	`{"type":"template","template":{"name":"x","components":[{"type":"body","parameters":[{"type":"image","image":{"link":"https://x"}}]}]}}`,
	`{"type":"template","template":{"name":"x","language":{"code":"en"},"language":{"policy":"deterministic"}}}`,
	`{"type":"template","template":{"name":"x","components":[{"type":"body","parameters":[{"type":"text","text":"a","text":"b"}]}]}}`,
	`{"type":"template","template":{"name":"x","components":[{"type":"body","parameters":[{"type":"text","text":null}]}]}}`,
	`{"type":"template","template":null}`, `{"template":{"name":"x"},"template":{"name":"y"}}`, `{"template":{"Name":"x"}}`,
	`{"text":{"body":"a","preview_url":true},"to":"1","to":"2","text2":1}`,
	`{"messaging_product":"whatsapp","text":{"body":"a"},"text":{"preview_url":true}}`,
	`{"messaging_product":"whatsapp","text":{"body":"line\nbreak"}}`,
	`{"messaging_product":"whatsapp","text":null}`,
	`{"messaging_product":"whatsapp","status":"read","message_id":"wamid.x"}`,
	`{"Messaging_Product":"whatsapp"}`, `{"to":1}`, `{"text":{"preview_url":"true"}}`, `{"text":{"preview_url":truex}}`,
	`{"to":"a"} `, `{ "to":"a"}`, `{"to":"a",}`, `{}`, `[]`, `null`, ``, `{"to":"<b>"}`, `{"to":"` + "\xff" + `"}`,
	`{"type":"template","template":{"name":"x","language":{"code":"en"}}}`,
}

// TestPlainSendDecodesAsEncodingJSON: whatever decodePlainSend takes, it
// decodes exactly as json.Unmarshal does.
func TestPlainSendDecodesAsEncodingJSON(t *testing.T) {
	for i, in := range plainSendSamples {
		if fast := checkPlainSend(t, []byte(in)); i < 5 && !fast {
			t.Errorf("the fast path left a plain send to encoding/json: %s", in)
		}
	}
}

func checkPlainSend(t *testing.T, in []byte) bool {
	t.Helper()
	var got sendEnvelope
	if !decodePlainSend(in, &got) {
		return false
	}
	var want sendEnvelope
	if err := json.Unmarshal(in, &want); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("decodePlainSend(%s) = %+v (text %+v); encoding/json: %+v (text %+v), %v", in, got, got.Text, want, want.Text, err)
	}
	return true
}

// FuzzPlainSend holds the send decoder's fast path to encoding/json.
func FuzzPlainSend(f *testing.F) {
	for _, in := range plainSendSamples {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkPlainSend(t, in) })
}
