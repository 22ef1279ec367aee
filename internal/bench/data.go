package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/demo"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/source"
)

// benchRedisDB is the Redis database a run queues in, flushed first, so a
// worker of `make run` on database 0 never takes its tasks. It depends on
// the scenario and the size, so a small run of a scenario beside a large
// one of the same scenario lands elsewhere; two runs that still meet in
// one database are kept apart by claimRedisDB, never flushing each
// other's queues.
func benchRedisDB(scenario string, customers int) int {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", scenario, customers)
	return 48 + int(h.Sum32()%benchRedisDBs)
}

// benchRedisDBs is how many Redis databases, from 48 on, bench runs use.
const benchRedisDBs = 16

// dataConfig returns a configuration whose source database is a schema
// holding the demo data of env (N customers, seed), seeded once and reused
// by later runs and scenarios. Everything else is the scenario's own, so
// two scenarios may run at once: its service database is a schema of its
// own (migrated), its queues live in benchRedisDB(scenario) and its index
// alias is bench_<scenario>_<customers>_s<seed>.
func dataConfig(ctx context.Context, env Env) (config.Config, error) {
	cfg := env.Config
	schema := fmt.Sprintf("bench_data_%d_s%d", env.Customers, env.Seed)
	admin, err := postgres.Open(ctx, cfg.SourceDatabaseURL, 2)
	if err != nil {
		return cfg, err
	}
	defer admin.Close()
	var ready bool
	_ = admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'bench_ready')", schema).Scan(&ready)
	u, err := url.Parse(cfg.SourceDatabaseURL)
	if err != nil {
		return cfg, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	if !ready {
		env.Log.Info("seeding benchmark data", zap.String("schema", schema), zap.Int("customers", env.Customers))
		if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
			return cfg, err
		}
		pool, err := postgres.Open(ctx, u.String(), 4)
		if err != nil {
			return cfg, err
		}
		y, m, d := time.Now().In(cfg.Location).Date()
		_, err = demo.Seed(ctx, pool, demo.Options{Customers: env.Customers, Seed: env.Seed,
			AsOf: time.Date(y, m, d, 0, 0, 0, 0, cfg.Location), Progress: logStages(env.Log)})
		if err == nil {
			_, err = pool.Exec(ctx, "CREATE TABLE bench_ready (seeded_at timestamptz DEFAULT now()); INSERT INTO bench_ready DEFAULT VALUES")
		}
		pool.Close()
		if err != nil {
			return cfg, fmt.Errorf("seed benchmark data: %w", err)
		}
	} else if err := indexesOf(ctx, u.String()); err != nil {
		return cfg, err
	}
	cfg.SourceDatabaseURL = u.String()
	service := fmt.Sprintf("bench_svc_%s_%d", env.Scenario, env.Customers)
	if env.Engine == EnginePostgres {
		// Its own jobs and sync state: a run on each engine at once never
		// cancels the other's jobs.
		service += "_pg"
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+service); err != nil {
		return cfg, err
	}
	q.Set("search_path", service)
	u.RawQuery = q.Encode()
	cfg.DatabaseURL = u.String()
	svc, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return cfg, err
	}
	_, err = postgres.Migrate(ctx, svc)
	svc.Close()
	if err != nil {
		return cfg, err
	}
	ropt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return cfg, err
	}
	if ropt.DB, err = claimRedisDB(ctx, ropt, benchRedisDB(env.Scenario+env.Engine, env.Customers)); err != nil {
		return cfg, err
	}
	cfg.RedisURL = fmt.Sprintf("redis://%s/%d", ropt.Addr, ropt.DB)
	cfg.IndexAlias = fmt.Sprintf("bench_%s_%d_s%d", env.Scenario, env.Customers, env.Seed)
	return cfg, cfg.Validate()
}

// claimRedisDB flushes and returns the first of the bench databases, from
// first on, that no other run holds: a run holds its database with an
// owner key it renews until ctx ends, so two runs never flush each other's
// queues (a crashed run's key expires within benchClaimTTL).
func claimRedisDB(ctx context.Context, opt *redis.Options, first int) (int, error) {
	owner := fmt.Sprintf("%d@%d", os.Getpid(), time.Now().UnixNano())
	for i := range benchRedisDBs {
		o := *opt
		o.DB = 48 + (first-48+i)%benchRedisDBs
		rc := redis.NewClient(&o)
		ok, err := rc.SetNX(ctx, benchClaimKey, owner, benchClaimTTL).Result()
		if err != nil {
			rc.Close()
			return 0, fmt.Errorf("bench Redis database %d: %w", o.DB, err)
		}
		if !ok {
			rc.Close()
			continue
		}
		// FLUSHDB takes the owner key too: set it again at once.
		err = rc.FlushDB(ctx).Err()
		if err == nil {
			err = rc.Set(ctx, benchClaimKey, owner, benchClaimTTL).Err()
		}
		if err != nil {
			rc.Close()
			return 0, err
		}
		go holdClaim(ctx, rc, owner)
		return o.DB, nil
	}
	return 0, fmt.Errorf("all %d bench Redis databases are in use by other bench runs: let one finish first", benchRedisDBs)
}

const (
	benchClaimKey = "reactivation:bench:owner"
	benchClaimTTL = 15 * time.Second
)

// holdClaim renews the owner key until ctx ends, then releases it.
func holdClaim(ctx context.Context, rc *redis.Client, owner string) {
	defer rc.Close()
	tick := time.NewTicker(benchClaimTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = rc.Del(context.WithoutCancel(ctx), benchClaimKey).Err()
			return
		case <-tick.C:
			_ = rc.Set(ctx, benchClaimKey, owner, benchClaimTTL).Err()
		}
	}
}

// indexesOf brings the sync indexes of data seeded by an earlier version
// to today's (source.CreateIndexes: those missing are built, those
// replaced dropped); nothing to do when they are.
func indexesOf(ctx context.Context, dataURL string) error {
	pool, err := postgres.Open(ctx, dataURL, 1)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := source.CreateIndexes(ctx, pool); err != nil {
		return fmt.Errorf("benchmark data: %w", err)
	}
	return nil
}
