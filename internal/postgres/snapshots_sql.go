package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/reactivation/reactivation/internal/snapshot"
	"github.com/reactivation/reactivation/internal/source"
)

var _ snapshot.SQLRepository = (*Snapshots)(nil)

// ReplaceSQL implements snapshot.SQLRepository. One REPEATABLE READ
// transaction copies the rows (INSERT ... SELECT: the documents stay the
// engine's jsonb, in doc_jsonb, and are encoded when a page is read) and
// records the snapshot; a second connection counts the facts meanwhile,
// on the other core, as of the same snapshot of the database (exported by
// the first: pg_export_snapshot), so the summary is of exactly the rows
// stored. At 800k customers the copy of the largest company takes about
// as long as the scan alone used to (docs/capacity.md).
func (r *Snapshots) ReplaceSQL(ctx context.Context, jobID string, q snapshot.SQLQuery, recencyFrom []time.Time, retention time.Duration) (int64, snapshot.SpendQuartile, snapshot.Counts, error) {
	tx, err := r.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return 0, snapshot.SpendQuartile{}, snapshot.Counts{}, translate(err, "begin snapshot")
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	var exported string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&exported); err != nil {
		return 0, snapshot.SpendQuartile{}, snapshot.Counts{}, translate(err, "export snapshot")
	}

	var n int64
	var spend snapshot.SpendQuartile
	var counts snapshot.Counts
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		counts, err = r.count(gctx, exported, q, recencyFrom)
		return err
	})
	g.Go(func() error {
		if err := reset(gctx, tx, jobID); err != nil {
			return err
		}
		job := "$" + strconv.Itoa(len(q.Args)+1)
		tag, err := tx.Exec(gctx, "INSERT INTO segment_snapshot_rows (job_id, sort_key, total_spent_cents, doc_jsonb) SELECT "+
			job+", m.* FROM ("+q.Rows+") m", append(slices.Clip(q.Args), jobID)...)
		if err != nil {
			return translate(err, "copy snapshot rows")
		}
		n = tag.RowsAffected()
		spend, err = spendOf(gctx, tx, jobID, n)
		return err
	})
	if err := g.Wait(); err != nil {
		return 0, snapshot.SpendQuartile{}, snapshot.Counts{}, err
	}
	if err := record(ctx, tx, jobID, n, retention); err != nil {
		return 0, snapshot.SpendQuartile{}, snapshot.Counts{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, snapshot.SpendQuartile{}, snapshot.Counts{}, translate(err, "commit snapshot")
	}
	return n, spend, counts, nil
}

// count counts the facts of q as of the exported snapshot, by city
// spelling, gender, RFM group and recency bucket in one pass (GROUPING
// SETS; GROUPING's bits tell which set a row counts).
func (r *Snapshots) count(ctx context.Context, exported string, q snapshot.SQLQuery, recencyFrom []time.Time) (snapshot.Counts, error) {
	tx, err := source.BeginInSnapshot(ctx, r.db, exported, "")
	if err != nil {
		return snapshot.Counts{}, translate(err, "count snapshot")
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	args := slices.Clip(q.Args)
	var bucket strings.Builder
	bucket.WriteString("CASE WHEN last_purchase_at IS NULL THEN " + strconv.Itoa(len(recencyFrom)+1))
	for i, from := range recencyFrom {
		args = append(args, from)
		fmt.Fprintf(&bucket, " WHEN last_purchase_at >= $%d THEN %d", len(args), i)
	}
	fmt.Fprintf(&bucket, " ELSE %d END", len(recencyFrom))
	rows, err := tx.Query(ctx, `SELECT GROUPING(city, gender, rfm_group, bucket), coalesce(city, ''), coalesce(gender, ''),
			coalesce(rfm_group, ''), coalesce(bucket, 0), count(*)
		FROM (SELECT city, gender, rfm_group, `+bucket.String()+` AS bucket FROM (`+q.Facts+`) f) m
		GROUP BY GROUPING SETS ((city), (gender), (rfm_group), (bucket))`, args...)
	if err != nil {
		return snapshot.Counts{}, translate(err, "count snapshot")
	}
	out := snapshot.Counts{Cities: map[string]int64{}, Genders: map[string]int64{}, Groups: map[string]int64{},
		Recency: make([]int64, len(recencyFrom)+2)}
	var set int32
	var city, gender, group string
	var b int
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&set, &city, &gender, &group, &b, &n}, func() error {
		// GROUPING sets a bit for every column the row does not group
		// by, the first column's the highest.
		switch set {
		case 0b0111:
			out.Cities[city] += n
		case 0b1011:
			out.Genders[gender] += n
		case 0b1101:
			if group != "" {
				out.Groups[group] += n
			}
		case 0b1110:
			if b < 0 || b >= len(out.Recency) {
				return fmt.Errorf("recency bucket %d", b)
			}
			out.Recency[b] += n
		default:
			return fmt.Errorf("grouping set %b", set)
		}
		return nil
	})
	if err != nil {
		return snapshot.Counts{}, translate(err, "count snapshot")
	}
	return out, nil
}
