package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/store"
)

// mediaSender is a scripted sender that also moves media.
type mediaSender struct {
	scriptedSender
	mu          sync.Mutex
	downloads   []error // scripted results, nil = success
	content     []byte
	uploads     [][]byte
	uploadErr   error
	downloadHit int
}

func (s *mediaSender) Upload(_ context.Context, _ string, f *bridge.File, r io.Reader) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uploadErr != nil {
		err := s.uploadErr
		s.uploadErr = nil
		return "", err
	}
	b, _ := io.ReadAll(r)
	s.uploads = append(s.uploads, b)
	return "meta-media-" + f.ID, nil
}

func (s *mediaSender) Download(_ context.Context, _, _ string, w io.Writer, max int64) (bridge.MediaInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.downloadHit++
	if len(s.downloads) > 0 {
		err := s.downloads[0]
		s.downloads = s.downloads[1:]
		if err != nil {
			return bridge.MediaInfo{}, err
		}
	}
	if int64(len(s.content)) > max {
		return bridge.MediaInfo{}, &bridge.SendError{Action: bridge.ActionPermanent, Reason: bridge.ReasonMediaUnavailable, Title: "too large"}
	}
	w.Write(s.content)
	return bridge.MediaInfo{MIMEType: "image/jpeg", Size: int64(len(s.content))}, nil
}

type mediaEnv struct {
	*env
	files  *store.Files
	sender *mediaSender
}

func newMediaEnv(t *testing.T, sender *mediaSender, retryFor time.Duration) *mediaEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), store.SQLiteConfig{Path: filepath.Join(dir, "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	files, err := st.Files(filepath.Join(dir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	b, err := bridge.New(bridge.Config{
		BusinessNumbers: []string{business}, MaxAttempts: 3, BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		PollInterval: 5 * time.Millisecond, MediaRetryFor: retryFor,
	}, st, sender, nil, bridge.WithClock(clk.now), bridge.WithFiles(files))
	if err != nil {
		t.Fatal(err)
	}
	return &mediaEnv{env: &env{t: t, st: st, b: b, sender: &sender.scriptedSender, clk: clk}, files: files, sender: sender}
}

func (e *mediaEnv) inboundImage(wamid string) bridge.MessageID {
	e.t.Helper()
	m := &bridge.Message{Business: business, Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindImage,
		Content: bridge.Content{Media: &bridge.Media{ID: "media-" + wamid, MIMEType: "image/jpeg", Caption: "look"}},
		WAMID:   wamid, Channel: bridge.ChannelWhatsApp, Timestamp: e.clk.now()}
	if err := e.b.HandleInbound(context.Background(), m); err != nil {
		e.t.Fatal(err)
	}
	return m.ID
}

func TestInboundMediaIsFetchedAndStored(t *testing.T) {
	e := newMediaEnv(t, &mediaSender{content: []byte("jpeg bytes"),
		downloads: []error{&bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError}}}, 0)
	e.run()
	id := e.inboundImage("wamid.img1")
	m := e.waitFor(id, func(m *bridge.Message) bool { return m.Content.Media.FileID != "" })
	r, f, err := e.files.Open(context.Background(), m.Content.Media.FileID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "jpeg bytes" || f.MIMEType != "image/jpeg" || m.Content.Media.Caption != "look" {
		t.Errorf("file %q %+v", got, f)
	}
	if e.sender.downloadHit != 2 {
		t.Errorf("downloads = %d, want 2 (one retry)", e.sender.downloadHit)
	}
}

func TestInboundMediaPermanentFailureIsVisible(t *testing.T) {
	e := newMediaEnv(t, &mediaSender{downloads: []error{&bridge.SendError{Action: bridge.ActionPermanent,
		Reason: bridge.ReasonMediaUnavailable, Title: "media id expired"}}}, 0)
	e.run()
	id := e.inboundImage("wamid.img2")
	m := e.waitFor(id, func(m *bridge.Message) bool { return m.Content.Media.FetchError != "" })
	if !strings.Contains(m.Content.Media.FetchError, "media_unavailable") || m.Content.Media.FileID != "" {
		t.Errorf("media %+v", m.Content.Media)
	}
}

// Temporary errors are retried only while Meta keeps the media id.
func TestInboundMediaGivesUpAfterRetryWindow(t *testing.T) {
	tmp := &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError, Title: "503"}
	e := newMediaEnv(t, &mediaSender{downloads: []error{tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp}}, time.Hour)
	id := e.inboundImage("wamid.img3")
	e.clk.add(2 * time.Hour)
	e.run()
	m := e.waitFor(id, func(m *bridge.Message) bool { return m.Content.Media.FetchError != "" })
	if !strings.Contains(m.Content.Media.FetchError, "gave up") {
		t.Errorf("fetch error %q", m.Content.Media.FetchError)
	}
}

