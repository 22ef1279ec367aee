package demo_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/demo"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/testenv"
)

type testBundle struct {
	ctx  context.Context
	pool *pgxpool.Pool
	asOf time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	loc, err := time.LoadLocation("America/Costa_Rica")
	require.NoError(t, err)
	return &testBundle{
		ctx:  context.Background(),
		pool: testenv.Postgres(t),
		asOf: time.Date(2026, 3, 1, 0, 0, 0, 0, loc),
	}
}

func (b *testBundle) seed(t *testing.T, opts demo.Options) demo.Stats {
	t.Helper()
	stats, err := demo.Seed(b.ctx, b.pool, opts)
	require.NoError(t, err)
	return stats
}

// float runs a query returning one number.
func (b *testBundle) float(t *testing.T, sql string, args ...any) float64 {
	t.Helper()
	var v float64
	require.NoError(t, b.pool.QueryRow(b.ctx, sql, args...).Scan(&v), sql)
	return v
}

func (b *testBundle) strings(t *testing.T, sql string) []string {
	t.Helper()
	rows, err := b.pool.Query(b.ctx, sql)
	require.NoError(t, err, sql)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err, sql)
	return out
}

func TestSeedDistribution(t *testing.T) {
	b := setup(t)
	const n = 5000
	stats := b.seed(t, demo.Options{Customers: n, Seed: 42, AsOf: b.asOf})
	require.EqualValues(t, n, stats.Rows["customers"])
	require.Equal(t, stats.Rows["invoices"], int64(b.float(t, "SELECT count(*) FROM invoices")))

	// Days since the last purchase, in calendar days of the business time zone.
	recency := fmt.Sprintf(`WITH recency AS (
		SELECT c.customer_id, DATE '%s' - max(timezone('America/Costa_Rica', i.invoice_date))::date AS days
		FROM customers c LEFT JOIN invoices i USING (customer_id) GROUP BY c.customer_id) `, b.asOf.Format(time.DateOnly))

	t.Run("purchases", func(t *testing.T) {
		never := b.float(t, recency+"SELECT avg((days IS NULL)::int) FROM recency")
		require.InDelta(t, 0.09, never, 0.06, "share never purchased")
		inactive := b.float(t, recency+"SELECT avg((days >= 90)::int) FROM recency")
		require.GreaterOrEqual(t, inactive, 0.20, "share inactive 90+ days")
		require.LessOrEqual(t, inactive, 0.70, "share inactive 90+ days")
		for _, bucket := range [][2]int{{0, 30}, {31, 60}, {61, 90}, {91, 180}, {181, 365}, {366, 100000}} {
			share := b.float(t, recency+"SELECT avg((days BETWEEN $1 AND $2)::int) FROM recency", bucket[0], bucket[1])
			require.GreaterOrEqual(t, share, 0.05, "recency %d-%d days", bucket[0], bucket[1])
		}
		require.Zero(t, b.float(t, recency+"SELECT count(*) FROM recency WHERE days < 1 OR days > 3 * 366"), "invoices in the three years before AsOf")

		perCustomer := b.float(t, "SELECT count(*)::float / $1 FROM invoices", n)
		require.InDelta(t, 8, perCustomer, 1.5, "invoices per customer")
		perInvoice := b.float(t, "SELECT (SELECT count(*) FROM invoice_products)::float / count(*) FROM invoices")
		require.InDelta(t, 2.5, perInvoice, 0.3, "lines per invoice")
		most := b.float(t, "SELECT max(c) FROM (SELECT count(*) AS c FROM invoices GROUP BY customer_id) x")
		require.GreaterOrEqual(t, most, 100.0, "a few customers buy hundreds of times")
		median := b.float(t, "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY c) FROM (SELECT count(*) AS c FROM invoices GROUP BY customer_id) x")
		require.LessOrEqual(t, median, 8.0, "most buy a handful of times")
	})

	t.Run("invoices", func(t *testing.T) {
		require.Zero(t, b.float(t, `SELECT count(*) FROM invoices i
			WHERE NOT EXISTS (SELECT 1 FROM invoice_products p WHERE p.invoice_id = i.invoice_id)`), "invoices without lines")
		require.Positive(t, b.float(t, "SELECT count(*) FROM invoices WHERE total_amount <> trunc(total_amount)"), "totals with cents")
		require.Zero(t, b.float(t, `SELECT count(*) FROM invoices WHERE total_amount < 1000 OR total_amount > 1000000`), "plausible totals")
		require.Zero(t, b.float(t, "SELECT count(*) FROM invoice_products WHERE quantity NOT BETWEEN 1 AND 4"))
		require.Zero(t, b.float(t, "SELECT count(*) FROM (SELECT 1 FROM invoice_products GROUP BY invoice_id, product_id HAVING count(*) > 1) x"), "a product once per invoice")
		require.Zero(t, b.float(t, `SELECT count(*) FROM customers c JOIN invoices i USING (customer_id)
			WHERE c.created_at >= i.invoice_date OR c.updated_at <> c.created_at`), "created before the first invoice")
	})

	t.Run("catalog", func(t *testing.T) {
		products := b.float(t, "SELECT count(*) FROM products")
		require.True(t, products >= 40 && products <= 80, "%v products", products)
		require.Zero(t, b.float(t, `SELECT count(*) FROM (SELECT p.product_id FROM products p
			LEFT JOIN product_ingredients pi USING (product_id) GROUP BY p.product_id
			HAVING count(pi.ingredient_id) NOT BETWEEN 3 AND 8) x`), "3 to 8 ingredients a product")
		require.Zero(t, b.float(t, `SELECT count(*) FROM product_ingredients pi
			WHERE NOT EXISTS (SELECT 1 FROM ingredients i WHERE i.ingredient_id = pi.ingredient_id)`))
		require.Contains(t, b.strings(t, "SELECT name FROM ingredients"), "piña")
	})

	t.Run("customers", func(t *testing.T) {
		cities := map[string]bool{}
		for _, c := range b.strings(t, "SELECT DISTINCT city FROM customers WHERE city IS NOT NULL") {
			cities[profile.Fold(c)] = true
		}
		require.GreaterOrEqual(t, len(cities), 10, "distinct cities after folding")
		raw := b.strings(t, "SELECT DISTINCT city FROM customers WHERE city IS NOT NULL")
		require.Subset(t, raw, []string{"San José", "San Jose", "SAN JOSÉ", "san josé", "Limón", "Pérez Zeledón"})

		genders := b.strings(t, "SELECT DISTINCT coalesce(gender, 'NULL') FROM customers")
		require.Subset(t, genders, []string{"mujer", "hombre", "Mujer", "HOMBRE", "F", "masculino", " m ", "", "NULL"})

		require.Positive(t, b.float(t, `SELECT count(*) FROM customers WHERE name LIKE '%,%'`), "names with commas")
		require.Positive(t, b.float(t, `SELECT count(*) FROM customers WHERE name LIKE '%"%'`), "names with quotes")
		require.Positive(t, b.float(t, `SELECT count(*) FROM customers WHERE name LIKE '%''%'`), "names with apostrophes")
		require.Positive(t, b.float(t, "SELECT count(*) FROM customers WHERE email IS NULL"))
		require.Positive(t, b.float(t, "SELECT count(*) FROM customers WHERE phone IS NULL"))
		require.Zero(t, b.float(t, "SELECT count(*) FROM customers WHERE email = '' OR phone = '' OR city = ''"), "missing is NULL")
		phone := regexp.MustCompile(`^\+506 [2678]\d{3} \d{4}$`)
		for _, p := range b.strings(t, "SELECT phone FROM customers WHERE phone IS NOT NULL") {
			require.Regexp(t, phone, p)
		}
		require.Regexp(t, `^C\d{7}$`, b.strings(t, "SELECT max(customer_id) FROM customers")[0])

		shares := b.strings(t, "SELECT company_id FROM customers GROUP BY company_id ORDER BY count(*) DESC")
		require.Equal(t, []string{"COMP001", "COMP002", "COMP003"}, shares, "companies by size")
	})
}

