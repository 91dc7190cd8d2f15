package listen

import (
	"crypto/tls"
	"net"
	"testing"
)

// Either both listeners of a pair are open or neither: when the TLS one
// cannot listen, the plain one is closed again.
func TestOpenPairIsAllOrNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plainAddr := free.Addr().String()
	free.Close()

	if _, err := OpenPair(plainAddr, taken.Addr().String(), &tls.Config{}, nil); err == nil {
		t.Fatal("a pair opened on a taken TLS address")
	}
	again, err := net.Listen("tcp", plainAddr)
	if err != nil {
		t.Fatalf("the plain listener was left open: %v", err)
	}
	again.Close()

	p, err := OpenPair(plainAddr, "", nil, NewGate(1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Addr() != plainAddr || p.TLSAddr() != "" {
		t.Errorf("addresses %q %q", p.Addr(), p.TLSAddr())
	}
	var seen []bool
	p.Each(func(_ net.Listener, implicitTLS bool) { seen = append(seen, implicitTLS) })
	if len(seen) != 1 || seen[0] {
		t.Errorf("Each saw %v, want the plain listener only", seen)
	}
	var none *Pair
	if none.Addr() != "" || none.TLSAddr() != "" {
		t.Error("a nil pair has addresses")
	}
}
