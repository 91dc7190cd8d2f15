package load

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var spin int // TestDaemonMeasuresAProcess's busy work

func ms1(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// series is 1 ms, 2 ms, … n ms, sorted.
func series(n int) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = ms1(i + 1)
	}
	return s
}

// TestPercentileNearestRank holds Percentile to the nearest-rank definition:
// the smallest value with at least p % of the values at or below it, the
// ⌈p/100 × n⌉-th.
func TestPercentileNearestRank(t *testing.T) {
	for _, tc := range []struct {
		n    int
		p    float64
		want time.Duration
	}{
		{1, 50, ms1(1)}, {1, 99.9, ms1(1)},
		{2, 50, ms1(1)}, {2, 50.1, ms1(2)},
		{3, 50, ms1(2)},
		{10, 99, ms1(10)},
		{100, 50, ms1(50)}, {100, 99, ms1(99)}, {100, 99.9, ms1(100)}, {100, 100, ms1(100)},
		{1000, 99, ms1(990)}, {1000, 99.9, ms1(999)}, {1000, 50, ms1(500)},
		{1001, 99.9, ms1(1000)}, // ⌈999.999⌉
		{200000, 99.9, ms1(199800)}, {200000, 99.99, ms1(199980)},
	} {
		if got := Percentile(series(tc.n), tc.p); got != tc.want {
			t.Errorf("p%v of 1..%d ms = %v, want %v", tc.p, tc.n, got, tc.want)
		}
	}
	if got := Percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
}

func TestRecorderSummary(t *testing.T) {
	r := NewRecorder()
	var wg sync.WaitGroup
	for w := range 4 { // concurrent recording, as Run's workers do
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 1000; i += 4 {
				r.Observe(ms1(1000 - i)) // recorded out of order
			}
		}()
	}
	wg.Wait()
	r.Error("http_500")
	r.Error("http_500")
	r.Error("transport")
	s := r.Summary()
	if s.Count != 1000 || s.P50 != ms1(500) || s.P99 != ms1(990) || s.P999 != ms1(999) || s.Max != ms1(1000) {
		t.Errorf("summary %+v: want 1000 values, p50 500 ms, p99 990 ms, p99.9 999 ms, max 1 s", s)
	}
	if want := 500500 * time.Millisecond / 1000; s.Mean != want {
		t.Errorf("mean %v, want %v", s.Mean, want)
	}
	if s.ErrorCount() != 3 || s.Errors["http_500"] != 2 || s.Errors["transport"] != 1 {
		t.Errorf("errors %v", s.Errors)
	}
	// The summary is a copy: recording more does not change it.
	r.Error("late")
	r.Observe(time.Hour)
	if s.Errors["late"] != 0 || s.Max != ms1(1000) {
		t.Errorf("summary changed after it was taken: %+v", s)
	}
	if e := NewRecorder().Summary(); e.Count != 0 || e.P99 != 0 || e.Mean != 0 {
		t.Errorf("empty summary %+v", e)
	}
}

// TestRunCountRunsEveryIndexOnce: with a count, every operation 0..n-1 runs
// exactly once across the workers, and Run says n.
func TestRunCountRunsEveryIndexOnce(t *testing.T) {
	const n = 2000
	var mu sync.Mutex
	seen := map[int64]int{}
	rec := NewRecorder()
	got, _ := Run(context.Background(), RunConfig{Concurrency: 8, Count: n}, func(_ context.Context, i int64, _ time.Time) string {
		mu.Lock()
		seen[i]++
		mu.Unlock()
		if i%10 == 0 {
			return "odd"
		}
		return ""
	}, rec)
	if got != n || len(seen) != n {
		t.Fatalf("Run says %d, %d distinct indexes ran; want %d", got, len(seen), n)
	}
	for i := range int64(n) {
		if seen[i] != 1 {
			t.Fatalf("operation %d ran %d times", i, seen[i])
		}
	}
	s := rec.Summary()
	if s.Count != n-n/10 || s.Errors["odd"] != n/10 {
		t.Errorf("recorded %d successes and %v errors; want %d and %d", s.Count, s.Errors, n-n/10, n/10)
	}
}

