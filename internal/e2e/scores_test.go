package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/scores"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// clearScores drops the score fields, which the profile comparisons of the
// other tests leave to TestScores.
func clearScores(p *profile.Profile) {
	p.RecencyScore, p.FrequencyScore, p.MonetaryScore = nil, nil, nil
	p.RFMGroup, p.PAlive, p.ExpectedPurchases90d = "", nil, nil
}

// scoresSQL computes every purchasing customer's R, F and M scores and RF
// group from the definitions: rank(v) = 1 + the number of the company's
// customers with a lower value (SQL's rank() is exactly that: one plus
// the rows before the row's peers), score = 1 + floor(5 (rank - 1) / n),
// with the value -recencyDays (calendar days in the zone $2 from the last
// purchase's local date to the date of $1 there), distinct invoices and
// cents spent; plus x, t_x and T in seconds for the BG/NBD checks.
const scoresSQL = `
WITH p AS (
	SELECT c.company_id, c.customer_id, count(DISTINCT i.invoice_id) AS n,
	       sum((i.total_amount * 100)::bigint) AS cents,
	       ($1::timestamptz AT TIME ZONE $2)::date - max((i.invoice_date AT TIME ZONE $2)::date) AS days,
	       extract(epoch FROM max(i.invoice_date) - min(i.invoice_date))::float8 AS tx_seconds,
	       extract(epoch FROM $1::timestamptz - min(i.invoice_date))::float8 AS t_seconds
	FROM customers c JOIN invoices i ON i.customer_id = c.customer_id
	GROUP BY c.company_id, c.customer_id
), ranked AS (
	SELECT p.*, count(*) OVER (PARTITION BY company_id) AS total,
	       rank() OVER (PARTITION BY company_id ORDER BY -days) AS r_rank,
	       rank() OVER (PARTITION BY company_id ORDER BY n) AS f_rank,
	       rank() OVER (PARTITION BY company_id ORDER BY cents) AS m_rank
	FROM p
), scored AS (
	SELECT *, 1 + 5 * (r_rank - 1) / total AS r, 1 + 5 * (f_rank - 1) / total AS f, 1 + 5 * (m_rank - 1) / total AS m
	FROM ranked
)
SELECT company_id, customer_id, n, cents, days, tx_seconds, t_seconds, total, r, f, m,
	CASE
		WHEN r = 5 AND f >= 4 THEN 'champions'
		WHEN r IN (3, 4) AND f >= 4 THEN 'loyal'
		WHEN r >= 4 AND f IN (2, 3) THEN 'potential_loyalists'
		WHEN r = 5 AND f = 1 THEN 'new'
		WHEN r = 4 AND f = 1 THEN 'promising'
		WHEN r = 3 AND f = 3 THEN 'need_attention'
		WHEN r = 3 AND f <= 2 THEN 'about_to_sleep'
		WHEN r <= 2 AND f IN (3, 4) THEN 'at_risk'
		WHEN r <= 2 AND f = 5 THEN 'cant_lose'
		ELSE 'hibernating'
	END
FROM scored`

// thresholdSQL is, per company and score k in 2..5, the value of the
// customer at position ceil(n (k-1) / 5) in value order: the largest value
// still below score k (every value above it has at least that many lower).
const thresholdSQL = `
WITH p AS (
	SELECT c.company_id, count(DISTINCT i.invoice_id) AS n, sum((i.total_amount * 100)::bigint) AS cents,
	       ($1::timestamptz AT TIME ZONE $2)::date - max((i.invoice_date AT TIME ZONE $2)::date) AS days
	FROM customers c JOIN invoices i ON i.customer_id = c.customer_id
	GROUP BY c.company_id, c.customer_id
), pos AS (
	SELECT company_id, -days AS r, n AS f, cents AS m,
	       row_number() OVER (PARTITION BY company_id ORDER BY -days) AS r_pos,
	       row_number() OVER (PARTITION BY company_id ORDER BY n) AS f_pos,
	       row_number() OVER (PARTITION BY company_id ORDER BY cents) AS m_pos,
	       count(*) OVER (PARTITION BY company_id) AS total
	FROM p
), k AS (SELECT generate_series(2, 5) AS k)
SELECT company_id, k,
	max(r) FILTER (WHERE r_pos = ceil(total * (k - 1) / 5.0)),
	max(f) FILTER (WHERE f_pos = ceil(total * (k - 1) / 5.0)),
	max(m) FILTER (WHERE m_pos = ceil(total * (k - 1) / 5.0))
FROM pos, k GROUP BY company_id, k`

type wantScores struct {
	company                string
	purchases, cents, days int64
	customer               scores.Customer
	r, f, m                int
	group                  string
}

