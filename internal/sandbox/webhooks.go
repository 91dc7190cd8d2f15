package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
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

func unixString(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// sign is the X-Hub-Signature-256 value for body.
func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// --- status scheduling ------------------------------------------------------------

// scheduleStatuses emits the planned status webhooks of rec, StatusDelay
// apart, updating rec as it goes. A reset (epoch change) or Close stops it.
func (s *Server) scheduleStatuses(num *Number, rec *record, epoch uint64, plan []statusStep, price pricing) {
	s.ensureWorkers()
	s.mu.Lock()
	delay := s.settings.StatusDelay
	s.mu.Unlock()
	if delay <= 0 {
		delay = s.cfg.StatusDelay
	}
	s.goAsync(func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		for i, step := range plan {
			if i > 0 {
				t.Reset(delay)
			}
			select {
			case <-t.C:
			case <-s.done:
				return
			}
			s.mu.Lock()
			if s.epoch != epoch {
				s.mu.Unlock()
				return
			}
			rec.Status = step.status
			st := statusPayload{
				ID: rec.Wamid, Status: step.status, Timestamp: unixString(time.Now()),
				RecipientID: rec.customer, BizOpaque: rec.CallbackData,
			}
			if step.err != nil {
				rec.ErrorCode = step.err.Code
				st.Errors = []*statusErr{step.err}
			} else {
				p := price
				st.Pricing = &p
			}
			s.enqueueLocked(s.webhookBody(num, changeValue{Statuses: []statusPayload{st}}), "status "+step.status)
			s.mu.Unlock()
		}
	})
}

// --- delivery ---------------------------------------------------------------------

// job is one webhook to deliver, with its retry state.
type job struct {
	body     []byte
	desc     string
	epoch    uint64
	first    time.Time // first attempt, for WebhookRetryFor
	attempts int
}

// enqueueLocked queues a webhook for delivery. Called with s.mu held.
func (s *Server) enqueueLocked(body []byte, desc string) {
	s.stats.WebhooksEnqueued++
	s.stats.WebhooksPending++
	s.queue.push(&job{body: body, desc: desc, epoch: s.epoch})
}

// worker delivers queued webhooks until the queue is closed.
func (s *Server) worker() {
	for {
		j := s.queue.pop()
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
	if s.ctx.Err() != nil {
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
		case <-s.done:
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
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", sign(s.cfg.AppSecret, body))
	req.Header.Set("User-Agent", "facebookexternalua")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// queue is an unbounded FIFO of jobs shared by the workers.
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
