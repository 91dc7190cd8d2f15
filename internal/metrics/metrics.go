// Package metrics defines wabridge's Prometheus metrics on a registry of
// its own (no global state) and implements bridge.Observer.
package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wabridge/wabridge/bridge"
)

// Metrics holds every collector. Create one per daemon with New.
type Metrics struct {
	Registry        *prometheus.Registry
	Messages        *prometheus.CounterVec
	WebhookEvents   *prometheus.CounterVec
	WebhookRequests *prometheus.CounterVec
	UpstreamLatency *prometheus.HistogramVec
	UpstreamErrors  *prometheus.CounterVec
	SendOutcomes    *prometheus.CounterVec
	Reconciles      *prometheus.CounterVec
	APIRequests     *prometheus.CounterVec
	Failures        *prometheus.CounterVec
	MediaFetches    *prometheus.CounterVec
	InboundKinds    *prometheus.CounterVec
	SMPPBinds       *prometheus.CounterVec
	SMPPPDUs        *prometheus.CounterVec
	SMPPDeliveries  *prometheus.CounterVec
	SMPPSubmit      prometheus.Histogram
	MailLogins      *prometheus.CounterVec
	MailDeliveries  *prometheus.CounterVec
	SMSRoute        *prometheus.CounterVec
	NumberQuality   *prometheus.GaugeVec
	NumberLimit     *prometheus.GaugeVec

	// accepted caches, per provider, the counters every accepted webhook
	// adds to (a label lookup each was ~1 % of the webhook path).
	accepted sync.Map // provider -> *webhookCounters
}

// webhookCounters are one provider's counters of accepted webhooks.
type webhookCounters struct {
	ok, message, status, other, duplicate prometheus.Counter
}

var _ bridge.Observer = (*Metrics)(nil)

