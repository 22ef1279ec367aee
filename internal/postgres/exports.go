package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/export"
	"github.com/reactivation/reactivation/internal/jobs"
)

// Exports keeps exports, export_chunks and export_audit
// (export.Repository). Safe for concurrent use.
type Exports struct{ db *pgxpool.Pool }

var _ export.Repository = (*Exports)(nil)

// NewExports returns the export repository of the service database.
func NewExports(db *pgxpool.Pool) *Exports { return &Exports{db: db} }

// finalStates is the SQL list of final job states.
const finalStates = `('succeeded', 'failed', 'canceled')`

// InsertExport implements export.Repository.
func (r *Exports) InsertExport(ctx context.Context, rec export.Record) error {
	j, o, g := rec.Job, rec.Options, rec.Group
	_, err := conn(ctx, r.db).Exec(ctx, `INSERT INTO exports (job_id, company_id, created_by, filter, format, fields, excel_bom,
		file_name, created_at, expires_at, csv_formula_escape, campaign_id, campaign_group, include_suppressed)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6, $7, $8, $9, $10, $11, NULLIF($12, ''), NULLIF($13, ''), $14)`,
		j.ID, j.CompanyID, j.CreatedBy, []byte(rec.Filter), o.Format, o.Fields, o.ExcelBOM, rec.FileName, j.CreatedAt, rec.ExpiresAt,
		o.CSVFormulaEscape != nil && *o.CSVFormulaEscape, g.CampaignID, g.Group, o.IncludeSuppressed)
	return translate(err, "insert export")
}

// Export implements export.Repository.
func (r *Exports) Export(ctx context.Context, j jobs.Job) (export.Export, error) {
	e := export.Export{ID: j.ID, CompanyID: j.CompanyID, State: j.State, Error: j.Error, CreatedBy: j.CreatedBy,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt,
		Progress: export.Progress{Rows: j.Progress.Done, Total: j.Progress.Total}}
	var size *int64
	var sum *string
	err := conn(ctx, r.db).QueryRow(ctx, `SELECT filter, format, fields, excel_bom, file_name, size_bytes, sha256,
		expires_at, expired_at, deleted_at, expires_at <= now(), csv_formula_escape, coalesce(campaign_id, ''),
		coalesce(campaign_group, ''), include_suppressed FROM exports WHERE job_id = $1`, j.ID).
		Scan(&e.Filter, &e.Format, &e.Fields, &e.ExcelBOM, &e.FileName, &size, &sum,
			&e.ExpiresAt, &e.ExpiredAt, &e.DeletedAt, &e.Expired, &e.CSVFormulaEscape, &e.CampaignID, &e.Group, &e.IncludeSuppressed)
	if err != nil {
		return export.Export{}, notFound(err, "read export", errs.E(errs.NotFound, "export %s not found", j.ID))
	}
	if size != nil {
		e.SizeBytes = *size
	}
	if sum != nil {
		e.SHA256 = *sum
	}
	e.Expired = e.Expired && e.State == jobs.Succeeded || e.ExpiredAt != nil
	e.Deleted = e.DeletedAt != nil
	return e, nil
}

// BeginAttempt implements export.Repository in one transaction of two
// statements. The update takes the export's row, so it waits for a chunk
// an older attempt is inserting (InsertChunk holds the row FOR SHARE) and
// no chunk of an older attempt is inserted after it; the delete, a
// statement of its own, then reads after that chunk committed. One
// statement of both (a CTE) deleted with the snapshot taken before the
// wait, left that chunk behind, and the new attempt's chunk of the same
// number failed on the key (TestAStaleRunCannotWrite, now and then).
func (r *Exports) BeginAttempt(ctx context.Context, id string) (int, error) {
	var attempt int
	err := inTx(ctx, r.db, func(ctx context.Context) error {
		q := conn(ctx, r.db)
		if err := q.QueryRow(ctx, "UPDATE exports SET attempt = attempt + 1 WHERE job_id = $1 RETURNING attempt", id).Scan(&attempt); err != nil {
			return err
		}
		_, err := q.Exec(ctx, "DELETE FROM export_chunks WHERE export_id = $1", id)
		return err
	})
	return attempt, notFound(err, "begin export", errs.E(errs.NotFound, "export %s not found", id))
}

