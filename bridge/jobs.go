package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// sequentialBatch is how many jobs an ordered (one-worker) loop claims at once.
const sequentialBatch = 64

// jobLoop runs background jobs of one kind: it claims due jobs with a
// lease and runs up to workers of them at once; with one worker it claims
// batches and runs them in order (oldest first). After ctx is cancelled it
// claims nothing more and waits for the ones in flight.
func (b *Bridge) jobLoop(ctx context.Context, kind string, workers int, lease time.Duration, wake <-chan struct{}, handle func(Job)) {
	if workers == 1 {
		b.orderedJobLoop(ctx, kind, lease, wake, handle)
		return
	}
	slots := make(chan struct{}, workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	ticker := time.NewTicker(b.cfg.PollInterval)
	defer ticker.Stop()
	for {
		if free := workers - len(slots); free > 0 {
			jobs, err := b.store.ClaimJobs(context.WithoutCancel(ctx), kind, b.now(), free, lease)
			if err != nil && ctx.Err() == nil {
				b.log.Error("claim jobs", "kind", kind, "err", err)
			}
			for _, job := range jobs {
				slots <- struct{}{}
				wg.Add(1)
				go func(job Job) {
					defer wg.Done()
					defer func() { <-slots }()
					defer func() {
						if r := recover(); r != nil {
							b.log.Error("job panic", "kind", kind, "ref", job.Ref, "panic", fmt.Sprint(r))
						}
					}()
					handle(job)
				}(job)
			}
			if len(jobs) == free && free > 0 {
				select {
				case <-ctx.Done():
					return
				default:
					continue
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-ticker.C:
		}
	}
}

func (b *Bridge) orderedJobLoop(ctx context.Context, kind string, lease time.Duration, wake <-chan struct{}, handle func(Job)) {
	ticker := time.NewTicker(b.cfg.PollInterval)
	defer ticker.Stop()
	for {
		jobs, err := b.store.ClaimJobs(context.WithoutCancel(ctx), kind, b.now(), sequentialBatch, lease)
		if err != nil && ctx.Err() == nil {
			b.log.Error("claim jobs", "kind", kind, "err", err)
		}
		for _, job := range jobs {
			func() {
				defer func() {
					if r := recover(); r != nil {
						b.log.Error("job panic", "kind", kind, "ref", job.Ref, "panic", fmt.Sprint(r))
					}
				}()
				handle(job)
			}()
		}
		if len(jobs) == sequentialBatch && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-ticker.C:
		}
	}
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// retryJob reschedules a failed job with backoff by its attempt count.
func (b *Bridge) retryJob(ctx context.Context, job Job, cause error) {
	delay := Backoff(b.cfg.BackoffInitial, b.cfg.BackoffMax, job.Attempts)
	if err := b.store.RetryJob(ctx, job.Kind, job.Ref, b.now().Add(delay), cause.Error()); err != nil {
		b.log.Error("reschedule job", "kind", job.Kind, "ref", job.Ref, "err", err)
	}
}

// jobMessage loads the message a job is about (id). A message that is
// gone ends the job; a read error retries it. ok is false in both cases.
func (b *Bridge) jobMessage(ctx context.Context, job Job, id string) (*Message, bool) {
	return b.jobRead(ctx, job, id, b.store.Message)
}

// jobMessageHead is jobMessage without the history (see MessageHead).
func (b *Bridge) jobMessageHead(ctx context.Context, job Job, id string) (*Message, bool) {
	return b.jobRead(ctx, job, id, b.MessageHead)
}

// jobMessageForReport is jobMessage for StatusOnly reporters: without
// the history, and without the content and send record where the store
// can leave them out (MessageReportReader).
func (b *Bridge) jobMessageForReport(ctx context.Context, job Job, id string) (*Message, bool) {
	if r, ok := b.store.(MessageReportReader); ok {
		return b.jobRead(ctx, job, id, r.MessageForReport)
	}
	return b.jobMessageHead(ctx, job, id)
}

func (b *Bridge) jobRead(ctx context.Context, job Job, id string, read func(context.Context, string) (*Message, error)) (*Message, bool) {
	m, err := read(ctx, id)
	if errors.Is(err, ErrNotFound) {
		_ = b.store.FinishJob(ctx, job.Kind, job.Ref)
		return nil, false
	}
	if err != nil {
		b.retryJob(ctx, job, err)
		return nil, false
	}
	return m, true
}

// deliverInbound hands a new inbound message to every consumer that lists
// its business number. Any consumer's error retries the whole job later
// (consumers are idempotent).
func (b *Bridge) deliverInbound(job Job) {
	ctx := context.Background()
	if len(b.consumers) == 0 && b.cfg.Compliance == nil {
		_ = b.store.FinishJob(ctx, job.Kind, job.Ref) // nobody to tell: no need to read the message
		return
	}
	m, ok := b.jobMessageHead(ctx, job, job.Ref) // no consumer reads the history
	if !ok {
		return
	}
	if err := b.applyKeyword(ctx, m); err != nil {
		b.log.Warn("consent keyword not applied; will retry", "message_id", m.ID, "err", err)
		b.retryJob(ctx, job, err)
		return
	}
	for _, c := range b.consumers {
		if !c.Wants(m.Business) {
			continue
		}
		if err := c.Deliver(ctx, m); err != nil {
			b.log.Warn("inbound delivery failed; will retry", "message_id", m.ID, "err", err)
			b.retryJob(ctx, job, err)
			return
		}
	}
	if err := b.store.FinishJob(ctx, job.Kind, job.Ref); err != nil {
		b.log.Error("finish inbound job", "message_id", m.ID, "err", err)
	}
}

// reportWorkers is how many messages' reports run side by side.
const reportWorkers = 16

// reportLoop sends status reports to the origins (SMPP receipts, mail
// keywords and bounces). It claims up to sequentialBatch report jobs,
// groups them by message — a message's reports stay in order, one after
// the other — and runs up to reportWorkers messages side by side, so their
// writes share group commits; the jobs that were reported end in one
// commit.
func (b *Bridge) reportLoop(ctx context.Context, lease time.Duration) {
	ticker := time.NewTicker(b.cfg.PollInterval)
	defer ticker.Stop()
	for {
		var jobs []Job
		var err error
		if JobsDue(ctx, b.store, JobReport, b.now()) {
			jobs, err = b.store.ClaimJobs(context.WithoutCancel(ctx), JobReport, b.now(), sequentialBatch, lease)
		}
		if err != nil && ctx.Err() == nil {
			b.log.Error("claim jobs", "kind", JobReport, "err", err)
		}
		if len(jobs) > 0 {
			b.reportBatch(jobs)
		}
		if len(jobs) == sequentialBatch && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-b.reportWake:
		case <-ticker.C:
		}
	}
}

// reportBatch reports claimed jobs: per message in claim order, messages
// concurrently; a report that fails retries that job and the message's
// later ones (keeping their order), the others end together.
func (b *Bridge) reportBatch(jobs []Job) {
	var order []string
	groups := map[string][]Job{}
	for _, j := range jobs {
		id, _, _ := strings.Cut(j.Ref, "/")
		if _, ok := groups[id]; !ok {
			order = append(order, id)
		}
		groups[id] = append(groups[id], j)
	}
	var (
		mu   sync.Mutex
		done []string
		wg   sync.WaitGroup
	)
	slots := make(chan struct{}, reportWorkers)
	for _, id := range order {
		group := groups[id]
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			for i, job := range group {
				ok := func() (ok bool) {
					defer func() {
						if r := recover(); r != nil {
							b.log.Error("job panic", "kind", job.Kind, "ref", job.Ref, "panic", fmt.Sprint(r))
						}
					}()
					return b.reportStatus(job)
				}()
				if !ok {
					// Retried (or gone): the message's later reports wait
					// behind it, in their order (same due time, later rows).
					at := b.now().Add(Backoff(b.cfg.BackoffInitial, b.cfg.BackoffMax, job.Attempts))
					for _, later := range group[i+1:] {
						if err := b.store.RetryJob(context.Background(), later.Kind, later.Ref, at,
							"an earlier report of the message is retried"); err != nil {
							b.log.Error("reschedule job", "kind", later.Kind, "ref", later.Ref, "err", err)
						}
					}
					return
				}
				mu.Lock()
				done = append(done, job.Ref)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := b.store.FinishJobs(context.Background(), JobReport, done); err != nil {
		b.log.Error("finish report jobs", "err", err)
	}
}

// reportStatus reports one status change to the reporters owning the
// message's origin. true: reported (the caller ends the job); false: the
// job was retried or ended here (message gone).
func (b *Bridge) reportStatus(job Job) bool {
	ctx := context.Background()
	id, status, _ := strings.Cut(job.Ref, "/")
	// Read for StatusOnly reporters, and again whole only for an owner
	// that is not: report jobs are mostly mail's (StatusOnly), the
	// others' come from stores that cannot plan reports, or are rare.
	m, ok := b.jobMessageForReport(ctx, job, id)
	if !ok {
		return false
	}
	for _, r := range b.reporters {
		if _, only := r.(StatusOnly); !only && r.Owns(m.Origin) {
			if m, ok = b.jobMessage(ctx, job, id); !ok {
				return false
			}
			break
		}
	}
	// Report the status the job was made for, even if the message moved on
	// since: every change is reported once, in order of the jobs.
	m.Status = Status(status)
	for _, r := range b.reporters {
		if !r.Owns(m.Origin) {
			continue
		}
		if f, ok := r.(StatusFilter); ok && !f.Reports(m) {
			continue // nothing to do for this status (a report job of a store that does not plan reports)
		}
		if err := r.Report(ctx, m); err != nil {
			b.log.Warn("status report failed; will retry", "message_id", m.ID, "status", status, "err", err)
			b.retryJob(ctx, job, err)
			return false
		}
	}
	return true
}

// expireMessage ends a message whose validity ran out before delivery: it
// fails with reason expired (a delivery reported later stays in the
// history only). Delivered or already final messages are left alone.
func (b *Bridge) expireMessage(job Job) {
	ctx := context.Background()
	m, err := b.store.Message(ctx, job.Ref)
	if err == nil && (m.Status == StatusQueued || m.Status == StatusSent) {
		b.log.Info("validity period ended before delivery", "message_id", m.ID, "status", m.Status)
		b.fail(ctx, m.ID, ReasonExpired, 0, "validity period ended before delivery", b.now())
	}
	if err := b.store.FinishJob(ctx, job.Kind, job.Ref); err != nil {
		b.log.Error("finish expiry job", "message_id", job.Ref, "err", err)
	}
}
