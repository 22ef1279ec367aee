package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
)

// TestJobsOneRunningSync: the adapter turns the unique index that allows
// one running sync of a kind into errs.Conflict carrying the job in the way.
func TestJobsOneRunningSync(t *testing.T) {
	t.Parallel()
	b := setup(t)
	repo := postgres.NewJobs(b.pool)
	first, err := repo.CreateJob(b.ctx, jobs.New{Type: jobs.TypeSyncIncremental}, []byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, jobs.Queued, first.State)

	_, err = repo.CreateJob(b.ctx, jobs.New{Type: jobs.TypeSyncIncremental}, []byte(`{}`))
	require.True(t, errs.Is(err, errs.Conflict), "%v", err)
	var running *jobs.AlreadyRunning
	require.True(t, errors.As(err, &running), "%v", err)
	require.Equal(t, first.ID, running.JobID)

	ok, err := repo.Finish(b.ctx, first.ID, jobs.Failed, nil, "broke")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = repo.Finish(b.ctx, first.ID, jobs.Succeeded, []byte(`{}`), "")
	require.NoError(t, err)
	require.False(t, ok, "a final job stays as it is")
	_, err = repo.CreateJob(b.ctx, jobs.New{Type: jobs.TypeSyncIncremental}, []byte(`{}`))
	require.NoError(t, err, "the lock is free once the first is final")

	_, err = repo.Job(b.ctx, "00000000-0000-0000-0000-000000000000")
	require.True(t, errs.Is(err, errs.NotFound), "%v", err)
}

// TestJobsTransactionSpansRepositories: what the job's InTx callback writes
// through another repository commits or rolls back with the job.
func TestJobsTransactionSpansRepositories(t *testing.T) {
	t.Parallel()
	b := setup(t)
	repo := postgres.NewJobs(b.pool)
	snaps := postgres.NewSnapshots(b.pool)
	var id string
	err := repo.InTx(b.ctx, func(ctx context.Context) error {
		j, err := repo.CreateJob(ctx, jobs.New{CompanyID: "C1", Type: jobs.TypeSegmentSearch}, []byte(`{}`))
		id = j.ID
		require.NoError(t, err)
		_, _, err = snaps.Replace(ctx, j.ID, &rowSlice{rows: rows(2), failAt: -1}, 0)
		require.NoError(t, err)
		return errors.New("roll back")
	})
	require.ErrorContains(t, err, "roll back")
	_, err = repo.Job(b.ctx, id)
	require.True(t, errs.Is(err, errs.NotFound), "the job rolled back: %v", err)
	_, err = snaps.Header(b.ctx, id)
	require.True(t, errs.Is(err, errs.NotFound), "and the snapshot with it: %v", err)
}

// TestJobsTasks: task records, the fair queue's held heads and the
// reaper's requeue count.
func TestJobsTasks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	repo := postgres.NewJobs(b.pool)
	require.Error(t, repo.LockAdmission(b.ctx), "the admission lock outside a transaction would not hold")

	var ids []string
	for _, company := range []string{"A", "A", "B"} {
		j, err := repo.CreateJob(b.ctx, jobs.New{CompanyID: company, Type: jobs.TypeExport}, []byte(`{}`))
		require.NoError(t, err)
		require.NoError(t, repo.HoldTask(b.ctx, j.ID, jobs.TaskRecord{ID: j.ID + ":t", Queue: "exports", Type: "export:run", Payload: []byte("p")}))
		ids = append(ids, j.ID)
	}
	require.NoError(t, repo.HoldTask(b.ctx, ids[0], jobs.TaskRecord{ID: ids[0] + ":t", Queue: "other"}), "held twice: the first stands")
	heads, err := repo.HeldHeads(b.ctx, 1)
	require.NoError(t, err)
	require.Len(t, heads, 2, "each company's first")
	require.Equal(t, 1, heads[0].Rank)
	require.Equal(t, []byte("p"), heads[0].Payload)

	err = repo.InTx(b.ctx, func(ctx context.Context) error {
		require.NoError(t, repo.LockAdmission(ctx))
		return repo.MarkAdmitted(ctx, ids[0]+":t")
	})
	require.NoError(t, err)
	admitted, err := repo.TaskAdmitted(b.ctx, ids[0]+":t")
	require.NoError(t, err)
	require.True(t, admitted)
	inFlight, err := repo.AdmittedInFlight(b.ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"A": 1}, inFlight)
	pos, ahead, waiting, err := repo.FairPosition(b.ctx, ids[1])
	require.NoError(t, err)
	require.True(t, waiting)
	require.Equal(t, 1, pos)
	require.Equal(t, 1, ahead, "B's job goes first: A has one in flight")

	out, err := repo.Outstanding(b.ctx, 0)
	require.NoError(t, err)
	require.Len(t, out, 3)
	counted, err := repo.CountRequeue(b.ctx, ids[0]+":t", 0)
	require.NoError(t, err)
	require.True(t, counted)
	counted, err = repo.CountRequeue(b.ctx, ids[0]+":t", 0)
	require.NoError(t, err)
	require.False(t, counted, "a second reaper with the same view counts nothing")

	require.NoError(t, repo.TaskDone(b.ctx, ids[2]+":t"))
	out, err = repo.Outstanding(b.ctx, 0)
	require.NoError(t, err)
	require.Len(t, out, 2)
	n, err := repo.CancelActive(b.ctx)
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
}
