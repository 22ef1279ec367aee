package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/reactivation/reactivation/internal/postgres"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/source"
	"github.com/reactivation/reactivation/internal/syncrun"
)

func tracked(id, company string, invoices, version int64) profile.Profile {
	return profile.Profile{CustomerID: id, CompanyID: company, TotalPurchases: invoices, SourceLines: invoices * 2, SourceVersion: version}
}

// TestTrackKeepsTheNewerVersion: a record computed from an older source
// version never replaces a newer one, within one batch or across two;
// the same through TrackNew, whose second batch (a shard run again, with
// a customer it had not reached) conflicts with the first.
func TestTrackKeepsTheNewerVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tr := postgres.NewTracking(b.pool)
	for name, track := range map[string]func(alias, gen string, docs []profile.Profile) error{
		"Track":    func(alias, gen string, docs []profile.Profile) error { return tr.Track(b.ctx, alias, gen, docs) },
		"TrackNew": func(alias, gen string, docs []profile.Profile) error { return tr.TrackNew(b.ctx, alias, gen, docs) },
	} {
		alias, gen := "customers", "g-"+name
		require.NoError(t, track(alias, gen, []profile.Profile{
			tracked("c1", "acme", 3, 20), tracked("c1", "acme", 9, 10), tracked("c2", "acme", 1, 5),
		}))
		require.NoError(t, track(alias, gen, []profile.Profile{tracked("c1", "other", 7, 15), tracked("c2", "beta", 2, 6), tracked("c3", "beta", 4, 6)}))

		counts, err := tr.Tracked(alias, gen).InBuckets(b.ctx, []int{b.bucket(t, "c1"), b.bucket(t, "c2")})
		require.NoError(t, err)
		require.Equal(t, int64(3), counts["c1"].Invoices, "%s: version 20 stays over 10 (same batch) and 15 (later batch)", name)
		require.Equal(t, int64(2), counts["c2"].Invoices, "%s: version 6 replaces 5", name)
		companies, err := tr.TrackedCompanies(b.ctx, alias, gen, []string{"c1", "c2", "c3", "c4"})
		require.NoError(t, err)
		require.Equal(t, map[string]string{"c1": "acme", "c2": "beta", "c3": "beta"}, companies, name)
	}
}

// TestUntrackKeepsANewerOne: a delete found at version v forgets the
// customers tracked at v or before, not one tracked at a newer version,
// and only in its generation.
func TestUntrackKeepsANewerOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tr := postgres.NewTracking(b.pool)
	const alias = "customers"
	require.NoError(t, tr.Track(b.ctx, alias, "g1", []profile.Profile{tracked("old", "a", 1, 10), tracked("same", "a", 1, 12), tracked("new", "a", 1, 13)}))
	require.NoError(t, tr.Track(b.ctx, alias, "g2", []profile.Profile{tracked("old", "a", 1, 10)}))
	require.NoError(t, tr.Untrack(b.ctx, alias, "g1", []string{"old", "same", "new"}, 12))

	left, err := tr.TrackedCompanies(b.ctx, alias, "g1", []string{"old", "same", "new"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"new": "a"}, left)
	other, err := tr.TrackedCompanies(b.ctx, alias, "g2", []string{"old"})
	require.NoError(t, err)
	require.Len(t, other, 1, "another generation is untouched")
}

// bucket is the change pass's bucket of id, computed by the database.
func (b *testBundle) bucket(t *testing.T, id string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, "SELECT "+source.BucketOf("$1::text"), id).Scan(&n))
	return n
}

