package smsc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/sms"
)

var _ bridge.SMSRoute = (*Client)(nil)

func TestNewValidates(t *testing.T) {
	h := func(context.Context, []bridge.SMSEvent) error { return nil }
	for name, cfg := range map[string]Config{
		"no name":        {Host: "h", Port: 1, SystemID: "s"},
		"no host":        {Name: "n", Port: 1, SystemID: "s"},
		"bad port":       {Name: "n", Host: "h", Port: 70000, SystemID: "s"},
		"no system id":   {Name: "n", Host: "h", Port: 1},
		"long password":  {Name: "n", Host: "h", Port: 1, SystemID: "s", Password: "123456789"},
		"bad dc0":        {Name: "n", Host: "h", Port: 1, SystemID: "s", DataCoding0: sms.CodingUCS2},
		"bad default":    {Name: "n", Host: "h", Port: 1, SystemID: "s", DefaultSource: "way too long sender"},
		"neg throughput": {Name: "n", Host: "h", Port: 1, SystemID: "s", Throughput: -1},
	} {
		if _, err := New(cfg, h, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := New(Config{Name: "n", Host: "h", Port: 1, SystemID: "s"}, nil, nil); err == nil {
		t.Error("nil handle accepted")
	}
	c, err := New(Config{Name: "n", Host: "h", Port: 1, SystemID: "s"}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Window != DefaultWindow || c.cfg.EnquireLink != DefaultEnquireLink || c.cfg.ResponseTimeout != DefaultResponseTimeout ||
		c.cfg.ReconnectMin != DefaultReconnectMin || c.cfg.ReconnectMax != DefaultReconnectMax || c.Name() != "n" {
		t.Errorf("defaults not applied: %+v", c.cfg)
	}
	// Close without Start.
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubmitSMS(context.Background(), bridge.SMS{From: "+1", To: "+2", Text: "x"}); err == nil {
		t.Fatal("submit after Close succeeded")
	}
}

func TestBindWrongPasswordRetriesThenBinds(t *testing.T) {
	f := newFakeSMSC(t)
	f.password.Store("other")
	c, logs := startClient(t, f, nil, nil)
	eventually(t, "several bind attempts", func() bool { return f.bindAttempts.Load() >= 3 })
	if c.Ready() {
		t.Fatal("Ready with a refused bind")
	}
	if l := logs.String(); !strings.Contains(l, "bind refused") || !strings.Contains(l, "ESME_RINVPASWD") ||
		!strings.Contains(l, "retry_in") {
		t.Fatalf("refused bind not logged:\n%s", l)
	}
	f.password.Store("secret")
	f.waitBound()
	eventually(t, "Ready", c.Ready)
}

func TestSubmitShortGSM(t *testing.T) {
	f := newFakeSMSC(t)
	c, _ := startClient(t, f, nil, nil)
	ids, err := submit(t, c, bridge.SMS{ID: "m1", From: "+4915100000001", To: "+4917600000002", Text: "Hello {world} €5"})
	if err != nil {
		t.Fatal(err)
	}
	subs := f.allSubmits()
	if len(subs) != 1 || len(ids) != 1 || ids[0] != subs[0].id || ids[0] == "" {
		t.Fatalf("ids %v, submits %v", ids, subs)
	}
	s := subs[0]
	if s.src != "4915100000001" || s.srcTON != 1 || s.srcNPI != 1 || s.dst != "4917600000002" || s.dstTON != 1 || s.dstNPI != 1 {
		t.Errorf("addresses: %+v", s)
	}
	if s.esm != 0 || s.rd != 1 || s.dc != 0 || s.udh != nil {
		t.Errorf("esm %#x rd %d dc %d udh %x", s.esm, s.rd, s.dc, s.udh)
	}
	if text, err := sms.Decode(sms.CodingDefault, s.data, sms.CodingDefault); err != nil || text != "Hello {world} €5" {
		t.Errorf("text %q, %v", text, err)
	}
}

// checkConcat verifies the parts of one long message: esm_class 0x40, one
// reference, total and sequence in the UDH, at most max octets of text per
// part, and the text back when decoded.
func checkConcat(t *testing.T, subs []fakeSubmit, text string, coding sms.Coding, maxOctets int) {
	t.Helper()
	var joined []byte
	for i, s := range subs {
		if s.esm != 0x40 || s.rd != 1 || s.dc != byte(coding) {
			t.Fatalf("part %d: esm %#x rd %d dc %d", i+1, s.esm, s.rd, s.dc)
		}
		if len(s.udh) != 6 || s.udh[0] != 5 || s.udh[1] != 0 || s.udh[2] != 3 || s.udh[3] != subs[0].udh[3] ||
			int(s.udh[4]) != len(subs) || int(s.udh[5]) != i+1 {
			t.Fatalf("part %d: UDH % x", i+1, s.udh)
		}
		if len(s.data) > maxOctets {
			t.Fatalf("part %d has %d octets", i+1, len(s.data))
		}
		// Each part decodes on its own: nothing is cut in the middle.
		if _, err := sms.Decode(coding, s.data, sms.CodingDefault); err != nil {
			t.Fatalf("part %d does not decode alone: %v", i+1, err)
		}
		joined = append(joined, s.data...)
	}
	if got, err := sms.Decode(coding, joined, sms.CodingDefault); err != nil || got != text {
		t.Fatalf("joined text %q, %v", got, err)
	}
}

func TestSubmitLongGSM(t *testing.T) {
	f := newFakeSMSC(t)
	c, _ := startClient(t, f, nil, nil)
	// Septet 153 would be the escape of '€': it moves whole to part 2.
	text := strings.Repeat("a", 152) + "€" + strings.Repeat("b", 160)
	ids, err := submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	subs := f.allSubmits()
	if len(subs) != 3 || len(ids) != 3 {
		t.Fatalf("%d parts, ids %v", len(subs), ids)
	}
	for i, s := range subs {
		if ids[i] != s.id {
			t.Errorf("ids %v, part %d has %q", ids, i+1, s.id)
		}
	}
	checkConcat(t, subs, text, sms.CodingDefault, 153)
	if len(subs[0].data) != 152 || subs[1].data[0] != 0x1B || len(subs[1].data) != 153 {
		t.Fatalf("part sizes %d/%d/%d, part 2 starts % x", len(subs[0].data), len(subs[1].data), len(subs[2].data), subs[1].data[:2])
	}
	// A second long message gets a fresh reference.
	if _, err := submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: strings.Repeat("x", 200)}); err != nil {
		t.Fatal(err)
	}
	subs = f.allSubmits()
	if len(subs) != 5 || subs[3].udh[3] == subs[0].udh[3] {
		t.Fatalf("second message: %v", subs[3:])
	}
}

func TestSubmitUCS2Emoji(t *testing.T) {
	f := newFakeSMSC(t)
	c, _ := startClient(t, f, nil, nil)
	// Unit 67 would be the high surrogate of the emoji: the pair moves to part 2.
	text := strings.Repeat("你", 66) + "😀" + strings.Repeat("好", 80)
	ids, err := submit(t, c, bridge.SMS{From: "4915100000001", To: "+4917600000002", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	subs := f.allSubmits()
	if len(subs) != 3 || len(ids) != 3 {
		t.Fatalf("%d parts, ids %v", len(subs), ids)
	}
	checkConcat(t, subs, text, sms.CodingUCS2, 134)
	if len(subs[0].data) != 132 || subs[1].data[0] != 0xD8 || len(subs[1].data) != 134 {
		t.Fatalf("part sizes %d/%d/%d", len(subs[0].data), len(subs[1].data), len(subs[2].data))
	}
	// A short UCS-2 text is one part without UDH.
	if _, err := submit(t, c, bridge.SMS{From: "4915100000001", To: "+4917600000002", Text: "Привет 👋"}); err != nil {
		t.Fatal(err)
	}
	if s := f.allSubmits()[3]; s.dc != 8 || s.esm != 0 || s.udh != nil {
		t.Fatalf("short UCS-2: %v", s)
	}
}

func TestSubmitSource(t *testing.T) {
	f := newFakeSMSC(t)
	alpha, _ := startClient(t, f, nil, func(c *Config) { c.AllowAlphanumericSource = true })
	if _, err := submit(t, alpha, bridge.SMS{From: "ACME Shop", To: "+4917600000002", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	s := f.allSubmits()[0]
	if s.src != "ACME Shop" || s.srcTON != 5 || s.srcNPI != 0 {
		t.Fatalf("alphanumeric source: %v ton %d npi %d", s.src, s.srcTON, s.srcNPI)
	}
	// Too long for a sender id even where allowed.
	_, err := submit(t, alpha, bridge.SMS{From: "ACME Shop Berlin", To: "+4917600000002", Text: "hi"})
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Action != bridge.ActionPermanent || se.Reason != bridge.ReasonInvalid {
		t.Fatalf("long sender: %v", err)
	}

	f2 := newFakeSMSC(t)
	strict, _ := startClient(t, f2, nil, nil)
	_, err = submit(t, strict, bridge.SMS{From: "ACME", To: "+4917600000002", Text: "hi"})
	if !errors.As(err, &se) || se.Action != bridge.ActionPermanent || se.Reason != bridge.ReasonInvalid {
		t.Fatalf("alphanumeric on a strict route: %v", err)
	}
	_, err = submit(t, strict, bridge.SMS{From: "+4915100000001", To: "017600000002x", Text: "hi"})
	if !errors.As(err, &se) || se.Reason != bridge.ReasonInvalid {
		t.Fatalf("bad destination: %v", err)
	}
	if n := len(f2.allSubmits()); n != 0 {
		t.Fatalf("%d refused messages submitted", n)
	}

	f3 := newFakeSMSC(t)
	def, _ := startClient(t, f3, nil, func(c *Config) { c.DefaultSource = "+4930123456" })
	if _, err := submit(t, def, bridge.SMS{From: "ACME", To: "+4917600000002", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if s := f3.allSubmits()[0]; s.src != "4930123456" || s.srcTON != 1 || s.srcNPI != 1 {
		t.Fatalf("default source: %v", s)
	}
}

func TestSubmitConcurrent(t *testing.T) {
	f := newFakeSMSC(t)
	c, _ := startClient(t, f, nil, func(c *Config) { c.Throughput = 2000; c.Window = 4 })
	const n = 40
	var wg sync.WaitGroup
	results := make([][]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := fmt.Sprintf("message %d ", i)
			if i%4 == 0 {
				text = strings.Repeat(text, 20) // several parts
			}
			results[i], errs[i] = submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: text})
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("submit %d: %v", i, errs[i])
		}
		for _, id := range results[i] {
			if seen[id] || id == "" {
				t.Fatalf("id %q repeated or empty", id)
			}
			seen[id] = true
			total++
		}
	}
	if subs := f.allSubmits(); len(subs) != total {
		t.Fatalf("%d submits for %d ids", len(subs), total)
	}
}

func TestSubmitThrottledRetriesSamePart(t *testing.T) {
	f := newFakeSMSC(t)
	f.setOnSubmit(func(_ *fakeConn, _ fakeSubmit, n int) submitAction {
		switch n {
		case 1:
			return submitAction{status: data.ESME_RTHROTTLED}
		case 2:
			return submitAction{status: data.ESME_RMSGQFUL, bodyless: true}
		}
		return submitAction{}
	})
	var mu sync.Mutex
	seen := map[string]int{}
	c, logs := startClient(t, f, nil, func(c *Config) {
		c.Observe = func(ev string) {
			mu.Lock()
			seen[ev]++
			mu.Unlock()
		}
	})
	ids, err := submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: "throttle me"})
	if err != nil {
		t.Fatal(err)
	}
	subs := f.allSubmits()
	if len(subs) != 3 || len(ids) != 1 || ids[0] != subs[2].id {
		t.Fatalf("ids %v, submits %v", ids, subs)
	}
	for _, s := range subs[1:] {
		if string(s.data) != string(subs[0].data) || s.dst != subs[0].dst {
			t.Fatalf("resent a different part: %v", s)
		}
	}
	if !strings.Contains(logs.String(), "throttled") {
		t.Error("throttling not logged")
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["submit_throttled"] != 2 || seen["submit_ok"] != 1 || seen["bound"] != 1 || seen["connect"] != 1 {
		t.Errorf("observed %v", seen)
	}
}

func TestSubmitThrottledUntilCtxEnds(t *testing.T) {
	f := newFakeSMSC(t)
	f.setOnSubmit(func(*fakeConn, fakeSubmit, int) submitAction { return submitAction{status: data.ESME_RTHROTTLED} })
	c, _ := startClient(t, f, nil, nil)
	eventually(t, "Ready", c.Ready)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the SMSC refused a few times.
		for len(f.allSubmits()) < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := c.SubmitSMS(ctx, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: "never"})
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Action != bridge.ActionRetry || se.Code != int(data.ESME_RTHROTTLED) {
		t.Fatalf("err %v", err)
	}
	var sse *bridge.SMSSubmitError
	if errors.As(err, &sse) {
		t.Fatalf("no part was accepted, got %v", sse.PartIDs)
	}
}

func TestSubmitRefusedInvalidDestination(t *testing.T) {
	f := newFakeSMSC(t)
	f.setOnSubmit(func(*fakeConn, fakeSubmit, int) submitAction { return submitAction{status: data.ESME_RINVDSTADR} })
	c, _ := startClient(t, f, nil, nil)
	_, err := submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: "x"})
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Code != 0x0B || se.Action != bridge.ActionPermanent || se.Reason != bridge.ReasonInvalid {
		t.Fatalf("err %v", err)
	}
	if n := len(f.allSubmits()); n != 1 {
		t.Fatalf("submitted %d times", n)
	}
}

