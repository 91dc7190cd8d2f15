package mailconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	message "github.com/emersion/go-message"

	"github.com/wabridge/wabridge/bridge"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var ts = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func inbound(kind bridge.Kind, c bridge.Content) *bridge.Message {
	return &bridge.Message{
		ID: "01m80bm55e5xf2p61xfeg5j2zq", Direction: bridge.Inbound, Business: "+15550100001",
		Customer: bridge.Customer{Phone: "+4915112345678"}, ProfileName: "Anna Example",
		Kind: kind, Content: c, WAMID: "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFjNFQjBDMEQ5RjE2QzQ1RDlFMzJBAA==",
		Channel: bridge.ChannelWhatsApp, Timestamp: ts,
	}
}

// files is the file store Render reads in tests.
var files = map[string]struct {
	f    bridge.File
	data []byte
}{
	"f-photo":    {bridge.File{ID: "f-photo", MIMEType: "image/jpeg", Size: 8}, []byte("\xff\xd8\xff\xe0JFIF")},
	"f-invoice":  {bridge.File{ID: "f-invoice", MIMEType: "application/pdf", Filename: "invoice-2025-03.pdf", Size: 9}, []byte("%PDF-1.7\n")},
	"f-voice":    {bridge.File{ID: "f-voice", MIMEType: "audio/ogg; codecs=opus", Size: 4}, []byte("OggS")},
	"f-umlaut":   {bridge.File{ID: "f-umlaut", MIMEType: "application/pdf", Filename: "Übersicht März.pdf", Size: 9}, []byte("%PDF-1.4\n")},
	"f-broken-1": {},
}

func openFile(id string) (io.ReadCloser, *bridge.File, error) {
	f, ok := files[id]
	if !ok || f.data == nil {
		return nil, nil, bridge.ErrNotFound
	}
	fc := f.f
	return io.NopCloser(bytes.NewReader(f.data)), &fc, nil
}

func renderOpts() RenderOptions {
	return RenderOptions{Domain: "wa.example.com", To: "Support Team <support@example.com>", OpenFile: openFile}
}

var twoContacts = json.RawMessage(`[
 {"name":{"formatted_name":"Bob Builder","first_name":"Bob","last_name":"Builder"},
  "phones":[{"phone":"+49 30 1234567","wa_id":"49301234567","type":"WORK"},{"phone":"+49 151 7654321","type":"CELL"}],
  "emails":[{"email":"bob@example.com","type":"WORK"}],
  "org":{"company":"Builder, Bob & Co; GmbH","department":"Sales","title":"Chief"},
  "urls":[{"url":"https://example.com/bob","type":"WORK"}],
  "addresses":[{"street":"Hauptstraße 1","city":"Berlin","zip":"10115","country":"Germany","country_code":"DE","type":"WORK"}],
  "birthday":"1980-02-29"},
 {"name":{"formatted_name":"Zoë Ångström-Løvenskiold, Dr. med. dent. mit einem sehr langen Namen"},
  "phones":[{"phone":"+46 8 123 456","type":"HOME"}]}
]`)

