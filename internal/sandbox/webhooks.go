package sandbox

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wabridge/wabridge/internal/jsonlite"
)

// --- payloads -------------------------------------------------------------------

// envelope is the outer shape of every webhook Meta posts for WhatsApp.
type envelope struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"`
	Time    int64    `json:"time,omitempty"` // account-level fields (templates, quality) only
	Changes []change `json:"changes"`
}

type change struct {
	Value any    `json:"value"` // changeValue for field "messages", else the field's own object
	Field string `json:"field"`
}

type changeValue struct {
	MessagingProduct string          `json:"messaging_product"`
	Metadata         metadata        `json:"metadata"`
	Contacts         []contactJSON   `json:"contacts,omitempty"`
	Messages         []any           `json:"messages,omitempty"` // *inboundJSON or json.RawMessage (raw_message)
	Statuses         []statusPayload `json:"statuses,omitempty"`
}

type metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type contactJSON struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID string `json:"wa_id"`
}

// inboundJSON is one customer message as Meta's messages webhook reference
// shows it: common fields plus exactly one type-specific object.
type inboundJSON struct {
	Context     *contextJSON     `json:"context,omitempty"`
	From        string           `json:"from"`
	ID          string           `json:"id"`
	Timestamp   string           `json:"timestamp"`
	Errors      []messageError   `json:"errors,omitempty"` // unsupported
	Type        string           `json:"type"`
	Text        *textBody        `json:"text,omitempty"`
	Image       *mediaJSON       `json:"image,omitempty"`
	Video       *mediaJSON       `json:"video,omitempty"`
	Audio       *mediaJSON       `json:"audio,omitempty"`
	Document    *mediaJSON       `json:"document,omitempty"`
	Sticker     *mediaJSON       `json:"sticker,omitempty"`
	Location    *locationInfo    `json:"location,omitempty"`
	Contacts    json.RawMessage  `json:"contacts,omitempty"`
	Button      *buttonInfo      `json:"button,omitempty"`
	Interactive *interactiveJSON `json:"interactive,omitempty"`
	Reaction    *reactionJSON    `json:"reaction,omitempty"`
	System      map[string]any   `json:"system,omitempty"`
	Unsupported *unsupportedJSON `json:"unsupported,omitempty"`
	Referral    json.RawMessage  `json:"referral,omitempty"`
}

// contextJSON is a message's context: a reply ({from, id}) or a forward
// ({forwarded} / {frequently_forwarded}).
type contextJSON struct {
	Forwarded           bool   `json:"forwarded,omitempty"`
	FrequentlyForwarded bool   `json:"frequently_forwarded,omitempty"`
	From                string `json:"from,omitempty"`
	ID                  string `json:"id,omitempty"`
}

type textBody struct {
	Body string `json:"body"`
}

// mediaJSON is the object of an inbound image, video, audio, document or
// sticker; sha256 is base64 (as Meta's webhooks carry it), url the download
// URL (which Meta added to webhooks in 2025).
type mediaJSON struct {
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	ID       string `json:"id"`
	URL      string `json:"url,omitempty"`
	Voice    *bool  `json:"voice,omitempty"`    // audio only
	Animated *bool  `json:"animated,omitempty"` // sticker only
}

type interactiveJSON struct {
	Type        string     `json:"type"`
	ButtonReply *replyJSON `json:"button_reply,omitempty"`
	ListReply   *replyJSON `json:"list_reply,omitempty"`
}

type replyJSON struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

type reactionJSON struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji,omitempty"` // omitted when the reaction was removed
}

type unsupportedJSON struct {
	Type string `json:"type"`
}

// messageError is one element of an unsupported message's "errors".
type messageError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

// statusPayload is one element of "statuses".
type statusPayload struct {
	ID          string       `json:"id"`
	Status      string       `json:"status"`
	Timestamp   string       `json:"timestamp"`
	RecipientID string       `json:"recipient_id"`
	Pricing     *pricing     `json:"pricing,omitempty"`
	BizOpaque   string       `json:"biz_opaque_callback_data,omitempty"`
	Errors      []*statusErr `json:"errors,omitempty"`
}

