package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestReaperFailsArchivedJob: a sync job whose only task failed its last
// attempt (retry 0) is archived by asynq; the reaper fails the job with
// the task's last error, and the one-running-sync lock is free again.
func TestReaperFailsArchivedJob(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	_, err := postgres.Migrate(ctx, pool)
	require.NoError(t, err)
	opt := testenv.RedisOptions(t)
	conn := asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB, Password: opt.Password}
	client := asynq.NewClient(conn)
	defer client.Close()
	inspector := asynq.NewInspector(conn)
	defer inspector.Close()
	store := jobs.NewStore(pool)
	d := jobs.NewDispatcher(store, client, inspector, jobs.FairConfig{})

	start := func() (jobs.Job, error) {
		return d.Start(ctx, jobs.New{Type: jobs.TypeSyncIncremental, CreatedBy: "test"}, func(id string) (*asynq.Task, string, error) {
			return asynq.NewTask("test:crash", nil, asynq.TaskID(id+":crash"), asynq.MaxRetry(0), asynq.Queue("default")), id + ":crash", nil
		}, nil)
	}
	job, err := start()
	require.NoError(t, err)
	_, err = start()
	require.Error(t, err, "one incremental sync at a time")

	srv := asynq.NewServer(conn, asynq.Config{Concurrency: 1, Queues: map[string]int{"default": 1}, LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:crash", func(context.Context, *asynq.Task) error { panic("out of memory, say") })
	require.NoError(t, srv.Start(mux))
	require.Eventually(t, func() bool {
		info, err := inspector.GetTaskInfo("default", job.ID+":crash")
		return err == nil && info.State == asynq.TaskStateArchived
	}, 30*time.Second, 100*time.Millisecond)
	srv.Shutdown()

	r := jobs.NewReaper(store, inspector, zaptest.NewLogger(t))
	r.Grace = 0
	failed, err := r.Reap(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{job.ID}, failed)
	got, err := store.GetAny(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, jobs.Failed, got.State)
	require.True(t, strings.HasPrefix(got.Error, jobs.ArchivedReason), got.Error)
	require.Contains(t, got.Error, "out of memory, say")

	next, err := start()
	require.NoError(t, err, "the sync lock was released")
	require.NotEqual(t, job.ID, next.ID)
	_, err = r.Reap(ctx)
	require.NoError(t, err)
	got, err = store.GetAny(ctx, next.ID)
	require.NoError(t, err)
	require.False(t, got.State.Final(), "a job whose task is alive is left alone")
}