func TestSubmitPartRefusedAfterOthersAccepted(t *testing.T) {
	f := newFakeSMSC(t)
	f.setOnSubmit(func(_ *fakeConn, s fakeSubmit, _ int) submitAction {
		if s.seq() == 2 {
			return submitAction{status: data.ESME_RSUBMITFAIL}
		}
		return submitAction{}
	})
	c, _ := startClient(t, f, nil, nil)
	_, err := submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: strings.Repeat("z", 400)})
	var sse *bridge.SMSSubmitError
	if !errors.As(err, &sse) || sse.Code != int(data.ESME_RSUBMITFAIL) || sse.Action != bridge.ActionPermanent ||
		sse.Reason != bridge.ReasonUpstreamError {
		t.Fatalf("err %v", err)
	}
	var first string
	for _, s := range f.allSubmits() {
		if s.seq() == 1 {
			first = s.id
		}
	}
	if len(sse.PartIDs) == 0 || sse.PartIDs[0] != first {
		t.Fatalf("PartIDs %v, part 1 got %q", sse.PartIDs, first)
	}
	for _, s := range f.allSubmits() {
		if s.seq() == 3 && s.id != "" && (len(sse.PartIDs) != 2 || sse.PartIDs[1] != s.id) {
			t.Fatalf("part 3 accepted as %q but PartIDs %v", s.id, sse.PartIDs)
		}
	}
}

