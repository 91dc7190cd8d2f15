package listen

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// Gate bounds how many connections of a listener work at the same time.
// A connection takes a slot when a read returns data (a client's command
// arrived) and gives it back at its next read or write, or when it is
// closed: the slot covers the work between receiving a command and
// answering it, never a wait on the network, so a slow or idle client
// cannot keep one. Under overload the connections beyond the slots wait
// parked instead of all being runnable at once, so the work that is not
// behind the gate (a new message's delivery and its IDLE push, webhook
// intake, commits) does not queue behind every busy session for a core.
type Gate struct {
	slots   chan struct{}
	waiting atomic.Int64
}

// Busy is how many connections hold a slot now.
func (g *Gate) Busy() int { return len(g.slots) }

// Waiting is how many connections have a command and wait for a slot.
func (g *Gate) Waiting() int64 { return g.waiting.Load() }

// NewGate returns a gate with n slots (n < 1 means 1).
func NewGate(n int) *Gate {
	return &Gate{slots: make(chan struct{}, max(n, 1))}
}

// Listener wraps ln so that its connections pass the gate.
func (g *Gate) Listener(ln net.Listener) net.Listener { return gatedListener{ln, g} }

// ListenGated is Listen with the accepted connections passing g (nil: no
// gate); with implicit TLS the gate is below it, so a connection's TLS
// work counts and the server still sees a *tls.Conn. A gated connection
// also holds its writes until its next read (coalescingConn): a command's
// answer leaves in one write.
func ListenGated(addr string, implicitTLS bool, cfg *tls.Config, g *Gate) (net.Listener, error) {
	if g == nil {
		return Listen(addr, implicitTLS, cfg)
	}
	if implicitTLS && cfg == nil {
		return nil, ErrNoCertificate
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	gated := g.Listener(ln)
	if implicitTLS {
		return tls.NewListener(gated, cfg), nil
	}
	return gated, nil
}

type gatedListener struct {
	net.Listener
	g *Gate
}

func (l gatedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &gatedConn{Conn: &coalescingConn{Conn: c}, g: l.g}, nil
}

type gatedConn struct {
	net.Conn
	g    *Gate
	mu   sync.Mutex // guards held: reads and writes may run on different goroutines
	held bool
}

func (c *gatedConn) release() {
	c.mu.Lock()
	if c.held {
		c.held = false
		<-c.g.slots
	}
	c.mu.Unlock()
}

func (c *gatedConn) Read(p []byte) (int, error) {
	c.release()
	n, err := c.Conn.Read(p)
	if n > 0 && err == nil {
		select {
		case c.g.slots <- struct{}{}:
		default:
			c.g.waiting.Add(1)
			c.g.slots <- struct{}{}
			c.g.waiting.Add(-1)
		}
		c.mu.Lock()
		if c.held { // a concurrent read took one meanwhile: keep one
			<-c.g.slots
		}
		c.held = true
		c.mu.Unlock()
	}
	return n, err
}

func (c *gatedConn) Write(p []byte) (int, error) {
	c.release()
	return c.Conn.Write(p)
}

func (c *gatedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
