package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search/elastic"
)

// TestReadinessNeverRefreshes: readiness reports the serving index's size
// without writing to the engine. Documents written to an index that does
// not refresh on its own stay unsearchable however often /readyz is
// probed, and the index's refresh count does not move; the sync's Count,
// which does refresh, then shows them.
func TestReadinessNeverRefreshes(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	cfg := b.deps.Config
	client, err := elastic.NewClient(cfg.ElasticsearchURL, cfg.SearchFlavor)
	require.NoError(t, err)
	const gen = "20240101t000000_abcdef"
	index := cfg.IndexAlias + "_" + gen
	e := b.deps.Engine
	require.NoError(t, e.CreateGeneration(ctx, gen))
	var ps []profile.Profile
	for i := range 10 {
		ps = append(ps, profile.Profile{CustomerID: fmt.Sprintf("c%02d", i), CompanyID: "C1"})
	}
	require.NoError(t, e.Index(ctx, gen, ps))
	require.NoError(t, e.Promote(ctx, gen))
	res, err := client.Indices.PutSettings(strings.NewReader(`{"index":{"refresh_interval":"-1"}}`),
		client.Indices.PutSettings.WithIndex(index))
	require.NoError(t, err)
	res.Body.Close()
	require.False(t, res.IsError())
	// A refresh the serving settings scheduled before the change lands
	// here, not among the probes.
	res, err = client.Indices.Refresh(client.Indices.Refresh.WithIndex(index))
	require.NoError(t, err)
	res.Body.Close()
	require.False(t, res.IsError())
	require.NoError(t, e.Index(ctx, gen, []profile.Profile{{CustomerID: "unrefreshed", CompanyID: "C1"}}))

	refreshes := refreshTotal(t, client, index)
	for range 3 {
		res, body := b.do(t, "GET", "/readyz", "", nil)
		require.Equal(t, 200, res.StatusCode, body)
		facts := body["index"].(map[string]any)
		require.Equal(t, true, facts["aliasExists"])
		require.GreaterOrEqual(t, facts["documents"], float64(10))
	}
	require.Equal(t, refreshes, refreshTotal(t, client, index), "a probe refreshed the index")
	require.Equal(t, int64(10), searchCount(t, client, index), "a probe made unrefreshed documents searchable")

	n, err := e.Count(ctx, gen)
	require.NoError(t, err)
	require.Equal(t, int64(11), n, "the sync's Count refreshes")
}

// refreshTotal is how many refreshes that searches see the index's
// primaries have done (external ones: the engine's internal refreshes, for
// its version map or a flush, make nothing searchable and are not counted).
func refreshTotal(t *testing.T, client *elasticsearch.Client, index string) int64 {
	t.Helper()
	res, err := client.Indices.Stats(client.Indices.Stats.WithIndex(index), client.Indices.Stats.WithMetric("refresh"))
	require.NoError(t, err)
	defer res.Body.Close()
	var out struct {
		All struct {
			Primaries struct {
				Refresh struct {
					Total int64 `json:"external_total"`
				} `json:"refresh"`
			} `json:"primaries"`
		} `json:"_all"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return out.All.Primaries.Refresh.Total
}

// searchCount is what a search counts in the index now.
func searchCount(t *testing.T, client *elasticsearch.Client, index string) int64 {
	t.Helper()
	res, err := client.Count(client.Count.WithIndex(index))
	require.NoError(t, err)
	defer res.Body.Close()
	var out struct {
		Count int64 `json:"count"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return out.Count
}
