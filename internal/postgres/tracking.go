package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/syncrun"
)

// Tracking keeps tracked_customers, tracked_products and the change
// tracking columns of sync_state (generation, snapshot) (syncrun.Tracking). Safe for concurrent
// use.
type Tracking struct{ db *pgxpool.Pool }

var _ syncrun.Tracking = (*Tracking)(nil)

// NewTracking returns the change-tracking repository of the service
// database.
func NewTracking(db *pgxpool.Pool) *Tracking { return &Tracking{db: db} }

// TrackedState implements syncrun.Tracking.
func (r *Tracking) TrackedState(ctx context.Context, alias string) (gen, snapshot string, err error) {
	var g, snap *string
	err = conn(ctx, r.db).QueryRow(ctx, "SELECT generation, snapshot FROM sync_state WHERE alias = $1", alias).Scan(&g, &snap)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (g == nil || snap == nil)) {
		return "", "", nil
	}
	if err != nil {
		return "", "", translate(err, "tracked state")
	}
	return *g, *snap, nil
}

// Track implements syncrun.Tracking.
func (r *Tracking) Track(ctx context.Context, alias, gen string, docs []profile.Profile) error {
	if len(docs) == 0 {
		return nil
	}
	ids, companies := make([]string, len(docs)), make([]string, len(docs))
	invoices, lines, versions := make([]int64, len(docs)), make([]int64, len(docs)), make([]int64, len(docs))
	for i, p := range docs {
		ids[i], companies[i], invoices[i], lines[i], versions[i] = p.CustomerID, p.CompanyID, p.TotalPurchases, p.SourceLines, p.SourceVersion
	}
	_, err := conn(ctx, r.db).Exec(ctx, `
		INSERT INTO tracked_customers AS t (alias, generation, customer_id, company_id, invoices, lines, version)
		SELECT DISTINCT ON (id) $1, $2, id, company, n, l, v
		FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[]) AS u(id, company, n, l, v)
		ORDER BY id, v DESC
		ON CONFLICT (alias, generation, customer_id) DO UPDATE
		SET company_id = excluded.company_id, invoices = excluded.invoices, lines = excluded.lines, version = excluded.version
		WHERE excluded.version >= t.version`,
		alias, gen, ids, companies, invoices, lines, versions)
	return translate(err, "track documents")
}

// trackedColumns are the columns TrackNew copies, in its rows' order.
var trackedColumns = []string{"alias", "generation", "customer_id", "company_id", "invoices", "lines", "version"}

// TrackNew implements syncrun.Tracking: a COPY of the batch as it is,
// without choosing the newer of two docs of one customer either, which
// fails as a whole on a customer tracked already (a shard that runs
// again) or listed twice, then Track. The upsert's per-row conflict check
// was half the cost of tracking a full sync's 800k customers, the choice
// a tenth (4.5 s, 2.3 s without the check, 2.0 s without either, in one
// psql session, batches of 5,000; docs/capacity.md). A COPY costs the
// backend a quarter less CPU than the INSERT of arrays it replaced
// (800k rows in batches of 5,000 into an empty generation: 2.0-2.4 s
// against 2.8-3.3 s, alternating runs; docs/capacity.md).
func (r *Tracking) TrackNew(ctx context.Context, alias, gen string, docs []profile.Profile) error {
	if len(docs) == 0 {
		return nil
	}
	_, err := conn(ctx, r.db).CopyFrom(ctx, pgx.Identifier{"tracked_customers"}, trackedColumns,
		pgx.CopyFromSlice(len(docs), func(i int) ([]any, error) {
			p := &docs[i]
			return []any{alias, gen, p.CustomerID, p.CompanyID, p.TotalPurchases, p.SourceLines, p.SourceVersion}, nil
		}))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		return r.Track(ctx, alias, gen, docs)
	}
	return translate(err, "track documents")
}

// TrackedCompanies implements syncrun.Tracking.
func (r *Tracking) TrackedCompanies(ctx context.Context, alias, gen string, ids []string) (map[string]string, error) {
	rows, err := conn(ctx, r.db).Query(ctx, "SELECT customer_id, company_id FROM tracked_customers WHERE alias = $1 AND generation = $2 AND customer_id = ANY($3)",
		alias, gen, ids)
	if err != nil {
		return nil, translate(err, "tracked companies")
	}
	company := map[string]string{}
	var id, c string
	if _, err := pgx.ForEachRow(rows, []any{&id, &c}, func() error { company[id] = c; return nil }); err != nil {
		return nil, translate(err, "tracked companies")
	}
	return company, nil
}

// Untrack implements syncrun.Tracking.
func (r *Tracking) Untrack(ctx context.Context, alias, gen string, ids []string, version int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := conn(ctx, r.db).Exec(ctx, "DELETE FROM tracked_customers WHERE alias = $1 AND generation = $2 AND customer_id = ANY($3) AND version <= $4",
		alias, gen, ids, version)
	return translate(err, "untrack deleted customers")
}

// Tracked implements syncrun.Tracking.
func (r *Tracking) Tracked(alias, gen string) source.Tracked {
	return trackedSet{db: r.db, alias: alias, gen: gen}
}

