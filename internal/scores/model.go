package scores

import (
	"math"
	"time"

	"github.com/reactivation/reactivation/internal/profile"
)

// HorizonDays is the horizon of ExpectedPurchases90d.
const HorizonDays = 90

// Model is one company's scoring state, computed at a full sync: the RFM
// cuts over the company's customers with a purchase and, when it fitted,
// the BG/NBD parameters, with the instant (AsOf) and business date they
// were computed at.
type Model struct {
	CompanyID    string
	AsOf         time.Time
	BusinessDate time.Time
	// Customers counts those with at least one purchase, Prospects the rest.
	Customers int64
	Prospects int64
	// Cuts over -recencyDays, purchases and cents spent.
	Recency, Frequency, Monetary Cuts
	// Params is nil when the model did not fit; Fallback says why.
	Params     *Params
	Fallback   string
	FitSeconds float64
	// Groups counts customers per group at AsOf.
	Groups map[string]int64
}

// Set is the models of one generation, by company, and the business time
// zone days are counted in.
type Set struct {
	Generation string
	Models     map[string]*Model
	Location   *time.Location
}

// Apply sets p's scores with the model of p's company at asOf, replacing
// any it had: R, F and M from the model's cuts (recency to asOf's
// business date), the group from R and F, and P(alive) and the expected
// purchases of the next HorizonDays from the model's parameters with
// t_x and T in fractional days to asOf. A customer with no purchase is a
// prospect without scores; a company without a model gets no scores.
func (s *Set) Apply(p *profile.Profile, asOf time.Time) {
	p.RecencyScore, p.FrequencyScore, p.MonetaryScore = nil, nil, nil
	p.RFMGroup, p.PAlive, p.ExpectedPurchases90d = "", nil, nil
	if s == nil {
		return
	}
	m := s.Models[p.CompanyID]
	if p.TotalPurchases == 0 || p.LastPurchaseAt == nil || p.FirstPurchaseAt == nil {
		if m != nil {
			p.RFMGroup = GroupProspects
		}
		return
	}
	if m == nil {
		return
	}
	days := RecencyDays(*p.LastPurchaseAt, BusinessDate(asOf, s.Location), s.Location)
	r := m.Recency.Score(-days)
	f := m.Frequency.Score(p.TotalPurchases)
	mo := m.Monetary.Score(int64(p.TotalSpent))
	p.RecencyScore, p.FrequencyScore, p.MonetaryScore = &r, &f, &mo
	p.RFMGroup = Group(r, f)
	if m.Params == nil {
		return
	}
	c := NewCustomer(p.TotalPurchases, *p.FirstPurchaseAt, *p.LastPurchaseAt, asOf)
	alive := PAlive(*m.Params, c)
	if math.IsNaN(alive) {
		return
	}
	p.PAlive = &alive
	if e, err := ExpectedPurchases(*m.Params, c, HorizonDays); err == nil && !math.IsNaN(e) && !math.IsInf(e, 0) {
		e = max(e, 0) // rounding can leave a hair below zero
		p.ExpectedPurchases90d = &e
	}
}

// NewCustomer is the BG/NBD summary of a customer with purchases
// purchases, the first and last at first and last, observed until asOf:
// x = purchases - 1, t_x = last - first and T = asOf - first, in
// fractional days (seconds / 86400). T is never less than t_x (a purchase
// after asOf counts as made at asOf).
func NewCustomer(purchases int64, first, last, asOf time.Time) Customer {
	tx := last.Sub(first).Seconds() / 86400
	T := asOf.Sub(first).Seconds() / 86400
	return Customer{X: int(purchases - 1), Tx: tx, T: max(T, tx)}
}

// AsOf is the instant the set's models were computed at (the zero time
// for an empty set).
func (s *Set) AsOf() time.Time {
	for _, m := range s.Models {
		return m.AsOf
	}
	return time.Time{}
}
