package catalog

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/templates"
)

// fakeSource lists a fixed catalogue, counting calls; gate, when set,
// holds each listing until closed.
type fakeSource struct {
	mu    sync.Mutex
	list  []*templates.Template
	err   error
	calls atomic.Int64
	gate  chan struct{}
}

func (f *fakeSource) ListTemplates(ctx context.Context) ([]*templates.Template, error) {
	f.calls.Add(1)
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.list, f.err
}

func (f *fakeSource) set(list []*templates.Template, err error) {
	f.mu.Lock()
	f.list, f.err = list, err
	f.mu.Unlock()
}

func tpl(t *testing.T, name, lang, status, category, body string) *templates.Template {
	t.Helper()
	comps := `[{"type":"BODY","text":` + quote(body) + exampleFor(body) + `}]`
	tp, err := templates.Parse(name+"-"+lang, name, lang, status, category, "POSITIONAL", []byte(comps))
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func exampleFor(body string) string {
	n := strings.Count(body, "{{")
	if n == 0 {
		return ""
	}
	ex := make([]string, n)
	for i := range ex {
		ex[i] = `"x"`
	}
	return `,"example":{"body_text":[[` + strings.Join(ex, ",") + `]]}`
}

func catalogue(t *testing.T) []*templates.Template {
	return []*templates.Template{
		tpl(t, "order_update", "en_US", "APPROVED", "UTILITY", "Your order {{1}} has shipped and arrives on {{2}}."),
		tpl(t, "order_update", "de_DE", "APPROVED", "UTILITY", "Ihre Bestellung {{1}} wurde versandt und kommt am {{2}} an."),
		tpl(t, "promo", "en_US", "APPROVED", "MARKETING", "Save {{1}} on your next order!"),
		tpl(t, "paused_one", "en_US", "PAUSED", "UTILITY", "Your ticket {{1}} was closed."),
		tpl(t, "short", "en_US", "APPROVED", "UTILITY", "Note: {{1}}"),
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
	}
}

// Many concurrent reads cause one listing; within the TTL none more.
func TestCacheOneListingForManyReads(t *testing.T) {
	src := &fakeSource{list: catalogue(t), gate: make(chan struct{})}
	c := NewCache(src, time.Hour, time.Second, nil)
	var wg sync.WaitGroup
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Get(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	waitUntil(t, "the listing to start", func() bool { return src.calls.Load() == 1 })
	close(src.gate)
	wg.Wait()
	for range 1000 {
		if _, err := c.Get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("%d listings for 2000 reads inside the TTL", n)
	}
}

// After the TTL the old snapshot is served while one refresh runs.
func TestCacheStaleWhileRevalidate(t *testing.T) {
	src := &fakeSource{list: catalogue(t)}
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	c := NewCache(src, time.Minute, time.Second, nil)
	c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	first, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	src.gate = make(chan struct{})
	src.mu.Unlock()
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	for range 10 {
		s, err := c.Get(context.Background())
		if err != nil || s != first {
			t.Fatalf("stale read: %v, same snapshot %v", err, s == first)
		}
	}
	waitUntil(t, "one background refresh", func() bool { return src.calls.Load() == 2 })
	close(src.gate)
	waitUntil(t, "the new snapshot", func() bool {
		s, _ := c.Get(context.Background())
		return s != first
	})
	if n := src.calls.Load(); n != 2 {
		t.Errorf("%d listings", n)
	}
}

// Invalidate makes the next read wait for a fresh listing; a refresh
// that started before the invalidation does not make the cache valid.
func TestCacheInvalidate(t *testing.T) {
	src := &fakeSource{list: catalogue(t)}
	c := NewCache(src, time.Hour, time.Second, nil)
	if _, err := c.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	paused := catalogue(t)
	paused[0] = tpl(t, "order_update", "en_US", "PAUSED", "UTILITY", "Your order {{1}} has shipped and arrives on {{2}}.")
	src.set(paused, nil)
	c.Invalidate("message_template_status_update")
	s, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Find("order_update", "en_US"); got == nil || got.Approved() {
		t.Errorf("after invalidation: %+v", got)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("%d listings", n)
	}

	// An invalidation while a listing is under way: that listing may
	// predate the change, so the next read lists again.
	src.mu.Lock()
	src.gate = make(chan struct{})
	src.mu.Unlock()
	c.Invalidate("one")
	done := make(chan struct{})
	go func() { c.Get(context.Background()); close(done) }()
	waitUntil(t, "the listing to start", func() bool { return src.calls.Load() == 3 })
	c.Invalidate("two")
	close(src.gate)
	<-done
	if c.Status().Valid {
		t.Error("a listing begun before an invalidation made the cache valid")
	}
	if _, err := c.Get(context.Background()); err != nil || src.calls.Load() != 4 {
		t.Errorf("read after: %v, %d listings", err, src.calls.Load())
	}
}

// A failed listing is reported and not retried before retry_after; with
// no valid snapshot, reads fail (the message is retried later).
func TestCacheFailure(t *testing.T) {
	src := &fakeSource{err: errors.New("(#80007) rate limit")}
	now := time.Unix(1000, 0)
	c := NewCache(src, time.Hour, time.Minute, nil)
	c.now = func() time.Time { return now }
	for range 5 {
		if _, err := c.Get(context.Background()); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("read: %v", err)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("%d listings within retry_after", n)
	}
	src.set(catalogue(t), nil)
	now = now.Add(2 * time.Minute)
	if _, err := c.Get(context.Background()); err != nil {
		t.Errorf("after retry_after: %v", err)
	}
}

func resolver(t *testing.T, cfg Config) (*Resolver, *fakeSource) {
	src := &fakeSource{list: catalogue(t)}
	cfg.Resolve = true
	return NewResolver(NewCache(src, time.Hour, time.Second, nil), cfg, nil), src
}

func text(to, origin, s string) *bridge.Message {
	return &bridge.Message{Business: "+15550100001", Customer: bridge.Customer{Phone: to}, Kind: bridge.KindText,
		Content: bridge.Content{Text: s}, Origin: origin}
}

func reasonOf(err error) bridge.Reason {
	var re *bridge.RefusedError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

func TestResolve(t *testing.T) {
	r, _ := resolver(t, Config{Languages: []string{"de_DE", "en_US"}, USMarketingBlocked: true})
	ctx := context.Background()

	got, rec, err := r.Resolve(ctx, text("+4915112345678", "api", "Your order 12345 has shipped and arrives on Monday."))
	if err != nil || got.Name != "order_update" || got.Language != "en_US" || strings.Join(got.Params, "|") != "12345|Monday" {
		t.Fatalf("match: %+v %v", got, err)
	}
	if rec.How != bridge.SentTemplateMatched || rec.Template != "order_update" || rec.Category != "UTILITY" {
		t.Errorf("record %+v", rec)
	}
	if _, rec, err := r.Resolve(ctx, text("+4915112345678", "api", "out of the blue")); reasonOf(err) != bridge.ReasonNoTemplate || rec.How != bridge.SentNone || rec.Why == "" {
		t.Errorf("no match: %v %+v", err, rec)
	}
	// A paused template is never used.
	if _, _, err := r.Resolve(ctx, text("+4915112345678", "api", "Your ticket 77 was closed.")); reasonOf(err) != bridge.ReasonNoTemplate {
		t.Errorf("paused template: %v", err)
	}
	// MARKETING to a US number: refused; to Canada and elsewhere: sent.
	if _, rec, err := r.Resolve(ctx, text("+12025550123", "api", "Save 10% on your next order!")); reasonOf(err) != bridge.ReasonUSMarketingBlocked || rec.Template != "promo" {
		t.Errorf("US marketing: %v %+v", err, rec)
	}
	for _, to := range []string{"+14165550123", "+4915112345678"} {
		if _, _, err := r.Resolve(ctx, text(to, "api", "Save 10% on your next order!")); err != nil {
			t.Errorf("marketing to %s: %v", to, err)
		}
	}
	// Utility templates go to US numbers.
	if _, _, err := r.Resolve(ctx, text("+12025550123", "api", "Your order 1 has shipped and arrives on Friday.")); err != nil {
		t.Errorf("utility to the US: %v", err)
	}
}

func TestResolvePins(t *testing.T) {
	r, _ := resolver(t, Config{Languages: []string{"en_US"}, ServiceType: func(m *bridge.Message) string { return string(m.OriginData) },
		Pins: []Pin{{Origin: "smpp:acme", Template: "short"}, {Origin: "smpp:acme", ServiceType: "ORD", Template: "order_update", Language: "de_DE"}}})
	ctx := context.Background()
	m := text("+4915112345678", "smpp:acme", "anything at all")
	got, rec, err := r.Resolve(ctx, m)
	if err != nil || got.Name != "short" || strings.Join(got.Params, "|") != "anything at all" || rec.How != bridge.SentTemplatePinned {
		t.Errorf("account pin: %+v %+v %v", got, rec, err)
	}
	m = text("+4915112345678", "smpp:acme", "Ihre Bestellung 9 wurde versandt und kommt am Montag an.")
	m.OriginData = []byte("ORD")
	if got, _, err := r.Resolve(ctx, m); err != nil || got.Name != "order_update" || got.Language != "de_DE" {
		t.Errorf("service_type pin: %+v %v", got, err)
	}
	m.Content.Text = "does not fit"
	if _, _, err := r.Resolve(ctx, m); reasonOf(err) != bridge.ReasonNoTemplate {
		t.Errorf("pinned template that does not fit: %v", err)
	}
	// Other origins match freely.
	if _, _, err := r.Resolve(ctx, text("+4915112345678", "smpp:other", "anything at all")); reasonOf(err) != bridge.ReasonNoTemplate {
		t.Errorf("unpinned origin: %v", err)
	}
}

func TestCheckExplicit(t *testing.T) {
	r, _ := resolver(t, Config{USMarketingBlocked: true})
	ctx := context.Background()
	msg := func(to, name, lang string) *bridge.Message {
		return &bridge.Message{Customer: bridge.Customer{Phone: to}, Kind: bridge.KindTemplate,
			Content: bridge.Content{Template: &bridge.Template{Name: name, Language: lang, Params: []string{"1", "2"}}}}
	}
	if rec, err := r.Check(ctx, msg("+4915112345678", "order_update", "en_US")); err != nil || rec.How != bridge.SentTemplateExplicit || rec.Category != "UTILITY" {
		t.Errorf("approved: %+v %v", rec, err)
	}
	for name, m := range map[string]*bridge.Message{
		"paused":   msg("+4915112345678", "paused_one", "en_US"),
		"missing":  msg("+4915112345678", "nope", "en_US"),
		"language": msg("+4915112345678", "promo", "fr_FR"),
	} {
		if rec, err := r.Check(ctx, m); reasonOf(err) != bridge.ReasonTemplateError || rec.Why == "" {
			t.Errorf("%s: %+v %v", name, rec, err)
		}
	}
	if _, err := r.Check(ctx, msg("+12025550123", "promo", "en_US")); reasonOf(err) != bridge.ReasonUSMarketingBlocked {
		t.Errorf("US marketing: %v", err)
	}
}

func TestIsUSNumber(t *testing.T) {
	for n, want := range map[string]bool{
		"+12025550123": true, "+13105550123": true, "+14165550123": false, "+16045550123": false,
		"+18765550123": false /* Jamaica */, "+4915112345678": false, "": false,
	} {
		if got := IsUSNumber(n); got != want {
			t.Errorf("IsUSNumber(%s) = %v", n, got)
		}
	}
}

// A template message becomes SMS text: its body with the parameters.
func TestRenderText(t *testing.T) {
	r, _ := resolver(t, Config{})
	got, err := r.RenderText(context.Background(), &bridge.Template{Name: "order_update", Language: "de_DE", Params: []string{"77", "Montag"}})
	if err != nil || got != "Ihre Bestellung 77 wurde versandt und kommt am Montag an." {
		t.Errorf("%q %v", got, err)
	}
	if _, err := r.RenderText(context.Background(), &bridge.Template{Name: "nope", Language: "en_US"}); err == nil {
		t.Error("an unknown template rendered")
	}
}
