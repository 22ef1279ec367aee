package source_test

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestEnrichmentIsTheSQLDefinition computes every profile of a menu built
// to trip the aggregation (two products sharing a name, an ingredient in
// several products of one invoice, a product listed twice in an invoice,
// lines of products the catalog does not know, invoices without lines,
// names whose byte order differs from their collation, ties for the
// favourites) over 3,000 customers and some 21,000 lines (dozens of the
// line stream's batches), and compares each with the definition written
// in SQL: distinct invoices per name, favourites by count then name in
// byte order; then again after deletes, moves, a rename and removed lines,
// and without the index under "C".
func TestEnrichmentIsTheSQLDefinition(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	require.NoError(t, source.CreateSchema(ctx, pool))
	seedTricky(t, pool, 3000)
	requireSQLProfiles(t, pool, 3000)
	// Behind a pooler that only speaks the simple protocol every value
	// comes as text, the product ids' array too.
	cfg := pool.Config().Copy()
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	simple, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer simple.Close()
	requireSQLProfiles(t, simple, 3000)

	// The source changes as a real one does: customers deleted with their
	// invoices, invoices moved to another customer, a product renamed to
	// another's name, lines removed; the next read sees all of it.
	_, err = pool.Exec(ctx, `
		DELETE FROM invoice_products WHERE invoice_id IN (SELECT invoice_id FROM invoices WHERE customer_id LIKE 'C001%');
		DELETE FROM invoices WHERE customer_id LIKE 'C001%';
		DELETE FROM customers WHERE customer_id LIKE 'C001%';
		UPDATE invoices SET customer_id = 'C00200' WHERE customer_id IN ('C00201', 'C00202', 'C02999');
		UPDATE products SET name = 'Zeta' WHERE product_id = 'P01';
		DELETE FROM invoice_products WHERE product_id = 'P05';`)
	require.NoError(t, err)
	requireSQLProfiles(t, pool, 2900)

	// A source without the index under "C" (the lines are then compared
	// under the column's own collation) reads the same.
	_, err = pool.Exec(ctx, `DROP INDEX invoice_products_invoice_id_c_idx; CREATE INDEX ON invoice_products (invoice_id)`)
	require.NoError(t, err)
	requireSQLProfiles(t, pool, 2900)
}

// requireSQLProfiles reads every customer with the enricher and requires
// n of them, each equal to its SQL definition.
func requireSQLProfiles(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	want := sqlProfiles(t, pool)
	got := map[string]profile.Profile{}
	require.NoError(t, source.NewEnricher(pool).Range(context.Background(), "", "", func(p profile.Profile) error {
		got[p.CustomerID] = p
		return nil
	}))
	require.Len(t, got, n)
	for id, w := range want {
		g := got[id]
		require.Equal(t, w.TotalPurchases, g.TotalPurchases, id)
		require.Equal(t, w.SourceLines, g.SourceLines, id)
		require.Equal(t, w.TotalSpent, g.TotalSpent, id)
		require.True(t, w.LastPurchaseAt.Equal(*g.LastPurchaseAt), id)
		require.True(t, w.FirstPurchaseAt.Equal(*g.FirstPurchaseAt), id)
		require.Equal(t, w.Products, g.Products, id)
		require.Equal(t, w.FavoriteProducts, g.FavoriteProducts, id)
		require.Equal(t, w.Ingredients, g.Ingredients, id)
		require.Equal(t, w.FavoriteIngredients, g.FavoriteIngredients, id)
	}
	var none int
	for id, g := range got {
		if _, ok := want[id]; !ok {
			none++
			require.Zero(t, g.TotalPurchases, id)
			require.NotNil(t, g.Products, id) // [] in JSON, not null
			require.Empty(t, g.Products, id)
			require.NotNil(t, g.FavoriteIngredients, id)
		}
	}
	require.Positive(t, none, "some customers have no purchase")
}

// seedTricky writes n customers, a menu with the traps listed above, and
// random invoices.
func seedTricky(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	ctx := context.Background()
	rnd := rand.New(rand.NewSource(11))
	names := []string{"Casado", "casado", "Álvaro's", "Zeta", "arroz", "Ñoquis", "Pinto", "Olla <carne>", "Té", "Empanada"}
	ingredients := []string{"arroz", "Arroz", "frijol", "Ñame", "queso", "carne", "té", "ajo"}
	var products, productIngredients, invoices, lines [][]any
	for i := range 16 {
		id := fmt.Sprintf("P%02d", i)
		products = append(products, []any{id, names[i%len(names)]}) // P10.. share names with P00..
		for k := range 1 + i%4 {
			productIngredients = append(productIngredients, []any{id, fmt.Sprintf("G%d", (i+k*3)%len(ingredients))})
		}
	}
	var ingredientRows [][]any
	for i, g := range ingredients {
		ingredientRows = append(ingredientRows, []any{fmt.Sprintf("G%d", i), g})
	}
	var customers [][]any
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for c := range n {
		cid := fmt.Sprintf("C%05d", c)
		customers = append(customers, []any{cid, "COMP1"})
		for v := range rnd.Intn(8) {
			iid := fmt.Sprintf("%s-I%02d", cid, v)
			date := base.Add(time.Duration(rnd.Intn(500*24)) * time.Hour)
			invoices = append(invoices, []any{iid, cid, date, float64(rnd.Intn(100000)) / 100})
			for range rnd.Intn(5) { // 0: an invoice without lines
				pid := fmt.Sprintf("P%02d", rnd.Intn(18)) // P16, P17: not in the catalog
				lines = append(lines, []any{iid, pid})
			}
		}
	}
	copyRows := func(table string, cols []string, rows [][]any) {
		_, err := pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		require.NoError(t, err, table)
	}
	copyRows("products", []string{"product_id", "name"}, products)
	copyRows("ingredients", []string{"ingredient_id", "name"}, ingredientRows)
	copyRows("product_ingredients", []string{"product_id", "ingredient_id"}, productIngredients)
	copyRows("customers", []string{"customer_id", "company_id"}, customers)
	copyRows("invoices", []string{"invoice_id", "customer_id", "invoice_date", "total_amount"}, invoices)
	copyRows("invoice_products", []string{"invoice_id", "product_id"}, lines)
	require.Greater(t, len(lines), 20000)
}

