// Package search defines the search engine interface: one validated segment
// filter, answered identically by Elasticsearch (search/elastic) and by
// PostgreSQL (search/pgsearch).
package search

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/reactivation/reactivation/internal/parallel"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
)

// Query is one search: a validated, normalised filter pinned to a company,
// a sort, a page size and an opaque cursor from the previous page.
type Query struct {
	Filter segment.Filter
	Sort   segment.Sort
	Size   int
	Cursor string
	// Now anchors day-based filters; its date in Location is "today".
	Now      time.Time
	Location *time.Location
	// Unordered lets Scan hand matches over in whatever order the engine
	// reads fastest (Elasticsearch: a scroll in index order, one
	// consistent view of the index for the whole scan). Search ignores it.
	Unordered bool
	// Fields, when not empty, names the profile fields (JSON names) the
	// caller reads; Scan may leave the others empty. A hint: engines may
	// fill more.
	Fields []string
	// JSON tells Search the caller reads the customers as JSON
	// (Page.Encode): an engine that keeps the customer's JSON may fill
	// Page.JSON instead of Page.Customers and skip decoding them.
	JSON bool
	// Uncounted tells Search the caller already knows the exact total of
	// this filter (the API's totals cache): Page.Total may then be 0.
	// Elasticsearch skips counting (track_total_hits false), the most
	// expensive part of a page; PostgreSQL may count anyway. Scan ignores
	// it.
	Uncounted bool
}

// Page is one page of results. Total counts every match, exactly.
type Page struct {
	Total      int64             `json:"total"`
	Customers  []profile.Profile `json:"customers"`
	NextCursor string            `json:"nextCursor"`
	// JSON, when not nil, holds the customers as JSON (json.Marshal of
	// each profile, byte for byte) in place of Customers: what Search
	// answers a Query.JSON on an engine that keeps them so.
	JSON []json.RawMessage `json:"-"`
}

// Encode is the page's JSON, the same bytes whether the customers are
// held as profiles or as JSON.
func (p Page) Encode() ([]byte, error) {
	if p.JSON == nil {
		if p.Customers == nil {
			p.Customers = []profile.Profile{}
		}
		return json.Marshal(p)
	}
	cursor, err := json.Marshal(p.NextCursor)
	if err != nil {
		return nil, err
	}
	n := 64 + len(cursor)
	for _, c := range p.JSON {
		n += len(c) + 1
	}
	b := append(make([]byte, 0, n), `{"total":`...)
	b = append(strconv.AppendInt(b, p.Total, 10), `,"customers":[`...)
	for i, c := range p.JSON {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c...)
	}
	b = append(append(b, `],"nextCursor":`...), cursor...)
	return append(b, '}'), nil
}

// Searcher answers filters. Implementations are safe for concurrent use.
type Searcher interface {
	// Search returns one page in the query's sort order.
	Search(ctx context.Context, q Query) (Page, error)
	// Scan calls fn with every match, in pages of q.Size, in the query's
	// sort order (ties by customer id), in constant memory. It stops at the
	// first error fn returns.
	Scan(ctx context.Context, q Query, fn func([]profile.Profile) error) error
}

// Match is one match of a scan as the API shows it: the customer's JSON,
// byte for byte json.Marshal of its profile, and the profile with at
// least the fields the query named (Query.Fields) decoded.
type Match struct {
	Profile profile.Profile
	JSON    []byte
}

// JSONScanner is a Searcher whose engine keeps the customer's JSON, or
// something close to it, so an unordered scan can hand it over without
// decoding every field and encoding it again (Elasticsearch: the stored
// _source, rewritten in one pass).
type JSONScanner interface {
	// ScanJSON is Scan of an unordered query (q.Unordered must be set),
	// each match as its JSON and the fields of q.Fields.
	ScanJSON(ctx context.Context, q Query, fn func([]Match) error) error
}

// ScanJSON scans the unordered query q through s, each match with its
// JSON: through s's ScanJSON when it has one, otherwise through Scan of
// whole profiles, encoded here a page at a time on up to four goroutines.
func ScanJSON(ctx context.Context, s Searcher, q Query, fn func([]Match) error) error {
	q.Unordered = true
	if js, ok := s.(JSONScanner); ok {
		return js.ScanJSON(ctx, q, fn)
	}
	q.Fields = nil
	return s.Scan(ctx, q, func(page []profile.Profile) error {
		matches := make([]Match, len(page))
		err := parallel.Ranges(len(page), func(lo, hi int) error {
			for i := lo; i < hi; i++ {
				matches[i] = Match{Profile: page[i], JSON: page[i].AppendJSON(nil)}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return fn(matches)
	})
}

// Indexer writes profiles. A full sync builds a new generation beside the
// one serving, then swaps it in atomically; upserts go to the serving one.
type Indexer interface {
	// CreateGeneration creates an empty generation gen with load settings.
	CreateGeneration(ctx context.Context, gen string) error
	// Index writes docs into generation gen, overwriting by customer id.
	Index(ctx context.Context, gen string, docs []profile.Profile) error
	// Count returns the number of documents of generation gen, after making
	// everything written visible.
	Count(ctx context.Context, gen string) (int64, error)
	// Promote restores serving settings on gen and makes it the serving
	// generation in one atomic step, then drops older generations.
	Promote(ctx context.Context, gen string) error
	// Current returns the serving generation, "" when there is none.
	Current(ctx context.Context) (string, error)
	// Upsert writes docs into the serving generation. A document whose
	// SourceVersion is lower than the one the engine holds for that
	// customer, or than a tombstone Delete left for it, is dropped
	// silently: the newer result wins whatever the arrival order. Equal
	// versions: the last write wins.
	Upsert(ctx context.Context, docs []profile.Profile) error
	// Delete removes customers' documents from the serving generation,
	// each unless the document there carries a newer version, and leaves
	// a tombstone so that a write older than the delete arriving after it
	// (within TombstoneRetention) loses too. Absent documents are not an
	// error.
	Delete(ctx context.Context, tombs []Tombstone) error
	// DropGeneration deletes a generation that will not be promoted.
	DropGeneration(ctx context.Context, gen string) error
}

// Tombstone deletes one customer's document as of a source version.
// CompanyID routes the delete (Elasticsearch); empty when unknown.
type Tombstone struct {
	CustomerID string
	CompanyID  string
	Version    int64
}

// TombstoneRetention is how long both engines remember a delete's version:
// a write computed before a delete and arriving later than this may bring
// the customer back until the next incremental sync deletes it again.
const TombstoneRetention = 24 * time.Hour

// Engine is a complete search engine.
type Engine interface {
	Searcher
	Indexer
	FingerprintReader
	// Ping reports whether the engine answers.
	Ping(ctx context.Context) error
	// Name is "elasticsearch" or "postgres", for logs and readiness.
	Name() string
	// Documents returns how many documents generation gen holds, reading
	// only: unlike Count it makes nothing visible (no refresh), so
	// readiness probes can call it as often as they like.
	Documents(ctx context.Context, gen string) (int64, error)
}
