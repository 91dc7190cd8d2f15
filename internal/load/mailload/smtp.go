package mailload

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/wabridge/wabridge/internal/load"
)

// smtpConfig is "wabload smtp"'s flags.
type smtpConfig struct {
	addr, user, password string
	noAuth               bool
	helo                 string
	sessions             int
	size                 int
	text                 string
	rate                 float64
	duration             time.Duration
	count                int64
	toDomain, toBase     string
	recipients           int64
	from, fromHeader     string
	pid                  int
	pidTree              bool
	timeout              time.Duration
	settings             settingsFlag
	drain                string
	drainMax             time.Duration
}

// SMTPMain is "wabload smtp": S sessions, each submitting message after
// message over one connection (MAIL, RCPT, DATA; RSET after a refused
// transaction), flat out or at -rate messages/s in total. The latency of a
// message runs from MAIL FROM (its due time in open loop) to the final 250
// after DATA; refusals are counted by reply code, and a dropped session is
// reconnected.
func SMTPMain(args []string, stdout, stderr io.Writer) int {
	cfg := smtpConfig{settings: settingsFlag{}}
	fs := flag.NewFlagSet("wabload smtp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:2525", "SMTP server host:port (plain TCP)")
	fs.StringVar(&cfg.user, "user", "agent", "AUTH PLAIN user name")
	fs.StringVar(&cfg.password, "password", "", "AUTH PLAIN password")
	fs.BoolVar(&cfg.noAuth, "no-auth", false, "do not authenticate (servers without AUTH: smtp-sink, a plain smtpd)")
	fs.StringVar(&cfg.helo, "helo", "wabload.localhost", "EHLO name")
	fs.IntVar(&cfg.sessions, "sessions", 8, "concurrent SMTP sessions")
	fs.IntVar(&cfg.size, "size", 512, "message body size in bytes (headers come on top)")
	fs.StringVar(&cfg.text, "text", "", `body text: with a %s it is filled (with digits) to -size bytes, e.g. "Your order %s has shipped and arrives on Monday." to match an approved template; "" for -size bytes of plain lines`)
	fs.Float64Var(&cfg.rate, "rate", 0, "messages per second in total (open loop); 0 flat out")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to run")
	fs.Int64Var(&cfg.count, "count", 0, "stop after this many messages (0: -duration decides)")
	fs.StringVar(&cfg.toDomain, "to-domain", "wa.localhost", "recipient domain")
	fs.StringVar(&cfg.toBase, "to-base", "+4915100000000", "first recipient number; message i goes to base+i")
	fs.Int64Var(&cfg.recipients, "recipients", 0, "cycle over this many recipients (0: a new one per message)")
	fs.StringVar(&cfg.from, "from", "wabload@localhost", "envelope sender (MAIL FROM)")
	fs.StringVar(&cfg.fromHeader, "from-header", "", "From: header (default: the envelope sender)")
	fs.IntVar(&cfg.pid, "pid", 0, "server pid: its CPU time and RSS over the run")
	fs.BoolVar(&cfg.pidTree, "pid-tree", false, "measure -pid and all its descendants (multi-process servers)")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "per-command and submission timeout")
	fs.Var(cfg.settings, "settings", "k=v added to the report's settings (repeatable)")
	fs.StringVar(&cfg.drain, "drain", "", "the sandbox's URL: after the run, wait until it has received every accepted mail and report how long the queue took to drain")
	fs.DurationVar(&cfg.drainMax, "drain-max", 5*time.Minute, "give up waiting for the drain after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.sessions < 1 {
		fmt.Fprintln(stderr, "wabload smtp: -sessions must be at least 1")
		return 2
	}
	base, err := strconv.ParseInt(strings.TrimPrefix(cfg.toBase, "+"), 10, 64)
	if err != nil || base <= 0 {
		fmt.Fprintf(stderr, "wabload smtp: -to-base %q is not a number\n", cfg.toBase)
		return 2
	}
	if cfg.fromHeader == "" {
		cfg.fromHeader = cfg.from
	}
	rep, err := runSMTP(context.Background(), cfg, base)
	if err != nil {
		fmt.Fprintln(stderr, "wabload smtp:", err)
		return 1
	}
	rep.Print(stdout)
	if rep.Ops == 0 {
		return 1
	}
	return 0
}