// webhookBody wraps one change value for num into Meta's envelope.
func (s *Server) webhookBody(num *Number, v changeValue) []byte {
	v.MessagingProduct = "whatsapp"
	v.Metadata = metadata{DisplayPhoneNumber: strings.TrimPrefix(num.BusinessNumber, "+"), PhoneNumberID: num.PhoneNumberID}
	if len(v.Contacts) == 0 && len(v.Messages) == 0 {
		if b, ok := s.appendStatusBody(make([]byte, 0, 256+300*len(v.Statuses)), v); ok {
			return b
		}
	}
	b, err := json.Marshal(envelope{
		Object: "whatsapp_business_account",
		Entry:  []entry{{ID: s.cfg.WABAID, Changes: []change{{Value: v, Field: "messages"}}}},
	})
	if err != nil {
		panic(fmt.Sprintf("sandbox: marshal webhook: %v", err)) // static types: cannot happen
	}
	return b
}

// accountWebhookBody wraps the value of an account-level field
// (message_template_status_update, phone_number_quality_update, …) into
// Meta's envelope: entry[].id is the WABA id and entry[].time the Unix time
// of the change, as Meta's references for these fields show.
func (s *Server) accountWebhookBody(field string, value any) []byte {
	b, err := json.Marshal(envelope{
		Object: "whatsapp_business_account",
		Entry:  []entry{{ID: s.cfg.WABAID, Time: time.Now().Unix(), Changes: []change{{Value: value, Field: field}}}},
	})
	if err != nil {
		panic(fmt.Sprintf("sandbox: marshal webhook: %v", err)) // static types: cannot happen
	}
	return b
}

// appendStatusBody appends what webhookBody's json.Marshal writes for a
// value of statuses only, without reflection (the simulator's webhooks
// were a tenth of its CPU per SMPP message); false when a status has
// errors or a string needs escapes (json.Marshal writes those).
// TestStatusBodyMatchesEncodingJSON holds it to json.Marshal.
func (s *Server) appendStatusBody(b []byte, v changeValue) ([]byte, bool) {
	w := jsonlite.NewWriter(b)
	w.String(`{"object":"whatsapp_business_account","entry":[{"id":`, s.cfg.WABAID)
	w.String(`,"changes":[{"value":{"messaging_product":`, v.MessagingProduct)
	w.String(`,"metadata":{"display_phone_number":`, v.Metadata.DisplayPhoneNumber)
	w.String(`,"phone_number_id":`, v.Metadata.PhoneNumberID)
	w.Raw(`}`)
	if len(v.Statuses) > 0 {
		w.Raw(`,"statuses":[`)
		for i, st := range v.Statuses {
			if len(st.Errors) > 0 {
				w.Fail()
			}
			if i > 0 {
				w.Raw(`,`)
			}
			w.String(`{"id":`, st.ID)
			w.String(`,"status":`, st.Status)
			w.String(`,"timestamp":`, st.Timestamp)
			w.String(`,"recipient_id":`, st.RecipientID)
			if p := st.Pricing; p != nil {
				w.Raw(`,"pricing":{"billable":`)
				if p.Billable {
					w.Raw(`true`)
				} else {
					w.Raw(`false`)
				}
				w.String(`,"pricing_model":`, p.PricingModel)
				w.String(`,"type":`, p.Type)
				w.String(`,"category":`, p.Category)
				w.Raw(`}`)
			}
			w.OptString(`,"biz_opaque_callback_data":`, st.BizOpaque)
			w.Raw(`}`)
		}
		w.Raw(`]`)
	}
	w.Raw(`},"field":"messages"}]}]}`)
	return w.B, w.OK
}

