package bridge

import (
	"context"
	"encoding/json"
	"time"
)

// Store is the durable state behind the bridge. Every method that returns
// without error has committed its change (durable before acknowledge);
// implementations batch concurrent writers into shared commits (group commit).
// All times are wall-clock; implementations keep millisecond precision.
type Store interface {
	// CreateOutbound commits m (status queued, one history entry) together
	// with its send job, due at m.CreatedAt. When m.IdempotencyKey is set and
	// a message with the same origin and key exists, nothing is written and
	// that message's id is returned with created == false. m has no WAMID
	// yet (a store may refuse one: recording the provider's id is what ends
	// a send job).
	CreateOutbound(ctx context.Context, m *Message) (id MessageID, created bool, err error)

	// Message returns a message with its history by wabridge id, by
	// provider id (wamid), or by the id of one of its parts (AddPart).
	// ErrNotFound when none matches.
	Message(ctx context.Context, idOrWAMID string) (*Message, error)
	// MessageByKey returns the message an origin submitted with an
	// idempotency key; ErrNotFound if none.
	MessageByKey(ctx context.Context, origin, key string) (*Message, error)
	// RecordSend stores how a message is sent (or why not), replacing an
	// earlier record.
	RecordSend(ctx context.Context, id MessageID, rec *SendRecord) error
	// Consent returns a customer's consent record; ErrNotFound if none.
	Consent(ctx context.Context, customer string) (*Consent, error)
	// SetConsent stores a consent change unless the stored one is newer;
	// it reports whether it applied.
	SetConsent(ctx context.Context, c Consent) (bool, error)
	// Initiate records that the business starts a conversation with a
	// customer outside their window, unless limit other customers were
	// already started within the 24 hours before now (limit 0: no limit);
	// a customer started within those 24 hours is always allowed again.
	Initiate(ctx context.Context, customer string, now time.Time, limit int) (bool, error)
	// Fallback moves an outbound message not yet delivered from WhatsApp
	// to SMS: channel sms, its trigger and why recorded, its WhatsApp send
	// job gone, a JobSMS due at. It reports false (and changes nothing)
	// for a message already delivered, final or on SMS.
	Fallback(ctx context.Context, id MessageID, trigger Trigger, why string, at time.Time) (*Message, bool, error)
	// SMSSubmitted records the parts an SMS route accepted, ends the
	// JobSMS and moves the message to sent.
	SMSSubmitted(ctx context.Context, id MessageID, route string, partIDs []string, at time.Time) (*Message, error)
	// IngestSMS stores what SMS routes reported: receipts (a part's state;
	// the message becomes delivered when every part is, failed when one
	// finally fails) and customers' messages (as Ingest stores inbound
	// ones, with their inbound job). Idempotent.
	IngestSMS(ctx context.Context, events []SMSEvent) (IngestOutcome, error)
	// LastInboundChannel is the channel of the customer's latest message
	// to the business ("" if none).
	LastInboundChannel(ctx context.Context, business, customer string) (Channel, error)

	// Ingest commits a batch of webhook events atomically. Inbound messages
	// are stored once per wamid and refresh the customer-service window;
	// status events are applied once per (wamid, status), matched to their
	// message by callback data (our id) or wamid, and applied with Advance;
	// raw events are stored once per key. A status whose message is not yet
	// known is kept and applied when Accepted records its wamid. The outcome
	// lists the messages whose status changed and the new inbound messages.
	Ingest(ctx context.Context, events []Event) (IngestOutcome, error)

	// LastInbound returns the time of the customer's last message to the
	// business number, zero when there was none.
	LastInbound(ctx context.Context, business, customerKey string) (time.Time, error)

	// ClaimSends leases up to limit send jobs due at now for lease.
	ClaimSends(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]SendJob, error)
	// StartAttempt records that a send attempt begins now: until Accepted,
	// Retry or Fail, its outcome is unknown (see reconciliation in Bridge).
	// In the same commit it stores how the message is sent (rec, if not
	// nil) and queues a JobFallbackTimeout due at fallbackAt (if not zero).
	// ErrNotFound when the job is gone (cancelled or settled meanwhile).
	StartAttempt(ctx context.Context, id MessageID, at time.Time, rec *SendRecord, fallbackAt time.Time) error
	// Accepted records the provider id of a sent message and ends its job.
	// It is idempotent, and applies status events that arrived first;
	// changed reports that those moved the message's status (and queued
	// its reports). ErrNotFound when there is no such message.
	Accepted(ctx context.Context, id MessageID, wamid string, at time.Time) (changed bool, err error)
	// CancelQueued fails a queued message with reason cancelled and ends its
	// job, when no send attempt has begun; ErrNotCancellable otherwise.
	CancelQueued(ctx context.Context, id MessageID, at time.Time) (*Message, error)
	// Retry reschedules the job after a definite failure (the attempt is over).
	Retry(ctx context.Context, id MessageID, runAt time.Time, lastErr string) error
	// Defer reschedules the job keeping the unknown attempt (reconciliation wait).
	Defer(ctx context.Context, id MessageID, runAt time.Time, lastErr string) error
	// Fail marks the message failed (if it is not final already), records
	// why and ends its job. changed reports whether the status moved.
	Fail(ctx context.Context, id MessageID, reason Reason, code int, msg string, at time.Time) (m *Message, changed bool, err error)

	// ClaimJobs leases up to limit due jobs of one kind (other than sends),
	// counting the claim as an attempt.
	ClaimJobs(ctx context.Context, kind string, now time.Time, limit int, lease time.Duration) ([]Job, error)
	// RetryJob reschedules a job.
	RetryJob(ctx context.Context, kind, ref string, runAt time.Time, lastErr string) error
	// ReleaseJob gives up the lease of a claimed job without moving it in
	// the queue (it is claimed again in its place, with its order kept).
	ReleaseJob(ctx context.Context, kind, ref, lastErr string) error
	// EnqueueJob adds a job once: a job with the same kind and ref that is
	// still pending is left as it is.
	EnqueueJob(ctx context.Context, kind, ref string, runAt time.Time) error
	// FinishJob ends a job (no error when it is gone already).
	FinishJob(ctx context.Context, kind, ref string) error
	// FinishJobs ends several jobs of one kind in one commit.
	FinishJobs(ctx context.Context, kind string, refs []string) error
	// UpdateMedia changes a message's media record with fn and, when
	// endJob is set, ends that job for the message, in one commit.
	UpdateMedia(ctx context.Context, id MessageID, fn func(*Media), endJob string) (*Message, error)

	// AddPart commits one part of a concatenated submission and returns its
	// id; a part repeated (same origin, key and seq) returns the first id.
	// When the part completes the set, build assembles the parts (in seq
	// order) into the message, which is committed in the same transaction
	// exactly as CreateOutbound would, every part id then resolving to it;
	// m is that message, nil while parts are missing.
	AddPart(ctx context.Context, p *Part, build func(parts []Part) (*Message, error)) (id MessageID, m *Message, err error)
	// ExpireParts marks the parts of sets older than before as expired and
	// returns them; they stay readable with Part until DeletePart.
	ExpireParts(ctx context.Context, before time.Time) ([]Part, error)
	// Part returns a stored part by id (ErrNotFound when none).
	Part(ctx context.Context, id MessageID) (*Part, error)
	// DeletePart removes a part (after its expiry was reported).
	DeletePart(ctx context.Context, id MessageID) error

	// OutboxDepth counts send jobs not yet done.
	OutboxDepth(ctx context.Context) (int, error)
	// Purge removes message bodies older than before; it returns how many.
	Purge(ctx context.Context, before time.Time) (int, error)
	// Ping checks the store can be used.
	Ping(ctx context.Context) error
}

