package smppload

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func startFake(t testing.TB, f *FakeSMSC) string {
	t.Helper()
	addr, err := f.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return addr
}

func testConfig(addr string, binds, window int, count int64) config {
	return config{
		addr: addr, systemID: "acme", password: "pw", binds: binds, window: window, count: count,
		from: "+15550100001", toBase: "+4915100000000", text: "hello",
		registeredDelivery: 1, receiptTimeout: 5 * time.Second, respTimeout: 5 * time.Second,
		throttlePause: time.Millisecond, settings: map[string]string{},
	}
}

func TestReceiptsMatched(t *testing.T) {
	f := &FakeSMSC{}
	rep, err := run(context.Background(), testConfig(startFake(t, f), 3, 5, 3000))
	if err != nil {
		t.Fatal(err)
	}
	e2e := rep.Latency["end_to_end"]
	if rep.Ops != 3000 || e2e.Count != 3000 || e2e.ErrorCount() != 0 {
		t.Fatalf("ops %d, end_to_end %+v", rep.Ops, e2e)
	}
	if s := rep.Latency["submit_sm_resp"]; s.Count != 3000 || s.ErrorCount() != 0 {
		t.Fatalf("submit_sm_resp %+v", s)
	}
	if rep.Throughput <= 0 {
		t.Fatalf("throughput %v", rep.Throughput)
	}
	// every receipt was answered with deliver_sm_resp
	deadline := time.Now().Add(2 * time.Second)
	for f.drResps.Load() < 3000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if f.drResps.Load() != 3000 {
		t.Fatalf("%d deliver_sm_resp for 3000 receipts", f.drResps.Load())
	}
}

func TestWindowNeverExceeded(t *testing.T) {
	f := &FakeSMSC{RespDelay: 2 * time.Millisecond}
	rep, err := run(context.Background(), testConfig(startFake(t, f), 3, 4, 600))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ops != 600 {
		t.Fatalf("ops %d", rep.Ops)
	}
	if m := f.maxInflight.Load(); m > 4 || m < 2 {
		t.Fatalf("max submit_sm in flight on one bind: %d, want ≤ 4 (and the window used)", m)
	}
}

func TestThrottledRetried(t *testing.T) {
	f := &FakeSMSC{ThrottleEvery: 7}
	rep, err := run(context.Background(), testConfig(startFake(t, f), 2, 5, 700))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ops != 700 {
		t.Fatalf("ops %d: throttled messages were not resubmitted", rep.Ops)
	}
	s := rep.Latency["submit_sm_resp"]
	if got := s.Errors["ESME_RTHROTTLED (retried)"]; got == 0 || got != f.throttled.Load() {
		t.Fatalf("retried %d, fake throttled %d (%v)", got, f.throttled.Load(), s.Errors)
	}
	if s.Count != 700 {
		t.Fatalf("submit_sm_resp count %d", s.Count)
	}
}

func TestMissingReceiptsReported(t *testing.T) {
	f := &FakeSMSC{DropEvery: 10}
	cfg := testConfig(startFake(t, f), 2, 3, 100)
	cfg.receiptTimeout = 200 * time.Millisecond
	rep, err := run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "10 receipts missing") {
		t.Fatalf("err %v", err)
	}
	if e := rep.Latency["end_to_end"]; e.Errors["missing_receipt"] != 10 || rep.Ops != 90 {
		t.Fatalf("ops %d, end_to_end %+v", rep.Ops, e)
	}
}

func TestReceiptBeforeResponse(t *testing.T) {
	f := &FakeSMSC{ReceiptFirst: true}
	rep, err := run(context.Background(), testConfig(startFake(t, f), 2, 4, 500))
	if err != nil {
		t.Fatal(err)
	}
	if e := rep.Latency["end_to_end"]; rep.Ops != 500 || e.Count != 500 {
		t.Fatalf("ops %d, end_to_end %+v, notes %v", rep.Ops, e, rep.Notes)
	}
}

func TestUndeliveredCountedByStat(t *testing.T) {
	f := &FakeSMSC{Stat: "UNDELIV"}
	rep, err := run(context.Background(), testConfig(startFake(t, f), 1, 2, 50))
	if err != nil {
		t.Fatal(err)
	}
	if e := rep.Latency["end_to_end"]; rep.Ops != 50 || e.Count != 0 || e.Errors["UNDELIV"] != 50 {
		t.Fatalf("ops %d, end_to_end %+v", rep.Ops, e)
	}
}

func TestOpenLoopRate(t *testing.T) {
	f := &FakeSMSC{}
	cfg := testConfig(startFake(t, f), 2, 5, 200)
	cfg.rate = 1000
	rep, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Elapsed < 150*time.Millisecond || rep.Elapsed > 2*time.Second {
		t.Fatalf("200 messages at 1000/s took %s", rep.Elapsed)
	}
	// The submit_sm_resp latency (from each message's due time) and its
	// two parts: the client's lateness and the answer from the send.
	whole, late, rest := rep.Latency["submit_sm_resp"], rep.Latency["client_lateness"], rep.Latency["submit_sm_resp_from_send"]
	if whole.Count != 200 || late.Count != 200 || rest.Count != 200 {
		t.Fatalf("latency counts: whole %d, lateness %d, from send %d", whole.Count, late.Count, rest.Count)
	}
	if rest.Max > whole.Max {
		t.Errorf("from send (max %s) longer than from the due time (max %s)", rest.Max, whole.Max)
	}
}

func TestBindFailure(t *testing.T) {
	if _, err := run(context.Background(), testConfig("127.0.0.1:1", 1, 1, 1)); err == nil {
		t.Fatal("no error binding to a closed port")
	}
}

func TestParseReceiptTextOnly(t *testing.T) {
	// a receipt without TLVs: id and stat come from the text
	b := appendReceipt(nil, 1, "15550100001", "4915100000001", "abc123", "EXPIRED", 3)
	body := b[16:]
	i := bytes.Index(body, []byte{0x00, 0x1E})
	r, err := parseDeliverSM(body[:i])
	if err != nil {
		t.Fatal(err)
	}
	if !r.isReceipt || !r.final || string(r.id) != "abc123" || r.stat != "EXPIRED" {
		t.Fatalf("%+v", r)
	}
	// intermediate notification
	body[len("")+1+2+len("4915100000001")+1+2+len("15550100001")+1] = esmIntermediateNote
	r, _ = parseDeliverSM(body)
	if r.final {
		t.Fatalf("intermediate taken as final: %+v", r)
	}
}

func TestMainFake(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := Main([]string{"-fake-smsc", "-count", "200", "-settings", "durability=none", "-binds", "2"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s %s", rc, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "RESULT {") || !strings.Contains(out.String(), `"durability":"none"`) {
		t.Fatalf("output: %s", out.String())
	}
}

// BenchmarkClientAgainstFake measures the load client's own ceiling: 4 binds,
// window 10, against the in-process fake SMSC (which shares the CPU).
func BenchmarkClientAgainstFake(b *testing.B) {
	f := &FakeSMSC{}
	addr := startFake(b, f)
	b.ResetTimer()
	rep, err := run(context.Background(), testConfig(addr, 4, 10, int64(max(b.N, 1))))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rep.Throughput, "msgs/s")
}
