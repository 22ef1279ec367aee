package scores

import (
	"time"

	"github.com/reactivation/reactivation/internal/profile"
)

// Report is a company's scores as GET /api/v1/scores shows them.
type Report struct {
	CompanyID  string    `json:"companyId"`
	Generation string    `json:"generation"`
	AsOf       time.Time `json:"asOf"`
	// BusinessDate is the date recency days were counted to.
	BusinessDate string `json:"businessDate"`
	// Customers counts those scored (with at least one purchase);
	// prospects are in Groups.
	Customers  int64       `json:"customers"`
	Thresholds Thresholds  `json:"thresholds"`
	Groups     []GroupSize `json:"groups"`
	// Model is nil when the BG/NBD model did not fit; Fallback says why.
	Model      *Params `json:"model"`
	Fallback   string  `json:"fallback,omitempty"`
	FitSeconds float64 `json:"fitSeconds"`
}

// Thresholds say what each score needs; element i is for score i+2 (a
// customer below the first threshold scores 1).
type Thresholds struct {
	// RecencyDaysAtMost[i]: at most this many days since the last purchase.
	RecencyDaysAtMost [MaxScore - 1]int64 `json:"recencyDaysAtMost"`
	// TotalPurchasesAtLeast[i]: at least this many purchases.
	TotalPurchasesAtLeast [MaxScore - 1]int64 `json:"totalPurchasesAtLeast"`
	// TotalSpentAtLeast[i]: at least this much spent.
	TotalSpentAtLeast [MaxScore - 1]profile.Cents `json:"totalSpentAtLeast"`
}

// GroupSize is the number of customers of a group at the model's AsOf.
type GroupSize struct {
	Group     string `json:"group"`
	Customers int64  `json:"customers"`
}

// Report returns m as the API shows it, for generation gen.
func (m *Model) Report(gen string) Report {
	r := Report{CompanyID: m.CompanyID, Generation: gen, AsOf: m.AsOf, BusinessDate: m.BusinessDate.Format(time.DateOnly),
		Customers: m.Customers, Model: m.Params, Fallback: m.Fallback, FitSeconds: m.FitSeconds, Groups: []GroupSize{}}
	for k := 2; k <= MaxScore; k++ {
		r.Thresholds.RecencyDaysAtMost[k-2] = -m.Recency.MinValue(k) // the value is -days
		r.Thresholds.TotalPurchasesAtLeast[k-2] = m.Frequency.MinValue(k)
		r.Thresholds.TotalSpentAtLeast[k-2] = profile.Cents(m.Monetary.MinValue(k))
	}
	for _, g := range Groups {
		r.Groups = append(r.Groups, GroupSize{Group: g, Customers: m.Groups[g]})
	}
	return r
}
