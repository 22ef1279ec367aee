package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
)

// Change tracking by transaction ids (docs/change-tracking.md): a row
// version's xmin is the transaction that wrote it, so every row written
// since a snapshot S has xmin >= S.xmin, however long its transaction ran
// and whatever either clock says. Deletes and rows moved away leave no row
// to see: they show as lower counts, per bucket of customers, than the
// index's documents were computed from.

// Snapshot is a source transaction snapshot, as pg_current_snapshot()
// prints it: xmin:xmax:xip,... with 64-bit (epoch-qualified) ids.
type Snapshot struct {
	Xmin, Xmax int64
	Text       string
}

// ParseSnapshot reads pg_current_snapshot()'s text form.
func ParseSnapshot(s string) (Snapshot, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 {
		return Snapshot{}, fmt.Errorf("snapshot %q: want xmin:xmax:xip", s)
	}
	xmin, err1 := strconv.ParseInt(parts[0], 10, 64)
	xmax, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return Snapshot{}, fmt.Errorf("snapshot %q: not numbers", s)
	}
	return Snapshot{Xmin: xmin, Xmax: xmax, Text: s}, nil
}

// PlanSnapshot returns the source's current snapshot and its number of
// customers, read in one statement (so in that snapshot).
func PlanSnapshot(ctx context.Context, pool *pgxpool.Pool) (Snapshot, int64, error) {
	var s string
	var n int64
	if err := pool.QueryRow(ctx, "SELECT pg_current_snapshot()::text, (SELECT count(*) FROM customers)").Scan(&s, &n); err != nil {
		return Snapshot{}, 0, fmt.Errorf("source snapshot: %w", err)
	}
	snap, err := ParseSnapshot(s)
	return snap, n, err
}