func TestSubmitResentAfterDisconnect(t *testing.T) {
	f := newFakeSMSC(t)
	f.setOnSubmit(func(fc *fakeConn, s fakeSubmit, _ int) submitAction {
		if fc.n == 1 && s.seq() == 2 {
			return submitAction{closeConn: true} // part 2 read, never answered
		}
		if fc.n == 1 && s.seq() == 3 {
			return submitAction{noAnswer: true}
		}
		return submitAction{}
	})
	c, _ := startClient(t, f, nil, nil)
	text := strings.Repeat("0123456789", 40) // 3 parts
	ids, err := submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	if f.binds.Load() < 2 {
		t.Fatalf("%d binds", f.binds.Load())
	}
	accepted := map[int][]string{}
	var parts []fakeSubmit
	for _, s := range f.allSubmits() {
		if s.id != "" {
			accepted[s.seq()] = append(accepted[s.seq()], s.id)
			parts = append(parts, s)
		}
	}
	if len(ids) != 3 {
		t.Fatalf("ids %v", ids)
	}
	for seq := 1; seq <= 3; seq++ {
		if len(accepted[seq]) != 1 || accepted[seq][0] != ids[seq-1] {
			t.Fatalf("part %d accepted as %v, ids %v", seq, accepted[seq], ids)
		}
	}
	// The accepted parts are the message, whole.
	ordered := make([]fakeSubmit, 3)
	for _, s := range parts {
		ordered[s.seq()-1] = s
	}
	checkConcat(t, ordered, text, sms.CodingDefault, 153)
}

