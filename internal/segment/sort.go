package segment

import "strings"

// Sort fields a search can be ordered by.
const (
	SortLastPurchaseAt = "lastPurchaseAt"
	SortTotalSpent     = "totalSpent"
	SortTotalPurchases = "totalPurchases"
	SortAverageTicket  = "averageTicket"
	SortName           = "name"
	// Score sorts: customers without the score come last.
	SortPAlive               = "pAlive"
	SortExpectedPurchases90d = "expectedPurchases90d"
)

// Sort is a result order. Every order ends with customer id ascending, so
// it is total; customers with no purchase come last whatever the
// direction. The zero Sort means DefaultSort.
type Sort struct {
	Field string
	Desc  bool
}

// DefaultSort is the most recent purchase first.
var DefaultSort = Sort{Field: SortLastPurchaseAt, Desc: true}

// ParseSort reads "field:asc" or "field:desc"; a bare "field" takes its
// natural direction (ascending for name, descending for the others) and ""
// is DefaultSort. Errors are a *ValidationError on field "sort".
func ParseSort(s string) (Sort, error) {
	if s == "" {
		return DefaultSort, nil
	}
	name, dir, hasDir := strings.Cut(s, ":")
	switch name {
	case SortLastPurchaseAt, SortTotalSpent, SortTotalPurchases, SortAverageTicket, SortName,
		SortPAlive, SortExpectedPurchases90d:
	default:
		return Sort{}, fieldError("sort", "unknown sort field %q (use lastPurchaseAt, totalSpent, totalPurchases, averageTicket, name, pAlive or expectedPurchases90d)", name)
	}
	switch {
	case !hasDir:
		return Sort{Field: name, Desc: name != SortName}, nil
	case dir == "asc", dir == "desc":
		return Sort{Field: name, Desc: dir == "desc"}, nil
	}
	return Sort{}, fieldError("sort", "direction must be asc or desc, as in \"lastPurchaseAt:desc\"")
}

// OrDefault returns s, or DefaultSort for the zero Sort.
func (s Sort) OrDefault() Sort {
	if s.Field == "" {
		return DefaultSort
	}
	return s
}

// String renders s as ParseSort reads it: "lastPurchaseAt:desc".
func (s Sort) String() string {
	s = s.OrDefault()
	if s.Desc {
		return s.Field + ":desc"
	}
	return s.Field + ":asc"
}

// Validate reports a sort whose field is not one of the sort fields.
func (s Sort) Validate() error {
	_, err := ParseSort(s.OrDefault().String())
	return err
}
