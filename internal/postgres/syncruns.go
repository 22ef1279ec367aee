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

// SyncRuns keeps sync_runs, sync_shards and sync_state (syncrun.Store). Safe for
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

// SetGeneration implements syncrun.Store.
func (r *SyncRuns) SetGeneration(ctx context.Context, jobID, gen string, watermark time.Time) error {
	_, err := conn(ctx, r.db).Exec(ctx, "UPDATE sync_runs SET generation = $2, watermark = $3 WHERE job_id = $1", jobID, gen, watermark)
	return translate(err, "record generation")
}

// RecordPlan implements syncrun.Store.
func (r *SyncRuns) RecordPlan(ctx context.Context, jobID string, plan syncrun.RunPlan) error {
	_, err := conn(ctx, r.db).Exec(ctx, "UPDATE sync_runs SET snapshot = $2, catalog = $3, plan_customers = $4 WHERE job_id = $1",
		jobID, plan.Snapshot, plan.Catalog, plan.Customers)
	return translate(err, "record plan snapshot")
}

// Plan implements syncrun.Store.
func (r *SyncRuns) Plan(ctx context.Context, jobID string) (syncrun.RunPlan, error) {
	var p syncrun.RunPlan
	var snap *string
	err := conn(ctx, r.db).QueryRow(ctx, "SELECT snapshot, catalog, plan_customers FROM sync_runs WHERE job_id = $1", jobID).
		Scan(&snap, &p.Catalog, &p.Customers)
	if err != nil {
		return p, notFound(err, "read run plan", errs.E(errs.NotFound, "job %s is not a sync", jobID))
	}
	if snap != nil {
		p.Snapshot = *snap
	}
	return p, nil
}

// InsertShards implements syncrun.Store.
func (r *SyncRuns) InsertShards(ctx context.Context, jobID string, bounds []string) error {
	return inTx(ctx, r.db, func(ctx context.Context) error {
		q := conn(ctx, r.db)
		lo := ""
		for i := 0; i <= len(bounds); i++ {
			hi := ""
			if i < len(bounds) {
				hi = bounds[i]
			}
			if _, err := q.Exec(ctx, "INSERT INTO sync_shards (job_id, shard, lo, hi) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
				jobID, i, lo, hi); err != nil {
				return translate(err, "insert shards")
			}
			lo = hi
		}
		_, err := q.Exec(ctx, "UPDATE sync_runs SET shards_total = $2, planned_at = coalesce(planned_at, now()) WHERE job_id = $1", jobID, len(bounds)+1)
		return translate(err, "count shards")
	})
}

// PendingShards implements syncrun.Store.
func (r *SyncRuns) PendingShards(ctx context.Context, jobID string) ([]syncrun.Shard, error) {
	rows, err := conn(ctx, r.db).Query(ctx, "SELECT shard, lo, hi FROM sync_shards WHERE job_id = $1 AND NOT done ORDER BY shard", jobID)
	if err != nil {
		return nil, translate(err, "pending shards")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (syncrun.Shard, error) {
		var sh syncrun.Shard
		return sh, row.Scan(&sh.N, &sh.Lo, &sh.Hi)
	})
	return out, translate(err, "pending shards")
}

// ShardIsDone implements syncrun.Store.
func (r *SyncRuns) ShardIsDone(ctx context.Context, jobID string, shard int) (bool, error) {
	var done bool
	err := conn(ctx, r.db).QueryRow(ctx, "SELECT done FROM sync_shards WHERE job_id = $1 AND shard = $2", jobID, shard).Scan(&done)
	return done, translate(err, "read shard")
}