func TestSubmitWaitsForLinkAndCtx(t *testing.T) {
	// Nothing listens on the port: the link stays down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	rec := newRecorder()
	c, err := New(Config{Name: "down", Host: "127.0.0.1", Port: port, SystemID: "x",
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond}, rec.handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	defer c.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.SubmitSMS(ctx, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: strings.Repeat("x", 300)})
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Action != bridge.ActionRetry || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	c.mu.Lock()
	queued := c.queue.Len()
	c.mu.Unlock()
	if queued != 0 {
		t.Fatalf("%d parts left queued", queued)
	}
}

func TestDeadPeerReconnects(t *testing.T) {
	f := newFakeSMSC(t)
	f.answerEnquire.Store(false)
	c, logs := startClient(t, f, nil, func(c *Config) { c.EnquireLink = 100 * time.Millisecond })
	first := f.waitBound()
	eventually(t, "an enquire_link", func() bool { return f.enquires.Load() >= 1 })
	second := f.waitBound()
	if second == first {
		t.Fatal("same connection")
	}
	select {
	case <-first.closed:
	case <-time.After(testWait):
		t.Fatal("dead connection not closed")
	}
	if !strings.Contains(logs.String(), "link down") {
		t.Error("reconnect not logged")
	}
	// Answering again keeps the link up and usable.
	f.answerEnquire.Store(true)
	eventually(t, "Ready", c.Ready)
	if _, err := submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: "alive"}); err != nil {
		t.Fatal(err)
	}
}

