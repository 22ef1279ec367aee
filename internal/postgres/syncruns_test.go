package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/syncrun"
)

func TestSyncRunsRecordAndState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runs := postgres.NewSyncRuns(b.pool)
	ok, err := runs.HasWatermark(b.ctx, "customers")
	require.NoError(t, err)
	require.False(t, ok)
	last, err := runs.LastSyncAt(b.ctx, "customers")
	require.NoError(t, err)
	require.Nil(t, last, "no sync yet")

	job := b.job(t, "")
	_, err = runs.RunStatus(b.ctx, job)
	require.True(t, errs.Is(err, errs.NotFound), "a job without a run: %v", err)
	require.NoError(t, runs.InsertRun(b.ctx, job, syncrun.ModeFull.String()))
	st, err := runs.RunStatus(b.ctx, job)
	require.NoError(t, err)
	require.Equal(t, syncrun.ModeFull.String(), st.Mode)
	require.Empty(t, st.Generation)
	require.Nil(t, st.Planned)
	err = runs.InsertRun(b.ctx, job, syncrun.ModeFull.String())
	require.True(t, errs.Is(err, errs.Conflict), "one run per job: %v", err)
}

// TestSyncRunViewOutageIsNotNotFound: the status of a sync whose run
// cannot be read because the database is down is Unavailable (503), not
// the 404 of a job that is not a sync.
func TestSyncRunViewOutageIsNotNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	store := jobs.NewStore(postgres.NewJobs(b.pool))
	svc := syncrun.New(syncrun.Params{Runs: postgres.NewSyncRuns(b.cut), Tracking: postgres.NewTracking(b.cut), Scores: postgres.NewScores(b.pool),
		Dispatcher: jobs.NewDispatcher(store, nil, nil, jobs.FairConfig{}), Log: zaptest.NewLogger(t)})
	admin := jobs.Tenant{Admin: true}

	notSync := b.job(t, "")
	_, err := svc.Get(b.ctx, admin, notSync)
	require.True(t, errs.Is(err, errs.NotFound), "a job that is not a sync: %v", err)

	b.proxy.Cut()
	_, err = svc.Get(b.ctx, admin, notSync)
	require.True(t, errs.Is(err, errs.Unavailable), "the run table unreachable: %v", err)
	_, err = svc.LastSyncAt(b.ctx)
	require.True(t, errs.Is(err, errs.Unavailable), "%v", err)
}
