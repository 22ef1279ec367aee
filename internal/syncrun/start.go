package syncrun

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/tasks"
)

// Starting a sync: a job, its run record and its first task, created
// together; one running sync per mode (the jobs table's unique index,
// reported as a Conflict naming the running job).

// Start creates a full, incremental or reconcile sync job and enqueues its
// first task.
// A second sync of the same mode while one runs is a Conflict naming the
// running job.
func (s *Service) Start(ctx context.Context, mode Mode, t jobs.Tenant, createdBy string) (jobs.Job, error) {
	spec, ok := SpecOf(mode)
	if !ok || !spec.Startable {
		return jobs.Job{}, errs.E(errs.Invalid, "mode must be one of %s, got %q", modeList(), mode)
	}
	if spec.NeedsWatermark {
		if err := s.requireWatermark(ctx); err != nil {
			return jobs.Job{}, err
		}
	}
	typ := spec.JobType
	job, err := s.dispatcher.Start(ctx, jobs.New{CompanyID: t.CompanyID, Type: typ, Params: map[string]string{"mode": mode.String()}, CreatedBy: createdBy},
		spec.first, func(ctx context.Context, j jobs.Job) error {
			return s.runs.InsertRun(ctx, j.ID, mode.String())
		})
	var running *jobs.AlreadyRunning
	if errors.As(err, &running) {
		return jobs.Job{}, &errs.Error{Code: errs.Conflict, Message: fmt.Sprintf("a %s sync is already running: job %s", mode, running.JobID),
			Detail: map[string]any{"runningJobId": running.JobID}, Err: err}
	}
	return job, err
}

// StartRefresh creates a job that re-indexes the listed customers now.
// Company keys refresh only their own company's customers: ids the source
// knows under another company are dropped before the task is enqueued and
// counted as "ignored" in the job's params and result.
func (s *Service) StartRefresh(ctx context.Context, ids []string, t jobs.Tenant, createdBy string) (jobs.Job, error) {
	if len(ids) == 0 || len(ids) > 10000 {
		return jobs.Job{}, errs.E(errs.Invalid, "customerIds must list 1 to 10000 ids")
	}
	ids, ignored, err := s.ownIDs(ctx, ids, t)
	if err != nil {
		return jobs.Job{}, err
	}
	return s.dispatcher.Start(ctx, jobs.New{CompanyID: t.CompanyID, Type: jobs.TypeSyncRefresh,
		Params: map[string]any{"mode": ModeRefresh, "customers": len(ids), "ignored": ignored}, CreatedBy: createdBy},
		func(id string) (*asynq.Task, string, error) {
			return tasks.NewSyncRefreshTask(tasks.SyncRefreshPayload{JobPayload: tasks.JobPayload{JobID: id}, CustomerIDs: ids})
		}, func(ctx context.Context, j jobs.Job) error {
			return s.runs.InsertRun(ctx, j.ID, ModeRefresh.String())
		})
}

// requireWatermark is a Conflict until a full sync has completed: an
// incremental sync has nothing to start from.
func (s *Service) requireWatermark(ctx context.Context) error {
	ok, err := s.runs.HasWatermark(ctx, s.cfg.Alias)
	if err != nil {
		return fmt.Errorf("sync state: %w", err)
	}
	if !ok {
		return errs.E(errs.Conflict, "no full sync has completed yet: run a full sync first")
	}
	return nil
}

// ownIDs keeps the ids a tenant may refresh: all of them for an admin; for
// a company, every id the source does not know under another company (an
// id the source does not know at all may be the company's deleted customer).
// ignored counts the ids dropped.
func (s *Service) ownIDs(ctx context.Context, ids []string, t jobs.Tenant) (kept []string, ignored int, err error) {
	if t.Admin {
		return ids, 0, nil
	}
	foreign, err := source.OfOtherCompanies(ctx, s.source, ids, t.CompanyID)
	if err != nil {
		return nil, 0, fmt.Errorf("refresh: check the customers' company: %w", err)
	}
	kept = make([]string, 0, len(ids))
	for _, id := range ids {
		if foreign[id] {
			ignored++
			continue
		}
		kept = append(kept, id)
	}
	return kept, ignored, nil
}