// TestIdleLinkKeptAlive: an idle link gets enquire_link every interval.
// (Whether it also stays up depends on the round trip beating the
// interval, which a loaded machine does not promise at test intervals.)
func TestIdleLinkKeptAlive(t *testing.T) {
	f := newFakeSMSC(t)
	c, _ := startClient(t, f, nil, func(c *Config) { c.EnquireLink = 30 * time.Millisecond })
	f.waitBound()
	eventually(t, "several enquire_link", func() bool { return f.enquires.Load() >= 5 })
	eventually(t, "Ready", c.Ready)
}

func TestAnswersEnquireLinkAndUnbind(t *testing.T) {
	f := newFakeSMSC(t)
	c, _ := startClient(t, f, nil, nil)
	fc := f.waitBound()
	seq := fc.send(pdu.NewEnquireLink())
	select {
	case got := <-fc.enquireResps:
		if got != seq {
			t.Fatalf("enquire_link_resp seq %d, want %d", got, seq)
		}
	case <-time.After(testWait):
		t.Fatal("enquire_link not answered")
	}
	// The SMSC unbinds: the client answers and binds again.
	fc.send(pdu.NewUnbind())
	select {
	case <-fc.closed:
	case <-time.After(testWait):
		t.Fatal("connection not closed after unbind")
	}
	f.waitBound()
	eventually(t, "Ready", c.Ready)
}

