package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/reactivation/reactivation/internal/cli"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/source"
)

func init() { register(migrateCommand) }

func migrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate [--demo-schema] [--wait D]",
		Short: "apply the service schema (--demo-schema also creates the source tables)",
		Long: `Migrate applies the migrations of the service database (DATABASE_URL) that
are not applied yet. With --wait it applies nothing and waits until every
migration of this binary is applied (an init container's check).`,
	}
	demoSchema := cmd.Flags().Bool("demo-schema", false, "also create the demo source tables in SOURCE_DATABASE_URL")
	wait := cmd.Flags().Duration("wait", 0, "apply nothing: wait up to this long until every migration of this binary is applied (an init container's check)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *wait < 0 {
			return cli.Usagef("--wait must not be negative")
		}
		cfg, err := config.Load()
		if err != nil {
			return err
		}
		if *wait > 0 {
			return waitMigrated(cmd.Context(), cfg, *wait)
		}
		return migrate(cmd.Context(), cfg, *demoSchema)
	}
	return cmd
}

// waitMigrated returns once the service schema has every migration this
// binary embeds, or fails after timeout.
func waitMigrated(ctx context.Context, cfg config.Config, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, 1)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := postgres.WaitMigrated(ctx, pool, 2*time.Second); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "migrate: schema is up to date")
	return nil
}

// migrate applies the service migrations and, with demoSchema, creates the
// source tables.
func migrate(ctx context.Context, cfg config.Config, demoSchema bool) error {
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := postgres.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "migrate: %d migration(s) applied %v\n", len(applied), applied)
	if !demoSchema {
		return nil
	}
	src, err := postgres.Open(ctx, cfg.SourceDatabaseURL, 2)
	if err != nil {
		return fmt.Errorf("source database: %w", err)
	}
	defer src.Close()
	if err := source.CreateSchema(ctx, src); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "migrate: demo source tables ready")
	return nil
}
