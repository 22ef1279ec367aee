// Package snapshot materialises a large segment: every matching profile,
// frozen in a stable order in PostgreSQL with a summary, so a client pages
// through it by cursor while syncs change the index underneath.
package snapshot

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reactivation/reactivation/internal/errs"
	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/search"
	"github.com/reactivation/reactivation/internal/segment"
)

// Params are the params of a large-segment search job: the canonical
// filter and the sort, as the worker decodes them.
type Params struct {
	Filter json.RawMessage `json:"filter"`
	Sort   string          `json:"sort"`
}

// Summary describes a materialised segment.
type Summary struct {
	Count    int64         `json:"count"`
	ByCity   []Bucket      `json:"byCity"`
	ByGender []Bucket      `json:"byGender"`
	Recency  []Bucket      `json:"recency"`
	Spend    SpendQuartile `json:"spend"`
}

// Bucket is one group of a breakdown.
type Bucket struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// SpendQuartile gives the spend distribution's quartiles (nearest rank).
type SpendQuartile struct {
	Min    profile.Cents `json:"min"`
	Q1     profile.Cents `json:"q1"`
	Median profile.Cents `json:"median"`
	Q3     profile.Cents `json:"q3"`
	Max    profile.Cents `json:"max"`
}

// RecencyBuckets are the days-since-last-purchase groups, in order.
var RecencyBuckets = []struct {
	Key      string
	From, To int // inclusive days
}{
	{"0-30", 0, 30}, {"31-60", 31, 60}, {"61-90", 61, 90}, {"91-180", 91, 180}, {"181-365", 181, 365}, {"365+", 366, 1 << 30},
}

// Never is the recency bucket of customers who never purchased.
const Never = "never"

// Store keeps snapshots in the service database. Safe for concurrent use.
type Store struct{ db *pgxpool.Pool }

// NewStore returns a snapshot store.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

// Materialize scans every match of q into the snapshot of jobID, in q's
// order, replacing what a crashed attempt left, and returns its summary.
// progress is told the rows done after each page.
func (s *Store) Materialize(ctx context.Context, engine search.Searcher, jobID string, q search.Query, retention time.Duration, progress func(done int64)) (Summary, error) {
	if _, err := s.db.Exec(ctx, "DELETE FROM segment_snapshot_rows WHERE job_id = $1", jobID); err != nil {
		return Summary{}, fmt.Errorf("snapshot: reset: %w", err)
	}
	today := civil(q.Now.In(q.Location))
	acc := newAccumulator()
	var seq int64
	err := engine.Scan(ctx, q, func(page []profile.Profile) error {
		rows := make([][]any, len(page))
		for i, p := range page {
			doc, err := json.Marshal(p)
			if err != nil {
				return err
			}
			seq++
			rows[i] = []any{jobID, seq, int64(p.TotalSpent), doc}
			acc.add(p, today, q.Location)
		}
		if _, err := s.db.CopyFrom(ctx, pgx.Identifier{"segment_snapshot_rows"},
			[]string{"job_id", "seq", "total_spent_cents", "doc"}, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("snapshot: store page: %w", err)
		}
		if progress != nil {
			progress(seq)
		}
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	sum := acc.summary()
	sum.Count = seq
	if seq > 0 {
		var q0, q1, q2, q3, q4 int64
		err := s.db.QueryRow(ctx, `SELECT min(total_spent_cents),
			percentile_disc(0.25) WITHIN GROUP (ORDER BY total_spent_cents),
			percentile_disc(0.5) WITHIN GROUP (ORDER BY total_spent_cents),
			percentile_disc(0.75) WITHIN GROUP (ORDER BY total_spent_cents),
			max(total_spent_cents) FROM segment_snapshot_rows WHERE job_id = $1`, jobID).Scan(&q0, &q1, &q2, &q3, &q4)
		if err != nil {
			return Summary{}, fmt.Errorf("snapshot: quartiles: %w", err)
		}
		sum.Spend = SpendQuartile{profile.Cents(q0), profile.Cents(q1), profile.Cents(q2), profile.Cents(q3), profile.Cents(q4)}
	}
	_, err = s.db.Exec(ctx, `INSERT INTO segment_snapshots (job_id, rows, expires_at) VALUES ($1, $2, now() + $3::interval)
		ON CONFLICT (job_id) DO UPDATE SET rows = $2, expires_at = now() + $3::interval, expired = false`, jobID, seq, retention.String())
	if err != nil {
		return Summary{}, fmt.Errorf("snapshot: record: %w", err)
	}
	return sum, nil
}

// Page is one page of a snapshot.
type Page struct {
	Total      int64             `json:"total"`
	Customers  []json.RawMessage `json:"customers"`
	NextCursor string            `json:"nextCursor"`
	ExpiresAt  time.Time         `json:"expiresAt"`
}

// Read returns size rows of jobID's snapshot after cursor ("" from the start).
func (s *Store) Read(ctx context.Context, jobID, cursor string, size int) (Page, error) {
	var after int64
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err == nil {
			after, err = strconv.ParseInt(string(b), 10, 64)
		}
		if err != nil || after < 0 {
			return Page{}, segment.InvalidCursor()
		}
	}
	var p Page
	var expired bool
	err := s.db.QueryRow(ctx, "SELECT rows, expires_at, expired OR expires_at < now() FROM segment_snapshots WHERE job_id = $1", jobID).
		Scan(&p.Total, &p.ExpiresAt, &expired)
	if errors.Is(err, pgx.ErrNoRows) {
		return Page{}, errs.E(errs.Conflict, "the segment search has not finished")
	}
	if err != nil {
		return Page{}, err
	}
	if expired {
		return Page{}, ErrExpired
	}
	rows, err := s.db.Query(ctx, "SELECT seq, doc FROM segment_snapshot_rows WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3", jobID, after, size)
	if err != nil {
		return Page{}, err
	}
	defer rows.Close()
	p.Customers = []json.RawMessage{}
	var last int64
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&last, &doc); err != nil {
			return Page{}, err
		}
		p.Customers = append(p.Customers, doc)
	}
	if err := rows.Err(); err != nil {
		return Page{}, err
	}
	if len(p.Customers) == size && last < p.Total {
		p.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(last, 10)))
	}
	return p, nil
}

