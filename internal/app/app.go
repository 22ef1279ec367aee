// Package app is the composition root: it opens the connections every
// process shares (service and source PostgreSQL, Redis, the asynq client,
// the search engine) from one validated configuration and builds every
// domain service over them, each once (Services). The cmd packages, the
// bench and the end-to-end tests use it; the api and workers packages
// receive only the services their params structs name (params.go).
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
	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/idempotency"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/scores"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
	"github.com/reactivation/reactivation/internal/segsearch"
	"github.com/reactivation/reactivation/internal/snapshot"
	"github.com/reactivation/reactivation/internal/syncrun"
)

// App is a process: its connections and the services built over them.
// Only cmd, the bench and tests hold one; api and workers get params
// structs of what they use (APIParams, WorkerParams, SchedulerParams).
// Close releases the connections.
type App struct {
	Config    config.Config
	Log       *zap.Logger
	DB        *pgxpool.Pool // the service's own database
	Source    *pgxpool.Pool // the customer's database (may be DB)
	Redis     *redis.Client
	RedisConn asynq.RedisConnOpt
	Asynq     *asynq.Client
	Inspector *asynq.Inspector
	Services
}

// Services are the domain services of a process, each built once by Open
// and safe for concurrent use.
type Services struct {
	Engine     search.Engine
	Jobs       *jobs.Store
	Dispatcher *jobs.Dispatcher
	Reaper     *jobs.Reaper
	Keys       *auth.Store
	Cache      *cache.Cache
	Sync       *syncrun.Service
	Campaigns  *campaign.Service
	Exports    *export.Service
	// Segments runs large-segment searches over Snapshots.
	Segments    *segsearch.Service
	Snapshots   *snapshot.Store
	Scores      *scores.Store
	Idempotency *idempotency.Store
	// Ticks claims the scheduler's ticks, once across replicas.
	Ticks *postgres.ScheduleTicks
	// EarlierLayout is true when the PostgreSQL engine's serving
	// generation was written by an earlier release and is read through
	// pgsearch.ServeEarlierLayout until a full sync replaces it.
	EarlierLayout bool
}

// Open connects to everything cfg names. It fails with a clear error when a
// dependency is unreachable, naming it.
func Open(ctx context.Context, cfg config.Config, log *zap.Logger) (*App, error) {
	d := &App{Config: cfg, Log: log}
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
	if pg, ok := d.Engine.(*pgsearch.Engine); ok {
		// A generation of an earlier release stays readable after an
		// upgrade, until the next full sync replaces it.
		if d.EarlierLayout, err = pg.ServeEarlierLayout(ctx); err != nil {
			log.Warn("serving generation of an earlier release", zap.Error(err))
		} else if d.EarlierLayout {
			log.Warn("the serving generation was written by an earlier release: it is read without its newer indexes and cannot be written to; run a full sync")
		}
	}
	d.build()
	return d, nil
}

// build builds every service over d's connections, each once.
func (d *App) build() {
	cfg, log := d.Config, d.Log
	d.Jobs = jobs.NewStore(postgres.NewJobs(d.DB))
	d.Dispatcher = jobs.NewDispatcher(d.Jobs, d.Asynq, d.Inspector,
		jobs.FairConfig{MaxInFlight: cfg.TenantMaxInFlight, FallbackCapacity: cfg.WorkerConcurrency})
	d.Reaper = jobs.NewReaper(d.Dispatcher, log)
	d.Keys = auth.NewCachedStore(postgres.NewKeys(d.DB), cfg.APIKeyCacheTTL)
	d.Cache = cache.New(d.Redis, cfg.IndexAlias, cfg.SearchCacheTTL)
	d.Sync = syncrun.New(syncrun.Params{
		Runs: postgres.NewSyncRuns(d.DB), Tracking: postgres.NewTracking(d.DB), Scores: postgres.NewScores(d.DB),
		Source: d.Source, Engine: d.Engine, Dispatcher: d.Dispatcher, Log: log, Notifier: d.Cache,
		Config: syncrun.Config{Alias: cfg.IndexAlias, ShardSize: cfg.SyncShardSize,
			Scores: cfg.ScoresEnabled, Location: cfg.Location},
	})
	d.Campaigns = campaign.NewService(campaign.Params{Store: postgres.NewCampaigns(d.DB), Source: d.Source, Engine: d.Engine,
		Dispatcher: d.Dispatcher, Log: log, Config: campaign.Config{Location: cfg.Location}})
	d.Exports = export.New(export.Params{Jobs: d.Jobs, Exports: postgres.NewExports(d.DB), Dispatcher: d.Dispatcher, Engine: d.Engine,
		Audiences: d.Campaigns, Log: log,
		Config: export.Config{Retention: cfg.ExportRetention, Location: cfg.Location}})
	d.Snapshots = snapshot.NewStore(postgres.NewSnapshots(d.DB))
	d.Segments = segsearch.New(segsearch.Params{Jobs: d.Jobs, Dispatcher: d.Dispatcher, Snapshots: d.Snapshots,
		Engine: d.Engine, Log: log, Config: segsearch.Config{Retention: cfg.SnapshotRetention, Location: cfg.Location}})
	d.Scores = scores.NewStore(postgres.NewScores(d.DB))
	d.Idempotency = idempotency.NewStore(postgres.NewIdempotency(d.DB), idempotency.Config{})
	d.Ticks = postgres.NewScheduleTicks(d.DB)
}

// Close releases every connection Open made.
func (d *App) Close() {
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
func (d *App) Check(ctx context.Context) map[string]error {
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
