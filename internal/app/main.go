package app

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/logging"
)

// Main is the whole of a binary's main: it handles SIGINT and SIGTERM,
// loads and validates the configuration, opens the dependencies, runs run
// and exits. Any error stops the process with one line on stderr and a
// non-zero exit code.
func Main(process string, run func(ctx context.Context, d *Deps) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Start(ctx, process, run); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", process, err)
		os.Exit(1)
	}
}

// Start loads the configuration, opens the dependencies and runs run with
// them, closing them afterwards.
func Start(ctx context.Context, process string, run func(ctx context.Context, d *Deps) error) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.LogLevel, process)
	if err != nil {
		return fmt.Errorf("config: LOG_LEVEL: %w", err)
	}
	defer log.Sync() //nolint:errcheck
	d, err := Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := run(ctx, d); err != nil {
		log.Error("stopped with an error", zap.Error(err))
		return err
	}
	return nil
}
