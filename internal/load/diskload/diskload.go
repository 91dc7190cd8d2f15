// Package diskload is wabload's fsync scenario: how long the machine's
// disk takes to make an append durable when nothing else runs — the
// floor under every commit the daemon waits for. It appends blocks of a
// given size to a file and fsyncs after each, as the store's log does,
// wrapping to the file's start at a bound (as a checkpointed log is
// reused), and reports the latency of each write + fsync; with -busy,
// threads spinning beside it take the cores, as a loaded daemon's do,
// which shows how much of a commit's tail is waiting for a CPU.
package diskload

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wabridge/wabridge/internal/load"
)

// Config is one fsync run.
type Config struct {
	Dir      string        // where the scratch file is made (removed after)
	Size     int           // bytes written before each fsync
	Wrap     int64         // the file's size bound: writes start again at 0
	Duration time.Duration // how long to run
	Count    int64         // stop after this many fsyncs instead (when > 0)
	// Busy threads spin on the CPU during the run: the same disk with
	// the cores taken, as under load (0: nothing else runs).
	Busy int
}

// Run appends and fsyncs until the duration (or count) is reached and
// returns the report (latency "write+fsync").
func Run(ctx context.Context, c Config) (load.Report, error) {
	if c.Size <= 0 || c.Wrap < int64(c.Size) {
		return load.Report{}, fmt.Errorf("diskload: size must be positive and at most the wrap bound")
	}
	f, err := os.CreateTemp(c.Dir, "wabload-fsync-*")
	if err != nil {
		return load.Report{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, c.Size)
	for i := range buf {
		buf[i] = byte(i)
	}
	rec := load.NewRecorder()
	var off int64
	op := func(context.Context, int64, time.Time) string {
		if _, err := f.WriteAt(buf, off); err != nil {
			return "write"
		}
		if err := f.Sync(); err != nil {
			return "fsync"
		}
		if off += int64(c.Size); off+int64(c.Size) > c.Wrap {
			off = 0
		}
		return ""
	}
	stop := make(chan struct{})
	spun := spin(c.Busy, stop)
	_, elapsed := load.Run(ctx, load.RunConfig{Concurrency: 1, Duration: c.Duration, Count: c.Count}, op, rec)
	close(stop)
	spun()
	s := rec.Summary()
	r := load.Report{Scenario: "fsync", Ops: s.Count, Elapsed: elapsed,
		Latency: map[string]load.Summary{"write+fsync": s}}
	if elapsed > 0 {
		r.Throughput = float64(s.Count) / elapsed.Seconds()
	}
	dir, _ := filepath.Abs(c.Dir)
	r.Settings = map[string]string{"dir": dir, "bytes_per_fsync": strconv.Itoa(c.Size),
		"wrap_bytes": strconv.FormatInt(c.Wrap, 10), "busy_threads": strconv.Itoa(c.Busy),
		"what": "one writer, write then fsync; busy threads spinning beside it"}
	if n := s.ErrorCount(); n > 0 {
		return r, fmt.Errorf("diskload: %d writes or fsyncs failed: %v", n, s.Errors)
	}
	return r, nil
}

// spin starts n goroutines that keep a core busy until stop is closed,
// each on its own thread, with Go's scheduler given a processor more than
// they take: the writer never waits for a Go processor, only for the
// kernel to give its thread a core (as the daemon's writer waits beside
// the load client and the daemon's other threads). The function it
// returns waits for them to end and puts GOMAXPROCS back.
func spin(n int, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	procs := runtime.GOMAXPROCS(0)
	if n > 0 && procs < n+1 {
		runtime.GOMAXPROCS(n + 1)
	}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			x := uint64(1)
			for {
				select {
				case <-stop:
					sink.Add(x)
					return
				default:
				}
				for range 1 << 12 {
					x = x*6364136223846793005 + 1442695040888963407
				}
			}
		}()
	}
	return func() {
		wg.Wait()
		runtime.GOMAXPROCS(procs)
	}
}

// sink keeps the spinners' arithmetic from being optimised away.
var sink atomic.Uint64

// Main is "wabload fsync".
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wabload fsync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	fs.StringVar(&c.Dir, "dir", ".", "directory for the scratch file (the disk to measure)")
	fs.IntVar(&c.Size, "size", 32<<10, "bytes written before each fsync (a group commit's log frames)")
	fs.Int64Var(&c.Wrap, "wrap", 64<<20, "file size bound: writes start again at offset 0 (a reused log)")
	fs.DurationVar(&c.Duration, "duration", 5*time.Second, "how long to run")
	fs.Int64Var(&c.Count, "count", 0, "stop after this many fsyncs (0: run for -duration)")
	fs.IntVar(&c.Busy, "busy", 0, "threads spinning on the CPU during the run (the cores taken, as under load)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	r, err := Run(context.Background(), c)
	if err != nil {
		fmt.Fprintln(stderr, "wabload fsync:", err)
		if r.Ops == 0 {
			return 1
		}
	}
	r.Print(stdout)
	if err != nil {
		return 1
	}
	return 0
}