// checksums dumps every source table in primary key order and returns an
// md5 of each.
func (b *testBundle) checksums(t *testing.T) map[string]string {
	t.Helper()
	order := map[string]string{
		"customers": "customer_id", "invoices": "invoice_id", "invoice_products": "invoice_id, product_id",
		"products": "product_id", "ingredients": "ingredient_id", "product_ingredients": "product_id, ingredient_id",
	}
	out := map[string]string{}
	for _, table := range source.Tables {
		sql := fmt.Sprintf("SELECT md5(string_agg(t::text, '|' ORDER BY %s)) FROM %s t", order[table], table)
		out[table] = b.strings(t, sql)[0]
	}
	return out
}

func TestSeedDeterministic(t *testing.T) {
	first, second, other := setup(t), setup(t), setup(t)
	opts := demo.Options{Customers: 2000, Seed: 7, Companies: 4, AsOf: first.asOf}
	first.seed(t, opts)
	second.seed(t, opts)
	opts.Seed = 8
	other.seed(t, opts)

	require.Equal(t, first.checksums(t), second.checksums(t), "same options, same rows")
	a, c := first.checksums(t), other.checksums(t)
	for _, table := range []string{"customers", "invoices", "invoice_products"} {
		require.NotEqual(t, a[table], c[table], "%s with another seed", table)
	}
	require.Equal(t, a["products"], c["products"], "the menu is fixed")
}

