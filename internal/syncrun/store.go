package syncrun

import (
	"context"
	"time"
)

// Store keeps the sync runs, their shards and the sync state of each
// alias. The postgres adapter implements it; a call made with the context
// of a jobs.Store.InTx joins that transaction. Methods that change
// several rows change them atomically.
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

	// SetGeneration records the generation a full run builds and the
	// watermark (source clock) it started from.
	SetGeneration(ctx context.Context, jobID, gen string, watermark time.Time) error
	// RecordPlan records a full run's starting point: the source snapshot,
	// the catalog's fingerprints and the customers counted at the plan.
	RecordPlan(ctx context.Context, jobID string, plan RunPlan) error
	// Plan returns what RecordPlan recorded (Snapshot "" when nothing).
	Plan(ctx context.Context, jobID string) (RunPlan, error)
	// InsertShards records a run's key ranges, split at bounds (len+1
	// shards), and their number; re-running it keeps the ranges and the
	// planning time already recorded.
	InsertShards(ctx context.Context, jobID string, bounds []string) error
	// PendingShards returns the run's shards not done, in order.
	PendingShards(ctx context.Context, jobID string) ([]Shard, error)
	// ShardIsDone reports whether shard of the run is done.
	ShardIsDone(ctx context.Context, jobID string, shard int) (bool, error)
	// ShardDone marks shard done with docs written (and a reconcile
	// shard's drift) and, the first time only, adds it to the run's
	// counters, in one transaction. It returns the counters after.
	ShardDone(ctx context.Context, jobID string, shard int, docs int64, drift Drift) (ShardCount, error)
	// AddDocuments adds n to the run's documents indexed.
	AddDocuments(ctx context.Context, jobID string, n int64) error
	// FinalizeState returns what finalize needs of a full run.
	FinalizeState(ctx context.Context, jobID string) (FinalizeState, error)
	// MarkIndexed records that the run's generation passed verification.
	MarkIndexed(ctx context.Context, jobID string) error
	// MarkPromoted records (once) that the run's generation serves.
	MarkPromoted(ctx context.Context, jobID string) error
	// RecordFull records a full sync of alias into gen from watermark; a
	// retry keeps a watermark the catch-up already moved past it.
	RecordFull(ctx context.Context, alias, gen string, watermark time.Time) error
	// RecordIncremental records an incremental pass of alias: the
	// watermark moves to now unless already later.
	RecordIncremental(ctx context.Context, alias string, now time.Time) error
	// ReconcileTotals sums the drift of the run's shards, with the time
	// its job started.
	ReconcileTotals(ctx context.Context, jobID string) (Drift, time.Time, error)
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

// RunPlan is a full run's starting point.
type RunPlan struct {
	// Snapshot is the source snapshot of the plan (source.Snapshot.Text).
	Snapshot string
	// Catalog is the catalog's fingerprints read after it.
	Catalog map[string]string
	// Customers is the source's customer count at the plan; nil for a
	// run planned before it was recorded.
	Customers *int64
}

// Shard is one key range of a run: lo < customer_id <= hi ("" unbounded).
type Shard struct {
	N      int
	Lo, Hi string
}

// ShardCount is a run's shard counters after a shard is done.
type ShardCount struct {
	// Counted is false when the shard had been counted before.
	Counted     bool
	Done, Total int
	// Documents is the run's documents indexed.
	Documents int64
}

// FinalizeState is what finalize reads of a full run.
type FinalizeState struct {
	Indexed   int64
	Watermark time.Time
	Promoted  *time.Time
	// Started is when the job started (created, if never started).
	Started time.Time
}
