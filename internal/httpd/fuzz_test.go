package httpd

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/wabridge/wabridge/adapters/whatsapp"
	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/metrics"
)

// memStore is an in-memory bridge.Store holding just what the REST path
// needs (CreateOutbound with idempotency, Message by id or wamid), so the
// fuzz target runs the real bridge.Submit validation without disk I/O.
type memStore struct {
	mu      sync.Mutex
	byID    map[bridge.MessageID]*bridge.Message
	byWAMID map[string]*bridge.Message
	byKey   map[string]bridge.MessageID
}

var _ bridge.Store = (*memStore)(nil)

func (s *memStore) init() {
	if s.byID == nil {
		s.byID, s.byWAMID, s.byKey = map[bridge.MessageID]*bridge.Message{}, map[string]*bridge.Message{}, map[string]bridge.MessageID{}
	}
}

func (s *memStore) put(m *bridge.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.byID[m.ID] = m
	if m.WAMID != "" {
		s.byWAMID[m.WAMID] = m
	}
}

func (s *memStore) CreateOutbound(_ context.Context, m *bridge.Message) (bridge.MessageID, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	key := m.Origin + "\x00" + m.IdempotencyKey
	if m.IdempotencyKey != "" {
		if id, ok := s.byKey[key]; ok {
			return id, false, nil
		}
		s.byKey[key] = m.ID
	}
	s.byID[m.ID] = m
	return m.ID, true, nil
}

func (s *memStore) Message(_ context.Context, ref string) (*bridge.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.byID[bridge.MessageID(ref)]; ok {
		return m, nil
	}
	if m, ok := s.byWAMID[ref]; ok {
		return m, nil
	}
	return nil, bridge.ErrNotFound
}

func (s *memStore) MessageByKey(_ context.Context, origin, key string) (*bridge.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byKey[origin+"\x00"+key]; ok {
		return s.byID[id], nil
	}
	return nil, bridge.ErrNotFound
}

func (s *memStore) RecordSend(context.Context, bridge.MessageID, *bridge.SendRecord) error {
	return nil
}

func (s *memStore) Consent(context.Context, string) (*bridge.Consent, error) {
	return nil, bridge.ErrNotFound
}

func (s *memStore) SetConsent(context.Context, bridge.Consent) (bool, error) { return true, nil }

func (s *memStore) Initiate(context.Context, string, time.Time, int) (bool, error) { return true, nil }

func (s *memStore) Fallback(context.Context, bridge.MessageID, bridge.Trigger, string, time.Time) (*bridge.Message, bool, error) {
	return nil, false, nil
}

func (s *memStore) SMSSubmitted(context.Context, bridge.MessageID, string, []string, time.Time) (*bridge.Message, error) {
	return nil, nil
}

func (s *memStore) IngestSMS(context.Context, []bridge.SMSEvent) (bridge.IngestOutcome, error) {
	return bridge.IngestOutcome{}, nil
}

func (s *memStore) LastInboundChannel(context.Context, string, string) (bridge.Channel, error) {
	return "", nil
}

