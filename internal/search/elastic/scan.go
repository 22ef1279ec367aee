package elastic

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// Scroll says what ScanIndex reads.
type Scroll struct {
	// Index is an index or alias.
	Index string
	// Query is the query (Query's output); nil matches every document.
	Query map[string]any
	// Source is the _source option: nil returns whole documents (unless
	// DocValues is set).
	Source any
	// DocValues, when not empty and Source is nil, names id fields
	// (customerId, companyId: those of HitFields) the hits carry from doc
	// values in Fields, and nothing else: no _source, no _id, no _routing.
	// The engine then reads no stored field (in Lucene _id and _source
	// share compressed blocks), the cheapest way to list ids.
	DocValues []string
	// Routing, when not empty, reads only the shards of that routing key.
	Routing string
	// Size is the number of hits per page; 0 means DefaultScanSize.
	Size int
	// KeepAlive is how long the engine keeps the scroll between pages; 0
	// means two minutes.
	KeepAlive time.Duration
}

// Hit is one document a scan reads.
type Hit struct {
	ID      string          `json:"_id"`
	Routing string          `json:"_routing"`
	Source  json.RawMessage `json:"_source"`
	// Fields are the doc values Scroll.DocValues asked for.
	Fields HitFields `json:"fields"`
	// Sort is the hit's sort values, read by ScanSlices' search_after.
	Sort []json.RawMessage `json:"sort,omitempty"`
}

// HitFields are the doc values of a hit's id fields, one value each when
// asked for (a struct, not a map: pages of ids decode twice as fast).
type HitFields struct {
	CustomerID []string `json:"customerId"`
	CompanyID  []string `json:"companyId"`
}

// ErrNoIndex is ScanIndex's error when the index or alias does not exist.
var ErrNoIndex = errors.New("no such index")

// ScanIndex reads every document s matches, in index order, with the
// scroll API: the query runs once, on one consistent view of the index
// (documents written, moved or deleted meanwhile neither appear twice nor
// go missing), in pages of s.Size given to fn one at a time. The next
// page is asked for while this one is decoded and handed over. It stops
// at the first error fn returns, and always releases the scroll. It is
// the one scroll loop of the project: the engine's unordered Scan, the
// bench and the tests read through it.
func ScanIndex(ctx context.Context, client *elasticsearch.Client, s Scroll, fn func([]Hit) error) error {
	ctx, cancel := context.WithCancel(ctx) // ends a page asked for ahead
	defer cancel()
	keepAlive := cmp.Or(s.KeepAlive, 2*time.Minute)
	body := map[string]any{"sort": []string{"_doc"}, "size": cmp.Or(s.Size, DefaultScanSize)}
	if s.Query != nil {
		body["query"] = s.Query
	}
	// filter_path drops what no caller reads (_index, _score, sort, the
	// shards' summary) from every page.
	filterPath := []string{"_scroll_id", "hits.total", "hits.hits._id", "hits.hits._routing", "hits.hits._source", "error"}
	switch {
	case s.Source != nil:
		body["_source"] = s.Source
	case len(s.DocValues) > 0:
		body["stored_fields"] = "_none_"
		body["docvalue_fields"] = s.DocValues
		filterPath = []string{"_scroll_id", "hits.total", "hits.hits.fields", "error"}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode scroll: %w", err)
	}
	search := client.Search
	opts := []func(*esapi.SearchRequest){search.WithContext(ctx), search.WithIndex(s.Index),
		search.WithBody(bytes.NewReader(b)), search.WithScroll(keepAlive), search.WithFilterPath(filterPath...)}
	if s.Routing != "" {
		opts = append(opts, search.WithRouting(s.Routing))
	}
	raw, err := scrollPage(s.Index, true)(search(opts...))
	if err != nil {
		return err
	}
	next := func(id string) ([]byte, error) {
		return scrollPage(s.Index, false)(client.Scroll(client.Scroll.WithContext(ctx), client.Scroll.WithScrollID(id),
			client.Scroll.WithScroll(keepAlive), client.Scroll.WithFilterPath(filterPath...)))
	}
	var scrollID string
	defer func() {
		if scrollID != "" {
			if r, err := client.ClearScroll(client.ClearScroll.WithScrollID(scrollID)); err == nil {
				r.Body.Close()
			}
		}
	}()
	// read counts the hits handed to fn; total is the scroll's number of
	// matches when the engine says it exactly, -1 otherwise.
	var read, total int64 = 0, -1
	for {
		// The next page is asked for now when this one's scroll id can be
		// read off its first bytes; otherwise after decoding it.
		var ahead chan rawPage
		if id := leadingScrollID(raw); id != "" {
			scrollID = id
			ahead = make(chan rawPage, 1)
			go func() {
				body, err := next(id)
				ahead <- rawPage{body, err}
			}()
		}
		var page struct {
			ScrollID string `json:"_scroll_id"`
			Hits     struct {
				Total *struct {
					Value    int64  `json:"value"`
					Relation string `json:"relation"`
				} `json:"total"`
				Hits []Hit `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("decode scroll page: %w", err)
		}
		if read == 0 && page.Hits.Total != nil && page.Hits.Total.Relation == "eq" {
			total = page.Hits.Total.Value
		}
		scrollID = page.ScrollID
		if len(page.Hits.Hits) == 0 {
			return nil
		}
		if err := fn(page.Hits.Hits); err != nil {
			return err
		}
		// The first page's exact total saves waiting for the empty page
		// that would end the scroll otherwise.
		if read += int64(len(page.Hits.Hits)); total >= 0 && read >= total {
			return nil
		}
		if ahead != nil {
			r := <-ahead
			raw, err = r.body, r.err
		} else {
			raw, err = next(scrollID)
		}
		if err != nil {
			return err
		}
	}
}

// rawPage is a scroll page's body, or why there is none.
type rawPage struct {
	body []byte
	err  error
}

// scrollPage returns a function reading a scroll response of index: its
// body, or the engine's error (ErrNoIndex for a first page of an index
// that does not exist).
func scrollPage(index string, first bool) func(*esapi.Response, error) ([]byte, error) {
	return func(res *esapi.Response, err error) ([]byte, error) {
		if err != nil {
			return nil, fmt.Errorf("scroll %s: %w", index, err)
		}
		defer res.Body.Close()
		if res.StatusCode == http.StatusNotFound && first {
			return nil, fmt.Errorf("scroll %s: %w", index, ErrNoIndex)
		}
		if res.IsError() {
			msg, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
			return nil, fmt.Errorf("scroll %s: %s: %s", index, res.Status(), msg)
		}
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return nil, fmt.Errorf("scroll %s: read page: %w", index, err)
		}
		return body, nil
	}
}

// leadingScrollID is the scroll id a response body starts with (the
// engine writes _scroll_id first), "" when it does not start with one.
func leadingScrollID(body []byte) string {
	const key = `{"_scroll_id":"`
	if !bytes.HasPrefix(body, []byte(key)) {
		return ""
	}
	id := body[len(key):]
	end := bytes.IndexByte(id, '"')
	if end <= 0 || bytes.IndexByte(id[:end], '\\') >= 0 {
		return ""
	}
	return string(id[:end])
}
