package elastic

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/elastic/go-elasticsearch/v8"
)

// AutoReplicas, given to WithReplicas, lets the cluster decide the serving
// index's replicas at each promotion (see ServingReplicas).
const AutoReplicas = -1

// ServingReplicas is the number of replicas a serving index should have on
// the cluster client talks to: 1 when it has more than one data node, so
// losing a node loses no shard; 0 on a single node, where a replica could
// never be assigned and the index would stay yellow. It reads
// _cluster/health.
func ServingReplicas(ctx context.Context, client *elasticsearch.Client) (int, error) {
	health := client.Cluster.Health
	res, err := health(health.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("cluster health: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return 0, fmt.Errorf("cluster health: %s", readError(res))
	}
	var out struct {
		DataNodes int `json:"number_of_data_nodes"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("decode cluster health: %w", err)
	}
	if out.DataNodes > 1 {
		return 1, nil
	}
	return 0, nil
}

// servingReplicas is the replicas Promote sets: the engine's setting, or
// the cluster's answer for AutoReplicas.
func (e *Engine) servingReplicas(ctx context.Context) (int, error) {
	if e.replicas >= 0 {
		return e.replicas, nil
	}
	return ServingReplicas(ctx, e.client)
}
