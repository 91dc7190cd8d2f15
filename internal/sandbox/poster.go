package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// poster delivers webhooks over keep-alive connections with fasthttp's
// client: each request is written and its answer read on the worker's own
// goroutine. net/http's transport hands every request to two goroutines of
// its connection and back, which cost the sandbox as much CPU per webhook as
// building and signing it (the sandbox shares the daemon's cores in the
// load tests). Closing the poster cuts the requests in flight: their
// connections are closed, as a cancelled context did with net/http.
type poster struct {
	client *fasthttp.Client
	dialer net.Dialer

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// maxWebhookAnswer bounds the body read of a webhook's answer; a longer
// answer fails the attempt (Meta's receivers answer with a few bytes).
const maxWebhookAnswer = 64 << 10

func newPoster(workers int) *poster {
	p := &poster{conns: map[net.Conn]struct{}{}}
	p.client = &fasthttp.Client{
		NoDefaultUserAgentHeader:      true,
		MaxConnsPerHost:               max(workers, 1) * 2,
		MaxIdleConnDuration:           90 * time.Second,
		ReadTimeout:                   webhookTimeout,
		WriteTimeout:                  webhookTimeout,
		MaxResponseBodySize:           maxWebhookAnswer,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		Dial:                          p.dial,
	}
	return p
}

// dial connects and tracks the connection until it is closed.
func (p *poster) dial(addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
	defer cancel()
	c, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return nil, errors.New("sandbox: closed")
	}
	tc := &trackedConn{Conn: c, p: p}
	p.conns[tc] = struct{}{}
	return tc, nil
}

// post sends one signed webhook body to target; only a 2xx answer counts.
func (p *poster) post(target, signature string, body []byte) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(target)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set("X-Hub-Signature-256", signature)
	req.Header.SetUserAgent("facebookexternalua")
	req.SetBodyRaw(body)
	if err := p.client.DoTimeout(req, resp, webhookTimeout); err != nil {
		return err
	}
	if c := resp.StatusCode(); c < 200 || c > 299 {
		return fmt.Errorf("webhook answered HTTP %d", c)
	}
	return nil
}

// close cuts every connection, idle or in use; later dials fail.
func (p *poster) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range conns {
		_ = c.(*trackedConn).Conn.Close()
	}
	p.client.CloseIdleConnections()
}

// trackedConn leaves the poster's set when closed.
type trackedConn struct {
	net.Conn
	p    *poster
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	})
	return c.Conn.Close()
}