// CountCustomersSince returns the source's customers now, and how many of
// them were written (inserted or updated) since the snapshot, in one
// statement.
func CountCustomersSince(ctx context.Context, pool *pgxpool.Pool, since Snapshot) (now, written int64, err error) {
	err = pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE age(xmin) <= age(($1::bigint & 4294967295)::text::xid))
		FROM customers`, since.Xmin).Scan(&now, &written)
	if err != nil {
		return 0, 0, fmt.Errorf("count source customers: %w", err)
	}
	return now, written, nil
}

// Changes is what ReadChanges found, all as of one source snapshot.
type Changes struct {
	// Snapshot is the snapshot the changes were read in; the next pass
	// reads from it.
	Snapshot Snapshot
	// Written lists the customers whose row, invoices or invoice lines
	// were written by a transaction id >= the previous snapshot's xmin
	// (a superset of the changes: also those of transactions that
	// snapshot already saw).
	Written []string
	// Differ lists the other customers whose counts differ from the
	// tracked ones, or who are gone from the source or from the tracked
	// set, in the buckets whose totals differed.
	Differ []string
	// Buckets and Drilled count the buckets compared and those whose
	// totals differed.
	Buckets, Drilled int
	// Products is every product's fingerprint: its name and ingredient
	// names.
	Products map[string]string
}

// Counts is a customer's (or a bucket's) customers, invoices and
// invoice lines.
type Counts struct {
	Customers, Invoices, Lines int64
}

// Buckets is the number of buckets a change pass compares totals in.
// A customer's bucket is BucketOf its id: a hash of its bytes, the same
// in the source and in the service database (both PostgreSQL), so no
// range of ids or collation is involved.
const Buckets = 65536

// BucketOf is the SQL of the bucket of the text column col.
func BucketOf(col string) string {
	return "(hashtext(" + col + ` COLLATE "C") & 65535)`
}

// bucketProbe is hashed on both databases before a pass trusts that they
// bucket alike; a difference (another hash function) compares every bucket.
const bucketProbe = "reactivation bucket probe: ñandú"

// Tracked is what the index's documents were computed from, bucketed by
// BucketOf their customer id.
type Tracked interface {
	// Buckets sums the tracked customers and their invoices per bucket:
	// every tracked customer when only is nil, else only those listed.
	Buckets(ctx context.Context, only []string) (map[int]Counts, error)
	// InBuckets returns every tracked customer of the buckets.
	InBuckets(ctx context.Context, buckets []int) (map[string]Counts, error)
	// Hash is hashtext of s in the tracked side's database.
	Hash(ctx context.Context, s string) (int64, error)
}

// ReadChanges reads, in one REPEATABLE READ READ ONLY transaction, the
// customers written since since.Xmin, the catalog's fingerprints, and the
// customers whose counts differ from tracked. It writes nothing to the
// source.
//
// A customer not written since can only have lost rows: an insert, an
// update or a move of an invoice or line is a write (its xmin), and it
// makes its current owner written. So, per bucket, the source's customers
// and invoices of the customers not written equal the tracked ones
// unless one of them was deleted or lost an invoice (voided or moved
// away); only such buckets are compared customer by customer (their
// line counts too). A line deleted from an invoice that is otherwise
// untouched changes no count compared per bucket: it is found in a
// compared bucket or by the reconcile pass.
func ReadChanges(ctx context.Context, pool *pgxpool.Pool, since Snapshot, tracked Tracked) (Changes, error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Changes{}, fmt.Errorf("read changes: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var text, exported string
	var horizon, probe int64
	// age(xid) counts back from an id fixed for the transaction, so
	// age(xmin) <= age(since.xmin) is xmin >= since.xmin for every
	// unfrozen row version (no text cast per row: twice as fast as
	// widening each xmin to 64 bits); a frozen version's age is
	// 2^31-1, as old as can be.
	if err := tx.QueryRow(ctx, `SELECT pg_current_snapshot()::text, pg_export_snapshot(), age(($1::bigint & 4294967295)::text::xid), hashtext($2 COLLATE "C")`,
		since.Xmin, bucketProbe).Scan(&text, &exported, &horizon, &probe); err != nil {
		return Changes{}, fmt.Errorf("read changes: snapshot: %w", err)
	}
	var ch Changes
	if ch.Snapshot, err = ParseSnapshot(text); err != nil {
		return Changes{}, err
	}
	// The totals per bucket do not depend on what was written: the
	// tracked side's are read while the source scans (the service
	// database is usually another server), the source's on a second
	// connection in the same snapshot (the two scans take about as long
	// each; docs/capacity.md).
	var trk, src map[int]Counts
	var theirs int64
	var g errgroup.Group
	g.Go(func() (err error) {
		if theirs, err = tracked.Hash(ctx, bucketProbe); err == nil && theirs == probe {
			trk, err = tracked.Buckets(ctx, nil)
		}
		return err
	})
	g.Go(func() (err error) {
		src, err = bucketCountsIn(ctx, pool, exported)
		return err
	})
	if ch.Written, err = written(ctx, tx, horizon); err != nil {
		_ = g.Wait()
		return Changes{}, err
	}
	catalog, err := LoadCatalog(ctx, tx)
	if err != nil {
		_ = g.Wait()
		return Changes{}, err
	}
	ch.Products = catalog.Fingerprints()
	if err := g.Wait(); err != nil {
		return Changes{}, err
	}
	var drill []int
	if theirs == probe {
		drill, err = differingBuckets(ctx, tx, ch.Written, src, trk, tracked)
	} else {
		drill = make([]int, Buckets) // bucketed unlike the source: compare them all
		for b := range drill {
			drill[b] = b
		}
	}
	if err != nil {
		return Changes{}, err
	}
	ch.Buckets, ch.Drilled = Buckets, len(drill)
	if len(drill) == 0 {
		return ch, nil
	}
	if ch.Differ, err = differing(ctx, tx, drill, ch.Written, tracked); err != nil {
		return Changes{}, err
	}
	return ch, nil
}

// written returns the customers with a row, an invoice or a line whose
// age is at most horizon (see ReadChanges).
func written(ctx context.Context, tx pgx.Tx, horizon int64) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT customer_id FROM customers WHERE age(xmin) <= $1
		UNION
		SELECT customer_id FROM invoices WHERE age(xmin) <= $1`, horizon)
	if err != nil {
		return nil, fmt.Errorf("read changes: written rows: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read changes: written rows: %w", err)
	}
	// Lines in two steps: the planner cannot tell how few lines age()
	// keeps, and joined in one statement it hashes every invoice.
	rows, err = tx.Query(ctx, "SELECT DISTINCT invoice_id FROM invoice_products WHERE age(xmin) <= $1", horizon)
	if err != nil {
		return nil, fmt.Errorf("read changes: written lines: %w", err)
	}
	invoices, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(invoices) == 0 {
		return dedupe(ids), err
	}
	rows, err = tx.Query(ctx, "SELECT DISTINCT customer_id FROM invoices WHERE invoice_id = ANY($1)", invoices)
	if err != nil {
		return nil, fmt.Errorf("read changes: owners of written lines: %w", err)
	}
	owners, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read changes: owners of written lines: %w", err)
	}
	return dedupe(append(ids, owners...)), nil
}

func dedupe(ids []string) []string {
	slices.Sort(ids)
	return slices.Compact(ids)
}

