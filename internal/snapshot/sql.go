package snapshot

import (
	"context"
	"fmt"
	"time"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
)

// SQLSource is an engine whose documents are tables of the repository's
// own PostgreSQL database (the PostgreSQL engine): a snapshot of it is
// copied by the database with one INSERT ... SELECT, so no row crosses
// the network twice and none is decoded or encoded on the way.
type SQLSource interface {
	// SnapshotSQL returns the statements that select q's matches; ok is
	// false when the engine cannot, and the scan must serve.
	SnapshotSQL(ctx context.Context, q search.Query) (sql SQLQuery, ok bool, err error)
}

// SQLQuery selects the matches of a query as a snapshot stores and
// summarises them. Both statements take Args.
type SQLQuery struct {
	// Rows selects, for every match: its sort key (sortKey's bytes, a
	// bytea), total_spent_cents (bigint) and doc (the profile, jsonb).
	Rows string
	// Facts selects, for every match, what the summary counts: city and
	// gender (text) as the profile spells them, rfm_group (text, '' for
	// none) and last_purchase_at (timestamptz, NULL for none).
	Facts string
	Args  []any
}

// SQLRepository is a Repository that can store the rows of an SQLQuery
// itself, in the database they are selected from.
type SQLRepository interface {
	// ReplaceSQL is Replace with the rows q.Rows selects. It counts
	// q.Facts as of the same snapshot of the database the rows are read
	// from (Counts: recencyFrom are the earliest instants of the recency
	// buckets but the last, see recencyBounds).
	ReplaceSQL(ctx context.Context, jobID string, q SQLQuery, recencyFrom []time.Time, retention time.Duration) (int64, SpendQuartile, Counts, error)
}

// Counts are what a summary is made of, counted by the database.
type Counts struct {
	Cities  map[string]int64 // by spelling
	Genders map[string]int64
	Groups  map[string]int64 // no group uncounted
	// Recency counts customers by recency bucket, in the order of
	// RecencyBuckets, then those who never purchased.
	Recency []int64
}

// materializeSQL is Materialize when the database can copy the rows
// itself. progress is told the rows once, at the end: one statement
// writes them all.
func (s *Store) materializeSQL(ctx context.Context, repo SQLRepository, sq SQLQuery, jobID string, q search.Query, retention time.Duration, progress func(done int64)) (Summary, error) {
	today := civil(q.Now.In(q.Location))
	n, spend, counts, err := repo.ReplaceSQL(ctx, jobID, sq, recencyBounds(today, q.Location), retention)
	if err != nil {
		return Summary{}, fmt.Errorf("snapshot: store: %w", err)
	}
	if len(counts.Recency) != len(RecencyBuckets)+1 {
		return Summary{}, fmt.Errorf("snapshot: %d recency counts for %d buckets", len(counts.Recency), len(RecencyBuckets)+1)
	}
	if progress != nil {
		progress(n)
	}
	acc := newAccumulator()
	for city, c := range counts.Cities {
		acc.addCity(city, c)
	}
	for gender, c := range counts.Genders {
		acc.genders[gender] += c
	}
	for group, c := range counts.Groups {
		acc.groups[group] += c
	}
	for i, b := range RecencyBuckets {
		acc.recency[b.Key] += counts.Recency[i]
	}
	acc.recency[Never] += counts.Recency[len(RecencyBuckets)]
	sum := acc.summary()
	sum.Count, sum.Spend = n, spend
	return sum, nil
}

// recencyBounds turns the recency buckets into instants, so the database
// buckets a purchase by comparing it rather than by a time zone it may
// not know: element i is the start of the local day To of bucket i
// ends at (today - To days), the earliest purchase in bucket i; a purchase
// is in the first bucket whose start it is not before, in the last when
// none (what accumulator.add computes from civil dates).
func recencyBounds(today time.Time, loc *time.Location) []time.Time {
	out := make([]time.Time, 0, len(RecencyBuckets)-1)
	for _, b := range RecencyBuckets[:len(RecencyBuckets)-1] {
		d := today.AddDate(0, 0, -b.To)
		out = append(out, time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc))
	}
	return out
}

// addCity counts n customers of city spelled so.
func (a *accumulator) addCity(spelling string, n int64) {
	key := profile.Fold(spelling)
	if a.cities[key] == nil {
		a.cities[key] = map[string]int64{}
	}
	a.cities[key][spelling] += n
}
