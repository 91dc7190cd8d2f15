package simlife

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// Start serves once; Close stops serving, ends Sleep, cancels Context,
// waits for the tracked goroutines, refuses new ones and keeps its first
// result.
func TestLifecycle(t *testing.T) {
	l := New("sim")
	log := slog.New(slog.DiscardHandler)
	var hooked bool
	addr, err := l.Start("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), log, func() { hooked = true })
	if err != nil || !hooked || l.Addr() != addr.String() {
		t.Fatalf("Start: %v, hook ran %v, Addr %q vs %v", err, hooked, l.Addr(), addr)
	}
	if _, err := l.Start("127.0.0.1:0", http.NotFoundHandler(), log, nil); err == nil {
		t.Fatal("started twice")
	}
	resp, err := http.Get("http://" + l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var finished atomic.Bool
	slept := make(chan bool, 1)
	if !l.Go(func() { slept <- l.Sleep(time.Hour) }) {
		t.Fatal("Go refused before Close")
	}
	l.Go(func() {
		<-l.Context().Done()
		finished.Store(true)
	})
	var stopped bool
	if err := l.Close(context.Background(), func() { stopped = true }); err != nil {
		t.Fatal(err)
	}
	if !stopped || !finished.Load() || <-slept {
		t.Fatalf("after Close: stopping ran %v, goroutine finished %v", stopped, finished.Load())
	}
	if l.Go(func() {}) {
		t.Error("Go ran after Close")
	}
	l.Locked(func(closed bool) {
		if !closed {
			t.Error("Locked sees an open simulator after Close")
		}
	})
	if err := l.Close(context.Background(), nil); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := New("sim").Start("256.0.0.1:0", http.NotFoundHandler(), log, nil); err == nil {
		t.Error("listened on an invalid address")
	}
	closed := New("sim")
	closed.Close(context.Background(), nil)
	if _, err := closed.Start("127.0.0.1:0", http.NotFoundHandler(), log, nil); err == nil {
		t.Error("started after Close")
	}
}
