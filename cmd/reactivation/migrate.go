package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/source"
)

func migrateCommand(ctx context.Context, args []string) error {
	fs := newFlags("migrate")
	demoSchema := fs.Bool("demo-schema", false, "also create the demo source tables in SOURCE_DATABASE_URL")
	wait := fs.Duration("wait", 0, "apply nothing: wait up to this long until every migration of this binary is applied (an init container's check)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *wait < 0 {
		return usageError{"--wait must not be negative"}
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if *wait > 0 {
		return waitMigrated(ctx, cfg, *wait)
	}
	return migrate(ctx, cfg, *demoSchema)
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
