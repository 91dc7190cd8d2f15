// Package smppload is the "wabload smpp" scenario: B transceiver binds to
// wabridge's SMPP server (or any SMSC), each keeping at most W submit_sm in
// flight (a sliding window), submitting to distinct recipients at a rate
// (open loop) or flat out, answering every deliver_sm, and matching each
// delivery receipt to the message_id of its submit_sm_resp.
//
// Two latency series: submit_sm_resp (submit → response, from the due time
// in open loop) and end_to_end (submit → final receipt; finals other than
// DELIVRD count as errors by their stat). Throughput is messages with a
// final receipt per second, from the first submit to the last final receipt.
// ESME_RTHROTTLED and ESME_RMSGQFUL are counted and retried after a pause,
// as an ESME does. Receipts still missing after -receipt-timeout fail the
// run (exit 1).
//
// The PDU codec is written here (a few fixed PDUs, allocation-light); each
// bind has one reader and one writer goroutine that batches writes in a
// bufio.Writer and flushes when its queue is empty. -fake-smsc runs against
// an in-process SMSC that answers at once: the client's own ceiling.
package smppload

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wabridge/wabridge/internal/load"
)

type config struct {
	addr, systemID, password string
	binds, window            int
	rate                     float64
	duration                 time.Duration
	count                    int64
	from, toBase, text       string
	registeredDelivery       int
	receiptTimeout           time.Duration
	respTimeout              time.Duration
	throttlePause            time.Duration
	pid                      int
	settings                 map[string]string
}

type settingsFlag map[string]string

func (s settingsFlag) String() string { return fmt.Sprint(map[string]string(s)) }
func (s settingsFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return errors.New("want key=value")
	}
	s[k] = val
	return nil
}

// Main runs "wabload smpp".
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wabload smpp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{settings: map[string]string{}}
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:2775", "SMPP server host:port")
	fs.StringVar(&cfg.systemID, "system-id", "acme", "system_id to bind with")
	fs.StringVar(&cfg.password, "password", "", "password to bind with")
	fs.IntVar(&cfg.binds, "binds", 4, "transceiver binds")
	fs.IntVar(&cfg.window, "window", 10, "submit_sm in flight per bind (sliding window)")
	fs.Float64Var(&cfg.rate, "rate", 0, "messages per second across all binds (open loop); 0: flat out")
	fs.DurationVar(&cfg.duration, "duration", 0, "submit for this long (default 10s when -count is not set)")
	fs.Int64Var(&cfg.count, "count", 0, "stop after this many messages")
	fs.StringVar(&cfg.from, "from", "+15550100001", "source_addr: the business number")
	fs.StringVar(&cfg.toBase, "to-base", "+4915100000000", "recipients are to-base + i (one distinct customer per message)")
	fs.StringVar(&cfg.text, "text", "Your order 12345 has shipped and arrives on Monday.",
		"short_message (GSM, at most 160 characters); the default matches the sandbox's order_update template, so it is delivered outside the 24-hour window")
	fs.IntVar(&cfg.registeredDelivery, "registered-delivery", 1, "registered_delivery (1: a final receipt for every message)")
	fs.DurationVar(&cfg.receiptTimeout, "receipt-timeout", 60*time.Second, "how long to wait for outstanding receipts after the last submit")
	fs.DurationVar(&cfg.respTimeout, "resp-timeout", 30*time.Second, "how long to wait for a submit_sm_resp")
	fs.DurationVar(&cfg.throttlePause, "throttle-pause", 100*time.Millisecond, "pause before resubmitting after ESME_RTHROTTLED / ESME_RMSGQFUL")
	fs.IntVar(&cfg.pid, "pid", 0, "daemon pid: report its CPU time and RSS from /proc")
	fs.Var(settingsFlag(cfg.settings), "settings", "k=v printed in the report (repeatable), e.g. the daemon's durability and pacing")
	fake := fs.Bool("fake-smsc", false, "run against an in-process fake SMSC that answers at once (the client's own ceiling)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wabload smpp: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *fake {
		f := &FakeSMSC{}
		addr, err := f.Start()
		if err != nil {
			fmt.Fprintln(stderr, "wabload smpp:", err)
			return 1
		}
		defer f.Close()
		cfg.addr = addr
		cfg.settings["smsc"] = "in-process fake (answers at once)"
	}
	rep, err := run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(stderr, "wabload smpp:", err)
		if rep.Scenario == "" {
			return 1
		}
	}
	rep.Print(stdout)
	if err != nil {
		return 1
	}
	return 0
}

