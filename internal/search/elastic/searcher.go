package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/reactivation/reactivation/internal/jsonobj"
	"github.com/reactivation/reactivation/internal/metrics"
	"github.com/reactivation/reactivation/internal/parallel"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// DefaultScanSize is Scan's page size when the query gives none.
const DefaultScanSize = 1000

// sortFields maps sort fields to the document fields sorted on: longs
// (amounts in cents) and nameKey, the folded name's doc values compared
// byte by byte like PostgreSQL's name_key COLLATE "C".
var sortFields = map[string]string{
	segment.SortLastPurchaseAt: "lastPurchaseAt",
	segment.SortTotalSpent:     "totalSpentCents",
	segment.SortTotalPurchases: "totalPurchases",
	segment.SortAverageTicket:  "averageTicketCents",
	segment.SortName:           "nameKey",
	// The floats' order-preserving longs (segment.FloatKey).
	segment.SortPAlive:               "pAliveKey",
	segment.SortExpectedPurchases90d: "expectedPurchases90dKey",
}

// Search returns one page with an exact total, or a total of 0 when
// q.Uncounted (the engine does not count: track_total_hits false). The cursor holds the sort
// values of the page's last hit, for search_after; there is no from/size
// paging. A serving alias that does not exist yet answers an empty page.
func (e *Engine) Search(ctx context.Context, q search.Query) (search.Page, error) {
	plan, err := segment.NewPlan(q.Filter, q.Sort, q.Size, segment.DefaultSize, q.Cursor, q.Now, q.Location)
	if err != nil {
		return search.Page{}, err
	}
	// One hit more than asked tells whether there is a next page.
	hits, total, err := e.search(ctx, plan, plan.Size+1, !q.Uncounted, q.JSON)
	if err != nil {
		return search.Page{}, err
	}
	page := search.Page{Total: total}
	if q.JSON {
		var n int
		n, page.NextCursor = plan.Cut(hits.SortValues)
		page.JSON = hits.JSON[:n]
		return page, nil
	}
	page.Customers, page.NextCursor = plan.Page(hits.Hits)
	return page, nil
}

// pageHits are the hits of one search request: decoded profiles, or the
// customers' JSON (CustomerJSON) when asked for JSON.
type pageHits struct {
	segment.Hits
	JSON []json.RawMessage
}

// Scan walks every match with search_after in pages of q.Size
// (DefaultScanSize when 0), holding one page at a time.
func (e *Engine) Scan(ctx context.Context, q search.Query, fn func([]profile.Profile) error) error {
	plan, err := segment.NewPlan(q.Filter, q.Sort, q.Size, DefaultScanSize, q.Cursor, q.Now, q.Location)
	if err != nil {
		return err
	}
	if q.Unordered {
		return e.scroll(ctx, plan, q.Fields, fn)
	}
	return plan.Walk(func(p segment.Plan) (segment.Hits, error) {
		hits, _, err := e.search(ctx, p, p.Size, false, false)
		return hits.Hits, err
	}, fn)
}

