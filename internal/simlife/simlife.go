// Package simlife is the lifecycle the provider simulators share
// (internal/sandbox plays Meta, internal/twiliosim plays Twilio): serve
// HTTP on one listener, run background work (webhook deliveries, timers)
// that Close cancels and waits for.
package simlife

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Life is one simulator's lifecycle. Its zero value is not usable; make
// one with New.
type Life struct {
	name string // in errors: "sandbox", "twiliosim"

	mu          sync.Mutex
	started     bool
	closed      bool
	ln          net.Listener
	shutdown    func(context.Context) error // stops the server started (nil: none)
	serveErr    chan error
	closeResult error

	done   chan struct{} // closed by Close
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines
}

// New returns the lifecycle of the simulator called name.
func New(name string) *Life {
	l := &Life{name: name, done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// Start listens on addr and serves h in the background with net/http;
// then, still holding the lifecycle's lock, runs started (nil: nothing),
// which may call GoLocked. Start or StartFast may be called once, and not
// after Close.
func (l *Life) Start(addr string, h http.Handler, log *slog.Logger, started func()) (net.Addr, error) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return l.start(addr, started, srv.Serve, func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		if err != nil {
			_ = srv.Close()
		}
		return err
	})
}

// StartFast is Start with a fasthttp server (its handler and limits set by
// the caller): for a simulator whose hot path load tests drive.
func (l *Life) StartFast(addr string, srv *fasthttp.Server, started func()) (net.Addr, error) {
	return l.start(addr, started, srv.Serve, srv.ShutdownWithContext)
}

func (l *Life) start(addr string, started func(), serve func(net.Listener) error, shutdown func(context.Context) error) (net.Addr, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("%s: server is closed", l.name)
	}
	if l.started {
		return nil, fmt.Errorf("%s: already started", l.name)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen %s: %w", l.name, addr, err)
	}
	l.ln = ln
	l.shutdown = shutdown
	l.started = true
	l.serveErr = make(chan error, 1)
	go func() { l.serveErr <- serve(ln) }()
	if started != nil {
		started()
	}
	return ln.Addr(), nil
}

// Addr is the listening address ("127.0.0.1:PORT") after Start, else "".
func (l *Life) Addr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return ""
	}
	return l.ln.Addr().String()
}

// Close stops serving, closes Done, cancels Context, runs stopping (nil:
// nothing; e.g. to close queues the background goroutines wait on), and
// waits for those goroutines, or for ctx. Calling it again returns the
// first result.
func (l *Life) Close(ctx context.Context, stopping func()) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return l.closeResult
	}
	l.closed = true
	shutdown, ln := l.shutdown, l.ln
	l.mu.Unlock()

	var errs []error
	if shutdown != nil {
		if err := shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		// fasthttp's Shutdown does nothing when it runs before Serve has
		// taken the listener; closed, the listener ends Serve either way.
		_ = ln.Close()
		if err := <-l.serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	close(l.done)
	l.cancel()
	if stopping != nil {
		stopping()
	}
	waited := make(chan struct{})
	go func() { l.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	err := errors.Join(errs...)
	l.mu.Lock()
	l.closeResult = err
	l.mu.Unlock()
	return err
}

// Go runs f in a tracked goroutine unless the simulator is closed; it
// reports whether f was started.
func (l *Life) Go(f func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.GoLocked(f)
	return true
}

// Locked runs f holding the lifecycle's lock, telling it whether the
// simulator is closed; f may call GoLocked.
func (l *Life) Locked(f func(closed bool)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l.closed)
}

// GoLocked runs f in a tracked goroutine; call it with the lock held (in
// Start's started or in Locked).
func (l *Life) GoLocked(f func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
}

// Sleep waits d or until Close; it reports whether d passed.
func (l *Life) Sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.done:
		return false
	}
}

// Done is closed by Close.
func (l *Life) Done() <-chan struct{} { return l.done }

// Context is cancelled by Close: background requests use it.
func (l *Life) Context() context.Context { return l.ctx }
