package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"
)

// VanishedReason is the error of a job whose tasks Redis no longer has.
const VanishedReason = "its task vanished from the queue (Redis restarted without its data?); start the job again"

// ArchivedReason prefixes the error of a job whose last task attempt asynq
// archived (retries used up, a panic, a worker killed mid-task); the
// archived task's last error follows.
const ArchivedReason = "its task was archived after its last attempt"

// Reaper fails jobs whose outstanding tasks no longer exist in asynq or
// were archived (asynq will not run them again), so a Redis that lost its
// data or a task that kept crashing never leaves a job queued or running
// forever, holding the one-running-sync lock. Tasks held in the fair queue
// (not yet admitted) live in PostgreSQL and are never reaped.
type Reaper struct {
	store     *Store
	inspector *asynq.Inspector
	log       *zap.Logger
	// Grace is how old a task must be before its absence counts; it covers
	// the moment between recording a task and enqueuing it.
	Grace time.Duration
}

// NewReaper returns a reaper with a 30 s grace period.
func NewReaper(store *Store, inspector *asynq.Inspector, log *zap.Logger) *Reaper {
	return &Reaper{store: store, inspector: inspector, log: log, Grace: 30 * time.Second}
}

// Reap checks every queued or running job once and fails those none of
// whose outstanding tasks will run again (vanished or archived). It returns
// the ids of the jobs it failed.
//
// A job that never started and whose only outstanding tasks are fair-queue
// tasks that vanished after admission (Redis restarted empty, or a failover
// lost writes the old primary had not replicated) is not failed: its tasks
// go back to the fair queue and are admitted again under the same ids, so
// the job still runs, once.
func (r *Reaper) Reap(ctx context.Context) ([]string, error) {
	rows, err := r.store.pool.Query(ctx, `
		SELECT j.id, j.state, t.task_id, t.queue, t.held
		FROM jobs j JOIN job_tasks t ON t.job_id = j.id AND NOT t.done AND NOT (t.held AND t.admitted_at IS NULL)
		WHERE j.state IN ('queued', 'running') AND coalesce(t.admitted_at, t.enqueued_at) < now() - $1::interval
		  AND NOT EXISTS (SELECT 1 FROM job_tasks y WHERE y.job_id = j.id AND NOT y.done
		                  AND (coalesce(y.admitted_at, y.enqueued_at) >= now() - $1::interval OR (y.held AND y.admitted_at IS NULL)))
		ORDER BY j.id`, r.Grace.String())
	if err != nil {
		return nil, fmt.Errorf("reap: %w", err)
	}
	type ref = struct {
		task, queue string
		held        bool
	}
	outstanding := map[string][]ref{}
	states := map[string]State{}
	var order []string
	for rows.Next() {
		var job string
		var state State
		var t ref
		if err := rows.Scan(&job, &state, &t.task, &t.queue, &t.held); err != nil {
			rows.Close()
			return nil, err
		}
		if _, ok := outstanding[job]; !ok {
			order = append(order, job)
		}
		states[job] = state
		outstanding[job] = append(outstanding[job], t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var failed []string
	for _, job := range order {
		reason, dead, archived, err := r.dead(outstanding[job])
		if err != nil {
			return failed, err
		}
		if !dead {
			continue
		}
		if states[job] == Queued && !archived && !slices.ContainsFunc(outstanding[job], func(t ref) bool { return !t.held }) {
			if err := r.requeue(ctx, job); err != nil {
				return failed, err
			}
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

// dead reports whether none of a job's outstanding tasks will run again:
// each is gone from Redis or archived. The reason names an archived
// task's last error when there is one.
func (r *Reaper) dead(refs []struct {
	task, queue string
	held        bool
}) (reason string, dead, archived bool, err error) {
	reason = VanishedReason
	for _, t := range refs {
		info, err := r.inspector.GetTaskInfo(t.queue, t.task)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound):
			continue
		case err != nil:
			return "", false, false, fmt.Errorf("reap: inspect task %s: %w", t.task, err)
		case info.State != asynq.TaskStateArchived:
			return "", false, false, nil
		}
		archived = true
		reason = fmt.Sprintf("%s (%s): %s", ArchivedReason, info.Type, truncate(info.LastErr, 500))
	}
	return reason, true, archived, nil
}

// requeue hands a never-started job's vanished fair-queue tasks back to
// the fair queue.
func (r *Reaper) requeue(ctx context.Context, job string) error {
	tag, err := r.store.pool.Exec(ctx, `UPDATE job_tasks t SET admitted_at = NULL
		FROM jobs j WHERE j.id = t.job_id AND t.job_id = $1 AND t.held AND NOT t.done AND j.state = 'queued'`, job)
	if err != nil {
		return fmt.Errorf("reap: requeue job %s: %w", job, err)
	}
	if tag.RowsAffected() > 0 {
		r.log.Warn("job requeued: its admitted task vanished from Redis before it started", zap.String("job_id", job))
	}
	return nil
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