// search runs one search_after request of size hits; total is exact when
// counted. asJSON reads the customers as their JSON, not as profiles.
func (e *Engine) search(ctx context.Context, plan segment.Plan, size int, counted, asJSON bool) (pageHits, int64, error) {
	body := map[string]any{
		"query":            Query(plan.Filter, plan.Bounds),
		"sort":             sortClause(plan.Sort),
		"size":             size,
		"track_total_hits": counted,
		// Whole documents, as stored (see scrollOf): the engine's fields
		// are skipped by the decoding, not filtered out by the engine.
	}
	if plan.After != nil {
		after, err := searchAfter(plan.Sort, plan.After)
		if err != nil {
			return pageHits{}, 0, err
		}
		body["search_after"] = after
	}
	b, err := json.Marshal(body)
	if err != nil {
		return pageHits{}, 0, fmt.Errorf("encode search: %w", err)
	}
	s := e.client.Search
	opts := []func(*esapi.SearchRequest){s.WithContext(ctx), s.WithIndex(e.alias), s.WithBody(bytes.NewReader(b))}
	if plan.Filter.CompanyID != nil {
		opts = append(opts, s.WithRouting(*plan.Filter.CompanyID))
	}
	res, err := s(opts...)
	if err != nil {
		return pageHits{}, 0, fmt.Errorf("search %s: %w", e.alias, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return pageHits{}, 0, nil // no generation promoted yet
	}
	if res.IsError() {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
		return pageHits{}, 0, fmt.Errorf("search %s: %s: %s", e.alias, res.Status(), msg)
	}
	return decodeResult(res.Body, asJSON)
}

// decodeResult reads hits and the total, keeping sort values exact
// (json.Number); asJSON turns each hit into the customer's JSON
// (CustomerJSON) instead of a profile. The answer is checked once
// (json.Valid) and then walked with jsonobj, not decoded: decoding the
// envelope of a page of whole documents was most of a search's CPU here.
func decodeResult(r io.Reader, asJSON bool) (pageHits, int64, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return pageHits{}, 0, fmt.Errorf("read search response: %w", err)
	}
	if !json.Valid(body) {
		return pageHits{}, 0, fmt.Errorf("decode search response: not JSON: %.200q", body)
	}
	var total int64
	var sources, sorts [][]byte
	err = member(body, "hits", func(hits []byte) error {
		if err := member(hits, "total", func(t []byte) error {
			return member(t, "value", func(v []byte) (err error) { total, err = strconv.ParseInt(string(v), 10, 64); return err })
		}); err != nil {
			return err
		}
		return member(hits, "hits", func(list []byte) error {
			return jsonobj.Elements(list, func(hit []byte) {
				var src, srt []byte
				_ = jsonobj.Members(hit, func(k, v []byte) {
					switch string(k) {
					case "_source":
						src = v
					case "sort":
						srt = v
					}
				})
				sources, sorts = append(sources, src), append(sorts, srt)
			})
		})
	})
	if err != nil {
		return pageHits{}, 0, fmt.Errorf("decode search response: %w", err)
	}
	n := len(sources)
	out := pageHits{Hits: segment.Hits{SortValues: make([][]any, n)}}
	if asJSON {
		out.JSON = make([]json.RawMessage, n)
	} else {
		out.Customers = make([]profile.Profile, n)
	}
	for i, src := range sources {
		if sorts[i] != nil {
			dec := json.NewDecoder(bytes.NewReader(sorts[i]))
			dec.UseNumber()
			if err := dec.Decode(&out.SortValues[i]); err != nil {
				return pageHits{}, 0, fmt.Errorf("decode sort values: %w", err)
			}
		}
		if asJSON {
			_, b, err := CustomerJSON(src, nil)
			if err != nil {
				return pageHits{}, 0, err
			}
			out.JSON[i] = b
			continue
		}
		p, err := DecodeSource(src)
		if err != nil {
			return pageHits{}, 0, fmt.Errorf("decode customer: %w", err)
		}
		out.Customers[i] = p
	}
	return out, total, nil
}

// member calls fn with the value of obj's member key, if obj has one.
func member(obj []byte, key string, fn func(value []byte) error) error {
	var v []byte
	if err := jsonobj.Members(obj, func(k, value []byte) {
		if string(k) == key {
			v = value
		}
	}); err != nil {
		return err
	}
	if v == nil {
		return nil
	}
	return fn(v)
}

// sortClause sorts by s, missing values (no purchase) last in both
// directions, ties by customer id.
func sortClause(s segment.Sort) []any {
	order := "asc"
	if s.Desc {
		order = "desc"
	}
	return []any{
		map[string]any{sortFields[s.Field]: map[string]any{"order": order, "missing": "_last"}},
		map[string]any{"customerId": map[string]any{"order": "asc"}},
	}
}

// searchAfter checks a decoded cursor against the sort: a text for name or
// a long for the others, then a customer id. Anything else would make
// the engine fail with a 400, so it is the client's invalid cursor.
func searchAfter(s segment.Sort, values []any) ([]any, error) {
	if len(values) != 2 {
		return nil, segment.InvalidCursor()
	}
	if _, ok := values[1].(string); !ok {
		return nil, segment.InvalidCursor()
	}
	var ok bool
	switch n, isNumber := values[0].(json.Number); {
	case s.Field == segment.SortName:
		_, ok = values[0].(string)
	case isNumber:
		_, err := strconv.ParseInt(n.String(), 10, 64)
		ok = err == nil
	}
	if !ok {
		return nil, segment.InvalidCursor()
	}
	return values, nil
}

// scroll walks every match in index order with ScanIndex: the query runs
// once, on one consistent view of the index, instead of once a page. Only
// the fields asked for are fetched and decoded; ids alone come from doc
// values (idScroll). A serving alias that does not exist yet reads nothing.
func (e *Engine) scroll(ctx context.Context, plan segment.Plan, fields []string, fn func([]profile.Profile) error) error {
	s := e.scrollOf(plan)
	if len(fields) > 0 {
		s.Source = map[string]any{"includes": SourceFields(fields)}
	}
	decode := decodeSources
	if idScroll(fields) {
		s.Source, s.DocValues = nil, slices.Compact(slices.Sorted(slices.Values(fields)))
		decode = func(hits []Hit) ([]profile.Profile, error) { return decodeIDs(hits, s.DocValues) }
	}
	page := func(hits []Hit) error {
		customers, err := decode(hits)
		if err != nil {
			return err
		}
		return fn(customers)
	}
	var err error
	if done, cerr := e.collectIDs(ctx, s, fn); done {
		err = cerr
	} else if s.DocValues != nil && s.Routing != "" && e.scanSlices > 1 && e.flavor == FlavorOpenSearch {
		err = ScanSlices(ctx, e.client, SlicedScan{Index: s.Index, Query: s.Query, DocValues: s.DocValues, Routing: s.Routing,
			Slices: e.scanSlices, Size: s.Size}, page)
	} else {
		err = ScanIndex(ctx, e.client, s, page)
	}
	return servingOrNone(err)
}

