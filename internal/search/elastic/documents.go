package elastic

import (
	"context"
	"encoding/json"
	"fmt"
)

// Documents returns the number of documents in generation gen's primary
// shards from the index statistics (_stats/docs). It is a read of the
// cluster's bookkeeping, not a search: it neither refreshes nor wakes a
// search-idle shard (a _count would, when refresh_interval is left at its
// default), so documents written but not yet refreshed stay unsearchable.
func (e *Engine) Documents(ctx context.Context, gen string) (int64, error) {
	idx := e.index(gen)
	stats := e.client.Indices.Stats
	res, err := stats(stats.WithContext(ctx), stats.WithIndex(idx), stats.WithMetric("docs"))
	if err != nil {
		return 0, fmt.Errorf("index stats: %w", err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return 0, fmt.Errorf("index stats %s: %s", idx, readError(res))
	}
	var out struct {
		All struct {
			Primaries struct {
				Docs struct {
					Count int64 `json:"count"`
				} `json:"docs"`
			} `json:"primaries"`
		} `json:"_all"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("decode index stats: %w", err)
	}
	return out.All.Primaries.Docs.Count, nil
}
