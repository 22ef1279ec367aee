package elastic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"golang.org/x/sync/errgroup"
)

// IDCollect says what CollectIDs reads: the customer ids of the documents
// a query matches on the shard of one routing key.
type IDCollect struct {
	// Index is an index or alias.
	Index string
	// Query is the query (Query's output); nil matches every document.
	Query map[string]any
	// Routing is the routing key whose shard is read; required.
	Routing string
	// Chunk is the most ids one request returns; 0 means DefaultIDChunk.
	Chunk int
	// KeepAlive is how long the engine keeps the point in time between
	// requests; 0 means two minutes.
	KeepAlive time.Duration
}

// DefaultIDChunk is the default of IDCollect.Chunk: 50,000 ids are about a
// megabyte of answer, and a 400k-customer company reads in 9 requests.
const DefaultIDChunk = 50000

// ErrScriptRefused is the engine refusing the collecting script (inline
// scripts disabled, or Painless missing): the caller reads the ids another
// way.
var ErrScriptRefused = errors.New("the search engine refused the id-collecting script")

// collectScript gathers each slice's customerId doc values in the query
// phase, so no hit is fetched: a scripted_metric aggregation whose result
// is the list of ids. On one routed shard there is one state to reduce.
var collectScript = map[string]any{
	"scripted_metric": map[string]any{
		"init_script":    "state.ids = new ArrayList()",
		"map_script":     "state.ids.add(doc['customerId'].value)",
		"combine_script": "return state.ids",
		"reduce_script":  "List out = new ArrayList(); for (s in states) { if (s != null) { out.addAll(s) } } return out",
	},
}

// CollectIDs calls fn with the customer ids of every document c matches,
// a list at a time, never concurrently, each list sorted and every list's
// ids above the last one's: the whole audience in ascending (byte) order,
// which PostgreSQL's b-tree takes at its fastest. All come from one point
// in time of the routed shard, as ScanSlices' pages do (documents written,
// moved or deleted meanwhile neither appear twice nor go missing), but
// instead of fetching hits, a scripted_metric aggregation gathers the ids
// where the query runs: several times cheaper than the fetch phase of a
// scan.
//
// It reads a sample of the matches first, about 64 ids for every Chunk
// matches (one _seq_no slice, which picks documents by a hash, so no
// ordering of the index biases it), and splits the matches into ranges of
// customerId at the sample's quantiles: a first range of about Chunk/8
// ids, so fn starts early, each next one twice the one before, then ranges
// of about Chunk ids. Two ranges are read at a time while fn takes the one
// before; every range's list is checked against its exact count. fn is not
// called with an empty list. An engine that refuses the script is
// ErrScriptRefused, before fn is called. OpenSearch 2.x only (its
// point-in-time API).
func CollectIDs(ctx context.Context, client *elasticsearch.Client, c IDCollect, fn func([]string) error) error {
	if c.Routing == "" {
		return fmt.Errorf("collect ids of %s: needs a routing key", c.Index)
	}
	chunk := c.Chunk
	if chunk <= 0 {
		chunk = DefaultIDChunk
	}
	pit, ka, err := openPIT(ctx, client, c.Index, c.Routing, c.KeepAlive)
	if err != nil {
		return err
	}
	defer closePIT(context.WithoutCancel(ctx), client, pit)
	col := idCollector{client: client, index: c.Index, pit: pit, keepAlive: ka, query: c.Query}
	bounds, err := col.bounds(ctx, chunk)
	if err != nil {
		return err
	}
	return col.ranges(ctx, bounds, fn)
}

// idCollector runs CollectIDs' requests on one point in time.
type idCollector struct {
	client    *elasticsearch.Client
	index     string
	pit       string
	keepAlive string
	query     map[string]any
}

// samplePerRange is how many sampled ids CollectIDs reads per range: the
// ranges' bounds split the sample evenly.
const samplePerRange = 64