// InsertChunk implements export.Repository: locking the export's and the
// job's rows makes a concurrent cancel wait for the chunk.
func (r *Exports) InsertChunk(ctx context.Context, id string, attempt, seq int, data []byte) error {
	tag, err := conn(ctx, r.db).Exec(ctx, `INSERT INTO export_chunks (export_id, seq, data)
		SELECT e.job_id, $3, $4 FROM exports e JOIN jobs j ON j.id = e.job_id
		WHERE e.job_id = $1 AND e.attempt = $2 AND j.state = 'running'
		FOR SHARE OF e, j`, id, attempt, seq, data)
	if err != nil {
		return translate(err, "write export chunk")
	}
	if tag.RowsAffected() == 0 {
		return export.ErrStale
	}
	return nil
}

// CompleteFile implements export.Repository in one transaction; the job's
// update is what jobs.Store.Succeed does, for a running job only.
func (r *Exports) CompleteFile(ctx context.Context, id string, attempt, seq int, last []byte, res export.FileResult, retention time.Duration) error {
	result, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return inTx(ctx, r.db, func(ctx context.Context) error {
		if err := r.InsertChunk(ctx, id, attempt, seq, last); err != nil {
			return err
		}
		q := conn(ctx, r.db)
		if _, err := q.Exec(ctx, `UPDATE exports SET rows = $2, size_bytes = $3, sha256 = $4, finished_at = now(),
			expires_at = now() + $5::interval WHERE job_id = $1`,
			id, res.Rows, res.SizeBytes, res.SHA256, retention.String()); err != nil {
			return translate(err, "complete export")
		}
		tag, err := q.Exec(ctx, `UPDATE jobs SET state = 'succeeded', result = $2, error = NULL, finished_at = now(),
			updated_at = now(), progress_done = $3, progress_total = $3 WHERE id = $1 AND state = 'running'`, id, result, res.Rows)
		if err != nil {
			return translate(err, "complete export job")
		}
		if tag.RowsAffected() == 0 {
			return export.ErrStale
		}
		if _, err := q.Exec(ctx, "UPDATE job_tasks SET done = true WHERE job_id = $1", id); err != nil {
			return translate(err, "complete export tasks")
		}
		return r.WriteAudit(ctx, id)
	})
}

// DiscardFile implements export.Repository.
func (r *Exports) DiscardFile(ctx context.Context, id string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "DELETE FROM export_chunks WHERE export_id = $1", id)
	return translate(err, "discard export file")
}

// MarkDeleted implements export.Repository.
func (r *Exports) MarkDeleted(ctx context.Context, id string) error {
	_, err := conn(ctx, r.db).Exec(ctx, `WITH d AS (UPDATE exports SET deleted_at = coalesce(deleted_at, now()) WHERE job_id = $1)
		DELETE FROM export_chunks WHERE export_id = $1`, id)
	return translate(err, "delete export")
}

// Chunk implements export.Repository.
func (r *Exports) Chunk(ctx context.Context, id string, seq int) ([]byte, bool, error) {
	var data []byte
	err := conn(ctx, r.db).QueryRow(ctx, "SELECT data FROM export_chunks WHERE export_id = $1 AND seq = $2", id, seq).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, translate(err, "read export chunk")
	}
	return data, true, nil
}

