package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reactivation/reactivation/internal/jobs"
)

// querier is a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// finalStates is the SQL list of final job states.
const finalStates = `('succeeded', 'failed', 'canceled')`

// insertExport records an export beside its new job, inside the job's
// transaction.
func insertExport(ctx context.Context, tx pgx.Tx, job jobs.Job, filter []byte, o Options, g CampaignGroup, fileName string, expires time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO exports (job_id, company_id, created_by, filter, format, fields, excel_bom,
		file_name, created_at, expires_at, csv_formula_escape, campaign_id, campaign_group, include_suppressed)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6, $7, $8, $9, $10, $11, NULLIF($12, ''), NULLIF($13, ''), $14)`,
		job.ID, job.CompanyID, job.CreatedBy, filter, o.Format, o.Fields, o.ExcelBOM, fileName, job.CreatedAt, expires,
		o.CSVFormulaEscape != nil && *o.CSVFormulaEscape, g.CampaignID, g.Group, o.IncludeSuppressed)
	if err != nil {
		return fmt.Errorf("record export %s: %w", job.ID, err)
	}
	return nil
}

// loadExport reads the export of job j, or reports false when j is not an
// export.
func loadExport(ctx context.Context, db querier, j jobs.Job) (Export, bool, error) {
	e := Export{ID: j.ID, CompanyID: j.CompanyID, State: j.State, Error: j.Error, CreatedBy: j.CreatedBy,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt,
		Progress: Progress{Rows: j.Progress.Done, Total: j.Progress.Total}}
	var size *int64
	var sum *string
	err := db.QueryRow(ctx, `SELECT filter, format, fields, excel_bom, file_name, attempt, size_bytes, sha256,
		expires_at, expired_at, deleted_at, expires_at <= now(), csv_formula_escape, coalesce(campaign_id, ''),
		coalesce(campaign_group, ''), include_suppressed FROM exports WHERE job_id = $1`, j.ID).
		Scan(&e.Filter, &e.Format, &e.Fields, &e.ExcelBOM, &e.FileName, &e.attempt, &size, &sum,
			&e.ExpiresAt, &e.ExpiredAt, &e.DeletedAt, &e.Expired, &e.CSVFormulaEscape, &e.CampaignID, &e.Group, &e.IncludeSuppressed)
	if errors.Is(err, pgx.ErrNoRows) {
		return Export{}, false, nil
	}
	if err != nil {
		return Export{}, false, fmt.Errorf("load export %s: %w", j.ID, err)
	}
	if size != nil {
		e.SizeBytes = *size
	}
	if sum != nil {
		e.SHA256 = *sum
	}
	e.Expired = e.Expired && e.State == jobs.Succeeded || e.ExpiredAt != nil
	e.Deleted = e.DeletedAt != nil
	return e, true, nil
}

// beginAttempt starts a run over: it claims a new attempt number and
// removes whatever an earlier attempt wrote. Chunks of older attempts can
// no longer be written (see insertChunk).
func beginAttempt(ctx context.Context, db querier, id string) (int, error) {
	var attempt int
	err := db.QueryRow(ctx, `WITH a AS (UPDATE exports SET attempt = attempt + 1 WHERE job_id = $1 RETURNING attempt),
		gone AS (DELETE FROM export_chunks WHERE export_id = $1)
		SELECT attempt FROM a`, id).Scan(&attempt)
	if err != nil {
		return 0, fmt.Errorf("begin export %s: %w", id, err)
	}
	return attempt, nil
}

// errStale says a run may not write: its job is no longer running (canceled)
// or a newer attempt has taken over.
var errStale = errors.New("export run is stale")

// insertChunk writes chunk seq of attempt, only while the job is running
// and attempt is current. Locking both rows makes a concurrent cancel wait
// for the chunk, so the cancel's cleanup sees it, or makes the chunk see
// the cancel.
func insertChunk(ctx context.Context, db querier, id string, attempt, seq int, data []byte) error {
	tag, err := db.Exec(ctx, `INSERT INTO export_chunks (export_id, seq, data)
		SELECT e.job_id, $3, $4 FROM exports e JOIN jobs j ON j.id = e.job_id
		WHERE e.job_id = $1 AND e.attempt = $2 AND j.state = 'running'
		FOR SHARE OF e, j`, id, attempt, seq, data)
	if err != nil {
		return fmt.Errorf("write export %s chunk %d: %w", id, seq, err)
	}
	if tag.RowsAffected() == 0 {
		return errStale
	}
	return nil
}

// fileResult is the summary of a written file, also the job's result.
type fileResult struct {
	Rows      int64  `json:"rows"`
	SizeBytes int64  `json:"sizeBytes"`
	SHA256    string `json:"sha256"`
	FileName  string `json:"fileName"`
}

// completeFile writes the last chunk and marks the export and its job
// succeeded, in tx: a file is complete or it is not served at all.
func completeFile(ctx context.Context, tx pgx.Tx, id string, attempt, seq int, last []byte, r fileResult, retention time.Duration) error {
	if err := insertChunk(ctx, tx, id, attempt, seq, last); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE exports SET rows = $2, size_bytes = $3, sha256 = $4, finished_at = now(),
		expires_at = now() + $5::interval WHERE job_id = $1`,
		id, r.Rows, r.SizeBytes, r.SHA256, retention.String()); err != nil {
		return fmt.Errorf("complete export %s: %w", id, err)
	}
	result, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// What jobs.Store.Succeed does, in this transaction.
	tag, err := tx.Exec(ctx, `UPDATE jobs SET state = 'succeeded', result = $2, error = NULL, finished_at = now(),
		updated_at = now(), progress_done = $3, progress_total = $3 WHERE id = $1 AND state = 'running'`, id, result, r.Rows)
	if err != nil {
		return fmt.Errorf("complete export job %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return errStale
	}
	if _, err := tx.Exec(ctx, "UPDATE job_tasks SET done = true WHERE job_id = $1", id); err != nil {
		return err
	}
	return writeAudit(ctx, tx, id)
}