// TestScores: a full sync of 20k demo customers, on each engine, indexes
// scores equal to SQL computed from the definitions; the score filters and
// sorts return exactly the customers computed here; an incremental sync
// scores a changed customer with the generation's stored thresholds.
func TestScores(t *testing.T) {
	for _, engine := range []string{"elasticsearch", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			b := setup(t, demoCustomers, func(c *config.Config) {
				if engine == "postgres" {
					c.ElasticsearchURL = ""
				}
			})
			require.Equal(t, engine, b.deps.Engine.Name())
			b.syncWithWorker(t)
			checkScores(t, b)
		})
	}
}

func checkScores(t *testing.T, b *testBundle) {
	ctx := context.Background()
	gen, err := b.deps.Engine.Current(ctx)
	require.NoError(t, err)
	store := scores.NewStore(postgres.NewScores(b.deps.DB))
	set, err := store.Load(ctx, gen, b.cfg.Location)
	require.NoError(t, err)
	require.NotEmpty(t, set.Models)
	asOf := set.AsOf()
	var watermark time.Time
	require.NoError(t, b.deps.DB.QueryRow(ctx, "SELECT watermark FROM sync_runs WHERE generation = $1", gen).Scan(&watermark))
	require.True(t, asOf.Equal(watermark), "scores are as of the run's watermark")

	// Every customer's R, F, M and group.
	want := map[string]wantScores{}
	rows, err := b.deps.Source.Query(ctx, scoresSQL, asOf, b.cfg.BusinessTimezone)
	require.NoError(t, err)
	for rows.Next() {
		var w wantScores
		var id string
		var tx, tt float64
		var total int64
		require.NoError(t, rows.Scan(&w.company, &id, &w.purchases, &w.cents, &w.days, &tx, &tt, &total, &w.r, &w.f, &w.m, &w.group))
		w.customer = scores.Customer{X: int(w.purchases - 1), Tx: tx / 86400, T: tt / 86400}
		want[id] = w
	}
	require.NoError(t, rows.Err())
	docs := map[string]profile.Profile{}
	require.NoError(t, b.deps.Engine.Scan(ctx, search.Query{Size: 1000, Now: asOf, Location: b.cfg.Location}, func(ps []profile.Profile) error {
		for _, p := range ps {
			docs[p.CustomerID] = p
		}
		return nil
	}))
	require.Len(t, docs, demoCustomers)
	freqOne, fitted := 0, 0
	for id, p := range docs {
		w, ok := want[id]
		if !ok {
			require.Equal(t, scores.GroupProspects, p.RFMGroup, id)
			require.Nil(t, p.RecencyScore, id)
			require.Nil(t, p.PAlive, id)
			continue
		}
		require.NotNil(t, p.RecencyScore, id)
		require.Equal(t, []int{w.r, w.f, w.m}, []int{*p.RecencyScore, *p.FrequencyScore, *p.MonetaryScore}, id)
		require.Equal(t, w.group, p.RFMGroup, id)
		if w.purchases == 1 {
			freqOne++
			require.Equal(t, 1, *p.FrequencyScore, "every one-purchase customer shares F = 1")
		}
		m := set.Models[p.CompanyID]
		if m.Params == nil {
			require.Nil(t, p.PAlive, id)
			continue
		}
		fitted++
		require.NotNil(t, p.PAlive, id)
		require.InDelta(t, pAliveClosedForm(*m.Params, w.customer), *p.PAlive, 1e-9, id)
		require.NotNil(t, p.ExpectedPurchases90d, id)
		require.GreaterOrEqual(t, *p.ExpectedPurchases90d, 0.0, id)
	}
	require.Greater(t, freqOne, 1000, "the demo has many one-purchase customers, all sharing F = 1")
	require.Greater(t, fitted, len(want)/2, "most companies' models fit")

	// Thresholds equal the SQL positions, and a value reaches score k
	// exactly when it is at least the threshold.
	rows, err = b.deps.Source.Query(ctx, thresholdSQL, asOf, b.cfg.BusinessTimezone)
	require.NoError(t, err)
	for rows.Next() {
		var company string
		var k int
		var r, f, m int64
		require.NoError(t, rows.Scan(&company, &k, &r, &f, &m))
		model := set.Models[company]
		require.Equal(t, []int64{r, f, m}, []int64{model.Recency[k-2], model.Frequency[k-2], model.Monetary[k-2]}, "company %s score %d", company, k)
		rep := model.Report(gen)
		require.Equal(t, -r-1, rep.Thresholds.RecencyDaysAtMost[k-2])
		require.Equal(t, f+1, rep.Thresholds.TotalPurchasesAtLeast[k-2])
	}
	require.NoError(t, rows.Err())
	groups := map[string]map[string]int64{}
	for id, p := range docs {
		if groups[p.CompanyID] == nil {
			groups[p.CompanyID] = map[string]int64{}
		}
		groups[p.CompanyID][p.RFMGroup]++
		if w, ok := want[id]; ok {
			model := set.Models[w.company]
			for k := 2; k <= 5; k++ {
				require.Equal(t, w.r >= k, -w.days >= model.Recency.MinValue(k))
				require.Equal(t, w.f >= k, w.purchases >= model.Frequency.MinValue(k))
				require.Equal(t, w.m >= k, w.cents >= model.Monetary.MinValue(k))
			}
		}
	}
	for company, m := range set.Models {
		for _, g := range scores.Groups {
			require.Equal(t, groups[company][g], m.Groups[g], "company %s group %s", company, g)
		}
	}
	checkScoresAPI(t, b, gen, set, groups)

	// Each filter returns exactly the customers computed here.
	alive := func(id string) (float64, bool) {
		w, ok := want[id]
		if !ok || set.Models[w.company].Params == nil {
			return 0, false
		}
		return pAliveClosedForm(*set.Models[w.company].Params, w.customer), true
	}
	var alives []float64
	for id := range docs {
		if a, ok := alive(id); ok {
			alives = append(alives, a)
		}
	}
	sort.Float64s(alives)
	mid, low := gapAt(alives, len(alives)/2), gapAt(alives, len(alives)/4)
	company := "COMP001"
	for _, c := range []struct {
		filter string
		match  func(id string, w wantScores, ok bool) bool
	}{
		{`{"rfmGroup":"champions"}`, func(_ string, w wantScores, ok bool) bool { return ok && w.group == "champions" }},
		{`{"rfmGroup":["at_risk","cant_lose","prospects"]}`, func(_ string, w wantScores, ok bool) bool {
			return !ok || w.group == "at_risk" || w.group == "cant_lose"
		}},
		{`{"minRecencyScore":4}`, func(_ string, w wantScores, ok bool) bool { return ok && w.r >= 4 }},
		{`{"maxRecencyScore":2}`, func(_ string, w wantScores, ok bool) bool { return ok && w.r <= 2 }},
		{`{"minRecencyScore":2,"maxRecencyScore":3}`, func(_ string, w wantScores, ok bool) bool { return ok && w.r >= 2 && w.r <= 3 }},
		{`{"minFrequencyScore":3}`, func(_ string, w wantScores, ok bool) bool { return ok && w.f >= 3 }},
		{`{"minMonetaryScore":5}`, func(_ string, w wantScores, ok bool) bool { return ok && w.m >= 5 }},
		{fmt.Sprintf(`{"minPAlive":%v}`, mid), func(id string, _ wantScores, _ bool) bool { a, ok := alive(id); return ok && a >= mid }},
		{fmt.Sprintf(`{"maxPAlive":%v}`, low), func(id string, _ wantScores, _ bool) bool { a, ok := alive(id); return ok && a <= low }},
		{fmt.Sprintf(`{"minPAlive":%v,"maxPAlive":%v}`, low, mid), func(id string, _ wantScores, _ bool) bool {
			a, ok := alive(id)
			return ok && a >= low && a <= mid
		}},
	} {
		var filter map[string]any
		require.NoError(t, json.Unmarshal([]byte(c.filter), &filter))
		filter["companyId"] = company
		body, _ := json.Marshal(filter)
		var wantIDs []string
		for id, p := range docs {
			w, ok := want[id]
			if p.CompanyID == company && c.match(id, w, ok) {
				wantIDs = append(wantIDs, id)
			}
		}
		slices.Sort(wantIDs)
		got, total := b.engineProfiles(t, string(body), asOf)
		gotIDs := make([]string, 0, len(got))
		for id := range got {
			gotIDs = append(gotIDs, id)
		}
		slices.Sort(gotIDs)
		require.NotEmpty(t, wantIDs, c.filter)
		require.Equal(t, int64(len(wantIDs)), total, c.filter)
		require.Equal(t, wantIDs, gotIDs, c.filter)
	}

	// Sorts: by the value, customers without it last, ties by id.
	for _, s := range []string{"pAlive:desc", "expectedPurchases90d:asc"} {
		srt, err := segment.ParseSort(s)
		require.NoError(t, err)
		var order []profile.Profile
		require.NoError(t, b.deps.Engine.Scan(ctx, search.Query{Filter: segment.Filter{CompanyID: &company}, Sort: srt, Size: 700, Now: asOf, Location: b.cfg.Location},
			func(ps []profile.Profile) error { order = append(order, ps...); return nil }))
		value := func(p profile.Profile) *float64 {
			if srt.Field == segment.SortPAlive {
				return p.PAlive
			}
			return p.ExpectedPurchases90d
		}
		sorted := slices.IsSortedFunc(order, func(x, y profile.Profile) int {
			vx, vy := value(x), value(y)
			switch {
			case vx == nil && vy == nil:
			case vx == nil:
				return 1
			case vy == nil:
				return -1
			case *vx != *vy:
				if (*vx < *vy) != srt.Desc {
					return -1
				}
				return 1
			}
			if x.CustomerID < y.CustomerID {
				return -1
			}
			return 1
		})
		require.True(t, sorted, s)
		require.Equal(t, int(groupTotal(groups[company])), len(order), "every customer of the company, with or without the value")
	}

	checkIncrementalScores(t, b, set, docs, want)
}

