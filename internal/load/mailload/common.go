// Package mailload is wabload's mail scenarios: "wabload smtp" submits
// mail over SMTP sessions (AUTH PLAIN, many messages per connection) and
// "wabload imap" drives IMAP clients with a command mix, measures the time
// from a customer's message (a signed Meta webhook, or an APPEND) to the
// "* N EXISTS" push on idling clients, and holds many idle connections to
// see what they cost the server.
//
// Both work against any server (wabridge, Postfix's smtp-sink or smtpd,
// Dovecot), so the peers are measured with the same client; bench/mail/
// has the scripts.
package mailload

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wabridge/wabridge/internal/load"
)

// settingsFlag collects -settings k=v pairs (repeat the flag for more).
type settingsFlag map[string]string

func (s settingsFlag) String() string { return "" }

func (s settingsFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if k = strings.TrimSpace(k); !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	s[k] = val
	return nil
}

// procMeter measures a server over a run: one process (-pid) or, with
// tree, the process and all its descendants (Dovecot forks an imap process
// per client and imap-login processes; its memory is their sum).
type procMeter struct {
	pid    int
	tree   bool
	before treeSample
	single load.Daemon
}

// treeSample sums a process tree's CPU and memory.
type treeSample struct {
	Procs   int
	CPU     time.Duration
	RSS     int64 // sum of VmRSS (counts shared pages once per process)
	PeakRSS int64 // sum of VmHWM
	PSS     int64 // sum of Pss (shared pages divided among their users)
}

func (m *procMeter) Start() {
	// single measures the client (this process) in every mode, and the
	// server too when it is one process.
	m.single = load.Daemon{}
	if !m.tree {
		m.single.PID = m.pid
	}
	m.single.Start()
	if m.pid > 0 && m.tree {
		m.before, _ = sampleTree(m.pid)
	}
}

// Finish fills r's resource fields; call it while the clients are still
// connected, so their server-side cost is in the figures.
func (m *procMeter) Finish(r *load.Report) {
	m.single.Finish(r) // the client's CPU; the server's too when it is one process
	if m.pid <= 0 {
		return
	}
	if !m.tree {
		if pss, err := readPSS(m.pid); err == nil {
			r.Notes = append(r.Notes, fmt.Sprintf("server pss %.1f MiB", float64(pss)/(1<<20)))
		}
		return
	}
	after, err := sampleTree(m.pid)
	if err != nil {
		r.Notes = append(r.Notes, "reading /proc: "+err.Error())
		return
	}
	r.CPU = max(0, after.CPU-m.before.CPU)
	if r.Ops > 0 {
		r.CPUPerOp = r.CPU / time.Duration(r.Ops)
	}
	r.RSS, r.PeakRSS = after.RSS, after.PeakRSS
	r.Notes = append(r.Notes, fmt.Sprintf("process tree of pid %d: %d processes, rss sum %.1f MiB, pss sum %.1f MiB (cpu counts live processes only)",
		m.pid, after.Procs, float64(after.RSS)/(1<<20), float64(after.PSS)/(1<<20)))
	if r.Settings != nil {
		r.Settings["server_procs"] = strconv.Itoa(after.Procs)
		r.Settings["server_pss_bytes"] = strconv.FormatInt(after.PSS, 10)
	}
}

// sampleTree reads pid and every descendant from /proc.
func sampleTree(root int) (treeSample, error) {
	var s treeSample
	pids, err := descendants(root)
	if err != nil {
		return s, err
	}
	for _, pid := range pids {
		p, err := load.ReadProc(pid)
		if err != nil {
			continue // exited meanwhile
		}
		s.Procs++
		s.CPU += p.CPU
		s.RSS += p.RSS
		s.PeakRSS += p.PeakRSS
		if pss, err := readPSS(pid); err == nil {
			s.PSS += pss
		}
	}
	if s.Procs == 0 {
		return s, fmt.Errorf("no process %d", root)
	}
	return s, nil
}

// descendants lists root and every process below it (by PPid).
func descendants(root int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		rest := string(stat)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// readPSS is a process's proportional set size (/proc/pid/smaps_rollup).
func readPSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no Pss line")
}

// netKind names a transport error for the error counts.
func netKind(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, net.ErrClosed), strings.Contains(err.Error(), "connection reset"),
		strings.Contains(err.Error(), "broken pipe"), strings.Contains(err.Error(), "EOF"):
		return "conn_dropped"
	case strings.Contains(err.Error(), "connection refused"):
		return "conn_refused"
	}
	return "conn_error"
}

// finishReport fills throughput and common settings.
func finishReport(r *load.Report, elapsed time.Duration) {
	r.Elapsed = elapsed
	if elapsed > 0 {
		r.Throughput = float64(r.Ops) / elapsed.Seconds()
	}
}
