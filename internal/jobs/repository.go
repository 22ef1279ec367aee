package jobs

import (
	"context"
	"time"
)

// Repository keeps job rows and the task records of each job (what the
// reaper and the fair admitter read). The postgres adapter implements it.
// Methods that find no row return errs.NotFound.
type Repository interface {
	// InTx runs f in one transaction; every Repository call (and every
	// other adapter's on the same database) made with the context f gets
	// joins it.
	InTx(ctx context.Context, f func(ctx context.Context) error) error

	// CreateJob inserts a queued job with params (JSON) and returns it.
	CreateJob(ctx context.Context, n New, params []byte) (Job, error)
	// Job returns the job id.
	Job(ctx context.Context, id string) (Job, error)
	// ListJobs returns the tenant's jobs, newest first (see ListOptions;
	// o.Limit is set).
	ListJobs(ctx context.Context, t Tenant, o ListOptions) ([]Job, error)
	// JobState returns the state of the job id.
	JobState(ctx context.Context, id string) (State, error)
	// MarkRunning marks a queued job running; others are left alone.
	MarkRunning(ctx context.Context, id string) error
	// SetProgress records the progress of a job not final yet.
	SetProgress(ctx context.Context, id string, p Progress) error
	// Finish moves a job not final yet to the final state with result
	// (JSON, nil keeps it) and reason, and marks its tasks done. It
	// reports false when the job was final already.
	Finish(ctx context.Context, id string, state State, result []byte, reason string) (bool, error)
	// CancelActive cancels every job not final yet and counts them (a
	// benchmark's clean slate).
	CancelActive(ctx context.Context) (int64, error)

	// RecordTask records a task enqueued for jobID; recording a task id
	// twice keeps the first.
	RecordTask(ctx context.Context, jobID string, t TaskRecord) error
	// HoldTask records a fair task with its payload for the admitter;
	// holding a task id twice keeps the first.
	HoldTask(ctx context.Context, jobID string, t TaskRecord) error
	// TaskAdmitted reports whether the held task taskID was admitted.
	TaskAdmitted(ctx context.Context, taskID string) (bool, error)
	// TaskDone marks the task taskID finished.
	TaskDone(ctx context.Context, taskID string) error
	// Tasks returns the tasks recorded for jobID.
	Tasks(ctx context.Context, jobID string) ([]TaskRecord, error)

	// LockAdmission takes the lock every admitter holds for the rest of
	// the transaction of ctx: admissions of all processes run one at a
	// time.
	LockAdmission(ctx context.Context) error
	// AdmittedInFlight counts each company's admitted jobs not final yet.
	AdmittedInFlight(ctx context.Context) (map[string]int, error)
	// HeldHeads returns up to n of each company's oldest held tasks not
	// admitted yet, with their rank in the company's queue (1 = next),
	// ordered by rank then age.
	HeldHeads(ctx context.Context, n int) ([]HeldTask, error)
	// MarkAdmitted records that the held task taskID was handed to asynq.
	MarkAdmitted(ctx context.Context, taskID string) error
	// FairPosition returns where the held job jobID stands in the fair
	// order (see Position), false when it is not waiting there.
	FairPosition(ctx context.Context, jobID string) (queuePosition, aheadOfYou int, waiting bool, err error)
	// RecentDuration is the mean run time of the last succeeded jobs of
	// type typ, false without any.
	RecentDuration(ctx context.Context, typ string) (time.Duration, bool, error)
	// FairLoads returns, by company, the held jobs waiting, in flight and
	// the oldest wait.
	FairLoads(ctx context.Context) ([]FairLoad, error)

	// Outstanding returns the tasks not done of every job not final, by
	// job then task id; a task enqueued or admitted within grace is Young.
	Outstanding(ctx context.Context, grace time.Duration) ([]Outstanding, error)
	// CountRequeue counts one more requeue of taskID, enqueued again now,
	// if it still has requeues requeues (two reapers count it once). It
	// reports whether it counted.
	CountRequeue(ctx context.Context, taskID string, requeues int) (bool, error)
}

// TaskRecord is a task recorded for a job.
type TaskRecord struct {
	ID, Queue, Type string
	// Payload rebuilds the task: a held one at admission, one Redis lost
	// by the reaper.
	Payload []byte
}

// HeldTask is a fair task waiting for admission.
type HeldTask struct {
	TaskID, JobID, Company, Type string
	Payload                      []byte
	CreatedAt                    time.Time
	// Rank is the task's place in its company's queue (1 = next).
	Rank int
}

// FairLoad is one company's work in the fair queue.
type FairLoad struct {
	Company          string
	Queued, InFlight int
	// OldestWait is how long the company's oldest waiting job has waited.
	OldestWait time.Duration
}

// Outstanding is a task not done of a job not final, as the reaper sees it.
type Outstanding struct {
	Job      string
	State    State
	Task     TaskRecord
	Held     bool
	Admitted bool
	// Young is true for a task enqueued (or admitted) within the grace.
	Young    bool
	Requeues int
}
