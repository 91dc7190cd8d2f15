// Command wabload is wabridge's load tool: it drives a running daemon
// through one front door at a time and prints throughput, latency
// percentiles (open loop when a rate is set), errors, its own CPU time per
// operation (the load client shares the cores), and — given the daemon's
// pid — the daemon's CPU time per operation and peak RSS.
//
//	wabload webhook [flags]   signed Meta status/message webhooks, or Twilio form webhooks
//	wabload smpp [flags]      transceiver binds submitting submit_sm, waiting for every receipt
//	wabload smpp-idle [flags] idle transceiver binds held open; the server's RSS per bind
//	wabload smtp [flags]      SMTP sessions with AUTH submitting messages of a given size
//	wabload imap [flags]      IMAP clients (LOGIN/SELECT/FETCH) and webhook → IDLE push latency
//	wabload noop [flags]      a fasthttp server that answers 200 to everything (the HTTP ceiling)
//	wabload seed [flags]      queue messages straight into a stopped daemon's database
//	wabload restart [flags]   start the daemon on a full queue: time to accept and to send again
//	wabload pacing [flags]    send rate per business number against [outbox] number_rate
//	wabload fsync [flags]     the disk alone: latency of an append made durable (write + fsync)
//
// Run "wabload SCENARIO -h" for a scenario's flags. BENCHMARKS.md has the
// commands and results; bench/run.sh runs every scenario with its peer.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/wabridge/wabridge/internal/load/diskload"
	"github.com/wabridge/wabridge/internal/load/mailload"
	"github.com/wabridge/wabridge/internal/load/queueload"
	"github.com/wabridge/wabridge/internal/load/smppload"
	"github.com/wabridge/wabridge/internal/load/webhookload"
)

const usage = `usage: wabload SCENARIO [flags]

scenarios:
  webhook   signed webhooks (Meta status or message, Twilio) at a rate or flat out
  smpp      submit_sm over transceiver binds, end to end to the final receipt
  smpp-idle idle SMPP binds held open: the server's memory per connection
  smtp      authenticated SMTP submissions
  imap      IMAP command load and webhook → IDLE push latency
  noop      an HTTP server that does nothing (the ceiling for webhook runs)
  seed      queue messages in a stopped daemon's database
  restart   start the daemon on a full queue: time until it accepts and sends
  pacing    achieved send rate per business number against the configured limit
  fsync     the disk alone: write + fsync latency, the floor under every commit
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	rest := args[1:]
	switch args[0] {
	case "webhook":
		return webhookload.Main(rest, stdout, stderr)
	case "noop":
		return webhookload.NoopMain(rest, stdout, stderr)
	case "smpp":
		return smppload.Main(rest, stdout, stderr)
	case "smpp-idle":
		return smppload.IdleMain(rest, stdout, stderr)
	case "smtp":
		return mailload.SMTPMain(rest, stdout, stderr)
	case "imap":
		return mailload.IMAPMain(rest, stdout, stderr)
	case "seed":
		return queueload.SeedMain(rest, stdout, stderr)
	case "restart":
		return queueload.RestartMain(rest, stdout, stderr)
	case "pacing":
		return queueload.PacingMain(rest, stdout, stderr)
	case "fsync":
		return diskload.Main(rest, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "wabload: unknown scenario %q\n%s", args[0], usage)
	return 2
}
