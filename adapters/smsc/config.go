package smsc

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/wabridge/wabridge/internal/sms"
)

// Config configures one upstream SMSC route.
type Config struct {
	// Name is the route's name (bridge.SMSRoute.Name, SMSEvent.Route and
	// the middle of MO WAMIDs: "sms:<Name>:<id>").
	Name string
	// Host and Port of the SMSC.
	Host string
	Port int
	// SystemID, Password and SystemType are sent in bind_transceiver.
	SystemID   string
	Password   string
	SystemType string
	// TLS connects with TLS; TLSConfig (optional) is cloned and gets
	// ServerName = Host when it has none.
	TLS       bool
	TLSConfig *tls.Config

	// Throughput limits submit_sm per second (0: unlimited).
	Throughput int
	// Window is how many submit_sm may await their response (default 10).
	Window int
	// EnquireLink is the keepalive interval (default 30s): an
	// enquire_link is sent after this long without a PDU from the SMSC,
	// and the connection is dropped after twice this long.
	EnquireLink time.Duration
	// ResponseTimeout bounds the wait for any response (bind, submit_sm,
	// enquire_link, unbind) and for dialing (default 10s). A request left
	// unanswered that long drops the connection (its parts are resent
	// after the rebind).
	ResponseTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// connection attempts (default 1s and 60s; ±20% jitter).
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// ThrottleMin and ThrottleMax bound the pause of all submissions
	// after ESME_RTHROTTLED or ESME_RMSGQFUL: ThrottleMin, doubling while
	// the SMSC keeps refusing, reset by an accepted part (default 500ms
	// and 30s).
	ThrottleMin time.Duration
	ThrottleMax time.Duration

	// NumericSource is the TON/NPI of a numeric sender (default 1/1,
	// international/E.164); AlphaSource of an alphanumeric one (default
	// 5/0).
	NumericSource *TONNPI
	AlphaSource   *TONNPI
	// AllowAlphanumericSource lets SMS.From be an alphanumeric sender
	// (1 to 11 printable ASCII characters).
	AllowAlphanumericSource bool
	// DefaultSource is sent when SMS.From is empty, or alphanumeric on a
	// route that does not allow it. Empty: such an SMS is refused with a
	// final SendError (ReasonInvalid).
	DefaultSource string

	// DataCoding0 is what data_coding 0 means in messages from the SMSC:
	// sms.CodingDefault (GSM 03.38, the default), sms.CodingIA5 or
	// sms.CodingLatin1. What we send with data_coding 0 is always GSM 03.38.
	DataCoding0 sms.Coding
	// ConcatHold is how long the deliver_sm_resp of a part of a
	// concatenated MO is held back waiting for the other parts, so that
	// the parts are acknowledged only once the whole message is stored
	// (default 2s; keep it well below the SMSC's response timeout). After
	// it the held parts are acknowledged and kept in memory only.
	ConcatHold time.Duration
	// ConcatTimeout is how long the parts of a concatenated MO are kept
	// waiting for the missing ones; then what arrived is reported
	// (default 2m).
	ConcatTimeout time.Duration

	// Observe, when set, is called with a short event name for metrics:
	// connect, connect_failed, bind_failed, bound, disconnect, submit_ok,
	// submit_throttled, submit_error, submit_resend, receipt,
	// receipt_unmatched, mo, deliver_rejected, deliver_tempfail. It must
	// not block.
	Observe func(event string)
}

// TONNPI is an address's type of number and numbering plan indicator.
type TONNPI struct {
	TON, NPI byte
}

// Defaults.
const (
	DefaultWindow          = 10
	DefaultEnquireLink     = 30 * time.Second
	DefaultResponseTimeout = 10 * time.Second
	DefaultReconnectMin    = time.Second
	DefaultReconnectMax    = 60 * time.Second
	DefaultThrottleMin     = 500 * time.Millisecond
	DefaultThrottleMax     = 30 * time.Second
	DefaultConcatHold      = 2 * time.Second
	DefaultConcatTimeout   = 2 * time.Minute
)

// TON/NPI values (SMPP 3.4 5.2.5, 5.2.6).
const (
	tonInternational = 1
	tonAlphanumeric  = 5
	npiISDN          = 1
)

func (c *Config) setDefaults() error {
	if c.Name == "" {
		return errors.New("smsc: route name missing")
	}
	if c.Host == "" || c.Port <= 0 || c.Port > 65535 {
		return fmt.Errorf("smsc %s: host and port required", c.Name)
	}
	if c.SystemID == "" {
		return fmt.Errorf("smsc %s: system_id missing", c.Name)
	}
	if len(c.SystemID) > 15 || len(c.Password) > 8 || len(c.SystemType) > 12 {
		// SMPP 3.4 5.2.1-5.2.3: C-Octet Strings of at most 16, 9 and 13 octets.
		return fmt.Errorf("smsc %s: system_id, password or system_type too long for SMPP 3.4", c.Name)
	}
	if c.Throughput < 0 {
		return fmt.Errorf("smsc %s: negative throughput", c.Name)
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.EnquireLink, DefaultEnquireLink)
	def(&c.ResponseTimeout, DefaultResponseTimeout)
	def(&c.ReconnectMin, DefaultReconnectMin)
	def(&c.ReconnectMax, DefaultReconnectMax)
	def(&c.ThrottleMin, DefaultThrottleMin)
	def(&c.ThrottleMax, DefaultThrottleMax)
	def(&c.ConcatHold, DefaultConcatHold)
	def(&c.ConcatTimeout, DefaultConcatTimeout)
	c.ReconnectMax = max(c.ReconnectMax, c.ReconnectMin)
	c.ThrottleMax = max(c.ThrottleMax, c.ThrottleMin)
	if c.NumericSource == nil {
		c.NumericSource = &TONNPI{TON: tonInternational, NPI: npiISDN}
	}
	if c.AlphaSource == nil {
		c.AlphaSource = &TONNPI{TON: tonAlphanumeric, NPI: 0}
	}
	switch c.DataCoding0 {
	case sms.CodingDefault, sms.CodingIA5, sms.CodingLatin1:
	default:
		return fmt.Errorf("smsc %s: data_coding 0 must mean GSM 03.38, IA5 or Latin-1", c.Name)
	}
	if c.DefaultSource != "" {
		if _, _, ok := c.source(c.DefaultSource, true); !ok {
			return fmt.Errorf("smsc %s: default source %q is neither a number nor an alphanumeric sender", c.Name, c.DefaultSource)
		}
	}
	return nil
}

// source returns the source address for from: a number (optionally with
// '+', at most 15 digits) as NumericSource, else an alphanumeric sender
// (1-11 printable ASCII characters) as AlphaSource when allowAlpha.
func (c *Config) source(from string, allowAlpha bool) (string, TONNPI, bool) {
	if d, ok := e164Digits(from); ok {
		return d, *c.NumericSource, true
	}
	if allowAlpha && isAlphanumericSender(from) {
		return from, *c.AlphaSource, true
	}
	return "", TONNPI{}, false
}

// e164Digits strips an optional '+' from a number of 1-15 digits.
func e164Digits(s string) (string, bool) {
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 15 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

// isAlphanumericSender: 1-11 printable ASCII characters, not all blank
// (3GPP TS 23.040 allows 11 GSM characters; ASCII keeps it portable across
// SMSCs, which read source_addr as ASCII).
func isAlphanumericSender(s string) bool {
	if len(s) == 0 || len(s) > 11 {
		return false
	}
	blank := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
		if s[i] != ' ' {
			blank = false
		}
	}
	return !blank
}
