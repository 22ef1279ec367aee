package segment

import (
	"cmp"
	"time"

	"github.com/reactivation/reactivation/internal/profile"
)

// Plan is one search made ready for an engine to compile: every engine
// derives it the same way from the same query, so they agree.
type Plan struct {
	// Filter is normalised.
	Filter Filter
	// Bounds are Filter's days and dates as instants.
	Bounds Bounds
	// Sort is never the zero Sort.
	Sort Sort
	// Size is the page size, def when the query gave none.
	Size int
	// After holds the sort values of the cursor's last hit (numbers as
	// json.Number); nil for the first page. Engines check their shape.
	After []any
}

// NewPlan validates and normalises a query's parts. now anchors day-based
// filters in loc (the current time when zero); size 0 means def. Problems
// are a *ValidationError.
func NewPlan(f Filter, s Sort, size, def int, cursor string, now time.Time, loc *time.Location) (Plan, error) {
	nf, err := f.Normalize()
	if err != nil {
		return Plan{}, err
	}
	s = s.OrDefault()
	if err := s.Validate(); err != nil {
		return Plan{}, err
	}
	if size < 0 {
		return Plan{}, fieldError("size", "must not be negative")
	}
	p := Plan{Filter: nf, Sort: s, Size: cmp.Or(size, def)}
	if now.IsZero() {
		now = time.Now()
	}
	p.Bounds = nf.Bounds(now, loc)
	if cursor != "" {
		if p.After, err = DecodeCursor(cursor, s); err != nil {
			return Plan{}, err
		}
	}
	return p, nil
}

// Hits are customers an engine read for a plan, in the plan's order, with
// the sort values of each (what a cursor carries).
type Hits struct {
	Customers  []profile.Profile
	SortValues [][]any
}

// Page cuts hits read with one more than p.Size (which tells whether
// another page follows) to p.Size, and returns them with the cursor of the
// next page, "" when this is the last.
func (p Plan) Page(h Hits) ([]profile.Profile, string) {
	n, cursor := p.Cut(h.SortValues)
	return h.Customers[:n], cursor
}

// Cut is Page for hits held otherwise: how many of the hits whose sort
// values are given the page keeps, and the cursor of the next page.
func (p Plan) Cut(sortValues [][]any) (int, string) {
	if len(sortValues) <= p.Size {
		return len(sortValues), ""
	}
	return p.Size, EncodeCursor(p.Sort, sortValues[p.Size-1])
}

// Walk reads pages of p.Size with read, each after the last hit of the one
// before, and calls fn with each non-empty page until a short page or an
// error. It holds one page at a time.
func (p Plan) Walk(read func(Plan) (Hits, error), fn func([]profile.Profile) error) error {
	for {
		h, err := read(p)
		if err != nil {
			return err
		}
		if len(h.Customers) > 0 {
			if err := fn(h.Customers); err != nil {
				return err
			}
		}
		if len(h.Customers) < p.Size {
			return nil
		}
		p.After = h.SortValues[len(h.SortValues)-1]
	}
}
