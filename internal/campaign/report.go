package campaign

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/reactivation/reactivation/internal/profile"
)

// MinCell is the smallest count of reactivated and of not-reactivated
// customers a group needs for the normal approximation behind the interval
// and the p-value (the n·p >= 5 rule); below it the report warns.
const MinCell = 5

// z95 is the two-sided 95% normal quantile.
const z95 = 1.96

// Report is what came back within a campaign's window, per group, from the
// source's invoices.
type Report struct {
	CampaignID string         `json:"campaignId"`
	Name       string         `json:"name"`
	Channel    string         `json:"channel"`
	Currency   string         `json:"currency,omitempty"`
	Window     ReportWindow   `json:"window"`
	Groups     Groups         `json:"groups"`
	Lift       *Lift          `json:"lift"`
	Incr       *Incremental   `json:"incremental"`
	Cost       *profile.Cents `json:"cost"`
	// ROI is (incremental revenue - cost) / cost; nil without a cost > 0
	// or without a holdout.
	ROI *float64 `json:"roi"`
	// Suppressed counts audience members now on the channel's suppression
	// list.
	Suppressed int64        `json:"suppressed"`
	Events     EventSummary `json:"events"`
	Daily      []DailyPoint `json:"daily"`
	Warnings   []string     `json:"warnings"`
}

// ReportWindow is the window [start, end) and whether it has closed.
type ReportWindow struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Days     int       `json:"days"`
	Complete bool      `json:"complete"`
	AsOf     time.Time `json:"asOf"`
}

// Groups are the report's groups; GlobalControl only when the company had
// a control group when the audience froze.
type Groups struct {
	Treatment     GroupResult  `json:"treatment"`
	Holdout       GroupResult  `json:"holdout"`
	GlobalControl *GroupResult `json:"globalControl,omitempty"`
}

// GroupResult is one group's outcome. Reactivated customers have at least
// one invoice in the window; orders and revenue count those invoices.
type GroupResult struct {
	Customers          int64         `json:"customers"`
	Reactivated        int64         `json:"reactivated"`
	Rate               float64       `json:"rate"`
	Orders             int64         `json:"orders"`
	Revenue            profile.Cents `json:"revenue"`
	RevenuePerCustomer profile.Cents `json:"revenuePerCustomer"`
}

// Lift compares treatment with holdout.
type Lift struct {
	// Absolute is rate_treatment - rate_holdout.
	Absolute float64 `json:"absolute"`
	// Relative is Absolute / rate_holdout; nil when rate_holdout is 0.
	Relative *float64 `json:"relative"`
	// CI95 is Absolute ∓ 1.96 · sqrt(p_t(1-p_t)/n_t + p_h(1-p_h)/n_h).
	CI95 [2]float64 `json:"ci95"`
	// PValue is two-sided, from the pooled two-proportion z-test; nil when
	// nobody or everybody came back (the pooled variance is 0).
	PValue *float64 `json:"pValue"`
}

// Incremental is what the campaign added over the holdout.
type Incremental struct {
	// Customers = Lift.Absolute · n_treatment.
	Customers float64 `json:"customers"`
	// Revenue = (revenue_t/n_t - revenue_h/n_h) · n_treatment, from the
	// unrounded per-customer revenues, rounded to the cent.
	Revenue profile.Cents `json:"revenue"`
}

// EventSummary counts the distinct customers of each delivery event and
// the rates that follow, for the campaign's channel.
type EventSummary struct {
	Channel      string `json:"channel"`
	Delivered    int64  `json:"delivered"`
	Opened       int64  `json:"opened"`
	Clicked      int64  `json:"clicked"`
	Bounced      int64  `json:"bounced"`
	Unsubscribed int64  `json:"unsubscribed"`
	Complained   int64  `json:"complained"`
	// DeliveredRate is delivered / treatment customers; OpenRate and
	// ClickRate are opened and clicked / delivered. Nil when the
	// denominator is 0.
	DeliveredRate *float64 `json:"deliveredRate"`
	OpenRate      *float64 `json:"openRate"`
	ClickRate     *float64 `json:"clickRate"`
}

// DailyPoint is the cumulative reactivation rate of each group at the end
// of day Day of the window (End = start + Day × 24 h, or asOf for the
// running day).
type DailyPoint struct {
	Day           int       `json:"day"`
	End           time.Time `json:"end"`
	Treatment     float64   `json:"treatment"`
	Holdout       float64   `json:"holdout"`
	GlobalControl *float64  `json:"globalControl,omitempty"`
}

// outcome is one reactivated customer's invoices in the window.
type outcome struct {
	orders  int64
	revenue profile.Cents
	first   time.Time
}

// tally accumulates one group.
type tally struct {
	customers, reactivated, orders int64
	revenue                        profile.Cents
	firsts                         []time.Time
}

func (t *tally) add(o outcome) {
	t.reactivated++
	t.orders += o.orders
	t.revenue += o.revenue
	t.firsts = append(t.firsts, o.first)
}

