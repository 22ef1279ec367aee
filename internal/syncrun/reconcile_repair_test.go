package syncrun_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/syncrun"
	"github.com/reactivation/reactivation/tasks"
)

// TestReconcileRepairsAreScoredAndTracked: with scores enabled, the
// documents a reconcile writes carry the generation's RFM scores like every
// other write, and are tracked: a customer only the reconcile indexed and
// then deleted from the source is gone after one incremental sync.
// Before, repairs were written bare (no RFM group, no P(alive) until the
// next full sync) and untracked (the deleted customer stayed searchable
// until the next reconcile).
func TestReconcileRepairsAreScoredAndTracked(t *testing.T) {
	ctx := context.Background()
	b := setup(t, 400, nil, nil)
	b.svc = syncrun.New(syncrun.Params{Runs: postgres.NewSyncRuns(b.deps.DB), Tracking: postgres.NewTracking(b.deps.DB), Scores: postgres.NewScores(b.deps.DB), Source: b.deps.Source, Engine: b.deps.Engine, Dispatcher: b.deps.Dispatcher,
		Log: b.deps.Log, Notifier: b.deps.Cache, Config: syncrun.Config{Alias: b.cfg.IndexAlias, ShardSize: b.cfg.SyncShardSize,
			BatchSize: 50, Scores: true, Location: b.cfg.Location}})
	job, shards := b.plan(ctx, t)
	gen := shards[0].Generation
	require.NoError(t, b.svc.FitScores(ctx, tasks.ScoresFitPayload{JobPayload: tasks.JobPayload{JobID: job.ID}, Generation: gen}))
	for _, p := range shards {
		require.NoError(t, b.svc.Shard(ctx, p))
	}
	require.NoError(t, b.svc.Finalize(ctx, tasks.SyncFinalizePayload{JobPayload: tasks.JobPayload{JobID: job.ID}, Generation: gen}))
	b.requireState(t, job.ID, jobs.Succeeded)

	// Drift: a document the index lost, a customer the index never got.
	ids := customersIn(t, b.deps.DB, "", "")
	lost, fresh := ids[7], ids[7]+"a"
	f, err := b.deps.Engine.FingerprintsOf(ctx, []string{lost})
	require.NoError(t, err)
	require.Len(t, f, 1)
	require.NoError(t, b.deps.Engine.Delete(ctx, []search.Tombstone{{CustomerID: lost, CompanyID: f[0].CompanyID, Version: f[0].Version}}))
	require.NoError(t, changeRange(b.deps.DB, nil, []string{fresh}, 0))

	got := b.reconcile(t)
	require.Equal(t, int64(2), got.Missing)
	require.Equal(t, int64(2), got.Repaired)
	docs := map[string]profile.Profile{}
	require.NoError(t, b.deps.Engine.Scan(ctx, search.Query{Size: 500, Unordered: true}, func(page []profile.Profile) error {
		for _, p := range page {
			if p.CustomerID == lost || p.CustomerID == fresh {
				docs[p.CustomerID] = p
			}
		}
		return nil
	}))
	require.Len(t, docs, 2)
	for id, p := range docs {
		require.Positive(t, p.TotalPurchases, id)
		require.NotEmpty(t, p.RFMGroup, "%s: a repaired document is scored", id)
		require.NotNil(t, p.RecencyScore, id)
	}

	// The repaired customer is tracked: its deletion reaches the index.
	require.NoError(t, changeRange(b.deps.DB, []string{fresh}, nil, 0))
	inc, err := b.svc.Start(ctx, syncrun.ModeIncremental, jobs.Tenant{Admin: true}, "test")
	require.NoError(t, err)
	_, err = b.deps.Jobs.Start(ctx, inc.ID)
	require.NoError(t, err)
	require.NoError(t, b.svc.Incremental(ctx, inc.ID))
	b.requireState(t, inc.ID, jobs.Succeeded)
	f, err = b.deps.Engine.FingerprintsOf(ctx, []string{fresh})
	require.NoError(t, err)
	require.Empty(t, f, "a customer deleted from the source is gone after one incremental")
}