func unixString(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// sign is the X-Hub-Signature-256 value for body, with the app secret.
// The HMAC states are reused (s.macs): hmac.New derives the keyed pads and
// allocates for every webhook otherwise.
func (s *Server) sign(body []byte) string {
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(body)
	var sum [sha256.Size]byte
	out := make([]byte, 0, len("sha256=")+2*sha256.Size)
	out = hex.AppendEncode(append(out, "sha256="...), m.Sum(sum[:0]))
	s.macs.Put(m)
	return string(out)
}

// --- status scheduling ------------------------------------------------------------

// Status webhooks are produced by one scheduler goroutine (statusLoop) from a
// timer heap, not by a goroutine per send: a send pushes one statusEvent,
// which is re-pushed StatusDelay later for each following status. The loop
// hands the statuses to per-(lane, number) batches of up to StatusBatch
// statuses; a full batch, or one whose first status waited StatusDelay,
// becomes one webhook queued on its lane. Every status of one message uses
// the same lane, and a lane is delivered in order by one worker, so the
// statuses of a message arrive in order (unless a delivery fails and is
// retried later, as with Meta).

// statusEvent is either the next status of a send or (batch != nil) the
// flush deadline of a batch.
type statusEvent struct {
	due time.Time
	seq uint64 // FIFO among events due at the same time

	num   *Number
	rec   *record
	epoch uint64
	plan  []statusStep
	step  int // next plan index
	price pricing
	delay time.Duration
	lane  int
	st    statusPayload // filled when the step fires
	dead  bool          // stale (reset) when the step fired

	batch *statusBatch
	gen   uint64 // the batch generation this deadline belongs to
}

type eventHeap []*statusEvent

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*statusEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	ev := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return ev
}

// scheduler is the timer heap of statusLoop.
type scheduler struct {
	mu   sync.Mutex
	h    eventHeap
	seq  uint64
	wake chan struct{} // capacity 1: an earlier event was pushed
}

func newScheduler() *scheduler { return &scheduler{wake: make(chan struct{}, 1)} }

func (sc *scheduler) push(evs ...*statusEvent) {
	sc.mu.Lock()
	earliest := false
	for _, ev := range evs {
		sc.seq++
		ev.seq = sc.seq
		heap.Push(&sc.h, ev)
		earliest = earliest || sc.h[0] == ev
	}
	sc.mu.Unlock()
	if earliest {
		select {
		case sc.wake <- struct{}{}:
		default:
		}
	}
}

// maxFire bounds the events handled per round, and so the time Server.mu is held.
const maxFire = 4096

// popDue appends up to maxFire events due at now to dst. wait is how long
// until the next event is due (-1: none).
func (sc *scheduler) popDue(dst []*statusEvent, now time.Time) (_ []*statusEvent, wait time.Duration) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for len(sc.h) > 0 && !sc.h[0].due.After(now) && len(dst) < maxFire {
		dst = append(dst, heap.Pop(&sc.h).(*statusEvent))
	}
	if len(sc.h) == 0 {
		return dst, -1
	}
	return dst, sc.h[0].due.Sub(now)
}

// scheduleStatuses plans the status webhooks of rec: the first delay after
// now, each next one delay after the previous. A reset (epoch change) or
// Close stops them.
func (s *Server) scheduleStatuses(num *Number, rec *record, epoch uint64, plan []statusStep, price pricing, delay time.Duration, lane int) {
	if len(plan) == 0 {
		return
	}
	if !s.workersUp.Load() {
		s.ensureWorkers()
	}
	s.sched.push(&statusEvent{
		due: time.Now().Add(delay), num: num, rec: rec, epoch: epoch,
		plan: plan, price: price, delay: delay, lane: lane,
	})
}

// statusLoop fires due status events until Close.
func (s *Server) statusLoop() {
	t := time.NewTimer(time.Hour)
	t.Stop()
	batches := map[batchKey]*statusBatch{}
	var due []*statusEvent
	for {
		now := time.Now()
		var wait time.Duration
		due, wait = s.sched.popDue(due[:0], now)
		if len(due) > 0 {
			s.fireStatuses(batches, due, now)
			clear(due)
			continue
		}
		if wait > 0 {
			t.Reset(wait)
		}
		select {
		case <-t.C:
		case <-s.sched.wake:
		case <-s.life.Done():
			return
		}
		t.Stop()
	}
}

