package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/syncrun"
	"github.com/reactivation/reactivation/internal/testenv"
)

// The acceptance test of change tracking: after a full sync the source
// changes every way a POS database does, none of which touches an
// updated_at the old watermark could see, and one incremental sync (plus
// the catalog re-enrichment it starts) makes every document equal SQL over
// the source, on both engines.

func TestEveryKindOfChangeReachesElasticsearch(t *testing.T) {
	testEveryKindOfChange(t, setup(t, demoCustomers, nil))
}

func TestEveryKindOfChangeReachesThePostgresEngine(t *testing.T) {
	testEveryKindOfChange(t, setup(t, demoCustomers, func(c *config.Config) { c.ElasticsearchURL = "" }))
}

func testEveryKindOfChange(t *testing.T, b *testBundle) {
	ctx := context.Background()
	src := b.deps.Source
	start(t, b.cfg, "worker")
	start(t, b.cfg, "worker")

	// Disjoint sets of customers with at least two invoices, in a stable order.
	rows, err := src.Query(ctx, `SELECT customer_id FROM invoices GROUP BY customer_id HAVING count(*) >= 2 ORDER BY md5(customer_id) LIMIT 200`)
	require.NoError(t, err)
	pick, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, pick, 200)
	deleted, voided, movedFrom, movedTo := pick[0:30], pick[30:60], pick[60:80], pick[80:100]
	lined, edited, late := pick[100:120], pick[120:140], pick[140:160]

	// A store's batch upload: a transaction that began 15 minutes before it
	// commits, its rows dated then; it stays open through the full sync.
	lateTx, err := src.Begin(ctx)
	require.NoError(t, err)
	defer lateTx.Rollback(ctx)
	_, err = lateTx.Exec(ctx, `
		INSERT INTO invoices (invoice_id, customer_id, invoice_date, total_amount, created_at, updated_at)
		SELECT 'LATE-' || id, id, now() - interval '15 minutes', 99.99, now() - interval '15 minutes', now() - interval '15 minutes'
		FROM unnest($1::text[]) AS id`, late)
	require.NoError(t, err)
	_, err = lateTx.Exec(ctx, `INSERT INTO invoice_products (invoice_id, product_id, quantity)
		SELECT 'LATE-' || id, (SELECT max(product_id) FROM products), 1 FROM unnest($1::text[]) AS id`, late)
	require.NoError(t, err)

	full := b.startSync(t, "full")
	j := waitJob(t, b.deps.Jobs, full, 5*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	require.NoError(t, lateTx.Commit(ctx))

	exec := func(sql string, args ...any) int64 {
		t.Helper()
		tag, err := src.Exec(ctx, sql, args...)
		require.NoError(t, err)
		return tag.RowsAffected()
	}
	// 30 customers erased, with their invoices and lines.
	exec(`DELETE FROM invoice_products WHERE invoice_id IN (SELECT invoice_id FROM invoices WHERE customer_id = ANY($1))`, deleted)
	exec(`DELETE FROM invoices WHERE customer_id = ANY($1)`, deleted)
	require.EqualValues(t, 30, exec(`DELETE FROM customers WHERE customer_id = ANY($1)`, deleted))
	// One invoice voided for 30 others.
	first := `(SELECT min(invoice_id) FROM invoices WHERE customer_id = c)`
	exec(`DELETE FROM invoice_products WHERE invoice_id IN (SELECT `+first+` FROM unnest($1::text[]) AS c)`, voided)
	require.EqualValues(t, 30, exec(`DELETE FROM invoices WHERE invoice_id IN (SELECT `+first+` FROM unnest($1::text[]) AS c)`, voided))
	// 20 invoices moved to another customer (the wrong loyalty card).
	require.EqualValues(t, 20, exec(`UPDATE invoices i SET customer_id = m.dst
		FROM (SELECT `+first+` AS invoice_id, d AS dst FROM unnest($1::text[], $2::text[]) AS m(c, d)) m
		WHERE i.invoice_id = m.invoice_id`, movedFrom, movedTo))
	// Lines added to 20 invoices, the invoices untouched.
	require.EqualValues(t, 20, exec(`INSERT INTO invoice_products (invoice_id, product_id, quantity)
		SELECT `+first+`, (SELECT min(product_id) FROM products), 3 FROM unnest($1::text[]) AS c`, lined))
	// One product renamed, one recipe changed.
	require.EqualValues(t, 1, exec(`UPDATE products SET name = name || ' Especial' WHERE product_id = (SELECT min(product_id) FROM products)`))
	var recipe string
	require.NoError(t, src.QueryRow(ctx, `SELECT product_id FROM product_ingredients
		WHERE product_id <> (SELECT min(product_id) FROM products) GROUP BY product_id HAVING count(*) >= 2 ORDER BY product_id LIMIT 1`).Scan(&recipe))
	var dropped string
	require.NoError(t, src.QueryRow(ctx, `SELECT min(ingredient_id) FROM product_ingredients WHERE product_id = $1`, recipe).Scan(&dropped))
	require.EqualValues(t, 1, exec(`INSERT INTO product_ingredients (product_id, ingredient_id)
		SELECT $1, min(ingredient_id) FROM ingredients WHERE ingredient_id NOT IN (SELECT ingredient_id FROM product_ingredients WHERE product_id = $1)`, recipe))
	require.EqualValues(t, 1, exec(`DELETE FROM product_ingredients WHERE product_id = $1 AND ingredient_id = $2`, recipe, dropped))
	// 10 new customers, half of them with a purchase.
	for i := range 10 {
		id := fmt.Sprintf("NEWC-%02d", i)
		exec(`INSERT INTO customers (customer_id, company_id, name, email, phone, gender, city)
			SELECT $1, company_id, 'Nueva Clienta', '', '', 'F', 'Liberia' FROM customers WHERE customer_id = $2`, id, pick[0+160+i])
		if i%2 == 0 {
			exec(`INSERT INTO invoices (invoice_id, customer_id, invoice_date, total_amount) VALUES ($1, $2, now() - interval '1 day', 10.05)`, "INV-"+id, id)
			exec(`INSERT INTO invoice_products (invoice_id, product_id) VALUES ($1, (SELECT min(product_id) FROM products))`, "INV-"+id)
		}
	}
	// 20 customers edited, updated_at left alone.
	require.EqualValues(t, 20, exec(`UPDATE customers SET city = 'Nicoya', name = name || ' Jr' WHERE customer_id = ANY($1)`, edited))

	inc := b.startSync(t, "incremental")
	j = waitJob(t, b.deps.Jobs, inc, 2*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	var res syncrun.Changed
	require.NoError(t, json.Unmarshal(j.Result, &res))
	require.EqualValues(t, 30, res.Deleted, string(j.Result))
	require.NotEmpty(t, res.CatalogJobID, "the renamed product and the changed recipe start a re-enrichment of their buyers")
	cat := waitJob(t, b.deps.Jobs, res.CatalogJobID, 3*time.Minute)
	require.Equal(t, jobs.Succeeded, cat.State, cat.Error)
	require.Greater(t, cat.Progress.Total, int64(1), "the re-enrichment runs in shards")
	require.JSONEq(t, `2`, string(mustField(t, cat.Result, "products")), "the renamed product and the changed recipe")
	t.Logf("incremental %s, catalog re-enrichment %s", j.Result, cat.Result)

	got := b.documents(t)
	for _, id := range deleted {
		require.NotContains(t, got, id, "an erased customer's document is gone")
	}
	requireSameProfiles(t, expected(t, src), got)
}

// documents reads every document the serving generation holds, from
// either engine.
func (b *testBundle) documents(t *testing.T) map[string]profile.Profile {
	t.Helper()
	if b.deps.Engine.Name() == "elasticsearch" {
		refresh(t, b)
		es, err := elastic.NewClient(testenv.ElasticsearchURL(), testenv.SearchFlavor())
		require.NoError(t, err)
		return indexed(t, es, b.cfg.IndexAlias)
	}
	rows, err := b.deps.DB.Query(context.Background(), "SELECT doc FROM "+b.cfg.IndexAlias+"_profiles")
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[profile.Profile])
	require.NoError(t, err)
	out := map[string]profile.Profile{}
	for _, p := range got {
		out[p.CustomerID] = p
	}
	return out
}

