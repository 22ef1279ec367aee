package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/demo"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/source"
)

func init() {
	Register(Scenario{
		Name:        "seed",
		Description: "demo seed of N customers against PostgreSQL's own COPY of the same rows from local files",
		Run:         runSeed,
	})
}

// Schemas the seed scenario owns: the generator loads the first, the
// baseline copies its rows into the second. Both are dropped at the end.
const (
	seedSchema     = "bench_seed"
	baselineSchema = "bench_seed_copy"
)

// runSeed times demo.Seed, then PostgreSQL's COPY FROM of the same rows
// dumped to files, into empty tables with the indexes created after and
// ANALYZE, so both sides do the same work in one transaction.
func runSeed(ctx context.Context, env Env, r *Report) error {
	databaseURL := env.Config.SourceDatabaseURL
	admin, err := postgres.Open(ctx, databaseURL, 2)
	if err != nil {
		return err
	}
	defer admin.Close()
	schemas := []string{seedSchema, baselineSchema}
	dropSchemas := func(ctx context.Context) error {
		for _, s := range schemas {
			if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+s+" CASCADE"); err != nil {
				return fmt.Errorf("drop schema %s: %w", s, err)
			}
		}
		return nil
	}
	if err := dropSchemas(ctx); err != nil {
		return err
	}
	defer dropSchemas(context.WithoutCancel(ctx)) //nolint:errcheck // best effort; the next run drops them too
	for _, s := range schemas {
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+s); err != nil {
			return fmt.Errorf("create schema %s: %w", s, err)
		}
	}

	gen, err := openInSchema(ctx, databaseURL, seedSchema)
	if err != nil {
		return err
	}
	defer gen.Close()
	y, m, d := time.Now().In(env.Config.Location).Date()
	stats, err := demo.Seed(ctx, gen, demo.Options{
		Customers: env.Customers,
		Seed:      env.Seed,
		AsOf:      time.Date(y, m, d, 0, 0, 0, 0, env.Config.Location),
		Truncate:  true,
		Progress:  logStages(env.Log),
	})
	if err != nil {
		return fmt.Errorf("demo seed: %w", err)
	}

	baseline, err := copyBaseline(ctx, gen, databaseURL)
	if err != nil {
		return fmt.Errorf("copy baseline: %w", err)
	}

	rows := float64(stats.TotalRows())
	ratio := stats.Elapsed.Seconds() / baseline.Seconds()
	r.Add("rows", rows, "rows")
	r.Add("seed_seconds", stats.Elapsed.Seconds(), "s")
	r.Add("seed_rows_per_second", stats.RowsPerSecond(), "rows/s")
	r.Add("copy_baseline_seconds", baseline.Seconds(), "s")
	r.Add("copy_baseline_rows_per_second", rows/baseline.Seconds(), "rows/s")
	r.Add("seed_time_ratio", ratio, "x")
	r.AtMost("seed_time_ratio", ratio, 1.5)
	// 100k customers should take well under 30 s; scaled to any N.
	r.AtMost("seed_seconds_per_100k_customers", stats.Elapsed.Seconds()*100_000/float64(env.Customers), 30)
	return nil
}

// copyBaseline dumps the tables gen's schema holds to files with the
// server's COPY TO, then times COPY FROM those files into the baseline
// schema: one transaction, sync indexes created after, ANALYZE. The server
// must run on this host and allow server-side files (a superuser, or
// pg_read_server_files and pg_write_server_files).
func copyBaseline(ctx context.Context, gen *pgxpool.Pool, databaseURL string) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "bench-seed-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	// The server process writes the files, often as another OS user.
	if err := os.Chmod(dir, 0o777); err != nil {
		return 0, err
	}
	file := func(table string) string { return quoteLiteral(filepath.Join(dir, table+".copy")) }
	for _, table := range source.Tables {
		if _, err := gen.Exec(ctx, "COPY "+pgx.Identifier{table}.Sanitize()+" TO "+file(table)); err != nil {
			return 0, fmt.Errorf("dump %s (needs a local server and server-side file access): %w", table, err)
		}
	}

	base, err := openInSchema(ctx, databaseURL, baselineSchema)
	if err != nil {
		return 0, err
	}
	defer base.Close()
	if err := source.CreateSchema(ctx, base); err != nil {
		return 0, err
	}
	if err := source.DropIndexes(ctx, base); err != nil {
		return 0, err
	}
	start := time.Now()
	err = pgx.BeginFunc(ctx, base, func(tx pgx.Tx) error {
		for _, table := range source.Tables {
			if _, err := tx.Exec(ctx, "COPY "+pgx.Identifier{table}.Sanitize()+" FROM "+file(table)); err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := source.CreateIndexes(ctx, base); err != nil {
		return 0, err
	}
	if _, err := base.Exec(ctx, "ANALYZE "+strings.Join(source.Tables, ", ")); err != nil {
		return 0, fmt.Errorf("analyze: %w", err)
	}
	return time.Since(start), nil
}

// openInSchema opens a pool whose connections use schema as search_path.
func openInSchema(ctx context.Context, databaseURL, schema string) (*pgxpool.Pool, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("source database URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return postgres.Open(ctx, u.String(), 4)
}

// logStages logs each stage of demo.Seed as it starts.
func logStages(log *zap.Logger) func(stage string, done, total int64) {
	last := ""
	return func(stage string, done, total int64) {
		if log != nil && stage != last {
			log.Info("seed stage", zap.String("stage", stage), zap.Int64("total", total))
			last = stage
		}
	}
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
