package syncrun_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/config"
)

// TestShardRunAgainTracksWhatItRead: a full sync's shards track their
// customers with a plain insert (TrackNew). A shard that runs again after
// its customers changed in the source (an invoice deleted with its lines,
// an invoice moved to another customer, a customer deleted) conflicts
// with what its first run tracked and replaces it: afterwards every
// customer's tracked invoices and lines are the source's, over shards of
// 300 customers written in batches of 50.
func TestShardRunAgainTracksWhatItRead(t *testing.T) {
	ctx := context.Background()
	b := setup(t, 1200, func(c *config.Config) { c.SyncShardSize = 300 }, nil)
	_, shards := b.plan(ctx, t)
	require.GreaterOrEqual(t, len(shards), 4)
	for _, p := range shards {
		require.NoError(t, b.svc.Shard(ctx, p))
	}
	again := shards[1]
	ids := customersIn(t, b.deps.DB, again.Lo, again.Hi)
	require.Greater(t, len(ids), 100)
	rows, err := b.deps.DB.Query(ctx, `SELECT customer_id FROM invoices WHERE customer_id = ANY($1)
		GROUP BY customer_id HAVING count(*) >= 2 ORDER BY customer_id LIMIT 3`, ids)
	require.NoError(t, err)
	buyers, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, buyers, 3)
	tx, err := b.deps.DB.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	for _, change := range []struct {
		sql  string
		args []any
	}{
		// buyers[0] loses an invoice and its lines
		{`DELETE FROM invoice_products WHERE invoice_id = (SELECT min(invoice_id) FROM invoices WHERE customer_id = $1)`, []any{buyers[0]}},
		{`DELETE FROM invoices WHERE invoice_id = (SELECT min(invoice_id) FROM invoices WHERE customer_id = $1)`, []any{buyers[0]}},
		// buyers[1]'s newest invoice moves to buyers[2]
		{`UPDATE invoices SET customer_id = $2 WHERE invoice_id = (SELECT max(invoice_id) FROM invoices WHERE customer_id = $1)`, []any{buyers[1], buyers[2]}},
	} {
		_, err := tx.Exec(ctx, change.sql, change.args...)
		require.NoError(t, err, change.sql)
	}
	require.NoError(t, tx.Commit(ctx))

	require.NoError(t, b.svc.Shard(ctx, again))

	type counts struct{ invoices, lines int64 }
	read := func(sql string, args ...any) map[string]counts {
		rows, err := b.deps.DB.Query(ctx, sql, args...)
		require.NoError(t, err)
		out := map[string]counts{}
		for rows.Next() {
			var id string
			var c counts
			require.NoError(t, rows.Scan(&id, &c.invoices, &c.lines))
			out[id] = c
		}
		require.NoError(t, rows.Err())
		return out
	}
	tracked := read(`SELECT customer_id, invoices, lines FROM tracked_customers WHERE alias = $1 AND generation = $2`,
		b.cfg.IndexAlias, again.Generation)
	source := read(`SELECT c.customer_id, count(DISTINCT i.invoice_id), count(ip.invoice_id) FROM customers c
		LEFT JOIN invoices i ON i.customer_id = c.customer_id LEFT JOIN invoice_products ip ON ip.invoice_id = i.invoice_id
		GROUP BY c.customer_id`)
	require.Len(t, tracked, 1200)
	require.Equal(t, source, tracked)
}