// batchKey identifies a pending status batch: one lane, one business number
// (a webhook's metadata names one number).
type batchKey struct {
	lane int
	num  *Number
}

type statusBatch struct {
	key   batchKey
	epoch uint64
	items []statusPayload
	gen   uint64 // bumped when the batch is flushed or restarted
}

// fireStatuses emits the statuses of the due events (in due order), flushes
// batches whose deadline passed and reschedules the following statuses.
// Only statusLoop calls it, so batches needs no lock.
func (s *Server) fireStatuses(batches map[batchKey]*statusBatch, due []*statusEvent, now time.Time) {
	ts := unixString(now)
	s.mu.Lock()
	for _, ev := range due {
		if ev.batch != nil {
			continue
		}
		if ev.epoch != s.epoch {
			ev.dead = true
			continue
		}
		step := ev.plan[ev.step]
		rec := ev.rec
		rec.Status = step.status
		ev.st = statusPayload{ID: rec.Wamid, Status: step.status, Timestamp: ts, RecipientID: rec.customer, BizOpaque: rec.CallbackData}
		if step.err != nil {
			rec.ErrorCode = step.err.Code
			ev.st.Errors = []*statusErr{step.err}
		} else {
			ev.st.Pricing = &ev.price
		}
	}
	s.mu.Unlock()

	size := s.knobs().StatusBatch
	var jobs []*job
	var next []*statusEvent
	for _, ev := range due {
		if sb := ev.batch; sb != nil {
			if ev.gen == sb.gen && len(sb.items) > 0 {
				jobs = append(jobs, s.flushBatch(sb))
			}
			continue
		}
		if ev.dead {
			continue
		}
		if size <= 1 {
			jobs = append(jobs, s.statusJob(ev.num, ev.lane, ev.epoch, []statusPayload{ev.st}))
		} else {
			k := batchKey{ev.lane, ev.num}
			sb := batches[k]
			if sb == nil {
				sb = &statusBatch{key: k}
				batches[k] = sb
			}
			if len(sb.items) > 0 && sb.epoch != ev.epoch {
				sb.items = sb.items[:0] // left over from before a reset
			}
			if len(sb.items) == 0 {
				sb.epoch = ev.epoch
				sb.gen++
				s.sched.push(&statusEvent{due: now.Add(ev.delay), batch: sb, gen: sb.gen})
			}
			sb.items = append(sb.items, ev.st)
			if len(sb.items) >= size {
				jobs = append(jobs, s.flushBatch(sb))
			}
		}
		if ev.step++; ev.step < len(ev.plan) {
			ev.due = now.Add(ev.delay)
			ev.st = statusPayload{}
			next = append(next, ev)
		}
	}
	if len(next) > 0 {
		s.sched.push(next...)
	}
	if len(jobs) == 0 {
		return
	}
	s.mu.Lock()
	for _, j := range jobs {
		if j.epoch == s.epoch {
			s.stats.WebhooksEnqueued++
			s.stats.WebhooksPending++
			s.queue.push(j)
		}
	}
	s.mu.Unlock()
}

// flushBatch turns the pending statuses of sb into a webhook job.
func (s *Server) flushBatch(sb *statusBatch) *job {
	j := s.statusJob(sb.key.num, sb.key.lane, sb.epoch, sb.items)
	clear(sb.items)
	sb.items = sb.items[:0]
	sb.gen++
	return j
}

// statusJob encodes one status webhook carrying sts.
func (s *Server) statusJob(num *Number, lane int, epoch uint64, sts []statusPayload) *job {
	desc := "status " + sts[0].Status
	if len(sts) > 1 {
		desc = "statuses (" + strconv.Itoa(len(sts)) + ")"
	}
	return &job{body: s.webhookBody(num, changeValue{Statuses: sts}), desc: desc, epoch: epoch, lane: lane}
}

// --- delivery ---------------------------------------------------------------------

