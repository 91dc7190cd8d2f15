package smsc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/wabridge/wabridge/bridge"
)

// Client is an SMPP 3.4 ESME bound as a transceiver to one upstream SMSC.
// It implements bridge.SMSRoute and reports receipts and customers'
// messages to the handle function given to New.
type Client struct {
	cfg     Config
	handle  func(ctx context.Context, events []bridge.SMSEvent) error
	log     *slog.Logger
	limiter *rate.Limiter // nil: unlimited
	addr    string

	// mu guards the submission queue, the submissions, the throttling
	// pause and the current session.
	mu         sync.Mutex
	queue      partQueue
	tickets    uint64
	cur        *session // bound session, nil while the link is down
	closed     bool
	pauseStart time.Time // when the current throttling pause began
	pauseUntil time.Time
	throttles  int // consecutive throttling pauses
	wake       chan struct{}

	ref atomic.Uint32 // concatenation reference of the last long message

	started   atomic.Bool
	stop      chan struct{} // closed when Close begins
	stopOnce  sync.Once
	stopCtx   context.Context // cancelled when Close begins (dial, bind)
	stopDial  context.CancelFunc
	hard      context.Context // given to handle; cancelled when Close gives up
	hardStop  context.CancelFunc
	wg        sync.WaitGroup
	runExited chan struct{}

	// Inbound side (mo.go).
	moQ        chan *moItem
	moInFlight atomic.Int64 // items queued or being handled
	moMu       sync.Mutex
	concat     map[concatKey]*concatEntry
	stored     map[concatKey]*concatEntry // reassembled messages, to spot redelivered parts
	recent     map[string]*recentMO
	moSeq      uint64
}

// New checks cfg and returns a client; Start connects it. handle stores
// what the SMSC reports (receipts and customers' messages) durably: a
// deliver_sm is acknowledged with ESME_ROK only after handle returned nil
// for it, and with ESME_RX_T_APPN (the SMSC retries later) when handle
// failed. handle is called from one goroutine at a time, with batches.
func New(cfg Config, handle func(ctx context.Context, events []bridge.SMSEvent) error, log *slog.Logger) (*Client, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if handle == nil {
		return nil, errors.New("smsc: handle function missing")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:       cfg,
		handle:    handle,
		log:       log.With("route", cfg.Name),
		addr:      net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		runExited: make(chan struct{}),
		moQ:       make(chan *moItem, 256),
		concat:    make(map[concatKey]*concatEntry),
		stored:    make(map[concatKey]*concatEntry),
		recent:    make(map[string]*recentMO),
	}
	if cfg.Throughput > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.Throughput), 1)
	}
	c.ref.Store(rand.Uint32())
	c.stopCtx, c.stopDial = context.WithCancel(context.Background())
	c.hard, c.hardStop = context.WithCancel(context.Background())
	return c, nil
}

// Name returns the route's configured name.
func (c *Client) Name() string { return c.cfg.Name }

// Ready reports whether the client is bound to the SMSC.
func (c *Client) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil
}

// Start connects in the background: it binds as a transceiver and, after
// any failure or disconnection, reconnects with exponential backoff until
// Close. Calls after the first do nothing.
func (c *Client) Start() {
	if !c.started.CompareAndSwap(false, true) {
		return
	}
	select {
	case <-c.stop:
		return
	default:
	}
	c.wg.Add(3)
	go c.run()
	go c.moLoop()
	go c.sweepLoop()
}

// Close stops the client: submissions waiting for the link fail with
// ActionRetry, in-flight submit_sm get their responses, receipts and
// messages being stored are answered, the session is unbound gracefully,
// and the goroutines end. When ctx ends first the connection is dropped
// (what was not answered is redelivered by the SMSC) and ctx.Err() is
// returned.
func (c *Client) Close(ctx context.Context) error {
	c.stopOnce.Do(func() {
		close(c.stop)
		c.stopDial()
	})
	c.mu.Lock()
	c.closed = true
	for c.queue.Len() > 0 {
		p := c.queue.parts[0]
		c.queue.remove(p)
		c.resolveLocked(p, "", retryError("the SMS route is closing", nil))
	}
	s := c.cur
	c.mu.Unlock()
	c.signal()
	if s != nil {
		s.unbind(ctx)
	}
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		c.hardStop()
		return nil
	case <-ctx.Done():
		c.hardStop()
		c.mu.Lock()
		s = c.cur
		c.mu.Unlock()
		if s != nil {
			s.close("closing")
		}
		return ctx.Err()
	}
}

func (c *Client) stopping() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// signal wakes the sender (queue or pause changed).
func (c *Client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Client) observe(event string) {
	if c.cfg.Observe != nil {
		c.cfg.Observe(event)
	}
}

// run connects, serves the session and reconnects, until Close.
func (c *Client) run() {
	defer c.wg.Done()
	defer close(c.runExited)
	attempt := 0
	for !c.stopping() {
		s, err := c.connect()
		if err != nil {
			if c.stopping() {
				return
			}
			attempt++
			d := c.backoff(attempt)
			var be *bindError
			if errors.As(err, &be) {
				c.observe("bind_failed")
				c.log.Warn("smsc: bind refused", "status", be.status.String(), "attempt", attempt, "retry_in", d)
			} else {
				c.observe("connect_failed")
				c.log.Warn("smsc: connect failed", "err", err, "attempt", attempt, "retry_in", d)
			}
			if !c.sleep(d) {
				return
			}
			continue
		}
		began := time.Now()
		c.serve(s)
		if time.Since(began) >= c.cfg.ReconnectMax {
			attempt = 0 // a session that lasted: start the backoff over
		}
		attempt++
		if !c.sleep(c.backoff(attempt)) {
			return
		}
	}
}

// backoff is ReconnectMin doubling per attempt up to ReconnectMax, ±20%.
func (c *Client) backoff(attempt int) time.Duration {
	d := bridge.Backoff(c.cfg.ReconnectMin, c.cfg.ReconnectMax, attempt)
	j := int64(d) / 5
	if j > 0 {
		d += time.Duration(rand.Int64N(2*j+1) - j)
	}
	return d
}

// sleep waits d; false when Close began.
func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.stop:
		return false
	}
}

// bindError is a bind refused by the SMSC.
type bindError struct {
	status fmt.Stringer
}

func (e *bindError) Error() string { return "smsc: bind refused: " + e.status.String() }

// connect dials and binds.
func (c *Client) connect() (*session, error) {
	ctx, cancel := context.WithTimeout(c.stopCtx, c.cfg.ResponseTimeout)
	defer cancel()
	var conn net.Conn
	var err error
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	if c.cfg.TLS {
		tc := &tls.Config{}
		if c.cfg.TLSConfig != nil {
			tc = c.cfg.TLSConfig.Clone()
		}
		if tc.ServerName == "" {
			tc.ServerName = c.cfg.Host
		}
		conn, err = (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(ctx, "tcp", c.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", c.addr)
	}
	if err != nil {
		return nil, err
	}
	c.observe("connect")
	s := newSession(c, conn)
	// Abort the bind when Close begins.
	stopWatch := context.AfterFunc(c.stopCtx, func() { _ = conn.Close() })
	defer stopWatch()
	if err := s.bind(); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}
