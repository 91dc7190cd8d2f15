package store

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// niceNow is the calling thread's nice value.
func niceNow(t *testing.T) int {
	t.Helper()
	n, err := threadNice()
	if err != nil {
		t.Error(err)
	}
	return n
}

// The writer runs its statements on a thread of its own, raised by the
// configured levels when the process may raise it, and that priority
// stays with the writer: threads started afterwards run at the process's.
func TestWriterPriority(t *testing.T) {
	runtime.LockOSThread()
	base := niceNow(t)
	runtime.UnlockOSThread()

	s, err := OpenSQLite(context.Background(), SQLiteConfig{Path: filepath.Join(t.TempDir(), "w.db"), WriterPriority: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := s.WriterPriority()
	var inWriter int
	if err := s.commit.write(context.Background(), func(*wtx) error { inWriter = niceNow(t); return nil }); err != nil {
		t.Fatal(err)
	}
	if p.Raised {
		if want := max(base-5, -20); p.Nice != want || inWriter != want {
			t.Errorf("raised: reported nice %d, the writer's thread %d; want %d (process at %d)", p.Nice, inWriter, want, base)
		}
	} else {
		// Not permitted here (no CAP_SYS_NICE): said so, and nothing changed.
		if p.Err == nil || inWriter != base {
			t.Errorf("not raised: err %v, writer at %d, want an error and %d", p.Err, inWriter, base)
		}
		t.Logf("not raised: %v", p.Err)
	}

	// Threads the runtime starts from now on do not inherit it.
	var wg sync.WaitGroup
	nices := make([]int, 16)
	for i := range nices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // a thread to itself; ends with the goroutine
			nices[i] = niceNow(t)
		}()
	}
	wg.Wait()
	for i, n := range nices {
		if n != base {
			t.Errorf("goroutine %d ran at nice %d, want the process's %d", i, n, base)
		}
	}
}

// With no priority asked for, nothing is attempted.
func TestWriterPriorityOff(t *testing.T) {
	s, err := OpenSQLite(context.Background(), SQLiteConfig{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p := s.WriterPriority(); p.Raised || p.Err != nil {
		t.Errorf("priority 0: %+v, want nothing attempted", p)
	}
}
