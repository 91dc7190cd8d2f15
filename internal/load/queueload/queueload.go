// Package queueload holds wabload's queue scenarios: "seed" fills a
// stopped daemon's database with queued template messages, "restart"
// starts the daemon on it and measures how long until it accepts requests
// again and until the first queued message reaches WhatsApp (the
// sandbox), and "pacing" measures the send rate per business number
// against the configured limit.
package queueload

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/config"
	"github.com/wabridge/wabridge/internal/load"
	"github.com/wabridge/wabridge/internal/store"
)

// SeedMain is "wabload seed": n queued template messages (distinct
// customers) written straight into the database of a stopped daemon, in
// transactions of -batch messages.
func SeedMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wabload seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "wabridge.db", "the daemon's SQLite file (the daemon must be stopped)")
	n := fs.Int("n", 1000000, "messages to queue")
	batch := fs.Int("batch", 10000, "messages per transaction")
	business := fs.String("business", config.SandboxBusinessNumber, "business number")
	template := fs.String("template", "order_update", "approved template to send")
	language := fs.String("language", "en_US", "its language")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, store.SQLiteConfig{Path: *db})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer st.Close()
	start := time.Now()
	for done := 0; done < *n; {
		now := time.Now()
		ms := make([]*bridge.Message, 0, *batch)
		for i := done; i < min(*n, done+*batch); i++ {
			ms = append(ms, &bridge.Message{ID: bridge.NewID(now), Direction: bridge.Outbound, Business: *business,
				Customer: bridge.Customer{Phone: "+49152" + strconv.Itoa(10000000+i)}, Kind: bridge.KindTemplate,
				Content: bridge.Content{Template: &bridge.Template{Name: *template, Language: *language,
					Params: []string{strconv.Itoa(i), "Monday"}}},
				Channel: bridge.ChannelWhatsApp, Status: bridge.StatusQueued, Origin: "api", CreatedAt: now, UpdatedAt: now})
		}
		if err := st.CreateOutboundBatch(ctx, ms); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		done += len(ms)
	}
	fmt.Fprintf(stdout, "queued %d messages in %.1fs\n", *n, time.Since(start).Seconds())
	return 0
}