// smtpSession is one connection, reconnected when dropped.
type smtpSession struct {
	c     *smtp.Client
	first *firstErrors
}

// firstErrors keeps the first error text of each kind, for the report.
type firstErrors struct {
	mu sync.Mutex
	m  map[string]string
}

func (f *firstErrors) note(kind string, err error) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]string{}
	}
	if _, ok := f.m[kind]; !ok {
		f.m[kind] = err.Error()
	}
	return kind
}

func (f *firstErrors) notes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, v := range f.m {
		out = append(out, fmt.Sprintf("first %s: %s", k, v))
	}
	sort.Strings(out)
	return out
}

func runSMTP(ctx context.Context, cfg smtpConfig, base int64) (load.Report, error) {
	body := makeBody(cfg.text, cfg.size)
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)

	// Every session connects before the clock starts, so the first
	// messages' latency is not a connection's.
	pool := make(chan *smtpSession, cfg.sessions)
	first := &firstErrors{}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range cfg.sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &smtpSession{first: first}
			if err := s.connect(cfg); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			pool <- s
		}()
	}
	wg.Wait()
	if firstErr != nil {
		for range cfg.sessions {
			(<-pool).close()
		}
		return load.Report{}, fmt.Errorf("connecting: %w", firstErr)
	}

	var (
		sandbox    = &http.Client{Timeout: 5 * time.Second}
		sendsAtRun int64
	)
	if cfg.drain != "" {
		n, err := load.SandboxSends(sandbox, cfg.drain)
		if err != nil {
			return load.Report{}, err
		}
		sendsAtRun = n
	}
	rec := load.NewRecorder()
	meter := procMeter{pid: cfg.pid, tree: cfg.pidTree}
	meter.Start()
	op := func(ctx context.Context, i int64, start time.Time) string {
		s := <-pool
		defer func() { pool <- s }()
		n := i
		if cfg.recipients > 0 {
			n = i % cfg.recipients
		}
		to := strconv.FormatInt(base+n, 10) + "@" + cfg.toDomain
		return s.send(cfg, to, message(cfg.fromHeader, to, runID, i, body))
	}
	attempted, elapsed := load.Run(ctx, load.RunConfig{
		Rate: cfg.rate, Concurrency: cfg.sessions, Duration: cfg.duration, Count: cfg.count,
	}, op, rec)
	sum := rec.Summary()
	rep := load.Report{
		Scenario: "smtp",
		Settings: map[string]string{
			"addr":      cfg.addr,
			"auth":      strconv.FormatBool(!cfg.noAuth),
			"sessions":  strconv.Itoa(cfg.sessions),
			"size":      strconv.Itoa(cfg.size),
			"rate":      strconv.FormatFloat(cfg.rate, 'f', -1, 64),
			"loop":      loopName(cfg.rate),
			"attempted": strconv.FormatInt(attempted, 10),
		},
		Ops:     sum.Count,
		Latency: map[string]load.Summary{"message": sum},
	}
	for k, v := range cfg.settings {
		rep.Settings[k] = v
	}
	rep.Notes = append(rep.Notes, first.notes()...)
	finishReport(&rep, elapsed)
	for range cfg.sessions {
		(<-pool).quit()
	}
	if cfg.drain != "" {
		// Mail is acknowledged once committed and sent after: how long
		// the outbox took to send every accepted mail tells whether the
		// acceptance rate is sustainable.
		took, ok := load.AwaitSandboxSends(sandbox, cfg.drain, sendsAtRun+rep.Ops, cfg.drainMax)
		rep.Settings["drain"] = took.Round(time.Millisecond).String()
		if !ok {
			rep.Notes = append(rep.Notes, fmt.Sprintf("the outbox had not sent every accepted mail %s after the run", took.Round(time.Second)))
		} else {
			rep.Notes = append(rep.Notes, fmt.Sprintf("every accepted mail reached WhatsApp %s after the run: %.0f mails/s accepted and sent", took.Round(time.Millisecond),
				float64(rep.Ops)/(elapsed+took).Seconds()))
		}
	}
	meter.Finish(&rep)
	return rep, nil
}

