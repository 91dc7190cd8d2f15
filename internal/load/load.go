// Package load is the measuring core of wabload, wabridge's load tool:
// latency recording with exact percentiles, open-loop and closed-loop
// drivers, the daemon's CPU time and peak RSS read from /proc, and one
// report format for every scenario.
//
// Open loop: with a rate set, operation i is due at start + i/rate and its
// latency is measured from that due time, not from when a worker got to
// it — so a server that falls behind shows its queueing in the
// percentiles instead of hiding it (coordinated omission).
package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder collects latencies and errors; safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	lat    []time.Duration
	errors map[string]int64
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{errors: map[string]int64{}} }

// Observe records one successful operation's latency.
func (r *Recorder) Observe(d time.Duration) {
	r.mu.Lock()
	r.lat = append(r.lat, d)
	r.mu.Unlock()
}

// Error counts one failed operation by kind.
func (r *Recorder) Error(kind string) {
	r.mu.Lock()
	r.errors[kind]++
	r.mu.Unlock()
}

// Summary is a recorder's distribution.
type Summary struct {
	Count  int64            `json:"count"`
	Errors map[string]int64 `json:"errors,omitempty"`
	Mean   time.Duration    `json:"mean_ns"`
	P50    time.Duration    `json:"p50_ns"`
	P99    time.Duration    `json:"p99_ns"`
	P999   time.Duration    `json:"p999_ns"`
	Max    time.Duration    `json:"max_ns"`
}

// Summary computes exact percentiles (nearest rank) of what was recorded.
func (r *Recorder) Summary() Summary {
	r.mu.Lock()
	lat := slices.Clone(r.lat)
	errs := make(map[string]int64, len(r.errors))
	for k, v := range r.errors {
		errs[k] = v
	}
	r.mu.Unlock()
	s := Summary{Count: int64(len(lat)), Errors: errs}
	if len(lat) == 0 {
		return s
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	s.Mean = sum / time.Duration(len(lat))
	s.P50, s.P99, s.P999, s.Max = Percentile(lat, 50), Percentile(lat, 99), Percentile(lat, 99.9), lat[len(lat)-1]
	return s
}

// ErrorCount is the number of failed operations.
func (s Summary) ErrorCount() int64 {
	var n int64
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// Percentile is the nearest-rank percentile p (0 < p ≤ 100) of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// RunConfig drives one phase of operations.
type RunConfig struct {
	// Rate is operations per second across all workers (open loop); 0
	// runs flat out (closed loop: each worker starts its next operation
	// when its last one ended).
	Rate float64
	// Concurrency is the number of workers (at least 1).
	Concurrency int
	// Duration bounds the phase; Count, when positive, ends it after that
	// many operations instead (whichever comes first).
	Duration time.Duration
	Count    int64
}

// Op performs operation i. It returns the latency to record, measured by
// the op itself from start (which is the due time in open loop), or an
// error kind ("" = success). Ops that finish later (a receipt) may return
// a zero latency and record elsewhere.
type Op func(ctx context.Context, i int64, start time.Time) (errKind string)

// Run drives op as cfg says and records each operation's latency (end −
// start, start being the due time in open loop) into rec. It returns how
// many operations were started (op called; one the deadline then cut short
// included, one still waiting for its due time not) and the elapsed time.
func Run(ctx context.Context, cfg RunConfig, op Op, rec *Recorder) (int64, time.Duration) {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.Duration <= 0 && cfg.Count <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	var next, started atomic.Int64
	begin := time.Now()
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if cfg.Count > 0 && i >= cfg.Count {
					return
				}
				start := time.Now()
				if cfg.Rate > 0 {
					start = begin.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
					if d := time.Until(start); d > 0 {
						t := time.NewTimer(d)
						select {
						case <-ctx.Done():
							t.Stop()
							return
						case <-t.C:
						}
					}
				}
				started.Add(1)
				if kind := op(ctx, i, start); kind != "" {
					if ctx.Err() == nil {
						rec.Error(kind)
					}
					continue
				}
				rec.Observe(time.Since(start))
			}
		}()
	}
	wg.Wait()
	return started.Load(), time.Since(begin)
}

// ProcSample is a process's CPU time and memory from /proc.
type ProcSample struct {
	CPU     time.Duration // user + system
	RSS     int64         // resident set, bytes
	PeakRSS int64         // VmHWM, bytes
}

// clockTick is USER_HZ (100 on Linux).
const clockTick = 100

