// Package app opens the connections every process shares (service and
// source PostgreSQL, Redis, the asynq client, the search engine) from one
// validated configuration. The cmd packages and end-to-end tests use it;
// the api and workers packages receive what it opened.
package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/cache"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/syncrun"
)

// Deps are the shared connections of a process. Close releases them.
type Deps struct {
	Config     config.Config
	Log        *zap.Logger
	DB         *pgxpool.Pool // the service's own database
	Source     *pgxpool.Pool // the customer's database (may be DB)
	Redis      *redis.Client
	RedisConn  asynq.RedisConnOpt
	Asynq      *asynq.Client
	Inspector  *asynq.Inspector
	Engine     search.Engine
	Jobs       *jobs.Store
	Dispatcher *jobs.Dispatcher
	Keys       *auth.Store
	Cache      *cache.Cache
	Sync       *syncrun.Service
}

// Open connects to everything cfg names. It fails with a clear error when a
// dependency is unreachable, naming it.
func Open(ctx context.Context, cfg config.Config, log *zap.Logger) (*Deps, error) {
	d := &Deps{Config: cfg, Log: log}
	var err error
	dbConns, sourceConns, shared := PoolSizes(cfg)
	if d.DB, err = postgres.Open(ctx, cfg.DatabaseURL, dbConns); err != nil {
		return nil, err
	}
	if shared {
		d.Source = d.DB
	} else if d.Source, err = postgres.Open(ctx, cfg.SourceDatabaseURL, sourceConns); err != nil {
		d.Close()
		return nil, fmt.Errorf("source database: %w", err)
	}
	var where string
	if d.Redis, d.RedisConn, where, err = openRedis(cfg); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.Redis.Ping(ctx).Err(); err != nil {
		d.Close()
		return nil, fmt.Errorf("%s unreachable: %w", where, err)
	}
	d.Asynq = asynq.NewClient(d.RedisConn)
	d.Inspector = asynq.NewInspector(d.RedisConn)
	if d.Engine, err = openEngine(ctx, cfg, d.DB); err != nil {
		d.Close()
		return nil, err
	}
	d.Jobs = jobs.NewStore(postgres.NewJobs(d.DB))
	d.Dispatcher = jobs.NewDispatcher(d.Jobs, d.Asynq, d.Inspector,
		jobs.FairConfig{MaxInFlight: cfg.TenantMaxInFlight, FallbackCapacity: cfg.WorkerConcurrency})
	d.Keys = auth.NewStore(postgres.NewKeys(d.DB))
	d.Cache = cache.New(d.Redis, cfg.IndexAlias, cfg.SearchCacheTTL)
	d.Sync = syncrun.New(syncrun.Params{
		DB: d.DB, Runs: postgres.NewSyncRuns(d.DB), Scores: postgres.NewScores(d.DB),
		Source: d.Source, Engine: d.Engine, Dispatcher: d.Dispatcher, Log: log, Notifier: d.Cache,
		Config: syncrun.Config{Alias: cfg.IndexAlias, ShardSize: cfg.SyncShardSize,
			Scores: cfg.ScoresEnabled, Location: cfg.Location},
	})
	return d, nil
}

// Close releases every connection Open made.
func (d *Deps) Close() {
	if d.Asynq != nil {
		d.Asynq.Close()
	}
	if d.Inspector != nil {
		d.Inspector.Close()
	}
	if d.Redis != nil {
		d.Redis.Close()
	}
	if d.Source != nil && d.Source != d.DB {
		d.Source.Close()
	}
	if d.DB != nil {
		d.DB.Close()
	}
}

// Check pings each dependency and returns its error by name ("postgres",
// "redis", "search"); nil values mean healthy.
func (d *Deps) Check(ctx context.Context) map[string]error {
	out := map[string]error{
		"postgres": d.DB.Ping(ctx),
		"redis":    d.Redis.Ping(ctx).Err(),
		"search":   errors.New("no search engine"),
	}
	if d.Source != d.DB {
		out["source"] = d.Source.Ping(ctx)
	}
	if d.Engine != nil {
		out["search"] = d.Engine.Ping(ctx)
	}
	return out
}
