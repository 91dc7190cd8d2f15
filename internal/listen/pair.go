package listen

import (
	"crypto/tls"
	"errors"
	"net"
)

// Pair is a mail server's two optional listeners: plain (with STARTTLS)
// and implicit TLS.
type Pair struct {
	plain, tls net.Listener
}

// OpenPair listens on plainAddr and tlsAddr ("" for none), both through
// g when it is not nil. When the second cannot listen the first is closed
// again: either both are open or neither is.
func OpenPair(plainAddr, tlsAddr string, cfg *tls.Config, g *Gate) (*Pair, error) {
	var p Pair
	var err error
	if plainAddr != "" {
		if p.plain, err = ListenGated(plainAddr, false, cfg, g); err != nil {
			return nil, err
		}
	}
	if tlsAddr != "" {
		if p.tls, err = ListenGated(tlsAddr, true, cfg, g); err != nil {
			p.Close()
			return nil, err
		}
	}
	return &p, nil
}

// Each calls serve for each open listener (plain first), with whether it
// is the implicit-TLS one.
func (p *Pair) Each(serve func(ln net.Listener, implicitTLS bool)) {
	if p.plain != nil {
		serve(p.plain, false)
	}
	if p.tls != nil {
		serve(p.tls, true)
	}
}

// Addr is the plain listener's address ("" if none, or p is nil).
func (p *Pair) Addr() string {
	if p == nil {
		return ""
	}
	return addrOf(p.plain)
}

// TLSAddr is the implicit-TLS listener's address ("" if none, or p is nil).
func (p *Pair) TLSAddr() string {
	if p == nil {
		return ""
	}
	return addrOf(p.tls)
}

// Close closes both listeners.
func (p *Pair) Close() error {
	var errs []error
	for _, ln := range []net.Listener{p.plain, p.tls} {
		if ln != nil {
			if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}
