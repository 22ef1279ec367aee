package syncrun

import (
	"context"
	"time"
)

// Store keeps the sync runs and the sync state of each alias. The postgres
// adapter implements it; a call made with the context of a jobs.Store.InTx
// joins that transaction.
//
// It holds the statements moved so far: the run record created with its
// job, the watermark check, the status view and the last sync time. The
// shard, finalize and tracking statements of the flows still run in this
// package on Params.DB.
type Store interface {
	// InsertRun records the run of sync job jobID in mode (in the job's
	// transaction).
	InsertRun(ctx context.Context, jobID, mode string) error
	// HasWatermark reports whether a full sync of alias has completed.
	HasWatermark(ctx context.Context, alias string) (bool, error)
	// RunStatus returns the run of job jobID; errs.NotFound when the job
	// has no run.
	RunStatus(ctx context.Context, jobID string) (RunStatus, error)
	// LastSyncAt is the end of alias's last full or incremental sync,
	// nil when none completed.
	LastSyncAt(ctx context.Context, alias string) (*time.Time, error)
}

// RunStatus is a run's record as stored, for Get.
type RunStatus struct {
	Mode                       string
	Generation                 string
	ShardsDone, ShardsTotal    int
	Documents                  int64
	Watermark                  *time.Time
	Planned, Indexed, Promoted *time.Time
}
