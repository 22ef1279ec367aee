package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reactivation/reactivation/internal/bench"
	"github.com/reactivation/reactivation/internal/cli"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/logging"
)

func init() { register(benchCommand, benchBareCommand) }

// benchBareCommand is the search bench's bare handler as a process of its
// own (bench.ServeBare); the bench starts it, nobody else.
func benchBareCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bench-bare --redis URL", Short: "the search bench's bare handler", Hidden: true}
	redisURL := cmd.Flags().String("redis", "", "Redis URL of the stored answers")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *redisURL == "" {
			return cli.Usagef("--redis is required")
		}
		return bench.ServeBare(cmd.Context(), *redisURL, os.Stdout)
	}
	return cmd
}

func benchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench --scenario NAME [--customers N] [--seed S] [--engine postgres|elastic] [--out FILE] [--cpuprofile FILE]",
		Short: "measure a scenario against its baseline",
		Long: `Bench runs a scenario on its own demo data in the configured services and
prints its figures beside a baseline measured in the same run. Scenarios: ` + strings.Join(bench.Names(), ", ") + ".",
	}
	scenario := cmd.Flags().String("scenario", "", "scenario to run: "+strings.Join(bench.Names(), ", "))
	customers := cmd.Flags().Int("customers", 100000, "number of demo customers")
	seed := cmd.Flags().Int64("seed", 1, "demo data seed")
	out := cmd.Flags().String("out", "", "write the report as JSON to this file")
	engine := cmd.Flags().String("engine", "", "search engine of the sync, reconcile and search scenarios: postgres or elastic (default: elastic when ELASTICSEARCH_URL is set)")
	cpuProfile := cmd.Flags().String("cpuprofile", "", "write a CPU profile of the bench process (go tool pprof) to this file")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *scenario == "" {
			return cli.Usagef("--scenario is required (one of %s)", strings.Join(bench.Names(), ", "))
		}
		if *customers <= 0 {
			return cli.Usagef("--customers must be positive")
		}
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		return runBench(cmd.Context(), *scenario, *customers, *seed, *engine, *out)
	}
	return cmd
}

func runBench(ctx context.Context, scenario string, customers int, seed int64, engine, out string) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if engine, err = bench.ResolveEngine(engine, cfg.ElasticsearchURL); err != nil {
		return cli.Usagef("%v", err)
	}
	log, err := logging.New("warn", "bench")
	if err != nil {
		return err
	}
	r, err := bench.Run(ctx, scenario, bench.Env{Config: cfg, Log: log, Customers: customers, Seed: seed, Engine: engine, Out: os.Stdout})
	if err != nil {
		return err
	}
	if out != "" {
		if err := bench.WriteJSON(out, r); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: report written to %s\n", out)
	}
	return nil
}