// WriteAudit implements export.Repository.
func (r *Exports) WriteAudit(ctx context.Context, id string) error {
	_, err := conn(ctx, r.db).Exec(ctx, `INSERT INTO export_audit (export_id, key_id, company_id, filter, format, fields, state,
			rows, bytes, error, created_at, finished_at, campaign_id, campaign_group, include_suppressed)
		SELECT e.job_id, e.created_by, e.company_id, e.filter, e.format, e.fields, j.state,
			CASE WHEN j.state = 'succeeded' THEN coalesce(e.rows, 0) ELSE j.progress_done END,
			CASE WHEN j.state = 'succeeded' THEN coalesce(e.size_bytes, 0) ELSE 0 END,
			j.error, e.created_at, coalesce(j.finished_at, now()), e.campaign_id, e.campaign_group, e.include_suppressed
		FROM exports e JOIN jobs j ON j.id = e.job_id
		WHERE e.job_id = $1 AND j.state IN `+finalStates+`
		ON CONFLICT (export_id) DO NOTHING`, id)
	return translate(err, "audit export")
}

// ExpireFiles implements export.Repository in one statement.
func (r *Exports) ExpireFiles(ctx context.Context) (int64, error) {
	var n int64
	err := conn(ctx, r.db).QueryRow(ctx, `WITH gone AS (
			UPDATE exports e SET expired_at = now()
			FROM jobs j WHERE j.id = e.job_id AND j.state IN `+finalStates+`
			  AND e.expires_at <= now() AND e.expired_at IS NULL AND e.deleted_at IS NULL
			RETURNING e.job_id),
		chunks AS (DELETE FROM export_chunks WHERE export_id IN (SELECT job_id FROM gone))
		SELECT count(*) FROM gone`).Scan(&n)
	return n, translate(err, "expire exports")
}

// RemoveOrphanChunks implements export.Repository.
func (r *Exports) RemoveOrphanChunks(ctx context.Context) (int64, error) {
	tag, err := conn(ctx, r.db).Exec(ctx, `DELETE FROM export_chunks WHERE export_id IN (
		SELECT e.job_id FROM exports e JOIN jobs j ON j.id = e.job_id
		WHERE j.state IN ('failed', 'canceled') OR e.deleted_at IS NOT NULL OR e.expired_at IS NOT NULL)`)
	if err != nil {
		return 0, translate(err, "remove orphan export chunks")
	}
	return tag.RowsAffected(), nil
}

// Unaudited implements export.Repository.
func (r *Exports) Unaudited(ctx context.Context) ([]string, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `SELECT e.job_id FROM exports e JOIN jobs j ON j.id = e.job_id
		WHERE j.state IN `+finalStates+` AND NOT EXISTS (SELECT 1 FROM export_audit a WHERE a.export_id = e.job_id)`)
	if err != nil {
		return nil, translate(err, "find unaudited exports")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, translate(err, "find unaudited exports")
}

// AuditPage implements export.Repository.
func (r *Exports) AuditPage(ctx context.Context, before int64, limit int) ([]export.AuditEntry, []int64, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `SELECT id, export_id, coalesce(key_id, ''), company_id, filter, format, fields, state,
		rows, bytes, coalesce(error, ''), created_at, finished_at, coalesce(campaign_id, ''), coalesce(campaign_group, ''),
		include_suppressed
		FROM export_audit WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, limit)
	if err != nil {
		return nil, nil, translate(err, "read export audit")
	}
	defer rows.Close()
	out := []export.AuditEntry{}
	var ids []int64
	for rows.Next() {
		var a export.AuditEntry
		var id int64
		if err := rows.Scan(&id, &a.ExportID, &a.KeyID, &a.CompanyID, &a.Filter, &a.Format, &a.Fields, &a.State,
			&a.Rows, &a.Bytes, &a.Error, &a.CreatedAt, &a.FinishedAt, &a.CampaignID, &a.Group, &a.IncludeSuppressed); err != nil {
			return nil, nil, translate(err, "read export audit")
		}
		out = append(out, a)
		ids = append(ids, id)
	}
	return out, ids, translate(rows.Err(), "read export audit")
}
