package config

import (
	"crypto/tls"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	reDigits       = regexp.MustCompile(`^[0-9]+$`)
	reE164         = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	reTemplateName = regexp.MustCompile(`^[a-z0-9_]+$`)
	reAPIVersion   = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)
	rePlaceholder  = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)
	reNamedParam   = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	rePositional   = regexp.MustCompile(`^[1-9][0-9]*$`)
	reLanguage     = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2}|_[A-Za-z]{4})?$`)
)

func (l *loader) validate(c *Config) {
	l.validateSMPP(c)
	l.validateMail(c)
	l.validateTemplates(c)
	l.validateSMS(c)
	l.validateTwilio(c)
	switch c.Compliance.MessagingLimit {
	case 0, 250, 2000, 10000, 100000:
	default:
		if c.Compliance.MessagingLimit < 0 {
			l.problem("compliance.messaging_limit", "must be a tier (250, 2000, 10000, 100000) or 0 for unlimited")
		}
	}
	if c.Outbox.NumberRate < 0 {
		l.problem("outbox.number_rate", "must not be negative (0: no limit)")
	}
	l.notNegative("outbox.pair_interval", c.Outbox.PairInterval)
	if c.Outbox.PairBurst < 1 {
		l.problem("outbox.pair_burst", "must be at least 1")
	}
	l.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	l.oneOf("log.format", c.Log.Format, "text", "json")

	l.positive("daemon.shutdown_timeout", c.Daemon.ShutdownTimeout)
	if p := c.Daemon.PprofListen; p != "" {
		l.listen("daemon.pprof_listen", p)
		if host, _, err := net.SplitHostPort(p); err == nil {
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				l.problem("daemon.pprof_listen", "%q: profiles are served on loopback only", p)
			}
		}
	}

	switch c.Store.Driver {
	case "sqlite":
		if c.Store.Path == "" {
			l.problem("store.path", "must not be empty with driver \"sqlite\"")
		}
	case "postgres":
		l.problem("store.driver", "\"postgres\" is not supported yet; comes in a later release")
	default:
		l.oneOf("store.driver", c.Store.Driver, "sqlite", "postgres")
	}
	l.notNegative("store.retention", c.Store.Retention)
	if c.Store.CommitBatch < 1 || c.Store.CommitBatch > 10000 {
		l.problem("store.commit_batch", "must be between 1 and 10000, got %d", c.Store.CommitBatch)
	}
	l.notNegative("store.commit_delay", c.Store.CommitDelay)
	if c.Store.WriterPriority < 0 || c.Store.WriterPriority > 39 {
		l.problem("store.writer_priority", "must be between 0 and 39, got %d", c.Store.WriterPriority)
	}

	l.listen("http.listen", c.HTTP.Listen)
	if c.HTTP.PublicURL != "" {
		l.url("http.public_url", c.HTTP.PublicURL)
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		l.problem("http.max_body_bytes", "must be positive")
	}
	l.positive("http.read_timeout", c.HTTP.ReadTimeout)
	l.positive("http.write_timeout", c.HTTP.WriteTimeout)
	l.keyPair("http", &c.HTTP.CertFile, &c.HTTP.KeyFile)

	l.validateTokens(c)
	l.validateWhatsApp(c)

	o := c.Outbox
	if o.Workers < 1 {
		l.problem("outbox.workers", "must be at least 1, got %d", o.Workers)
	}
	if o.MaxAttempts < 1 {
		l.problem("outbox.max_attempts", "must be at least 1, got %d", o.MaxAttempts)
	}
	l.positive("outbox.backoff_initial", o.BackoffInitial)
	l.positive("outbox.backoff_max", o.BackoffMax)
	if o.BackoffInitial > 0 && o.BackoffMax > 0 && o.BackoffMax < o.BackoffInitial {
		l.problem("outbox.backoff_max", "must not be less than backoff_initial (%s)", o.BackoffInitial)
	}
	l.positive("outbox.lease", o.Lease)
	l.positive("outbox.reconcile_window", o.ReconcileWindow)
	l.positive("outbox.poll_interval", o.PollInterval)

	l.validateSandbox(c)
}

func (l *loader) validateTokens(c *Config) {
	key := func(i int) string {
		if l.set["api.tokens_file"] {
			return "api.tokens_file"
		}
		return indexKey("api.tokens", i)
	}
	seen := map[Secret]bool{}
	for i, t := range c.API.Tokens {
		switch {
		case t == "":
			l.problem(key(i), "token must not be empty")
		case strings.ContainsAny(t.Value(), " \t\r\n"):
			l.problem(key(i), "token %d must not contain whitespace", i+1)
		case seen[t]:
			l.problem(key(i), "token %d is a duplicate", i+1)
		}
		seen[t] = true
	}
}

func (l *loader) validateWhatsApp(c *Config) {
	w := c.WhatsApp
	switch w.Provider {
	case "cloud", "twilio":
	default:
		l.oneOf("whatsapp.provider", w.Provider, "cloud", "twilio")
	}
	l.url("whatsapp.graph_url", w.GraphURL)
	if !reAPIVersion.MatchString(w.APIVersion) {
		l.problem("whatsapp.api_version", "%q is not a Graph API version such as \"v24.0\"", w.APIVersion)
	}
	if w.WABAID != "" && !reDigits.MatchString(w.WABAID) {
		l.problem("whatsapp.waba_id", "must be digits only")
	}
	for i, h := range w.MediaHosts {
		if h == "" || strings.ContainsAny(h, "/:@ \t") {
			l.problem(indexKey("whatsapp.media_hosts", i), "%q is not a host name", h)
		}
	}
	l.positive("whatsapp.timeout", w.Timeout)

	ids := map[string]string{}
	nums := map[string]string{}
	for i, n := range w.Numbers {
		origin := "whatsapp.numbers"
		if i < len(l.numbers) {
			origin = l.numbers[i]
		}
		idKey, numKey := origin+".phone_number_id", origin+".business_number"
		switch {
		case n.PhoneNumberID == "" && w.Provider == "twilio":
		case n.PhoneNumberID == "":
			l.problem(idKey, "is required")
		case !reDigits.MatchString(n.PhoneNumberID):
			l.problem(idKey, "%q must be digits only", n.PhoneNumberID)
		case ids[n.PhoneNumberID] != "":
			l.problem(idKey, "duplicate phone_number_id %q (also %s)", n.PhoneNumberID, ids[n.PhoneNumberID])
		default:
			ids[n.PhoneNumberID] = idKey
		}
		switch {
		case n.BusinessNumber == "":
			l.problem(numKey, "is required (E.164, e.g. \"+15550100001\")")
		case !reE164.MatchString(n.BusinessNumber):
			l.problem(numKey, "%q is not an E.164 number (+ then 8 to 15 digits, the first not 0)", n.BusinessNumber)
		case nums[n.BusinessNumber] != "":
			l.problem(numKey, "duplicate business_number %q (also %s)", n.BusinessNumber, nums[n.BusinessNumber])
		default:
			nums[n.BusinessNumber] = numKey
		}
	}

	if c.Sandbox.Enabled {
		return
	}
	if w.Provider == "twilio" {
		if len(w.Numbers) == 0 {
			l.add("whatsapp.numbers", l.pos.line("whatsapp"), "at least one WhatsApp sender number is required when the sandbox is disabled (business_number or [[whatsapp.numbers]])")
		}
		for i, n := range w.Numbers {
			if n.BusinessNumber == SandboxBusinessNumber {
				l.problem(l.numbers[i]+".business_number", "is the sandbox's sample value; set the real one (the sandbox is disabled)")
			}
		}
		return // Meta's identity is not used
	}
	// Without the sandbox the real identity is required, and the sandbox's
	// sample values must not leak into production.
	const why = "is required when the sandbox is disabled"
	const sample = "is the sandbox's sample value; set the real one (the sandbox is disabled)"
	req := func(key, fileKey string, empty, isSample bool) {
		if l.hasProblem(key) || fileKey != "" && l.hasProblem(fileKey) {
			return // already reported: a type error or an unreadable file
		}
		switch {
		case empty:
			if fileKey != "" {
				l.add(key, l.pos.line("whatsapp"), "%s (set %s or %s)", why, lastSeg(key), lastSeg(fileKey))
			} else {
				l.add(key, l.pos.line("whatsapp"), "%s", why)
			}
		case isSample:
			k := key
			if fileKey != "" && l.set[fileKey] {
				k = fileKey
			}
			l.problem(k, "%s", sample)
		}
	}
	req("whatsapp.waba_id", "", w.WABAID == "", w.WABAID == SandboxWABAID)
	req("whatsapp.access_token", "whatsapp.access_token_file", w.AccessToken == "", w.AccessToken == SandboxAccessToken)
	req("whatsapp.app_secret", "whatsapp.app_secret_file", w.AppSecret == "", w.AppSecret == SandboxAppSecret)
	req("whatsapp.verify_token", "whatsapp.verify_token_file", w.VerifyToken == "", w.VerifyToken == SandboxVerifyToken)
	if len(w.Numbers) == 0 {
		l.add("whatsapp.numbers", l.pos.line("whatsapp"), "at least one number %s (set phone_number_id and business_number, or [[whatsapp.numbers]])", why)
	}
	for i, n := range w.Numbers {
		if n.PhoneNumberID == SandboxPhoneNumberID {
			l.problem(l.numbers[i]+".phone_number_id", "%s", sample)
		}
	}
}

func (l *loader) hasProblem(key string) bool {
	for _, p := range l.problems {
		if p.Key == key {
			return true
		}
	}
	return false
}

func lastSeg(key string) string { return key[strings.LastIndexByte(key, '.')+1:] }

func (l *loader) validateSandbox(c *Config) {
	s := c.Sandbox
	if s.Enabled {
		l.listen("sandbox.listen", s.Listen)
		if s.Listen == c.HTTP.Listen && !strings.HasSuffix(s.Listen, ":0") {
			l.problem("sandbox.listen", "must differ from http.listen")
		}
		l.oneOf("sandbox.statuses", s.Statuses, "all", "delivered", "sent", "none")
		if s.StatusBatch < 1 || s.StatusBatch > 1000 {
			l.problem("sandbox.status_batch", "must be between 1 and 1000")
		}
		if s.WebhookWorkers < 1 || s.WebhookWorkers > 1024 {
			l.problem("sandbox.webhook_workers", "must be between 1 and 1024")
		}
		if s.ErrorPercent < 0 || s.ErrorPercent > 100 {
			l.problem("sandbox.error_percent", "must be between 0 and 100")
		}
		l.notNegative("sandbox.latency", s.Latency)
		if c.UsesTwilio() {
			l.listen("sandbox.twilio_listen", s.TwilioListen)
			if (s.TwilioListen == s.Listen || s.TwilioListen == c.HTTP.Listen) && !strings.HasSuffix(s.TwilioListen, ":0") {
				l.problem("sandbox.twilio_listen", "must differ from sandbox.listen and http.listen")
			}
		}
	} else if s.Listen != "" {
		l.listen("sandbox.listen", s.Listen)
	}
	if s.WebhookURL != "" {
		l.url("sandbox.webhook_url", s.WebhookURL)
	}
	l.notNegative("sandbox.status_delay", s.StatusDelay)
	l.notNegative("sandbox.template_review_delay", s.TemplateReviewDelay)
	for i, n := range s.NotOnWhatsApp {
		if !reE164.MatchString(n) {
			l.problem(indexKey("sandbox.not_on_whatsapp", i), "%q is not an E.164 number (+ then 8 to 15 digits, the first not 0)", n)
		}
	}
	l.positive("sandbox.webhook_retry_initial", s.WebhookRetryInitial)
	l.positive("sandbox.webhook_retry_max", s.WebhookRetryMax)
	if s.WebhookRetryInitial > 0 && s.WebhookRetryMax > 0 && s.WebhookRetryMax < s.WebhookRetryInitial {
		l.problem("sandbox.webhook_retry_max", "must not be less than webhook_retry_initial (%s)", s.WebhookRetryInitial)
	}

	seen := map[string]string{}
	for i, t := range s.Templates {
		k := indexKey("sandbox.templates", i)
		if !reTemplateName.MatchString(t.Name) {
			l.problem(k+".name", "%q must match ^[a-z0-9_]+$", t.Name)
		}
		if t.Language == "" {
			l.problem(k+".language", "is required (e.g. \"en_US\")")
		}
		if t.Name != "" && t.Language != "" {
			id := t.Name + "/" + t.Language
			if prev, dup := seen[id]; dup {
				l.problem(k+".name", "duplicate template %q in language %q (also %s)", t.Name, t.Language, prev)
			}
			seen[id] = k
		}
		l.oneOf(k+".category", t.Category, "MARKETING", "UTILITY", "AUTHENTICATION")
		l.oneOf(k+".status", t.Status, "APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED")
		l.oneOf(k+".parameter_format", t.ParameterFormat, "POSITIONAL", "NAMED")
		l.oneOf(k+".header_format", t.HeaderFormat, "", "TEXT", "IMAGE", "VIDEO", "DOCUMENT")
		if t.HeaderFormat == "TEXT" && t.HeaderText == "" {
			l.problem(k+".header_text", "is required with header_format \"TEXT\"")
		}
		if t.HeaderFormat != "TEXT" && t.HeaderText != "" {
			l.problem(k+".header_text", "is only allowed with header_format \"TEXT\"")
		}
		if strings.TrimSpace(t.Body) == "" {
			l.problem(k+".body", "must not be empty")
		} else {
			l.placeholders(k, t)
		}
	}
}

// placeholders checks that {{…}} parameters fit the parameter format:
// {{1}}, {{2}} … in order for POSITIONAL, {{snake_case}} names for NAMED.
func (l *loader) placeholders(k string, t SandboxTemplate) {
	for _, part := range []struct{ key, text string }{{k + ".header_text", t.HeaderText}, {k + ".body", t.Body}} {
		next := 1
		for _, m := range rePlaceholder.FindAllStringSubmatch(part.text, -1) {
			p := m[1]
			switch t.ParameterFormat {
			case "POSITIONAL":
				n, err := strconv.Atoi(p)
				if err != nil || !reDigits.MatchString(p) {
					l.problem(part.key, "placeholder {{%s}} must be a number with parameter_format \"POSITIONAL\"", p)
				} else if n != next {
					l.problem(part.key, "placeholder {{%d}} out of order: expected {{%d}}", n, next)
				}
				next++
			case "NAMED":
				if !reNamedParam.MatchString(p) {
					l.problem(part.key, "placeholder {{%s}} must be a lowercase name with parameter_format \"NAMED\"", p)
				}
			}
		}
	}
}

func (l *loader) oneOf(key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	l.problem(key, "%q is not one of %s", v, strings.Join(quoted, ", "))
}

func (l *loader) positive(key string, d Duration) {
	if d <= 0 {
		l.problem(key, "must be a positive duration, got %q", d.String())
	}
}

func (l *loader) notNegative(key string, d Duration) {
	if d < 0 {
		l.problem(key, "must not be negative, got %q", d.String())
	}
}

func (l *loader) listen(key, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		l.problem(key, "%q is not a host:port address (e.g. \"127.0.0.1:8080\", \":8080\")", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		if _, err := net.LookupPort("tcp", port); err != nil {
			l.problem(key, "%q has an invalid port", addr)
		}
	}
	if strings.ContainsAny(host, " /") {
		l.problem(key, "%q has an invalid host", addr)
	}
}

func (l *loader) url(key, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if strings.Contains(s, "@") { // may hold credentials: do not quote it
			l.problem(key, "is not an http(s) URL")
			return
		}
		l.problem(key, "%q is not an http(s) URL", s)
	}
}

// keyPair checks a section's cert_file and key_file: both or neither, and
// together a loadable PEM certificate and key. Paths are resolved against
// the config file's directory.
func (l *loader) keyPair(section string, cert, key *string) {
	if *cert == "" && *key == "" {
		return
	}
	if *cert == "" || *key == "" {
		missing := section + ".cert_file"
		if *key == "" {
			missing = section + ".key_file"
		}
		l.problem(missing, "set both cert_file and key_file, or neither")
		return
	}
	for _, p := range []*string{cert, key} {
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(l.dir, *p)
		}
	}
	if _, err := tls.LoadX509KeyPair(*cert, *key); err != nil {
		l.problem(section+".cert_file", "cannot load the certificate and key: %v", err)
	}
}

var (
	reSystemID = regexp.MustCompile(`^[\x21-\x7e]{1,15}$`)
	reCountry  = regexp.MustCompile(`^[A-Za-z]{2}$`)
)

// validateSMPP checks [smpp] and every [[smpp.accounts]] entry, and fills
// the accounts' defaults (data_coding_0 "gsm", long_replies "payload").
func (l *loader) validateSMPP(c *Config) {
	sm := &c.SMPP
	l.listeners("smpp", sm.Listen, sm.TLSListen, &sm.CertFile, &sm.KeyFile)
	if sm.Window < 1 || sm.Window > 1000 {
		l.problem("smpp.window", "must be between 1 and 1000, got %d", sm.Window)
	}
	l.positive("smpp.enquire_link", sm.EnquireLink)
	l.positive("smpp.inactivity", sm.Inactivity)
	l.positive("smpp.response_timeout", sm.Timeout)
	l.notNegative("smpp.bind_fail_delay", sm.BindFailDelay)
	if sm.MaxQueue < 1 {
		l.problem("smpp.max_queue", "must be positive")
	}
	l.positive("smpp.part_timeout", sm.PartTimeout)
	business := map[string]bool{}
	for _, n := range c.BusinessNumbers() {
		business[n] = true
	}
	ids := map[string]string{}
	for i := range sm.Accounts {
		a := &sm.Accounts[i]
		k := func(name string) string { return indexKey("smpp.accounts", i) + "." + name }
		switch {
		case !reSystemID.MatchString(a.SystemID):
			l.problem(k("system_id"), "must be 1 to 15 printable characters (SMPP 3.4 allows 16 octets with the terminator)")
		case ids[a.SystemID] != "":
			l.problem(k("system_id"), "duplicate system_id %q (also %s)", a.SystemID, ids[a.SystemID])
		default:
			ids[a.SystemID] = k("system_id")
		}
		p := a.Password.Value()
		isHash := strings.HasPrefix(p, "$2a$") || strings.HasPrefix(p, "$2b$") || strings.HasPrefix(p, "$2y$")
		switch {
		case p == "" && !l.hasProblem(k("password_file")):
			l.problem(k("password"), "is required (or password_file)")
		case !isHash && len(p) > 8:
			l.problem(k("password"), "a plain SMPP 3.4 password has at most 8 characters; give a bcrypt hash to keep it hashed")
		}
		l.ownedNumbers(k("numbers"), a.Numbers, business)
		if a.MaxBinds < 0 {
			l.problem(k("max_binds"), "must not be negative")
		}
		if a.Throughput < 0 {
			l.problem(k("throughput"), "must not be negative")
		}
		if a.DefaultCountry != "" && !reCountry.MatchString(a.DefaultCountry) {
			l.problem(k("default_country"), "%q is not a two-letter country code", a.DefaultCountry)
		}
		for j, cidr := range a.AllowedIPs {
			if _, err := netip.ParsePrefix(cidr); err != nil {
				if _, err := netip.ParseAddr(cidr); err != nil {
					l.problem(indexKey(k("allowed_ips"), j), "%q is not an address or CIDR", cidr)
				}
			}
		}
		if a.DataCoding0 == "" {
			a.DataCoding0 = "gsm"
		}
		l.oneOf(k("data_coding_0"), a.DataCoding0, "gsm", "ia5", "latin1")
		if a.LongReplies == "" {
			a.LongReplies = "payload"
		}
		l.oneOf(k("long_replies"), a.LongReplies, "payload", "udh")
	}
}

var reDomain = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// validateMail checks [mail], [[mail.users]], [smtp] and [imap].
func (l *loader) validateMail(c *Config) {
	if !reDomain.MatchString(c.Mail.Domain) {
		l.problem("mail.domain", "%q is not a lower-case domain name", c.Mail.Domain)
	}
	business := map[string]bool{}
	for _, n := range c.BusinessNumbers() {
		business[n] = true
	}
	names := map[string]string{}
	for i := range c.Mail.Users {
		u := &c.Mail.Users[i]
		k := func(name string) string { return indexKey("mail.users", i) + "." + name }
		name := strings.ToLower(u.Username)
		switch {
		case u.Username == "" || strings.ContainsAny(u.Username, " \t\r\n"):
			l.problem(k("username"), "must be a non-empty name without spaces")
		case names[name] != "":
			l.problem(k("username"), "duplicate username %q (also %s)", u.Username, names[name])
		default:
			names[name] = k("username")
		}
		if u.Password.Value() == "" && !l.hasProblem(k("password_file")) {
			l.problem(k("password"), "is required (or password_file)")
		}
		l.ownedNumbers(k("numbers"), u.Numbers, business)
	}
	sm := &c.SMTP
	l.listeners("smtp", sm.Listen, sm.TLSListen, &sm.CertFile, &sm.KeyFile)
	if sm.MaxMessageBytes <= 0 {
		l.problem("smtp.max_message_bytes", "must be positive")
	}
	l.insecureAuth("smtp", sm.AllowInsecureAuth, sm.Listen, sm.TLSListen)
	l.oneOf("smtp.subject", sm.Subject, "ignore", "prepend", "only-if-no-body")
	l.oneOf("smtp.long_text", sm.LongText, "split", "refuse")

	im := &c.IMAP
	l.listeners("imap", im.Listen, im.TLSListen, &im.CertFile, &im.KeyFile)
	if im.MaxMessageBytes <= 0 || im.MaxMessageBytes > 100<<20 {
		// Above 100 MiB go-imap refuses a literal before reading it.
		l.problem("imap.max_message_bytes", "must be positive and at most 100MiB")
	}
	l.insecureAuth("imap", im.AllowInsecureAuth, im.Listen, im.TLSListen)
	if im.BusySessions < 0 || im.BusySessions > 100000 {
		l.problem("imap.busy_sessions", "must be 0 (one per scheduler processor) or a number of sessions up to 100000")
	}
	if im.HeaderCache < 0 || im.HeaderCache > 1<<30 {
		l.problem("imap.header_cache", "must be 0 (none) or a size up to 1GiB")
	}
}

// insecureAuth allows passwords in clear text only on loopback listeners.
func (l *loader) insecureAuth(section string, allow bool, listen, tlsListen string) {
	if !allow {
		return
	}
	for key, addr := range map[string]string{section + ".listen": listen, section + ".tls_listen": tlsListen} {
		if addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err == nil && (ip == nil || !ip.IsLoopback()) && host != "localhost" {
			l.problem(section+".allow_insecure_auth", "passwords in clear text are allowed only on a loopback listener (%s is %q)", key, addr)
		}
	}
}

// listeners checks a section's plain and TLS listen addresses and its
// certificate (tls_listen needs one).
func (l *loader) listeners(section, listen, tlsListen string, cert, key *string) {
	if listen != "" {
		l.listen(section+".listen", listen)
	}
	if tlsListen != "" {
		l.listen(section+".tls_listen", tlsListen)
		if *cert == "" {
			l.problem(section+".cert_file", "tls_listen needs cert_file and key_file")
		}
	}
	l.keyPair(section, cert, key)
}

// ownedNumbers checks a user's or account's numbers: at least one, each a
// configured business number.
func (l *loader) ownedNumbers(key string, numbers []string, business map[string]bool) {
	if len(numbers) == 0 {
		l.problem(key, "list at least one business number")
	}
	for j, n := range numbers {
		if !business[n] {
			l.problem(indexKey(key, j), "%q is not a configured business number ([whatsapp] numbers)", n)
		}
	}
}

// validateTemplates checks [templates] and [[templates.pins]].
func (l *loader) validateTemplates(c *Config) {
	t := &c.Templates
	l.positive("templates.ttl", t.TTL)
	l.positive("templates.retry_after", t.RetryAfter)
	for i, lang := range t.Languages {
		if !reLanguage.MatchString(lang) {
			l.problem(indexKey("templates.languages", i), "%q is not a language code like en_US", lang)
		}
	}
	for i, v := range t.Variables {
		friendly, param, ok := strings.Cut(v, "=")
		friendly, param = strings.TrimSpace(friendly), strings.TrimSpace(param)
		if !ok || friendly == "" || !(reNamedParam.MatchString(param) || rePositional.MatchString(param)) {
			l.problem(indexKey("templates.variables", i), "%q: want \"Friendly Name=parameter\" with a parameter name (first_name) or number (1)", v)
		}
	}
	accounts := map[string]bool{}
	for _, a := range c.SMPP.Accounts {
		accounts[a.SystemID] = true
	}
	users := map[string]bool{}
	for _, u := range c.Mail.Users {
		users[strings.ToLower(u.Username)] = true
	}
	for i, p := range t.Pins {
		k := func(name string) string { return indexKey("templates.pins", i) + "." + name }
		switch {
		case (p.SMPPAccount == "") == (p.MailUser == ""):
			l.problem(k("smpp_account"), "set exactly one of smpp_account and mail_user")
		case p.SMPPAccount != "" && !accounts[p.SMPPAccount]:
			l.problem(k("smpp_account"), "%q is not a configured [[smpp.accounts]] system_id", p.SMPPAccount)
		case p.MailUser != "" && !users[strings.ToLower(p.MailUser)]:
			l.problem(k("mail_user"), "%q is not a configured [[mail.users]] username", p.MailUser)
		}
		if p.ServiceType != "" && p.SMPPAccount == "" {
			l.problem(k("service_type"), "only with smpp_account")
		}
		if !reTemplateName.MatchString(p.Template) {
			l.problem(k("template"), "%q must match ^[a-z0-9_]+$", p.Template)
		}
		if p.Language != "" && !reLanguage.MatchString(p.Language) {
			l.problem(k("language"), "%q is not a language code like en_US", p.Language)
		}
	}
}

var fallbackTriggers = []string{"not_on_whatsapp", "marketing_limit", "no_template", "window_closed", "account_error",
	"tier_limit", "delivery_timeout", "sms_conversation"}

// reTwilioSID matches a Twilio SID: two letters and 32 hex digits.
var reTwilioSID = regexp.MustCompile(`^[A-Z]{2}[0-9a-fA-F]{32}$`)

// twilioSID checks that key holds a SID with the given prefix ("" allowed).
func (l *loader) twilioSID(key, v, prefix string) {
	if v != "" && (!reTwilioSID.MatchString(v) || v[:2] != prefix) {
		l.problem(key, "%q is not a Twilio SID (%s followed by 32 hex digits)", v, prefix)
	}
}

// twilioRoute checks a [[sms.routes]] entry of type twilio.
func (l *loader) twilioRoute(r *SMSRoute, k func(string) string) {
	if r.From == "" && r.MessagingServiceSID == "" {
		l.problem(k("from"), "a twilio route needs from (E.164 number or alphanumeric sender id) or messaging_service_sid")
	}
	if r.From != "" && r.MessagingServiceSID != "" {
		l.problem(k("messaging_service_sid"), "set from or messaging_service_sid, not both")
	}
	if r.From != "" && !reE164.MatchString(r.From) && !reAlphaSender.MatchString(r.From) {
		l.problem(k("from"), "%q is neither an E.164 number nor an alphanumeric sender id (1-11 letters, digits, spaces)", r.From)
	}
	l.twilioSID(k("messaging_service_sid"), r.MessagingServiceSID, "MG")
	for _, f := range []string{"host", "port", "system_id", "password", "password_file", "system_type", "tls", "ca_file", "throughput"} {
		if l.set[k(f)] {
			l.problem(k(f), "is an smpp route setting; a twilio route uses [twilio]")
		}
	}
}

// reAlphaSender is an alphanumeric SMS sender id.
var reAlphaSender = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)

// validateTwilio checks [twilio] when something uses Twilio.
func (l *loader) validateTwilio(c *Config) {
	t := c.Twilio
	l.url("twilio.api_url", t.APIURL)
	l.url("twilio.content_url", t.ContentURL)
	l.positive("twilio.timeout", t.Timeout)
	for i, h := range t.MediaHosts {
		if h == "" || strings.ContainsAny(h, "/:@ \t") {
			l.problem(indexKey("twilio.media_hosts", i), "%q is not a host name", h)
		}
	}
	l.twilioSID("twilio.account_sid", t.AccountSID, "AC")
	l.twilioSID("twilio.subaccount_sid", t.SubaccountSID, "AC")
	l.twilioSID("twilio.api_key_sid", t.APIKeySID, "SK")
	l.twilioSID("twilio.messaging_service_sid", t.MessagingServiceSID, "MG")
	if (t.APIKeySID == "") != (t.APIKeySecret == "") && !l.hasProblem("twilio.api_key_secret_file") && !l.hasProblem("twilio.api_key_sid") {
		l.problem("twilio.api_key_sid", "set api_key_sid and api_key_secret together")
	}
	if t.SubaccountAuthToken != "" && t.SubaccountSID == "" {
		l.problem("twilio.subaccount_auth_token", "only with subaccount_sid")
	}
	if !c.UsesTwilio() || c.Sandbox.Enabled {
		return
	}
	why := "is required when Twilio is used (whatsapp.provider or an sms route) and the sandbox is disabled"
	if t.AccountSID == "" {
		l.add("twilio.account_sid", l.pos.line("twilio"), "%s", why)
	} else if t.AccountSID == SandboxTwilioAccountSID {
		l.problem("twilio.account_sid", "is the sandbox's sample value; set the real one (the sandbox is disabled)")
	}
	if t.AuthToken == "" && !l.hasProblem("twilio.auth_token_file") {
		l.add("twilio.auth_token", l.pos.line("twilio"), "%s: it checks X-Twilio-Signature (set auth_token or auth_token_file)", why)
	} else if t.AuthToken == SandboxTwilioAuthToken {
		l.problem("twilio.auth_token", "is the sandbox's sample value; set the real one (the sandbox is disabled)")
	}
	if c.HTTP.PublicURL == "" {
		l.add("http.public_url", l.pos.line("http"), "%s: Twilio signs webhooks against it, posts status callbacks to it and fetches media from it", why)
	}
}

// validateSMS checks [[sms.routes]] and [fallback].
func (l *loader) validateSMS(c *Config) {
	names := map[string]bool{}
	for i := range c.SMS.Routes {
		r := &c.SMS.Routes[i]
		k := func(name string) string { return indexKey("sms.routes", i) + "." + name }
		switch {
		case r.Name == "" || strings.ContainsAny(r.Name, " \t:/"):
			l.problem(k("name"), "must be a non-empty name without spaces, colons or slashes")
		case names[r.Name]:
			l.problem(k("name"), "duplicate route name %q", r.Name)
		}
		names[r.Name] = true
		switch r.Type {
		case "smpp":
		case "twilio":
			l.twilioRoute(r, k)
			continue
		default:
			l.problem(k("type"), "%q: a route is \"smpp\" or \"twilio\"", r.Type)
			continue
		}
		if r.From != "" || r.MessagingServiceSID != "" {
			l.problem(k("from"), "from and messaging_service_sid are for twilio routes; an smpp route sends from the business number")
		}
		if r.Host == "" {
			l.problem(k("host"), "is required")
		}
		if r.Port < 1 || r.Port > 65535 {
			l.problem(k("port"), "must be a TCP port, got %d", r.Port)
		}
		if r.SystemID == "" || len(r.SystemID) > 15 {
			l.problem(k("system_id"), "must be 1 to 15 characters")
		}
		if r.Password.Value() == "" && !l.hasProblem(k("password_file")) {
			l.problem(k("password"), "is required (or password_file)")
		}
		if r.Throughput < 0 {
			l.problem(k("throughput"), "must not be negative (0: no limit)")
		}
		if r.CAFile != "" && !r.TLS {
			l.problem(k("ca_file"), "only with tls = true")
		}
	}
	l.notNegative("fallback.timeout", c.Fallback.Timeout)
	l.positive("fallback.breaker_probe", c.Fallback.BreakerProbe)
	for i, t := range c.Fallback.Off {
		if !slices.Contains(fallbackTriggers, t) {
			l.problem(indexKey("fallback.off", i), "%q is not a trigger (%s)", t, strings.Join(fallbackTriggers, ", "))
		}
	}
}
