package listen

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"
)

// gatePair accepts n connections through a gate of size slots and returns
// the server sides (in the order the clients connected) and client sides.
func gatePair(t *testing.T, g *Gate, n int) (server, client []net.Conn) {
	t.Helper()
	ln, err := ListenGated("127.0.0.1:0", false, nil, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); s.Close() })
		server, client = append(server, s), append(client, c)
	}
	return server, client
}

// With one slot, a second connection's command is read only after the
// first connection answered (wrote).
func TestGateLetsOneConnectionWorkAtATime(t *testing.T) {
	g := NewGate(1)
	server, client := gatePair(t, g, 2)
	buf := make([]byte, 8)
	client[0].Write([]byte("A1"))
	client[1].Write([]byte("B1"))
	if _, err := server[0].Read(buf); err != nil { // A holds the slot
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	readB := make(chan struct{})
	go func() {
		defer close(readB)
		if _, err := server[1].Read(buf[4:]); err != nil {
			t.Error(err)
		}
		note("B read")
	}()
	time.Sleep(50 * time.Millisecond) // give B's read the chance to (wrongly) pass
	if g.Busy() != 1 || g.Waiting() != 1 {
		t.Errorf("busy %d, waiting %d; want 1 and 1", g.Busy(), g.Waiting())
	}
	note("A answers")
	server[0].Write([]byte("ok")) // releases A's slot
	<-readB
	if len(order) != 2 || order[0] != "A answers" {
		t.Fatalf("order %v: B's command was read while A held the only slot", order)
	}
	if g.Busy() != 1 || g.Waiting() != 0 {
		t.Errorf("after A answered: busy %d, waiting %d; want 1 (B) and 0", g.Busy(), g.Waiting())
	}
}

// A connection waiting for its client (its next read) or closed holds no
// slot, whatever the client does.
func TestGateSlotIsFreedByReadingAgainOrClosing(t *testing.T) {
	g := NewGate(1)
	server, client := gatePair(t, g, 3)
	buf := make([]byte, 8)
	client[0].Write([]byte("A1"))
	server[0].Read(buf)    // A holds the slot …
	go server[0].Read(buf) // … until it waits for its client's next command
	client[1].Write([]byte("B1"))
	if _, err := server[1].Read(buf); err != nil { // passes once A waits
		t.Fatal(err)
	}
	server[1].Close() // closing gives B's slot back
	client[2].Write([]byte("C1"))
	if _, err := server[2].Read(buf); err != nil {
		t.Fatal(err)
	}
	if n := len(g.slots); n != 1 {
		t.Fatalf("%d slots taken, want 1 (C's)", n)
	}
}

// With implicit TLS the gate sits below TLS: the server still gets a
// *tls.Conn (go-imap tells TLS sessions by that type).
func TestListenGatedKeepsTLSConnections(t *testing.T) {
	if _, err := ListenGated("127.0.0.1:0", true, nil, NewGate(1)); err != ErrNoCertificate {
		t.Fatalf("implicit TLS without a certificate: %v", err)
	}
	ln, err := ListenGated("127.0.0.1:0", true, &tls.Config{}, NewGate(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
			c.Write([]byte("x"))
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*tls.Conn); !ok {
		t.Fatalf("accepted a %T, want *tls.Conn", c)
	}
}