// TestRunOpenLoopMeasuresFromTheDueTime: at a rate the server cannot keep
// up with, each operation's latency includes how late it started (the
// coordinated omission a closed loop hides). One worker, 100 /s, each
// operation taking 30 ms: operation i is due at 10·i ms and ends no
// earlier than 30·(i+1) ms, so its latency is at least 20·i + 30 ms —
// a lower bound that holds however slow the machine.
func TestRunOpenLoopMeasuresFromTheDueTime(t *testing.T) {
	var begin time.Time
	var mu sync.Mutex
	due := map[int64]time.Duration{}
	rec := NewRecorder()
	Run(context.Background(), RunConfig{Rate: 100, Concurrency: 1, Count: 6}, func(_ context.Context, i int64, start time.Time) string {
		mu.Lock()
		if i == 0 {
			begin = start
		}
		due[i] = start.Sub(begin)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		return ""
	}, rec)
	for i := range int64(6) {
		if want := ms1(10 * int(i)); due[i] != want {
			t.Errorf("operation %d's start is %v after the first's, want its due time %v", i, due[i], want)
		}
	}
	s := rec.Summary()
	if s.Count != 6 || s.Max < ms1(20*5+30) {
		t.Errorf("6 operations, the last due 50 ms in and ending no earlier than 180 ms: max latency %v, want ≥ 130 ms", s.Max)
	}
}

// TestRunDurationEndsTheRun: the duration bounds the run, and an operation
// the deadline cuts short is not counted as an error.
func TestRunDurationEndsTheRun(t *testing.T) {
	rec := NewRecorder()
	_, elapsed := Run(context.Background(), RunConfig{Concurrency: 3, Duration: 50 * time.Millisecond}, func(ctx context.Context, i int64, _ time.Time) string {
		if i < 3 {
			<-ctx.Done() // held until the end: cut short by the deadline
			return "cancelled"
		}
		return "must not run"
	}, rec)
	s := rec.Summary()
	if s.ErrorCount() != 0 || s.Count != 0 {
		t.Errorf("summary %+v: the operations the deadline cut short were recorded", s)
	}
	if elapsed < 50*time.Millisecond {
		t.Errorf("elapsed %v, shorter than the duration", elapsed)
	}
}

// TestRunCountsOnlyStartedOperations: in open loop, workers waiting for a
// due time past the deadline started nothing, and Run does not count them.
func TestRunCountsOnlyStartedOperations(t *testing.T) {
	var calls atomic.Int64
	n, _ := Run(context.Background(), RunConfig{Rate: 10, Concurrency: 8, Duration: 250 * time.Millisecond},
		func(context.Context, int64, time.Time) string { calls.Add(1); return "" }, NewRecorder())
	if n != calls.Load() || n > 3 {
		t.Errorf("Run says %d started, op was called %d times; at 10 /s for 0.25 s at most 3 are due", n, calls.Load())
	}
}

func TestParseStatCPU(t *testing.T) {
	// proc(5)'s layout; the command name holds a space and parentheses.
	stat := "4242 (wab ridge) (x)) S 1 4242 4242 0 -1 4194560 1200 0 0 0 1234 567 0 0 20 0 9 0 100 1000000 2000 18446744073709551615\n"
	cpu, err := parseStatCPU([]byte(stat))
	if err != nil || cpu != (1234+567)*10*time.Millisecond {
		t.Errorf("parseStatCPU = %v, %v; want 18.01s (1801 ticks of 10 ms)", cpu, err)
	}
	for _, bad := range []string{"", "4242 wabridge S 1", "4242 (w) S 1 2 3", "4242 (w) S 1 4242 4242 0 -1 4194560 1200 0 0 0 x 567 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) gave no error", bad)
		}
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\twabridge\nVmPeak:\t  900000 kB\nVmHWM:\t   61000 kB\nVmRSS:\t   54321 kB\nThreads:\t9\n"
	rss, peak := parseStatusMemory([]byte(status))
	if rss != 54321<<10 || peak != 61000<<10 {
		t.Errorf("rss %d, peak %d; want %d and %d", rss, peak, 54321<<10, 61000<<10)
	}
	if rss, peak := parseStatusMemory([]byte("Name:\tx\n")); rss != 0 || peak != 0 {
		t.Errorf("without the lines: rss %d, peak %d", rss, peak)
	}
}