// ErrExpired is returned for a snapshot past its retention.
var ErrExpired = &errs.Error{Code: errs.NotFound, Message: "the segment snapshot expired; run the search again", Detail: map[string]any{"expired": true}}

// Cleanup deletes the rows of expired snapshots and returns how many
// snapshots it expired.
func (s *Store) Cleanup(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `WITH gone AS (
			UPDATE segment_snapshots SET expired = true WHERE NOT expired AND expires_at < now() RETURNING job_id
		), rows AS (
			DELETE FROM segment_snapshot_rows WHERE job_id IN (SELECT job_id FROM gone)
		) SELECT count(*) FROM gone`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("snapshot cleanup: %w", err)
	}
	return n, nil
}

// accumulator builds the breakdowns while the scan streams.
type accumulator struct {
	cities  map[string]map[string]int64 // folded -> spelling -> count
	genders map[string]int64
	recency map[string]int64
}

func newAccumulator() *accumulator {
	return &accumulator{cities: map[string]map[string]int64{}, genders: map[string]int64{}, recency: map[string]int64{}}
}

func (a *accumulator) add(p profile.Profile, today time.Time, loc *time.Location) {
	key := profile.Fold(p.City)
	if a.cities[key] == nil {
		a.cities[key] = map[string]int64{}
	}
	a.cities[key][p.City]++
	a.genders[p.Gender]++
	if p.LastPurchaseAt == nil {
		a.recency[Never]++
		return
	}
	days := int(today.Sub(civil(p.LastPurchaseAt.In(loc))).Hours() / 24)
	for _, b := range RecencyBuckets {
		if days >= b.From && days <= b.To {
			a.recency[b.Key]++
			return
		}
	}
	a.recency[RecencyBuckets[0].Key]++ // a purchase dated after today
}

func (a *accumulator) summary() Summary {
	s := Summary{ByCity: []Bucket{}, ByGender: []Bucket{}}
	for _, spellings := range a.cities {
		// Show a city by its most common spelling, ties by the smallest.
		var best string
		var total, bestN int64
		for sp, n := range spellings {
			total += n
			if n > bestN || (n == bestN && sp < best) {
				best, bestN = sp, n
			}
		}
		s.ByCity = append(s.ByCity, Bucket{Key: best, Count: total})
	}
	sortBuckets(s.ByCity)
	for g, n := range a.genders {
		s.ByGender = append(s.ByGender, Bucket{Key: g, Count: n})
	}
	sortBuckets(s.ByGender)
	for _, b := range RecencyBuckets {
		s.Recency = append(s.Recency, Bucket{Key: b.Key, Count: a.recency[b.Key]})
	}
	s.Recency = append(s.Recency, Bucket{Key: Never, Count: a.recency[Never]})
	return s
}

func sortBuckets(b []Bucket) {
	sort.Slice(b, func(i, j int) bool {
		if b[i].Count != b[j].Count {
			return b[i].Count > b[j].Count
		}
		return b[i].Key < b[j].Key
	})
}

// civil is t's calendar date as midnight UTC, for day arithmetic.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
