package segment

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reactivation/reactivation/internal/profile"
)

// Limits on filter values.
const (
	MaxListItems  = 100
	MaxTextLength = 200 // characters, for list items, q and companyId
	MaxDays       = 100000
	// MaxMoney is the largest amount a filter takes: 14 digits of cents.
	MaxMoney profile.Cents = 99999999999999
)

// DateLayout is the format of lastPurchaseFrom and lastPurchaseTo.
const DateLayout = "2006-01-02"

// Normalize validates f and returns it normalised (see Filter); f itself is
// not changed. Normalising a normalised filter returns an equal filter.
// Problems are reported together as a *ValidationError.
func (f Filter) Normalize() (Filter, error) {
	var p problems
	out := f
	out.Gender = normalizeList(&p, "gender", f.Gender, normalizeGender)
	out.City = normalizeList(&p, "city", f.City, foldItem)
	out.Products = normalizeList(&p, "products", f.Products, foldItem)
	out.Ingredients = normalizeList(&p, "ingredients", f.Ingredients, foldItem)
	out.FavoriteProducts = normalizeList(&p, "favoriteProducts", f.FavoriteProducts, foldItem)
	out.FavoriteIngredients = normalizeList(&p, "favoriteIngredients", f.FavoriteIngredients, foldItem)

	checkRange(&p, "minDaysSinceLastPurchase", "maxDaysSinceLastPurchase", f.MinDaysSinceLastPurchase, f.MaxDaysSinceLastPurchase, MaxDays)
	checkRange(&p, "minTotalPurchases", "maxTotalPurchases", f.MinTotalPurchases, f.MaxTotalPurchases, math.MaxInt64)
	checkRange(&p, "minTotalSpent", "maxTotalSpent", f.MinTotalSpent, f.MaxTotalSpent, MaxMoney)
	checkRange(&p, "minAverageTicket", "maxAverageTicket", f.MinAverageTicket, f.MaxAverageTicket, MaxMoney)

	from, fromOK := checkDate(&p, "lastPurchaseFrom", f.LastPurchaseFrom)
	to, toOK := checkDate(&p, "lastPurchaseTo", f.LastPurchaseTo)
	if fromOK && toOK && from.After(to) {
		p.add("lastPurchaseFrom", "must not be after lastPurchaseTo")
	}

	if f.Q != nil {
		out.Q = nil
		if checkText(&p, "q", *f.Q) {
			if q := profile.Fold(*f.Q); q != "" {
				out.Q = &q
			}
		}
	}
	if f.CompanyID != nil && checkText(&p, "companyId", *f.CompanyID) && *f.CompanyID == "" {
		p.add("companyId", "must not be empty")
	}
	out.RFMGroup = normalizeScores(&p, f, &out)
	if len(p) > 0 {
		return Filter{}, p.err()
	}
	return out, nil
}

// PinCompany restricts f to companyID, whatever companyId it named: a
// company key only ever sees its own customers.
func (f *Filter) PinCompany(companyID string) {
	f.CompanyID = &companyID
}

// RequireCompany reports a filter with no companyId, which admin keys must
// give, as a *ValidationError on companyId.
func (f Filter) RequireCompany() error {
	if f.CompanyID == nil || *f.CompanyID == "" {
		return fieldError("companyId", "is required for admin keys")
	}
	return nil
}

// Canonical is a stable encoding of f, for cache keys: equal normalised
// filters encode to equal bytes. f must be normalised.
func (f Filter) Canonical() []byte {
	b, err := json.Marshal(f)
	if err != nil {
		panic("segment: encode filter: " + err.Error()) // plain values cannot fail
	}
	return b
}

// normalizeList checks a list's length and items and returns its items
// normalised by norm, sorted and without duplicates. An empty list is
// absent: it asks for nothing. norm returns a normalised item or a problem
// message.
func normalizeList(p *problems, field string, list StringList, norm func(string) (string, string)) StringList {
	if len(list) == 0 {
		return nil
	}
	if len(list) > MaxListItems {
		p.add(field, "must have at most %d items", MaxListItems)
		return nil
	}
	out := make(StringList, 0, len(list))
	for _, item := range list {
		if !checkText(p, field, item) {
			return nil
		}
		v, msg := norm(item)
		if msg != "" {
			p.add(field, "%s", msg)
			return nil
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// foldItem folds a list item, which must not fold to nothing.
func foldItem(v string) (string, string) {
	if f := profile.Fold(v); f != "" {
		return f, ""
	}
	return "", "items must not be empty"
}

// normalizeGender returns the normalised gender of a filter value, which
// must be one of the spellings NormalizeGender knows or other or unknown.
func normalizeGender(v string) (string, string) {
	folded := strings.ReplaceAll(profile.Fold(v), " ", "")
	g := profile.NormalizeGender(v)
	if (g == profile.GenderOther || g == profile.GenderUnknown) && folded != g {
		// NormalizeGender maps anything unknown to other, empty to unknown.
		return "", fmt.Sprintf("unknown gender %q (use female, male, other or unknown, or mujer, hombre, f, m...)", v)
	}
	return g, ""
}

// checkText reports text longer than MaxTextLength characters.
func checkText(p *problems, field, s string) bool {
	if strings.ContainsRune(s, 0) {
		p.add(field, "must not contain NUL characters")
		return false
	}
	if utf8.RuneCountInString(s) > MaxTextLength {
		p.add(field, "must be at most %d characters", MaxTextLength)
		return false
	}
	return true
}

// checkRange reports negative values, values over limit and min > max.
func checkRange[T int64 | profile.Cents](p *problems, minField, maxField string, lo, hi *T, limit T) {
	ok := true
	for _, b := range []struct {
		field string
		v     *T
	}{{minField, lo}, {maxField, hi}} {
		switch {
		case b.v == nil:
		case *b.v < 0:
			p.add(b.field, "must not be negative")
			ok = false
		case *b.v > limit:
			p.add(b.field, "must be at most %v", limit)
			ok = false
		}
	}
	if ok && lo != nil && hi != nil && *lo > *hi {
		p.add(minField, "must not be greater than %s", maxField)
	}
}

// checkDate parses a YYYY-MM-DD date; ok is false when it is absent or bad.
func checkDate(p *problems, field string, s *string) (d time.Time, ok bool) {
	if s == nil {
		return time.Time{}, false
	}
	d, err := time.Parse(DateLayout, *s)
	if err != nil {
		p.add(field, "must be a date as YYYY-MM-DD")
		return time.Time{}, false
	}
	return d, true
}
