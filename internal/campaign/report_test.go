package campaign_test

import (
	"context"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/campaign"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/source"
)

// invoice is one row of the source's invoices as the test wrote it.
type invoice struct {
	customer string
	at       time.Time
	cents    int64
}

// groupFigures is what the test expects of one group.
type groupFigures struct {
	customers, reactivated, orders, revenue int64
	firsts                                  []time.Time
}

// expectedFigures computes each group's figures from the invoices the
// test holds, apart from the package: a customer of the group with an
// invoice dated in [start, end) is reactivated; orders and revenue count
// those invoices. Invoices of customers outside the audience count
// nowhere.
func expectedFigures(members map[string]string, invoices map[string]invoice, start, end time.Time) map[string]*groupFigures {
	out := map[string]*groupFigures{campaign.Treatment: {}, campaign.Holdout: {}, campaign.GlobalControl: {}}
	for _, grp := range members {
		out[grp].customers++
	}
	first := map[string]time.Time{}
	for _, inv := range invoices {
		grp, ok := members[inv.customer]
		if !ok || inv.at.Before(start) || !inv.at.Before(end) {
			continue
		}
		g := out[grp]
		g.orders++
		g.revenue += inv.cents
		if f, seen := first[inv.customer]; !seen || inv.at.Before(f) {
			first[inv.customer] = inv.at
		}
	}
	for cust, at := range first {
		g := out[members[cust]]
		g.reactivated++
		g.firsts = append(g.firsts, at)
	}
	return out
}

// requireReport checks every group figure, the lift, its interval and
// p-value, and the last daily point against the test's computation.
func requireReport(t *testing.T, r campaign.Report, want map[string]*groupFigures) {
	t.Helper()
	for name, got := range map[string]campaign.GroupResult{campaign.Treatment: r.Groups.Treatment, campaign.Holdout: r.Groups.Holdout} {
		w := want[name]
		require.Equal(t, w.customers, got.Customers, name)
		require.Equal(t, w.reactivated, got.Reactivated, name)
		require.Equal(t, w.orders, got.Orders, name)
		require.Equal(t, profile.Cents(w.revenue), got.Revenue, name)
		require.InDelta(t, float64(w.reactivated)/float64(w.customers), got.Rate, 1e-12, name)
		require.Equal(t, profile.Cents(math.Round(float64(w.revenue)/float64(w.customers))), got.RevenuePerCustomer, name)
	}
	wt, wh := want[campaign.Treatment], want[campaign.Holdout]
	nt, nh := float64(wt.customers), float64(wh.customers)
	pt, ph := float64(wt.reactivated)/nt, float64(wh.reactivated)/nh
	abs := pt - ph
	se := math.Sqrt(pt*(1-pt)/nt + ph*(1-ph)/nh)
	pooled := float64(wt.reactivated+wh.reactivated) / (nt + nh)
	z := abs / math.Sqrt(pooled*(1-pooled)*(1/nt+1/nh))
	pValue := 2 * (1 - 0.5*(1+math.Erf(math.Abs(z)/math.Sqrt2)))
	require.NotNil(t, r.Lift)
	require.InDelta(t, abs, r.Lift.Absolute, 1e-12)
	require.InDelta(t, abs-1.96*se, r.Lift.CI95[0], 1e-12)
	require.InDelta(t, abs+1.96*se, r.Lift.CI95[1], 1e-12)
	require.NotNil(t, r.Lift.PValue)
	require.InDelta(t, pValue, *r.Lift.PValue, 1e-9)
	require.NotNil(t, r.Incr)
	require.Equal(t, profile.Cents(math.Round((float64(wt.revenue)/nt-float64(wh.revenue)/nh)*nt)), r.Incr.Revenue)

	// The daily series: the share of each group back by the end of day d.
	require.Len(t, r.Daily, 7)
	for _, p := range r.Daily {
		for name, got := range map[string]float64{campaign.Treatment: p.Treatment, campaign.Holdout: p.Holdout} {
			back := 0
			for _, f := range want[name].firsts {
				if f.Before(p.End) {
					back++
				}
			}
			require.InDelta(t, float64(back)/float64(want[name].customers), got, 1e-12, "%s on day %d", name, p.Day)
		}
	}
}