func TestCloseUnbinds(t *testing.T) {
	f := newFakeSMSC(t)
	rec := newRecorder()
	c, err := New(testConfig(f), rec.handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	fc := f.waitBound()
	eventually(t, "Ready", c.Ready)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f.unbinds.Load() != 1 {
		t.Fatalf("%d unbinds", f.unbinds.Load())
	}
	<-fc.closed
	if c.Ready() {
		t.Fatal("Ready after Close")
	}
}

func TestTLS(t *testing.T) {
	f, pool := newFakeSMSCTLS(t)
	rec := newRecorder()
	c, _ := startClient(t, f, rec, func(c *Config) {
		c.TLS = true
		c.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	})
	fc := f.waitBound()
	if _, err := submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: "over TLS"}); err != nil {
		t.Fatal(err)
	}
	seq := fc.send(deliverSM("4917600000002", "4915100000001", 0, 0, []byte("back")))
	if st := fc.deliverResp(t, seq); st != data.ESME_ROK {
		t.Fatalf("answered %v", st)
	}
	if ev := rec.next(t); ev.MO == nil || ev.MO.Content.Text != "back" {
		t.Fatalf("event %+v", ev)
	}
}

func TestTLSUntrustedNeverBinds(t *testing.T) {
	f, _ := newFakeSMSCTLS(t)
	c, logs := startClient(t, f, nil, func(c *Config) { c.TLS = true })
	eventually(t, "failed handshakes logged", func() bool { return strings.Count(logs.String(), "connect failed") >= 2 })
	if c.Ready() || f.binds.Load() != 0 {
		t.Fatal("bound to an untrusted SMSC")
	}
}

// TestNotBoundStatusRebinds: ESME_RINVBNDSTS to a submit_sm makes the
// client bind again and resend the part.
func TestNotBoundStatusRebinds(t *testing.T) {
	f := newFakeSMSC(t)
	f.setOnSubmit(func(fc *fakeConn, _ fakeSubmit, _ int) submitAction {
		if fc.n == 1 {
			return submitAction{status: data.ESME_RINVBNDSTS}
		}
		return submitAction{}
	})
	c, _ := startClient(t, f, nil, nil)
	ids, err := submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: "again"})
	if err != nil {
		t.Fatal(err)
	}
	subs := f.allSubmits()
	if len(subs) != 2 || subs[1].conn == 1 || ids[0] != subs[1].id {
		t.Fatalf("ids %v submits %v", ids, subs)
	}
}

// TestTemporaryRefusalIsRetry: ESME_RSYSERR is returned as ActionRetry
// for the core to retry later, with its code.
func TestTemporaryRefusalIsRetry(t *testing.T) {
	f := newFakeSMSC(t)
	f.setOnSubmit(func(*fakeConn, fakeSubmit, int) submitAction {
		return submitAction{status: data.ESME_RSYSERR, bodyless: true}
	})
	c, _ := startClient(t, f, nil, nil)
	_, err := submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: "x"})
	var se *bridge.SendError
	if !errors.As(err, &se) || se.Action != bridge.ActionRetry || se.Code != int(data.ESME_RSYSERR) {
		t.Fatalf("err %v", err)
	}
}

func TestCloseFailsWaitingSubmissions(t *testing.T) {
	f := newFakeSMSC(t)
	f.password.Store("never") // the link never comes up
	rec := newRecorder()
	c, err := New(testConfig(f), rec.handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	res := make(chan error, 1)
	go func() {
		_, err := submit(t, c, bridge.SMS{From: "+4915100000001", To: "+4917600000002", Text: "waiting"})
		res <- err
	}()
	eventually(t, "the part queued", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.queue.Len() == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		var se *bridge.SendError
		if !errors.As(err, &se) || se.Action != bridge.ActionRetry {
			t.Fatalf("err %v", err)
		}
	case <-time.After(testWait):
		t.Fatal("SubmitSMS still waiting after Close")
	}
}
