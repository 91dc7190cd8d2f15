package whatsapp

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

// kindMsg is a message of kind k with content c to the usual customer.
func kindMsg(k bridge.Kind, c bridge.Content) func() *bridge.Message {
	return func() *bridge.Message {
		m := textMsg()
		m.Kind = k
		m.Content = c
		return m
	}
}

// TestBuildMessageBodyKinds pins the exact JSON of every non-text kind.
// Shapes: see the sources in body_kinds.go.
func TestBuildMessageBodyKinds(t *testing.T) {
	const head = `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+4915112345678",`
	const cb = `"biz_opaque_callback_data":"msg-1",`
	reply := &bridge.Context{WAMID: "wamid.PREV"}
	cases := []struct {
		name string
		msg  func() *bridge.Message
		want string
	}{
		// media by uploaded id, by link, with caption / filename
		{"image by id", kindMsg(bridge.KindImage, bridge.Content{Media: &bridge.Media{ID: "1479537139650973", Caption: "The best succulent ever?"}}),
			head + `"type":"image",` + cb + `"image":{"id":"1479537139650973","caption":"The best succulent ever?"}}`},
		{"image by link", kindMsg(bridge.KindImage, bridge.Content{Media: &bridge.Media{URL: "https://www.luckyshrub.com/assets/succulents/aloe.png?a=1&b=<2>"}}),
			head + `"type":"image",` + cb + `"image":{"link":"https://www.luckyshrub.com/assets/succulents/aloe.png?a=1&b=<2>"}}`},
		{"id wins over link", kindMsg(bridge.KindImage, bridge.Content{Media: &bridge.Media{ID: "42", URL: "https://example.com/a.png"}}),
			head + `"type":"image",` + cb + `"image":{"id":"42"}}`},
		{"video with caption", kindMsg(bridge.KindVideo, bridge.Content{Media: &bridge.Media{ID: "1166846181421424", Caption: "A succulent eclipse!"}}),
			head + `"type":"video",` + cb + `"video":{"id":"1166846181421424","caption":"A succulent eclipse!"}}`},
		{"audio by id, stored file id and metadata not sent", kindMsg(bridge.KindAudio, bridge.Content{Media: &bridge.Media{
			ID: "1013859600285441", FileID: "f-1", MIMEType: "audio/ogg", SHA256: "ab", Voice: true, Size: 5, Filename: "voice.ogg"}}),
			head + `"type":"audio",` + cb + `"audio":{"id":"1013859600285441"}}`},
		{"document with caption and filename", kindMsg(bridge.KindDocument, bridge.Content{Media: &bridge.Media{
			URL: "https://www.luckyshrub.com/invoices/FmOzfD9cKf/lucky-shrub-invoice.pdf", Caption: "Lucky Shrub Invoice", Filename: "lucky-shrub-invoice.pdf"}}),
			head + `"type":"document",` + cb + `"document":{"link":"https://www.luckyshrub.com/invoices/FmOzfD9cKf/lucky-shrub-invoice.pdf","caption":"Lucky Shrub Invoice","filename":"lucky-shrub-invoice.pdf"}}`},
		{"document by id, filename only", kindMsg(bridge.KindDocument, bridge.Content{Media: &bridge.Media{ID: "430519053060512", Filename: "rechnung.pdf"}}),
			head + `"type":"document",` + cb + `"document":{"id":"430519053060512","filename":"rechnung.pdf"}}`},
		{"image filename is not sent", kindMsg(bridge.KindImage, bridge.Content{Media: &bridge.Media{ID: "7", Filename: "a.png"}}),
			head + `"type":"image",` + cb + `"image":{"id":"7"}}`},
		{"sticker as a reply", kindMsg(bridge.KindSticker, bridge.Content{Media: &bridge.Media{ID: "798882015472548", Animated: true}, Context: reply}),
			head + `"type":"sticker","context":{"message_id":"wamid.PREV"},` + cb + `"sticker":{"id":"798882015472548"}}`},

		{"location", kindMsg(bridge.KindLocation, bridge.Content{Location: &bridge.Location{
			Latitude: 37.44216251868683, Longitude: -122.16153582049394, Name: "Philz Coffee", Address: "101 Forest Ave, Palo Alto, CA 94301", URL: "https://not.sent"}}),
			head + `"type":"location",` + cb + `"location":{"latitude":"37.44216251868683","longitude":"-122.16153582049394","name":"Philz Coffee","address":"101 Forest Ave, Palo Alto, CA 94301"}}`},
		{"location at 0,0 without name", kindMsg(bridge.KindLocation, bridge.Content{Location: &bridge.Location{}}),
			head + `"type":"location",` + cb + `"location":{"latitude":"0","longitude":"0"}}`},

		{"contacts passed through, compacted", kindMsg(bridge.KindContacts, bridge.Content{Contacts: json.RawMessage(`[
			{"name": {"formatted_name": "Barbara J. Johnson", "first_name": "Barbara"},
			 "phones": [{"phone": "+16505559999", "type": "Landline", "wa_id": "16505559999"}],
			 "urls": [{"url": "https://www.luckyshrub.com?a=1&b=2", "type": "Company"}]}]`), Context: reply}),
			head + `"type":"contacts","context":{"message_id":"wamid.PREV"},` + cb + `"contacts":[{"name":{"formatted_name":"Barbara J. Johnson","first_name":"Barbara"},"phones":[{"phone":"+16505559999","type":"Landline","wa_id":"16505559999"}],"urls":[{"url":"https://www.luckyshrub.com?a=1&b=2","type":"Company"}]}]}`},

		{"interactive reply buttons passed through", kindMsg(bridge.KindInteractive, bridge.Content{Interactive: json.RawMessage(
			`{"type":"button","body":{"text":"Reschedule?"},"action":{"buttons":[{"type":"reply","reply":{"id":"change-button","title":"Change"}},{"type":"reply","reply":{"id":"cancel-button","title":"Cancel"}}]}}`)}),
			head + `"type":"interactive",` + cb + `"interactive":{"type":"button","body":{"text":"Reschedule?"},"action":{"buttons":[{"type":"reply","reply":{"id":"change-button","title":"Change"}},{"type":"reply","reply":{"id":"cancel-button","title":"Cancel"}}]}}}`},
		{"interactive list", kindMsg(bridge.KindInteractive, bridge.Content{Interactive: json.RawMessage(
			` {"type":"list","body":{"text":"Pick"},"action":{"button":"Options","sections":[{"title":"S","rows":[{"id":"r1","title":"One"}]}]}} `)}),
			head + `"type":"interactive",` + cb + `"interactive":{"type":"list","body":{"text":"Pick"},"action":{"button":"Options","sections":[{"title":"S","rows":[{"id":"r1","title":"One"}]}]}}}`},

		{"reaction", kindMsg(bridge.KindReaction, bridge.Content{Reaction: &bridge.Reaction{MessageID: "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQUZFQTY3QzNGMUIwMDVDMEMA", Emoji: "\U0001F600"}}),
			head + `"type":"reaction",` + cb + `"reaction":{"message_id":"wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQUZFQTY3QzNGMUIwMDVDMEMA","emoji":"` + "\U0001F600" + `"}}`},
		{"reaction removal keeps the empty emoji", kindMsg(bridge.KindReaction, bridge.Content{Reaction: &bridge.Reaction{MessageID: "wamid.X"}}),
			head + `"type":"reaction",` + cb + `"reaction":{"message_id":"wamid.X","emoji":""}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := BuildMessageBody(c.msg())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("body\n got %s\nwant %s", got, c.want)
			}
			if !json.Valid(got) {
				t.Error("body is not valid JSON")
			}
		})
	}
}

// TestBuildMessageBodyKindsInvalid: every malformed kind is refused as
// permanent/invalid, with no body.
func TestBuildMessageBodyKindsInvalid(t *testing.T) {
	long := strings.Repeat("é", bridge.MaxCaptionLength+1)
	cases := map[string]func() *bridge.Message{
		"image without media":      kindMsg(bridge.KindImage, bridge.Content{}),
		"media with neither":       kindMsg(bridge.KindVideo, bridge.Content{Media: &bridge.Media{MIMEType: "video/mp4"}}),
		"media only stored":        kindMsg(bridge.KindDocument, bridge.Content{Media: &bridge.Media{FileID: "f-1"}}),
		"link not a URL":           kindMsg(bridge.KindImage, bridge.Content{Media: &bridge.Media{URL: "not a url"}}),
		"link relative":            kindMsg(bridge.KindImage, bridge.Content{Media: &bridge.Media{URL: "/a.png"}}),
		"link ftp":                 kindMsg(bridge.KindImage, bridge.Content{Media: &bridge.Media{URL: "ftp://x/a.png"}}),
		"audio caption":            kindMsg(bridge.KindAudio, bridge.Content{Media: &bridge.Media{ID: "1", Caption: "no"}}),
		"sticker caption":          kindMsg(bridge.KindSticker, bridge.Content{Media: &bridge.Media{ID: "1", Caption: "no"}}),
		"caption too long":         kindMsg(bridge.KindImage, bridge.Content{Media: &bridge.Media{ID: "1", Caption: long}}),
		"no location":              kindMsg(bridge.KindLocation, bridge.Content{}),
		"latitude out of range":    kindMsg(bridge.KindLocation, bridge.Content{Location: &bridge.Location{Latitude: 91}}),
		"longitude out of range":   kindMsg(bridge.KindLocation, bridge.Content{Location: &bridge.Location{Longitude: -180.5}}),
		"latitude NaN":             kindMsg(bridge.KindLocation, bridge.Content{Location: &bridge.Location{Latitude: math.NaN()}}),
		"longitude Inf":            kindMsg(bridge.KindLocation, bridge.Content{Location: &bridge.Location{Longitude: math.Inf(1)}}),
		"no contacts":              kindMsg(bridge.KindContacts, bridge.Content{}),
		"contacts empty array":     kindMsg(bridge.KindContacts, bridge.Content{Contacts: json.RawMessage(`[]`)}),
		"contacts object":          kindMsg(bridge.KindContacts, bridge.Content{Contacts: json.RawMessage(`{"name":{"formatted_name":"x"}}`)}),
		"contacts not JSON":        kindMsg(bridge.KindContacts, bridge.Content{Contacts: json.RawMessage(`[{`)}),
		"contact without name":     kindMsg(bridge.KindContacts, bridge.Content{Contacts: json.RawMessage(`[{"phones":[]}]`)}),
		"contact name not object":  kindMsg(bridge.KindContacts, bridge.Content{Contacts: json.RawMessage(`[{"name":"x"}]`)}),
		"contact null":             kindMsg(bridge.KindContacts, bridge.Content{Contacts: json.RawMessage(`[null]`)}),
		"no interactive":           kindMsg(bridge.KindInteractive, bridge.Content{}),
		"interactive without type": kindMsg(bridge.KindInteractive, bridge.Content{Interactive: json.RawMessage(`{"body":{"text":"x"}}`)}),
		"interactive array":        kindMsg(bridge.KindInteractive, bridge.Content{Interactive: json.RawMessage(`[{"type":"button"}]`)}),
		"interactive not JSON":     kindMsg(bridge.KindInteractive, bridge.Content{Interactive: json.RawMessage(`{"type":`)}),
		"no reaction":              kindMsg(bridge.KindReaction, bridge.Content{}),
		"reaction without target":  kindMsg(bridge.KindReaction, bridge.Content{Reaction: &bridge.Reaction{Emoji: "x"}}),
		"unknown kind":             kindMsg(bridge.KindUnknown, bridge.Content{Raw: json.RawMessage(`{}`)}),
		"unsupported kind":         kindMsg(bridge.KindUnsupported, bridge.Content{}),
	}
	for name, msg := range cases {
		body, err := BuildMessageBody(msg())
		var se *bridge.SendError
		if !errors.As(err, &se) || se.Action != bridge.ActionPermanent || se.Reason != bridge.ReasonInvalid || body != nil {
			t.Errorf("%s: body %s, err = %v; want permanent/invalid SendError", name, body, err)
		}
	}
}

// FuzzBuildMessageBody: for any passed-through contacts or interactive JSON
// and any media fields the builder either refuses with a permanent/invalid
// SendError or returns valid JSON carrying the message's type.
func FuzzBuildMessageBody(f *testing.F) {
	f.Add("contacts", `[{"name":{"formatted_name":"A"}}]`, "", "", "")
	f.Add("interactive", `{"type":"button","action":{}}`, "", "", "")
	f.Add("image", "", "1", "https://x/a.png", "cap")
	f.Add("document", "", "", "https://x/a.pdf", "")
	f.Add("reaction", "", "wamid.1", "", "\u2764")
	f.Add("location", "", "", "", "")
	f.Fuzz(func(t *testing.T, kind, raw, id, link, text string) {
		m := textMsg()
		m.Kind = bridge.Kind(kind)
		m.Content = bridge.Content{
			Contacts:    json.RawMessage(raw),
			Interactive: json.RawMessage(raw),
			Media:       &bridge.Media{ID: id, URL: link, Caption: text, Filename: text},
			Reaction:    &bridge.Reaction{MessageID: id, Emoji: text},
			Location:    &bridge.Location{Latitude: float64(len(id)), Longitude: float64(len(link)), Name: text},
			Text:        text,
		}
		body, err := BuildMessageBody(m)
		if err != nil {
			var se *bridge.SendError
			if !errors.As(err, &se) || se.Action != bridge.ActionPermanent || se.Reason != bridge.ReasonInvalid {
				t.Fatalf("err = %v", err)
			}
			return
		}
		var v struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Type != kind {
			t.Fatalf("body %s: %v", body, err)
		}
	})
}
