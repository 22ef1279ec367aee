package syncrun_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// promoteFailsAfterSwap is the real engine whose Promote swaps the alias
// and then reports a failure, as when dropping the old generation times
// out, while fail is set.
type promoteFailsAfterSwap struct {
	search.Engine
	fail atomic.Bool
}

func (e *promoteFailsAfterSwap) Promote(ctx context.Context, gen string) error {
	if err := e.Engine.Promote(ctx, gen); err != nil {
		return err
	}
	if e.fail.Load() {
		return errors.New("drop old generation: context deadline exceeded")
	}
	return nil
}

// TestFinalizeRetriedAfterSwap: a finalize retried after the alias moved
// does not re-verify the serving generation (which a refresh has grown
// meanwhile) nor drop it; it succeeds, and the older generation is gone.
func TestFinalizeRetriedAfterSwap(t *testing.T) {
	ctx := context.Background()
	var faulty *promoteFailsAfterSwap
	b := setup(t, 300, nil, func(e search.Engine) search.Engine {
		faulty = &promoteFailsAfterSwap{Engine: e}
		return faulty
	})
	first := b.runFull(t)

	job, fin := b.planAndShards(t)
	faulty.fail.Store(true)
	require.Error(t, b.svc.Finalize(ctx, fin))
	serving, err := b.deps.Engine.Current(ctx)
	require.NoError(t, err)
	require.Equal(t, fin.Generation, serving, "the first attempt swapped")

	// Between the attempts a new customer is refreshed into the serving generation.
	_, err = b.deps.DB.Exec(ctx, `INSERT INTO customers (customer_id, company_id, name, created_at, updated_at)
		VALUES ('zz-new', 'COMP001', 'New', now(), now())`)
	require.NoError(t, err)
	refresh, err := b.svc.StartRefresh(ctx, []string{"zz-new"}, jobs.Tenant{Admin: true}, "test")
	require.NoError(t, err)
	require.NoError(t, b.svc.Refresh(ctx, tasks.SyncRefreshPayload{JobPayload: tasks.JobPayload{JobID: refresh.ID}, CustomerIDs: []string{"zz-new"}}))

	faulty.fail.Store(false)
	require.NoError(t, b.svc.Finalize(ctx, fin))
	b.requireState(t, job.ID, jobs.Succeeded)
	serving, err = b.deps.Engine.Current(ctx)
	require.NoError(t, err)
	require.Equal(t, fin.Generation, serving, "the retry kept the serving generation")
	n, err := b.deps.Engine.Count(ctx, serving)
	require.NoError(t, err)
	want, err := source.CountCustomers(ctx, b.deps.Source)
	require.NoError(t, err)
	require.Equal(t, want, n)
	_, err = b.deps.Engine.Count(ctx, first.Generation)
	require.Error(t, err, "the retry finished dropping the older generation")
}

// TestFinalizeRecordsStateAfterPromotedAt: the first sync's finalize
// swapped and wrote promoted_at, then died before the sync state was
// recorded; the retry records it (before the fix it skipped the upsert,
// and every retry failed with "no full sync has completed yet").
func TestFinalizeRecordsStateAfterPromotedAt(t *testing.T) {
	ctx := context.Background()
	var faulty *promoteFailsAfterSwap
	b := setup(t, 300, nil, func(e search.Engine) search.Engine {
		faulty = &promoteFailsAfterSwap{Engine: e}
		return faulty
	})
	job, fin := b.planAndShards(t)
	faulty.fail.Store(true)
	require.Error(t, b.svc.Finalize(ctx, fin))
	_, err := b.deps.DB.Exec(ctx, "UPDATE sync_runs SET promoted_at = now() WHERE job_id = $1", job.ID)
	require.NoError(t, err)

	faulty.fail.Store(false)
	require.NoError(t, b.svc.Finalize(ctx, fin))
	b.requireState(t, job.ID, jobs.Succeeded)
	var gen string
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT generation FROM sync_state WHERE alias = $1 AND watermark IS NOT NULL",
		b.cfg.IndexAlias).Scan(&gen))
	require.Equal(t, fin.Generation, gen)

	// And a finalize run once more after success changes nothing.
	require.NoError(t, b.svc.Finalize(ctx, fin))
	serving, err := b.deps.Engine.Current(ctx)
	require.NoError(t, err)
	require.Equal(t, fin.Generation, serving)
}
