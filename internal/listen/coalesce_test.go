package listen

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingConn counts the writes that reach the network.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// coalescingPair returns a coalescing server side over a counted TCP
// connection, and the client side.
func coalescingPair(t *testing.T) (*coalescingConn, *countingConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingConn{Conn: raw}
	server := &coalescingConn{Conn: counted}
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, counted, client
}

// readFor reads from c until want arrived or a second passed.
func readFor(t *testing.T, c net.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(time.Second))
	defer c.SetReadDeadline(time.Time{})
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read %q: got %q, %v", want, got, err)
	}
	if string(got) != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// An answer written in lines leaves in one write when the server reads
// the next command, in order.
func TestCoalescingSendsAnAnswerInOneWrite(t *testing.T) {
	server, counted, client := coalescingPair(t)
	lines := []string{"* 1 FETCH (UID 1)\r\n", "* 2 FETCH (UID 2)\r\n", "A1 OK done\r\n"}
	for _, l := range lines {
		if n, err := server.Write([]byte(l)); err != nil || n != len(l) {
			t.Fatalf("write: %d, %v", n, err)
		}
	}
	if counted.count() != 0 {
		t.Fatalf("%d writes reached the network before the next read", counted.count())
	}
	client.Write([]byte("A2 NOOP\r\n"))
	buf := make([]byte, 64)
	n, err := server.Read(buf)
	if err != nil || string(buf[:n]) != "A2 NOOP\r\n" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	readFor(t, client, strings.Join(lines, ""))
	if counted.count() != 1 {
		t.Errorf("%d writes, want 1", counted.count())
	}
}

// While a read is outstanding (IDLE waits for DONE), a write goes out at
// once: the client is not left waiting for bytes held for it.
func TestCoalescingWritesAtOnceWhileAReadWaits(t *testing.T) {
	server, _, client := coalescingPair(t)
	server.Write([]byte("+ idling\r\n"))
	read := make(chan string)
	go func() {
		buf := make([]byte, 64)
		n, _ := server.Read(buf)
		read <- string(buf[:n])
	}()
	readFor(t, client, "+ idling\r\n") // sent by the read
	server.Write([]byte("* 3 EXISTS\r\n"))
	readFor(t, client, "* 3 EXISTS\r\n")
	client.Write([]byte("DONE\r\n"))
	if got := <-read; got != "DONE\r\n" {
		t.Errorf("read %q", got)
	}
}

// A large answer streams in pieces of coalesceMax; Close sends the rest.
func TestCoalescingStreamsLargeAnswersAndSendsTheRestAtClose(t *testing.T) {
	server, counted, client := coalescingPair(t)
	body := bytes.Repeat([]byte("x"), 1000)
	full := (coalesceMax + 999) / 1000 * 1000 // the writes of 1000 that fill a buffer
	want := 3*full + 500
	go func() {
		for sent := 0; sent < want; {
			n := min(len(body), want-sent)
			server.Write(body[:n])
			sent += n
		}
		server.Close()
	}()
	got, err := io.ReadAll(client)
	if err != nil || len(got) != want {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, want)
	}
	if w := counted.count(); w != 4 {
		t.Errorf("%d writes, want 4 (three full buffers and the rest at close)", w)
	}
}

// Close sends what is held even under a write deadline in the past
// (crypto/tls sets one after queueing its close_notify, then closes).
func TestCoalescingCloseSendsUnderAPastDeadline(t *testing.T) {
	server, _, client := coalescingPair(t)
	server.Write([]byte("* BYE\r\nA9 OK LOGOUT completed\r\n"))
	server.SetWriteDeadline(time.Now().Add(-time.Second))
	server.Close()
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "* BYE\r\nA9 OK LOGOUT completed\r\n" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// A failed send is reported by the next write and read, and nothing more
// is sent.
func TestCoalescingReportsAFailedSend(t *testing.T) {
	server, counted, _ := coalescingPair(t)
	server.Write([]byte("* BYE\r\n"))
	counted.Conn.Close() // the network side is gone
	if _, err := server.Read(make([]byte, 8)); err == nil {
		t.Fatal("read after a failed send succeeded")
	}
	if _, err := server.Write([]byte("more")); err == nil {
		t.Fatal("write after a failed send succeeded")
	}
	if counted.count() != 1 {
		t.Errorf("%d sends, want 1", counted.count())
	}
}

// The gated listener's connections coalesce: a command's answer arrives
// whole once the server reads again, and an idle connection holds no
// buffer.
func TestGatedConnectionsCoalesce(t *testing.T) {
	server, client := gatePair(t, NewGate(1), 1)
	client[0].Write([]byte("A1 NOOP\r\n"))
	buf := make([]byte, 64)
	if _, err := server[0].Read(buf); err != nil {
		t.Fatal(err)
	}
	server[0].Write([]byte("* OK one\r\n"))
	server[0].Write([]byte("A1 OK two\r\n"))
	go server[0].Read(buf)
	readFor(t, client[0], "* OK one\r\nA1 OK two\r\n")
	cc := server[0].(*gatedConn).Conn.(*coalescingConn)
	cc.mu.Lock()
	held := cc.held
	cc.mu.Unlock()
	if held != nil {
		t.Error("an idle connection holds a buffer")
	}
}
