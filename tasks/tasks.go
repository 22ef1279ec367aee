// Package tasks is the contract between the processes that enqueue work and
// the workers that do it: task type names, payloads, and constructors with
// their default options. Type strings are constants, never derived from Go
// names, so tasks already queued survive a rename.
package tasks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Queues, weighed by WORKER_QUEUES.
const (
	QueueCritical = "critical"
	QueueSync     = "sync"
	QueueDefault  = "default"
	QueueExport   = "export"
)

// Task types.
const (
	TypeSyncPlan        = "sync:plan"
	TypeSyncShard       = "sync:shard"
	TypeSyncFinalize    = "sync:finalize"
	TypeSyncIncremental = "sync:incremental"
	TypeSyncRefresh     = "sync:refresh"
	TypeSyncCatalog     = "sync:catalog"
	TypeJobsReap        = "jobs:reap"
	TypeSegmentSearch   = "segment:search"
	// TypeSnapshotsCleanup deletes expired segment snapshots (and expired
	// idempotency records, on the same hourly tick).
	TypeSnapshotsCleanup = "snapshots:cleanup"
	// TypeCleanupLegacy is TypeSnapshotsCleanup's name before 2026-12:
	// workers still handle it for one release, so a task a scheduler of
	// the previous release enqueued is not left unprocessed. Remove it in
	// the release after.
	TypeCleanupLegacy = "maintenance:cleanup"
	// TypeSyncReconcile plans a reconcile pass; TypeSyncReconcileShard
	// compares and repairs one key range.
	TypeSyncReconcile      = "sync:reconcile"
	TypeSyncReconcileShard = "sync:reconcile-shard"
)

// queues maps each type to the queue it runs on: every type of the
// package is listed here, in this one place.
var queues = map[string]string{
	TypeSyncPlan:         QueueSync,
	TypeSyncShard:        QueueSync,
	TypeSyncFinalize:     QueueCritical,
	TypeSyncIncremental:  QueueSync,
	TypeSyncRefresh:      QueueCritical,
	TypeSyncCatalog:      QueueSync,
	TypeJobsReap:         QueueCritical,
	TypeSegmentSearch:    QueueDefault,
	TypeSnapshotsCleanup: QueueDefault,
	TypeCleanupLegacy:    QueueDefault,
	// A reconcile is background work: behind the sync queue's shards.
	TypeSyncReconcile:      QueueSync,
	TypeSyncReconcileShard: QueueSync,
	// The fit runs between a full sync's plan and its shards.
	TypeScoresFit:     QueueSync,
	TypeExport:        QueueExport,
	TypeExportCleanup: QueueDefault,
	// A freeze reads the engine like an export does, so it queues with
	// exports.
	TypeCampaignFreeze: QueueExport,
}

// QueueOf returns the queue tasks of typ run on.
func QueueOf(typ string) string {
	if q, ok := queues[typ]; ok {
		return q
	}
	return QueueDefault
}

// JobPayload is embedded in every payload that belongs to a job.
type JobPayload struct {
	JobID string `json:"job_id"`
}

// JobIDOf returns the job id of any task payload that embeds JobPayload,
// "" for tasks that belong to no job.
func JobIDOf(payload []byte) string {
	var p JobPayload
	_ = json.Unmarshal(payload, &p)
	return p.JobID
}

// SyncPlanPayload starts a full sync run.
type SyncPlanPayload struct {
	JobPayload
}

// SyncShardPayload indexes customers with lo < customer_id <= hi (lo ""
// means from the first, hi "" means to the last) into generation.
type SyncShardPayload struct {
	JobPayload
	Shard      int    `json:"shard"`
	Generation string `json:"generation"`
	Lo         string `json:"lo"`
	Hi         string `json:"hi"`
}

// SyncFinalizePayload promotes a run's generation once every shard is done.
type SyncFinalizePayload struct {
	JobPayload
	Generation string `json:"generation"`
}

// SyncIncrementalPayload re-indexes customers changed since the watermark.
type SyncIncrementalPayload struct {
	JobPayload
}

// SyncRefreshPayload re-indexes the listed customers.
type SyncRefreshPayload struct {
	JobPayload
	CustomerIDs []string `json:"customer_ids"`
}

// SyncCatalogPayload re-enriches the buyers of Products: with Shard < 0
// it plans the job's shards, otherwise it indexes the buyers with lo <
// customer_id <= hi (lo "" from the first, hi "" to the last).
type SyncCatalogPayload struct {
	JobPayload
	Products []string `json:"products"`
	Shard    int      `json:"shard"`
	Lo       string   `json:"lo"`
	Hi       string   `json:"hi"`
}

// NewSyncCatalogTask returns a task of a catalog re-enrichment job.
func NewSyncCatalogTask(p SyncCatalogPayload) (*asynq.Task, string, error) {
	return newTask(TypeSyncCatalog, p, fmt.Sprintf("%s:catalog:%d", p.JobID, p.Shard),
		asynq.MaxRetry(shardRetries), asynq.Timeout(shardTimeout))
}

// SegmentSearchPayload materialises a large segment; the filter and sort
// are the job's params.
type SegmentSearchPayload struct {
	JobPayload
}

