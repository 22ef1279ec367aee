package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/testenv"
	"github.com/reactivation/reactivation/tasks"
)

type fairBundle struct {
	repo       *postgres.Jobs
	store      *jobs.Store
	dispatcher *jobs.Dispatcher
	inspector  *asynq.Inspector
	client     *asynq.Client
	rdb        *redis.Client
	cfg        jobs.FairConfig
}

// setup gives the test a fresh schema, a Redis database of its own and a
// dispatcher with cfg.
func setup(t *testing.T, cfg jobs.FairConfig) *fairBundle {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Postgres(t)
	_, err := postgres.Migrate(ctx, pool)
	require.NoError(t, err)
	opt := testenv.RedisOptions(t)
	conn := asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB}
	client := asynq.NewClient(conn)
	t.Cleanup(func() { client.Close() })
	inspector := asynq.NewInspector(conn)
	t.Cleanup(func() { inspector.Close() })
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	repo := postgres.NewJobs(pool)
	store := jobs.NewStore(repo)
	return &fairBundle{repo: repo, store: store, dispatcher: jobs.NewDispatcher(store, client, inspector, cfg),
		inspector: inspector, client: client, rdb: rdb, cfg: cfg}
}

// export starts an export job of company.
func (b *fairBundle) export(t *testing.T, company string) jobs.Job {
	t.Helper()
	j, err := b.dispatcher.Start(context.Background(), jobs.New{CompanyID: company, Type: jobs.TypeExport},
		func(id string) (*asynq.Task, string, error) {
			return tasks.NewExportTask(tasks.ExportPayload{JobPayload: tasks.JobPayload{JobID: id}})
		}, nil)
	require.NoError(t, err)
	return j
}

// pending lists the job ids asynq holds in the export queue.
func (b *fairBundle) pending(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	list, err := b.inspector.ListPendingTasks(tasks.QueueExport, asynq.PageSize(1000))
	if err != nil {
		require.ErrorIs(t, err, asynq.ErrQueueNotFound)
	}
	for _, ti := range list {
		out[tasks.JobIDOf(ti.Payload)] = true
	}
	return out
}

// finish takes a job's task out of asynq and marks the job succeeded, as a
// worker would.
func (b *fairBundle) finish(t *testing.T, j jobs.Job) {
	t.Helper()
	_, taskID, err := tasks.NewExportTask(tasks.ExportPayload{JobPayload: tasks.JobPayload{JobID: j.ID}})
	require.NoError(t, err)
	require.NoError(t, b.inspector.DeleteTask(tasks.QueueExport, taskID))
	ok, err := b.store.Succeed(context.Background(), j.ID, map[string]int{"rows": 1})
	require.NoError(t, err)
	require.True(t, ok)
}

func TestFairOrderLetsASmallCompanyThrough(t *testing.T) {
	t.Parallel()
	b := setup(t, jobs.FairConfig{Capacity: 4})
	ctx := context.Background()
	var a []jobs.Job
	for range 10 {
		a = append(a, b.export(t, "A"))
	}
	first := b.pending(t)
	require.Len(t, first, 4, "A alone fills every slot")
	for _, j := range a[:4] {
		require.True(t, first[j.ID], "A's oldest jobs go first")
	}
	late := b.export(t, "B")
	require.False(t, b.pending(t)[late.ID], "no free slot yet")

	pos, waiting, err := b.dispatcher.Fair().Position(ctx, late)
	require.NoError(t, err)
	require.True(t, waiting)
	require.Equal(t, 1, pos.QueuePosition)
	require.Equal(t, 0, pos.AheadOfYou, "B has nothing running: it goes before A's fifth")
	pos, waiting, err = b.dispatcher.Fair().Position(ctx, a[9])
	require.NoError(t, err)
	require.True(t, waiting)
	require.Equal(t, 6, pos.QueuePosition)
	require.Equal(t, 6, pos.AheadOfYou, "A's five older waiting jobs and B's")

	b.finish(t, a[0])
	admitted, err := b.dispatcher.Fair().Admit(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{late.ID}, admitted, "the freed slot goes to B, not to A's fifth job")
	_, waiting, err = b.dispatcher.Fair().Position(ctx, late)
	require.NoError(t, err)
	require.False(t, waiting)

	b.finish(t, a[1])
	admitted, err = b.dispatcher.Fair().Admit(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{a[4].ID}, admitted, "then A again, in order")
}