// ShardDone implements syncrun.Store.
func (r *SyncRuns) ShardDone(ctx context.Context, jobID string, shard int, docs int64, drift syncrun.Drift) (syncrun.ShardCount, error) {
	var c syncrun.ShardCount
	err := inTx(ctx, r.db, func(ctx context.Context) error {
		q := conn(ctx, r.db)
		tag, err := q.Exec(ctx, `UPDATE sync_shards SET done = true, docs = $3, missing = $4, extra = $5, stale = $6, checked = $7,
			finished_at = now() WHERE job_id = $1 AND shard = $2 AND NOT done`,
			jobID, shard, docs, drift.Missing, drift.Extra, drift.Stale, drift.Checked)
		if err != nil {
			return translate(err, "shard done")
		}
		c.Counted = tag.RowsAffected() == 1
		if c.Counted {
			err = q.QueryRow(ctx, `UPDATE sync_runs SET shards_done = shards_done + 1, docs_indexed = docs_indexed + $2
				WHERE job_id = $1 RETURNING shards_done, shards_total, docs_indexed`, jobID, docs).Scan(&c.Done, &c.Total, &c.Documents)
		} else {
			err = q.QueryRow(ctx, "SELECT shards_done, shards_total, docs_indexed FROM sync_runs WHERE job_id = $1", jobID).
				Scan(&c.Done, &c.Total, &c.Documents)
		}
		return translate(err, "count shard")
	})
	return c, err
}

// AddDocuments implements syncrun.Store.
func (r *SyncRuns) AddDocuments(ctx context.Context, jobID string, n int64) error {
	_, err := conn(ctx, r.db).Exec(ctx, "UPDATE sync_runs SET docs_indexed = docs_indexed + $2 WHERE job_id = $1", jobID, n)
	return translate(err, "count documents")
}

// FinalizeState implements syncrun.Store.
func (r *SyncRuns) FinalizeState(ctx context.Context, jobID string) (syncrun.FinalizeState, error) {
	var f syncrun.FinalizeState
	err := conn(ctx, r.db).QueryRow(ctx, `SELECT r.docs_indexed, r.watermark, r.promoted_at, coalesce(j.started_at, j.created_at)
		FROM sync_runs r JOIN jobs j ON j.id = r.job_id WHERE r.job_id = $1`, jobID).Scan(&f.Indexed, &f.Watermark, &f.Promoted, &f.Started)
	return f, translate(err, "read run")
}

// MarkIndexed implements syncrun.Store.
func (r *SyncRuns) MarkIndexed(ctx context.Context, jobID string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "UPDATE sync_runs SET indexed_at = now() WHERE job_id = $1", jobID)
	return translate(err, "record indexed")
}

// MarkPromoted implements syncrun.Store.
func (r *SyncRuns) MarkPromoted(ctx context.Context, jobID string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "UPDATE sync_runs SET promoted_at = coalesce(promoted_at, now()) WHERE job_id = $1", jobID)
	return translate(err, "record promoted")
}

// RecordFull implements syncrun.Store.
func (r *SyncRuns) RecordFull(ctx context.Context, alias, gen string, watermark time.Time) error {
	_, err := conn(ctx, r.db).Exec(ctx, `INSERT INTO sync_state (alias, generation, watermark, last_full_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (alias) DO UPDATE SET generation = $2, last_full_at = now(),
			watermark = CASE WHEN sync_state.generation = $2 THEN greatest(sync_state.watermark, $3) ELSE $3 END`,
		alias, gen, watermark)
	return translate(err, "record watermark")
}

// RecordIncremental implements syncrun.Store.
func (r *SyncRuns) RecordIncremental(ctx context.Context, alias string, now time.Time) error {
	_, err := conn(ctx, r.db).Exec(ctx, `UPDATE sync_state SET watermark = greatest(watermark, $2), last_incremental_at = now() WHERE alias = $1`,
		alias, now)
	return translate(err, "record watermark")
}

// ReconcileTotals implements syncrun.Store.
func (r *SyncRuns) ReconcileTotals(ctx context.Context, jobID string) (syncrun.Drift, time.Time, error) {
	var d syncrun.Drift
	var started time.Time
	err := conn(ctx, r.db).QueryRow(ctx, `SELECT coalesce(sum(s.missing), 0), coalesce(sum(s.extra), 0), coalesce(sum(s.stale), 0),
			coalesce(sum(s.docs), 0), coalesce(sum(s.checked), 0), coalesce(j.started_at, j.created_at)
		FROM jobs j LEFT JOIN sync_shards s ON s.job_id = j.id WHERE j.id = $1 GROUP BY j.id`, jobID).
		Scan(&d.Missing, &d.Extra, &d.Stale, &d.Repaired, &d.Checked, &started)
	return d, started, translate(err, "reconcile result")
}