// Job kinds besides sends.
const (
	// JobMediaFetch downloads a customer's media (ref: the message id). It is
	// created by Ingest in the same commit as the message.
	JobMediaFetch = "media_fetch"
	// JobReport tells a message's origin about a status change (ref:
	// "<message id>/<status>"). Created by the store in the same commit as
	// the change, for outbound messages whose Origin is neither "" nor "api".
	JobReport = "report"
	// JobInbound hands a new inbound message to the consumers (ref: the
	// message id). Created by Ingest in the same commit as the message.
	JobInbound = "inbound"
	// JobExpire ends a message not delivered by its ExpiresAt (ref: the
	// message id, due then). Created with the message.
	JobExpire = "expire"
	// JobSMS sends a message that fell back to SMS (ref: the message id).
	JobSMS = "sms"
	// JobFallbackTimeout moves a message WhatsApp has not delivered in
	// time to SMS (ref: the message id).
	JobFallbackTimeout = "fallback_timeout"
)

// ReportsOrigin reports whether status changes of messages from origin are
// reported through JobReport (the REST API polls instead).
func ReportsOrigin(origin string) bool { return origin != "" && origin != "api" }

// OutboundQueuer is implemented by stores that can hand CreateOutbound's
// write to their writer without waiting for it: writes queued one after
// another commit in that order, and wait returns CreateOutbound's results
// once durable. SubmitQueued uses it to pipeline a connection's submissions
// (SMPP) in order through shared commits.
type OutboundQueuer interface {
	CreateOutboundQueued(ctx context.Context, m *Message) (wait func() (MessageID, bool, error))
}