func renderCases() map[string]*bridge.Message {
	cases := map[string]*bridge.Message{}
	cases["text"] = inbound(bridge.KindText, bridge.Content{Text: "Where is my order?\nI ordered it last week."})

	reply := inbound(bridge.KindText, bridge.Content{Text: "Yes, that one.",
		Context: &bridge.Context{WAMID: "wamid.HBgNNDkxNTExMjM0NTY3OBEAAAAAAAAAAAAA", From: "15550100001"}})
	cases["text_reply"] = reply

	cases["image_caption"] = inbound(bridge.KindImage, bridge.Content{Media: &bridge.Media{
		ID: "1234", MIMEType: "image/jpeg", Caption: "the damage on the box", FileID: "f-photo"}})
	cases["document"] = inbound(bridge.KindDocument, bridge.Content{Media: &bridge.Media{
		ID: "1235", MIMEType: "application/pdf", Filename: "invoice-2025-03.pdf", FileID: "f-invoice"}})
	cases["voice"] = inbound(bridge.KindAudio, bridge.Content{Media: &bridge.Media{
		ID: "1236", MIMEType: "audio/ogg; codecs=opus", Voice: true, FileID: "f-voice"}})
	cases["media_failed"] = inbound(bridge.KindImage, bridge.Content{Media: &bridge.Media{
		ID: "1237", MIMEType: "image/jpeg", Caption: "look", FetchError: "media_unavailable: media id expired"}})
	cases["location"] = inbound(bridge.KindLocation, bridge.Content{Location: &bridge.Location{
		Latitude: 52.520008, Longitude: 13.404954, Name: "Fernsehturm", Address: "Panoramastraße 1A, 10178 Berlin"}})
	cases["contacts"] = inbound(bridge.KindContacts, bridge.Content{Contacts: twoContacts})
	cases["button"] = inbound(bridge.KindButton, bridge.Content{Button: &bridge.ButtonReply{Text: "Yes, deliver", Payload: "DELIVER"},
		Context: &bridge.Context{WAMID: "wamid.TEMPLATE1"}})
	cases["list_reply"] = inbound(bridge.KindInteractive, bridge.Content{Reply: &bridge.InteractiveReply{
		Type: "list_reply", ID: "slot-2", Title: "Tuesday 10:00", Description: "Morning slot, 2 hours"},
		Context: &bridge.Context{WAMID: "wamid.LIST1"}})
	cases["reaction"] = inbound(bridge.KindReaction, bridge.Content{Reaction: &bridge.Reaction{MessageID: "wamid.OUT42", Emoji: "👍"}})

	bsuid := inbound(bridge.KindText, bridge.Content{Text: "Hi, it's me without a number"})
	bsuid.Customer = bridge.Customer{BSUID: "US.13491208655302741918"}
	bsuid.ProfileName = "Sam"
	cases["bsuid"] = bsuid

	intl := inbound(bridge.KindText, bridge.Content{Text: "Grüße aus Köln! Das Paket ist angekommen, aber die Verpackung war beschädigt — können Sie mir helfen? 🙏"})
	intl.ProfileName = "Jürgen \"Jo\" Müller 🚀"
	cases["non_ascii"] = intl

	doc := inbound(bridge.KindDocument, bridge.Content{Media: &bridge.Media{
		ID: "1238", MIMEType: "application/pdf", FileID: "f-umlaut", Caption: "Hier die Übersicht"}})
	cases["document_non_ascii_name"] = doc

	cases["unknown"] = inbound(bridge.KindUnknown, bridge.Content{Raw: json.RawMessage(`{"type":"order","order":{}}`)})
	return cases
}