// job is one webhook to deliver, with its retry state.
type job struct {
	body     []byte
	desc     string
	epoch    uint64
	lane     int       // worker queue; -1: any (chosen round-robin on first push)
	first    time.Time // first attempt, for WebhookRetryFor
	attempts int
}

// enqueueLocked queues a webhook for delivery. Called with s.mu held.
func (s *Server) enqueueLocked(body []byte, desc string) {
	s.stats.WebhooksEnqueued++
	s.stats.WebhooksPending++
	s.queue.push(&job{body: body, desc: desc, epoch: s.epoch, lane: -1})
}

// worker delivers the webhooks of lane i until the queue is closed.
func (s *Server) worker(i int) {
	q := s.queue.qs[i]
	for {
		j := q.pop()
		if j == nil {
			return
		}
		s.deliver(j)
	}
}

// deliver makes one attempt. Without a webhook URL the job is parked until
// SetWebhookURL; on failure it is re-queued after an exponential backoff
// unless WebhookRetryFor has passed since the first attempt.
func (s *Server) deliver(j *job) {
	s.mu.Lock()
	if j.epoch != s.epoch {
		s.mu.Unlock()
		return
	}
	target := s.webhookURL
	if target == "" {
		s.parked = append(s.parked, j)
		s.mu.Unlock()
		return
	}
	s.stats.WebhooksSent++
	s.mu.Unlock()

	if j.attempts == 0 {
		j.first = time.Now()
	}
	j.attempts++
	err := s.post(target, j.body)

	s.mu.Lock()
	defer s.mu.Unlock()
	if j.epoch != s.epoch {
		return
	}
	if err == nil {
		s.stats.WebhooksDelivered++
		s.stats.WebhooksPending--
		return
	}
	s.stats.WebhookFailures++
	if s.life.Context().Err() != nil {
		return // closing
	}
	delay := s.backoff(j.attempts)
	if time.Since(j.first)+delay > s.cfg.WebhookRetryFor {
		s.stats.WebhooksDropped++
		s.stats.WebhooksPending--
		s.log.Warn("sandbox gave up delivering webhook", "what", j.desc, "attempts", j.attempts, "error", err)
		return
	}
	s.log.Debug("sandbox webhook delivery failed, will retry", "what", j.desc, "attempt", j.attempts, "retry_in", delay, "error", err)
	s.goAsync(func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			s.queue.push(j)
		case <-s.life.Done():
		}
	})
}

// backoff is WebhookRetryInitial doubled per failed attempt, capped at WebhookRetryMax.
func (s *Server) backoff(attempts int) time.Duration {
	d := s.cfg.WebhookRetryInitial
	for i := 1; i < attempts && d < s.cfg.WebhookRetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.WebhookRetryMax)
}

// post sends one signed webhook; only a 2xx answer counts as delivered.
func (s *Server) post(target string, body []byte) error {
	return s.poster.post(target, s.sign(body), body)
}

// lanes are the per-worker FIFOs. A job keeps its lane across retries.
type lanes struct {
	qs []*queue
	rr atomic.Uint64
}

func newLanes(n int) *lanes {
	l := &lanes{qs: make([]*queue, n)}
	for i := range l.qs {
		l.qs[i] = newQueue()
	}
	return l
}

func (l *lanes) push(j *job) {
	if j.lane < 0 || j.lane >= len(l.qs) {
		j.lane = int(l.rr.Add(1) % uint64(len(l.qs)))
	}
	l.qs[j.lane].push(j)
}

func (l *lanes) clear() {
	for _, q := range l.qs {
		q.clear()
	}
}

func (l *lanes) close() {
	for _, q := range l.qs {
		q.close()
	}
}

// queue is an unbounded FIFO of jobs.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []*job
	closed bool
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push appends j; it is a no-op once the queue is closed.
func (q *queue) push(j *job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.items = append(q.items, j)
	q.cond.Signal()
}

// pop blocks for the next job; nil means the queue was closed.
func (q *queue) pop() *job {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil
	}
	j := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return j
}

// clear drops every queued job.
func (q *queue) clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = nil
}

func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.items = nil
	q.cond.Broadcast()
}
