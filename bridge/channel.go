package bridge

import (
	"context"
	"time"
)

// Sender sends outbound messages through one provider (Meta's Cloud API,
// Twilio). Send may block on network I/O and must honour ctx. It returns the
// provider's message id on acceptance (acceptance is not delivery). A failure
// is a *SendError carrying the action the core should take; any other error
// is treated as retryable. Send must put m.ID where the provider echoes it
// back in status webhooks (Meta: biz_opaque_callback_data).
type Sender interface {
	Send(ctx context.Context, m *Message) (providerID string, err error)
}

// ReadMarker is implemented by senders that can mark an inbound message read.
type ReadMarker interface {
	MarkRead(ctx context.Context, business, wamid string) error
}

// StatusReporter is implemented by edges that report outcomes to the origin
// of a message (SMPP receipts, mail bounces). Report is called from a
// durable job created in the same commit as the status change, once per
// status change, for messages whose Origin the reporter owns. A nil error
// ends the job; an error retries it later, so Report must be idempotent
// (typically: enqueue the edge's own durable delivery, keyed by id and
// status). It must not block for long.
type StatusReporter interface {
	Owns(origin string) bool
	Report(ctx context.Context, m *Message) error
}

// StatusOnly is implemented by a StatusReporter that never looks at a
// message's History, Content or SendRecord: the report loop then reads
// the message for it without them (no history query, no JSON decoded).
type StatusOnly interface {
	ReportsFromStatus()
}

// JobRef names a durable job: its kind and its reference within the kind.
type JobRef struct {
	Kind, Ref string
	// Data is what the job carries for its worker, written with it (an
	// SMPP receipt's fields as the status left the message); empty for
	// most jobs. Bounded by the reporter: it is stored in the job's row.
	Data string
}

// JobReporter is a StatusReporter whose reports are durable jobs of its
// own (SMPP receipts). ReportJobs names the jobs that report m's current
// status, from m alone: no I/O and no locks, for it runs inside the store's
// writer. When the store can (ReportPlanner), it enqueues them in the very
// transaction that changed the status instead of a report job that would
// call Report later: one commit instead of three for each report. Kick is
// called after such a commit, so the reporter looks at its queue. Report
// stays for stores that cannot and for report jobs already queued.
type JobReporter interface {
	StatusReporter
	ReportJobs(m *Message) []JobRef
	Kick()
}

// StatusFilter may be implemented by a StatusReporter that has nothing to
// do for some statuses (mail keywords do not change when a message is
// sent): Reports says whether m's current status needs a report; when no
// reporter owning m's origin needs one, no report job is queued at all,
// and a report job that exists anyway does not call its Report.
// It runs inside the store's writer, like ReportJobs: no I/O, no locks.
type StatusFilter interface {
	Reports(m *Message) bool
}

// ReportPlanner is implemented by stores that enqueue JobReporter jobs in
// the transaction of a status change. plan returns the jobs reporting m's
// status and whether it covered every reporter owning m's origin; when it
// did not, the store queues a report job as usual. The bridge registers its
// plan at New. m carries its whole History when its status is read, the
// one status whose report depends on those before it (an SMPP final
// receipt for read only when delivered did not come first); for other
// statuses the store may leave History out (reading it was one query per
// status webhook). The store keeps each job's Data with it (Job.Data).
type ReportPlanner interface {
	PlanReports(plan func(m *Message) (jobs []JobRef, covered bool))
}

// JobPeeker may be implemented by a store that can tell without a write
// whether jobs of a kind are due. Queues woken by every status commit (the
// report loop, an SMPP account's deliveries) ask it before claiming: a
// claim is a write, and most of those wake-ups queued nothing for them.
// A job committed before the wake-up must be seen.
type JobPeeker interface {
	JobsDue(ctx context.Context, kind string, now time.Time) (bool, error)
}

// JobsDue reports whether store has jobs of kind due at now; true when the
// store cannot tell (it does not implement JobPeeker, or the peek failed):
// the caller then claims as usual.
func JobsDue(ctx context.Context, store any, kind string, now time.Time) bool {
	p, ok := store.(JobPeeker)
	if !ok {
		return true
	}
	due, err := p.JobsDue(ctx, kind, now)
	return due || err != nil
}

// InboundConsumer is implemented by edges that deliver customers' messages
// (an IMAP mailbox user, an SMPP account). Wants reports whether the
// consumer lists the business number; every consumer that does gets the
// message. Deliver is called from a durable job created in the same commit
// as the message; an error retries it later, so Deliver must be idempotent.
// The message comes without its History (nil: it is not read).
type InboundConsumer interface {
	Wants(business string) bool
	Deliver(ctx context.Context, m *Message) error
}
