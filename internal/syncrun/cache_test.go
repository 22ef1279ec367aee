package syncrun_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/cache"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/tasks"
)

// TestRefreshVisibleBeforeCacheEpoch: a search through the cache right
// after a refresh job finishes sees the new data. Before the fix the
// epoch moved before the engine refreshed, and that search cached the old
// document under the new epoch for the whole TTL.
func TestRefreshVisibleBeforeCacheEpoch(t *testing.T) {
	ctx := context.Background()
	b := setup(t, 300, nil, nil)
	b.runFull(t)
	var id, company string
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT customer_id, company_id FROM customers ORDER BY customer_id LIMIT 1").Scan(&id, &company))
	q := "zzyzx"
	f, err := segment.Filter{CompanyID: &company, Q: &q}.Normalize()
	require.NoError(t, err)
	cached := func() search.Page {
		keys := cache.Search{Response: cache.Key(company, "zzyzx"), Total: cache.Key(company, "zzyzx-total")}
		entry, err := b.deps.Cache.Lookup(ctx, b.deps.Engine.Current, keys, false, nil)
		require.NoError(t, err)
		out := entry.Response
		if out == nil {
			out, err = b.deps.Cache.Fill(ctx, keys, entry, func(ctx context.Context) (cache.Computed, error) {
				page, err := b.deps.Engine.Search(ctx, search.Query{Filter: f, Sort: segment.DefaultSort, Size: 10})
				if err != nil {
					return cache.Computed{}, err
				}
				body, err := json.Marshal(page)
				return cache.Computed{Response: body, Total: page.Total, Counted: true}, err
			})
			require.NoError(t, err)
		}
		var page search.Page
		require.NoError(t, json.Unmarshal(out, &page))
		return page
	}
	require.EqualValues(t, 0, cached().Total)

	for round := range 5 {
		_, err = b.deps.DB.Exec(ctx, "UPDATE customers SET name = $2, updated_at = now() WHERE customer_id = $1", id,
			"Zzyzx Round "+string(rune('a'+round)))
		require.NoError(t, err)
		job, err := b.svc.StartRefresh(ctx, []string{id}, jobs.Tenant{Admin: true}, "test")
		require.NoError(t, err)
		require.NoError(t, b.svc.Refresh(ctx, tasks.SyncRefreshPayload{JobPayload: tasks.JobPayload{JobID: job.ID}, CustomerIDs: []string{id}}))
		page := cached()
		require.EqualValues(t, 1, page.Total, "round %d: the refreshed customer is searchable at once", round)
		require.Equal(t, "Zzyzx Round "+string(rune('a'+round)), page.Customers[0].Name, "round %d", round)
	}
}
