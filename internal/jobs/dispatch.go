package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/tasks"
)

// TaskFunc builds the first task of a new job from its id; it returns the
// task and the task id it carries.
type TaskFunc func(jobID string) (*asynq.Task, string, error)

// Dispatcher creates jobs and enqueues their tasks, recording each task so
// the reaper can tell when Redis has lost it. Safe for concurrent use.
type Dispatcher struct {
	store     *Store
	client    *asynq.Client
	inspector *asynq.Inspector
	fair      *Admitter
}

// NewDispatcher returns a dispatcher whose per-company jobs are admitted
// fairly with fair's settings.
func NewDispatcher(store *Store, client *asynq.Client, inspector *asynq.Inspector, fair FairConfig) *Dispatcher {
	return &Dispatcher{store: store, client: client, inspector: inspector,
		fair: NewAdmitter(store, client, inspector, fair)}
}

// Store returns the job store.
func (d *Dispatcher) Store() *Store { return d.store }

// Fair returns the admitter of per-company jobs.
func (d *Dispatcher) Fair() *Admitter { return d.fair }

// Before runs in the transaction that creates job, carried by ctx: what a
// repository writes with ctx (a row of the caller's) commits with the job or
// not at all.
type Before func(ctx context.Context, job Job) error

// Start creates a queued job and enqueues its first task. before, if not
// nil, runs in the job's transaction (to claim a lock or write a row of the
// caller's). When Redis refuses the task the job is failed and the error is
// Unavailable.
//
// The first task of a company's job of a fair type (tasks.Fair) is held in
// PostgreSQL instead and admitted to asynq in fair order across companies;
// the job stays queued until a slot of its company frees.
func (d *Dispatcher) Start(ctx context.Context, n New, first TaskFunc, before Before) (Job, error) {
	var job Job
	var task *asynq.Task
	var taskID string
	var held bool
	err := d.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if job, err = d.store.Create(ctx, n); err != nil {
			return err
		}
		if before != nil {
			if err := before(ctx, job); err != nil {
				return err
			}
		}
		if task, taskID, err = first(job.ID); err != nil {
			return err
		}
		rec := recordOf(task, taskID)
		if held = n.CompanyID != "" && tasks.Fair(task.Type()); held {
			if err := d.store.repo.HoldTask(ctx, job.ID, rec); err != nil {
				return fmt.Errorf("hold task %s: %w", taskID, err)
			}
			return nil
		}
		return d.recordTask(ctx, job.ID, rec)
	})
	if err != nil {
		return Job{}, err
	}
	if held {
		if _, err := d.fair.Admit(ctx); err != nil {
			if err := d.unqueue(ctx, job.ID, taskID, err); err != nil {
				return Job{}, err
			}
		}
		return job, nil
	}
	if _, err := d.client.EnqueueContext(ctx, task); err != nil {
		_, _ = d.store.Fail(context.WithoutCancel(ctx), job.ID, "could not enqueue: "+err.Error())
		return Job{}, &errs.Error{Code: errs.Unavailable, Message: "the task queue (Redis) is unavailable", Err: err}
	}
	return job, nil
}

// unqueue fails a held job whose admission could not reach Redis, unless
// it was admitted before the failure: the caller hears Unavailable and no
// job runs behind its back.
func (d *Dispatcher) unqueue(ctx context.Context, jobID, taskID string, cause error) error {
	ctx = context.WithoutCancel(ctx)
	admitted, err := d.store.repo.TaskAdmitted(ctx, taskID)
	if err != nil {
		return errors.Join(cause, err)
	}
	if admitted {
		return nil
	}
	_, _ = d.store.Fail(ctx, jobID, "could not enqueue: the task queue is unavailable")
	return &errs.Error{Code: errs.Unavailable, Message: "the task queue (Redis) is unavailable", Err: cause}
}

// Follow enqueues a further task of a running job. Enqueuing the same task
// id twice is not an error: the first one stands.
func (d *Dispatcher) Follow(ctx context.Context, jobID string, task *asynq.Task, taskID string) error {
	if err := d.recordTask(ctx, jobID, recordOf(task, taskID)); err != nil {
		return err
	}
	_, err := d.client.EnqueueContext(ctx, task)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", task.Type(), err)
	}
	return nil
}

// TaskDone marks a task finished, so the reaper no longer looks for it.
func (d *Dispatcher) TaskDone(ctx context.Context, taskID string) error {
	return d.store.repo.TaskDone(ctx, taskID)
}

// recordOf is the record of a task, with its payload: the admitter
// rebuilds a held task from it, the reaper a task Redis lost.
func recordOf(task *asynq.Task, taskID string) TaskRecord {
	return TaskRecord{ID: taskID, Queue: queueOf(task), Type: task.Type(), Payload: task.Payload()}
}

// recordTask records a task going straight to asynq.
func (d *Dispatcher) recordTask(ctx context.Context, jobID string, t TaskRecord) error {
	if err := d.store.repo.RecordTask(ctx, jobID, t); err != nil {
		return fmt.Errorf("record task %s: %w", t.ID, err)
	}
	return nil
}

// Cancel cancels a job the tenant can see: the row becomes canceled (so
// workers drop its remaining tasks and long handlers stop between pages),
// queued tasks are deleted from Redis and running ones are signalled. A
// job already final is a Conflict.
func (d *Dispatcher) Cancel(ctx context.Context, t Tenant, id, reason string) (Job, error) {
	if _, err := d.store.Get(ctx, t, id); err != nil {
		return Job{}, err
	}
	ok, err := d.store.Cancel(ctx, id, reason)
	if err != nil {
		return Job{}, err
	}
	if !ok {
		job, _ := d.store.Get(ctx, t, id)
		return job, errs.E(errs.Conflict, "job %s is already %s", id, job.State)
	}
	refs, err := d.store.repo.Tasks(ctx, id)
	if err != nil {
		return Job{}, fmt.Errorf("cancel job %s: %w", id, err)
	}
	for _, r := range refs {
		if err := d.inspector.DeleteTask(r.Queue, r.ID); err != nil {
			// Active (or already gone): ask its worker to stop.
			_ = d.inspector.CancelProcessing(r.ID)
		}
	}
	return d.store.Get(ctx, t, id)
}

func queueOf(task *asynq.Task) string { return tasks.QueueOf(task.Type()) }
