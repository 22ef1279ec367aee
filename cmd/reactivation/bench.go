package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/reactivation/reactivation/api"
	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/bench"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/logging"
	"github.com/reactivation/reactivation/workers"
)

func benchCommand(ctx context.Context, args []string) error {
	fs := newFlags("bench")
	scenario := fs.String("scenario", "", "scenario to run: "+strings.Join(bench.Names(), ", "))
	customers := fs.Int("customers", 100000, "number of demo customers")
	seed := fs.Int64("seed", 1, "demo data seed")
	out := fs.String("out", "", "write the report as JSON to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *scenario == "" {
		return usageError{"--scenario is required (one of " + strings.Join(bench.Names(), ", ") + ")"}
	}
	if *customers <= 0 {
		return usageError{"--customers must be positive"}
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	log, err := logging.New("warn", "bench")
	if err != nil {
		return err
	}
	bench.SetAPIStarter(func(ctx context.Context, cfg config.Config, log *zap.Logger, ready func(string)) error {
		d, err := app.Open(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer d.Close()
		return api.New(d).Run(ctx, cfg.APIAddr, cfg.ShutdownTimeout, func(a net.Addr) { ready(a.String()) })
	})
	r, err := bench.Run(ctx, *scenario, bench.Env{Config: cfg, Log: log, Customers: *customers, Seed: *seed, Out: os.Stdout,
		Worker: func(ctx context.Context, cfg config.Config, log *zap.Logger) error {
			d, err := app.Open(ctx, cfg, log)
			if err != nil {
				return err
			}
			defer d.Close()
			return workers.New(d).Run(ctx)
		}})
	if err != nil {
		return err
	}
	if *out != "" {
		if err := bench.WriteJSON(*out, r); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: report written to %s\n", *out)
	}
	return nil
}
