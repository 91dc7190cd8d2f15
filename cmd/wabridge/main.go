// Command wabridge runs the WhatsApp bridge daemon.
//
//	wabridge serve [-config FILE]          run the daemon (embedded defaults without -config)
//	wabridge check-config -config FILE     validate a config file; exit 1 listing every problem
//	wabridge sandbox [-config FILE]        run only the simulators: WhatsApp Cloud API, or Twilio when it is used
//	wabridge version                       print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only on [daemon] pprof_listen
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/wabridge/wabridge/internal/app"
	"github.com/wabridge/wabridge/internal/config"
	"github.com/wabridge/wabridge/internal/sandbox"
	"github.com/wabridge/wabridge/internal/twiliosim"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: wabridge <command> [flags]

commands:
  serve [-config FILE]          run the daemon (embedded defaults: SQLite + WhatsApp sandbox)
  check-config -config FILE     validate a config file; exit 1 listing every problem
  sandbox [-config FILE]        run only the simulators (WhatsApp Cloud API; Twilio when used)
  version                       print the version
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(rest, stderr)
	case "check-config":
		return checkConfig(rest, stdout, stderr)
	case "sandbox":
		return runSandbox(rest, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "wabridge", versionString())
		return 0
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "wabridge: unknown command %q\n", cmd)
	usage(stderr)
	return 2
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// loadConfig reads -config, or returns the embedded defaults when path is "".
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// setup parses a command's -config flag and loads the config and logger;
// code is non-zero when the command must exit with it.
func setup(name, usage string, args []string, stderr io.Writer) (cfg *config.Config, log *slog.Logger, code int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", usage)
	if err := fs.Parse(args); err != nil {
		return nil, nil, 2
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, nil, 1
	}
	return cfg, newLogger(cfg, stderr), 0
}

func serve(args []string, stderr io.Writer) int {
	cfg, log, code := setup("serve", "config file (default: embedded defaults)", args, stderr)
	if code != 0 {
		return code
	}
	log.Info("scheduler", "gomaxprocs", extraProc(os.Getenv), "cores", runtime.NumCPU())
	a, err := app.New(cfg, log)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := a.Start(ctx); err != nil {
		if ctx.Err() != nil {
			// Asked to stop while starting: nothing was accepted yet (an
			// interrupted migration rolls back); a clean stop.
			log.Info("stopped while starting", "err", err)
			sctx, cancel := context.WithTimeout(context.Background(), cfg.Daemon.ShutdownTimeout.D())
			defer cancel()
			_ = a.Stop(sctx)
			return 0
		}
		log.Error("start", "err", err)
		return 1
	}
	if f := a.APITokenFile(); f != "" {
		log.Info("REST API token file", "file", f)
	}
	if addr := cfg.Daemon.PprofListen; addr != "" {
		go func() {
			// net/http/pprof registers on the default mux; nothing else uses it.
			log.Info("pprof listening", "addr", addr)
			if err := http.ListenAndServe(addr, nil); err != nil {
				log.Error("pprof", "err", err)
			}
		}()
	}
	<-ctx.Done()
	stop()
	log.Info("shutting down", "timeout", cfg.Daemon.ShutdownTimeout.D())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Daemon.ShutdownTimeout.D())
	defer cancel()
	if err := a.Stop(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

func checkConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file to check")
	verbose := fs.Bool("v", false, "print the effective configuration (secrets redacted)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "check-config: -config FILE is required")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		var probs config.Errors
		if errors.As(err, &probs) {
			fmt.Fprintf(stderr, "%s: %d problem(s)\n", *path, len(probs))
		}
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *verbose {
		fmt.Fprint(stdout, cfg.String())
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	return 0
}

func runSandbox(args []string, stderr io.Writer) int {
	cfg, log, code := setup("sandbox", "config file: its [sandbox], [whatsapp] and [twilio] sections (default: embedded defaults)", args, stderr)
	if code != 0 {
		return code
	}
	// closer is a running simulator.
	type closer interface{ Close(context.Context) error }
	var running []closer
	if cfg.WhatsApp.Provider != "twilio" {
		sb, err := sandbox.New(app.SandboxConfig(cfg), log.With("component", "sandbox"))
		if err == nil {
			err = sb.Start()
		}
		if err != nil {
			log.Error("sandbox", "err", err)
			return 1
		}
		running = append(running, sb)
		log.Info("whatsapp sandbox listening", "url", sb.URL(), "webhook_url", app.SandboxConfig(cfg).WebhookURL)
	}
	if cfg.UsesTwilio() {
		tc := app.TwilioSimConfig(cfg, cfg.SandboxTwilioWebhookURL())
		sim, err := twiliosim.New(tc, log.With("component", "twilio-sandbox"))
		if err == nil {
			err = sim.Start()
		}
		if err != nil {
			log.Error("twilio sandbox", "err", err)
			return 1
		}
		running = append(running, sim)
		log.Info("twilio sandbox listening", "url", sim.URL(), "webhook_url", tc.WebhookURL)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Daemon.ShutdownTimeout.D())
	defer cancel()
	failed := false
	for _, r := range running {
		if err := r.Close(sctx); err != nil {
			log.Error("sandbox shutdown", "err", err)
			failed = true
		}
	}
	if failed {
		return 1
	}
	return 0
}
