package smppload

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wabridge/wabridge/internal/load"
)

// IdleMain is "wabload smpp-idle": open -conns transceiver binds, keep
// them idle (answering enquire_link) for -hold, and report how many are
// held and what they cost the server in resident memory (from -pid).
func IdleMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wabload smpp-idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:2775", "SMPP server host:port")
	systemID := fs.String("system-id", "acme", "system_id to bind with")
	password := fs.String("password", "", "password")
	n := fs.Int("conns", 1000, "binds to open")
	parallel := fs.Int("dial-parallel", 64, "binds opened at once")
	hold := fs.Duration("hold", 10*time.Second, "how long to hold them once open")
	pid := fs.Int("pid", 0, "server pid: report its RSS before and after")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var before load.ProcSample
	if *pid > 0 {
		before, _ = load.ReadProc(*pid)
	}
	start := time.Now()
	var (
		mu     sync.Mutex
		conns  []net.Conn
		failed atomic.Int64
		dead   atomic.Int64
		wg     sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sem := make(chan struct{}, max(1, *parallel))
	for range *n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := idleBind(*addr, *systemID, *password)
			if err != nil {
				failed.Add(1)
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { // answer enquire_link until the end
				r := bufio.NewReaderSize(c, 512)
				for ctx.Err() == nil {
					h, _, err := readPDU(r, nil)
					if err != nil {
						if ctx.Err() == nil {
							dead.Add(1)
						}
						return
					}
					if h.id == cmdEnquireLink {
						_, _ = c.Write(appendResp(nil, cmdEnquireLinkResp, 0, h.seq, "", false))
					}
				}
			}()
		}()
	}
	wg.Wait()
	setup := time.Since(start)
	time.Sleep(*hold)
	var after load.ProcSample
	if *pid > 0 {
		after, _ = load.ReadProc(*pid)
	}
	held := int64(len(conns)) - dead.Load()
	r := load.Report{Scenario: "smpp idle binds", Ops: held, Elapsed: time.Since(start),
		Settings: map[string]string{"addr": *addr, "conns": strconv.Itoa(*n), "hold": hold.String()},
		Latency:  map[string]load.Summary{}}
	r.Notes = append(r.Notes, fmt.Sprintf("%d of %d binds held for %s (set up in %.1fs); %d refused, %d dropped while idle",
		held, *n, *hold, setup.Seconds(), failed.Load(), dead.Load()))
	if *pid > 0 && held > 0 {
		r.RSS, r.PeakRSS = after.RSS, after.PeakRSS
		per := float64(after.RSS-before.RSS) / float64(held)
		r.Notes = append(r.Notes, fmt.Sprintf("server rss %.1f MiB → %.1f MiB: %.1f KiB per idle bind",
			float64(before.RSS)/(1<<20), float64(after.RSS)/(1<<20), per/1024))
		r.Throughput = per // bytes per connection, for scripts
	}
	cancel()
	for _, c := range conns {
		_ = c.Close()
	}
	r.Print(stdout)
	if held < int64(*n) {
		return 1
	}
	return 0
}

// idleBind opens one transceiver bind and returns the connection.
func idleBind(addr, systemID, password string) (net.Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := nc.Write(appendBindTRX(nil, 1, systemID, password)); err != nil {
		nc.Close()
		return nil, err
	}
	r := bufio.NewReaderSize(nc, 512)
	for {
		h, _, err := readPDU(r, nil)
		if err != nil {
			nc.Close()
			return nil, err
		}
		if h.id == cmdEnquireLink {
			_, _ = nc.Write(appendResp(nil, cmdEnquireLinkResp, 0, h.seq, "", false))
			continue
		}
		if h.id != cmdBindTRXResp || h.status != statusOK {
			nc.Close()
			return nil, fmt.Errorf("bind: 0x%08x %s", h.id, statusName(h.status))
		}
		break
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, nil
}
