package export

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/reactivation/reactivation/internal/jobs"
)

// Repository keeps exports, their file chunks and the audit log. The
// postgres adapter implements it; a call made with the context of a
// jobs.Store.InTx joins that transaction.
type Repository interface {
	// InsertExport records a new export beside its job (in the job's
	// transaction).
	InsertExport(ctx context.Context, r Record) error
	// Export returns the export of job j, its row's fields over j's;
	// errs.NotFound when j is not an export.
	Export(ctx context.Context, j jobs.Job) (Export, error)
	// BeginAttempt claims the next attempt number of export id and
	// removes the chunks earlier attempts wrote.
	BeginAttempt(ctx context.Context, id string) (int, error)
	// InsertChunk writes chunk seq of attempt, only while the job runs and
	// attempt is current; ErrStale otherwise. A concurrent cancel either
	// waits for the chunk (and its cleanup sees it) or the chunk sees it.
	InsertChunk(ctx context.Context, id string, attempt, seq int, data []byte) error
	// CompleteFile writes the last chunk, records the file r and marks
	// the export's running job succeeded, all at once, and audits it; a
	// file is complete or not served at all. ErrStale when the job is no
	// longer running or attempt not current.
	CompleteFile(ctx context.Context, id string, attempt, seq int, last []byte, r FileResult, retention time.Duration) error
	// DiscardFile removes the chunks of export id.
	DiscardFile(ctx context.Context, id string) error
	// MarkDeleted deletes a final export's file on request, keeping its
	// row with a deleted marker.
	MarkDeleted(ctx context.Context, id string) error
	// Chunk returns chunk seq of export id, false when there is none.
	Chunk(ctx context.Context, id string, seq int) ([]byte, bool, error)
	// WriteAudit records export id in the audit log once its job is
	// final; the first final state written stands.
	WriteAudit(ctx context.Context, id string) error
	// ExpireFiles deletes the files of final exports past their expiry,
	// marks them expired and counts them.
	ExpireFiles(ctx context.Context) (int64, error)
	// RemoveOrphanChunks deletes the chunks of failed, canceled, deleted
	// and expired exports and counts them.
	RemoveOrphanChunks(ctx context.Context) (int64, error)
	// Unaudited returns the ids of final exports without an audit entry.
	Unaudited(ctx context.Context) ([]string, error)
	// AuditPage returns up to limit audit entries whose sequence number is
	// below before, newest first, with their sequence numbers.
	AuditPage(ctx context.Context, before int64, limit int) ([]AuditEntry, []int64, error)
}

// Record is a new export as stored beside its job.
type Record struct {
	Job      jobs.Job
	Filter   json.RawMessage
	Options  Options
	Group    CampaignGroup
	FileName string
	// ExpiresAt is when the file would expire if written at once.
	ExpiresAt time.Time
}

// FileResult is the summary of a written file, also the job's result.
type FileResult struct {
	Rows      int64  `json:"rows"`
	SizeBytes int64  `json:"sizeBytes"`
	SHA256    string `json:"sha256"`
	FileName  string `json:"fileName"`
}

// ErrStale says a run may not write: its job is no longer running
// (canceled) or a newer attempt has taken over.
var ErrStale = errors.New("export run is stale")