// frozenWeek freezes a campaign of 2000 COMP001 customers, 30% holdout,
// sent ten days ago with a 7-day window, over an empty source schema; it
// returns the audience and its treatment and holdout ids, sorted.
func frozenWeek(t *testing.T) (*testBundle, campaign.Campaign, map[string]string, []string, []string) {
	t.Helper()
	b := setup(t, 2000)
	ctx := context.Background()
	require.NoError(t, source.CreateSchema(ctx, b.deps.Source))
	sentAt := time.Now().UTC().Truncate(time.Second).Add(-10 * 24 * time.Hour)
	var f segment.Filter
	f.PinCompany("COMP001")
	c, job, err := b.svc.Create(ctx, campaign.New{Name: "win back", HoldoutPercent: ptr(30), WindowDays: ptr(7), SentAt: &sentAt}, f, "test")
	require.NoError(t, err)
	_, err = b.svc.Freeze(ctx, c.ID, job.CreatedAt)
	require.NoError(t, err)
	members, err := b.svc.Members(ctx, c.ID)
	require.NoError(t, err)
	var T, H []string
	for cust, grp := range members {
		switch grp {
		case campaign.Treatment:
			T = append(T, cust)
		case campaign.Holdout:
			H = append(H, cust)
		}
	}
	sort.Strings(T)
	sort.Strings(H)
	c, err = b.svc.Get(ctx, jobs.Tenant{Admin: true}, c.ID)
	require.NoError(t, err)
	return b, c, members, T, H
}

// TestReportFollowsInvoicesVoidedOrMovedInTheWindow: the report reads the
// source's invoices as they are when it is asked. An invoice voided
// (deleted) after it was counted no longer counts; an invoice moved to
// another customer counts for the new owner's group only, and for no
// group when the new owner is outside the audience (another company's
// customer, or no customer at all).
func TestReportFollowsInvoicesVoidedOrMovedInTheWindow(t *testing.T) {
	b, c, members, T, H := frozenWeek(t)
	ctx := context.Background()
	sentAt := *c.SentAt
	end := sentAt.Add(7 * 24 * time.Hour)
	require.Len(t, members, 2000)
	require.Contains(t, members, "C000001")
	require.NotContains(t, members, "D000001", "another company's customer")

	invoices := map[string]invoice{
		"A": {T[0], sentAt.Add(time.Hour), 100_00},             // T0's only invoice: voided
		"B": {T[1], sentAt.Add(2 * time.Hour), 200_00},         // stays
		"C": {T[1], sentAt.Add(3 * 24 * time.Hour), 50_50},     // T1's second: voided
		"D": {T[2], sentAt.Add(24 * time.Hour), 300_00},        // moved to H0 (holdout)
		"E": {T[3], sentAt.Add(2 * 24 * time.Hour), 400_00},    // moved to D000001 (COMP002)
		"F": {H[1], sentAt.Add(4 * 24 * time.Hour), 75_25},     // moved to T4, who has G
		"G": {T[4], sentAt.Add(5 * time.Hour), 10_00},          // stays
		"I": {T[5], sentAt.Add(time.Hour), 60_00},              // moved to a customer id nobody has
		"J": {T[6], sentAt.Add(6 * 24 * time.Hour), 99_99},     // stays
		"K": {H[2], sentAt.Add(24 * time.Hour), 12_34},         // stays
		"L": {T[7], end.Add(time.Second), 1_00},                // after the window
		"M": {H[3], sentAt.Add(-time.Second), 5_00},            // before it
		"N": {"D000002", sentAt.Add(time.Hour), 1000_00},       // another company's customer
		"O": {T[8], sentAt.Add(3 * 24 * time.Hour), 20_00},     // moved to T9 (treatment)
		"P": {H[4], sentAt.Add(2 * 24 * time.Hour), 33_00},     // voided
		"Q": {H[5], sentAt.Add(6*24*time.Hour + time.Hour), 8}, // stays
	}
	for id, inv := range invoices {
		_, err := b.deps.Source.Exec(ctx, `INSERT INTO invoices (invoice_id, customer_id, invoice_date, total_amount)
			VALUES ($1, $2, $3, $4::numeric / 100)`, id, inv.customer, inv.at, inv.cents)
		require.NoError(t, err)
	}
	admin := jobs.Tenant{Admin: true}
	before, err := b.svc.Report(ctx, admin, c.ID)
	require.NoError(t, err)
	want := expectedFigures(members, invoices, sentAt, end)
	// By hand: treatment T0..T6 and T8 back with A..J less F, and O; holdout
	// H1, H2, H4, H5 with F, K, P, Q.
	require.Equal(t, int64(8), want[campaign.Treatment].reactivated)
	require.Equal(t, int64(9), want[campaign.Treatment].orders)
	require.Equal(t, int64(100_00+200_00+50_50+300_00+400_00+10_00+60_00+99_99+20_00), want[campaign.Treatment].revenue)
	require.Equal(t, int64(4), want[campaign.Holdout].reactivated)
	require.Equal(t, int64(75_25+12_34+33_00+8), want[campaign.Holdout].revenue)
	requireReport(t, before, want)

	// Void A, C and P; move D to the holdout, F and O within the treatment
	// or into it, E to another company's customer and I to nobody.
	for _, id := range []string{"A", "C", "P"} {
		_, err := b.deps.Source.Exec(ctx, "DELETE FROM invoices WHERE invoice_id = $1", id)
		require.NoError(t, err)
		delete(invoices, id)
	}
	moves := map[string]string{"D": H[0], "E": "D000001", "F": T[4], "I": "NOBODY-1", "O": T[9]}
	for id, to := range moves {
		_, err := b.deps.Source.Exec(ctx, "UPDATE invoices SET customer_id = $2, updated_at = now() WHERE invoice_id = $1", id, to)
		require.NoError(t, err)
		inv := invoices[id]
		inv.customer = to
		invoices[id] = inv
	}
	after, err := b.svc.Report(ctx, admin, c.ID)
	require.NoError(t, err)
	want = expectedFigures(members, invoices, sentAt, end)
	// By hand: treatment T1 (B), T4 (G and F), T6 (J), T9 (O); holdout H0
	// (D), H2 (K), H5 (Q).
	require.Equal(t, int64(4), want[campaign.Treatment].reactivated)
	require.Equal(t, int64(5), want[campaign.Treatment].orders)
	require.Equal(t, int64(200_00+10_00+75_25+99_99+20_00), want[campaign.Treatment].revenue)
	require.Equal(t, int64(3), want[campaign.Holdout].reactivated)
	require.Equal(t, int64(3), want[campaign.Holdout].orders)
	require.Equal(t, int64(300_00+12_34+8), want[campaign.Holdout].revenue)
	requireReport(t, after, want)
	require.Equal(t, before.Groups.Treatment.Customers, after.Groups.Treatment.Customers, "the audience stays frozen")
}

