package twiliosim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// inboundMedia is one medium of an injected inbound message.
type inboundMedia struct {
	Sid         string
	ContentType string
	Data        []byte
}

// inboundRequest is the body of POST /sandbox/v1/inbound.
type inboundRequest struct {
	From        string `json:"from"`
	To          string `json:"to"`
	Channel     string `json:"channel"`
	Text        string `json:"text"`
	ProfileName string `json:"profile_name"`
	BSUID       string `json:"bsuid"`
	Media       *struct {
		MimeType string `json:"mime_type"`
		Size     int    `json:"size"`
		Seed     string `json:"seed"`
	} `json:"media"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	Button *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
	ReplyTo string `json:"reply_to"`
}

const (
	defaultInboundMediaSize = 1024
	maxInboundMediaSize     = 16 << 20
	defaultProfileName      = "Sandbox Customer"
)

// generateMedia makes size deterministic bytes from seed: the SHA-256
// counter-mode stream of seed (block i is SHA-256(seed || uint64 i)).
func generateMedia(seed string, size int) []byte {
	out := make([]byte, 0, size+sha256.Size)
	var ctr [8]byte
	for i := uint64(0); len(out) < size; i++ {
		binary.BigEndian.PutUint64(ctr[:], i)
		h := sha256.Sum256(append([]byte(seed), ctr[:]...))
		out = append(out, h[:]...)
	}
	return out[:size]
}

// injectInbound handles POST /sandbox/v1/inbound: it records the message,
// opens the WhatsApp window and posts the signed inbound webhook.
func (s *Server) injectInbound(w http.ResponseWriter, r *http.Request) {
	var in inboundRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		controlError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	channel := strings.ToLower(in.Channel)
	if channel == "" {
		channel = channelWhatsApp
	}
	if channel != channelWhatsApp && channel != channelSMS {
		controlError(w, http.StatusBadRequest, `channel must be "whatsapp" or "sms"`)
		return
	}
	customer, ok := e164Digits(strings.TrimPrefix(in.From, whatsappPrefix))
	if !ok {
		controlError(w, http.StatusBadRequest, "from must be an E.164 number")
		return
	}
	business, ok := e164Digits(strings.TrimPrefix(in.To, whatsappPrefix))
	if !ok {
		controlError(w, http.StatusBadRequest, "to must be an E.164 business number")
		return
	}
	if channel == channelWhatsApp && !s.waSenders[business] || channel == channelSMS && !s.smsSenders[business] {
		controlError(w, http.StatusBadRequest, fmt.Sprintf("to %s is not one of our %s senders", in.To, channel))
		return
	}
	if in.Text == "" && in.Media == nil && in.Location == nil && in.Button == nil {
		controlError(w, http.StatusBadRequest, "one of text, media, location or button is required")
		return
	}
	prefix := ""
	if channel == channelWhatsApp {
		prefix = whatsappPrefix
	}
	now := time.Now()
	m := &message{
		Sid: newSid("SM"), AccountSid: s.cfg.AccountSID, Direction: directionInbound, Channel: channel,
		From: prefix + "+" + customer, To: prefix + "+" + business, Body: in.Text,
		Status: "received", Created: now, Updated: now, NumSegments: 1,
	}
	if in.Media != nil {
		size := in.Media.Size
		if size == 0 {
			size = defaultInboundMediaSize
		}
		if size < 0 || size > maxInboundMediaSize {
			controlError(w, http.StatusBadRequest, fmt.Sprintf("media.size must be between 1 and %d", maxInboundMediaSize))
			return
		}
		mt := in.Media.MimeType
		if mt == "" {
			mt = "image/jpeg"
		}
		m.Sid = newSid("MM")
		m.inbound = []*inboundMedia{{Sid: newSid("ME"), ContentType: mt, Data: generateMedia(in.Media.Seed, size)}}
	}
	if in.Button != nil && m.Body == "" {
		m.Body = in.Button.Text
	}
	if channel == channelSMS {
		m.NumSegments = segments(m.Body)
	}

	params := url.Values{
		"MessageSid":    {m.Sid},
		"SmsMessageSid": {m.Sid},
		"SmsSid":        {m.Sid},
		"AccountSid":    {m.AccountSid},
		"From":          {m.From},
		"To":            {m.To},
		"Body":          {m.Body},
		"NumMedia":      {strconv.Itoa(len(m.inbound))},
		"NumSegments":   {strconv.Itoa(m.NumSegments)},
		"SmsStatus":     {"received"},
		"ApiVersion":    {apiVersion},
	}
	if svc := s.serviceOf(business); svc != "" {
		params.Set("MessagingServiceSid", svc)
		m.MessagingServiceSid = svc
	}
	base := baseURL(r)
	for i, md := range m.inbound {
		params.Set("MediaUrl"+strconv.Itoa(i), base+"/"+apiVersion+"/Accounts/"+m.AccountSid+"/Messages/"+m.Sid+"/Media/"+md.Sid)
		params.Set("MediaContentType"+strconv.Itoa(i), md.ContentType)
	}
	if channel == channelWhatsApp {
		name := in.ProfileName
		if name == "" {
			name = defaultProfileName
		}
		params.Set("ProfileName", name)
		params.Set("WaId", customer)
		params.Set("MessageType", inboundType(&in, m))
		if in.BSUID != "" {
			params.Set("ExternalUserId", in.BSUID)
		}
	}
	if loc := in.Location; loc != nil {
		params.Set("Latitude", strconv.FormatFloat(loc.Latitude, 'f', -1, 64))
		params.Set("Longitude", strconv.FormatFloat(loc.Longitude, 'f', -1, 64))
		if loc.Address != "" {
			params.Set("Address", loc.Address)
		}
		if loc.Name != "" {
			params.Set("Label", loc.Name)
		}
	}
	if b := in.Button; b != nil {
		params.Set("ButtonText", b.Text)
		params.Set("ButtonPayload", b.Payload)
	}

	s.mu.Lock()
	if in.ReplyTo != "" {
		orig := s.bySid[in.ReplyTo]
		if orig == nil {
			s.mu.Unlock()
			controlError(w, http.StatusBadRequest, "reply_to "+in.ReplyTo+" is not a known message")
			return
		}
		params.Set("OriginalRepliedMessageSid", orig.Sid)
		params.Set("OriginalRepliedMessageSender", orig.From)
	}
	if channel == channelWhatsApp {
		s.windows[windowKey{business, customer}] = now
	}
	s.messages = append(s.messages, m)
	s.bySid[m.Sid] = m
	s.enqueueLocked(&cbJob{key: m.Sid, inbound: true, params: params, desc: "inbound " + m.Sid, epoch: s.epoch})
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"sid": m.Sid})
}

// inboundType is MessageType as Twilio's WhatsApp inbound webhook shows it.
// "button" for quick-reply answers is not confirmed (Twilio may send
// "interactive" for some reply kinds).
func inboundType(in *inboundRequest, m *message) string {
	switch {
	case in.Location != nil:
		return "location"
	case in.Button != nil:
		return "button"
	case len(m.inbound) > 0:
		ct := m.inbound[0].ContentType
		switch {
		case strings.HasPrefix(ct, "image/"):
			return "image"
		case strings.HasPrefix(ct, "video/"):
			return "video"
		case strings.HasPrefix(ct, "audio/"):
			return "audio"
		default:
			return "document"
		}
	default:
		return "text"
	}
}

// serviceOf is the first messaging service that has the business number.
func (s *Server) serviceOf(business string) string {
	best := ""
	for sid, senders := range s.services {
		for _, n := range senders {
			if d, ok := e164Digits(strings.TrimPrefix(n, whatsappPrefix)); ok && d == business && (best == "" || sid < best) {
				best = sid
			}
		}
	}
	return best
}

// serveInboundMedia handles GET …/Messages/{MessageSid}/Media/{MediaSid}:
// the bytes of an inbound medium (basic auth already checked). With a
// ".json" suffix it answers the Media resource instead.
func (s *Server) serveInboundMedia(w http.ResponseWriter, r *http.Request, account, msgSid, mediaSid string, notFound func()) {
	asJSON := strings.HasSuffix(mediaSid, ".json")
	mediaSid = strings.TrimSuffix(mediaSid, ".json")
	s.mu.Lock()
	var md *inboundMedia
	var created time.Time
	if m := s.bySid[msgSid]; m != nil && m.AccountSid == account {
		created = m.Created
		for _, x := range m.inbound {
			if x.Sid == mediaSid {
				md = x
			}
		}
	}
	if md != nil && !asJSON {
		s.stats.MediaDownloads++
	}
	s.mu.Unlock()
	if md == nil {
		notFound()
		return
	}
	if asJSON {
		uri := "/" + apiVersion + "/Accounts/" + account + "/Messages/" + msgSid + "/Media/" + mediaSid + ".json"
		writeJSON(w, http.StatusOK, map[string]any{
			"account_sid": account, "content_type": md.ContentType, "parent_sid": msgSid, "sid": mediaSid,
			"date_created": created.UTC().Format(rfc2822), "date_updated": created.UTC().Format(rfc2822), "uri": uri,
		})
		return
	}
	w.Header().Set("Content-Type", md.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(md.Data)))
	_, _ = w.Write(md.Data)
}
