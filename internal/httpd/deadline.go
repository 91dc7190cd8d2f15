package httpd

import (
	"context"
	"sync/atomic"
	"time"
)

// webhookTimeout bounds how long a webhook waits for its commit; a request
// still waiting then gets 500 and Meta or Twilio re-deliver it.
const webhookTimeout = 30 * time.Second

// sharedDeadline hands out one context for all the webhooks that start
// within the same second, its deadline between d and d plus a second
// away: one timer a second instead of one per request (a context with its
// own timeout per webhook was 2 % of the webhook path's CPU). Nothing
// cancels it but its deadline.
type sharedDeadline struct {
	d   time.Duration
	cur atomic.Pointer[deadlineCtx]
}

type deadlineCtx struct {
	ctx    context.Context
	cancel context.CancelFunc // kept for vet; the deadline releases the timer
	until  time.Time          // hand it out until then
}

// context returns a context whose deadline is at least d away.
func (s *sharedDeadline) context() context.Context {
	now := time.Now()
	if c := s.cur.Load(); c != nil && now.Before(c.until) {
		return c.ctx
	}
	c := &deadlineCtx{until: now.Add(time.Second)}
	c.ctx, c.cancel = context.WithDeadline(context.Background(), c.until.Add(s.d))
	s.cur.Store(c)
	return c.ctx
}
