package mailload

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/wabridge/wabridge/internal/config"
	"github.com/wabridge/wabridge/internal/load"
)

// imapConfig is "wabload imap"'s flags.
type imapConfig struct {
	addr, user, password string
	useTLS, insecure     bool
	clients              int
	duration             time.Duration
	rate                 float64
	mailbox              string
	mix                  []string
	fetchLast            int
	seed                 int
	idleClients          int
	webhookURL           string
	appSecret            string
	phoneNumberID        string
	business             string
	wabaID               string
	pushRate             float64
	pushVia              string
	idleOnly             bool
	dialParallel         int
	pid                  int
	pidTree              bool
	timeout              time.Duration
	settings             settingsFlag
}

var imapCommands = []string{"noop", "search", "fetch", "status"}

// IMAPMain is "wabload imap". Three parts, each optional:
//
//   - -seed N: the mailbox holds at least N messages before anything is
//     measured (signed inbound webhooks with -webhook-url, else APPEND).
//   - the command load: -clients C each LOGIN and SELECT once, then run the
//     command mix (NOOP, UID SEARCH ALL, UID FETCH of the last 10 messages'
//     FLAGS and SUBJECT/FROM headers, STATUS) flat out or at -rate
//     commands/s in total; latency per command.
//   - the IDLE push probe: -idle-clients N SELECT and IDLE; at -push-rate a
//     new message arrives (a signed webhook to -webhook-url, or an APPEND)
//     and the time from sending it to each idler's "* N EXISTS" is the
//     series idle_push.
//
// -idle-only instead opens C connections that LOGIN, SELECT and IDLE, holds
// them for -duration, and reports how many were held and the server's memory.
func IMAPMain(args []string, stdout, stderr io.Writer) int {
	cfg := imapConfig{settings: settingsFlag{}}
	var mix string
	fs := flag.NewFlagSet("wabload imap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:1143", "IMAP server host:port")
	fs.StringVar(&cfg.user, "user", "agent", "LOGIN user name")
	fs.StringVar(&cfg.password, "password", "", "LOGIN password")
	fs.BoolVar(&cfg.useTLS, "tls", false, "implicit TLS (else plain TCP: the server must allow LOGIN without TLS)")
	fs.BoolVar(&cfg.insecure, "insecure-skip-verify", false, "with -tls: do not verify the server's certificate")
	fs.IntVar(&cfg.clients, "clients", 200, "command-load clients (or, with -idle-only, idle connections)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to run (or hold the idle connections)")
	fs.Float64Var(&cfg.rate, "rate", 0, "commands per second in total (open loop); 0 flat out")
	fs.StringVar(&cfg.mailbox, "mailbox", "INBOX", "mailbox to SELECT")
	fs.StringVar(&mix, "mix", strings.Join(imapCommands, ","), "command mix, in turn: noop, search (UID SEARCH ALL), fetch (UID FETCH last messages: FLAGS, BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]), status")
	fs.IntVar(&cfg.fetchLast, "fetch-last", 10, "fetch: how many of the newest messages")
	fs.IntVar(&cfg.seed, "seed", 0, "make sure the mailbox holds at least this many messages first")
	fs.IntVar(&cfg.idleClients, "idle-clients", 1, "IDLE push probe: clients that SELECT and IDLE (0: no probe)")
	fs.StringVar(&cfg.webhookURL, "webhook-url", "", "wabridge's Meta webhook URL (http://host:port/webhooks/whatsapp): seed and push by signed inbound messages; \"\": by APPEND")
	fs.StringVar(&cfg.appSecret, "app-secret", config.SandboxAppSecret, "Meta app secret signing the webhooks")
	fs.StringVar(&cfg.phoneNumberID, "phone-number-id", config.SandboxPhoneNumberID, "the business number's phone_number_id")
	fs.StringVar(&cfg.business, "business", config.SandboxBusinessNumber, "the business number (display_phone_number)")
	fs.StringVar(&cfg.wabaID, "waba-id", config.SandboxWABAID, "the WhatsApp Business Account id (entry id)")
	fs.Float64Var(&cfg.pushRate, "push-rate", 5, "IDLE push probe: new messages per second (0: no probe)")
	fs.BoolVar(&cfg.idleOnly, "idle-only", false, "only open -clients connections that LOGIN, SELECT and IDLE, hold them for -duration, report how many are held and the server's memory")
	fs.IntVar(&cfg.dialParallel, "dial-parallel", 32, "connections being set up at once")
	fs.IntVar(&cfg.pid, "pid", 0, "server pid: its CPU time and RSS over the run")
	fs.BoolVar(&cfg.pidTree, "pid-tree", false, "measure -pid and all its descendants (Dovecot: master, imap-login, an imap per client)")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "grace after -duration before stuck commands are cut off")
	fs.Var(cfg.settings, "settings", "k=v added to the report's settings (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for _, c := range strings.Split(mix, ",") {
		c = strings.TrimSpace(strings.ToLower(c))
		if c == "" {
			continue
		}
		if !contains(imapCommands, c) {
			fmt.Fprintf(stderr, "wabload imap: unknown command %q in -mix (have %s)\n", c, strings.Join(imapCommands, ", "))
			return 2
		}
		cfg.mix = append(cfg.mix, c)
	}
	if len(cfg.mix) == 0 && cfg.clients > 0 && !cfg.idleOnly {
		fmt.Fprintln(stderr, "wabload imap: empty -mix")
		return 2
	}
	cfg.pushVia = "append"
	if cfg.webhookURL != "" {
		cfg.pushVia = "webhook"
	}
	cfg.dialParallel = max(1, cfg.dialParallel)
	ctx := context.Background()
	var poster *webhookPoster
	if cfg.webhookURL != "" {
		poster = newWebhookPoster(cfg.webhookURL, cfg.appSecret, cfg.phoneNumberID, cfg.business, cfg.wabaID)
	}
	if cfg.seed > 0 {
		if err := seedMailbox(ctx, cfg, poster, stderr); err != nil {
			fmt.Fprintln(stderr, "wabload imap: seeding:", err)
			return 1
		}
	}
	var rep load.Report
	var err error
	if cfg.idleOnly {
		rep, err = runIdleOnly(ctx, cfg, stderr)
	} else {
		rep, err = runIMAP(ctx, cfg, poster)
	}
	if err != nil {
		fmt.Fprintln(stderr, "wabload imap:", err)
		return 1
	}
	for k, v := range cfg.settings {
		rep.Settings[k] = v
	}
	rep.Print(stdout)
	if rep.Ops == 0 {
		return 1
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// dialIMAP connects, logs in and (when mailbox is not "") selects.
func dialIMAP(cfg imapConfig, mailbox string, h *imapclient.UnilateralDataHandler) (*imapclient.Client, *imap.SelectData, error) {
	opts := &imapclient.Options{UnilateralDataHandler: h}
	var (
		c   *imapclient.Client
		err error
	)
	if cfg.useTLS {
		opts.TLSConfig = &tls.Config{InsecureSkipVerify: cfg.insecure}
		c, err = imapclient.DialTLS(cfg.addr, opts)
	} else {
		c, err = imapclient.DialInsecure(cfg.addr, opts)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := c.Login(cfg.user, cfg.password).Wait(); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("LOGIN: %w", err)
	}
	if mailbox == "" {
		return c, nil, nil
	}
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("SELECT %s: %w", mailbox, err)
	}
	return c, sel, nil
}

