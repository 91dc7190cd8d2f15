package listen

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestListen(t *testing.T) {
	if cfg, err := TLSConfig("", ""); cfg != nil || err != nil {
		t.Errorf("no certificate: %v %v", cfg, err)
	}
	if _, err := TLSConfig(filepath.Join(t.TempDir(), "none.pem"), "x"); err == nil {
		t.Error("a missing certificate loaded")
	}
	if _, err := Listen("127.0.0.1:0", true, nil); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("implicit TLS without a certificate: %v", err)
	}
	ln, err := Listen("127.0.0.1:0", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Listen(ln.Addr().String(), false, nil); err == nil {
		t.Error("a taken address was listened on")
	}
}
