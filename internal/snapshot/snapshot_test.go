package snapshot_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/jobs"
	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/search/elastic"
	"github.com/reactivation/reactivation/internal/search/pgsearch"
	"github.com/reactivation/reactivation/internal/segment"
	"github.com/reactivation/reactivation/internal/snapshot"
	"github.com/reactivation/reactivation/internal/testenv"
)

const gen = "20240101t000000_abcdef"

var (
	costaRica = mustLocation("America/Costa_Rica")
	testNow   = time.Date(2024, 6, 15, 10, 0, 0, 0, costaRica)
)

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

type testBundle struct {
	db      *pgxpool.Pool
	store   *snapshot.Store
	engines map[string]search.Engine
}

// scanOnly is an engine without its snapshot.SQLSource, so the store
// scans it as it scans Elasticsearch.
type scanOnly struct{ search.Engine }

// setup migrates a fresh service schema and opens the engines, each
// serving an empty generation: Elasticsearch, PostgreSQL (whose snapshots
// the database copies itself) and PostgreSQL scanned.
func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	db := testenv.Postgres(t)
	_, err := postgres.Migrate(ctx, db)
	require.NoError(t, err)
	client, alias := testenv.Elasticsearch(t)
	b := &testBundle{db: db, store: snapshot.NewStore(postgres.NewSnapshots(db)), engines: map[string]search.Engine{
		"elasticsearch":    elastic.New(client, alias),
		"postgres":         pgsearch.New(db, ""),
		"postgres-scanned": scanOnly{pgsearch.New(db, "scanned_profiles")},
	}}
	for _, e := range b.engines {
		require.NoError(t, e.CreateGeneration(ctx, gen))
		require.NoError(t, e.Promote(ctx, gen))
	}
	return b
}

// job creates a segment-search job row for a snapshot to belong to.
func (b *testBundle) job(t *testing.T) string {
	t.Helper()
	j, err := jobs.NewStore(postgres.NewJobs(b.db)).Create(context.Background(), jobs.New{CompanyID: "C1", Type: jobs.TypeSegmentSearch})
	require.NoError(t, err)
	return j.ID
}

// write upserts profiles into the serving generation and makes them
// visible to searches.
func write(t *testing.T, e search.Engine, ps []profile.Profile) {
	t.Helper()
	require.NoError(t, upsert(e, ps))
}

func upsert(e search.Engine, ps []profile.Profile) error {
	ctx := context.Background()
	if err := e.Upsert(ctx, ps); err != nil {
		return err
	}
	_, err := e.Count(ctx, gen) // refreshes
	return err
}

// remove deletes customers of company C1 through the engine and makes
// that visible.
func remove(e search.Engine, ids ...string) error {
	ctx := context.Background()
	var tombs []search.Tombstone
	for _, id := range ids {
		tombs = append(tombs, search.Tombstone{CustomerID: id, CompanyID: "C1", Version: 1})
	}
	if err := e.Delete(ctx, tombs); err != nil {
		return err
	}
	_, err := e.Count(ctx, gen) // refreshes
	return err
}

// readAll pages through a snapshot size rows at a time.
func (b *testBundle) readAll(t *testing.T, jobID string, size int) []profile.Profile {
	t.Helper()
	var out []profile.Profile
	cursor := ""
	for {
		page, err := b.store.Read(context.Background(), jobID, cursor, size)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Customers), size)
		for _, doc := range page.Customers {
			var p profile.Profile
			require.NoError(t, json.Unmarshal(doc, &p))
			out = append(out, p)
		}
		if page.NextCursor == "" {
			require.Equal(t, page.Total, int64(len(out)))
			return out
		}
		cursor = page.NextCursor
	}
}

func ids(ps []profile.Profile) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.CustomerID
	}
	return out
}

func customers(company string, from, n int) []profile.Profile {
	var out []profile.Profile
	for i := from; i < from+n; i++ {
		last := testNow.Add(-time.Duration(i) * 24 * time.Hour)
		p := profile.Profile{
			CustomerID: fmt.Sprintf("%s-%03d", company, i), CompanyID: company, Name: fmt.Sprintf("Customer %03d", i),
			Gender: profile.GenderFemale, City: "San José", LastPurchaseAt: &last, FirstPurchaseAt: &last,
			TotalPurchases: int64(1 + i%4), TotalSpent: profile.Cents(1000 + 137*i%5000),
		}
		p.AverageTicket = profile.AverageCents(p.TotalSpent, p.TotalPurchases)
		out = append(out, p)
	}
	return out
}

func companyQuery(company string, sort segment.Sort, size int) search.Query {
	return search.Query{Filter: segment.Filter{CompanyID: &company}, Sort: sort, Size: size, Now: testNow, Location: costaRica}
}