// sqlProfiles computes the purchase profile of every customer with an
// invoice, straight from its definition.
func sqlProfiles(t *testing.T, pool *pgxpool.Pool) map[string]profile.Profile {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		WITH inv AS (
			SELECT customer_id, count(*) n, sum((total_amount * 100)::bigint) cents,
			       min(invoice_date) first, max(invoice_date) last
			FROM invoices GROUP BY customer_id),
		ln AS (
			SELECT i.customer_id, count(ip.product_id) n
			FROM invoices i LEFT JOIN invoice_products ip ON ip.invoice_id = i.invoice_id GROUP BY 1),
		pn AS (
			SELECT i.customer_id, p.name, count(DISTINCT i.invoice_id) n
			FROM invoices i JOIN invoice_products ip ON ip.invoice_id = i.invoice_id
			JOIN products p ON p.product_id = ip.product_id GROUP BY 1, 2),
		gn AS (
			SELECT i.customer_id, g.name, count(DISTINCT i.invoice_id) n
			FROM invoices i JOIN invoice_products ip ON ip.invoice_id = i.invoice_id
			JOIN product_ingredients pg ON pg.product_id = ip.product_id
			JOIN ingredients g ON g.ingredient_id = pg.ingredient_id GROUP BY 1, 2)
		SELECT inv.customer_id, inv.n, ln.n, inv.cents, inv.first, inv.last,
			coalesce((SELECT array_agg(name ORDER BY name COLLATE "C") FROM pn WHERE pn.customer_id = inv.customer_id), '{}'),
			coalesce((SELECT (array_agg(name ORDER BY n DESC, name COLLATE "C"))[1:5] FROM pn WHERE pn.customer_id = inv.customer_id), '{}'),
			coalesce((SELECT array_agg(name ORDER BY name COLLATE "C") FROM gn WHERE gn.customer_id = inv.customer_id), '{}'),
			coalesce((SELECT (array_agg(name ORDER BY n DESC, name COLLATE "C"))[1:5] FROM gn WHERE gn.customer_id = inv.customer_id), '{}')
		FROM inv JOIN ln ON ln.customer_id = inv.customer_id`)
	require.NoError(t, err)
	out := map[string]profile.Profile{}
	var p profile.Profile
	var cents int64
	var first, last time.Time
	_, err = pgx.ForEachRow(rows, []any{&p.CustomerID, &p.TotalPurchases, &p.SourceLines, &cents, &first, &last,
		&p.Products, &p.FavoriteProducts, &p.Ingredients, &p.FavoriteIngredients}, func() error {
		q := p
		q.TotalSpent = profile.Cents(cents)
		f, l := first, last
		q.FirstPurchaseAt, q.LastPurchaseAt = &f, &l
		out[p.CustomerID] = q
		p = profile.Profile{}
		return nil
	})
	require.NoError(t, err)
	return out
}

// TestBinaryArrayIsPostgreSQLs decodes text arrays as PostgreSQL sends
// them in binary (empty, NULL, with NULL and empty elements, multi-byte
// text) and requires the elements it was built from; every truncation of
// them, and random bytes, are an error or a shorter list, never a panic.
func TestBinaryArrayIsPostgreSQLs(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	cases := []string{
		"SELECT NULL::text[]",
		"SELECT '{}'::text[]",
		"SELECT ARRAY['P01']",
		"SELECT ARRAY['P01', NULL, '', 'Ñandú ✓', 'P01']",
		"SELECT array_agg(x::text) FROM generate_series(1, 300) x",
	}
	for _, q := range cases {
		rows, err := pool.Query(ctx, q, pgx.QueryResultFormats{pgx.BinaryFormatCode})
		require.NoError(t, err, q)
		require.True(t, rows.Next(), q)
		raw := append([]byte(nil), rows.RawValues()[0]...)
		if rows.RawValues()[0] == nil {
			raw = nil
		}
		rows.Close()
		var want []*string
		require.NoError(t, pool.QueryRow(ctx, q).Scan(&want), q)

		got, err := source.AppendBinaryArray(nil, raw)
		require.NoError(t, err, q)
		require.Len(t, got, len(want), q)
		for i, w := range want {
			if w == nil {
				require.Nil(t, got[i], q)
			} else {
				require.Equal(t, *w, string(got[i]), q)
			}
		}
		for n := range len(raw) {
			short, err := source.AppendBinaryArray(nil, raw[:n])
			require.True(t, err != nil || len(short) < len(want), "%s cut at %d", q, n)
		}
	}
	rnd := rand.New(rand.NewSource(3))
	for range 10000 {
		b := make([]byte, rnd.Intn(64))
		rnd.Read(b)
		_, _ = source.AppendBinaryArray(nil, b)
	}
}