// TestDaemonMeasuresAProcess reads this test's own process through /proc:
// the CPU it burns between Start and Finish, per operation.
func TestDaemonMeasuresAProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system") // wabload's CPU and RSS figures are Linux's
	}
	d := &Daemon{PID: os.Getpid()}
	d.Start()
	spinPast(t, d.before.CPU)
	r := Report{Ops: 10}
	d.Finish(&r)
	if r.CPU <= 0 || r.CPUPerOp != r.CPU/10 || r.RSS <= 0 || r.PeakRSS < r.RSS {
		t.Errorf("report %+v: want CPU > 0, CPU per op = CPU / 10, 0 < RSS ≤ peak", r)
	}
	// The client is this process too here: its CPU is counted beside.
	if r.ClientCPU <= 0 || r.ClientCPUPerOp != r.ClientCPU/10 {
		t.Errorf("report %+v: want client CPU > 0, client CPU per op = client CPU / 10", r)
	}
	missing := Report{}
	(&Daemon{PID: 1 << 30}).Finish(&missing)
	if len(missing.Notes) != 1 || missing.CPU != 0 || missing.ClientCPU != 0 {
		t.Errorf("a process that is not there, never started: %+v, want a note and no figures", missing)
	}

	// Without a pid only the client is measured.
	c := &Daemon{}
	c.Start()
	spinPast(t, c.self.CPU)
	own := Report{Ops: 4}
	c.Finish(&own)
	if own.ClientCPU <= 0 || own.ClientCPUPerOp != own.ClientCPU/4 || own.CPU != 0 || own.RSS != 0 || len(own.Notes) != 0 {
		t.Errorf("no pid: %+v, want the client's CPU only", own)
	}
}

// spinPast burns CPU until /proc counts this process past from plus two
// clock ticks.
func spinPast(t *testing.T, from time.Duration) {
	t.Helper()
	for give := time.Now().Add(10 * time.Second); ; {
		if p, err := ReadProc(os.Getpid()); err == nil && p.CPU > from+20*time.Millisecond {
			return
		}
		if time.Now().After(give) {
			t.Fatal("no CPU time counted in /proc after 10 s of spinning")
		}
		for range 1_000_000 {
			spin++
		}
	}
}

// TestReportPrintsResultJSON: the RESULT line carries what the bench
// scripts read (bench/lib.sh, rounds.py): scenario, ops, throughput,
// latency percentiles in ns, CPU per op (the daemon's and the client's).
func TestReportPrintsResultJSON(t *testing.T) {
	r := Report{Scenario: "webhook meta-status", Settings: map[string]string{"connections": "256"}, Ops: 3,
		Elapsed: time.Second, Throughput: 3, CPU: 3 * time.Millisecond, CPUPerOp: time.Millisecond, PeakRSS: 1 << 20,
		ClientCPU: 6 * time.Millisecond, ClientCPUPerOp: 2 * time.Millisecond,
		Latency: map[string]Summary{"webhook": {Count: 3, P50: ms1(2), P99: ms1(3), P999: ms1(3), Max: ms1(3), Errors: map[string]int64{"http_500": 1}}}}
	var out bytes.Buffer
	r.Print(&out)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "RESULT {") {
		t.Fatalf("last line %q, want RESULT {json}", last)
	}
	var got struct {
		Scenario   string  `json:"scenario"`
		Ops        int64   `json:"ops"`
		Throughput float64 `json:"throughput_per_s"`
		CPUPerOp   int64   `json:"cpu_per_op_ns"`
		ClientPer  int64   `json:"client_cpu_per_op_ns"`
		Latency    map[string]struct {
			P99    int64            `json:"p99_ns"`
			Errors map[string]int64 `json:"errors"`
		} `json:"latency"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(last, "RESULT ")), &got); err != nil {
		t.Fatal(err)
	}
	w := got.Latency["webhook"]
	if got.Scenario != r.Scenario || got.Ops != 3 || got.Throughput != 3 || got.CPUPerOp != int64(time.Millisecond) || got.ClientPer != int64(2*time.Millisecond) ||
		w.P99 != int64(ms1(3)) || w.Errors["http_500"] != 1 {
		t.Errorf("RESULT %s", last)
	}
	for _, want := range []string{"== webhook meta-status", "connections            256", "ops 3 in 1.00s: 3/s",
		"p99=3.00ms", "errors=1", "daemon cpu 0.00s (1ms per op)",
		"client cpu 0.01s (2ms per op)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