// imapKind names an error: a tagged NO/BAD by its type, else the transport's.
func imapKind(err error) string {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return "imap_" + strings.ToLower(string(ie.Type))
	}
	return netKind(err)
}

// parallel runs fn(0..n-1) with at most p at once.
func parallel(n, p int, fn func(i int)) {
	sem := make(chan struct{}, p)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// seedMailbox tops the mailbox up to cfg.seed messages.
func seedMailbox(ctx context.Context, cfg imapConfig, poster *webhookPoster, stderr io.Writer) error {
	c, _, err := dialIMAP(cfg, "", nil)
	if err != nil {
		return err
	}
	defer c.Close()
	count := func() (int, error) {
		st, err := c.Status(cfg.mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			return 0, err
		}
		if st.NumMessages == nil {
			return 0, errors.New("STATUS without MESSAGES")
		}
		return int(*st.NumMessages), nil
	}
	have, err := count()
	if err != nil {
		return err
	}
	need := cfg.seed - have
	if need <= 0 {
		fmt.Fprintf(stderr, "seed: %s holds %d messages already\n", cfg.mailbox, have)
		return nil
	}
	begin := time.Now()
	var failed atomic.Int64
	var firstErr atomic.Value
	note := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	if poster != nil {
		parallel(need, 16, func(i int) {
			if err := poster.post(ctx, "seed", int64(i)); err != nil {
				note(err)
			}
		})
	} else {
		const appenders = 8
		parallel(appenders, appenders, func(w int) {
			ac, _, err := dialIMAP(cfg, "", nil)
			if err != nil {
				note(err)
				return
			}
			defer ac.Close()
			for i := w; i < need; i += appenders {
				if err := appendOne(ac, cfg, "seed", int64(i)); err != nil {
					note(err)
				}
			}
		})
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d seed messages failed, first: %v", n, need, firstErr.Load())
	}
	// Webhooks are delivered into the mailbox asynchronously: wait for them.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		n, err := count()
		if err != nil {
			return err
		}
		if n >= cfg.seed {
			fmt.Fprintf(stderr, "seed: %s had %d, now %d messages (%d added by %s in %.1fs)\n",
				cfg.mailbox, have, n, need, map[bool]string{true: "webhook", false: "APPEND"}[poster != nil], time.Since(begin).Seconds())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s holds %d messages after 5 minutes, want %d", cfg.mailbox, n, cfg.seed)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// appendOne APPENDs a message shaped like wabridge's rendering of a
// customer's text (for servers fed by APPEND: Dovecot).
func appendOne(c *imapclient.Client, cfg imapConfig, kind string, i int64) error {
	from := strconv.FormatInt(4915200000000+i%1000, 10)
	text := fmt.Sprintf("Hello, this is load message %s %d: where is my order?", kind, i)
	msg := fmt.Sprintf("From: \"Load Customer %d\" <%s@wa.localhost>\r\nTo: <%s@wa.localhost>\r\nSubject: WhatsApp from Load Customer %d: %s\r\nDate: %s\r\nMessage-ID: <wamid.wabload.%d.%s.%d@wa.localhost>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n",
		i%1000, from, cfg.user, i%1000, text, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), kind, i, text)
	cmd := c.Append(cfg.mailbox, int64(len(msg)), nil)
	if _, err := cmd.Write([]byte(msg)); err != nil {
		cmd.Close()
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// imapSession is one command-load client, reconnected when dropped.
type imapSession struct {
	c    *imapclient.Client
	last []imap.UID // the newest UIDs from its last UID SEARCH
	reg  *registry
}

// registry is every connection opened, to cut them all off at once.
type registry struct {
	mu  sync.Mutex
	all []*imapclient.Client
}

func (r *registry) add(c *imapclient.Client) {
	r.mu.Lock()
	r.all = append(r.all, c)
	r.mu.Unlock()
}

func (r *registry) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.all {
		c.Close()
	}
}

func (s *imapSession) connect(cfg imapConfig) error {
	c, _, err := dialIMAP(cfg, cfg.mailbox, nil)
	if err != nil {
		return err
	}
	s.reg.add(c)
	s.c = c
	if err := s.search(cfg); err != nil {
		c.Close()
		s.c = nil
		return err
	}
	return nil
}

func (s *imapSession) search(cfg imapConfig) error {
	data, err := s.c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		return err
	}
	uids := data.AllUIDs()
	s.last = append(s.last[:0], uids[max(0, len(uids)-cfg.fetchLast):]...)
	return nil
}

// do runs one command of the mix.
func (s *imapSession) do(cfg imapConfig, command string) error {
	switch command {
	case "noop":
		return s.c.Noop().Wait()
	case "search":
		return s.search(cfg)
	case "fetch":
		if len(s.last) == 0 {
			return s.c.Noop().Wait()
		}
		_, err := s.c.Fetch(imap.UIDSetNum(s.last...), &imap.FetchOptions{
			Flags: true,
			BodySection: []*imap.FetchItemBodySection{{
				Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"SUBJECT", "FROM"}, Peek: true,
			}},
		}).Collect()
		return err
	case "status":
		_, err := s.c.Status(cfg.mailbox, &imap.StatusOptions{NumMessages: true, UIDNext: true, NumUnseen: true}).Wait()
		return err
	}
	return fmt.Errorf("unknown command %q", command)
}

// pushProbe matches each new message to the EXISTS pushes announcing it.
type pushProbe struct {
	rec  *load.Recorder
	mu   sync.Mutex
	base uint32      // messages in the mailbox when the idlers selected
	sent []time.Time // when message base+1+k was sent
	seen []uint32    // per idler: the highest EXISTS it was told
	got  int64
}

func (p *pushProbe) exists(idler int, n uint32) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := p.seen[idler] + 1; k <= n; k++ {
		if idx := int(k) - int(p.base) - 1; idx >= 0 && idx < len(p.sent) {
			p.rec.Observe(now.Sub(p.sent[idx]))
			p.got++
		}
	}
	p.seen[idler] = max(p.seen[idler], n)
}

