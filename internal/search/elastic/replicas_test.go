package elastic_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/testenv"
)

// TestServingReplicas: a promoted generation serves with the replicas the
// engine was given; AutoReplicas gives 0 on the local single-node cluster.
func TestServingReplicas(t *testing.T) {
	ctx := context.Background()
	client, alias := testenv.Elasticsearch(t)
	n, err := elastic.ServingReplicas(ctx, client)
	require.NoError(t, err)
	require.Equal(t, 0, n, "the local cluster is one node")

	for gen, replicas := range map[string]int{
		"20240101t000000_aaaaaa": elastic.AutoReplicas,
		"20240101t000000_bbbbbb": 2,
	} {
		e := elastic.New(client, alias, elastic.WithReplicas(replicas))
		require.NoError(t, e.CreateGeneration(ctx, gen))
		require.Equal(t, "0", indexReplicas(t, alias+"_"+gen), "a generation loads without replicas")
		require.NoError(t, e.Promote(ctx, gen))
		want := map[int]string{elastic.AutoReplicas: "0", 2: "2"}[replicas]
		require.Equal(t, want, indexReplicas(t, alias+"_"+gen), "replicas %d", replicas)
	}
}

func indexReplicas(t *testing.T, index string) string {
	t.Helper()
	client, _ := testenv.Elasticsearch(t)
	res, err := client.Indices.GetSettings(client.Indices.GetSettings.WithIndex(index))
	require.NoError(t, err)
	defer res.Body.Close()
	require.False(t, res.IsError(), res.String())
	var out map[string]struct {
		Settings struct {
			Index struct {
				Replicas string `json:"number_of_replicas"`
			} `json:"index"`
		} `json:"settings"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return out[index].Settings.Index.Replicas
}
