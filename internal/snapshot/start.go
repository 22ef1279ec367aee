package snapshot

import (
	"context"

	"github.com/hibiken/asynq"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/tasks"
)

// Start queues a large-segment search of f (which must name its company)
// in sort s: a job whose task materialises the snapshot (see Materialize).
func Start(ctx context.Context, d *jobs.Dispatcher, f segment.Filter, s segment.Sort, createdBy string) (jobs.Job, error) {
	if err := f.RequireCompany(); err != nil {
		return jobs.Job{}, err
	}
	return d.Start(ctx, jobs.New{
		CompanyID: *f.CompanyID, Type: jobs.TypeSegmentSearch, CreatedBy: createdBy,
		Params: Params{Filter: f.Canonical(), Sort: s.String()},
	}, func(id string) (*asynq.Task, string, error) {
		return tasks.NewSegmentSearchTask(tasks.SegmentSearchPayload{JobPayload: tasks.JobPayload{JobID: id}})
	}, nil)
}
