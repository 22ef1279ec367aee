package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"golang.org/x/sync/errgroup"
)

// SlicedScan says what ScanSlices reads: the ids of the documents a query
// matches on the shard of one routing key.
type SlicedScan struct {
	// Index is an index or alias.
	Index string
	// Query is the query (Query's output); nil matches every document.
	Query map[string]any
	// DocValues names the id fields (those of HitFields) the hits carry.
	DocValues []string
	// Routing is the routing key whose shard is read; required: the pages
	// are keyed by _doc, unique within one shard only.
	Routing string
	// Slices is the number of slices read in parallel, at least 2.
	Slices int
	// Size is the number of hits per page; 0 means DefaultScanSize.
	Size int
	// KeepAlive is how long the engine keeps the point in time between
	// pages; 0 means two minutes.
	KeepAlive time.Duration
}

// ScanSlices reads every document s matches as ScanIndex does with doc
// values, but in s.Slices slices read in parallel, all from one point in
// time of the routed shard: one consistent view of the index, as a scroll
// gives (documents written, moved or deleted meanwhile neither appear
// twice nor go missing). The slices partition the shard's documents by
// their _seq_no, a doc value every document has exactly once (the
// default, by _id, walks the whole _id terms dictionary for every page),
// and each slice is paged with search_after on _doc. fn is called with one
// page at a time, never concurrently, in no particular order. It stops at
// the first error fn returns and always closes the point in time.
// OpenSearch 2.x only (its point-in-time API).
func ScanSlices(ctx context.Context, client *elasticsearch.Client, s SlicedScan, fn func([]Hit) error) error {
	if s.Routing == "" || s.Slices < 2 || len(s.DocValues) == 0 {
		return fmt.Errorf("sliced scan of %s: needs a routing key, 2 or more slices and doc value fields", s.Index)
	}
	pit, ka, err := openPIT(ctx, client, s.Index, s.Routing, s.KeepAlive)
	if err != nil {
		return err
	}
	defer closePIT(context.WithoutCancel(ctx), client, pit)
	size := s.Size
	if size == 0 {
		size = DefaultScanSize
	}
	var mu sync.Mutex // one fn call at a time
	g, gctx := errgroup.WithContext(ctx)
	for slice := 0; slice < s.Slices; slice++ {
		g.Go(func() error {
			body := map[string]any{
				"pit":             map[string]any{"id": pit, "keep_alive": ka},
				"slice":           map[string]any{"field": "_seq_no", "id": slice, "max": s.Slices},
				"sort":            []string{"_doc"},
				"size":            size,
				"stored_fields":   "_none_",
				"docvalue_fields": s.DocValues,
				// Exact on the first page, so the slice ends at its last
				// page without asking for an empty one; later pages skip
				// counting and stop collecting after size hits.
				"track_total_hits": true,
			}
			if s.Query != nil {
				body["query"] = s.Query
			}
			var read, total int64
			for {
				page, err := searchSlice(gctx, client, s.Index, body)
				if err != nil {
					return err
				}
				hits := page.Hits.Hits
				if read == 0 {
					total = page.Hits.Total.Value
					body["track_total_hits"] = false
				}
				if len(hits) == 0 {
					return nil
				}
				mu.Lock()
				err = fn(hits)
				mu.Unlock()
				if err != nil {
					return err
				}
				read += int64(len(hits))
				if read >= total || len(hits) < size {
					return nil
				}
				body["search_after"] = hits[len(hits)-1].Sort
			}
		})
	}
	return g.Wait()
}

// slicePage is one page of a sliced scan.
type slicePage struct {
	shardsAnswered
	Hits struct {
		Total struct {
			Value int64 `json:"value"`
		} `json:"total"`
		Hits []Hit `json:"hits"`
	} `json:"hits"`
}

// searchSlice runs one page of a slice: only the hits' doc values and sort
// values, the total and the shard count come back (filter_path).
func searchSlice(ctx context.Context, client *elasticsearch.Client, index string, body map[string]any) (slicePage, error) {
	return routedSearch[slicePage](ctx, client, index, body, "sliced scan",
		"_shards.total", "hits.total", "hits.hits.fields", "hits.hits.sort", "error")
}

// shardsAnswered is the shard count of a search answer.
type shardsAnswered struct {
	Shards struct {
		Total int `json:"total"`
	} `json:"_shards"`
}

func (s shardsAnswered) shards() int { return s.Shards.Total }

// routedSearch runs one search of body, on a point in time of one routed
// shard, and decodes the answer, cut to filterPath, into T; an answer of
// more than one shard is an error. what names the request in errors.
func routedSearch[T interface{ shards() int }](ctx context.Context, client *elasticsearch.Client, index string,
	body map[string]any, what string, filterPath ...string) (T, error) {
	var page T
	b, err := json.Marshal(body)
	if err != nil {
		return page, fmt.Errorf("encode %s: %w", what, err)
	}
	search := client.Search
	raw, err := scrollPage(index, false)(search(search.WithContext(ctx), search.WithBody(bytes.NewReader(b)),
		search.WithFilterPath(filterPath...)))
	if err != nil {
		return page, err
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return page, fmt.Errorf("decode %s: %w", what, err)
	}
	if n := page.shards(); n > 1 {
		return page, fmt.Errorf("%s of %s: %d shards answered; a point in time of one routed shard expected", what, index, n)
	}
	return page, nil
}

// openPIT opens a point in time of index's shard of routing, kept alive
// keepAlive between requests (two minutes when 0); ka is that keep-alive
// as the requests on it repeat it.
func openPIT(ctx context.Context, client *elasticsearch.Client, index, routing string, keepAlive time.Duration) (pit, ka string, err error) {
	if keepAlive == 0 {
		keepAlive = 2 * time.Minute
	}
	ka = fmt.Sprintf("%dms", keepAlive.Milliseconds())
	path := "/" + index + "/_search/point_in_time?keep_alive=" + ka + "&routing=" + url.QueryEscape(routing)
	raw, err := perform(ctx, client, http.MethodPost, path, nil)
	if errors.Is(err, errNotFound) {
		return "", "", fmt.Errorf("open point in time of %s: %w", index, ErrNoIndex)
	}
	if err != nil {
		return "", "", fmt.Errorf("open point in time of %s: %w", index, err)
	}
	var r struct {
		PitID string `json:"pit_id"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.PitID == "" {
		return "", "", fmt.Errorf("open point in time of %s: unexpected answer", index)
	}
	return r.PitID, ka, nil
}

// closePIT releases a point in time; best effort (it expires anyway).
func closePIT(ctx context.Context, client *elasticsearch.Client, id string) {
	body, _ := json.Marshal(map[string]any{"pit_id": []string{id}})
	_, _ = perform(ctx, client, http.MethodDelete, "/_search/point_in_time", body)
}

var errNotFound = errors.New("not found")

// perform sends one request the typed API has no OpenSearch form of and
// returns the body of a 2xx answer.
func perform(ctx context.Context, client *elasticsearch.Client, method, path string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Perform(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return nil, errNotFound
	}
	if res.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
		return nil, fmt.Errorf("%s %s: %s", method, strings.SplitN(path, "?", 2)[0], msg)
	}
	return io.ReadAll(res.Body)
}
