package twiliosim

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhooks (status callbacks and inbound messages) are form-encoded POSTs
// signed with X-Twilio-Signature, Twilio's published algorithm:
//
//	Base64(HMAC-SHA1(AuthToken, URL + Σ over sorted keys of key+value))
//
// where a key with several values contributes key+value for each of its
// values in sorted order (as twilio-python's RequestValidator does). Each
// webhook also carries I-Twilio-Idempotency-Token, the same on every
// re-delivery of it.
//
// Deliveries are ordered per chain (one chain per outbound message's status
// callbacks, one per inbound message): a callback is attempted only after
// the previous one of its chain was delivered or given up. A non-2xx answer
// or a connection error is retried after CallbackRetryInitial, doubling up
// to CallbackRetryMax, for up to 24 hours. Inbound webhooks produced while
// no webhook URL is set wait for SetWebhookURL.

// cbJob is one webhook with its delivery state.
type cbJob struct {
	key      string // chain
	inbound  bool   // target: the current webhook URL
	url      string // target of a status callback
	params   url.Values
	desc     string
	epoch    uint64
	token    string
	first    time.Time
	attempts int
}

// chain is the ordered queue of one key; running while a goroutine drains it.
type chain struct {
	jobs    []*cbJob
	running bool
}

// signature is X-Twilio-Signature for a POST of params to fullURL.
func signature(authToken, fullURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vals := slices.Clone(params[k])
		slices.Sort(vals)
		for _, v := range slices.Compact(vals) {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// enqueueLocked appends j to its chain and starts draining it if idle.
// Called with s.mu held.
func (s *Server) enqueueLocked(j *cbJob) {
	if j.token == "" {
		j.token = newSid("")
	}
	c := s.chains[j.key]
	if c == nil {
		c = &chain{}
		s.chains[j.key] = c
	}
	c.jobs = append(c.jobs, j)
	if c.running {
		return
	}
	c.running = true
	key := j.key
	if !s.goAsync(func() { s.drain(key, c) }) {
		c.running = false
	}
}

// drain delivers the jobs of one chain in order until it is empty.
func (s *Server) drain(key string, c *chain) {
	for {
		s.mu.Lock()
		if len(c.jobs) == 0 {
			c.running = false
			if s.chains[key] == c {
				delete(s.chains, key)
			}
			s.mu.Unlock()
			return
		}
		j := c.jobs[0]
		c.jobs[0] = nil
		c.jobs = c.jobs[1:]
		s.mu.Unlock()
		s.deliver(j)
		if s.life.Context().Err() != nil {
			return
		}
	}
}

// deliver attempts j until it is delivered, given up, parked (inbound
// without webhook URL), made stale by a reset, or the server closes.
func (s *Server) deliver(j *cbJob) {
	for {
		s.mu.Lock()
		if j.epoch != s.epoch {
			s.mu.Unlock()
			return
		}
		target := j.url
		if j.inbound {
			target = s.webhookURL
			if target == "" {
				s.parked = append(s.parked, j)
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()

		if j.attempts == 0 {
			j.first = time.Now()
		}
		j.attempts++
		err := s.post(target, j)

		s.mu.Lock()
		if j.epoch != s.epoch {
			s.mu.Unlock()
			return
		}
		if err == nil {
			s.stats.CallbacksDelivered++
			s.mu.Unlock()
			return
		}
		s.stats.CallbacksFailed++
		s.mu.Unlock()
		if s.life.Context().Err() != nil {
			return
		}
		delay := s.backoff(j.attempts)
		if time.Since(j.first)+delay > retryGiveUp {
			s.log.Warn("twilio simulator gave up delivering webhook", "what", j.desc, "attempts", j.attempts, "error", err)
			return
		}
		s.log.Debug("twilio simulator webhook failed, will retry", "what", j.desc, "attempt", j.attempts, "retry_in", delay, "error", err)
		if !s.sleep(delay) {
			return
		}
	}
}

// backoff is CallbackRetryInitial doubled per failed attempt, capped at CallbackRetryMax.
func (s *Server) backoff(attempts int) time.Duration {
	d := s.cfg.CallbackRetryInitial
	for i := 1; i < attempts && d < s.cfg.CallbackRetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.CallbackRetryMax)
}

// post makes one signed delivery attempt; only 2xx counts as delivered.
func (s *Server) post(target string, j *cbJob) error {
	body := j.params.Encode()
	req, err := http.NewRequestWithContext(s.life.Context(), http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("X-Twilio-Signature", signature(s.cfg.AuthToken, target, j.params))
	req.Header.Set("I-Twilio-Idempotency-Token", j.token)
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
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