// A stored file is uploaded once before the send; the send carries the
// provider's media id; a failed upload is retried and counts as an attempt.
func TestUploadBeforeSend(t *testing.T) {
	sender := &mediaSender{uploadErr: &bridge.SendError{Action: bridge.ActionRetry, Reason: bridge.ReasonUpstreamError, Code: 131000}}
	e := newMediaEnv(t, sender, 0)
	ctx := context.Background()
	w, _ := e.files.Create(ctx)
	w.Write(bytes.Repeat([]byte{0xff}, 1000))
	f, err := w.Commit(ctx, bridge.File{MIMEType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	e.inbound("+4915112345678", "wamid.window")
	e.run()
	id, _, err := e.b.Submit(ctx, &bridge.Message{Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindImage,
		Content: bridge.Content{Media: &bridge.Media{FileID: f.ID, Caption: "receipt"}}})
	if err != nil {
		t.Fatal(err)
	}
	m := e.waitFor(id, func(m *bridge.Message) bool { return m.WAMID != "" })
	if m.Content.Media.ID != "meta-media-"+f.ID || len(sender.uploads) != 1 || len(sender.uploads[0]) != 1000 {
		t.Errorf("media %+v, uploads %d", m.Content.Media, len(sender.uploads))
	}
	sent := sender.sent[len(sender.sent)-1]
	if sent.Content.Media.ID != "meta-media-"+f.ID || m.Content.Media.MIMEType != "image/png" || m.Content.Media.Size != 1000 {
		t.Errorf("sent media %+v", sent.Content.Media)
	}
}

func TestSubmitValidatesEveryKind(t *testing.T) {
	e := newMediaEnv(t, &mediaSender{}, 0)
	ctx := context.Background()
	png := func(size int) string {
		w, _ := e.files.Create(ctx)
		w.Write(bytes.Repeat([]byte{1}, size))
		f, _ := w.Commit(ctx, bridge.File{MIMEType: "image/png", Filename: "a.png"})
		return f.ID
	}
	small, big := png(100), png(int(5*bridge.MiB)+1)
	to := bridge.Customer{Phone: "+4915112345678"}
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	cases := []struct {
		name   string
		m      *bridge.Message
		reason bridge.Reason // "" = accepted
		field  string
	}{
		{"image file", &bridge.Message{Kind: bridge.KindImage, Content: bridge.Content{Media: &bridge.Media{FileID: small}}}, "", ""},
		{"image too large", &bridge.Message{Kind: bridge.KindImage, Content: bridge.Content{Media: &bridge.Media{FileID: big}}}, bridge.ReasonMediaTooLarge, "media"},
		{"png as video", &bridge.Message{Kind: bridge.KindVideo, Content: bridge.Content{Media: &bridge.Media{FileID: small}}}, bridge.ReasonMediaUnsupported, "media.mime_type"},
		{"no source", &bridge.Message{Kind: bridge.KindImage, Content: bridge.Content{Media: &bridge.Media{Caption: "x"}}}, bridge.ReasonInvalid, "media"},
		{"two sources", &bridge.Message{Kind: bridge.KindImage, Content: bridge.Content{Media: &bridge.Media{ID: "1", URL: "https://x.example/a.png"}}}, bridge.ReasonInvalid, "media"},
		{"unknown file", &bridge.Message{Kind: bridge.KindImage, Content: bridge.Content{Media: &bridge.Media{FileID: "fnope"}}}, bridge.ReasonInvalid, "media.file_id"},
		{"link", &bridge.Message{Kind: bridge.KindDocument, Content: bridge.Content{Media: &bridge.Media{URL: "https://x.example/a.pdf", Filename: "a.pdf"}}}, "", ""},
		{"bad link", &bridge.Message{Kind: bridge.KindDocument, Content: bridge.Content{Media: &bridge.Media{URL: "ftp://x/a.pdf"}}}, bridge.ReasonInvalid, "media.url"},
		{"caption on audio", &bridge.Message{Kind: bridge.KindAudio, Content: bridge.Content{Media: &bridge.Media{ID: "1", Caption: "x"}}}, bridge.ReasonInvalid, "media.caption"},
		{"caption too long", &bridge.Message{Kind: bridge.KindImage, Content: bridge.Content{Media: &bridge.Media{ID: "1", Caption: strings.Repeat("a", 1025)}}}, bridge.ReasonInvalid, "media.caption"},
		{"filename on image", &bridge.Message{Kind: bridge.KindImage, Content: bridge.Content{Media: &bridge.Media{ID: "1", Filename: "a.png"}}}, bridge.ReasonInvalid, "media.filename"},
		{"location", &bridge.Message{Kind: bridge.KindLocation, Content: bridge.Content{Location: &bridge.Location{Latitude: 52.52, Longitude: 13.40, Name: "Office"}}}, "", ""},
		{"location out of range", &bridge.Message{Kind: bridge.KindLocation, Content: bridge.Content{Location: &bridge.Location{Latitude: 91}}}, bridge.ReasonInvalid, "location"},
		{"contacts", &bridge.Message{Kind: bridge.KindContacts, Content: bridge.Content{Contacts: raw(`[{"name":{"formatted_name":"Anna Muster"},"phones":[{"phone":"+4915112345678","type":"CELL"}]}]`)}}, "", ""},
		{"contact without name", &bridge.Message{Kind: bridge.KindContacts, Content: bridge.Content{Contacts: raw(`[{"phones":[]}]`)}}, bridge.ReasonInvalid, "contacts[0].name.formatted_name"},
		{"buttons", &bridge.Message{Kind: bridge.KindInteractive, Content: bridge.Content{Interactive: raw(`{"type":"button","body":{"text":"Pick"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"Yes"}},{"type":"reply","reply":{"id":"b","title":"No"}}]}}`)}}, "", ""},
		{"four buttons", &bridge.Message{Kind: bridge.KindInteractive, Content: bridge.Content{Interactive: raw(`{"type":"button","body":{"text":"Pick"},"action":{"buttons":[{"reply":{"id":"a","title":"1"}},{"reply":{"id":"b","title":"2"}},{"reply":{"id":"c","title":"3"}},{"reply":{"id":"d","title":"4"}}]}}`)}}, bridge.ReasonInvalid, "interactive.action.buttons"},
		{"list", &bridge.Message{Kind: bridge.KindInteractive, Content: bridge.Content{Interactive: raw(`{"type":"list","body":{"text":"Menu"},"action":{"button":"Choose","sections":[{"title":"A","rows":[{"id":"1","title":"One","description":"first"}]}]}}`)}}, "", ""},
		{"list title too long", &bridge.Message{Kind: bridge.KindInteractive, Content: bridge.Content{Interactive: raw(`{"type":"list","body":{"text":"Menu"},"action":{"button":"Choose","sections":[{"rows":[{"id":"1","title":"` + strings.Repeat("x", 25) + `"}]}]}}`)}}, bridge.ReasonInvalid, "interactive.action.sections[0].rows[0]"},
		{"cta_url", &bridge.Message{Kind: bridge.KindInteractive, Content: bridge.Content{Interactive: raw(`{"type":"cta_url","body":{"text":"Track"},"action":{"name":"cta_url","parameters":{"display_text":"Open","url":"https://x.example/t/1"}}}`)}}, "", ""},
		{"interactive without body", &bridge.Message{Kind: bridge.KindInteractive, Content: bridge.Content{Interactive: raw(`{"type":"button","action":{}}`)}}, bridge.ReasonInvalid, "interactive.body.text"},
		{"reaction", &bridge.Message{Kind: bridge.KindReaction, Content: bridge.Content{Reaction: &bridge.Reaction{MessageID: "wamid.x", Emoji: "👍"}}}, "", ""},
		{"reaction removal", &bridge.Message{Kind: bridge.KindReaction, Content: bridge.Content{Reaction: &bridge.Reaction{MessageID: "wamid.x"}}}, "", ""},
		{"reaction without target", &bridge.Message{Kind: bridge.KindReaction, Content: bridge.Content{Reaction: &bridge.Reaction{Emoji: "👍"}}}, bridge.ReasonInvalid, "reaction.message_id"},
		{"inbound-only kind", &bridge.Message{Kind: bridge.KindSystem}, bridge.ReasonInvalid, "type"},
	}
	for _, c := range cases {
		c.m.Customer = to
		_, _, err := e.b.Submit(ctx, c.m)
		var re *bridge.RefusedError
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.reason != "" && (!errors.As(err, &re) || re.Reason != c.reason || re.Field != c.field):
			t.Errorf("%s: %v, want %s on %s", c.name, err, c.reason, c.field)
		}
	}
}

// A media fetch job committed with the message survives a stop before the
// download: after a restart on the same files the media is fetched.
func TestMediaFetchSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() (*store.SQLite, *store.Files) {
		st, err := store.OpenSQLite(ctx, store.SQLiteConfig{Path: filepath.Join(dir, "w.db")})
		if err != nil {
			t.Fatal(err)
		}
		files, err := st.Files(filepath.Join(dir, "media"))
		if err != nil {
			t.Fatal(err)
		}
		return st, files
	}
	st, files := open()
	b, _ := bridge.New(bridge.Config{BusinessNumbers: []string{business}}, st, &mediaSender{}, nil, bridge.WithFiles(files))
	in := &bridge.Message{Business: business, Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindDocument,
		Content: bridge.Content{Media: &bridge.Media{ID: "m1", MIMEType: "application/pdf", Filename: "a.pdf"}},
		WAMID:   "wamid.doc", Channel: bridge.ChannelWhatsApp, Timestamp: time.Now()}
	if err := b.HandleInbound(ctx, in); err != nil { // acknowledged; never run
		t.Fatal(err)
	}
	st.Close()

	st, files = open()
	defer st.Close()
	sender := &mediaSender{content: []byte("%PDF-1.7 …")}
	e := &env{t: t, st: st, sender: &sender.scriptedSender, clk: &clock{}}
	e.b, _ = bridge.New(bridge.Config{BusinessNumbers: []string{business}, PollInterval: 5 * time.Millisecond}, st, sender, nil, bridge.WithFiles(files))
	e.run()
	m := e.waitFor(in.ID, func(m *bridge.Message) bool { return m.Content.Media.FileID != "" })
	if m.Content.Media.Filename != "a.pdf" || sender.downloadHit != 1 {
		t.Errorf("media %+v after %d downloads", m.Content.Media, sender.downloadHit)
	}
}
