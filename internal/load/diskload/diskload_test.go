package diskload

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestRunCountsEveryFsyncAndRemovesItsFile(t *testing.T) {
	dir := t.TempDir()
	r, err := Run(context.Background(), Config{Dir: dir, Size: 4096, Wrap: 3 * 4096, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops != 10 || r.Latency["write+fsync"].Count != 10 {
		t.Fatalf("ops %d, latencies %d, want 10 each", r.Ops, r.Latency["write+fsync"].Count)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("scratch file left behind: %v", left)
	}
}

func TestRunWithBusyCoresStillCountsEveryFsync(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	r, err := Run(context.Background(), Config{Dir: t.TempDir(), Size: 4096, Wrap: 1 << 20, Count: 5, Busy: procs + 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops != 5 || r.Settings["busy_threads"] != strconv.Itoa(procs+1) {
		t.Fatalf("ops %d, settings %v", r.Ops, r.Settings)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Fatalf("GOMAXPROCS %d after the run, want %d back", got, procs)
	}
}

func TestRunRefusesASizeAboveTheWrapBound(t *testing.T) {
	if _, err := Run(context.Background(), Config{Dir: t.TempDir(), Size: 8192, Wrap: 4096, Count: 1}); err == nil {
		t.Fatal("size above wrap accepted")
	}
}

func TestMainPrintsAResultLine(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main([]string{"-dir", t.TempDir(), "-count", "3", "-size", "4096"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "RESULT {\"scenario\":\"fsync\"") {
		t.Fatalf("no RESULT line:\n%s", out.String())
	}
}

func TestMainFailsOnAMissingDirectory(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main([]string{"-dir", "/nonexistent/wabload", "-count", "1"}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "wabload fsync:") {
		t.Fatalf("stderr %q", errOut.String())
	}
}
