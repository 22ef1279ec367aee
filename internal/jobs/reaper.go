package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"
)

// VanishedReason is the error of a job whose tasks Redis no longer has.
const VanishedReason = "its task vanished from the queue (Redis restarted without its data?); start the job again"

// Reaper fails jobs whose outstanding tasks no longer exist in asynq, so a
// Redis that lost its data never leaves a job queued forever.
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

// Reap checks every queued or running job once and fails those whose tasks
// all vanished. It returns the ids of the jobs it failed.
func (r *Reaper) Reap(ctx context.Context) ([]string, error) {
	rows, err := r.store.pool.Query(ctx, `
		SELECT j.id, t.task_id, t.queue
		FROM jobs j JOIN job_tasks t ON t.job_id = j.id AND NOT t.done
		WHERE j.state IN ('queued', 'running') AND t.enqueued_at < now() - $1::interval
		  AND NOT EXISTS (SELECT 1 FROM job_tasks y WHERE y.job_id = j.id AND NOT y.done AND y.enqueued_at >= now() - $1::interval)
		ORDER BY j.id`, r.Grace.String())
	if err != nil {
		return nil, fmt.Errorf("reap: %w", err)
	}
	type ref struct{ task, queue string }
	outstanding := map[string][]ref{}
	var order []string
	for rows.Next() {
		var job string
		var t ref
		if err := rows.Scan(&job, &t.task, &t.queue); err != nil {
			rows.Close()
			return nil, err
		}
		if _, ok := outstanding[job]; !ok {
			order = append(order, job)
		}
		outstanding[job] = append(outstanding[job], t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var failed []string
	for _, job := range order {
		alive := false
		for _, t := range outstanding[job] {
			_, err := r.inspector.GetTaskInfo(t.queue, t.task)
			if err == nil {
				alive = true
				break
			}
			if !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
				return failed, fmt.Errorf("reap: inspect task %s: %w", t.task, err)
			}
		}
		if alive {
			continue
		}
		ok, err := r.store.Fail(ctx, job, VanishedReason)
		if err != nil {
			return failed, err
		}
		if ok {
			r.log.Warn("job failed: its tasks vanished", zap.String("job_id", job))
			failed = append(failed, job)
		}
	}
	return failed, nil
}