// idler is one IDLE probe client.
type idler struct {
	c    *imapclient.Client
	idle *imapclient.IdleCommand
}

func runIMAP(ctx context.Context, cfg imapConfig, poster *webhookPoster) (load.Report, error) {
	rep := load.Report{
		Scenario: "imap",
		Settings: map[string]string{
			"addr":         cfg.addr,
			"clients":      strconv.Itoa(cfg.clients),
			"mix":          strings.Join(cfg.mix, ","),
			"rate":         strconv.FormatFloat(cfg.rate, 'f', -1, 64),
			"loop":         loopName(cfg.rate),
			"mailbox":      cfg.mailbox,
			"seed":         strconv.Itoa(cfg.seed),
			"idle_clients": strconv.Itoa(cfg.idleClients),
			"push_rate":    strconv.FormatFloat(cfg.pushRate, 'f', -1, 64),
			"push_via":     cfg.pushVia,
		},
		Latency: map[string]load.Summary{},
	}

	// The command-load clients.
	connectRec := load.NewRecorder()
	reg := &registry{}
	defer reg.closeAll()
	sessions := make([]*imapSession, cfg.clients)
	var connErr atomic.Value
	parallel(cfg.clients, cfg.dialParallel, func(i int) {
		t := time.Now()
		s := &imapSession{reg: reg}
		if err := s.connect(cfg); err != nil {
			connectRec.Error(imapKind(err))
			connErr.CompareAndSwap(nil, err.Error())
		} else {
			connectRec.Observe(time.Since(t))
		}
		sessions[i] = s
	})
	if e := connErr.Load(); e != nil {
		return rep, fmt.Errorf("connecting clients: %v", e)
	}
	if cfg.clients > 0 {
		rep.Latency["connect_login_select"] = connectRec.Summary()
	}

	// The IDLE probe.
	probing := cfg.idleClients > 0 && cfg.pushRate > 0
	probe := &pushProbe{rec: load.NewRecorder()}
	var idlers []*idler
	if probing {
		probe.seen = make([]uint32, cfg.idleClients)
		for i := range cfg.idleClients {
			h := &imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					probe.exists(i, *d.NumMessages)
				}
			}}
			c, sel, err := dialIMAP(cfg, cfg.mailbox, h)
			if err != nil {
				return rep, fmt.Errorf("idle client: %w", err)
			}
			probe.mu.Lock()
			probe.seen[i] = sel.NumMessages
			probe.base = max(probe.base, sel.NumMessages)
			probe.mu.Unlock()
			idle, err := c.Idle()
			if err != nil {
				c.Close()
				return rep, fmt.Errorf("IDLE: %w", err)
			}
			idlers = append(idlers, &idler{c: c, idle: idle})
		}
		defer func() {
			for _, d := range idlers {
				d.c.Close()
			}
		}()
	}

	meter := procMeter{pid: cfg.pid, tree: cfg.pidTree}
	meter.Start()
	runCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()

	// The pusher: a new message every 1/push-rate seconds, one at a time so
	// that message k is the k-th EXISTS.
	pushDone := make(chan struct{})
	pushRec := load.NewRecorder() // errors sending the pushes
	if probing {
		var appender *imapclient.Client
		if poster == nil {
			c, _, err := dialIMAP(cfg, "", nil)
			if err != nil {
				return rep, fmt.Errorf("append client: %w", err)
			}
			appender = c
			defer c.Close()
		}
		go func() {
			defer close(pushDone)
			begin := time.Now()
			for k := int64(0); ; k++ {
				due := begin.Add(time.Duration(float64(k) / cfg.pushRate * float64(time.Second)))
				select {
				case <-runCtx.Done():
					return
				case <-time.After(time.Until(due)):
				}
				probe.mu.Lock()
				probe.sent = append(probe.sent, time.Now())
				probe.mu.Unlock()
				t := time.Now()
				var err error
				if poster != nil {
					err = poster.post(ctx, "push", k)
				} else {
					err = appendOne(appender, cfg, "push", k)
				}
				if err != nil {
					pushRec.Error(imapKind(err))
				} else {
					pushRec.Observe(time.Since(t))
				}
			}
		}()
	} else {
		close(pushDone)
	}

	// The command load.
	var (
		ops     int64
		elapsed time.Duration
		cmdRecs = map[string]*load.Recorder{}
		overall = load.NewRecorder()
	)
	if cfg.clients > 0 {
		for _, c := range cfg.mix {
			cmdRecs[c] = load.NewRecorder()
		}
		pool := make(chan *imapSession, len(sessions))
		for _, s := range sessions {
			pool <- s
		}
		// A command stuck past the run and its grace is cut off by closing
		// the clients, so Run returns.
		stop := make(chan struct{})
		go func() {
			select {
			case <-stop:
			case <-time.After(cfg.duration + cfg.timeout):
				reg.closeAll()
			}
		}()
		op := func(ctx context.Context, i int64, start time.Time) string {
			s := <-pool
			defer func() { pool <- s }()
			if s.c == nil {
				if err := s.connect(cfg); err != nil {
					return imapKind(err)
				}
			}
			command := cfg.mix[i%int64(len(cfg.mix))]
			if err := s.do(cfg, command); err != nil {
				kind := imapKind(err)
				if !strings.HasPrefix(kind, "imap_") {
					s.c.Close()
					s.c = nil
				}
				if ctx.Err() == nil {
					cmdRecs[command].Error(kind)
				}
				return kind
			}
			cmdRecs[command].Observe(time.Since(start))
			return ""
		}
		_, elapsed = load.Run(runCtx, load.RunConfig{Rate: cfg.rate, Concurrency: cfg.clients, Duration: cfg.duration}, op, overall)
		close(stop)
		s := overall.Summary()
		ops = s.Count
		rep.Latency["all"] = s
		for c, r := range cmdRecs {
			rep.Latency[c] = r.Summary()
		}
	} else {
		<-runCtx.Done()
		elapsed = cfg.duration
	}
	<-pushDone

	if probing {
		// Wait (a little) for the last pushes.
		probe.mu.Lock()
		want := int64(len(probe.sent)) * int64(cfg.idleClients)
		probe.mu.Unlock()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			probe.mu.Lock()
			got := probe.got
			probe.mu.Unlock()
			if got >= want {
				break
			}
		}
		probe.mu.Lock()
		missing := want - probe.got
		probe.mu.Unlock()
		for range missing {
			probe.rec.Error("no_exists_within_5s")
		}
		rep.Latency["idle_push"] = probe.rec.Summary()
		rep.Latency["push_send"] = pushRec.Summary()
		rep.Notes = append(rep.Notes, fmt.Sprintf("idle_push: %s sent → \"* N EXISTS\" on each of %d idling clients; push_send: the %s itself",
			map[bool]string{true: "webhook POST", false: "APPEND"}[poster != nil], cfg.idleClients,
			map[bool]string{true: "POST until its 200", false: "APPEND until its OK"}[poster != nil]))
	}
	if cfg.clients == 0 {
		ops = probe.rec.Summary().Count
	}
	rep.Ops = ops
	finishReport(&rep, elapsed)
	meter.Finish(&rep) // while every client is still connected
	for _, d := range idlers {
		d.idle.Close()
	}
	return rep, nil
}