// scrollOf is the scroll of plan's matches over the serving alias, routed
// to the company's shard when the filter has one, of whole documents.
// Whole documents are read as stored: filtering _source costs the engine
// a parse and a rewrite of every document, more than the bytes of the
// engine's own fields it would drop (docs/snapshots.md).
func (e *Engine) scrollOf(plan segment.Plan) Scroll {
	s := Scroll{Index: e.alias, Query: Query(plan.Filter, plan.Bounds), Size: plan.Size}
	if plan.Filter.CompanyID != nil {
		s.Routing = *plan.Filter.CompanyID
	}
	return s
}

// servingOrNone is a scan's error, nil when no generation was promoted
// yet (an alias that does not exist reads nothing).
func servingOrNone(err error) error {
	if errors.Is(err, ErrNoIndex) {
		return nil
	}
	return err
}

// ScanJSON implements search.JSONScanner: one scroll of whole documents,
// each turned into the customer's JSON by CustomerJSON (a page on up to
// four goroutines), which decodes q.Fields only.
func (e *Engine) ScanJSON(ctx context.Context, q search.Query, fn func([]search.Match) error) error {
	plan, err := segment.NewPlan(q.Filter, q.Sort, q.Size, DefaultScanSize, q.Cursor, q.Now, q.Location)
	if err != nil {
		return err
	}
	return servingOrNone(ScanIndex(ctx, e.client, e.scrollOf(plan), func(hits []Hit) error {
		matches := make([]search.Match, len(hits))
		err := parallel.Ranges(len(hits), func(lo, hi int) error {
			for i := lo; i < hi; i++ {
				p, b, err := CustomerJSON(hits[i].Source, q.Fields)
				if err != nil {
					return err
				}
				matches[i] = search.Match{Profile: p, JSON: b}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return fn(matches)
	}))
}

// collectIDs reads the customer ids of a company-routed scan of ids alone
// with CollectIDs, on OpenSearch, unless WithIDChunk(0) or the engine
// refused the script before; done is false when it did not read them
// (then nothing was passed to fn), and the caller scans.
func (e *Engine) collectIDs(ctx context.Context, s Scroll, fn func([]profile.Profile) error) (done bool, err error) {
	if e.idChunk <= 0 || e.flavor != FlavorOpenSearch || s.Routing == "" || !slices.Equal(s.DocValues, []string{"customerId"}) ||
		e.scriptRefused.Load() {
		return false, nil
	}
	err = CollectIDs(ctx, e.client, IDCollect{Index: s.Index, Query: s.Query, Routing: s.Routing, Chunk: e.idChunk},
		func(ids []string) error {
			customers := make([]profile.Profile, len(ids))
			for i, id := range ids {
				customers[i].CustomerID = id
			}
			return fn(customers)
		})
	if errors.Is(err, ErrScriptRefused) {
		e.scriptRefused.Store(true)
		metrics.IDAggregationRefused.Inc()
		return false, nil
	}
	return true, err
}

// decodeSources decodes a page's _source documents, in parallel: JSON
// decoding is most of an export's and a snapshot's CPU.
func decodeSources(hits []Hit) ([]profile.Profile, error) {
	customers := make([]profile.Profile, len(hits))
	err := parallel.Ranges(len(hits), func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			p, err := DecodeSource(hits[i].Source)
			if err != nil {
				return fmt.Errorf("decode customer: %w", err)
			}
			customers[i] = p
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return customers, nil
}

// idScroll reports whether fields are all id fields, those HitFields
// holds.
func idScroll(fields []string) bool {
	for _, f := range fields {
		if f != "customerId" && f != "companyId" {
			return false
		}
	}
	return len(fields) > 0
}

// decodeIDs reads the id fields of doc-value hits, each of which must
// carry one value of every field asked for.
func decodeIDs(hits []Hit, fields []string) ([]profile.Profile, error) {
	customers := make([]profile.Profile, len(hits))
	for i, h := range hits {
		for _, f := range fields {
			values, dst := h.Fields.CustomerID, &customers[i].CustomerID
			if f == "companyId" {
				values, dst = h.Fields.CompanyID, &customers[i].CompanyID
			}
			if len(values) != 1 {
				return nil, fmt.Errorf("decode customer: %d values of %s", len(values), f)
			}
			*dst = values[0]
		}
	}
	return customers, nil
}
