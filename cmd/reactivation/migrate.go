package main

import (
	"context"
	"fmt"
	"os"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/source"
)

func migrateCommand(ctx context.Context, args []string) error {
	fs := newFlags("migrate")
	demoSchema := fs.Bool("demo-schema", false, "also create the demo source tables in SOURCE_DATABASE_URL")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	return migrate(ctx, cfg, *demoSchema)
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