// TestConsistentWhileIndexChanges: while a snapshot is written, page by
// page, every matching customer is re-indexed with a sort value that
// moves it across the pages, new matching customers arrive and others are
// removed. The snapshot holds exactly the customers that matched when it
// began, with their values then, in the order of those values: none
// doubled, none missing. A search_after walk of the live index fails this.
func TestConsistentWhileIndexChanges(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	start := append(customers("C1", 0, 60), customers("C2", 0, 10)...)
	spentAsc := segment.Sort{Field: segment.SortTotalSpent}
	for name, e := range b.engines {
		t.Run(name, func(t *testing.T) {
			write(t, e, start)
			var want []profile.Profile
			for _, p := range start {
				if p.CompanyID == "C1" {
					want = append(want, p)
				}
			}
			slices.SortStableFunc(want, func(x, y profile.Profile) int {
				if x.TotalSpent != y.TotalSpent {
					return int(x.TotalSpent - y.TotalSpent)
				}
				return strings.Compare(x.CustomerID, y.CustomerID)
			})

			jobID := b.job(t)
			var pages int
			var changeErr error
			// progress runs on the COPY's goroutine: errors are kept for
			// the test's.
			sum, err := b.store.Materialize(ctx, e, jobID, companyQuery("C1", spentAsc, 7), time.Hour, func(done int64) {
				pages++
				if pages != 1 {
					return
				}
				// The first page is stored: reverse every spend, add
				// customers, remove some.
				moved := customers("C1", 0, 60)
				for i := range moved {
					moved[i].TotalSpent = 1_000_000 - moved[i].TotalSpent
				}
				changeErr = errors.Join(upsert(e, append(moved, customers("C1", 100, 5)...)),
					remove(e, "C1-010", "C1-040", "C1-059"))
			})
			require.NoError(t, err)
			require.NoError(t, changeErr)
			if _, copied := e.(snapshot.SQLSource); copied {
				// One statement copies every row, as of one snapshot
				// of the database (what PostgreSQL guarantees a
				// statement): progress comes once, when it is stored.
				require.Equal(t, 1, pages)
			} else {
				require.Greater(t, pages, 5, "the snapshot spans many pages")
			}
			require.Equal(t, int64(len(want)), sum.Count)

			got := b.readAll(t, jobID, 9)
			require.Equal(t, ids(want), ids(got), "the customers of the start, in the order of their values then")
			for i := range got {
				require.Equal(t, want[i].TotalSpent, got[i].TotalSpent, got[i].CustomerID)
			}

			// The live index did change: a new snapshot sees it.
			again := b.job(t)
			sum, err = b.store.Materialize(ctx, e, again, companyQuery("C1", spentAsc, 7), time.Hour, nil)
			require.NoError(t, err)
			require.Equal(t, int64(60+5-3), sum.Count)
			now := ids(b.readAll(t, again, 50))
			require.NotContains(t, now, "C1-010")
			require.Contains(t, now, "C1-100")
			require.Equal(t, "C1-100", now[0], "the new customers spend least now")
		})
	}
}

// TestRemovedCustomerNeverInLaterSnapshot: a customer removed from the
// index is in no snapshot made afterwards.
func TestRemovedCustomerNeverInLaterSnapshot(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	for name, e := range b.engines {
		t.Run(name, func(t *testing.T) {
			write(t, e, customers("C1", 0, 30))
			require.NoError(t, remove(e, "C1-007"))
			jobID := b.job(t)
			sum, err := b.store.Materialize(ctx, e, jobID, companyQuery("C1", segment.DefaultSort, 4), time.Hour, nil)
			require.NoError(t, err)
			require.Equal(t, int64(29), sum.Count)
			require.NotContains(t, ids(b.readAll(t, jobID, 5)), "C1-007")
		})
	}
}

// TestOrderIsTheEngines: for every sort, a snapshot pages in exactly the
// order of the engine's own ordered scan, with ties, accents, customers
// who never bought and ids that share prefixes.
func TestOrderIsTheEngines(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	ps := customers("C1", 0, 40)
	names := []string{"Ana Gómez", "ana gomez", "Álvaro", "alvaro z", "Zoë", "Ñandú", "  María   José ", "maria", "", "Pedro"}
	for i := range ps {
		ps[i].Name = names[i%len(names)]
		ps[i].TotalSpent = profile.Cents(100 * (i % 7))
		ps[i].TotalPurchases = int64(i % 3)
		ps[i].AverageTicket = profile.AverageCents(ps[i].TotalSpent, max(ps[i].TotalPurchases, 1))
		if i%5 == 0 {
			ps[i].LastPurchaseAt, ps[i].FirstPurchaseAt, ps[i].TotalPurchases = nil, nil, 0
		}
		if i%9 == 0 {
			ps[i].CustomerID = fmt.Sprintf("C1-%02d", i/9) // a prefix of other ids
		}
		if i%4 != 0 { // a quarter without scores, the rest with ties
			pAlive, expected := float64(i%6)/5, float64(i%4)*1.5
			ps[i].PAlive, ps[i].ExpectedPurchases90d = &pAlive, &expected
		}
	}
	for name, e := range b.engines {
		write(t, e, ps)
		for _, spec := range []string{"lastPurchaseAt:desc", "lastPurchaseAt:asc", "totalSpent:desc", "totalSpent:asc",
			"totalPurchases:desc", "totalPurchases:asc", "averageTicket:desc", "averageTicket:asc", "name:asc", "name:desc",
			"pAlive:desc", "pAlive:asc", "expectedPurchases90d:desc", "expectedPurchases90d:asc"} {
			s, err := segment.ParseSort(spec)
			require.NoError(t, err)
			var want []string
			require.NoError(t, e.Scan(ctx, companyQuery("C1", s, 6), func(page []profile.Profile) error {
				want = append(want, ids(page)...)
				return nil
			}))
			jobID := b.job(t)
			_, err = b.store.Materialize(ctx, e, jobID, companyQuery("C1", s, 6), time.Hour, nil)
			require.NoError(t, err)
			require.Equal(t, want, ids(b.readAll(t, jobID, 7)), "%s %s", name, spec)
		}
	}
}

