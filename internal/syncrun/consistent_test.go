package syncrun_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/syncrun"
	"github.com/reactivation/reactivation/tasks"
)

// TestFullSyncConsistentWhileSourceChanges, on both engines: while each
// shard of a full sync streams (its customers' query under way, its
// lines' query about to start), customers of that shard's range are
// deleted with their invoices and new ones with invoices inserted among
// them. Shards are 300 customers, six write batches and several line
// batches long. Every document a shard writes equals the SQL computation
// over the source as of the shard's snapshot (before the changes): no
// customer gets another's lines, no later customer zero purchases. After
// the run's catch-up the serving index equals the source as it is now.
//
// The hook is a pgx tracer on the sync's own source pool: it runs the
// changes when a shard's invoice-lines query starts, the moment a build
// that reads customers and lines in two snapshots would diverge.
func TestFullSyncConsistentWhileSourceChanges(t *testing.T) {
	for _, engine := range []string{"elasticsearch", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			written := &writtenDocs{docs: map[string]profile.Profile{}}
			b := setup(t, 1200, func(c *config.Config) {
				c.SyncShardSize = 300
				if engine == "postgres" {
					c.ElasticsearchURL = ""
				}
			}, func(e search.Engine) search.Engine { written.Engine = e; return written })

			hook := &linesHook{}
			b.svc = syncrun.New(syncrun.Params{Runs: postgres.NewSyncRuns(b.deps.DB), Tracking: postgres.NewTracking(b.deps.DB), Scores: postgres.NewScores(b.deps.DB), Source: tracedPool(t, b.cfg.SourceDatabaseURL, hook),
				Engine: written, Dispatcher: b.deps.Dispatcher, Log: b.deps.Log,
				Config: syncrun.Config{Alias: b.cfg.IndexAlias, ShardSize: b.cfg.SyncShardSize, BatchSize: 50}})
			before := purchasesBySQL(t, b.deps.DB)
			job, shards := b.plan(ctx, t)
			require.GreaterOrEqual(t, len(shards), 4)

			var erased, added []string
			for i, p := range shards {
				ids := customersIn(t, b.deps.DB, p.Lo, p.Hi)
				if len(ids) < 250 {
					continue // the last range holds the remainder only
				}
				// Early in the range, so many customers follow in the merge.
				gone := []string{ids[5], ids[60], ids[170]}
				fresh := []string{ids[3] + "a", ids[40] + "a", ids[200] + "a"}
				hook.arm(func() error { return changeRange(b.deps.DB, gone, fresh, i) })
				require.NoError(t, b.svc.Shard(ctx, p))
				fired, err := hook.result()
				require.True(t, fired, "shard %d read its lines with the hook armed", p.Shard)
				require.NoError(t, err, "change the source while shard %d streams", p.Shard)
				erased, added = append(erased, gone...), append(added, fresh...)
			}
			require.NotEmpty(t, erased)

			// What the shards wrote: the source as of their snapshots.
			require.Len(t, written.docs, len(before))
			for _, id := range erased {
				require.Contains(t, written.docs, id, "a customer deleted after the shard's snapshot is in it")
			}
			for _, id := range added {
				require.NotContains(t, written.docs, id, "a customer inserted after the shard's snapshot is not in it")
			}
			requirePurchases(t, before, written.docs)

			// The run's catch-up brings the changes made while it ran.
			require.NoError(t, b.svc.Finalize(ctx, tasks.SyncFinalizePayload{JobPayload: tasks.JobPayload{JobID: job.ID},
				Generation: shards[0].Generation}))
			b.requireState(t, job.ID, jobs.Succeeded)
			now := purchasesBySQL(t, b.deps.DB)
			for _, id := range added {
				require.Greater(t, now[id].TotalPurchases, int64(0))
			}
			serving := map[string]profile.Profile{}
			require.NoError(t, b.deps.Engine.Scan(ctx, search.Query{Size: 500, Unordered: true}, func(page []profile.Profile) error {
				for _, p := range page {
					serving[p.CustomerID] = p
				}
				return nil
			}))
			requirePurchases(t, now, serving)
		})
	}
}

// writtenDocs records every document a full sync's shards write.
type writtenDocs struct {
	search.Engine
	mu   sync.Mutex
	docs map[string]profile.Profile
}

func (w *writtenDocs) Index(ctx context.Context, gen string, docs []profile.Profile) error {
	w.mu.Lock()
	for _, d := range docs {
		w.docs[d.CustomerID] = d
	}
	w.mu.Unlock()
	return w.Engine.Index(ctx, gen, docs)
}

// linesHook runs its armed function once, when an enrichment's
// invoice-lines query starts, and keeps its error.
type linesHook struct {
	mu   sync.Mutex
	fn   func() error
	done bool
	err  error
}

func (h *linesHook) arm(fn func() error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fn, h.done, h.err = fn, false, nil
}

// result reports whether the armed function ran, and its error.
func (h *linesHook) result() (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.done, h.err
}

