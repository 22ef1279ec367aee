package syncrun_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/demo"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/syncrun"
	"github.com/reactivation/reactivation/internal/testenv"
	"github.com/reactivation/reactivation/tasks"
)

type testBundle struct {
	cfg  config.Config
	deps *app.App
	svc  *syncrun.Service
}

// setup migrates a fresh schema, seeds n demo customers and opens the
// dependencies; engine, when not nil, wraps the real engine (fault
// injection). The returned service runs tasks in-process: the test calls
// Plan, Shard and Finalize itself (see runFull).
func setup(t *testing.T, n int, mutate func(*config.Config), engine func(search.Engine) search.Engine) *testBundle {
	t.Helper()
	ctx := context.Background()
	cfg := testenv.Config(t)
	cfg.SyncShardSize = 100
	if mutate != nil {
		mutate(&cfg)
	}
	require.NoError(t, cfg.Validate())
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, 4)
	require.NoError(t, err)
	defer pool.Close()
	_, err = postgres.Migrate(ctx, pool)
	require.NoError(t, err)
	require.NoError(t, source.CreateSchema(ctx, pool))
	if n > 0 {
		_, err = demo.Seed(ctx, pool, demo.Options{Customers: n, Seed: 7, AsOf: time.Now()})
		require.NoError(t, err)
	}
	deps, err := app.Open(ctx, cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(deps.Close)
	e := deps.Engine
	if engine != nil {
		e = engine(e)
	}
	svc := syncrun.New(syncrun.Params{Runs: postgres.NewSyncRuns(deps.DB), Tracking: postgres.NewTracking(deps.DB), Scores: postgres.NewScores(deps.DB), Source: deps.Source, Engine: e, Dispatcher: deps.Dispatcher,
		Log: deps.Log, Notifier: deps.Cache, Config: syncrun.Config{Alias: cfg.IndexAlias, ShardSize: cfg.SyncShardSize, BatchSize: 50}})
	return &testBundle{cfg: cfg, deps: deps, svc: svc}
}

// plan starts a full sync and runs its plan in this process, returning
// the job and its shards' payloads.
func (b *testBundle) plan(ctx context.Context, t *testing.T) (jobs.Job, []tasks.SyncShardPayload) {
	t.Helper()
	job, err := b.svc.Start(ctx, syncrun.ModeFull, jobs.Tenant{Admin: true}, "test")
	require.NoError(t, err)
	_, err = b.deps.Jobs.Start(ctx, job.ID)
	require.NoError(t, err)
	require.NoError(t, b.svc.Plan(ctx, job.ID))
	rows, err := b.deps.DB.Query(ctx, `SELECT s.shard, s.lo, s.hi, r.generation FROM sync_shards s
		JOIN sync_runs r USING (job_id) WHERE job_id = $1 ORDER BY shard`, job.ID)
	require.NoError(t, err)
	var shards []tasks.SyncShardPayload
	for rows.Next() {
		p := tasks.SyncShardPayload{JobPayload: tasks.JobPayload{JobID: job.ID}}
		require.NoError(t, rows.Scan(&p.Shard, &p.Lo, &p.Hi, &p.Generation))
		shards = append(shards, p)
	}
	require.NoError(t, rows.Err())
	require.Greater(t, len(shards), 1)
	return job, shards
}

// planAndShards starts a full sync and runs its plan and every shard in
// this process, returning the job and the finalize payload.
func (b *testBundle) planAndShards(t *testing.T) (jobs.Job, tasks.SyncFinalizePayload) {
	t.Helper()
	ctx := context.Background()
	job, shards := b.plan(ctx, t)
	for _, p := range shards {
		require.NoError(t, b.svc.Shard(ctx, p))
	}
	return job, tasks.SyncFinalizePayload{JobPayload: tasks.JobPayload{JobID: job.ID}, Generation: shards[0].Generation}
}

// runFull runs a whole full sync in this process and requires success.
func (b *testBundle) runFull(t *testing.T) tasks.SyncFinalizePayload {
	t.Helper()
	job, fin := b.planAndShards(t)
	require.NoError(t, b.svc.Finalize(context.Background(), fin))
	b.requireState(t, job.ID, jobs.Succeeded)
	return fin
}

func (b *testBundle) requireState(t *testing.T, id string, want jobs.State) jobs.Job {
	t.Helper()
	j, err := b.deps.Jobs.GetAny(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, want, j.State, "job %s: %s", id, j.Error)
	return j
}