func TestSeedRejectsBadOptions(t *testing.T) {
	b := setup(t)
	for _, opts := range []demo.Options{{Customers: 0}, {Customers: -5}, {Customers: 10, Companies: -1}} {
		_, err := demo.Seed(b.ctx, b.pool, opts)
		require.Error(t, err, "%+v", opts)
	}
}

func TestSeedRefusesDataWithoutTruncate(t *testing.T) {
	b := setup(t)
	b.seed(t, demo.Options{Customers: 100, Seed: 1, AsOf: b.asOf})
	before := b.checksums(t)

	_, err := demo.Seed(b.ctx, b.pool, demo.Options{Customers: 200, Seed: 2, AsOf: b.asOf})
	require.ErrorIs(t, err, demo.ErrNotEmpty)
	require.Equal(t, before, b.checksums(t), "data untouched")

	stats := b.seed(t, demo.Options{Customers: 200, Seed: 2, AsOf: b.asOf, Truncate: true})
	require.EqualValues(t, 200, stats.Rows["customers"])
	require.EqualValues(t, 200, b.float(t, "SELECT count(*) FROM customers"))
	require.Positive(t, stats.RowsPerSecond())
}

func TestSeedInterruptedKeepsOldData(t *testing.T) {
	b := setup(t)
	b.seed(t, demo.Options{Customers: 300, Seed: 1, AsOf: b.asOf})
	before := b.checksums(t)

	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	_, err := demo.Seed(ctx, b.pool, demo.Options{Customers: 20000, Seed: 2, AsOf: b.asOf, Truncate: true,
		Progress: func(stage string, done, _ int64) {
			if stage == demo.StageInvoices && done > 5000 {
				cancel()
			}
		}})
	require.Error(t, err)
	require.True(t, errors.Is(err, context.Canceled) || ctx.Err() != nil, "%v", err)
	require.Contains(t, err.Error(), "previous rows")
	require.Equal(t, before, b.checksums(t), "old data kept")

	// The next run repairs what the interrupted one dropped.
	b.seed(t, demo.Options{Customers: 300, Seed: 3, AsOf: b.asOf, Truncate: true})
	require.EqualValues(t, 5, b.float(t, `SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()
		AND indexname IN ('invoices_customer_id_idx', 'invoices_updated_at_idx', 'invoice_products_invoice_id_c_idx',
		'customers_updated_at_idx', 'customers_company_id_idx')`))
}

func TestSeedReportsProgress(t *testing.T) {
	b := setup(t)
	last := map[string][2]int64{}
	var stages []string
	b.seed(t, demo.Options{Customers: 2048, Seed: 1, AsOf: b.asOf, Progress: func(stage string, done, total int64) {
		if len(stages) == 0 || stages[len(stages)-1] != stage {
			stages = append(stages, stage)
		}
		require.GreaterOrEqual(t, done, last[stage][0], "done never goes back")
		last[stage] = [2]int64{done, total}
	}})
	require.Equal(t, []string{demo.StageCustomers, demo.StageInvoices, demo.StageInvoiceProducts, demo.StageIndexes, demo.StageAnalyze}, stages)
	for _, stage := range stages[:3] {
		require.Equal(t, [2]int64{2048, 2048}, last[stage], stage)
	}
}

func TestSeedSmallerRunIsPrefix(t *testing.T) {
	small, large := setup(t), setup(t)
	small.seed(t, demo.Options{Customers: 500, Seed: 3, AsOf: small.asOf})
	large.seed(t, demo.Options{Customers: 900, Seed: 3, AsOf: large.asOf})
	prefix := func(b *testBundle) []string {
		return []string{
			b.strings(t, "SELECT md5(string_agg(c::text, '|' ORDER BY customer_id)) FROM customers c WHERE customer_id <= 'C0000500'")[0],
			b.strings(t, `SELECT md5(string_agg(i::text, '|' ORDER BY invoice_id)) FROM invoices i
				WHERE customer_id <= 'C0000500'`)[0],
		}
	}
	require.Equal(t, prefix(small), prefix(large))
}