// ReadProc reads pid's CPU time (/proc/pid/stat) and memory
// (/proc/pid/status).
func ReadProc(pid int) (ProcSample, error) {
	var s ProcSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.CPU, err = parseStatCPU(stat); err != nil {
		return s, fmt.Errorf("load: /proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	s.RSS, s.PeakRSS = parseStatusMemory(status)
	return s, nil
}

// parseStatCPU is utime + stime of a /proc/pid/stat line (proc(5): fields
// 14 and 15, in clock ticks). The command name, field 2, is in
// parentheses and may itself hold spaces and parentheses: the fields are
// counted from the last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	rest := string(stat)
	i := strings.LastIndexByte(rest, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(rest[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, errors.New("too few fields")
	}
	utime, uerr := strconv.ParseInt(f[11], 10, 64)
	stime, serr := strconv.ParseInt(f[12], 10, 64)
	if uerr != nil || serr != nil {
		return 0, fmt.Errorf("utime %q, stime %q: not clock ticks", f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTick, nil
}

// parseStatusMemory is VmRSS and VmHWM (the peak) of /proc/pid/status, in
// bytes; 0 for a line that is missing.
func parseStatusMemory(status []byte) (rss, peak int64) {
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak
}

// Report is one scenario run.
type Report struct {
	Scenario string            `json:"scenario"`
	Settings map[string]string `json:"settings"`
	// Ops is the number of operations done (messages, requests,
	// commands), Elapsed the time they took.
	Ops        int64              `json:"ops"`
	Elapsed    time.Duration      `json:"elapsed_ns"`
	Throughput float64            `json:"throughput_per_s"`
	Latency    map[string]Summary `json:"latency"`
	// Daemon resources over the run (when a pid was given).
	CPUPerOp time.Duration `json:"cpu_per_op_ns,omitempty"`
	CPU      time.Duration `json:"cpu_ns,omitempty"`
	PeakRSS  int64         `json:"peak_rss_bytes,omitempty"`
	RSS      int64         `json:"rss_bytes,omitempty"`
	// The load client's own CPU over the run (this process, from /proc as
	// the daemon's): the share of the machine the measuring took, which on
	// cores shared with the daemon is CPU the daemon did not get.
	ClientCPUPerOp time.Duration `json:"client_cpu_per_op_ns,omitempty"`
	ClientCPU      time.Duration `json:"client_cpu_ns,omitempty"`
	Notes          []string      `json:"notes,omitempty"`
}

// Daemon measures a process over a run, and the load client itself beside
// it: Start before, Finish after.
type Daemon struct {
	PID    int
	before ProcSample
	self   ProcSample // this process at Start
	selfOK bool
}

// Start samples the process (a zero PID measures only the client).
func (d *Daemon) Start() {
	var err error
	d.self, err = ReadProc(os.Getpid())
	d.selfOK = err == nil
	if d.PID > 0 {
		d.before, _ = ReadProc(d.PID)
	}
}

// Finish fills the report's resource fields: the client's CPU always (when
// Start could read it), the daemon's when a PID was given.
func (d *Daemon) Finish(r *Report) {
	if self, err := ReadProc(os.Getpid()); err == nil && d.selfOK {
		r.ClientCPU = self.CPU - d.self.CPU
		if r.Ops > 0 {
			r.ClientCPUPerOp = r.ClientCPU / time.Duration(r.Ops)
		}
	}
	if d.PID <= 0 {
		return
	}
	after, err := ReadProc(d.PID)
	if err != nil {
		r.Notes = append(r.Notes, "reading /proc: "+err.Error())
		return
	}
	r.CPU = after.CPU - d.before.CPU
	if r.Ops > 0 {
		r.CPUPerOp = r.CPU / time.Duration(r.Ops)
	}
	r.PeakRSS, r.RSS = after.PeakRSS, after.RSS
}

// Print writes the report as text, then one line of JSON prefixed
// "RESULT " (for scripts).
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "== %s\n", r.Scenario)
	keys := make([]string, 0, len(r.Settings))
	for k := range r.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "   %-22s %s\n", k, r.Settings[k])
	}
	fmt.Fprintf(w, "   ops %d in %.2fs: %.0f/s\n", r.Ops, r.Elapsed.Seconds(), r.Throughput)
	names := make([]string, 0, len(r.Latency))
	for k := range r.Latency {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s := r.Latency[k]
		fmt.Fprintf(w, "   %-22s n=%d p50=%s p99=%s p99.9=%s max=%s errors=%d %v\n", k, s.Count,
			ms(s.P50), ms(s.P99), ms(s.P999), ms(s.Max), s.ErrorCount(), s.Errors)
	}
	if r.CPU > 0 || r.PeakRSS > 0 {
		fmt.Fprintf(w, "   daemon cpu %.2fs (%s per op), rss %.1f MiB, peak rss %.1f MiB\n",
			r.CPU.Seconds(), r.CPUPerOp, float64(r.RSS)/(1<<20), float64(r.PeakRSS)/(1<<20))
	}
	if r.ClientCPU > 0 {
		fmt.Fprintf(w, "   client cpu %.2fs (%s per op): this load tool's own, on the same cores\n",
			r.ClientCPU.Seconds(), r.ClientCPUPerOp)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "   note: %s\n", n)
	}
	data, _ := json.Marshal(r)
	fmt.Fprintf(w, "RESULT %s\n", data)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
