// Package listen opens the daemon's TCP listeners, plain or with TLS, the
// same way for every edge (SMPP, SMTP, IMAP).
package listen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// TLSConfig loads a server certificate; nil (and no error) when certFile
// is empty. TLS 1.2 at least.
func TLSConfig(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// ErrNoCertificate is returned for an implicit-TLS listener without one.
var ErrNoCertificate = errors.New("tls_listen needs cert_file and key_file")

// Listen opens addr: with implicit TLS when implicitTLS (cfg required),
// else plain TCP.
func Listen(addr string, implicitTLS bool, cfg *tls.Config) (net.Listener, error) {
	if implicitTLS {
		if cfg == nil {
			return nil, ErrNoCertificate
		}
		ln, err := tls.Listen("tcp", addr, cfg)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		return ln, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}
