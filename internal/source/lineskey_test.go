package source_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestLinesAreLookedUpThroughAnIndexEitherWay: with the demo's index on
// invoice_products (invoice_id COLLATE "C") the lines query compares under
// "C" and probes that index; with only an index under the column's own
// collation (what a source is likely to have), or a "C" index that is
// partial or not btree, it compares under the column's collation and
// probes that one. Either way no invoice's lines are found by a scan of
// the table.
func TestLinesAreLookedUpThroughAnIndexEitherWay(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	seedRange(t, pool)

	plan := func(key string) string {
		t.Helper()
		lines, _, args := source.RangeSQL(key, "", "")
		rows, err := pool.Query(ctx, "EXPLAIN "+lines, args...)
		require.NoError(t, err)
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			b.WriteString(line + "\n")
		}
		require.NoError(t, rows.Err())
		return b.String()
	}
	exec := func(sql string) {
		t.Helper()
		_, err := pool.Exec(ctx, sql+"; ANALYZE invoice_products")
		require.NoError(t, err)
	}
	keyIs := func(want, index string) {
		t.Helper()
		key, err := source.LinesKey(ctx, pool)
		require.NoError(t, err)
		require.Equal(t, want, key)
		p := plan(key)
		require.Contains(t, p, "using "+index+" on invoice_products", p)
		require.NotContains(t, p, "Seq Scan on invoice_products", p)
	}

	keyIs(` COLLATE "C"`, "invoice_products_invoice_id_c_idx")

	exec(`DROP INDEX invoice_products_invoice_id_c_idx; CREATE INDEX lines_plain ON invoice_products (invoice_id)`)
	keyIs("", "lines_plain")

	exec(`CREATE INDEX lines_c_partial ON invoice_products (invoice_id COLLATE "C") WHERE product_id <> ''`)
	keyIs("", "lines_plain")
	exec(`CREATE INDEX lines_c_hash ON invoice_products USING hash (invoice_id COLLATE "C")`)
	keyIs("", "lines_plain")

	exec(`DROP INDEX lines_c_partial, lines_c_hash; CREATE INDEX lines_c ON invoice_products (invoice_id COLLATE "C", product_id)`)
	keyIs(` COLLATE "C"`, "lines_c")
}

// TestRangeReadsReadOnlyTheirRange: the plans of a range read's two
// queries bound the scans of customers and of invoices by the range, in
// the plan made for the parameters and in the generic plan a prepared
// statement switches to after five runs, for a middle range and for the
// last (no upper bound). A bound the planner cannot use in a generic plan
// had every shard of a full sync read invoices from the first customer.
func TestRangeReadsReadOnlyTheirRange(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Postgres(t)
	seedRange(t, pool)
	key, err := source.LinesKey(ctx, pool)
	require.NoError(t, err)
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	for _, r := range [][2]string{{"C010000", "C010500"}, {"C019500", ""}} {
		lines, customers, args := source.RangeSQL(key, r[0], r[1])
		params, values := "text", "'"+r[0]+"'"
		if len(args) == 2 {
			params, values = "text, text", values+", '"+r[1]+"'"
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			for name, sql := range map[string]string{"lines": lines, "customers": customers} {
				_, err := conn.Exec(ctx, "DEALLOCATE ALL; SET plan_cache_mode = "+mode+"; PREPARE q ("+params+") AS "+sql)
				require.NoError(t, err)
				rows, err := conn.Query(ctx, "EXPLAIN EXECUTE q ("+values+")", pgx.QueryExecModeSimpleProtocol)
				require.NoError(t, err)
				plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
				require.NoError(t, err)
				text := strings.Join(plan, "\n")
				what := fmt.Sprintf("%s of %v, %s:\n%s", name, r, mode, text)
				require.NotContains(t, text, "Seq Scan", what)
				require.NotContains(t, text, "Filter", what)
				bounds := 1
				if name == "lines" {
					bounds = 2 // customers and invoices
				}
				scans := 0
				for _, line := range plan {
					if !strings.Contains(line, "customer_id > ") {
						continue
					}
					if strings.Contains(line, "Index Cond: ") {
						scans++
					}
					if r[1] != "" {
						require.Contains(t, line, "customer_id <= ", what)
					}
				}
				require.Equal(t, bounds, scans, what)
			}
		}
	}
}

// seedRange creates the source tables with 20,000 customers (C000001 to
// C020000), 100,000 invoices and 300,000 lines: enough rows that a scan of
// a table costs the planner more than the probes of a range.
func seedRange(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, source.CreateSchema(ctx, pool))
	_, err := pool.Exec(ctx, `
		INSERT INTO customers (customer_id, company_id) SELECT 'C' || lpad(n::text, 6, '0'), 'co' FROM generate_series(1, 20000) n;
		INSERT INTO invoices (invoice_id, customer_id, invoice_date, total_amount)
			SELECT 'F' || n, 'C' || lpad((n % 20000 + 1)::text, 6, '0'), now() - n * interval '1 minute', 10 FROM generate_series(1, 100000) n;
		INSERT INTO invoice_products (invoice_id, product_id) SELECT 'F' || (n % 100000 + 1), 'P' || n % 7 FROM generate_series(1, 300000) n`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "VACUUM ANALYZE customers, invoices, invoice_products")
	require.NoError(t, err)
}