// runIdleOnly opens cfg.clients connections that LOGIN, SELECT and IDLE,
// holds them for cfg.duration and reports how many are held and the
// server's memory with them.
func runIdleOnly(ctx context.Context, cfg imapConfig, stderr io.Writer) (load.Report, error) {
	rep := load.Report{
		Scenario: "imap_idle",
		Settings: map[string]string{
			"addr":    cfg.addr,
			"clients": strconv.Itoa(cfg.clients),
			"mailbox": cfg.mailbox,
			"hold":    cfg.duration.String(),
		},
		Latency: map[string]load.Summary{},
	}
	var before treeSample
	if cfg.pid > 0 {
		before, _ = sampleTree(cfg.pid)
		if !cfg.pidTree {
			p, _ := load.ReadProc(cfg.pid)
			before = treeSample{Procs: 1, RSS: p.RSS}
			before.PSS, _ = readPSS(cfg.pid)
		}
	}
	meter := procMeter{pid: cfg.pid, tree: cfg.pidTree}
	meter.Start()
	rec := load.NewRecorder()
	clients := make([]*imapclient.Client, cfg.clients)
	begin := time.Now()
	var opened atomic.Int64
	progress := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-progress:
				return
			case <-t.C:
				fmt.Fprintf(stderr, "idle-only: %d of %d connections idling\n", opened.Load(), cfg.clients)
			}
		}
	}()
	parallel(cfg.clients, cfg.dialParallel, func(i int) {
		t := time.Now()
		c, _, err := dialIMAP(cfg, cfg.mailbox, nil)
		if err == nil {
			if _, err = c.Idle(); err != nil {
				c.Close()
			}
		}
		if err != nil {
			rec.Error(imapKind(err))
			return
		}
		rec.Observe(time.Since(t))
		clients[i] = c
		opened.Add(1)
	})
	close(progress)
	setup := time.Since(begin)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	select {
	case <-ctx.Done():
	case <-time.After(cfg.duration):
	}
	held := 0
	for _, c := range clients {
		if c == nil {
			continue
		}
		select {
		case <-c.Closed():
		default:
			held++
		}
	}
	rep.Ops = int64(held)
	rep.Latency["connect_login_select_idle"] = rec.Summary()
	rep.Settings["held"] = strconv.Itoa(held)
	rep.Settings["setup_s"] = strconv.FormatFloat(setup.Seconds(), 'f', 2, 64)
	finishReport(&rep, setup)
	rep.Throughput = 0
	if setup > 0 {
		rep.Throughput = float64(opened.Load()) / setup.Seconds() // connections set up per second
	}
	meter.Finish(&rep)
	if cfg.pid > 0 && held > 0 {
		var after treeSample
		if cfg.pidTree {
			after, _ = sampleTree(cfg.pid)
		} else {
			after.RSS = rep.RSS
			after.PSS, _ = readPSS(cfg.pid)
		}
		rep.Settings["rss_before_bytes"] = strconv.FormatInt(before.RSS, 10)
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d of %d connections held idle after %s; server rss %.1f → %.1f MiB (%.1f KiB per connection), pss %.1f → %.1f MiB (%.1f KiB per connection)",
			held, cfg.clients, cfg.duration, float64(before.RSS)/(1<<20), float64(after.RSS)/(1<<20),
			float64(after.RSS-before.RSS)/1024/float64(held),
			float64(before.PSS)/(1<<20), float64(after.PSS)/(1<<20), float64(after.PSS-before.PSS)/1024/float64(held)))
	}
	return rep, nil
}