// discardFile removes an export's chunks.
func discardFile(ctx context.Context, db querier, id string) error {
	if _, err := db.Exec(ctx, "DELETE FROM export_chunks WHERE export_id = $1", id); err != nil {
		return fmt.Errorf("discard export %s: %w", id, err)
	}
	return nil
}

// markDeleted deletes a final export's file on request, keeping its row.
func markDeleted(ctx context.Context, db querier, id string) error {
	if _, err := db.Exec(ctx, `WITH d AS (UPDATE exports SET deleted_at = coalesce(deleted_at, now()) WHERE job_id = $1)
		DELETE FROM export_chunks WHERE export_id = $1`, id); err != nil {
		return fmt.Errorf("delete export %s: %w", id, err)
	}
	return nil
}

// readChunk returns chunk seq of an export, or false when there is none.
func readChunk(ctx context.Context, db querier, id string, seq int) ([]byte, bool, error) {
	var data []byte
	err := db.QueryRow(ctx, "SELECT data FROM export_chunks WHERE export_id = $1 AND seq = $2", id, seq).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read export %s chunk %d: %w", id, seq, err)
	}
	return data, true, nil
}

// writeAudit records a final export in the audit log, once: the first
// final state written stands.
func writeAudit(ctx context.Context, db querier, id string) error {
	_, err := db.Exec(ctx, `INSERT INTO export_audit (export_id, key_id, company_id, filter, format, fields, state,
			rows, bytes, error, created_at, finished_at, campaign_id, campaign_group, include_suppressed)
		SELECT e.job_id, e.created_by, e.company_id, e.filter, e.format, e.fields, j.state,
			CASE WHEN j.state = 'succeeded' THEN coalesce(e.rows, 0) ELSE j.progress_done END,
			CASE WHEN j.state = 'succeeded' THEN coalesce(e.size_bytes, 0) ELSE 0 END,
			j.error, e.created_at, coalesce(j.finished_at, now()), e.campaign_id, e.campaign_group, e.include_suppressed
		FROM exports e JOIN jobs j ON j.id = e.job_id
		WHERE e.job_id = $1 AND j.state IN `+finalStates+`
		ON CONFLICT (export_id) DO NOTHING`, id)
	if err != nil {
		return fmt.Errorf("audit export %s: %w", id, err)
	}
	return nil
}