// SnapshotsCleanupPayload asks a worker to delete expired snapshots.
type SnapshotsCleanupPayload struct {
	Slot int64 `json:"slot"`
}

// ReapPayload asks a worker to fail jobs whose tasks vanished.
type ReapPayload struct {
	Slot int64 `json:"slot"`
}

// Lease-friendly defaults: a shard is retried after a worker dies (asynq
// hands it back once its lease expires) and after transient engine errors.
const (
	shardTimeout = 30 * time.Minute
	shardRetries = 25
)

// NewSyncPlanTask returns the task that plans a full sync.
func NewSyncPlanTask(p SyncPlanPayload) (*asynq.Task, string, error) {
	return newTask(TypeSyncPlan, p, p.JobID+":plan", asynq.MaxRetry(10), asynq.Timeout(10*time.Minute))
}

// NewSyncShardTask returns the task that indexes one shard.
func NewSyncShardTask(p SyncShardPayload) (*asynq.Task, string, error) {
	return newTask(TypeSyncShard, p, fmt.Sprintf("%s:shard:%d", p.JobID, p.Shard),
		asynq.MaxRetry(shardRetries), asynq.Timeout(shardTimeout))
}

// NewSyncFinalizeTask returns the task that verifies and swaps a full sync.
func NewSyncFinalizeTask(p SyncFinalizePayload) (*asynq.Task, string, error) {
	return newTask(TypeSyncFinalize, p, p.JobID+":finalize", asynq.MaxRetry(shardRetries), asynq.Timeout(30*time.Minute))
}

// NewSyncIncrementalTask returns the task of an incremental sync.
func NewSyncIncrementalTask(p SyncIncrementalPayload) (*asynq.Task, string, error) {
	return newTask(TypeSyncIncremental, p, p.JobID+":incremental", asynq.MaxRetry(10), asynq.Timeout(30*time.Minute))
}

// NewSyncRefreshTask returns the task that refreshes listed customers.
func NewSyncRefreshTask(p SyncRefreshPayload) (*asynq.Task, string, error) {
	return newTask(TypeSyncRefresh, p, p.JobID+":refresh", asynq.MaxRetry(10), asynq.Timeout(5*time.Minute))
}

// NewReapTask returns the reaper task of one scheduler slot; replicas that
// enqueue the same slot collide on its id.
func NewReapTask(p ReapPayload) (*asynq.Task, string, error) {
	return newTask(TypeJobsReap, p, fmt.Sprintf("reap:%d", p.Slot), asynq.MaxRetry(0), asynq.Timeout(time.Minute))
}

// NewSegmentSearchTask returns the task that materialises a segment.
func NewSegmentSearchTask(p SegmentSearchPayload) (*asynq.Task, string, error) {
	return newTask(TypeSegmentSearch, p, p.JobID+":segment", asynq.MaxRetry(5), asynq.Timeout(30*time.Minute))
}

// NewSnapshotsCleanupTask returns the snapshots cleanup task of one
// scheduler slot; replicas that enqueue the same slot collide on its id.
func NewSnapshotsCleanupTask(p SnapshotsCleanupPayload) (*asynq.Task, string, error) {
	return newTask(TypeSnapshotsCleanup, p, fmt.Sprintf("snapshots-cleanup:%d", p.Slot), asynq.MaxRetry(0), asynq.Timeout(10*time.Minute))
}

// SyncReconcilePayload starts a reconcile pass.
type SyncReconcilePayload struct {
	JobPayload
}

// SyncReconcileShardPayload compares and repairs the customers with lo <
// customer_id <= hi (lo "" from the first, hi "" to the last).
type SyncReconcileShardPayload struct {
	JobPayload
	Shard int    `json:"shard"`
	Lo    string `json:"lo"`
	Hi    string `json:"hi"`
}

// NewSyncReconcileTask returns the task that plans a reconcile pass.
func NewSyncReconcileTask(p SyncReconcilePayload) (*asynq.Task, string, error) {
	return newTask(TypeSyncReconcile, p, p.JobID+":reconcile", asynq.MaxRetry(10), asynq.Timeout(10*time.Minute))
}

// NewSyncReconcileShardTask returns the task that reconciles one shard.
func NewSyncReconcileShardTask(p SyncReconcileShardPayload) (*asynq.Task, string, error) {
	return newTask(TypeSyncReconcileShard, p, fmt.Sprintf("%s:reconcile:%d", p.JobID, p.Shard),
		asynq.MaxRetry(shardRetries), asynq.Timeout(shardTimeout))
}

// newTask encodes payload and returns the task with its id and queue set.
func newTask(typ string, payload any, id string, opts ...asynq.Option) (*asynq.Task, string, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, "", fmt.Errorf("encode %s payload: %w", typ, err)
	}
	opts = append(opts, asynq.TaskID(id), asynq.Queue(QueueOf(typ)))
	return asynq.NewTask(typ, b, opts...), id, nil
}

// Decode decodes a payload; a payload that cannot be decoded is wrapped with
// asynq.SkipRetry, since retrying cannot fix it.
func Decode(t *asynq.Task, v any) error {
	if err := json.Unmarshal(t.Payload(), v); err != nil {
		return fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return nil
}
