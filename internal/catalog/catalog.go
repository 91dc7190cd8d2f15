// Package catalog keeps the WhatsApp Business Account's message templates
// cached (30 minutes by default, refreshed in the background, dropped at
// once when a template changes) and applies the template policy the core
// asks for before each send (bridge.TemplateResolver): plain text outside
// the window resolved to exactly one approved template, explicit templates
// vetted, the compliance rules tied to templates.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wabridge/wabridge/internal/templates"
)

// Source lists every template of the account (Meta: GET
// /{waba_id}/message_templates, every page).
type Source interface {
	ListTemplates(ctx context.Context) ([]*templates.Template, error)
}

// Snapshot is one listing of the catalogue.
type Snapshot struct {
	Templates []*templates.Template
	Matcher   *templates.Matcher
	FetchedAt time.Time
}

// Find returns the template with that name and language, or nil.
func (s *Snapshot) Find(name, language string) *templates.Template {
	for _, t := range s.Templates {
		if t.Name == name && t.Language == language {
			return t
		}
	}
	return nil
}

// Cache holds the latest Snapshot. Reads never wait while a snapshot is
// valid: one younger than the TTL is served as is, an older one is served
// while a single background refresh runs (stale-while-revalidate). After
// Invalidate, or when there is none yet, readers wait for one refresh
// they all share. A failed refresh is not retried before RetryAfter.
type Cache struct {
	src        Source
	ttl        time.Duration
	retryAfter time.Duration
	now        func() time.Time
	log        *slog.Logger

	mu         sync.Mutex
	snap       *Snapshot
	valid      bool   // false after Invalidate until a refresh started later ends
	generation uint64 // bumped by Invalidate
	inflight   *refresh
	failedAt   time.Time
	lastErr    error
	listings   int64
	lastReason string
}

type refresh struct {
	done chan struct{}
	snap *Snapshot
	err  error
}

// NewCache returns an empty cache over src.
func NewCache(src Source, ttl, retryAfter time.Duration, log *slog.Logger) *Cache {
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	if retryAfter <= 0 {
		retryAfter = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cache{src: src, ttl: ttl, retryAfter: retryAfter, now: time.Now, log: log}
}

// ErrUnavailable wraps a failed listing when no valid snapshot exists.
var ErrUnavailable = errors.New("catalog: template listing unavailable")

// Get returns a valid snapshot, waiting for a refresh only when there is
// none (first use, or after Invalidate).
func (c *Cache) Get(ctx context.Context) (*Snapshot, error) {
	c.mu.Lock()
	if c.snap != nil && c.valid {
		snap := c.snap
		if c.now().Sub(snap.FetchedAt) >= c.ttl {
			c.startLocked() // stale: serve it, refresh behind
		}
		c.mu.Unlock()
		return snap, nil
	}
	if c.inflight == nil && !c.failedAt.IsZero() && c.now().Sub(c.failedAt) < c.retryAfter {
		err := c.lastErr
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	r := c.startLocked()
	c.mu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, r.err)
	}
	return r.snap, nil
}

// startLocked starts a refresh unless one is running or the last one
// failed less than retryAfter ago; it returns the running one.
func (c *Cache) startLocked() *refresh {
	if c.inflight != nil {
		return c.inflight
	}
	if !c.failedAt.IsZero() && c.now().Sub(c.failedAt) < c.retryAfter && c.snap != nil {
		r := &refresh{done: make(chan struct{}), snap: c.snap}
		close(r.done)
		return r
	}
	r := &refresh{done: make(chan struct{})}
	c.inflight = r
	c.listings++
	gen := c.generation
	go c.run(r, gen)
	return r
}

func (c *Cache) run(r *refresh, gen uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	list, err := c.src.ListTemplates(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	defer close(r.done)
	c.inflight = nil
	if err != nil {
		c.failedAt, c.lastErr, r.err = c.now(), err, err
		c.log.Warn("template listing failed", "err", err, "retry_after", c.retryAfter)
		return
	}
	snap := &Snapshot{Templates: list, Matcher: templates.NewMatcher(list), FetchedAt: c.now()}
	c.snap, r.snap = snap, snap
	c.failedAt, c.lastErr = time.Time{}, nil
	// A refresh that began before an invalidation may predate the change:
	// keep it for listing, but the next reader refreshes again.
	c.valid = gen == c.generation
	c.log.Info("template catalogue refreshed", "templates", len(list), "valid", c.valid)
}

// Invalidate drops the snapshot's validity: the next reader waits for a
// fresh listing.
func (c *Cache) Invalidate(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.valid = false
	c.generation++
	c.failedAt = time.Time{} // an operator's or Meta's word beats the backoff
	c.lastReason = reason
	c.log.Info("template catalogue invalidated", "reason", reason)
}

// Status describes the cache for GET /api/v1/templates.
type Status struct {
	Snapshot   *Snapshot
	Valid      bool
	Listings   int64 // listing calls made since start
	LastError  string
	LastReason string // why it was last invalidated
}

// Status returns the cache's state without refreshing it.
func (c *Cache) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{Snapshot: c.snap, Valid: c.valid, Listings: c.listings, LastReason: c.lastReason}
	if c.lastErr != nil {
		st.LastError = c.lastErr.Error()
	}
	return st
}