// checkIncrementalScores adds a purchase today to a one-purchase customer
// and runs an incremental sync: the customer is rescored with the
// generation's stored thresholds and parameters (F from 1 to the score of
// 2 purchases, R of 0 days), the stored models do not change, and an
// unchanged customer keeps its document.
func checkIncrementalScores(t *testing.T, b *testBundle, set *scores.Set, docs map[string]profile.Profile, want map[string]wantScores) {
	ctx := context.Background()
	var victim, bystander string
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range want {
			if !yield(id) {
				return
			}
		}
	}) {
		w := want[id]
		if victim == "" && w.purchases == 1 && w.r <= 2 && set.Models[w.company].Params != nil {
			victim = id
		} else if bystander == "" && w.purchases > 2 {
			bystander = id
		}
	}
	require.NotEmpty(t, victim)
	_, err := b.deps.Source.Exec(ctx, `INSERT INTO invoices (invoice_id, customer_id, invoice_date, total_amount, created_at, updated_at)
		VALUES ('scores-test-1', $1, now(), 12.34, now(), now())`, victim)
	require.NoError(t, err)
	j := waitJob(t, b.deps.Jobs, b.startSync(t, "incremental"), 2*time.Minute)
	require.Equal(t, jobs.Succeeded, j.State, j.Error)

	gen, err := b.deps.Engine.Current(ctx)
	require.NoError(t, err)
	require.Equal(t, set.Generation, gen)
	after, err := scores.NewStore(postgres.NewScores(b.deps.DB)).Load(ctx, gen, b.cfg.Location)
	require.NoError(t, err)
	require.Equal(t, set.Models, after.Models, "an incremental sync keeps the generation's thresholds and parameters")

	got := b.customer(t, victim)
	m := set.Models[want[victim].company]
	require.Equal(t, m.Frequency.Score(2), *got.FrequencyScore)
	require.Equal(t, m.Recency.Score(0), *got.RecencyScore)
	require.Equal(t, m.Monetary.Score(want[victim].cents+1234), *got.MonetaryScore)
	require.Equal(t, scores.Group(*got.RecencyScore, *got.FrequencyScore), got.RFMGroup)
	require.NotNil(t, got.PAlive)
	// One repeat purchase just now: t_x = T up to the seconds between the
	// insert and the sync, so P(alive) = 1 / (1 + a/b) with the stored a, b.
	require.InDelta(t, 1/(1+m.Params.A/m.Params.B), *got.PAlive, 1e-3)
	require.Equal(t, docs[bystander], b.customer(t, bystander))
}

