// Package profile holds the customer profile: the document the search index
// keeps for every customer, with the exact definitions of docs/architecture.md.
package profile

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Profile is one customer's purchase profile. Its JSON is both the indexed
// document and the API's customer representation.
type Profile struct {
	CustomerID          string     `json:"customerId"`
	CompanyID           string     `json:"companyId"`
	Name                string     `json:"name"`
	Email               string     `json:"email"`
	Phone               string     `json:"phone"`
	Gender              string     `json:"gender"`
	GenderRaw           string     `json:"genderRaw"`
	City                string     `json:"city"`
	CreatedAt           *time.Time `json:"createdAt"`
	UpdatedAt           *time.Time `json:"updatedAt"`
	FirstPurchaseAt     *time.Time `json:"firstPurchaseAt"`
	LastPurchaseAt      *time.Time `json:"lastPurchaseAt"`
	TotalPurchases      int64      `json:"totalPurchases"`
	TotalSpent          Cents      `json:"totalSpent"`
	AverageTicket       Cents      `json:"averageTicket"`
	Products            []string   `json:"products"`
	FavoriteProducts    []string   `json:"favoriteProducts"`
	Ingredients         []string   `json:"ingredients"`
	FavoriteIngredients []string   `json:"favoriteIngredients"`
	HasEmail            bool       `json:"hasEmail"`
	HasPhone            bool       `json:"hasPhone"`
	// SourceVersion is the source state the profile was computed from (the
	// 64-bit transaction id horizon of the snapshot it was read in):
	// engines keep the higher. Not part of the API's JSON.
	SourceVersion int64 `json:"-"`
	// SourceLines counts the invoice lines the profile was computed from;
	// change tracking compares it with the source to see removed lines.
	// Not part of the API's JSON.
	SourceLines int64 `json:"-"`
	// Scores (internal/scores), computed with the thresholds and model of
	// the generation the document belongs to. The R, F, M scores (1-5)
	// are absent for customers with no purchase (RFMGroup "prospects");
	// PAlive and ExpectedPurchases90d are absent too when the company's
	// model did not fit. All are absent when scores are disabled.
	RecencyScore         *int     `json:"recencyScore"`
	FrequencyScore       *int     `json:"frequencyScore"`
	MonetaryScore        *int     `json:"monetaryScore"`
	RFMGroup             string   `json:"rfmGroup"`
	PAlive               *float64 `json:"pAlive"`
	ExpectedPurchases90d *float64 `json:"expectedPurchases90d"`
}

// FavoritesLimit is how many favourite products and ingredients a profile keeps.
const FavoritesLimit = 5

// Cents is an amount of money in hundredths, exact. It is written to JSON as
// a decimal number with two places (325497.04) and read back without a float
// round trip.
type Cents int64

// AverageCents is round(total/count, 2) half away from zero; 0 for count 0.
func AverageCents(total Cents, count int64) Cents {
	if count == 0 {
		return 0
	}
	t := int64(total)
	neg := t < 0
	if neg {
		t = -t
	}
	q, r := t/count, t%count
	if 2*r >= count {
		q++
	}
	if neg {
		q = -q
	}
	return Cents(q)
}

// String renders c as a decimal with two places.
func (c Cents) String() string { return string(c.Append(nil)) }

// Append appends String's text to b: a sign when negative, the whole
// units, a point and two digits. math.MinInt64 has no such text (its
// negation overflows): what it writes is not a number.
func (c Cents) Append(b []byte) []byte {
	v := int64(c)
	if v < 0 {
		b, v = append(b, '-'), -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	return append(b, '.', byte('0'+v%100/10), byte('0'+v%10))
}

// MarshalJSON writes c as a JSON number with two decimal places.
func (c Cents) MarshalJSON() ([]byte, error) { return c.Append(nil), nil }

// UnmarshalJSON reads a JSON number or numeric string with at most two
// decimal places.
func (c *Cents) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseCents(s)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// ParseCents parses a decimal amount such as "325497.04", "12", "-3.5" or
// "1.5e3" exactly; more than two decimal places is an error.
func ParseCents(s string) (Cents, error) {
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("amount %q: not a number", s)
		}
		return ParseCents(strconv.FormatFloat(f, 'f', -1, 64))
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("amount %q: more than two decimal places", s)
	}
	if whole == "" {
		whole = "0"
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseUint(frac, 10, 64)
	if err1 != nil || err2 != nil || w > (1<<62)/100 {
		return 0, fmt.Errorf("amount %q: not a decimal number", s)
	}
	v := w*100 + int64(f)
	if neg {
		v = -v
	}
	return Cents(v), nil
}