func (t *tally) result() GroupResult {
	g := GroupResult{Customers: t.customers, Reactivated: t.reactivated, Orders: t.orders, Revenue: t.revenue,
		RevenuePerCustomer: profile.AverageCents(t.revenue, t.customers)}
	if t.customers > 0 {
		g.Rate = float64(t.reactivated) / float64(t.customers)
	}
	return g
}

// compute turns the tallies into the report's figures.
func compute(c Campaign, tallies map[string]*tally, asOf time.Time) Report {
	w := WindowOf(*c.SentAt, c.WindowDays)
	r := Report{CampaignID: c.ID, Name: c.Name, Channel: c.Channel, Currency: c.Currency, Cost: c.Cost,
		Window:   ReportWindow{Start: w.Start, End: w.End, Days: w.Days, Complete: !asOf.Before(w.End), AsOf: asOf},
		Warnings: []string{}}
	t, h := tallies[Treatment], tallies[Holdout]
	r.Groups.Treatment, r.Groups.Holdout = t.result(), h.result()
	g := tallies[GlobalControl]
	if c.GlobalControlPercent > 0 {
		res := g.result()
		r.Groups.GlobalControl = &res
	}
	for _, name := range []string{Treatment, Holdout, GlobalControl} {
		if name == GlobalControl && r.Groups.GlobalControl == nil {
			continue
		}
		x := tallies[name]
		switch {
		case x.customers == 0:
			r.Warnings = append(r.Warnings, fmt.Sprintf("group %s is empty: nothing to compare", name))
		case x.reactivated < MinCell || x.customers-x.reactivated < MinCell:
			r.Warnings = append(r.Warnings, fmt.Sprintf(
				"group %s has %d reactivated and %d not reactivated customers: fewer than %d in one of them, too few to conclude",
				name, x.reactivated, x.customers-x.reactivated, MinCell))
		}
	}
	if !r.Window.Complete {
		r.Warnings = append(r.Warnings, "the window is still open: figures will change until "+w.End.Format(time.RFC3339))
	}
	if t.customers > 0 && h.customers > 0 {
		lift := liftOf(t.reactivated, t.customers, h.reactivated, h.customers)
		r.Lift = &lift
		nt := float64(t.customers)
		rpcT := float64(t.revenue) / nt
		rpcH := float64(h.revenue) / float64(h.customers)
		r.Incr = &Incremental{Customers: lift.Absolute * nt, Revenue: profile.Cents(math.Round((rpcT - rpcH) * nt))}
		if c.Cost != nil && *c.Cost > 0 {
			roi := float64(r.Incr.Revenue-*c.Cost) / float64(*c.Cost)
			r.ROI = &roi
		}
	}
	r.Daily = daily(w, asOf, tallies, r.Groups.GlobalControl != nil)
	return r
}

// liftOf computes the lift of treatment (rt of nt) over holdout (rh of nh).
func liftOf(rt, nt, rh, nh int64) Lift {
	pt, ph := float64(rt)/float64(nt), float64(rh)/float64(nh)
	l := Lift{Absolute: pt - ph}
	if ph > 0 {
		rel := l.Absolute / ph
		l.Relative = &rel
	}
	se := math.Sqrt(pt*(1-pt)/float64(nt) + ph*(1-ph)/float64(nh))
	l.CI95 = [2]float64{l.Absolute - z95*se, l.Absolute + z95*se}
	pooled := float64(rt+rh) / float64(nt+nh)
	se0 := math.Sqrt(pooled * (1 - pooled) * (1/float64(nt) + 1/float64(nh)))
	if se0 > 0 {
		z := l.Absolute / se0
		p := math.Erfc(math.Abs(z) / math.Sqrt2)
		l.PValue = &p
	}
	return l
}

// daily returns the cumulative rate of each group at the end of every day
// of the window that has begun by asOf.
func daily(w Window, asOf time.Time, tallies map[string]*tally, withGlobal bool) []DailyPoint {
	for _, t := range tallies {
		sort.Slice(t.firsts, func(i, j int) bool { return t.firsts[i].Before(t.firsts[j]) })
	}
	rate := func(t *tally, end time.Time) float64 {
		if t.customers == 0 {
			return 0
		}
		n := sort.Search(len(t.firsts), func(i int) bool { return !t.firsts[i].Before(end) })
		return float64(n) / float64(t.customers)
	}
	out := []DailyPoint{}
	for day := 1; day <= w.Days; day++ {
		start := w.Start.Add(time.Duration(day-1) * 24 * time.Hour)
		if !start.Before(asOf) {
			break
		}
		end := w.Start.Add(time.Duration(day) * 24 * time.Hour)
		cut := end
		if asOf.Before(end) {
			cut = asOf
		}
		p := DailyPoint{Day: day, End: cut, Treatment: rate(tallies[Treatment], cut), Holdout: rate(tallies[Holdout], cut)}
		if withGlobal {
			g := rate(tallies[GlobalControl], cut)
			p.GlobalControl = &g
		}
		out = append(out, p)
	}
	return out
}

// ratio is num/den, nil when den is 0.
func ratio(num, den int64) *float64 {
	if den == 0 {
		return nil
	}
	v := float64(num) / float64(den)
	return &v
}