// TestReportCountsAnInvoiceCommittedLate: an invoice dated inside the
// window whose transaction began before the report's first run and
// commits after it (its created_at and updated_at older than that run) is
// not in the first report, which an open transaction does not block, and
// is in the next one: the report reads the source as it is when asked,
// with no stored result in between. An invoice dated one second after the
// window in the same transaction counts nowhere.
func TestReportCountsAnInvoiceCommittedLate(t *testing.T) {
	b, c, members, T, H := frozenWeek(t)
	ctx := context.Background()
	sentAt := *c.SentAt
	end := sentAt.Add(7 * 24 * time.Hour)

	insert := func(q interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	}, invoices map[string]invoice) {
		for id, inv := range invoices {
			_, err := q.Exec(ctx, `INSERT INTO invoices (invoice_id, customer_id, invoice_date, total_amount)
				VALUES ($1, $2, $3, $4::numeric / 100)`, id, inv.customer, inv.at, inv.cents)
			require.NoError(t, err)
		}
	}
	invoices := map[string]invoice{
		"A": {T[0], sentAt.Add(time.Hour), 100_00},
		"K": {H[0], sentAt.Add(24 * time.Hour), 12_34},
		"M": {H[1], sentAt.Add(3 * 24 * time.Hour), 40_00},
	}
	insert(b.deps.Source, invoices)
	late := map[string]invoice{
		"LATE":  {T[1], sentAt.Add(2 * 24 * time.Hour), 250_75},
		"LATE2": {T[0], sentAt.Add(5 * 24 * time.Hour), 9_99},
		"AFTER": {T[2], end.Add(time.Second), 500_00},
	}
	tx, err := b.deps.Source.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	insert(tx, late)

	admin := jobs.Tenant{Admin: true}
	first, err := b.svc.Report(ctx, admin, c.ID)
	require.NoError(t, err)
	want := expectedFigures(members, invoices, sentAt, end)
	require.Equal(t, int64(1), want[campaign.Treatment].reactivated)
	require.Equal(t, int64(100_00), want[campaign.Treatment].revenue)
	requireReport(t, first, want)

	require.NoError(t, tx.Commit(ctx))
	var stamped int64
	require.NoError(t, b.deps.Source.QueryRow(ctx, `SELECT count(*) FROM invoices
		WHERE invoice_id LIKE 'LATE%' AND created_at < $1 AND updated_at < $1`, first.Window.AsOf).Scan(&stamped))
	require.Equal(t, int64(2), stamped, "the late invoices carry their transaction's older time")
	second, err := b.svc.Report(ctx, admin, c.ID)
	require.NoError(t, err)
	for id, inv := range late {
		invoices[id] = inv
	}
	want = expectedFigures(members, invoices, sentAt, end)
	// By hand: treatment T0 (A, LATE2) and T1 (LATE); holdout H0 and H1.
	require.Equal(t, int64(2), want[campaign.Treatment].reactivated)
	require.Equal(t, int64(3), want[campaign.Treatment].orders)
	require.Equal(t, int64(100_00+250_75+9_99), want[campaign.Treatment].revenue)
	require.Equal(t, int64(2), want[campaign.Holdout].reactivated)
	require.Equal(t, int64(12_34+40_00), want[campaign.Holdout].revenue)
	requireReport(t, second, want)
}