func mustField(t *testing.T, raw json.RawMessage, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m[name]
}

// TestADeletedCustomerLeavesSearch: one erased customer is gone from
// search after one incremental run, and a refresh of a deleted id removes
// it and says so.
func TestADeletedCustomerLeavesSearch(t *testing.T) {
	b := setup(t, 3000, nil)
	start(t, b.cfg, "worker")
	ctx := context.Background()
	j := waitJob(t, b.deps.Jobs, b.startSync(t, "full"), 2*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)

	var phone string
	erase := func() string {
		var id string
		require.NoError(t, b.deps.Source.QueryRow(ctx, `SELECT customer_id, coalesce(phone, '') FROM customers c
			WHERE EXISTS (SELECT 1 FROM invoices i WHERE i.customer_id = c.customer_id) ORDER BY md5(customer_id || $1) LIMIT 1`,
			time.Now().String()).Scan(&id, &phone))
		_, err := b.deps.Source.Exec(ctx, `WITH i AS (DELETE FROM invoices WHERE customer_id = $1 RETURNING invoice_id)
			DELETE FROM invoice_products WHERE invoice_id IN (SELECT invoice_id FROM i)`, id)
		require.NoError(t, err)
		_, err = b.deps.Source.Exec(ctx, `DELETE FROM customers WHERE customer_id = $1`, id)
		require.NoError(t, err)
		require.Contains(t, b.documents(t), id)
		return id
	}
	gone := erase()
	j = waitJob(t, b.deps.Jobs, b.startSync(t, "incremental"), time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	// Only the bucket holding the erased customer is compared customer by
	// customer. (Documents are not compared: a
	// transaction open anywhere in the cluster, another test's, pins the
	// snapshot's xmin and makes every older customer "written".)
	var res syncrun.Changed
	require.NoError(t, json.Unmarshal(j.Result, &res))
	require.Equal(t, syncrun.Changed{Documents: res.Documents, Deleted: 1, Buckets: source.Buckets, BucketsDiffered: 1}, res, string(j.Result))
	require.NotContains(t, b.documents(t), gone)
	if phone != "" {
		page, err := b.deps.Engine.Search(ctx, search.Query{Size: 100, Filter: segment.Filter{Q: &phone}})
		require.NoError(t, err)
		for _, p := range page.Customers {
			require.NotEqual(t, gone, p.CustomerID, "search finds no erased customer")
		}
	}

	gone = erase()
	job, err := b.syncService().StartRefresh(ctx, []string{gone}, jobs.Tenant{Admin: true}, "test")
	require.NoError(t, err)
	j = waitJob(t, b.deps.Jobs, job.ID, time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)
	require.JSONEq(t, `{"requested":1,"documents":0,"ignored":0,"deleted":1,"deletedIds":["`+gone+`"]}`, string(j.Result))
	require.NotContains(t, b.documents(t), gone)
	requireSameProfiles(t, expected(t, b.deps.Source), b.documents(t))
}