// customer reads one customer's document from the engine.
func (b *testBundle) customer(t *testing.T, id string) profile.Profile {
	t.Helper()
	var out []profile.Profile
	require.NoError(t, b.deps.Engine.Scan(context.Background(), search.Query{Size: 1000, Now: time.Now(), Location: b.cfg.Location},
		func(ps []profile.Profile) error {
			for _, p := range ps {
				if p.CustomerID == id {
					out = append(out, p)
				}
			}
			return nil
		}))
	require.Len(t, out, 1)
	return out[0]
}

func groupTotal(g map[string]int64) int64 {
	var n int64
	for _, v := range g {
		n += v
	}
	return n
}

// pAliveClosedForm is P(alive | x, t_x, T) of Fader, Hardie and Lee
// (2005), written here from the paper.
func pAliveClosedForm(p scores.Params, c scores.Customer) float64 {
	if c.X == 0 {
		return 1
	}
	x := float64(c.X)
	return 1 / (1 + p.A/(p.B+x-1)*math.Pow((p.Alpha+c.T)/(p.Alpha+c.Tx), p.R+x))
}

// gapAt returns a bound between sorted values near position i that no
// value is within 1e-6 of, so float noise cannot move a customer across it.
func gapAt(sorted []float64, i int) float64 {
	for ; i+1 < len(sorted); i++ {
		if sorted[i+1]-sorted[i] > 2e-6 {
			return (sorted[i] + sorted[i+1]) / 2
		}
	}
	panic("no gap in P(alive) values")
}