func loopName(rate float64) string {
	if rate > 0 {
		return "open"
	}
	return "closed"
}

func (s *smtpSession) connect(cfg smtpConfig) error {
	c, err := smtp.Dial(cfg.addr)
	if err != nil {
		return err
	}
	c.CommandTimeout, c.SubmissionTimeout = cfg.timeout, cfg.timeout
	if err := c.Hello(cfg.helo); err != nil {
		c.Close()
		return err
	}
	if !cfg.noAuth {
		if err := c.Auth(sasl.NewPlainClient("", cfg.user, cfg.password)); err != nil {
			c.Close()
			return fmt.Errorf("AUTH PLAIN: %w", err)
		}
	}
	s.c = c
	return nil
}

func (s *smtpSession) close() {
	if s.c != nil {
		s.c.Close()
		s.c = nil
	}
}

func (s *smtpSession) quit() {
	if s.c != nil {
		s.c.Quit()
		s.close()
	}
}

// send submits one message; "" when the server answered 250 after DATA.
func (s *smtpSession) send(cfg smtpConfig, to string, msg []byte) string {
	if s.c == nil {
		if err := s.connect(cfg); err != nil {
			return s.first.note(kindOf(err), err)
		}
	}
	err := s.transaction(cfg.from, to, msg)
	if err == nil {
		return ""
	}
	s.first.note(kindOf(err), err)
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		// A refused transaction: reset it and go on over the same session
		// (unless the server is closing it: 421).
		if se.Code == 421 || s.c.Reset() != nil {
			s.close()
		}
		return kindOf(err)
	}
	s.close()
	return kindOf(err)
}

func (s *smtpSession) transaction(from, to string, msg []byte) error {
	if err := s.c.Mail(from, nil); err != nil {
		return err
	}
	if err := s.c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := s.c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// kindOf names an error: "smtp_<code>" for a reply, else the transport's.
func kindOf(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return "smtp_" + strconv.Itoa(se.Code)
	}
	return netKind(err)
}

// makeBody is the message body: text filled to size bytes, or plain lines.
func makeBody(text string, size int) []byte {
	var b strings.Builder
	switch {
	case strings.Contains(text, "%s"):
		fill := size - (len(text) - 2) - 2
		if fill < 1 {
			fill = 1
		}
		digits := strings.Repeat("0123456789", fill/10+1)[:fill]
		b.WriteString(strings.Replace(text, "%s", digits, 1))
		b.WriteString("\r\n")
	case text != "":
		b.WriteString(text)
		b.WriteString("\r\n")
	default:
		const line = "The quick brown fox jumps over the lazy dog, again and again and again."
		for b.Len() < size {
			n := min(len(line), size-b.Len()-2)
			if n <= 0 {
				b.WriteString("\r\n")
				break
			}
			b.WriteString(line[:n])
			b.WriteString("\r\n")
		}
	}
	return []byte(b.String())
}

// message is one mail: a few headers (with a unique Message-ID, so
// servers that deduplicate by it take every message) and the body.
func message(from, to, runID string, i int64, body []byte) []byte {
	h := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: wabload %d\r\nDate: %s\r\nMessage-ID: <%s.%d@wabload.localhost>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		from, to, i, time.Now().Format(time.RFC1123Z), runID, i)
	msg := make([]byte, 0, len(h)+len(body))
	return append(append(msg, h...), body...)
}