// RestartMain is "wabload restart": start "BIN serve -config FILE" on a
// database full of queued messages and measure the time to the first
// 200 from /readyz and from POST /api/v1/messages (accepting), and to the
// first send the sandbox receives (sending). The daemon is left running
// for -hold, then stopped with SIGTERM.
func RestartMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wabload restart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "wabridge", "the wabridge binary")
	cfg := fs.String("config", "wabridge.toml", "its config file")
	base := fs.String("api", "http://127.0.0.1:8080", "the daemon's HTTP base URL")
	token := fs.String("token", "", "API token")
	sandbox := fs.String("sandbox", "http://127.0.0.1:8081", "the sandbox's base URL")
	hold := fs.Duration("hold", 5*time.Second, "keep the daemon running this long after it sends, then count what it sent")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd := exec.Command(*bin, "serve", "-config", *cfg)
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	until := func(what string, ok func() bool) (time.Duration, bool) {
		for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			if ok() {
				return time.Since(start), true
			}
		}
		fmt.Fprintf(stderr, "wabload restart: %s never happened\n", what)
		return 0, false
	}
	ready, ok1 := until("ready", func() bool {
		resp, err := client.Get(*base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	accepting, ok2 := until("accepting", func() bool {
		body := `{"to":"+4915300000001","template":{"name":"hello_world","language":"en_US"}}`
		req, _ := http.NewRequest("POST", *base+"/api/v1/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+*token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusAccepted
	})
	sentCount := func() int64 {
		n, _ := load.SandboxSends(client, *sandbox)
		return n
	}
	sending, ok3 := until("sending", func() bool { return sentCount() > 0 })
	if !ok1 || !ok2 || !ok3 {
		return 1
	}
	t0 := time.Now()
	c0 := sentCount()
	time.Sleep(*hold)
	c1 := sentCount()
	rate := float64(c1-c0) / time.Since(t0).Seconds()
	r := load.Report{Scenario: "restart with a full queue", Ops: c1, Elapsed: time.Since(start),
		Settings: map[string]string{"config": *cfg}, Throughput: rate,
		Notes: []string{fmt.Sprintf("ready %.3fs, accepting %.3fs, first send %.3fs after exec; then %.0f sends/s for %s",
			ready.Seconds(), accepting.Seconds(), sending.Seconds(), rate, *hold)},
		Latency: map[string]load.Summary{
			"ready":     {Count: 1, P50: ready, P99: ready, P999: ready, Max: ready, Mean: ready},
			"accepting": {Count: 1, P50: accepting, P99: accepting, P999: accepting, Max: accepting, Mean: accepting},
			"sending":   {Count: 1, P50: sending, P99: sending, P999: sending, Max: sending, Mean: sending},
		}}
	d := &load.Daemon{PID: cmd.Process.Pid}
	d.Finish(&r)
	r.Print(stdout)
	return 0
}

// PacingMain is "wabload pacing": submit template messages over REST for
// each business number at -submit-rate (above the limit), then read from
// the sandbox when each reached it and report the achieved send rate per
// number over the steady part (first and last second left out), its
// deviation from -limit, and any 130429 (rate limit) failures.
func PacingMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wabload pacing", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("api", "http://127.0.0.1:8080", "the daemon's HTTP base URL")
	token := fs.String("token", "", "API token")
	sandbox := fs.String("sandbox", "http://127.0.0.1:8081", "the sandbox's base URL")
	numbers := fs.String("numbers", config.SandboxBusinessNumber, "business numbers, comma separated")
	limit := fs.Float64("limit", 80, "the configured [outbox] number_rate")
	submitRate := fs.Float64("submit-rate", 0, "submissions per second per number (default 1.5 × limit)")
	duration := fs.Duration("duration", 10*time.Second, "how long to submit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *submitRate <= 0 {
		*submitRate = 1.5 * *limit
	}
	nums := strings.Split(*numbers, ",")
	client := &http.Client{Timeout: 30 * time.Second}
	rec := load.NewRecorder()
	var seq atomic.Int64
	var wg sync.WaitGroup
	for ni, num := range nums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := func(ctx context.Context, i int64, _ time.Time) string {
				k := seq.Add(1)
				body := fmt.Sprintf(`{"from":%q,"to":"+4915%d%07d","template":{"name":"hello_world","language":"en_US"}}`, num, 4+ni, k%10000000)
				req, _ := http.NewRequestWithContext(ctx, "POST", *base+"/api/v1/messages", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+*token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					return "transport"
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					return "http_" + strconv.Itoa(resp.StatusCode)
				}
				return ""
			}
			load.Run(context.Background(), load.RunConfig{Rate: *submitRate, Concurrency: 32, Duration: *duration}, op, rec)
		}()
	}
	wg.Wait()
	submitted := rec.Summary()
	// Wait until the sandbox has everything (the queue drains at the limit).
	expect := submitted.Count
	var msgs []sandboxMsg
	for deadline := time.Now().Add(*duration*3 + 60*time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		var err error
		if msgs, err = sandboxOutbound(client, *sandbox); err == nil && int64(len(msgs)) >= expect {
			break
		}
	}
	r := load.Report{Scenario: "pacing", Ops: int64(len(msgs)), Settings: map[string]string{
		"limit": strconv.FormatFloat(*limit, 'f', -1, 64) + "/s per number", "submit_rate": strconv.FormatFloat(*submitRate, 'f', -1, 64) + "/s per number",
		"numbers": *numbers, "submitted": strconv.FormatInt(expect, 10)}, Latency: map[string]load.Summary{"submit": submitted}}
	worst := 0.0
	for _, num := range nums {
		var at []time.Time
		rateLimited := 0
		for _, m := range msgs {
			if m.From != num {
				continue
			}
			at = append(at, m.ReceivedAt)
			if m.ErrorCode == 130429 {
				rateLimited++
			}
		}
		got, busiest, ok := sendRate(at)
		if !ok {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: %d sends, too few (or all at one instant) to measure a rate", num, len(at)))
			continue
		}
		dev := (got - *limit) / *limit * 100
		worst = max(worst, abs(dev))
		r.Notes = append(r.Notes, fmt.Sprintf("%s: %d sends, %.1f/s over the middle 80%% (%+.2f%% of the limit), at most %d in any one second, %d rate-limit errors (130429)",
			num, len(at), got, dev, busiest, rateLimited))
	}
	r.Throughput = float64(len(msgs)) / (*duration).Seconds()
	r.Notes = append(r.Notes, fmt.Sprintf("worst deviation %.2f%%", worst))
	r.Print(stdout)
	return 0
}

// sendRate sorts one number's send times and measures them: rate is sends
// per second over the steady part, the middle 80 % of the sends by count
// (so neither the start nor the drain at the end counts), and busiest the
// most sends in any one second (a sliding window). ok is false for fewer
// than three sends or no time between the steady part's first and last.
func sendRate(at []time.Time) (rate float64, busiest int, ok bool) {
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	if len(at) < 3 {
		return 0, len(at), false
	}
	lo, hi := len(at)/10, len(at)-1-len(at)/10
	span := at[hi].Sub(at[lo])
	j := 0
	for i := range at {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		busiest = max(busiest, i-j+1)
	}
	if span <= 0 {
		return 0, busiest, false
	}
	return float64(hi-lo) / span.Seconds(), busiest, true
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

type sandboxMsg struct {
	From       string    `json:"from"`
	ErrorCode  int       `json:"error_code"`
	ReceivedAt time.Time `json:"received_at"`
}

func sandboxOutbound(c *http.Client, sandbox string) ([]sandboxMsg, error) {
	resp, err := c.Get(sandbox + "/sandbox/v1/messages?direction=outbound")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Messages []sandboxMsg `json:"messages"`
	}
	return out.Messages, json.NewDecoder(resp.Body).Decode(&out)
}