// New registers wabridge's collectors plus the Go and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_messages_total",
			Help: "Messages entering a status, by direction, channel and status.",
		}, []string{"direction", "channel", "status"}),
		WebhookEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_webhook_events_total",
			Help: "Webhook events by type (message, status, other) and result (new, duplicate).",
		}, []string{"provider", "type", "result"}),
		WebhookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_webhook_requests_total",
			Help: "Webhook HTTP requests by result (ok, bad_signature, bad_request, error).",
		}, []string{"provider", "result"}),
		UpstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wabridge_upstream_request_duration_seconds",
			Help:    "Latency of calls to the WhatsApp provider, by operation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"provider", "op"}),
		UpstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_upstream_errors_total",
			Help: "Errors from the WhatsApp provider by operation and code (0 = transport).",
		}, []string{"provider", "op", "code"}),
		SendOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_send_outcomes_total",
			Help: "Send attempts by classified outcome (accepted, retry, fallback, permanent, …).",
		}, []string{"outcome"}),
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_send_reconciled_total",
			Help: "Sends whose outcome a crash or lost answer hid, by how they were settled (webhook, resend).",
		}, []string{"how"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_message_failures_total",
			Help: "Messages that failed, by reason and upstream code (0 = decided by wabridge), from API answers and status webhooks alike.",
		}, []string{"reason", "code"}),
		InboundKinds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_inbound_messages_total",
			Help: "New inbound messages by type; \"unknown\" counts types kept raw.",
		}, []string{"type"}),
		SMPPBinds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_smpp_binds_total",
			Help: "SMPP bind attempts by system_id and result (ok or the command_status).",
		}, []string{"system_id", "result"}),
		SMPPPDUs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_smpp_requests_total",
			Help: "SMPP requests answered, by command and command_status.",
		}, []string{"command", "status"}),
		SMPPDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_smpp_deliveries_total",
			Help: "deliver_sm sent to ESMEs by kind (dlr, mo) and result (ok, retry, refused, skipped).",
		}, []string{"kind", "result"}),
		SMPPSubmit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wabridge_smpp_submit_duration_seconds",
			Help:    "Time from reading a submit_sm to queueing its submit_sm_resp for writing (the message committed, or the refusal decided).",
			Buckets: []float64{.0005, .001, .002, .003, .005, .0075, .01, .015, .025, .05, .1, .25, .5, 1, 5},
		}),
		SMSRoute: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_sms_route_events_total",
			Help: "SMS route (SMSC link) events: connect, bound, disconnect, submit_ok, submit_throttled, submit_error, submit_resend, receipt, receipt_unmatched, mo, …",
		}, []string{"route", "event"}),
		NumberQuality: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wabridge_number_quality",
			Help: "1 for a business number's current quality rating (GREEN, YELLOW, RED, UNKNOWN), 0 for the others.",
		}, []string{"number", "rating"}),
		NumberLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wabridge_number_messaging_limit",
			Help: "Customers per 24 hours the number's messaging-limit tier allows outside the window (0: unlimited, -1: unknown).",
		}, []string{"number"}),
		MailLogins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_mail_logins_total",
			Help: "Mail user logins by protocol (smtp, imap) and result (ok, failed).",
		}, []string{"protocol", "result"}),
		MailDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_mail_deliveries_total",
			Help: "Mails stored into users' mailboxes by kind (inbox, sent, bounce).",
		}, []string{"kind"}),
		MediaFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_media_fetches_total",
			Help: "Downloads of customers' media by result (ok, retry, failed).",
		}, []string{"result"}),
		APIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabridge_api_requests_total",
			Help: "REST API requests by route and HTTP status code.",
		}, []string{"route", "code"}),
	}
	r.MustRegister(m.Messages, m.WebhookEvents, m.WebhookRequests, m.UpstreamLatency, m.UpstreamErrors,
		m.SendOutcomes, m.Reconciles, m.APIRequests, m.Failures, m.MediaFetches, m.InboundKinds, m.SMPPBinds, m.SMPPPDUs, m.SMPPDeliveries, m.SMPPSubmit,
		m.MailLogins, m.MailDeliveries, m.NumberQuality, m.NumberLimit, m.SMSRoute,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// MessageStatus implements bridge.Observer.
func (m *Metrics) MessageStatus(dir bridge.Direction, ch bridge.Channel, st bridge.Status) {
	m.Messages.WithLabelValues(string(dir), string(ch), string(st)).Inc()
}

// SendOutcome implements bridge.Observer.
func (m *Metrics) SendOutcome(action string, _ int) { m.SendOutcomes.WithLabelValues(action).Inc() }

// Reconciled implements bridge.Observer.
func (m *Metrics) Reconciled(how string) { m.Reconciles.WithLabelValues(how).Inc() }

// Failed implements bridge.Observer.
func (m *Metrics) Failed(reason bridge.Reason, code int) {
	m.Failures.WithLabelValues(string(reason), strconv.Itoa(code)).Inc()
}

// InboundKind implements bridge.Observer.
func (m *Metrics) InboundKind(kind bridge.Kind) { m.InboundKinds.WithLabelValues(string(kind)).Inc() }

// MediaFetched implements bridge.Observer.
func (m *Metrics) MediaFetched(result string) { m.MediaFetches.WithLabelValues(result).Inc() }

// ObserveUpstream records one provider call (the adapters' Observe hook).
func (m *Metrics) ObserveUpstream(provider, op string, d time.Duration, code int, err error) {
	m.UpstreamLatency.WithLabelValues(provider, op).Observe(d.Seconds())
	if err != nil {
		m.UpstreamErrors.WithLabelValues(provider, op, strconv.Itoa(code)).Inc()
	}
}

// WebhookAccepted counts one committed webhook (requests, result "ok")
// and its events. A provider's five series exist from its first accepted
// webhook on (at 0 until they count something).
func (m *Metrics) WebhookAccepted(provider string, res bridge.IngestResult) {
	c := m.webhookCounters(provider)
	c.ok.Inc()
	add := func(c prometheus.Counter, n int) {
		if n > 0 {
			c.Add(float64(n))
		}
	}
	add(c.message, res.Inbound)
	add(c.status, res.Statuses)
	add(c.other, res.Other)
	add(c.duplicate, res.Duplicates)
}

// webhookCounters returns provider's counters, made at its first webhook.
func (m *Metrics) webhookCounters(provider string) *webhookCounters {
	if c, ok := m.accepted.Load(provider); ok {
		return c.(*webhookCounters)
	}
	c, _ := m.accepted.LoadOrStore(provider, &webhookCounters{
		ok:        m.WebhookRequests.WithLabelValues(provider, "ok"),
		message:   m.WebhookEvents.WithLabelValues(provider, "message", "new"),
		status:    m.WebhookEvents.WithLabelValues(provider, "status", "new"),
		other:     m.WebhookEvents.WithLabelValues(provider, "other", "new"),
		duplicate: m.WebhookEvents.WithLabelValues(provider, "any", "duplicate"),
	})
	return c.(*webhookCounters)
}

// StoreFuncs exposes the store's counters and the outbox depth, read at
// scrape time; byOperation gives the committed write operations by store
// operation.
func (m *Metrics) StoreFuncs(commits, synced, operations func() float64, outboxDepth func() float64, byOperation func() map[string]int64) {
	m.Registry.MustRegister(
		&countsCollector{
			desc: prometheus.NewDesc("wabridge_store_write_operations_total",
				"Write operations committed, by store operation (claim_sends, ingest, start_attempt, …): what the single writer spends its time on.",
				[]string{"operation"}, nil),
			counts: byOperation,
		},
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "wabridge_store_commits_total",
			Help: "Committed write transactions (group commits).",
		}, commits),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "wabridge_store_fsyncs_total",
			Help: "Log syncs spent on commits: one per commit that changed rows (WAL, synchronous=FULL); a commit that changed nothing syncs nothing.",
		}, synced),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "wabridge_store_operations_total",
			Help: "Write operations carried by the commits; operations/commits is the batching factor.",
		}, operations),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wabridge_outbox_depth",
			Help: "Send jobs not yet done.",
		}, outboxDepth),
	)
}

