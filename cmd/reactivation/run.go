package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/reactivation/reactivation/api"
	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/cli"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/demo"
	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/syncrun"
	"github.com/reactivation/reactivation/workers"
)

func init() { register(runCommand) }

func runCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run [--demo N]",
		Short: "run the API, a worker and the scheduler in one process",
		Long: `Run serves the API, a worker and the scheduler in one process until SIGINT
or SIGTERM: the local and single-machine setup (make run).`,
	}
	demoN := cmd.Flags().Int("demo", 0, "local demo: migrate, seed this many customers if the source is empty, create a demo admin key, run a first full sync")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *demoN < 0 {
			return cli.Usagef("--demo must not be negative")
		}
		return runServers(cmd.Context(), *demoN)
	}
	return cmd
}

// runServers is `run`: prepare the demo when demoN > 0, then runAll.
func runServers(ctx context.Context, demoN int) error {
	if demoN > 0 {
		cfg, err := config.Load()
		if err != nil {
			return err
		}
		if err := prepareDemo(ctx, cfg, demoN); err != nil {
			return err
		}
	}
	return app.Start(ctx, "reactivation", func(ctx context.Context, d *app.App) error {
		return runAll(ctx, d, demoN > 0)
	})
}

// runAll runs the API, a worker and the scheduler in one process until ctx
// ends, then stops all three.
func runAll(ctx context.Context, d *app.App, firstSync bool) error {
	sched, err := workers.NewScheduler(d.SchedulerParams())
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return api.New(d.APIParams()).Run(ctx, d.Config.APIAddr, d.Config.ShutdownTimeout, func(a net.Addr) {
			base := "http://" + strings.Replace(a.String(), "[::]", "localhost", 1)
			fmt.Fprintf(os.Stderr, "\nCustomer Reactivation is running:\n  API        %s/api/v1\n  docs       %s/docs\n  monitoring %s/monitoring\n  metrics    %s/metrics\n  readiness  %s/readyz\nCtrl-C stops it.\n\n",
				base, base, base, base, base)
		})
	})
	g.Go(func() error { return workers.New(d.WorkerParams()).Run(ctx) })
	g.Go(func() error { return sched.Run(ctx) })
	if firstSync {
		gen, err := d.Engine.Current(ctx)
		if err == nil && gen == "" {
			job, err := d.Sync.Start(ctx, syncrun.ModeFull, jobs.Tenant{Admin: true}, "run")
			if err != nil && !errs.Is(err, errs.Conflict) {
				d.Log.Warn("first full sync not started", zap.Error(err))
			} else if err == nil {
				fmt.Fprintf(os.Stderr, "first full sync enqueued: job %s\n", job.ID)
			}
		}
	}
	return g.Wait()
}

// prepareDemo migrates, seeds n customers when the source is empty and
// creates a demo admin key when none exists.
func prepareDemo(ctx context.Context, cfg config.Config, n int) error {
	if err := migrate(ctx, cfg, true); err != nil {
		return err
	}
	src, err := postgres.Open(ctx, cfg.SourceDatabaseURL, 4)
	if err != nil {
		return err
	}
	defer src.Close()
	var customers int64
	if err := src.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&customers); err != nil {
		return err
	}
	if customers == 0 {
		y, m, day := time.Now().In(cfg.Location).Date()
		stats, err := demo.Seed(ctx, src, demo.Options{Customers: n, Seed: 1, AsOf: time.Date(y, m, day, 0, 0, 0, 0, cfg.Location)})
		if err != nil {
			return fmt.Errorf("seed demo data: %w", err)
		}
		fmt.Fprintf(os.Stderr, "demo: seeded %d customers (%d rows) in %s\n", n, stats.TotalRows(), stats.Elapsed.Round(time.Millisecond))
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	keys := auth.NewStore(postgres.NewKeys(db))
	list, err := keys.List(ctx)
	if err != nil {
		return err
	}
	for _, k := range list {
		if k.Name == "demo" && k.RevokedAt == nil {
			fmt.Fprintln(os.Stderr, "demo: the demo admin key exists (reactivation apikey list); create another with: reactivation apikey create --admin --scopes search,export,sync,admin --name me")
			return nil
		}
	}
	_, secret, err := keys.Create(ctx, auth.NewKey{Name: "demo", Admin: true, Scopes: auth.AllScopes})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "demo: admin key (shown once): %s\n", secret)
	return nil
}
