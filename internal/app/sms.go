package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/wabridge/wabridge/adapters/smsc"
	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/config"
	"github.com/wabridge/wabridge/internal/metrics"
)

// smppRoute builds the client of an [[sms.routes]] entry of type smpp. Its
// events go to the bridge through handle, which works once the bridge exists.
func smppRoute(r config.SMSRoute, handle func(ctx context.Context, events []bridge.SMSEvent) error, m *metrics.Metrics, log *slog.Logger) (*smsc.Client, error) {
	c := smsc.Config{
		Name: r.Name, Host: r.Host, Port: r.Port, SystemID: r.SystemID, Password: r.Password.Value(),
		SystemType: r.SystemType, TLS: r.TLS, Throughput: r.Throughput, AllowAlphanumericSource: r.AlphanumericSource,
	}
	name := r.Name
	c.Observe = func(event string) { m.SMSRoute.WithLabelValues(name, event).Inc() }
	if r.TLS && r.CAFile != "" {
		pem, err := os.ReadFile(r.CAFile)
		if err != nil {
			return nil, fmt.Errorf("sms route %s: ca_file: %w", r.Name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sms route %s: ca_file %s holds no PEM certificate", r.Name, r.CAFile)
		}
		c.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	client, err := smsc.New(c, handle, log)
	if err != nil {
		return nil, fmt.Errorf("sms route %s: %w", r.Name, err)
	}
	return client, nil
}

// fallbackPolicy maps [fallback].
func fallbackPolicy(cfg *config.Config) bridge.FallbackPolicy {
	p := bridge.FallbackPolicy{Enabled: cfg.Fallback.Enabled, Timeout: cfg.Fallback.Timeout.D(),
		BreakerProbe: cfg.Fallback.BreakerProbe.D(), Off: map[bridge.Trigger]bool{}}
	for _, t := range cfg.Fallback.Off {
		p.Off[bridge.Trigger(t)] = true
	}
	return p
}

// closeRoutes unbinds the SMS routes within ctx.
func closeRoutes(ctx context.Context, routes []*smsc.Client) error {
	var first error
	for _, r := range routes {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := r.Close(c); err != nil && first == nil {
			first = err
		}
		cancel()
	}
	return first
}