// trackedSet is one generation's tracked customers, bucketed as
// source.ReadChanges compares them (source.BucketOf).
type trackedSet struct {
	db         *pgxpool.Pool
	alias, gen string
}

// Buckets implements source.Tracked.
func (t trackedSet) Buckets(ctx context.Context, only []string) (map[int]source.Counts, error) {
	where, args := "", []any{t.alias, t.gen}
	if only != nil {
		where, args = "AND customer_id = ANY($3)", append(args, only)
	}
	rows, err := conn(ctx, t.db).Query(ctx, `SELECT `+source.BucketOf("customer_id")+`, count(*), coalesce(sum(invoices), 0)::bigint
		FROM tracked_customers WHERE alias = $1 AND generation = $2 `+where+` GROUP BY 1`, args...)
	if err != nil {
		return nil, translate(err, "tracked bucket counts")
	}
	out := map[int]source.Counts{}
	var b int
	var c source.Counts
	if _, err := pgx.ForEachRow(rows, []any{&b, &c.Customers, &c.Invoices}, func() error { out[b] = c; return nil }); err != nil {
		return nil, translate(err, "tracked bucket counts")
	}
	return out, nil
}

// InBuckets implements source.Tracked.
func (t trackedSet) InBuckets(ctx context.Context, buckets []int) (map[string]source.Counts, error) {
	rows, err := conn(ctx, t.db).Query(ctx, `SELECT customer_id, invoices, lines FROM tracked_customers
		JOIN unnest($3::int[]) AS d(b) ON d.b = `+source.BucketOf("customer_id")+`
		WHERE alias = $1 AND generation = $2`, t.alias, t.gen, buckets)
	if err != nil {
		return nil, translate(err, "tracked customers")
	}
	out := map[string]source.Counts{}
	var id string
	c := source.Counts{Customers: 1}
	if _, err := pgx.ForEachRow(rows, []any{&id, &c.Invoices, &c.Lines}, func() error { out[id] = c; return nil }); err != nil {
		return nil, translate(err, "tracked customers")
	}
	return out, nil
}

// Hash implements source.Tracked.
func (t trackedSet) Hash(ctx context.Context, s string) (int64, error) {
	var h int64
	err := conn(ctx, t.db).QueryRow(ctx, `SELECT hashtext($1 COLLATE "C")`, s).Scan(&h)
	return h, translate(err, "hash")
}

// TrackedProducts implements syncrun.Tracking.
func (r *Tracking) TrackedProducts(ctx context.Context, alias string) (map[string]string, error) {
	rows, err := conn(ctx, r.db).Query(ctx, "SELECT product_id, fingerprint FROM tracked_products WHERE alias = $1", alias)
	if err != nil {
		return nil, translate(err, "read tracked catalog")
	}
	out := map[string]string{}
	var id, fp string
	if _, err := pgx.ForEachRow(rows, []any{&id, &fp}, func() error { out[id] = fp; return nil }); err != nil {
		return nil, translate(err, "read tracked catalog")
	}
	return out, nil
}

// SaveCatalog implements syncrun.Tracking.
func (r *Tracking) SaveCatalog(ctx context.Context, alias string, products map[string]string) error {
	ids, fps := make([]string, 0, len(products)), make([]string, 0, len(products))
	for id, fp := range products {
		ids, fps = append(ids, id), append(fps, fp)
	}
	return inTx(ctx, r.db, func(ctx context.Context) error {
		q := conn(ctx, r.db)
		if _, err := q.Exec(ctx, "DELETE FROM tracked_products WHERE alias = $1", alias); err != nil {
			return translate(err, "save catalog")
		}
		_, err := q.Exec(ctx, "INSERT INTO tracked_products (alias, product_id, fingerprint) SELECT $1, * FROM unnest($2::text[], $3::text[])",
			alias, ids, fps)
		return translate(err, "save catalog")
	})
}

// Adopt implements syncrun.Tracking.
func (r *Tracking) Adopt(ctx context.Context, alias, gen, snapshot string, catalog map[string]string) error {
	return inTx(ctx, r.db, func(ctx context.Context) error {
		q := conn(ctx, r.db)
		if _, err := q.Exec(ctx, `INSERT INTO sync_state (alias, generation, snapshot) VALUES ($1, $2, $3)
			ON CONFLICT (alias) DO UPDATE SET generation = $2, snapshot = $3`, alias, gen, snapshot); err != nil {
			return translate(err, "adopt generation")
		}
		return r.SaveCatalog(ctx, alias, catalog)
	})
}

// DropOthers implements syncrun.Tracking.
func (r *Tracking) DropOthers(ctx context.Context, alias, gen string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "DELETE FROM tracked_customers WHERE alias = $1 AND generation <> $2", alias, gen)
	return translate(err, "drop other generations' tracking")
}

// AdvanceSnapshot implements syncrun.Tracking.
func (r *Tracking) AdvanceSnapshot(ctx context.Context, alias, gen, snapshot string) error {
	_, err := conn(ctx, r.db).Exec(ctx, "UPDATE sync_state SET snapshot = $3 WHERE alias = $1 AND generation = $2", alias, gen, snapshot)
	return translate(err, "advance snapshot")
}