func (s *memStore) Ingest(context.Context, []bridge.Event) (bridge.IngestOutcome, error) {
	return bridge.IngestOutcome{}, nil
}
func (s *memStore) LastInbound(context.Context, string, string) (time.Time, error) {
	return time.Time{}, nil
}
func (s *memStore) ClaimSends(context.Context, time.Time, int, time.Duration) ([]bridge.SendJob, error) {
	return nil, nil
}
func (s *memStore) StartAttempt(context.Context, bridge.MessageID, time.Time, *bridge.SendRecord, time.Time) error {
	return nil
}
func (s *memStore) Accepted(context.Context, bridge.MessageID, string, time.Time) (bool, error) {
	return false, nil
}
func (s *memStore) Retry(context.Context, bridge.MessageID, time.Time, string) error { return nil }
func (s *memStore) Defer(context.Context, bridge.MessageID, time.Time, string) error { return nil }
func (s *memStore) Fail(context.Context, bridge.MessageID, bridge.Reason, int, string, time.Time) (*bridge.Message, bool, error) {
	return nil, false, nil
}
func (s *memStore) ClaimJobs(context.Context, string, time.Time, int, time.Duration) ([]bridge.Job, error) {
	return nil, nil
}
func (s *memStore) RetryJob(context.Context, string, string, time.Time, string) error { return nil }
func (s *memStore) EnqueueJob(context.Context, string, string, time.Time) error       { return nil }
func (s *memStore) FinishJob(context.Context, string, string) error                   { return nil }
func (s *memStore) FinishJobs(context.Context, string, []string) error                { return nil }
func (s *memStore) AddPart(context.Context, *bridge.Part, func([]bridge.Part) (*bridge.Message, error)) (bridge.MessageID, *bridge.Message, error) {
	return "", nil, errors.New("no parts")
}
func (s *memStore) ExpireParts(context.Context, time.Time) ([]bridge.Part, error) { return nil, nil }
func (s *memStore) Part(context.Context, bridge.MessageID) (*bridge.Part, error) {
	return nil, bridge.ErrNotFound
}
func (s *memStore) DeletePart(context.Context, bridge.MessageID) error       { return nil }
func (s *memStore) ReleaseJob(context.Context, string, string, string) error { return nil }
func (s *memStore) CancelQueued(context.Context, bridge.MessageID, time.Time) (*bridge.Message, error) {
	return nil, bridge.ErrNotCancellable
}
func (s *memStore) UpdateMedia(context.Context, bridge.MessageID, func(*bridge.Media), string) (*bridge.Message, error) {
	return nil, bridge.ErrNotFound
}
func (s *memStore) OutboxDepth(context.Context) (int, error)      { return 0, nil }
func (s *memStore) Purge(context.Context, time.Time) (int, error) { return 0, nil }
func (s *memStore) Ping(context.Context) error                    { return nil }

func (s *memStore) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

func (s *memStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID, s.byWAMID, s.byKey = nil, nil, nil
}

// inboundForReplies is a stored inbound message that reply_to may name.
var inboundForReplies = &bridge.Message{ID: "01inboundmessage0000000000", Direction: bridge.Inbound,
	WAMID: "wamid.IN1", Business: testBusiness, Customer: bridge.Customer{Phone: testCustomer},
	Kind: bridge.KindText, Status: bridge.StatusReceived}

// memServer is a Server over memStore, driven without a listener.
func memServer(tb testing.TB) (*Server, *memStore) {
	tb.Helper()
	st := &memStore{}
	st.put(inboundForReplies)
	b, err := bridge.New(bridge.Config{BusinessNumbers: []string{testBusiness, testBusiness2}}, st, &recordingSender{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Config{Tokens: []string{testTokenA}, AppSecret: testAppSecret},
		Deps{Bridge: b, Parser: whatsapp.NewParser(nil), Metrics: metrics.New()}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	return s, st
}

// serveInMemory runs the server's whole handler chain (recoverer, router,
// auth, postMessage) on a request built in memory.
func serveInMemory(s *Server, method, uri string, body []byte) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	req.Header.Set("Authorization", "Bearer "+testTokenA)
	req.Header.SetContentType("application/json")
	req.SetBody(body)
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, nil, nil)
	s.srv.Handler(ctx)
	return ctx
}

