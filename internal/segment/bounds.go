package segment

import "time"

// Bounds are the instants a filter's days and dates allow lastPurchaseAt
// between: From <= lastPurchaseAt < Before; nil is open. Both engines
// compile these same instants, so they agree to the millisecond. A customer
// with no purchase never matches a bounded filter.
type Bounds struct {
	From, Before *time.Time
}

// Bounded reports whether the filter constrains the last purchase date.
func (b Bounds) Bounded() bool { return b.From != nil || b.Before != nil }

// Bounds turns f's days and dates into instants, in UTC. Days are calendar
// days in loc (UTC when nil), counted from now's date there:
//
//	minDaysSinceLastPurchase N: last purchase before local midnight of today-N+1
//	maxDaysSinceLastPurchase N: last purchase at or after local midnight of today-N
//	lastPurchaseFrom D:         at or after local midnight of D
//	lastPurchaseTo D:           before local midnight of D+1
//
// f must be valid (see Normalize); bad dates are ignored.
func (f Filter) Bounds(now time.Time, loc *time.Location) Bounds {
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := now.In(loc).Date()
	midnight := func(y int, m time.Month, d int) *time.Time {
		t := time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
		return &t
	}
	var b Bounds
	later := func(t *time.Time) {
		if b.From == nil || t.After(*b.From) {
			b.From = t
		}
	}
	earlier := func(t *time.Time) {
		if b.Before == nil || t.Before(*b.Before) {
			b.Before = t
		}
	}
	if n := f.MaxDaysSinceLastPurchase; n != nil {
		later(midnight(y, m, d-int(*n)))
	}
	if n := f.MinDaysSinceLastPurchase; n != nil {
		earlier(midnight(y, m, d-int(*n)+1))
	}
	if f.LastPurchaseFrom != nil {
		if t, err := time.Parse(DateLayout, *f.LastPurchaseFrom); err == nil {
			later(midnight(t.Date()))
		}
	}
	if f.LastPurchaseTo != nil {
		if t, err := time.Parse(DateLayout, *f.LastPurchaseTo); err == nil {
			y, m, d := t.Date()
			earlier(midnight(y, m, d+1))
		}
	}
	return b
}
