package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
)

// TestANewAttemptWaitsForTheOldOnesChunk: an older attempt's chunk being
// inserted when a new attempt begins (asynq handing the task to another
// worker mid-run) is deleted by the new attempt once it commits, so the
// new attempt's chunk of the same number is written; the older attempt
// may write no more.
func TestANewAttemptWaitsForTheOldOnesChunk(t *testing.T) {
	t.Parallel()
	b := setup(t)
	repo := postgres.NewExports(b.pool)
	id := b.job(t, "COMP001")
	_, err := b.pool.Exec(b.ctx, "UPDATE jobs SET state = 'running' WHERE id = $1", id)
	require.NoError(t, err)
	require.NoError(t, repo.InsertExport(b.ctx, export.Record{
		Job: jobs.Job{ID: id, CompanyID: "COMP001", CreatedAt: time.Now()}, Filter: []byte(`{}`),
		Options: export.Options{Format: "csv", Fields: []string{"customerId"}}, FileName: "f.csv", ExpiresAt: time.Now().Add(time.Hour),
	}))
	first, err := repo.BeginAttempt(b.ctx, id)
	require.NoError(t, err)

	// The older attempt's chunk, inserted in a transaction still open.
	inserted, commit := make(chan error, 1), make(chan struct{})
	tx := postgres.NewTx(b.pool)
	done := make(chan error, 1)
	go func() {
		done <- tx.InTx(b.ctx, func(ctx context.Context) error {
			err := repo.InsertChunk(ctx, id, first, 0, []byte("old"))
			inserted <- err
			<-commit
			return err
		})
	}()
	require.NoError(t, <-inserted)
	began := make(chan error, 1)
	var second int
	go func() {
		var err error
		second, err = repo.BeginAttempt(b.ctx, id)
		began <- err
	}()
	select {
	case err := <-began:
		t.Fatalf("the new attempt began while the old one's chunk was being written (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(commit)
	require.NoError(t, <-done)
	require.NoError(t, <-began)
	require.Equal(t, first+1, second)

	require.NoError(t, repo.InsertChunk(b.ctx, id, second, 0, []byte("new")),
		"the old attempt's chunk 0 is gone: the new one's is written")
	data, ok, err := repo.Chunk(b.ctx, id, 0)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "new", string(data))
	require.ErrorIs(t, repo.InsertChunk(b.ctx, id, first, 1, []byte("late")), export.ErrStale)
}