// run does one load run and returns its report; err is set when the run
// failed (a bind failed, receipts are missing, nothing was accepted).
func run(ctx context.Context, cfg config) (load.Report, error) {
	var rep load.Report
	if cfg.binds < 1 || cfg.window < 1 {
		return rep, errors.New("-binds and -window must be at least 1")
	}
	if len(cfg.text) > 160 {
		return rep, errors.New("-text: at most 160 octets (one short_message)")
	}
	if cfg.duration <= 0 && cfg.count <= 0 {
		cfg.duration = 10 * time.Second
	}
	base, ok := new(big.Int).SetString(strings.TrimPrefix(cfg.toBase, "+"), 10)
	if !ok || !base.IsUint64() {
		return rep, fmt.Errorf("-to-base %q: not a number", cfg.toBase)
	}
	toBase := base.Uint64()
	source := strings.TrimPrefix(cfg.from, "+")
	expectReceipt := cfg.registeredDelivery&0x03 == 1

	tr := newTracker()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bindErr atomic.Pointer[error]
	onDead := func(err error) {
		bindErr.CompareAndSwap(nil, &err)
		cancel()
	}
	conns := make([]*conn, 0, cfg.binds)
	defer func() {
		for _, c := range conns {
			c.unbind()
		}
	}()
	for i := range cfg.binds {
		c, err := dial(cfg.addr, cfg.systemID, cfg.password, tr, onDead)
		if err != nil {
			return rep, fmt.Errorf("bind %d: %w", i+1, err)
		}
		conns = append(conns, c)
	}
	// The window: B×W slots, each owned by one bind; a worker takes a slot
	// for the duration of one message.
	slots := make(chan *slot, cfg.binds*cfg.window)
	for range cfg.window {
		for _, c := range conns {
			t := time.NewTimer(time.Hour)
			t.Stop()
			slots <- &slot{c: c, done: make(chan result, 1), timer: t, buf: make([]byte, 0, 256), dest: make([]byte, 0, 20)}
		}
	}

	sub := load.NewRecorder()
	// In open loop the submit_sm_resp latency runs from the due time; these
	// split it into the client's lateness (due → the worker hands the PDU
	// to its connection's writer) and the rest (→ the reader has the answer).
	lateness, fromSend := load.NewRecorder(), load.NewRecorder()
	var accepted atomic.Int64
	var firstSubmit, lastResp atomic.Int64
	text := []byte(cfg.text)
	// op records into sub itself: the submit_sm_resp latency ends when the
	// reader read the response, not when the worker goroutine woke up.
	op := func(ctx context.Context, i int64, start time.Time) string {
		s := <-slots
		defer func() { slots <- s }()
		s.dest = strconv.AppendUint(s.dest[:0], toBase+uint64(i), 10)
		msg := submit{source: source, dest: s.dest, text: text, registeredDelivery: byte(cfg.registeredDelivery)}
		s.start, s.reg = start, expectReceipt
		firstSubmit.CompareAndSwap(0, time.Now().UnixNano())
		fail := func(kind string) string {
			if ctx.Err() == nil {
				sub.Error(kind)
			}
			return ""
		}
		for {
			sendAt := time.Now()
			r, kind := s.submitOnce(&msg, cfg.respTimeout)
			if kind != "" {
				return fail(kind)
			}
			switch r.status {
			case statusOK:
				sub.Observe(time.Duration(r.at - start.UnixNano()))
				if cfg.rate > 0 {
					lateness.Observe(sendAt.Sub(start))
					fromSend.Observe(time.Duration(r.at - sendAt.UnixNano()))
				}
				accepted.Add(1)
				for {
					l := lastResp.Load()
					if r.at <= l || lastResp.CompareAndSwap(l, r.at) {
						break
					}
				}
				return ""
			case statusThrottled, statusMsgQFull:
				sub.Error(statusName(r.status) + " (retried)")
				t := time.NewTimer(cfg.throttlePause)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return fail(statusName(r.status))
				}
			default:
				return fail(statusName(r.status))
			}
		}
	}

	d := load.Daemon{PID: cfg.pid}
	d.Start()
	n, submitElapsed := load.Run(runCtx, load.RunConfig{
		Rate: cfg.rate, Concurrency: cfg.binds * cfg.window, Duration: cfg.duration, Count: cfg.count,
	}, op, load.NewRecorder())

	// Wait for the outstanding receipts.
	var notes []string
	if expectReceipt {
		deadline := time.Now().Add(cfg.receiptTimeout)
		for tr.matched.Load() < tr.registered.Load() && time.Now().Before(deadline) && bindErr.Load() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	missing, unmatched := tr.missing()
	for range missing {
		tr.e2e.Error("missing_receipt")
	}

	rep = load.Report{
		Scenario: "smpp",
		Settings: map[string]string{
			"addr": cfg.addr, "binds": strconv.Itoa(cfg.binds), "window": strconv.Itoa(cfg.window),
			"rate": rateString(cfg.rate), "registered_delivery": strconv.Itoa(cfg.registeredDelivery),
			"text_octets": strconv.Itoa(len(cfg.text)), "recipients": "distinct (" + cfg.toBase + " + i)",
		},
		Latency: map[string]load.Summary{"submit_sm_resp": sub.Summary()},
	}
	if cfg.rate > 0 {
		rep.Latency["submit_sm_resp_from_send"] = fromSend.Summary()
		rep.Latency["client_lateness"] = lateness.Summary()
	}
	if cfg.count > 0 {
		rep.Settings["count"] = strconv.FormatInt(cfg.count, 10)
	}
	if cfg.duration > 0 {
		rep.Settings["duration"] = cfg.duration.String()
	}
	for k, v := range cfg.settings {
		rep.Settings[k] = v
	}
	first := firstSubmit.Load()
	acc := accepted.Load()
	submitSpan := submitElapsed
	if l := lastResp.Load(); first > 0 && l > first {
		submitSpan = time.Duration(l - first)
	}
	notes = append(notes, fmt.Sprintf("submit: %d ops started, %d accepted in %.2fs: %.0f/s (first submit → last submit_sm_resp)",
		n, acc, submitSpan.Seconds(), float64(acc)/max(submitSpan.Seconds(), 1e-9)))
	if expectReceipt {
		rep.Latency["end_to_end"] = tr.e2e.Summary()
		rep.Ops = tr.matched.Load()
		if l := tr.lastFinal.Load(); first > 0 && l > first {
			rep.Elapsed = time.Duration(l - first)
		}
		notes = append(notes, fmt.Sprintf("receipts: %d final of %d accepted, missing %d, duplicates %d, unmatched %d, intermediate %d",
			rep.Ops, tr.registered.Load(), missing, tr.duplicates.Load(), unmatched, tr.intermediate.Load()))
	} else {
		rep.Ops, rep.Elapsed = acc, submitSpan
	}
	if rep.Elapsed > 0 {
		rep.Throughput = float64(rep.Ops) / rep.Elapsed.Seconds()
	}
	if v := tr.lateResp.Load(); v > 0 {
		notes = append(notes, fmt.Sprintf("%d submit_sm_resp arrived after -resp-timeout", v))
	}
	if v := tr.mo.Load(); v > 0 {
		notes = append(notes, fmt.Sprintf("%d deliver_sm were not receipts (answered, ignored)", v))
	}
	if v := tr.badDeliver.Load(); v > 0 {
		notes = append(notes, fmt.Sprintf("%d deliver_sm did not parse", v))
	}
	d.Finish(&rep)
	rep.Notes = append(rep.Notes, notes...)

	var err error
	switch {
	case bindErr.Load() != nil:
		err = fmt.Errorf("a bind died: %w", *bindErr.Load())
	case missing > 0:
		err = fmt.Errorf("%d receipts missing after %s", missing, cfg.receiptTimeout)
	case acc == 0:
		err = errors.New("no submit_sm accepted")
	}
	if err != nil {
		rep.Notes = append(rep.Notes, "FAIL: "+err.Error())
	}
	return rep, err
}

func rateString(r float64) string {
	if r <= 0 {
		return "flat out"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s"
}