var sendSeeds = []string{
	`{"to":"+4915112345678","text":"Hello"}`,
	`{"to":"+49 (151) 1234-5678","from":"+15550100002","text":"Hello https://example.com","preview_url":true}`,
	`{"to":"US.13491208655302741918","text":"Hi"}`,
	`{"to":"+4915112345678","text":"Yes","reply_to":"wamid.IN1"}`,
	`{"to":"+4915112345678","text":"Yes","reply_to":"01inboundmessage0000000000"}`,
	`{"to":"+4915112345678","text":"Yes","reply_to":"wamid.nope"}`,
	`{"to":"+4915112345678","text":"Hello","idempotency_key":"k1"}`,
	`{"to":"+4915112345678","template":{"name":"hello_world","language":"en_US"}}`,
	`{"to":"+4915112345678","template":{"name":"order","language":"de","params":["Jo","42"],"header":{"type":"image","id":"1"},"buttons":[{"sub_type":"quick_reply","index":0,"payload":"yes"}]}}`,
	`{"to":"+4915112345678","template":{"name":"order","language":"de","params":{"first_name":"Jo"},"header":{"type":"text","text":"Hi"}}}`,
	`{"to":"+4915112345678","template":{"name":"order","language":"de","header":{"type":"document","link":"https://example.com/a.pdf","filename":"a.pdf"}}}`,
	`{"to":"+4915112345678","template":{"name":"order","language":"de","header":{"type":"video"}}}`,
	`{"to":"+4915112345678","template":{"name":"order","language":"de","buttons":[{"sub_type":"call","index":0,"payload":"x"}]}}`,
	`{"to":"+4915112345678","template":{"name":"order","language":"de","params":"x"}}`,
	`{"to":"+4915112345678","template":{"name":7}}`,
	`{"to":"+4915112345678","media":{"type":"image","id":"1"}}`,
	`{"to":"+4915112345678","location":{"latitude":1,"longitude":2}}`,
	`{"to":"+4915112345678","contacts":[]}`,
	`{"to":"+4915112345678","interactive":{}}`,
	`{"to":"+4915112345678","reaction":{"message_id":"wamid.IN1","emoji":"👍"}}`,
	`{"to":"+4915112345678","text":"a","template":{"name":"a","language":"en"}}`,
	`{"to":"+4915112345678","text":"Hello","bogus":true}`,
	`{"to":4915112345678,"text":"Hello"}`,
	`{"to":"+49abc","text":"Hello"}`,
	`{"to":"+4915112345678","text":""}`,
	`{"to":"+4915112345678","from":"+15550109999","text":"x"}`,
	`{"to":"+4915112345678","text":"Hello"} trailing`,
	`[]`, `null`, `""`, `{}`, `{"to":null,"text":null}`, ``, `{"to":"+4915112345678","text":"\ud800"}`,
}

// FuzzSendRequest: POST /api/v1/messages never panics (the recoverer would
// turn a panic into a 500) and never answers 5xx; every refusal is a clean
// 4xx with the API's error shape; every accepted request is a committed
// message that passes the bridge's validation rules.
func FuzzSendRequest(f *testing.F) {
	for _, s := range sendSeeds {
		f.Add([]byte(s))
	}
	s, st := memServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if st.size() > 10000 {
			st.reset()
			st.put(inboundForReplies)
		}
		ctx := serveInMemory(s, fasthttp.MethodPost, "/api/v1/messages", body)
		code := ctx.Response.StatusCode()
		out := ctx.Response.Body()
		if ct := string(ctx.Response.Header.ContentType()); ct != "application/json" {
			t.Fatalf("%d with Content-Type %q", code, ct)
		}
		switch code {
		case fasthttp.StatusOK, fasthttp.StatusAccepted:
			checkAccepted(t, st, body, out, code)
		case fasthttp.StatusBadRequest, fasthttp.StatusUnprocessableEntity:
			var e errorBody
			if err := json.Unmarshal(out, &e); err != nil || e.Error.Reason != string(bridge.ReasonInvalid) || e.Error.Message == "" {
				t.Fatalf("%d with body %q (%v)", code, out, err)
			}
			if code == fasthttp.StatusUnprocessableEntity && e.Error.Field == "" {
				t.Fatalf("422 without the unsupported field: %s", out)
			}
		default:
			t.Fatalf("status %d for %q: %s", code, body, out)
		}
	})
}

