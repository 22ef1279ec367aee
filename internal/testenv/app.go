package testenv

import (
	"context"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/postgres"
)

// App migrates cfg's service schema and opens the process's services
// over it (app.Open, logging to t); they close when t ends.
func App(t testing.TB, cfg config.Config) *app.App {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		t.Fatalf("open the service database: %v", err)
	}
	_, err = postgres.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		t.Fatalf("migrate the service database: %v", err)
	}
	d, err := app.Open(ctx, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("open the services: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}
