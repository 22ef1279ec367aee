package tasks

import (
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Export task types.
const (
	TypeExport        = "export:run"
	TypeExportCleanup = "export:cleanup"
)

// ExportPayload writes the file of an export job. Everything else the run
// needs (filter, format, fields) is in the export's row.
type ExportPayload struct {
	JobPayload
}

// ExportCleanupPayload asks a worker to delete expired export files.
type ExportCleanupPayload struct {
	Slot int64 `json:"slot"`
}

// An export is retried after a worker dies or the search engine fails; each
// attempt starts the file over.
const (
	exportTimeout = 2 * time.Hour
	exportRetries = 10
)

// NewExportTask returns the task that writes an export's file.
func NewExportTask(p ExportPayload) (*asynq.Task, string, error) {
	return newTask(TypeExport, p, p.JobID+":export", asynq.MaxRetry(exportRetries), asynq.Timeout(exportTimeout))
}

// NewExportCleanupTask returns the retention cleanup of one scheduler slot
// (the scheduler enqueues it hourly); replicas that enqueue the same slot
// collide on its id.
func NewExportCleanupTask(slot int64) (*asynq.Task, string, error) {
	return newTask(TypeExportCleanup, ExportCleanupPayload{Slot: slot}, fmt.Sprintf("export-cleanup:%d", slot),
		asynq.MaxRetry(3), asynq.Timeout(10*time.Minute))
}
