package twiliosim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// runStatuses fetches m's MediaUrls (like Twilio, before sending), then
// applies plan one step per StatusDelay, posting a status callback for
// every step when m has a StatusCallback. A reset or Close stops it.
func (s *Server) runStatuses(m *message, plan []statusStep, epoch uint64) {
	s.goAsync(func() {
		if len(m.MediaURLs) > 0 {
			infos, err := s.fetchMedia(m.MediaURLs)
			s.mu.Lock()
			m.Media = infos
			s.mu.Unlock()
			if err != nil {
				s.log.Info("twilio simulator: MediaUrl fetch failed", "sid", m.Sid, "error", err)
				code := codeMediaDownload
				if m.Channel == channelSMS {
					code = codeHTTPRetrieval
				}
				var kept []statusStep
				if len(plan) > 0 && plan[0].status == "queued" {
					kept = append(kept, plan[0])
				}
				plan = append(kept, statusStep{"failed", code})
			}
		}
		for _, step := range plan {
			s.mu.Lock()
			delay := s.settings.StatusDelay
			s.mu.Unlock()
			if !s.sleep(delay) {
				return
			}
			s.mu.Lock()
			if s.epoch != epoch {
				s.mu.Unlock()
				return
			}
			now := time.Now()
			m.Status, m.Updated = step.status, now
			if step.status == "sent" {
				m.Sent = now
			}
			if step.code != 0 {
				m.ErrorCode, m.ErrorMessage = step.code, errorMessages[step.code]
			}
			if m.StatusCallback != "" {
				s.enqueueLocked(&cbJob{
					key: m.Sid, url: m.StatusCallback, params: s.statusParams(m),
					desc: "status " + step.status + " " + m.Sid, epoch: epoch,
				})
			}
			s.mu.Unlock()
		}
	})
}

// statusParams are the form fields of a status callback, as Twilio sends
// them (FACTS c: twilio typed models of the status callback).
func (s *Server) statusParams(m *message) url.Values {
	v := url.Values{
		"MessageSid":    {m.Sid},
		"SmsSid":        {m.Sid},
		"MessageStatus": {m.Status},
		"SmsStatus":     {m.Status},
		"AccountSid":    {m.AccountSid},
		"From":          {m.From},
		"To":            {m.To},
		"ApiVersion":    {apiVersion},
	}
	if m.MessagingServiceSid != "" {
		v.Set("MessagingServiceSid", m.MessagingServiceSid)
	}
	if m.Channel == channelWhatsApp {
		v.Set("ChannelPrefix", channelWhatsApp)
		v.Set("ChannelToAddress", strings.TrimPrefix(m.To, whatsappPrefix))
		v.Set("ChannelInstallSid", channelInstallSid(m.From))
	}
	if m.ErrorCode != 0 {
		v.Set("ErrorCode", strconv.Itoa(m.ErrorCode))
		v.Set("ErrorMessage", m.ErrorMessage)
	}
	return v
}

// channelInstallSid is a stable "XE…" sid per WhatsApp sender.
func channelInstallSid(sender string) string {
	h := sha256.Sum256([]byte("twiliosim channel install\x00" + strings.TrimPrefix(sender, whatsappPrefix)))
	return "XE" + hex.EncodeToString(h[:16])
}

// fetchMedia downloads every URL (GET, 30s timeout each, at most 16 MiB,
// non-empty 2xx) and describes what it got; it stops at the first failure.
func (s *Server) fetchMedia(urls []string) ([]mediaInfo, error) {
	var infos []mediaInfo
	for _, u := range urls {
		s.mu.Lock()
		s.stats.MediaFetches++
		s.mu.Unlock()
		info, err := s.fetchOne(u)
		if err != nil {
			return infos, fmt.Errorf("%s: %w", u, err)
		}
		infos = append(infos, info)
	}
	return infos, nil
}

func (s *Server) fetchOne(u string) (mediaInfo, error) {
	req, err := http.NewRequestWithContext(s.life.Context(), http.MethodGet, u, nil)
	if err != nil {
		return mediaInfo{}, err
	}
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	resp, err := s.fetcher.Do(req)
	if err != nil {
		return mediaInfo{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return mediaInfo{}, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(resp.Body, maxMediaFetch+1))
	if err != nil {
		return mediaInfo{}, err
	}
	if n > maxMediaFetch {
		return mediaInfo{}, fmt.Errorf("larger than %d bytes", maxMediaFetch)
	}
	if n == 0 {
		return mediaInfo{}, errors.New("empty body")
	}
	return mediaInfo{URL: u, ContentType: mediaTypeOf(resp.Header.Get("Content-Type")), Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
