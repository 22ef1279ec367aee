package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/tasks"
)

// VanishedReason is the error of a job whose tasks Redis no longer has and
// that cannot be enqueued again (a task recorded without its payload).
const VanishedReason = "its task vanished from the queue (Redis restarted without its data?); start the job again"

// RequeuedTooOftenReason prefixes the error of a job one of whose tasks
// vanished from Redis more often than the reaper re-enqueues a task.
const RequeuedTooOftenReason = "its task kept vanishing from the queue"

// ArchivedReason prefixes the error of a job whose last task attempt asynq
// archived (retries used up, a panic, a worker killed mid-task); the
// archived task's last error follows.
const ArchivedReason = "its task was archived after its last attempt"

// Reaper watches the tasks of unfinished jobs. A task Redis lost (a
// restart without data, a Sentinel failover that lost the writes the old
// primary had not replicated) is enqueued again, rebuilt from its job_tasks
// row under the same id, so the job still runs, once: every handler is
// idempotent, and asynq refuses a second task with the id. A job fails
// only when none of its tasks will run again: archived by asynq (retries
// used up), or vanished more than MaxRequeues times. Tasks held in the fair
// queue (not yet admitted) live in PostgreSQL and are never reaped.
type Reaper struct {
	store     *Store
	client    *asynq.Client
	inspector *asynq.Inspector
	log       *zap.Logger
	// Grace is how old a task must be before its absence counts; it covers
	// the moment between recording a task and enqueuing it (default 30 s).
	Grace time.Duration
	// MaxRequeues is how many times one task is enqueued again after
	// vanishing; the next time it vanishes its job fails with
	// RequeuedTooOftenReason (default 3).
	MaxRequeues int
}

// NewReaper returns a reaper of d's jobs that re-enqueues through d's
// client, with the default grace and requeue bound.
func NewReaper(d *Dispatcher, log *zap.Logger) *Reaper {
	return &Reaper{store: d.store, client: d.client, inspector: d.inspector, log: log, Grace: 30 * time.Second, MaxRequeues: 3}
}

// Reap checks the outstanding tasks of every queued or running job once.
// It re-enqueues the tasks Redis lost, and fails the jobs none of whose
// tasks will run again. It returns the ids of the jobs it failed.
//
// A lost task is not lost while a live worker runs it: asynq's heartbeat
// tells the new primary after a failover, so a handler still running is
// never doubled. A lost fair-queue task keeps its admission: it is
// enqueued again in its company's slot.
func (r *Reaper) Reap(ctx context.Context) ([]string, error) {
	all, err := r.store.repo.Outstanding(ctx, r.Grace)
	if err != nil {
		return nil, fmt.Errorf("reap: %w", err)
	}
	var failed []string
	var live map[string]bool
	running := func(task string) (bool, error) {
		if live == nil {
			var err error
			if live, err = r.liveTasks(); err != nil {
				return false, err
			}
		}
		return live[task], nil
	}
	for start := 0; start < len(all); {
		end := start + 1
		for end < len(all) && all[end].Job == all[start].Job {
			end++
		}
		job := all[start].Job
		reason, fail, err := r.reapJob(ctx, all[start:end], running)
		if err != nil {
			return failed, err
		}
		start = end
		if !fail {
			continue
		}
		ok, err := r.store.Fail(ctx, job, reason)
		if err != nil {
			return failed, err
		}
		if ok {
			r.log.Warn("job failed: none of its tasks will run again", zap.String("job_id", job), zap.String("reason", reason))
			failed = append(failed, job)
		}
	}
	return failed, nil
}

// reapJob looks at one job's outstanding tasks: it re-enqueues those that
// vanished, within their bound, and reports whether the job must fail, and
// why. running reports whether a live worker runs a task.
func (r *Reaper) reapJob(ctx context.Context, ts []Outstanding, running func(task string) (bool, error)) (reason string, fail bool, err error) {
	alive := false
	reason = VanishedReason
	for _, t := range ts {
		if t.Young || (t.Held && !t.Admitted) {
			alive = true // just enqueued, or waiting in the fair queue
			continue
		}
		info, err := r.inspector.GetTaskInfo(t.Task.Queue, t.Task.ID)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound):
		case err != nil:
			return "", false, fmt.Errorf("reap: inspect task %s: %w", t.Task.ID, err)
		case info.State == asynq.TaskStateArchived:
			reason = fmt.Sprintf("%s (%s): %s", ArchivedReason, info.Type, truncate(info.LastErr, 500))
			continue
		default:
			alive = true
			continue
		}
		if live, err := running(t.Task.ID); err != nil {
			return "", false, err
		} else if live {
			alive = true // its worker still runs it; Redis lost only the record
			continue
		}
		task, id, err := tasks.Rebuild(t.Task.Type, t.Task.Payload)
		if t.Task.Payload == nil || err != nil || id != t.Task.ID {
			continue // recorded without its payload, or not ours to rebuild
		}
		if t.Requeues >= r.MaxRequeues {
			return fmt.Sprintf("%s (%s vanished %d times; Redis lost it: a restart without data, or a failover); start the job again",
				RequeuedTooOftenReason, t.Task.Type, t.Requeues+1), true, nil
		}
		if err := r.requeue(ctx, t, task); err != nil {
			return "", false, err
		}
		alive = true
	}
	return reason, !alive, nil
}

// requeue enqueues a vanished task again under its id, then counts it.
// A fair-queue task keeps its admission (and its company's slot). If asynq
// refuses the id, the task is still there (the inspector could not see its
// queue, say after a restart emptied asynq's list of queues): nothing is
// counted. Two reapers racing on one task count it once.
func (r *Reaper) requeue(ctx context.Context, t Outstanding, task *asynq.Task) error {
	_, err := r.client.EnqueueContext(ctx, task)
	if isDuplicateTask(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reap: enqueue task %s again: %w", t.Task.ID, err)
	}
	counted, err := r.store.repo.CountRequeue(ctx, t.Task.ID, t.Requeues)
	if err != nil {
		return fmt.Errorf("reap: requeue task %s: %w", t.Task.ID, err)
	}
	if counted {
		metrics.TasksRequeued.WithLabelValues(t.Task.Type).Inc()
		r.log.Warn("task enqueued again: it vanished from Redis", zap.String("job_id", t.Job), zap.String("task_id", t.Task.ID),
			zap.String("task_type", t.Task.Type), zap.Int("requeues", t.Requeues+1))
	}
	return nil
}

// liveTasks returns the ids of the tasks live workers are running, from
// the heartbeats asynq's servers write every few seconds.
func (r *Reaper) liveTasks() (map[string]bool, error) {
	servers, err := r.inspector.Servers()
	if err != nil {
		return nil, fmt.Errorf("reap: worker heartbeats: %w", err)
	}
	live := map[string]bool{}
	for _, s := range servers {
		for _, w := range s.ActiveWorkers {
			live[w.TaskID] = true
		}
	}
	return live, nil
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