// HistogramFunc reads a histogram kept elsewhere: the observation count,
// their sum and the cumulative count at each upper bound.
type HistogramFunc func() (count uint64, sum float64, buckets map[float64]uint64)

// StoreDurationFuncs exposes the store's commit latencies, read at scrape
// time: each group commit from BEGIN to durable, and its COMMIT alone.
func (m *Metrics) StoreDurationFuncs(transaction, commit HistogramFunc) {
	m.Registry.MustRegister(
		&histogramCollector{
			desc: prometheus.NewDesc("wabridge_store_transaction_duration_seconds",
				"Group commits that changed rows, from BEGIN to durable: their operations' statements and the commit. Every write waits for one (and for the one before it, when it arrives during a commit).",
				nil, nil),
			read: transaction,
		},
		&histogramCollector{
			desc: prometheus.NewDesc("wabridge_store_commit_duration_seconds",
				"The COMMIT of a group commit: the log's writes, its fsync and, when one runs, the automatic checkpoint. A slow disk shows here first.",
				nil, nil),
			read: commit,
		},
	)
}

// IMAPSessionFuncs exposes the IMAP gate (imap busy_sessions), read at
// scrape time.
func (m *Metrics) IMAPSessionFuncs(busy, waiting func() float64) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wabridge_imap_sessions_busy",
			Help: "IMAP sessions working on a command now (at most [imap] busy_sessions).",
		}, busy),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wabridge_imap_sessions_waiting",
			Help: "IMAP sessions whose command waits for a place among [imap] busy_sessions.",
		}, waiting),
	)
}

// IMAPHeaderCacheFuncs exposes the IMAP header cache ([imap]
// header_cache), read at scrape time.
func (m *Metrics) IMAPHeaderCacheFuncs(hits, misses, bytes func() float64) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "wabridge_imap_header_cache_hits_total",
			Help: "Message headers served from the IMAP header cache.",
		}, hits),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "wabridge_imap_header_cache_misses_total",
			Help: "Message headers read from the store because the IMAP header cache did not hold them.",
		}, misses),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "wabridge_imap_header_cache_bytes",
			Help: "Memory held by the IMAP header cache (at most [imap] header_cache).",
		}, bytes),
	)
}

// SMPP adapts Metrics to the SMPP server's counters.
type SMPP struct{ M *Metrics }

// Bind counts a bind attempt.
func (s SMPP) Bind(systemID, result string) { s.M.SMPPBinds.WithLabelValues(systemID, result).Inc() }

// PDU counts an answered request.
func (s SMPP) PDU(command, status string) { s.M.SMPPPDUs.WithLabelValues(command, status).Inc() }

// Delivery counts a deliver_sm outcome.
func (s SMPP) Delivery(kind, result string) { s.M.SMPPDeliveries.WithLabelValues(kind, result).Inc() }

// Submitted observes one submit_sm's time to its answer.
func (s SMPP) Submitted(d time.Duration) { s.M.SMPPSubmit.Observe(d.Seconds()) }

// Mail adapts Metrics to the mail edges' counters (mailbox.Metrics).
type Mail struct{ M *Metrics }

// Login counts a login attempt.
func (m Mail) Login(protocol, result string) { m.M.MailLogins.WithLabelValues(protocol, result).Inc() }

// Delivered counts a mail stored into a mailbox.
func (m Mail) Delivered(kind string) { m.M.MailDeliveries.WithLabelValues(kind).Inc() }

// countsCollector exposes a set of counters whose labels are known only at
// scrape time.
type countsCollector struct {
	desc   *prometheus.Desc
	counts func() map[string]int64
}

func (c *countsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *countsCollector) Collect(ch chan<- prometheus.Metric) {
	for name, n := range c.counts() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n), name)
	}
}

// histogramCollector exposes a histogram kept outside the registry.
type histogramCollector struct {
	desc *prometheus.Desc
	read HistogramFunc
}

func (c *histogramCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *histogramCollector) Collect(ch chan<- prometheus.Metric) {
	count, sum, buckets := c.read()
	ch <- prometheus.MustNewConstHistogram(c.desc, count, sum, buckets)
}
