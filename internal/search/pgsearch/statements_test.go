package pgsearch_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
	"github.com/reactivation/reactivation/internal/segment"
)

// TestStatementsAreWhatSearchRuns: the statements a benchmark times
// straight through pgx count what Search counts and return its page (one
// row more), and RunStatements runs them; a bad cursor is refused as
// Search refuses it.
func TestStatementsAreWhatSearchRuns(t *testing.T) {
	e, pool := loadPostgresPool(t, fixture)
	ctx := context.Background()
	f, err := segment.Decode([]byte(`{"companyId":"C1","neverPurchased":false}`))
	require.NoError(t, err)
	q := search.Query{Filter: f, Sort: segment.Sort{Field: segment.SortTotalSpent, Desc: true}, Size: 2, Now: testNow, Location: costaRica}
	page, err := e.Search(ctx, q)
	require.NoError(t, err)
	require.Len(t, page.Customers, 2)

	stmts, err := e.Statements(q)
	require.NoError(t, err)
	require.Len(t, stmts, 2)
	var total int64
	require.NoError(t, pool.QueryRow(ctx, stmts[0].SQL, stmts[0].Args...).Scan(&total))
	require.Equal(t, page.Total, total)
	rows, err := pool.Query(ctx, stmts[1].SQL, stmts[1].Args...)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		vals, err := rows.Values()
		require.NoError(t, err)
		got = append(got, vals[len(vals)-1].(string))
	}
	require.NoError(t, rows.Err())
	require.Len(t, got, 3, "the page and one row more")
	require.Equal(t, ids(page.Customers), got[:2])
	require.NoError(t, pgsearch.RunStatements(ctx, pool, stmts))

	q.Cursor = "not-a-cursor"
	_, err = e.Statements(q)
	require.Error(t, err)
}
