package syncrun_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// TestFullSyncSharedDatabaseNoPoolDeadlock: the PostgreSQL engine with the
// source in the same database, WORKER_CONCURRENCY shards at once, each
// larger than one write batch. Every shard holds two connections for its
// streams while it writes on a third; with pgx's default pool (max(4,
// NumCPU)) the shards deadlocked. The pools app.Open sizes from
// WORKER_CONCURRENCY let the sync complete.
func TestFullSyncSharedDatabaseNoPoolDeadlock(t *testing.T) {
	b := setup(t, 2000, func(c *config.Config) {
		c.ElasticsearchURL = ""
		c.WorkerConcurrency = 4
		c.SyncShardSize = 400
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	job, shards := b.plan(ctx, t)
	require.GreaterOrEqual(t, len(shards), b.cfg.WorkerConcurrency)

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.WorkerConcurrency) // the worker's concurrency
	for _, p := range shards {
		g.Go(func() error { return b.svc.Shard(gctx, p) })
	}
	require.NoError(t, g.Wait(), "the shards completed (a deadlock ends in the timeout)")
	require.NoError(t, b.svc.Finalize(ctx, tasks.SyncFinalizePayload{JobPayload: tasks.JobPayload{JobID: job.ID}, Generation: shards[0].Generation}))
	b.requireState(t, job.ID, jobs.Succeeded)
	gen, err := b.deps.Engine.Current(ctx)
	require.NoError(t, err)
	n, err := b.deps.Engine.Count(ctx, gen)
	require.NoError(t, err)
	want, err := source.CountCustomers(ctx, b.deps.Source)
	require.NoError(t, err)
	require.Equal(t, want, n)
}
