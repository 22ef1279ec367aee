package jobs_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/testenv"
	"github.com/reactivation/reactivation/tasks"
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
	store := jobs.NewStore(postgres.NewJobs(pool))
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

	r := jobs.NewReaper(d, zaptest.NewLogger(t))
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

// startedSync starts an admin full-sync job as a worker sees it: running,
// with one shard task enqueued through the dispatcher.
func startedSync(t *testing.T, b *fairBundle) (jobs.Job, string) {
	t.Helper()
	ctx := context.Background()
	job, err := b.dispatcher.Start(ctx, jobs.New{Type: jobs.TypeSyncFull, CreatedBy: "test"}, func(id string) (*asynq.Task, string, error) {
		return tasks.NewSyncPlanTask(tasks.SyncPlanPayload{JobPayload: tasks.JobPayload{JobID: id}})
	}, nil)
	require.NoError(t, err)
	_, err = b.store.Start(ctx, job.ID)
	require.NoError(t, err)
	_, planID, err := tasks.NewSyncPlanTask(tasks.SyncPlanPayload{JobPayload: tasks.JobPayload{JobID: job.ID}})
	require.NoError(t, err)
	require.NoError(t, b.inspector.DeleteTask(tasks.QueueSync, planID))
	require.NoError(t, b.dispatcher.TaskDone(ctx, planID))
	shard, shardID, err := tasks.NewSyncShardTask(tasks.SyncShardPayload{JobPayload: tasks.JobPayload{JobID: job.ID},
		Shard: 3, Generation: "g1", Lo: "C10", Hi: "C20"})
	require.NoError(t, err)
	require.NoError(t, b.dispatcher.Follow(ctx, job.ID, shard, shardID))
	return job, shardID
}

// TestReaperEnqueuesAVanishedTaskAgain: a running full sync's shard task
// vanishes from Redis (a failover lost it). The reaper enqueues it again,
// rebuilt from its job_tasks row with the same id and payload, instead of
// failing the sync; after MaxRequeues losses of the same task the job
// fails, saying why.
func TestReaperEnqueuesAVanishedTaskAgain(t *testing.T) {
	t.Parallel()
	b := setup(t, jobs.FairConfig{})
	ctx := context.Background()
	job, shardID := startedSync(t, b)
	want, err := b.inspector.GetTaskInfo(tasks.QueueSync, shardID)
	require.NoError(t, err)
	r := jobs.NewReaper(b.dispatcher, zaptest.NewLogger(t))
	r.Grace = 0

	failed, err := r.Reap(ctx)
	require.NoError(t, err)
	require.Empty(t, failed)
	for lost := 1; lost <= r.MaxRequeues; lost++ {
		require.NoError(t, b.inspector.DeleteTask(tasks.QueueSync, shardID), "the shard is in Redis (loss %d)", lost)
		time.Sleep(10 * time.Millisecond)
		failed, err := r.Reap(ctx)
		require.NoError(t, err)
		require.Empty(t, failed, "a vanished task is enqueued again, not failed")
		got, err := b.inspector.GetTaskInfo(tasks.QueueSync, shardID)
		require.NoError(t, err, "the same task id is back in Redis")
		require.Equal(t, want.Type, got.Type)
		require.JSONEq(t, string(want.Payload), string(got.Payload))
		require.Equal(t, want.MaxRetry, got.MaxRetry)
		require.Equal(t, want.Timeout, got.Timeout)
		j, err := b.store.GetAny(ctx, job.ID)
		require.NoError(t, err)
		require.Equal(t, jobs.Running, j.State)
	}
	// One loss more than the bound: the job fails with the reason.
	require.NoError(t, b.inspector.DeleteTask(tasks.QueueSync, shardID))
	time.Sleep(10 * time.Millisecond)
	failed, err = r.Reap(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{job.ID}, failed)
	j, err := b.store.GetAny(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, jobs.Failed, j.State)
	require.True(t, strings.HasPrefix(j.Error, jobs.RequeuedTooOftenReason), j.Error)
	require.Contains(t, j.Error, tasks.TypeSyncShard)
}

// TestReaperLeavesATaskALiveWorkerRuns: Redis lost the record of a task a
// worker is running (a failover after the task started). The worker's
// heartbeat tells the reaper, which neither enqueues it a second time nor
// fails the job; the handler's own success finishes it.
func TestReaperLeavesATaskALiveWorkerRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, jobs.FairConfig{})
	ctx := context.Background()
	job, shardID := startedSync(t, b)
	opt := b.rdb.Options()
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB},
		asynq.Config{Concurrency: 1, Queues: map[string]int{tasks.QueueSync: 1}, LogLevel: asynq.FatalLevel})
	started, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypeSyncShard, func(ctx context.Context, _ *asynq.Task) error {
		if runs.Add(1) == 1 {
			close(started)
		}
		<-release
		return b.dispatcher.TaskDone(ctx, shardID)
	})
	require.NoError(t, srv.Start(mux))
	t.Cleanup(srv.Shutdown)
	<-started
	// The new primary never heard of the task: neither its record nor its
	// place in the active list survived.
	require.NoError(t, b.rdb.Del(ctx, "asynq:{"+tasks.QueueSync+"}:t:"+shardID).Err())
	require.NoError(t, b.rdb.LRem(ctx, "asynq:{"+tasks.QueueSync+"}:active", 0, shardID).Err())
	_, err := b.inspector.GetTaskInfo(tasks.QueueSync, shardID)
	require.ErrorIs(t, err, asynq.ErrTaskNotFound)
	// asynq's heartbeat (every 5 s) lists the task among the worker's.
	require.Eventually(t, func() bool {
		servers, err := b.inspector.Servers()
		return err == nil && len(servers) == 1 && len(servers[0].ActiveWorkers) == 1
	}, 15*time.Second, 100*time.Millisecond)

	r := jobs.NewReaper(b.dispatcher, zaptest.NewLogger(t))
	r.Grace = 0
	failed, err := r.Reap(ctx)
	require.NoError(t, err)
	require.Empty(t, failed)
	_, err = b.inspector.GetTaskInfo(tasks.QueueSync, shardID)
	require.ErrorIs(t, err, asynq.ErrTaskNotFound, "not enqueued a second time while its worker runs it")
	close(release)
	require.Eventually(t, func() bool {
		out, err := b.repo.Outstanding(ctx, 0)
		for _, o := range out {
			if o.Task.ID == shardID {
				return false
			}
		}
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	failed, err = r.Reap(ctx)
	require.NoError(t, err)
	require.Empty(t, failed)
	j, err := b.store.GetAny(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, jobs.Running, j.State, "the job waits for its other work, as before")
	require.Equal(t, int32(1), runs.Load(), "the shard ran once")
}