func checkAccepted(t *testing.T, st *memStore, body, out []byte, code int) {
	t.Helper()
	var res struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.ID == "" {
		t.Fatalf("%d without id: %s", code, out)
	}
	m, err := st.Message(context.Background(), res.ID)
	if err != nil {
		t.Fatalf("%d for id %s that is not stored", code, res.ID)
	}
	// The request was one strict JSON object, so encoding/json accepts it
	// whole (no trailing data).
	var req sendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatalf("accepted a body encoding/json refuses: %v", err)
	}
	if code == fasthttp.StatusOK {
		if req.IdempotencyKey == "" || m.IdempotencyKey != req.IdempotencyKey {
			t.Fatalf("200 for key %q returned a message with key %q", req.IdempotencyKey, m.IdempotencyKey)
		}
		return
	}
	// bridge.Submit's rules, restated.
	switch {
	case m.Direction != bridge.Outbound || m.Status != bridge.StatusQueued || m.Origin != "api":
		t.Fatalf("accepted message %+v", m)
	case m.Business != testBusiness && m.Business != testBusiness2:
		t.Fatalf("business %q", m.Business)
	case m.Customer.IsZero():
		t.Fatal("no recipient")
	case m.Customer.Phone != "" && bridge.NormalizePhone(m.Customer.Phone) != m.Customer.Phone:
		t.Fatalf("phone %q not normalized", m.Customer.Phone)
	case m.Customer.Phone == "" && !bridge.IsBSUID(m.Customer.BSUID):
		t.Fatalf("BSUID %q", m.Customer.BSUID)
	case len(m.IdempotencyKey) > 200:
		t.Fatal("idempotency key over 200")
	}
	switch m.Kind {
	case bridge.KindText:
		if m.Content.Text == "" || utf8.RuneCountInString(m.Content.Text) > bridge.MaxTextLength || m.Content.Template != nil {
			t.Fatalf("text content %+v", m.Content)
		}
	case bridge.KindTemplate:
		tp := m.Content.Template
		if tp == nil || tp.Name == "" || tp.Language == "" || len(tp.Params) > 0 && len(tp.NamedParams) > 0 || m.Content.Text != "" {
			t.Fatalf("template content %+v", m.Content)
		}
		if hm := tp.HeaderMedia; hm != nil && ((hm.ID == "") == (hm.Link == "") || hm.Type != "image" && hm.Type != "video" && hm.Type != "document") {
			t.Fatalf("header media %+v", hm)
		}
		for i, p := range tp.Params {
			if p == "" {
				t.Fatalf("empty parameter %d", i)
			}
		}
		for _, b := range tp.Buttons {
			if b.SubType != "quick_reply" && b.SubType != "url" && b.SubType != "copy_code" || b.Index < 0 || b.Payload == "" {
				t.Fatalf("button %+v", b)
			}
		}
	case bridge.KindLocation:
		if l := m.Content.Location; l == nil || l.Latitude < -90 || l.Latitude > 90 || l.Longitude < -180 || l.Longitude > 180 {
			t.Fatalf("location %+v", m.Content.Location)
		}
	case bridge.KindContacts, bridge.KindInteractive:
		if !json.Valid(m.Content.Contacts) && !json.Valid(m.Content.Interactive) {
			t.Fatalf("%s content is not JSON", m.Kind)
		}
	case bridge.KindReaction:
		if m.Content.Reaction == nil || m.Content.Reaction.MessageID != inboundForReplies.WAMID {
			t.Fatalf("reaction %+v", m.Content.Reaction)
		}
	case bridge.KindImage, bridge.KindVideo, bridge.KindAudio, bridge.KindDocument, bridge.KindSticker:
		md := m.Content.Media
		if md == nil || (md.ID == "") == (md.URL == "") || md.FileID != "" {
			t.Fatalf("media %+v", md)
		}
	default:
		t.Fatalf("accepted kind %q", m.Kind)
	}
	if req.ReplyTo != "" && (m.Content.Context == nil || m.Content.Context.WAMID != inboundForReplies.WAMID) {
		t.Fatalf("reply_to %q gave context %+v", req.ReplyTo, m.Content.Context)
	}
	if req.ReplyTo == "" && m.Content.Context != nil {
		t.Fatalf("context without reply_to: %+v", m.Content.Context)
	}
}

// The seeds, as a plain test: every one ends in the documented codes.
func TestSendSeedsInMemory(t *testing.T) {
	s, _ := memServer(t)
	for _, body := range sendSeeds {
		ctx := serveInMemory(s, fasthttp.MethodPost, "/api/v1/messages", []byte(body))
		if c := ctx.Response.StatusCode(); c >= 500 {
			t.Errorf("%s: %d %s", body, c, ctx.Response.Body())
		}
	}
}