func (h *linesHook) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !strings.Contains(data.SQL, "FROM invoice_products ip WHERE ip.invoice_id = i.invoice_id") {
		return ctx
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fn != nil {
		h.err = h.fn()
		h.fn, h.done = nil, true
	}
	return ctx
}

func (h *linesHook) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// tracedPool opens a source pool whose queries go through hook.
func tracedPool(t *testing.T, url string, hook pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	pc, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	pc.MaxConns = 8
	pc.ConnConfig.Tracer = hook
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// customersIn lists the customers with lo < id <= hi in id order.
func customersIn(t *testing.T, db *pgxpool.Pool, lo, hi string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT customer_id FROM customers
		WHERE customer_id > $1 AND ($2 = '' OR customer_id <= $2) ORDER BY customer_id`, lo, hi)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return ids
}

// changeRange deletes gone with their invoices and lines, and inserts
// fresh customers with two invoices of three lines each, in one
// transaction.
func changeRange(db *pgxpool.Pool, gone, fresh []string, shard int) error {
	ctx := context.Background()
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		for _, sql := range []string{
			"DELETE FROM invoice_products WHERE invoice_id IN (SELECT invoice_id FROM invoices WHERE customer_id = ANY($1))",
			"DELETE FROM invoices WHERE customer_id = ANY($1)",
			"DELETE FROM customers WHERE customer_id = ANY($1)",
		} {
			if _, err := tx.Exec(ctx, sql, gone); err != nil {
				return err
			}
		}
		for _, id := range fresh {
			if _, err := tx.Exec(ctx, "INSERT INTO customers (customer_id, company_id, name, city) VALUES ($1, 'COMP001', 'New', 'Heredia')", id); err != nil {
				return err
			}
			for n := range 2 {
				inv := fmt.Sprintf("%s-inv%d-s%d", id, n, shard)
				if _, err := tx.Exec(ctx, `INSERT INTO invoices (invoice_id, customer_id, invoice_date, total_amount)
					VALUES ($1, $2, $3, $4)`, inv, id, time.Now().Add(-time.Duration(n+1)*24*time.Hour), 1500+n); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO invoice_products (invoice_id, product_id)
					SELECT $1, product_id FROM products ORDER BY product_id LIMIT 3`, inv); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// purchasesBySQL computes each customer's purchase figures over the
// source with SQL written here: invoices counted and summed on their own
// grain, product names distinct over the lines.
func purchasesBySQL(t *testing.T, db *pgxpool.Pool) map[string]profile.Profile {
	t.Helper()
	rows, err := db.Query(context.Background(), `
		SELECT c.customer_id, c.company_id, coalesce(i.n, 0), coalesce(i.cents, 0), i.first, i.last,
		       coalesce((SELECT array_agg(DISTINCT p.name) FROM invoices v
		                 JOIN invoice_products ip ON ip.invoice_id = v.invoice_id
		                 JOIN products p ON p.product_id = ip.product_id
		                 WHERE v.customer_id = c.customer_id), '{}')
		FROM customers c
		LEFT JOIN (SELECT customer_id, count(*) AS n, sum((total_amount * 100)::bigint) AS cents,
		                  min(invoice_date) AS first, max(invoice_date) AS last
		           FROM invoices GROUP BY customer_id) i ON i.customer_id = c.customer_id`)
	require.NoError(t, err)
	out := map[string]profile.Profile{}
	var p profile.Profile
	var cents int64
	_, err = pgx.ForEachRow(rows, []any{&p.CustomerID, &p.CompanyID, &p.TotalPurchases, &cents, &p.FirstPurchaseAt, &p.LastPurchaseAt, &p.Products}, func() error {
		q := p
		q.TotalSpent = profile.Cents(cents)
		q.Products = slices.Sorted(slices.Values(p.Products))
		out[q.CustomerID] = q
		return nil
	})
	require.NoError(t, err)
	return out
}

// requirePurchases requires got to hold exactly want's customers, each
// with want's company, purchase count, spend, first and last purchase and
// products.
func requirePurchases(t *testing.T, want, got map[string]profile.Profile) {
	t.Helper()
	require.Len(t, got, len(want), "documents")
	sameTime := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	var diffs []string
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			diffs = append(diffs, id+": no document")
		case g.CompanyID != w.CompanyID || g.TotalPurchases != w.TotalPurchases || g.TotalSpent != w.TotalSpent ||
			!sameTime(g.FirstPurchaseAt, w.FirstPurchaseAt) || !sameTime(g.LastPurchaseAt, w.LastPurchaseAt) ||
			!slices.Equal(slices.Sorted(slices.Values(g.Products)), w.Products):
			diffs = append(diffs, fmt.Sprintf("%s: want %d purchases, %s, %v; got %d, %s, %v",
				id, w.TotalPurchases, w.TotalSpent, w.Products, g.TotalPurchases, g.TotalSpent, g.Products))
		}
	}
	slices.Sort(diffs)
	require.Empty(t, diffs[:min(len(diffs), 5)], "%d of %d documents differ from the source", len(diffs), len(want))
}