// bounds returns the customer ids that split the matches into ranges:
// the first of about an eighth of chunk ids, so the caller starts early,
// each next one twice the one before up to chunk, then chunk each; none
// when the matches fit in that first range. They are read off a sample of
// about 64 ids a chunk: the one _seq_no slice of every chunk/64.
func (c idCollector) bounds(ctx context.Context, chunk int) ([]string, error) {
	// A slice's max is 2 or more, and at most index.max_slices_per_pit
	// (1024 by default).
	every := min(max(2, chunk/samplePerRange), 1024)
	sample, err := c.request(ctx, map[string]any{"field": "_seq_no", "id": 0, "max": every}, nil)
	if err != nil {
		return nil, err
	}
	ids := sample.Aggregations.IDs.Value
	slices.Sort(ids)
	step := max(1, chunk/every) // sampled ids a chunk
	var bounds []string
	for i, size := 0, max(1, step/8); ; size = min(step, 2*size) {
		if i += size; i >= len(ids) {
			return bounds, nil
		}
		if len(bounds) == 0 || ids[i] > bounds[len(bounds)-1] {
			bounds = append(bounds, ids[i])
		}
	}
}

// ranges reads the len(bounds)+1 ranges the bounds split the matches
// into, two at a time, and hands them to fn in order, each sorted; the
// next two are read while fn takes one, so at most three lists are held.
func (c idCollector) ranges(ctx context.Context, bounds []string, fn func([]string) error) error {
	n := len(bounds) + 1
	results := make([]chan idSlice, n)
	for k := range results {
		results[k] = make(chan idSlice, 1)
	}
	inFlight := make(chan struct{}, 2)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		for k := range n {
			select {
			case inFlight <- struct{}{}:
			case <-gctx.Done():
				return gctx.Err()
			}
			rng := map[string]any{}
			if k > 0 {
				rng["gte"] = bounds[k-1]
			}
			if k < n-1 {
				rng["lt"] = bounds[k]
			}
			g.Go(func() error {
				r, err := c.request(gctx, nil, rng)
				if err != nil {
					return err
				}
				if ids := r.Aggregations.IDs.Value; int64(len(ids)) != r.Hits.Total.Value {
					return fmt.Errorf("collect ids of %s: range %d of %d gave %d ids for %d matches", c.index, k, n,
						len(ids), r.Hits.Total.Value)
				}
				slices.Sort(r.Aggregations.IDs.Value)
				results[k] <- r
				return nil
			})
		}
		return nil
	})
	g.Go(func() error {
		for k := range n {
			select {
			case r := <-results[k]:
				<-inFlight
				if ids := r.Aggregations.IDs.Value; len(ids) > 0 {
					if err := fn(ids); err != nil {
						return err
					}
				}
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	return g.Wait()
}

// request runs one request on the point in time: the exact count of the
// matches, within slice and the customerId range rng when not empty, and
// their ids.
func (c idCollector) request(ctx context.Context, slice, rng map[string]any) (idSlice, error) {
	body := map[string]any{"pit": map[string]any{"id": c.pit, "keep_alive": c.keepAlive}, "size": 0, "track_total_hits": true,
		"aggs": map[string]any{"ids": collectScript}}
	query := c.query
	if len(rng) > 0 {
		filter := []any{map[string]any{"range": map[string]any{"customerId": rng}}}
		if query != nil {
			filter = append(filter, query)
		}
		query = map[string]any{"bool": map[string]any{"filter": filter}}
	}
	if query != nil {
		body["query"] = query
	}
	if slice != nil {
		body["slice"] = slice
	}
	return collectSlice(ctx, c.client, c.index, body)
}

// idSlice is one answer of CollectIDs: the exact count and the ids.
type idSlice struct {
	shardsAnswered
	Hits struct {
		Total struct {
			Value int64 `json:"value"`
		} `json:"total"`
	} `json:"hits"`
	Aggregations struct {
		IDs struct {
			Value []string `json:"value"`
		} `json:"ids"`
	} `json:"aggregations"`
}

// collectSlice runs one request of CollectIDs.
func collectSlice(ctx context.Context, client *elasticsearch.Client, index string, body map[string]any) (idSlice, error) {
	page, err := routedSearch[idSlice](ctx, client, index, body, "id collection",
		"_shards.total", "hits.total", "aggregations.ids.value", "error")
	if err != nil && scriptRefusal(err) {
		return idSlice{}, fmt.Errorf("collect ids of %s: %w", index, ErrScriptRefused)
	}
	return page, err
}

// scriptRefusal reports whether an engine error is about the script
// itself: scripting disabled or the language missing, not a failed query.
func scriptRefusal(err error) bool {
	msg := err.Error()
	for _, s := range []string{"cannot execute", "script_exception", "scripts of type", "script_lang", "painless"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