func TestRenderGolden(t *testing.T) {
	for name, m := range renderCases() {
		t.Run(name, func(t *testing.T) {
			got, err := Render(m, renderOpts())
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Render(m, renderOpts())
			if !bytes.Equal(got, again) {
				t.Fatal("Render is not deterministic")
			}
			golden(t, filepath.Join("testdata", "render", name+".golden"), got)
			checkParsesBack(t, got)
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// checkParsesBack reads a rendered mail with go-message (every part) and
// net/mail (the headers), and checks its lines.
func checkParsesBack(t *testing.T, raw []byte) *mail.Message {
	t.Helper()
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, line)
		}
		if len(line) > 998 {
			t.Errorf("line %d is %d octets", i+1, len(line))
		}
	}
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("go-message: %v", err)
	}
	err = e.Walk(func(path []int, p *message.Entity, err error) error {
		if err != nil {
			return err
		}
		if p.MultipartReader() == nil {
			if _, err := io.ReadAll(p.Body); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("go-message walk: %v", err)
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	if _, err := m.Header.Date(); err != nil {
		t.Errorf("net/mail Date: %v", err)
	}
	for _, k := range []string{"From", "To"} {
		if m.Header.Get(k) == "" {
			continue
		}
		if _, err := m.Header.AddressList(k); err != nil {
			t.Errorf("net/mail %s: %v", k, err)
		}
	}
	if _, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Errorf("Subject: %v", err)
	}
	if _, err := io.ReadAll(m.Body); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRenderHeaders(t *testing.T) {
	m := renderCases()["non_ascii"]
	raw, err := Render(m, renderOpts())
	if err != nil {
		t.Fatal(err)
	}
	msg := checkParsesBack(t, raw)
	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) != 1 {
		t.Fatalf("From: %v %v", from, err)
	}
	if from[0].Name != `Jürgen "Jo" Müller 🚀` || from[0].Address != "4915112345678@wa.example.com" {
		t.Errorf("From = %q <%s>", from[0].Name, from[0].Address)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	want := `WhatsApp from Jürgen "Jo" Müller 🚀: Grüße aus Köln! Das Paket ist angekommen, aber die…`
	if subj != want {
		t.Errorf("Subject = %q, want %q", subj, want)
	}
	if d, _ := msg.Header.Date(); !d.Equal(ts) {
		t.Errorf("Date = %v", d)
	}
	if id := msg.Header.Get("Message-ID"); id != MessageIDFor(m.WAMID, "wa.example.com") {
		t.Errorf("Message-ID = %q", id)
	}

	// Parse reads the rendered text back unchanged.
	p, err := Parse(bytes.NewReader(raw), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Text != m.Content.Text || p.Subject != subj || p.FromName != from[0].Name {
		t.Errorf("parsed back: %q / %q / %q", p.Text, p.Subject, p.FromName)
	}
}

func TestRenderThreading(t *testing.T) {
	cases := renderCases()
	for name, want := range map[string]string{
		"text_reply": "wamid.HBgNNDkxNTExMjM0NTY3OBEAAAAAAAAAAAAA",
		"reaction":   "wamid.OUT42",
		"text":       "",
	} {
		raw, err := Render(cases[name], renderOpts())
		if err != nil {
			t.Fatal(err)
		}
		msg := checkParsesBack(t, raw)
		got := msg.Header.Get("In-Reply-To")
		if want == "" {
			if got != "" {
				t.Errorf("%s: In-Reply-To %q", name, got)
			}
			continue
		}
		if got != MessageIDFor(want, "wa.example.com") || msg.Header.Get("References") != got {
			t.Errorf("%s: In-Reply-To %q References %q", name, got, msg.Header.Get("References"))
		}
		if w, ok := WAMIDFromMessageID(got, "WA.example.com"); !ok || w != want {
			t.Errorf("%s: WAMIDFromMessageID = %q %v", name, w, ok)
		}
	}
}

func TestRenderAttachmentsParseBack(t *testing.T) {
	cases := renderCases()
	for name, want := range map[string]Attachment{
		"image_caption":           {Filename: "photo.jpg", MIMEType: "image/jpeg", Kind: bridge.KindImage, Size: 8},
		"document":                {Filename: "invoice-2025-03.pdf", MIMEType: "application/pdf", Kind: bridge.KindDocument, Size: 9},
		"voice":                   {Filename: "voice-message.ogg", MIMEType: "audio/ogg", Kind: bridge.KindAudio, Size: 4},
		"document_non_ascii_name": {Filename: "Übersicht März.pdf", MIMEType: "application/pdf", Kind: bridge.KindDocument, Size: 9},
		"contacts":                {Filename: "contacts.vcf", MIMEType: "text/vcard", Kind: bridge.KindDocument},
	} {
		raw, err := Render(cases[name], renderOpts())
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(bytes.NewReader(raw), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(p.Attachments) != 1 {
			t.Fatalf("%s: %d attachments", name, len(p.Attachments))
		}
		a := p.Attachments[0]
		if a.Filename != want.Filename || a.MIMEType != want.MIMEType || a.Kind != want.Kind || (want.Size > 0 && a.Size != want.Size) {
			t.Errorf("%s: attachment %+v, want %+v", name, a, want)
		}
	}
	// The caption comes back as the text.
	raw, _ := Render(cases["image_caption"], renderOpts())
	if p, _ := Parse(bytes.NewReader(raw), Options{}); p.Text != "the damage on the box" {
		t.Errorf("caption parsed back as %q", p.Text)
	}
}

func TestRenderVCard(t *testing.T) {
	v := VCards(readContacts(twoContacts))
	if strings.Count(v, "BEGIN:VCARD\r\n") != 2 || strings.Count(v, "END:VCARD\r\n") != 2 {
		t.Fatalf("vCards:\n%s", v)
	}
	for _, want := range []string{
		"FN:Bob Builder\r\n", "N:Builder;Bob;;;\r\n", `ORG:Builder\, Bob & Co\; GmbH;Sales` + "\r\n",
		"TEL;TYPE=WORK:+49 30 1234567\r\n", "TEL;TYPE=CELL:+49 151 7654321\r\n",
		"EMAIL;TYPE=INTERNET,WORK:bob@example.com\r\n", "URL;TYPE=WORK:https://example.com/bob\r\n",
		"ADR;TYPE=WORK:;;Hauptstraße 1;Berlin;;10115;Germany\r\n", "BDAY:1980-02-29\r\n", "TITLE:Chief\r\n",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q in\n%s", want, v)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(v, "\r\n"), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line of %d octets: %q", len(line), line)
		}
	}
	// Unfolded, the long name is whole.
	unfolded := strings.ReplaceAll(v, "\r\n ", "")
	if !strings.Contains(unfolded, `FN:Zoë Ångström-Løvenskiold\, Dr. med. dent. mit einem sehr langen Namen`+"\r\n") {
		t.Errorf("long FN not folded right:\n%s", v)
	}
}

func TestRenderKinds(t *testing.T) {
	cases := []struct {
		name    string
		m       *bridge.Message
		subject string
		body    string
	}{
		{"removed reaction", inbound(bridge.KindReaction, bridge.Content{Reaction: &bridge.Reaction{MessageID: "wamid.X"}}),
			"Reaction removed by Anna Example", "Removed a reaction"},
		{"system", inbound(bridge.KindSystem, bridge.Content{System: &bridge.System{Type: "user_changed_number", Body: "Anna changed their number to +4915199999999"}}),
			"WhatsApp notice: Anna changed their number to +4915199999999", "Anna changed their number to +4915199999999"},
		{"sticker pending", inbound(bridge.KindSticker, bridge.Content{Media: &bridge.Media{MIMEType: "image/webp"}}),
			"Sticker from Anna Example", "Anna Example sent a sticker.\n\n[the sticker could not be downloaded: it is not stored (yet)]"},
		{"gone file", inbound(bridge.KindVideo, bridge.Content{Media: &bridge.Media{MIMEType: "video/mp4", FileID: "f-broken-1"}}),
			"Video from Anna Example", "Anna Example sent a video.\n\n[the video could not be downloaded: the stored file is gone]"},
		{"forwarded", inbound(bridge.KindText, bridge.Content{Text: "look at this", Context: &bridge.Context{Forwarded: true}}),
			"WhatsApp from Anna Example: look at this", "[Forwarded]\n\nlook at this"},
		{"nameless", func() *bridge.Message {
			m := inbound(bridge.KindText, bridge.Content{Text: "hi"})
			m.ProfileName = ""
			return m
		}(), "WhatsApp from +4915112345678: hi", "hi"},
		{"outbound", func() *bridge.Message {
			m := inbound(bridge.KindText, bridge.Content{Text: "It ships today."})
			m.Direction = bridge.Outbound
			m.ProfileName = ""
			return m
		}(), "WhatsApp to +4915112345678: It ships today.", "It ships today."},
		{"encoded-word lookalike", inbound(bridge.KindText, bridge.Content{Text: "=?utf-8?q?fake?= (really)\r\nnext"}),
			"WhatsApp from Anna Example: =?utf-8?q?fake?= (really) next", "=?utf-8?q?fake?= (really)\nnext"},
		{"template", func() *bridge.Message {
			m := inbound(bridge.KindTemplate, bridge.Content{Template: &bridge.Template{Name: "order_update", Language: "en_US", Params: []string{"12345", "Monday"}}})
			m.Direction = bridge.Outbound
			return m
		}(), "WhatsApp template to Anna Example: order_update", "[Template order_update (en_US)]\n{{1}} 12345\n{{2}} Monday"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := Render(c.m, renderOpts())
			if err != nil {
				t.Fatal(err)
			}
			checkParsesBack(t, raw)
			p, err := Parse(bytes.NewReader(raw), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != c.subject {
				t.Errorf("subject %q, want %q", p.Subject, c.subject)
			}
			if p.Text != c.body {
				t.Errorf("body %q, want %q", p.Text, c.body)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	m := renderCases()["image_caption"]
	if _, err := Render(m, RenderOptions{}); err == nil {
		t.Error("no domain: no error")
	}
	if _, err := Render(m, RenderOptions{Domain: "wa.example.com"}); err == nil {
		t.Error("media without OpenFile: no error")
	}
	boom := errors.New("disk on fire")
	_, err := Render(m, RenderOptions{Domain: "wa.example.com", OpenFile: func(string) (io.ReadCloser, *bridge.File, error) {
		return nil, nil, boom
	}})
	if !errors.Is(err, boom) {
		t.Errorf("OpenFile error: %v", err)
	}
	if _, err := Render(renderCases()["text"], RenderOptions{Domain: "wa.example.com", To: "not an address"}); err == nil {
		t.Error("bad To: no error")
	}
}

func TestMessageIDFor(t *testing.T) {
	for _, w := range []string{
		"wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFjNFQjBDMEQ5RjE2QzQ1RDlFMzJBAA==",
		"weird id with spaces<>@\"and\"..dots.",
		".leading", "100%", "ünïcödé", "",
	} {
		id := MessageIDFor(w, "WA.Example.com")
		if _, err := (&mail.AddressParser{}).Parse(strings.Trim(id, "<>")); err != nil && w != "" {
			// msg-id syntax is addr-spec-like: net/mail must read it.
			t.Errorf("MessageIDFor(%q) = %q: %v", w, id, err)
		}
		if !strings.HasSuffix(id, "@wa.example.com>") {
			t.Errorf("MessageIDFor(%q) = %q", w, id)
		}
		if back, ok := WAMIDFromMessageID(id, "wa.example.com"); w != "" && (!ok || back != w) {
			t.Errorf("round trip of %q: %q %v", w, back, ok)
		}
	}
	if got := MessageIDFor("wamid.ABC=", "wa.example.com"); got != "<wamid.ABC=@wa.example.com>" {
		t.Errorf("wamid changed: %s", got)
	}
	if _, ok := WAMIDFromMessageID("<x@other.example>", "wa.example.com"); ok {
		t.Error("foreign domain accepted")
	}
}
