package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/reactivation/reactivation/internal/cli"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/demo"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/source"
)

func init() { register(demoCommand) }

func demoCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "demo", Short: "generate demo source data (demo seed)"}
	seed := &cobra.Command{
		Use:   "seed --customers N [--seed S] [--companies K] [--truncate]",
		Short: "write generated customers, products and invoices into the source tables",
		Long: `Seed writes generated data into the six source tables of SOURCE_DATABASE_URL:
the same rows for the same flags on the same day.`,
	}
	o := demoSeedOptions{}
	seed.Flags().IntVar(&o.customers, "customers", 0, "number of customers to generate, at least 1 (required)")
	seed.Flags().Int64Var(&o.seed, "seed", 1, "random seed: the same seed, customers and companies give the same rows on the same day")
	seed.Flags().IntVar(&o.companies, "companies", 3, "number of companies, COMP001 the largest")
	seed.Flags().BoolVar(&o.truncate, "truncate", false, "empty the six source tables first (without it, tables holding rows are an error)")
	seed.RunE = func(cmd *cobra.Command, _ []string) error { return demoSeed(cmd.Context(), o) }
	cmd.AddCommand(seed)
	return cmd
}

type demoSeedOptions struct {
	customers, companies int
	seed                 int64
	truncate             bool
}

// demoSeed runs `demo seed`.
func demoSeed(ctx context.Context, o demoSeedOptions) error {
	if o.customers < 1 {
		return cli.Usagef("--customers must be at least 1, got %d", o.customers)
	}
	if o.companies < 1 {
		return cli.Usagef("--companies must be at least 1, got %d", o.companies)
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, cfg.SourceDatabaseURL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()

	y, m, d := time.Now().In(cfg.Location).Date()
	progress := newSeedProgress(os.Stderr)
	stats, err := demo.Seed(ctx, pool, demo.Options{
		Customers: o.customers,
		Seed:      o.seed,
		Companies: o.companies,
		Truncate:  o.truncate,
		AsOf:      time.Date(y, m, d, 0, 0, 0, 0, cfg.Location),
		Progress:  progress.update,
	})
	progress.finish()
	switch {
	case errors.Is(err, demo.ErrNotEmpty):
		return fmt.Errorf("%w; pass --truncate to replace it", err)
	case err != nil:
		return err
	}
	fmt.Fprintf(os.Stderr, "demo seed: wrote %d rows in %s (%.0f rows/s):", stats.TotalRows(), stats.Elapsed.Round(time.Millisecond), stats.RowsPerSecond())
	for _, table := range source.Tables {
		fmt.Fprintf(os.Stderr, " %s %d", table, stats.Rows[table])
	}
	fmt.Fprintln(os.Stderr)
	return nil
}

// seedProgress shows demo.Seed's progress on w: a bar per stage when w is a
// terminal, a plain line at each stage and every few seconds otherwise.
type seedProgress struct {
	w        io.Writer
	terminal bool
	stage    string
	bar      *progressbar.ProgressBar
	lastLine time.Time
}

// plainProgressEvery is how often a non-terminal gets a progress line.
const plainProgressEvery = 5 * time.Second

func newSeedProgress(w *os.File) *seedProgress {
	return &seedProgress{w: w, terminal: isTerminal(w)}
}

func (p *seedProgress) update(stage string, done, total int64) {
	if stage != p.stage {
		p.finish()
		p.stage = stage
		p.lastLine = time.Now()
		switch {
		case total == 0:
			fmt.Fprintf(p.w, "demo seed: %s\n", stage)
			return
		case p.terminal:
			p.bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription(stage),
				progressbar.OptionShowCount(),
				progressbar.OptionSetItsString("customers"),
				progressbar.OptionShowIts(),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
			)
		default:
			fmt.Fprintf(p.w, "demo seed: %s: 0/%d customers\n", stage, total)
		}
	}
	if p.bar != nil {
		_ = p.bar.Set64(done)
		return
	}
	if total > 0 && (time.Since(p.lastLine) >= plainProgressEvery || done == total) {
		fmt.Fprintf(p.w, "demo seed: %s: %d/%d customers (%.0f%%)\n", stage, done, total, 100*float64(done)/float64(total))
		p.lastLine = time.Now()
	}
}

// finish ends the current bar, if any.
func (p *seedProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
