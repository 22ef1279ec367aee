package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/reactivation/reactivation/internal/app"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/segment"
)

// snapshotBeside runs a large-segment search of filter on the export
// scenario's worker process right after the export of the same rows, and
// reports its rate beside the export's (the target is 0.8x). The snapshot
// is dropped afterwards.
func snapshotBeside(ctx context.Context, env Env, d *app.App, filter string, exportRows int64, exportRate float64, r *Report) error {
	f, err := segment.Decode([]byte(filter))
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Out, "snapshot largest ...\n")
	job, err := d.Segments.Start(ctx, f, segment.DefaultSort, "bench")
	if err != nil {
		return err
	}
	done, err := waitSucceeded(ctx, d.Jobs, job.ID, "snapshot")
	if err != nil {
		return err
	}
	if rows := done.Progress.Done; rows != exportRows {
		return fmt.Errorf("the snapshot holds %d rows, the export wrote %d", rows, exportRows)
	}
	took := done.FinishedAt.Sub(*done.StartedAt)
	rate := float64(exportRows) / took.Seconds()
	r.Add("snapshot_largest_rows", float64(exportRows), "rows")
	r.Add("snapshot_largest_seconds", took.Seconds(), "s")
	r.Add("snapshot_largest_rows_per_second", rate, "rows/s")
	r.AtLeast("snapshot_vs_export", rate/exportRate, 0.8)
	return d.Segments.Drop(ctx, job.ID)
}

// waitSucceeded waits up to an hour for job id to end, and fails unless it
// succeeded; what names the job in the error.
func waitSucceeded(ctx context.Context, store *jobs.Store, id, what string) (jobs.Job, error) {
	done, err := waitFinal(ctx, store, id, time.Hour)
	if err != nil {
		return done, err
	}
	if done.State != jobs.Succeeded {
		return done, fmt.Errorf("%s %s: %s", what, done.State, done.Error)
	}
	return done, nil
}
