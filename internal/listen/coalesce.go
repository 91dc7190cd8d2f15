package listen

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// coalescingConn holds a connection's writes until it next reads, until
// the bytes held reach coalesceMax, or until it is closed. A server that
// answers a command in many small writes (imapserver flushes every
// response line: a FETCH of ten messages is eleven writes) then sends the
// answer in one system call and one segment, as servers that buffer per
// command (Dovecot) do. Whatever a server writes before it waits for its
// client is sent before that wait: a read sends the held bytes first.
// A write made while a read is outstanding (another goroutine waits for
// the client: IMAP IDLE's updates while DONE is awaited) goes out at
// once, so nothing waits in the buffer for a client that waits for it.
//
// A held write reports success; an error sending it is returned by the
// next Write or Read, as with a bufio.Writer. Held bytes sent by a read
// or by Close go out under the write deadline the server set, or, when
// it set none (imapserver clears its deadline after each response),
// under heldSendTimeout: a client that stops reading cannot hold the
// server's goroutine longer than it could before. An idle connection
// holds no buffer.
type coalescingConn struct {
	net.Conn
	deadline atomic.Int64 // the write deadline set, in Unix ns; 0: none

	mu      sync.Mutex // guards the fields below; held while sending
	held    *[]byte    // pooled; nil when nothing is held
	reading int        // reads outstanding
	err     error      // a send failed: every later Write and Read fails
}

// coalesceMax is how many bytes a connection holds at most before it
// sends them: a large answer (bodies) streams in pieces of this size.
const coalesceMax = 32 << 10

// heldSendTimeout bounds sending held bytes when the server set no write
// deadline (imapserver's own per response is 30 s).
const heldSendTimeout = 30 * time.Second

// closeFlushTimeout bounds how long Close waits to send held bytes to a
// client that does not read.
const closeFlushTimeout = 5 * time.Second

var heldPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.reading > 0 || (c.held == nil && len(p) >= coalesceMax) {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		n, err := c.Conn.Write(p)
		if err != nil {
			c.err = err
		}
		return n, err
	}
	if c.held == nil {
		c.held = heldPool.Get().(*[]byte)
	}
	*c.held = append(*c.held, p...)
	if len(*c.held) >= coalesceMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (c *coalescingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if err := c.sendHeldLocked(); err != nil {
		c.mu.Unlock()
		return 0, err
	}
	c.reading++
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.reading--
	c.mu.Unlock()
	return n, err
}

// Close sends what is held (waiting at most closeFlushTimeout for the
// client, whatever write deadline is set), then closes. While another
// goroutine is sending, it closes at once: that send fails, and what is
// held is dropped with the connection.
func (c *coalescingConn) Close() error {
	if c.mu.TryLock() {
		if c.held != nil && c.err == nil {
			// Whatever deadline is set: crypto/tls sets one in the
			// past after queueing its close_notify.
			_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
			_ = c.flushLocked()
		}
		c.mu.Unlock()
	}
	return c.Conn.Close()
}

func (c *coalescingConn) SetWriteDeadline(t time.Time) error {
	c.noteDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *coalescingConn) SetDeadline(t time.Time) error {
	c.noteDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *coalescingConn) noteDeadline(t time.Time) {
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		c.deadline.Store(t.UnixNano())
	}
}

// sendHeldLocked sends the held bytes, under a write deadline of
// heldSendTimeout from now when none is set.
func (c *coalescingConn) sendHeldLocked() error {
	if c.held == nil || c.err != nil {
		return c.err
	}
	if c.deadline.Load() == 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(heldSendTimeout))
		defer func() {
			if c.deadline.Load() == 0 {
				_ = c.Conn.SetWriteDeadline(time.Time{})
			}
		}()
	}
	return c.flushLocked()
}

// flushLocked sends the held bytes and returns the buffer to the pool.
func (c *coalescingConn) flushLocked() error {
	if c.err != nil {
		return c.err
	}
	if c.held == nil {
		return nil
	}
	b := c.held
	c.held = nil
	_, err := c.Conn.Write(*b)
	if cap(*b) <= 2*coalesceMax {
		*b = (*b)[:0]
		heldPool.Put(b)
	}
	if err != nil {
		c.err = err
	}
	return err
}
