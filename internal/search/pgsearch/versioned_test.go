package pgsearch_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
	"github.com/reactivation/reactivation/internal/testenv"
)

// bothIndexers are the two engines through their indexing half, each on
// its own fresh schema or alias.
func bothIndexers(t *testing.T) map[string]search.Engine {
	client, alias := testenv.Elasticsearch(t)
	return map[string]search.Engine{
		"postgres":      pgsearch.New(testenv.Postgres(t), ""),
		"elasticsearch": elastic.New(client, alias),
	}
}

func versioned(id, name string, version int64) profile.Profile {
	p := customer(id, "C1", name, "", "", "", "Cartago", nil, 0, 0, nil, nil)
	p.SourceVersion = version
	return p
}

// served returns the serving generation's customers by id, after making
// every write visible.
func served(t *testing.T, e search.Engine, gen string) map[string]string {
	t.Helper()
	ctx := context.Background()
	_, err := e.Count(ctx, gen) // refreshes
	require.NoError(t, err)
	page, err := e.Search(ctx, search.Query{Size: 100})
	require.NoError(t, err)
	out := map[string]string{}
	for _, p := range page.Customers {
		out[p.CustomerID] = p.Name
	}
	return out
}

// TestVersionedWrites: on both engines the newer source version wins
// whatever the arrival order, for upserts and for deletes, including a
// delete of a customer the index never held.
func TestVersionedWrites(t *testing.T) {
	const gen = "20240101t000000_abcdef"
	for name, e := range bothIndexers(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			require.NoError(t, e.CreateGeneration(ctx, gen))
			require.NoError(t, e.Index(ctx, gen, []profile.Profile{versioned("c1", "v10", 10), versioned("c2", "v10", 10)}))
			require.NoError(t, e.Promote(ctx, gen))
			require.Equal(t, map[string]string{"c1": "v10", "c2": "v10"}, served(t, e, gen))

			// A newer result, then an older one arriving last: the older loses.
			require.NoError(t, e.Upsert(ctx, []profile.Profile{versioned("c1", "v20", 20)}))
			require.NoError(t, e.Upsert(ctx, []profile.Profile{versioned("c1", "v15", 15)}))
			require.Equal(t, "v20", served(t, e, gen)["c1"])
			// Equal versions: the last write wins.
			require.NoError(t, e.Upsert(ctx, []profile.Profile{versioned("c1", "v20bis", 20)}))
			require.Equal(t, "v20bis", served(t, e, gen)["c1"])

			// A delete older than the document leaves it.
			require.NoError(t, e.Delete(ctx, []search.Tombstone{{CustomerID: "c1", CompanyID: "C1", Version: 19}}))
			require.Contains(t, served(t, e, gen), "c1")

			// A delete, then a write computed before it arriving after it: the
			// customer stays deleted. A write newer than the delete (the
			// customer came back in the source) is kept.
			require.NoError(t, e.Delete(ctx, []search.Tombstone{{CustomerID: "c2", CompanyID: "C1", Version: 30}}))
			require.NotContains(t, served(t, e, gen), "c2")
			require.NoError(t, e.Upsert(ctx, []profile.Profile{versioned("c2", "v25", 25)}))
			require.NotContains(t, served(t, e, gen), "c2")
			require.NoError(t, e.Upsert(ctx, []profile.Profile{versioned("c2", "v31", 31)}))
			require.Equal(t, "v31", served(t, e, gen)["c2"])

			// A delete of a customer never indexed still refuses older writes.
			require.NoError(t, e.Delete(ctx, []search.Tombstone{{CustomerID: "c3", CompanyID: "C1", Version: 40}}))
			require.NoError(t, e.Upsert(ctx, []profile.Profile{versioned("c3", "v35", 35), versioned("c4", "v35", 35)}))
			require.Equal(t, map[string]string{"c1": "v20bis", "c2": "v31", "c4": "v35"}, served(t, e, gen))
		})
	}
}