// TestBadCursor: a cursor the store did not make is a 400 on "cursor".
func TestBadCursor(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	e := b.engines["postgres"]
	write(t, e, customers("C1", 0, 3))
	jobID := b.job(t)
	_, err := b.store.Materialize(ctx, e, jobID, companyQuery("C1", segment.DefaultSort, 2), time.Hour, nil)
	require.NoError(t, err)
	for _, cursor := range []string{"not base64!", base64.RawURLEncoding.EncodeToString([]byte("12x"))} {
		_, err := b.store.Read(ctx, jobID, cursor, 2)
		var ve *segment.ValidationError
		require.ErrorAs(t, err, &ve, cursor)
		require.Equal(t, "cursor", ve.Errors[0].Field)
	}
}

// TestSummaryAndPagesWhereverTheRowsAreCopied: the PostgreSQL engine's
// snapshots are copied and counted by the database; for the same
// customers (city spellings, genders, groups, purchases on both sides of
// every recency boundary in the business's zone, in the future, none) the
// summary and every page's bytes are those of a scan of the same engine
// and of Elasticsearch, over more rows than a scan page.
func TestSummaryAndPagesWhereverTheRowsAreCopied(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	today := time.Date(testNow.Year(), testNow.Month(), testNow.Day(), 0, 0, 0, 0, costaRica)
	var purchases []*time.Time
	for _, days := range []int{0, 30, 31, 60, 61, 90, 91, 180, 181, 365, 366, 900} {
		start := today.AddDate(0, 0, -days)
		before := start.Add(-time.Millisecond) // the day before, its last millisecond
		purchases = append(purchases, &start, &before)
	}
	future := today.AddDate(0, 0, 2)
	purchases = append(purchases, &future, nil)
	cities := []string{"San José", "san jose", "SAN JOSÉ", "Cartago", "", "Heredia"}
	genders := []string{profile.GenderFemale, profile.GenderMale, profile.GenderUnknown, profile.GenderOther}
	groups := []string{"", "champions", "loyal", "hibernating"}
	ps := customers("C1", 0, 2600)
	for i := range ps {
		ps[i].City, ps[i].Gender, ps[i].RFMGroup = cities[i%len(cities)], genders[i%len(genders)], groups[i%len(groups)]
		ps[i].LastPurchaseAt = purchases[i%len(purchases)]
		if ps[i].LastPurchaseAt == nil {
			ps[i].FirstPurchaseAt, ps[i].TotalPurchases = nil, 0
		}
		ps[i].TotalSpent = profile.Cents(i * 7919 % 100_000)
	}
	q := companyQuery("C1", segment.Sort{Field: segment.SortTotalSpent}, 1000)
	summaries := map[string]snapshot.Summary{}
	pages := map[string][]json.RawMessage{}
	for name, e := range b.engines {
		write(t, e, append(ps, customers("C2", 0, 5)...))
		jobID := b.job(t)
		sum, err := b.store.Materialize(ctx, e, jobID, q, time.Hour, nil)
		require.NoError(t, err, name)
		summaries[name] = sum
		var copied int64
		require.NoError(t, b.db.QueryRow(ctx, "SELECT count(*) FROM segment_snapshot_rows WHERE job_id = $1 AND doc_jsonb IS NOT NULL", jobID).Scan(&copied))
		if _, ok := e.(snapshot.SQLSource); ok {
			require.Equal(t, int64(len(ps)), copied, "%s: the database copied the rows", name)
		} else {
			require.Zero(t, copied, name)
		}
		cursor := ""
		for {
			page, err := b.store.Read(ctx, jobID, cursor, 700)
			require.NoError(t, err)
			pages[name] = append(pages[name], page.Customers...)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		require.Len(t, pages[name], len(ps), name)
	}
	want := summaries["elasticsearch"]
	require.Equal(t, int64(len(ps)), want.Count)
	require.Len(t, want.Recency, len(snapshot.RecencyBuckets)+1)
	for _, bucket := range want.Recency {
		require.NotZero(t, bucket.Count, "every recency bucket has customers: %+v", want.Recency)
	}
	require.Equal(t, "San José", want.ByCity[0].Key, "one city under its commonest spelling")
	for name, sum := range summaries {
		require.Equal(t, want, sum, name)
		for i := range pages[name] {
			require.Equal(t, string(pages["elasticsearch"][i]), string(pages[name][i]), "%s row %d", name, i)
		}
	}
}
