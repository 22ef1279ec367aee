package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/parallel"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/snapshot"
)

// Snapshots keeps segment_snapshots and segment_snapshot_rows
// (snapshot.Repository). Safe for concurrent use.
type Snapshots struct{ db *pgxpool.Pool }

var _ snapshot.Repository = (*Snapshots)(nil)

// NewSnapshots returns the snapshot repository of the service database.
func NewSnapshots(db *pgxpool.Pool) *Snapshots { return &Snapshots{db: db} }

// copySource adapts a snapshot.RowSource to COPY.
type copySource struct {
	jobID string
	rows  snapshot.RowSource
}

func (c copySource) Next() bool { return c.rows.Next() }
func (c copySource) Err() error { return c.rows.Err() }
func (c copySource) Values() ([]any, error) {
	r := c.rows.Row()
	return []any{c.jobID, r.SortKey, r.TotalSpent, r.Doc}, nil
}

// Replace implements snapshot.Repository: the rows stream in one COPY
// while the source produces them.
func (r *Snapshots) Replace(ctx context.Context, jobID string, rows snapshot.RowSource, retention time.Duration) (int64, snapshot.SpendQuartile, error) {
	var n int64
	var spend snapshot.SpendQuartile
	err := inTx(ctx, r.db, func(ctx context.Context) error {
		q := conn(ctx, r.db)
		if err := reset(ctx, q, jobID); err != nil {
			return err
		}
		var err error
		n, err = q.CopyFrom(ctx, pgx.Identifier{"segment_snapshot_rows"},
			[]string{"job_id", "sort_key", "total_spent_cents", "doc"}, copySource{jobID: jobID, rows: rows})
		if err != nil {
			return translate(err, "store snapshot rows")
		}
		if spend, err = spendOf(ctx, q, jobID, n); err != nil {
			return err
		}
		return record(ctx, q, jobID, n, retention)
	})
	return n, spend, err
}

// reset removes what an earlier attempt at jobID's snapshot left.
func reset(ctx context.Context, q querier, jobID string) error {
	_, err := q.Exec(ctx, "DELETE FROM segment_snapshot_rows WHERE job_id = $1", jobID)
	return translate(err, "reset snapshot")
}

// spendOf returns the spend quartiles of jobID's n stored rows.
func spendOf(ctx context.Context, q querier, jobID string, n int64) (snapshot.SpendQuartile, error) {
	if n == 0 {
		return snapshot.SpendQuartile{}, nil
	}
	var q0, q1, q2, q3, q4 int64
	err := q.QueryRow(ctx, `SELECT min(total_spent_cents),
		percentile_disc(0.25) WITHIN GROUP (ORDER BY total_spent_cents),
		percentile_disc(0.5) WITHIN GROUP (ORDER BY total_spent_cents),
		percentile_disc(0.75) WITHIN GROUP (ORDER BY total_spent_cents),
		max(total_spent_cents) FROM segment_snapshot_rows WHERE job_id = $1`, jobID).Scan(&q0, &q1, &q2, &q3, &q4)
	if err != nil {
		return snapshot.SpendQuartile{}, translate(err, "snapshot quartiles")
	}
	return snapshot.SpendQuartile{Min: profile.Cents(q0), Q1: profile.Cents(q1), Median: profile.Cents(q2),
		Q3: profile.Cents(q3), Max: profile.Cents(q4)}, nil
}

// record writes the record of jobID's snapshot of n rows.
func record(ctx context.Context, q querier, jobID string, n int64, retention time.Duration) error {
	_, err := q.Exec(ctx, `INSERT INTO segment_snapshots (job_id, rows, expires_at) VALUES ($1, $2, now() + $3::interval)
		ON CONFLICT (job_id) DO UPDATE SET rows = $2, expires_at = now() + $3::interval, expired = false`, jobID, n, retention.String())
	return translate(err, "record snapshot")
}

// Header implements snapshot.Repository.
func (r *Snapshots) Header(ctx context.Context, jobID string) (snapshot.Header, error) {
	var h snapshot.Header
	err := conn(ctx, r.db).QueryRow(ctx, "SELECT rows, expires_at, expired OR expires_at < now() FROM segment_snapshots WHERE job_id = $1", jobID).
		Scan(&h.Rows, &h.ExpiresAt, &h.Expired)
	return h, notFound(err, "read snapshot", errs.E(errs.NotFound, "no snapshot of job %s", jobID))
}

// Rows implements snapshot.Repository. A row copied by ReplaceSQL holds
// the engine's jsonb: PostgreSQL's rendering of it is respelled here as
// the profile's JSON (profile.Respell: byte for byte what the scan
// stored), one page at a time, on up to four goroutines.
func (r *Snapshots) Rows(ctx context.Context, jobID string, after []byte, limit int) ([]snapshot.Row, error) {
	rows, err := conn(ctx, r.db).Query(ctx, `SELECT sort_key, total_spent_cents, doc, doc_jsonb FROM segment_snapshot_rows
		WHERE job_id = $1 AND sort_key > $2 ORDER BY sort_key LIMIT $3`, jobID, after, limit)
	if err != nil {
		return nil, translate(err, "read snapshot rows")
	}
	var stored [][]byte // doc_jsonb by row, nil where doc holds the JSON
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (snapshot.Row, error) {
		var s snapshot.Row
		var j []byte
		err := row.Scan(&s.SortKey, &s.TotalSpent, &s.Doc, &j)
		stored = append(stored, j)
		return s, err
	})
	if err != nil {
		return nil, translate(err, "read snapshot rows")
	}
	err = parallel.Ranges(len(out), func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			if out[i].Doc != nil {
				continue
			}
			doc, err := profile.Respell(stored[i])
			if err != nil {
				return fmt.Errorf("read snapshot row: %w", err)
			}
			out[i].Doc = doc
		}
		return nil
	})
	return out, err
}

// Expire implements snapshot.Repository in one statement.
func (r *Snapshots) Expire(ctx context.Context) (int64, error) {
	var n int64
	err := conn(ctx, r.db).QueryRow(ctx, `WITH gone AS (
			UPDATE segment_snapshots SET expired = true WHERE NOT expired AND expires_at < now() RETURNING job_id
		), rows AS (
			DELETE FROM segment_snapshot_rows WHERE job_id IN (SELECT job_id FROM gone)
		) SELECT count(*) FROM gone`).Scan(&n)
	return n, translate(err, "expire snapshots")
}

// Drop implements snapshot.Repository: deleting the record deletes its
// rows (the trigger of migration 0021).
func (r *Snapshots) Drop(ctx context.Context, jobID string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "DELETE FROM segment_snapshots WHERE job_id = $1", jobID)
	return translate(err, "drop snapshot")
}