// MessageHeadReader is implemented by stores that can read a message
// without its history, one query less (see Bridge.MessageHead).
type MessageHeadReader interface {
	MessageHead(ctx context.Context, idOrWAMID string) (*Message, error)
}

// MessageReportReader is implemented by stores that can read a message
// by its id for a StatusOnly reporter: without its history, content and
// send record (History and SendRecord nil, Content zero).
type MessageReportReader interface {
	MessageForReport(ctx context.Context, id string) (*Message, error)
}

// Job is a leased unit of background work.
type Job struct {
	Kind      string
	Ref       string
	Attempts  int // claims so far, this one included
	LastError string
	Data      string // JobRef.Data as queued ("" when none)
}

// SendJob is a leased send: the message and what is known of earlier attempts.
type SendJob struct {
	// Message is the message to send; its History is not read (nil).
	Message  *Message
	Attempts int
	// AttemptStarted is set when an earlier attempt began and its outcome
	// was never recorded (a crash or a lost answer).
	AttemptStarted time.Time
	// WindowRead is set when the store read the customer's window with
	// the claim: LastInbound is then what Store.LastInbound would answer
	// (zero: the customer never wrote). Otherwise the outbox asks.
	WindowRead  bool
	LastInbound time.Time
}

// IngestOutcome is what a committed batch of events changed.
type IngestOutcome struct {
	IngestResult
	// Changed are outbound messages whose status moved, after the change.
	// A store may leave out what a status does not touch: Content,
	// SendRecord, timestamps other than CreatedAt and UpdatedAt, and
	// History unless the status is read (see ReportPlanner).
	Changed []*Message
	// Inbound are the newly stored inbound messages.
	Inbound []*Message
	// Reconciled counts send jobs whose attempt had an unknown outcome
	// and that a status echoing the message settled.
	Reconciled int
	// Queued tells which report queues the ingest added to, when the
	// store knows; nil has every reporter woken after a change.
	Queued *ReportsQueued
}

// ReportsQueued names the report queues a change added to: report jobs
// (JobReport) and the JobReporters' own jobs (planned by a ReportPlanner).
// A status that queues nothing (an SMPP "sent" without intermediate
// receipts) wakes no reporter, so its loops do not look at empty queues.
type ReportsQueued struct {
	ReportJobs   bool
	ReporterJobs bool
}

// Part is one part of a concatenated submission (SMPP UDH or SAR).
type Part struct {
	ID     MessageID // the id returned for this part
	Origin string
	// Key identifies the set: the origin's reference, sender and recipient.
	Key        string
	Seq, Total int
	Text       string
	// Data is what the origin edge keeps with the part (addressing, receipts).
	Data       json.RawMessage
	ReceivedAt time.Time
	Expired    bool
}