// TestBucketTotals: bucket totals count the tracked customers and sum
// their invoices per bucket (source.BucketOf), of every tracked customer
// or only those listed; InBuckets returns the customers of the buckets
// asked. Adopting a generation keeps the others' records until
// DropOthers.
func TestBucketTotals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tr := postgres.NewTracking(b.pool)
	const alias, gen = "customers", "g1"
	var docs []profile.Profile
	want := map[int]source.Counts{}
	for i := range 300 {
		id := fmt.Sprintf("c%03d", i)
		docs = append(docs, tracked(id, "a", int64(i), 1))
		c := want[b.bucket(t, id)]
		c.Customers++
		c.Invoices += int64(i)
		want[b.bucket(t, id)] = c
	}
	require.NoError(t, tr.Track(b.ctx, alias, gen, docs[:150]))
	require.NoError(t, tr.Track(b.ctx, alias, gen, docs[150:]))
	require.NoError(t, tr.Track(b.ctx, alias, "g0", []profile.Profile{tracked("c000", "a", 1000, 1)}))
	require.NoError(t, tr.Adopt(b.ctx, alias, gen, "100:100:", map[string]string{"p1": "f1"}))
	require.NoError(t, tr.DropOthers(b.ctx, alias, gen))
	var others int
	require.NoError(t, b.pool.QueryRow(b.ctx, "SELECT count(*) FROM tracked_customers WHERE generation <> $1", gen).Scan(&others))
	require.Zero(t, others, "generation g0's record is dropped")

	set := tr.Tracked(alias, gen)
	all, err := set.Buckets(b.ctx, nil)
	require.NoError(t, err)
	require.Equal(t, want, all)
	only, err := set.Buckets(b.ctx, []string{"c007", "c299"})
	require.NoError(t, err)
	var n, inv int64
	for _, c := range only {
		n, inv = n+c.Customers, inv+c.Invoices
	}
	require.Equal(t, int64(2), n)
	require.Equal(t, int64(7+299), inv)
	in, err := set.InBuckets(b.ctx, []int{b.bucket(t, "c042")})
	require.NoError(t, err)
	require.Equal(t, source.Counts{Customers: 1, Invoices: 42, Lines: 84}, in["c042"])
	require.Equal(t, int(want[b.bucket(t, "c042")].Customers), len(in))

	gen2, snap, err := tr.TrackedState(b.ctx, alias)
	require.NoError(t, err)
	require.Equal(t, gen, gen2)
	require.Equal(t, "100:100:", snap)
	products, err := tr.TrackedProducts(b.ctx, alias)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"p1": "f1"}, products)
	require.NoError(t, tr.Adopt(b.ctx, alias, "g2", "200:200:", nil))
	left, err := tr.TrackedCompanies(b.ctx, alias, gen, []string{"c000"})
	require.NoError(t, err)
	require.NotEmpty(t, left, "adopting another generation keeps this one's records until they are dropped")
	require.NoError(t, tr.DropOthers(b.ctx, alias, "g2"))
	left, err = tr.TrackedCompanies(b.ctx, alias, gen, []string{"c000"})
	require.NoError(t, err)
	require.Empty(t, left, "dropping the others drops this one's records")
	products, err = tr.TrackedProducts(b.ctx, alias)
	require.NoError(t, err)
	require.Empty(t, products)
}

// TestShardDoneCountsOnce: a shard reported done twice (a retried task)
// adds to the run's counters once; both reports return the counters.
func TestShardDoneCountsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runs := postgres.NewSyncRuns(b.pool)
	job := b.job(t, "")
	require.NoError(t, runs.InsertRun(b.ctx, job, syncrun.ModeReconcile.String()))
	require.NoError(t, runs.InsertShards(b.ctx, job, []string{"m"}))
	require.NoError(t, runs.InsertShards(b.ctx, job, []string{"m"}), "re-planning keeps the shards")
	pending, err := runs.PendingShards(b.ctx, job)
	require.NoError(t, err)
	require.Equal(t, []syncrun.Shard{{N: 0, Lo: "", Hi: "m"}, {N: 1, Lo: "m", Hi: ""}}, pending)

	drift := syncrun.Drift{Missing: 2, Extra: 1, Stale: 4, Repaired: 7, Checked: 50}
	c, err := runs.ShardDone(b.ctx, job, 1, 7, drift)
	require.NoError(t, err)
	require.Equal(t, syncrun.ShardCount{Counted: true, Done: 1, Total: 2, Documents: 7}, c)
	c, err = runs.ShardDone(b.ctx, job, 1, 7, drift)
	require.NoError(t, err)
	require.Equal(t, syncrun.ShardCount{Counted: false, Done: 1, Total: 2, Documents: 7}, c, "the retry is not counted")
	done, err := runs.ShardIsDone(b.ctx, job, 1)
	require.NoError(t, err)
	require.True(t, done)
	pending, err = runs.PendingShards(b.ctx, job)
	require.NoError(t, err)
	require.Len(t, pending, 1)

	c, err = runs.ShardDone(b.ctx, job, 0, 3, syncrun.Drift{Missing: 3, Repaired: 3, Checked: 10})
	require.NoError(t, err)
	require.Equal(t, syncrun.ShardCount{Counted: true, Done: 2, Total: 2, Documents: 10}, c)
	sum, _, err := runs.ReconcileTotals(b.ctx, job)
	require.NoError(t, err)
	require.Equal(t, syncrun.Drift{Missing: 5, Extra: 1, Stale: 4, Repaired: 10, Checked: 60}, sum)
}

// TestRecordFullKeepsALaterWatermark: a retried finalize of the same
// generation keeps the watermark a catch-up moved forward; a new
// generation sets its own.
func TestRecordFullKeepsALaterWatermark(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runs := postgres.NewSyncRuns(b.pool)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, runs.RecordFull(b.ctx, "customers", "g1", t0))
	require.NoError(t, runs.RecordIncremental(b.ctx, "customers", t0.Add(time.Hour)))
	require.NoError(t, runs.RecordFull(b.ctx, "customers", "g1", t0))
	var wm time.Time
	require.NoError(t, b.pool.QueryRow(b.ctx, "SELECT watermark FROM sync_state WHERE alias = 'customers'").Scan(&wm))
	require.True(t, wm.Equal(t0.Add(time.Hour)), "%v", wm)
	require.NoError(t, runs.RecordFull(b.ctx, "customers", "g2", t0))
	require.NoError(t, b.pool.QueryRow(b.ctx, "SELECT watermark FROM sync_state WHERE alias = 'customers'").Scan(&wm))
	require.True(t, wm.Equal(t0), "%v", wm)
}
