package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/syncrun"
)

// SyncRuns keeps sync_runs and sync_state (syncrun.Store). Safe for
// concurrent use.
type SyncRuns struct{ db *pgxpool.Pool }

var _ syncrun.Store = (*SyncRuns)(nil)

// NewSyncRuns returns the sync run repository of the service database.
func NewSyncRuns(db *pgxpool.Pool) *SyncRuns { return &SyncRuns{db: db} }

// InsertRun implements syncrun.Store.
func (r *SyncRuns) InsertRun(ctx context.Context, jobID, mode string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "INSERT INTO sync_runs (job_id, mode) VALUES ($1, $2)", jobID, mode)
	return translate(err, "insert sync run")
}

// HasWatermark implements syncrun.Store.
func (r *SyncRuns) HasWatermark(ctx context.Context, alias string) (bool, error) {
	var ok bool
	err := conn(ctx, r.db).QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM sync_state WHERE alias = $1 AND watermark IS NOT NULL)", alias).Scan(&ok)
	return ok, translate(err, "sync watermark")
}

// RunStatus implements syncrun.Store.
func (r *SyncRuns) RunStatus(ctx context.Context, jobID string) (syncrun.RunStatus, error) {
	var st syncrun.RunStatus
	var gen *string
	err := conn(ctx, r.db).QueryRow(ctx, `SELECT mode, generation, shards_done, shards_total, docs_indexed, watermark, planned_at, indexed_at, promoted_at
		FROM sync_runs WHERE job_id = $1`, jobID).Scan(&st.Mode, &gen, &st.ShardsDone, &st.ShardsTotal, &st.Documents, &st.Watermark,
		&st.Planned, &st.Indexed, &st.Promoted)
	if err != nil {
		return st, notFound(err, "read sync run", errs.E(errs.NotFound, "job %s is not a sync", jobID))
	}
	if gen != nil {
		st.Generation = *gen
	}
	return st, nil
}

// LastSyncAt implements syncrun.Store.
func (r *SyncRuns) LastSyncAt(ctx context.Context, alias string) (*time.Time, error) {
	var last *time.Time
	err := conn(ctx, r.db).QueryRow(ctx, "SELECT greatest(last_full_at, last_incremental_at) FROM sync_state WHERE alias = $1", alias).Scan(&last)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return last, translate(err, "last sync")
}
