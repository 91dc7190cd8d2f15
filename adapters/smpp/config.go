// Package smpp is wabridge's SMPP 3.4 server (the SMSC side): SMS
// platforms bind as ESMEs, submit messages that go out on WhatsApp, and
// receive delivery receipts and customers' replies as deliver_sm. The PDU
// codec is gosmpp's pdu package; the session layer is this package's.
package smpp

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wabridge/wabridge/internal/sms"
)

// Account is one ESME allowed to bind.
type Account struct {
	SystemID string
	// Password is the plain password, or a bcrypt hash ("$2a$…", "$2b$…").
	Password string
	// Numbers are the business numbers (E.164) it sends from and receives
	// replies for; the first is the default sender.
	Numbers []string
	// MaxBinds limits concurrent binds of this account (0: 4).
	MaxBinds int
	// Throughput limits submit_sm per second across its binds (0: no limit).
	Throughput float64
	// DefaultCountry (ISO 3166 alpha-2) reads national destination numbers.
	DefaultCountry string
	// AllowedIPs limits where it may bind from (empty: anywhere).
	AllowedIPs []netip.Prefix
	// DataCoding0 is what data_coding 0 means: GSM 03.38 (default), IA5 or Latin-1.
	DataCoding0 sms.Coding
	// LongMO is how replies longer than one SMS are delivered: "payload"
	// (one deliver_sm with message_payload, the default) or "udh" (parts).
	LongMO string
	// AlphanumericSource lets replies from customers known only by a
	// business-scoped user id go out with that id as an alphanumeric source_addr.
	AlphanumericSource bool
}

// Config configures the server.
type Config struct {
	Listen    string // plain TCP, "" for none
	TLSListen string // TLS, "" for none
	CertFile  string
	KeyFile   string
	Accounts  []Account
	// Window is how many requests (deliver_sm, enquire_link) the server may
	// have outstanding per session (default 10).
	Window int
	// EnquireLink is how often an idle session is probed (default 30s).
	EnquireLink time.Duration
	// Inactivity closes a session that sent nothing for this long (default 120s).
	Inactivity time.Duration
	// ResponseTimeout is how long the server waits for a response (default 10s).
	ResponseTimeout time.Duration
	// BindFailDelay delays the answer to a failed bind (default 1s); after
	// BindFailBurst failures a source address waits BindFailBlock.
	BindFailDelay time.Duration
	BindFailBurst int
	BindFailBlock time.Duration
	// MaxQueue refuses submit_sm with ESME_RMSGQFUL when this many messages
	// wait to be sent (default 100,000).
	MaxQueue int
	// PartTimeout ends a concatenated submission whose parts did not all
	// arrive in time (default 10m); its parts get EXPIRED receipts.
	PartTimeout time.Duration
	// TemplatePrefix makes a short_message starting with it an explicit
	// template selection ("tpl:"; "" for none); TemplateLanguage is the
	// language of a selection that names none.
	TemplatePrefix, TemplateLanguage string
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Window <= 0 {
		c.Window = 10
	}
	def(&c.EnquireLink, 30*time.Second)
	def(&c.Inactivity, 120*time.Second)
	def(&c.ResponseTimeout, 10*time.Second)
	def(&c.BindFailDelay, time.Second)
	def(&c.BindFailBlock, time.Minute)
	def(&c.PartTimeout, 10*time.Minute)
	if c.BindFailBurst <= 0 {
		c.BindFailBurst = 5
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 100_000
	}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		if a.MaxBinds <= 0 {
			a.MaxBinds = 4
		}
		if a.LongMO == "" {
			a.LongMO = "payload"
		}
	}
}

func (c *Config) validate() error {
	var errs []error
	seen := map[string]bool{}
	for _, a := range c.Accounts {
		switch {
		case a.SystemID == "" || len(a.SystemID) > 15:
			errs = append(errs, fmt.Errorf("smpp: system_id %q must be 1 to 15 characters", a.SystemID))
		case seen[a.SystemID]:
			errs = append(errs, fmt.Errorf("smpp: system_id %q listed twice", a.SystemID))
		case a.Password == "":
			errs = append(errs, fmt.Errorf("smpp: account %q has no password", a.SystemID))
		case len(a.Numbers) == 0:
			errs = append(errs, fmt.Errorf("smpp: account %q lists no numbers", a.SystemID))
		case a.LongMO != "payload" && a.LongMO != "udh":
			errs = append(errs, fmt.Errorf("smpp: account %q: long replies must be \"payload\" or \"udh\"", a.SystemID))
		}
		if !isHash(a.Password) && len(a.Password) > 8 {
			errs = append(errs, fmt.Errorf("smpp: account %q: a plain password has at most 8 characters in SMPP 3.4 (use a bcrypt hash to store it)", a.SystemID))
		}
		seen[a.SystemID] = true
	}
	return errors.Join(errs...)
}

func isHash(p string) bool {
	return strings.HasPrefix(p, "$2a$") || strings.HasPrefix(p, "$2b$") || strings.HasPrefix(p, "$2y$")
}

// checkPassword compares in constant time (bcrypt, or subtle for plain).
func (a *Account) checkPassword(given string) bool {
	if isHash(a.Password) {
		return bcrypt.CompareHashAndPassword([]byte(a.Password), []byte(given)) == nil
	}
	return constantTimeEqual(a.Password, given)
}

func (a *Account) allowedFrom(ip netip.Addr) bool {
	if len(a.AllowedIPs) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, p := range a.AllowedIPs {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (a *Account) origin() string { return Origin(a.SystemID) }

// Origin is the bridge origin of messages an account submits.
func Origin(systemID string) string { return "smpp:" + systemID }