func TestFairCapHoldsAcrossAdmitters(t *testing.T) {
	t.Parallel()
	b := setup(t, jobs.FairConfig{Capacity: 6, MaxInFlight: 2})
	ctx := context.Background()
	var a []jobs.Job
	for range 8 {
		a = append(a, b.export(t, "A"))
	}
	c := b.export(t, "C")
	require.Len(t, b.pending(t), 3, "A holds its cap of 2, C its one job")
	require.True(t, b.pending(t)[c.ID])

	// Four admitters (as in four processes) race while A's jobs finish one
	// by one: A never has more than its cap admitted.
	others := make([]*jobs.Dispatcher, 4)
	for i := range others {
		others[i] = jobs.NewDispatcher(b.store, b.client, b.inspector, b.cfg)
	}
	for done := 0; done < len(a); {
		var wg sync.WaitGroup
		for _, d := range others {
			wg.Go(func() {
				_, err := d.Fair().Admit(ctx)
				require.NoError(t, err)
			})
		}
		wg.Wait()
		running := 0
		for _, j := range a {
			if b.pending(t)[j.ID] {
				running++
			}
		}
		require.LessOrEqual(t, running, 2, "cap of 2 for A")
		for _, j := range a {
			if b.pending(t)[j.ID] {
				b.finish(t, j)
				done++
				break
			}
		}
	}
	for _, j := range a {
		got, err := b.store.GetAny(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, jobs.Succeeded, got.State, "every job of A ran")
	}
}

func TestHeldJobsLiveInPostgres(t *testing.T) {
	t.Parallel()
	b := setup(t, jobs.FairConfig{Capacity: 2})
	ctx := context.Background()
	running := b.export(t, "A")
	admitted := b.export(t, "A")
	held := b.export(t, "A")
	require.Equal(t, map[string]bool{running.ID: true, admitted.ID: true}, b.pending(t))
	_, err := b.store.Start(ctx, running.ID) // a worker took it
	require.NoError(t, err)

	// Redis restarts empty: both admitted tasks are gone, the held one is not.
	require.NoError(t, b.rdb.FlushDB(ctx).Err())
	reaper := jobs.NewReaper(b.dispatcher, zaptest.NewLogger(t))
	reaper.Grace = 0
	time.Sleep(10 * time.Millisecond)
	failed, err := reaper.Reap(ctx)
	require.NoError(t, err)
	require.Empty(t, failed, "no job fails for a task Redis lost")

	// Both admitted tasks are enqueued again under their ids and keep
	// their slots; the held one waits for a slot to free.
	inRedis := func(j jobs.Job) bool {
		// asynq's inspector lists queues a client announced before the
		// flush, so look at the task's own key.
		_, taskID, err := tasks.NewExportTask(tasks.ExportPayload{JobPayload: tasks.JobPayload{JobID: j.ID}})
		require.NoError(t, err)
		n, err := b.rdb.Exists(ctx, "asynq:{"+tasks.QueueExport+"}:t:"+taskID).Result()
		require.NoError(t, err)
		return n == 1
	}
	require.True(t, inRedis(running), "the started job's task went to the new Redis")
	require.True(t, inRedis(admitted), "the admitted job's task went to the new Redis")
	require.False(t, inRedis(held))
	admittedNow, err := b.dispatcher.Fair().Admit(ctx)
	require.NoError(t, err)
	require.Empty(t, admittedNow, "both slots are still taken")
	// The flush emptied asynq's list of queues, which this process's client
	// announced before it: announce it again for the inspector.
	require.NoError(t, b.rdb.SAdd(ctx, "asynq:queues", tasks.QueueExport).Err())
	b.finish(t, running)
	admittedNow, err = b.dispatcher.Fair().Admit(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{held.ID}, admittedNow)
	require.True(t, inRedis(held))
	for _, j := range []jobs.Job{admitted, held} {
		got, err := b.store.GetAny(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, jobs.Queued, got.State)
	}
}

func TestCanceledHeldJobNeverRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, jobs.FairConfig{Capacity: 1})
	ctx := context.Background()
	first := b.export(t, "A")
	second := b.export(t, "A")
	_, err := b.dispatcher.Cancel(ctx, jobs.Tenant{CompanyID: "A"}, second.ID, "not needed")
	require.NoError(t, err)
	b.finish(t, first)
	admitted, err := b.dispatcher.Fair().Admit(ctx)
	require.NoError(t, err)
	require.Empty(t, admitted)
	require.Empty(t, b.pending(t))
}
