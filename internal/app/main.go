package app

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/cli"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/logging"
	"github.com/reactivation/reactivation/internal/redact"
)

// Main is the whole of a server binary's main (api, worker, scheduler):
// --help, -h, help and --version answer on stdout with exit 0 and a stray
// argument or flag exits 2 (see internal/cli); otherwise it handles SIGINT
// and SIGTERM, loads and validates the configuration, opens the
// dependencies, runs run and exits. Any error stops the process with one
// line on stderr and a non-zero exit code. summary is the line --help
// shows first.
func Main(process, summary string, run func(ctx context.Context, d *App) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := cli.NewRoot(process, summary, "It takes no arguments: every setting comes from the environment\n"+
		"(README, Configuration). Variables and their defaults:\n\n"+EnvironmentHelp())
	root.RunE = func(cmd *cobra.Command, _ []string) error { return Start(cmd.Context(), process, run) }
	code := cli.Execute(ctx, root, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// EnvironmentHelp lists every configuration variable with its default, one
// a line, for --help texts.
func EnvironmentHelp() string {
	var b strings.Builder
	t := reflect.TypeOf(config.Config{})
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("env")
		if name == "" || name == "-" {
			continue
		}
		def, ok := f.Tag.Lookup("envDefault")
		if !ok {
			def = "(empty)"
		}
		// A default URL's password (the development one) is a password all
		// the same: help shows it masked, like every other output.
		fmt.Fprintf(&b, "  %-24s %s\n", name, redact.URL(def))
	}
	return b.String()
}

// Start loads the configuration, opens the dependencies and runs run with
// them, closing them afterwards. run's error is logged (a server's stderr
// is its log) and returned.
func Start(ctx context.Context, process string, run func(ctx context.Context, d *App) error) error {
	return start(ctx, process, run, true)
}

// Command is Start for a command of the CLI: run's error is returned
// without a log line, for the command to print as its one line.
func Command(ctx context.Context, run func(ctx context.Context, d *App) error) error {
	return start(ctx, "reactivation", run, false)
}

// start is Start for a server process (server: run's error is logged,
// PROFILE_DIR is honoured) and Command for a CLI command.
func start(ctx context.Context, process string, run func(ctx context.Context, d *App) error, server bool) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.LogLevel, process)
	if err != nil {
		return fmt.Errorf("config: LOG_LEVEL: %w", err)
	}
	defer log.Sync() //nolint:errcheck
	if cfg.ProfileDir != "" && server {
		stop, err := startProfile(cfg.ProfileDir, process)
		if err != nil {
			return fmt.Errorf("config: PROFILE_DIR: %w", err)
		}
		defer stop()
	}
	d, err := Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := run(ctx, d); err != nil {
		if server {
			log.Error("stopped with an error", zap.Error(err))
		}
		return err
	}
	return nil
}

// startProfile starts a CPU profile of this process into dir, named after the
// process and its pid; stop ends it and writes a heap profile beside it
// (go tool pprof reads both). For measuring a server under load, as the
// bench does: the profiles hold stacks and sizes, never data.
func startProfile(dir, process string) (stop func(), err error) {
	base := filepath.Join(dir, fmt.Sprintf("%s-%d", process, os.Getpid()))
	f, err := os.Create(base + ".cpu.prof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		if h, err := os.Create(base + ".heap.prof"); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(h, 0)
			h.Close()
		}
	}, nil
}