// bucketCounts sums the source's customers and invoices per bucket:
// every customer when only is nil, else only those listed. Each table is
// counted on its own (index-only scans, hashed per row), not joined.
func bucketCounts(ctx context.Context, tx pgx.Tx, only []string) (map[int]Counts, error) {
	where, args := "", []any{}
	if only != nil {
		where, args = "WHERE customer_id = ANY($1)", append(args, only)
	}
	rows, err := tx.Query(ctx, `
		SELECT `+BucketOf("customer_id")+`, count(*), 0 FROM customers `+where+` GROUP BY 1
		UNION ALL
		SELECT `+BucketOf("customer_id")+`, 0, count(*) FROM invoices `+where+` GROUP BY 1`, args...)
	if err != nil {
		return nil, fmt.Errorf("read changes: bucket counts: %w", err)
	}
	out := map[int]Counts{}
	var b int
	var customers, invoices int64
	_, err = pgx.ForEachRow(rows, []any{&b, &customers, &invoices}, func() error {
		c := out[b]
		c.Customers += customers
		c.Invoices += invoices
		out[b] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read changes: bucket counts: %w", err)
	}
	return out, nil
}

// bucketCountsIn is bucketCounts of every customer in a transaction of
// its own that imports the exported snapshot.
func bucketCountsIn(ctx context.Context, pool *pgxpool.Pool, snapshot string) (map[int]Counts, error) {
	tx, err := BeginInSnapshot(ctx, pool, snapshot, "")
	if err != nil {
		return nil, fmt.Errorf("read changes: bucket counts: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return bucketCounts(ctx, tx, nil)
}

// differingBuckets returns the buckets whose customers not written
// count differently in the source and in tracked.
// src and trk are the source's and tracked's totals of every customer.
func differingBuckets(ctx context.Context, tx pgx.Tx, written []string, src, trk map[int]Counts, tracked Tracked) ([]int, error) {
	srcW, err := bucketCounts(ctx, tx, written)
	if err != nil {
		return nil, err
	}
	trkW, err := tracked.Buckets(ctx, written)
	if err != nil {
		return nil, err
	}
	var drill []int
	for b := 0; b < Buckets; b++ {
		s, sw, t, tw := src[b], srcW[b], trk[b], trkW[b]
		if s.Customers-sw.Customers != t.Customers-tw.Customers || s.Invoices-sw.Invoices != t.Invoices-tw.Invoices {
			drill = append(drill, b)
		}
	}
	return drill, nil
}

// differing compares the buckets customer by customer and returns those
// not written whose counts differ or who are in only one of source and
// tracked.
func differing(ctx context.Context, tx pgx.Tx, buckets []int, written []string, tracked Tracked) ([]string, error) {
	trk, err := tracked.InBuckets(ctx, buckets)
	if err != nil {
		return nil, err
	}
	key, err := linesKey(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	rows, err := tx.Query(ctx, `
		SELECT c.customer_id,
			(SELECT count(*) FROM invoices i WHERE i.customer_id = c.customer_id),
			(SELECT count(ip.product_id) FROM invoices i JOIN invoice_products ip ON ip.invoice_id = i.invoice_id`+key+`
			 WHERE i.customer_id = c.customer_id)
		FROM customers c JOIN unnest($1::int[]) AS d(b) ON d.b = `+BucketOf("c.customer_id"), buckets)
	if err != nil {
		return nil, fmt.Errorf("read changes: counts: %w", err)
	}
	skip := make(map[string]bool, len(written))
	for _, id := range written {
		skip[id] = true
	}
	var differ []string
	var id string
	var c Counts
	_, err = pgx.ForEachRow(rows, []any{&id, &c.Invoices, &c.Lines}, func() error {
		c.Customers = 1
		t, ok := trk[id]
		delete(trk, id)
		if !skip[id] && (!ok || t != c) {
			differ = append(differ, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read changes: counts: %w", err)
	}
	for id := range trk { // tracked, gone from the source
		if !skip[id] {
			differ = append(differ, id)
		}
	}
	slices.Sort(differ)
	return differ, nil
}

// Fingerprints returns every product's fingerprint: a hash of its name
// and its ingredient names, which changes when the product or one of its
// ingredients is renamed or its recipe changes.
func (c *Catalog) Fingerprints() map[string]string {
	out := make(map[string]string, len(c.products))
	for id, p := range c.products {
		ingr := append([]string(nil), p.ingredients...)
		sort.Strings(ingr)
		h := sha256.Sum256([]byte(p.name + "\x00" + strings.Join(ingr, "\x00")))
		out[id] = hex.EncodeToString(h[:16])
	}
	return out
}
